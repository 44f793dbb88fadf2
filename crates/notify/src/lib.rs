//! Delivery of bucket event notifications.
//!
//! The engine writes each event into the metadata store's `events` table in
//! the same commit as the object change it reports. The [`Dispatcher`] here
//! drains that table in sequence order and hands each event to its target's
//! worker (one task per target, so a target that hangs delays only itself):
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

use almacen_meta::{EventRow, MetaStore, WriteOp};
use tokio::sync::mpsc;

pub use config::{
    ConfigError, Format, NatsSpec, PostgresSpec, RedisSpec, SECRET_SETTINGS, Secret, TARGET_KINDS,
    Target, TargetSpec, WebhookSpec, target_from_settings, targets_from_env,
};
pub use sink::{DeliveryError, JsonPoster};
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
/// Largest read when the oldest events all wait for targets that are busy
/// or down (so the other targets' events behind them still move).
const MAX_WINDOW: usize = 8192;

/// One target, driven by its own worker task, so a target that hangs
/// (a connect or an answer that never comes) delays only its own events.
struct Slot {
    arn: String,
    sink: Sink,
    stats: Arc<TargetStats>,
    totals: Arc<DeliveryStats>,
    /// Failures in a row.
    tries: u32,
    next_probe: Instant,
}

/// What a worker tells the reader.
enum Report {
    /// These events were delivered (or could never be): forget them.
    Done(Vec<i64>),
    /// The worker takes events again (after a failure: once its backoff
    /// ran out or a probe found the target back).
    Ready(usize),
}

impl Slot {
    /// Probes the target and records its state; `Ok` when it is reachable.
    async fn probe(&mut self) -> Result<(), DeliveryError> {
        let r = self.sink.probe().await;
        let now = Instant::now();
        match &r {
            Ok(()) => {
                if self.tries == 0 {
                    self.stats.online();
                }
                self.next_probe = now + PROBE_ONLINE;
            }
            Err(e) => {
                if !self.stats.is_offline() {
                    tracing::warn!(target = %self.arn, error = %e, "event target is down");
                }
                self.stats.offline(e.to_string());
                self.next_probe = now + PROBE_OFFLINE;
            }
        }
        r
    }

    /// Delivers `batch` in order, stopping at the first failure. Returns
    /// the sequence numbers to forget and the failure, if any.
    async fn deliver(&mut self, batch: Vec<EventRow>) -> (Vec<i64>, Option<DeliveryError>) {
        let mut done = Vec::with_capacity(batch.len());
        for ev in batch {
            let event = match Event::parse(ev.payload) {
                Ok(e) => e,
                Err(e) => {
                    // Cannot happen with the engine's payloads; one that
                    // could never be delivered must not stop the queue.
                    tracing::error!(target = %self.arn, seq = ev.seq, error = %e, "dropping an event that cannot be delivered");
                    done.push(ev.seq);
                    continue;
                }
            };
            match self.sink.deliver(&event).await {
                Ok(()) => {
                    if self.tries > 0 {
                        tracing::info!(target = %self.arn, "event target is back");
                        self.tries = 0;
                    }
                    self.next_probe = Instant::now() + PROBE_ONLINE;
                    self.stats.delivered();
                    self.totals
                        .delivered
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    done.push(ev.seq);
                }
                Err(e) => {
                    self.totals
                        .failed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.tries += 1;
                    self.stats.failed(e.to_string());
                    return (done, Some(e));
                }
            }
        }
        (done, None)
    }

    /// After a failure: waits out the backoff, probing every few seconds;
    /// a probe that reaches a target that was unreachable ends the wait.
    async fn back_off(&mut self, error: &DeliveryError) {
        let wait = Duration::from_secs(1 << self.tries.min(6)).min(MAX_BACKOFF);
        tracing::warn!(target = %self.arn, error = %error, retry_in_s = wait.as_secs(), "event delivery failed");
        let until = Instant::now() + wait;
        let unreachable = matches!(error, DeliveryError::Unreachable { .. });
        self.next_probe = Instant::now() + PROBE_OFFLINE;
        loop {
            let next = until.min(self.next_probe);
            tokio::time::sleep_until(next.into()).await;
            if Instant::now() >= until {
                return;
            }
            if self.probe().await.is_ok() && unreachable {
                return;
            }
            self.next_probe = Instant::now() + PROBE_OFFLINE;
        }
    }

    /// The worker: takes batches of this target's events, in order, and
    /// probes the target while idle.
    async fn work(
        mut self,
        idx: usize,
        mut batches: mpsc::Receiver<Vec<EventRow>>,
        reports: mpsc::UnboundedSender<Report>,
    ) {
        let _ = self.probe().await;
        loop {
            let batch = tokio::select! {
                b = batches.recv() => match b {
                    Some(b) => b,
                    None => return,
                },
                () = tokio::time::sleep_until(self.next_probe.into()) => {
                    let _ = self.probe().await;
                    continue;
                }
            };
            let (done, failure) = self.deliver(batch).await;
            if !done.is_empty() && reports.send(Report::Done(done)).is_err() {
                return;
            }
            if let Some(e) = failure {
                self.back_off(&e).await;
            }
            if reports.send(Report::Ready(idx)).is_err() {
                return;
            }
        }
    }
}

/// Drains the event queue (see the crate documentation): one reader reads
/// the queue in order and hands each idle target's events to that
/// target's worker; it forgets the events the workers report delivered.
pub struct Dispatcher {
    meta: Arc<dyn MetaStore>,
    slots: Vec<((String, String), Slot)>,
    stats: Arc<DeliveryStats>,
    control: Option<mpsc::UnboundedReceiver<TargetChange>>,
    /// Delivers only while this is set: on one node of several, the one
    /// holding the background lease.
    gate: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// A change to the set of targets while the dispatcher runs (`almacen
/// admin event target add/remove`).
#[derive(Debug)]
pub enum TargetChange {
    /// Start delivering to this target (replacing one with the same id and kind).
    Add(Box<Target>),
    /// Stop delivering to the target with this ARN; its queued events wait,
    /// as for any target that is not configured.
    Remove(String),
}

fn slot_for(t: &Target, stats: &Arc<DeliveryStats>) -> Slot {
    Slot {
        arn: t.arn.clone(),
        sink: Sink::new(t),
        stats: stats.register(t),
        totals: stats.clone(),
        tries: 0,
        next_probe: Instant::now(),
    }
}

impl Dispatcher {
    /// A dispatcher over `meta`'s queue for `targets`, counting into
    /// `stats` (each target is registered there for reports).
    #[must_use]
    pub fn new(meta: Arc<dyn MetaStore>, targets: Vec<Target>, stats: Arc<DeliveryStats>) -> Self {
        let slots = targets
            .iter()
            .filter_map(|t| Some((arn_key(&t.arn)?, slot_for(t, &stats))))
            .collect();
        Self {
            meta,
            slots,
            stats,
            control: None,
            gate: None,
        }
    }

    /// Reads the queue only while `gate` is set (several nodes share one
    /// queue; one delivers). Delivery stays at least once: a node that
    /// loses the lease with a batch in flight may see it delivered again.
    #[must_use]
    pub fn gated(mut self, gate: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The handle through which targets are added and removed while it runs.
    #[must_use]
    pub fn controlled(mut self) -> (Self, mpsc::UnboundedSender<TargetChange>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.control = Some(rx);
        (self, tx)
    }

    /// Runs forever (spawn it).
    pub async fn run(self) {
        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut workers = Vec::new();
        for (i, (key, slot)) in self.slots.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(slot.work(i, rx, report_tx.clone()));
            index.insert(key, i);
            workers.push((tx, false)); // (batches, busy)
        }
        let stats = self.stats;
        let mut control = self.control;
        let gate = self.gate;
        let meta = self.meta;
        let mut window = WINDOW;
        let mut warned: HashSet<String> = HashSet::new();
        let mut pending: Option<Report> = None;
        loop {
            // 1. What the workers did: forget delivered events before the
            // next read, so none is handed out twice.
            let mut forget = Vec::new();
            while let Some(r) = pending.take().or_else(|| reports.try_recv().ok()) {
                match r {
                    Report::Done(seqs) => forget.extend(seqs),
                    Report::Ready(i) => workers[i].1 = false,
                }
            }
            if !forget.is_empty() {
                let ops = forget
                    .into_iter()
                    .map(|seq| WriteOp::DeleteEvent { seq })
                    .collect();
                if let Err(e) = meta.commit(ops).await {
                    // They will be delivered again: at least once, never lost.
                    tracing::warn!(error = %e, "cannot forget delivered events");
                }
            }
            // 2. The oldest events, to the idle workers, in order.
            let delivering = gate
                .as_ref()
                .is_none_or(|g| g.load(std::sync::atomic::Ordering::Acquire));
            let events = if delivering {
                match meta.due_events(window).await {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the event queue");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let read = events.len();
            let mut batches: Vec<Vec<EventRow>> = vec![Vec::new(); workers.len()];
            for ev in events {
                match arn_key(&ev.target).and_then(|k| index.get(&k).copied()) {
                    Some(i) if !workers[i].1 => batches[i].push(ev),
                    Some(_) => {}
                    None => {
                        // A target that is no longer configured: keep its
                        // events (safe), and say so once.
                        if warned.insert(ev.target.clone()) {
                            tracing::warn!(target = %ev.target, "events wait for a target that is not configured");
                        }
                    }
                }
            }
            let mut handed = 0;
            for (i, batch) in batches.into_iter().enumerate() {
                if batch.is_empty() {
                    continue;
                }
                handed += batch.len();
                if workers[i].0.send(batch).await.is_ok() {
                    workers[i].1 = true;
                }
            }
            // When a full read held only events that must wait, read
            // further next time, so targets that are up are not held
            // behind them.
            if read == window && handed == 0 {
                window = (window * 2).min(MAX_WINDOW);
            } else if read < window {
                window = WINDOW;
            }
            // 3. Until a worker reports, the targets change, or a while.
            let change = async {
                match control.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(r) = reports.recv() => pending = Some(r),
                Some(c) = change => {
                    // A replaced or removed target's worker ends when its
                    // channel closes; reports of a batch in flight still count.
                    let retire = |workers: &mut Vec<(mpsc::Sender<Vec<EventRow>>, bool)>, i: usize| {
                        workers[i] = (mpsc::channel(1).0, true);
                    };
                    match c {
                        TargetChange::Add(t) => {
                            let Some(key) = arn_key(&t.arn) else { continue };
                            if let Some(old) = index.remove(&key) {
                                retire(&mut workers, old);
                                stats.unregister(&t.arn);
                            }
                            let i = workers.len();
                            let (tx, rx) = mpsc::channel(1);
                            tokio::spawn(slot_for(&t, &stats).work(i, rx, report_tx.clone()));
                            index.insert(key, i);
                            workers.push((tx, false));
                            warned.remove(&t.arn);
                            tracing::info!(target = %t.arn, "event target added");
                        }
                        TargetChange::Remove(arn) => {
                            if let Some(i) = arn_key(&arn).and_then(|k| index.remove(&k)) {
                                retire(&mut workers, i);
                            }
                            stats.unregister(&arn);
                            tracing::info!(target = %arn, "event target removed");
                        }
                    }
                }
                () = tokio::time::sleep(IDLE) => {}
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
