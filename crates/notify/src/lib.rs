//! Delivery of bucket event notifications.
//!
//! The engine writes each event into the metadata store's `events` table in
//! the same commit as the object change it reports. The [`Dispatcher`] here
//! drains that table in sequence order and hands each event to its target:
//! a webhook (HTTP POST), Redis (hash or list), NATS (publish) or
//! PostgreSQL (table). An event leaves the table only after its target
//! confirmed it (a 2xx answer, a Redis reply, a NATS PONG after the PUB, an
//! SQL statement done). While a target is down, its events wait, in order,
//! with exponential backoff up to a minute, and a cheap probe every few
//! seconds lets delivery resume soon after it is back. The table survives
//! restarts, so no event is lost and none is invented (at least once: an
//! event whose confirmation was lost in a crash or a timeout is sent again).
//!
//! Targets come from the environment, with MinIO's variables (see
//! [`targets_from_env`]), and are named by ARNs such as
//! `arn:minio:sqs::<ID>:redis`.
#![forbid(unsafe_code)]

mod config;
mod event;
mod sink;
mod stats;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use almacen_meta::{MetaStore, WriteOp};

pub use config::{
    ConfigError, Format, NatsSpec, PostgresSpec, RedisSpec, Secret, Target, TargetSpec,
    WebhookSpec, targets_from_env,
};
pub use sink::DeliveryError;
pub use stats::{DeliveryStats, TargetReport, TargetStats, publish, published};

use event::Event;
use sink::Sink;

/// The (id, type) an ARN names, the id in lower case; the region part is
/// ignored, as clients copy ARNs with an empty region or the server's.
#[must_use]
pub fn arn_key(arn: &str) -> Option<(String, String)> {
    let p: Vec<&str> = arn.split(':').collect();
    (p.len() == 6 && p[0] == "arn" && p[1] == "minio" && p[2] == "sqs")
        .then(|| (p[4].to_ascii_lowercase(), p[5].to_owned()))
}

/// How often an idle dispatcher looks for new events.
const IDLE: Duration = Duration::from_millis(200);
/// Longest wait before retrying a target that refuses events.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often a target that is down is probed (a successful probe retries
/// its events at once, whatever the backoff).
const PROBE_OFFLINE: Duration = Duration::from_secs(3);
/// How often an idle target that is up is probed, so its status stays true.
const PROBE_ONLINE: Duration = Duration::from_secs(30);
/// Events read from the queue per pass.
const WINDOW: usize = 256;
/// Largest read when the oldest events all wait for targets that are down
/// (so the other targets' events behind them still move).
const MAX_WINDOW: usize = 8192;

/// One target as the dispatcher drives it.
struct Slot {
    key: (String, String),
    arn: String,
    sink: Sink,
    stats: Arc<TargetStats>,
    /// Retry not before this, after a failure.
    blocked_until: Option<Instant>,
    /// Failures in a row.
    tries: u32,
    /// The last failure was the target being unreachable (so a probe that
    /// reaches it may lift the backoff).
    unreachable: bool,
    next_probe: Instant,
}

/// Drains the event queue (see the crate documentation).
pub struct Dispatcher {
    meta: Arc<dyn MetaStore>,
    slots: Vec<Slot>,
    stats: Arc<DeliveryStats>,
    window: usize,
    warned: HashSet<String>,
}

impl Dispatcher {
    /// A dispatcher over `meta`'s queue for `targets`, counting into
    /// `stats` (each target is registered there for reports).
    #[must_use]
    pub fn new(meta: Arc<dyn MetaStore>, targets: Vec<Target>, stats: Arc<DeliveryStats>) -> Self {
        let now = Instant::now();
        let slots = targets
            .iter()
            .filter_map(|t| {
                Some(Slot {
                    key: arn_key(&t.arn)?,
                    arn: t.arn.clone(),
                    sink: Sink::new(t),
                    stats: stats.register(t),
                    blocked_until: None,
                    tries: 0,
                    unreachable: false,
                    next_probe: now,
                })
            })
            .collect();
        Self {
            meta,
            slots,
            stats,
            window: WINDOW,
            warned: HashSet::new(),
        }
    }

    /// One pass: delivers every due event whose target is up, in order.
    /// Returns how many were delivered.
    pub async fn pass(&mut self) -> usize {
        let events = match self.meta.due_events(self.window).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event queue");
                return 0;
            }
        };
        let read = events.len();
        let now = Instant::now();
        let mut done = Vec::new();
        let mut skipped = 0usize;
        let mut failed_now: HashSet<usize> = HashSet::new();
        let index: HashMap<(String, String), usize> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key.clone(), i))
            .collect();
        for ev in events {
            let Some(i) = arn_key(&ev.target).and_then(|k| index.get(&k).copied()) else {
                // A target that is no longer configured: keep its events
                // (safe), and say so once.
                if self.warned.insert(ev.target.clone()) {
                    tracing::warn!(target = %ev.target, "events wait for a target that is not configured");
                }
                skipped += 1;
                continue;
            };
            let slot = &mut self.slots[i];
            if failed_now.contains(&i) || slot.blocked_until.is_some_and(|t| t > now) {
                skipped += 1;
                continue;
            }
            let event = match Event::parse(ev.payload) {
                Ok(e) => e,
                Err(e) => {
                    // Cannot happen with the engine's payloads; one that
                    // could never be delivered must not stop the queue.
                    tracing::error!(target = %slot.arn, seq = ev.seq, error = %e, "dropping an event that cannot be delivered");
                    done.push(WriteOp::DeleteEvent { seq: ev.seq });
                    continue;
                }
            };
            match slot.sink.deliver(&event).await {
                Ok(()) => {
                    if slot.tries > 0 {
                        tracing::info!(target = %slot.arn, "event target is back");
                    }
                    slot.blocked_until = None;
                    slot.tries = 0;
                    slot.unreachable = false;
                    slot.next_probe = now + PROBE_ONLINE;
                    slot.stats.delivered();
                    self.stats
                        .delivered
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    done.push(WriteOp::DeleteEvent { seq: ev.seq });
                }
                Err(e) => {
                    self.stats
                        .failed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    slot.tries += 1;
                    let wait = Duration::from_secs(1 << slot.tries.min(6)).min(MAX_BACKOFF);
                    tracing::warn!(target = %slot.arn, error = %e, retry_in_s = wait.as_secs(), "event delivery failed");
                    slot.stats.failed(e.to_string());
                    slot.unreachable = matches!(e, DeliveryError::Unreachable { .. });
                    slot.blocked_until = Some(now + wait);
                    slot.next_probe = now + PROBE_OFFLINE;
                    failed_now.insert(i);
                    skipped += 1;
                }
            }
        }
        let n = done.len();
        if n > 0
            && let Err(e) = self.meta.commit(done).await
        {
            // They will be delivered again: at least once, never lost.
            tracing::warn!(error = %e, "cannot forget delivered events");
        }
        // When a full read held only events that must wait, read further
        // next time, so targets that are up are not held behind them.
        if read == self.window && skipped == read {
            self.window = (self.window * 2).min(MAX_WINDOW);
        } else if read < self.window || n > 0 {
            self.window = WINDOW;
        }
        n
    }

    /// Probes the targets whose probe is due: those that are down every
    /// few seconds (lifting the backoff when one is reachable again), idle
    /// ones that are up now and then.
    pub async fn probe(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            if slot.next_probe > now {
                continue;
            }
            let ok = slot.sink.probe().await;
            let now = Instant::now();
            match ok {
                Ok(()) => {
                    if slot.blocked_until.is_some() && slot.unreachable {
                        slot.blocked_until = None;
                    }
                    if slot.blocked_until.is_none() {
                        slot.stats.online();
                    }
                    slot.next_probe = now + PROBE_ONLINE;
                }
                Err(e) => {
                    if !slot.stats.is_offline() {
                        tracing::warn!(target = %slot.arn, error = %e, "event target is down");
                    }
                    slot.stats.offline(e.to_string());
                    slot.next_probe = now + PROBE_OFFLINE;
                }
            }
        }
    }

    /// Runs forever.
    pub async fn run(mut self) {
        loop {
            self.probe().await;
            if self.pass().await == 0 {
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_match_by_id_and_kind() {
        assert_eq!(
            arn_key("arn:minio:sqs:us-east-1:PRIMARY:webhook"),
            arn_key("arn:minio:sqs::primary:webhook")
        );
        assert_ne!(
            arn_key("arn:minio:sqs::primary:redis"),
            arn_key("arn:minio:sqs::primary:webhook")
        );
        assert_eq!(arn_key("arn:aws:sqs::1:webhook"), None);
    }
}
