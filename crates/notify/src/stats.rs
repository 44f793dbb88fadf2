//! What the dispatcher did, for the metrics and for
//! `almacen admin event target list`.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::Target;

/// Totals over all targets, and each target's own counters.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Events delivered, all targets.
    pub delivered: AtomicU64,
    /// Delivery attempts that failed, all targets (each will be retried).
    pub failed: AtomicU64,
    targets: Mutex<Vec<Arc<TargetStats>>>,
}

/// One target's counters and state.
#[derive(Debug)]
pub struct TargetStats {
    arn: String,
    kind: &'static str,
    endpoint: String,
    delivered: AtomicU64,
    failed: AtomicU64,
    /// 0 unknown (not tried yet), 1 online, 2 offline.
    state: AtomicU8,
    last_error: Mutex<Option<String>>,
}

/// A target as reported: ARN, where it sends (no secret), whether it was
/// reachable at the last attempt or probe, and its counters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetReport {
    /// `arn:minio:sqs::<id>:<kind>`.
    pub arn: String,
    /// `webhook`, `redis`, `nats`, `postgresql`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the events go, without secrets.
    pub endpoint: String,
    /// `online`, `offline`, or `unknown` before the first attempt.
    pub status: &'static str,
    /// Events waiting in the queue.
    pub pending: u64,
    /// Events delivered since the server started.
    pub delivered: u64,
    /// Failed attempts since the server started (each is retried).
    pub failed: u64,
    /// The last failure, while offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl TargetStats {
    pub(crate) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.online();
    }

    pub(crate) fn failed(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.offline(error);
    }

    pub(crate) fn online(&self) {
        self.state.store(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    pub(crate) fn offline(&self, error: String) {
        self.state.store(2, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
    }

    pub(crate) fn is_offline(&self) -> bool {
        self.state.load(Ordering::Relaxed) == 2
    }
}

impl DeliveryStats {
    /// Adds `target` to the report (the dispatcher does, for each target).
    pub(crate) fn register(&self, target: &Target) -> Arc<TargetStats> {
        let t = Arc::new(TargetStats {
            arn: target.arn.clone(),
            kind: target.kind(),
            endpoint: target.endpoint(),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            state: AtomicU8::new(0),
            last_error: Mutex::new(None),
        });
        self.targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(t.clone());
        t
    }

    /// Drops a removed target from the report.
    pub(crate) fn unregister(&self, arn: &str) {
        let key = crate::arn_key(arn);
        self.targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|t| crate::arn_key(&t.arn) != key);
    }

    /// Each configured target with its counters; `pending` is the queue's
    /// count per stored ARN (`MetaStore::pending_events`), matched to the
    /// targets by id and kind (a rule's ARN may carry a region).
    #[must_use]
    pub fn report(&self, pending: &[(String, u64)]) -> Vec<TargetReport> {
        let targets = self
            .targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        targets
            .iter()
            .map(|t| {
                let key = crate::arn_key(&t.arn);
                TargetReport {
                    arn: t.arn.clone(),
                    kind: t.kind.to_owned(),
                    endpoint: t.endpoint.clone(),
                    status: match t.state.load(Ordering::Relaxed) {
                        1 => "online",
                        2 => "offline",
                        _ => "unknown",
                    },
                    pending: pending
                        .iter()
                        .filter(|(arn, _)| crate::arn_key(arn) == key)
                        .map(|(_, n)| n)
                        .sum(),
                    delivered: t.delivered.load(Ordering::Relaxed),
                    failed: t.failed.load(Ordering::Relaxed),
                    last_error: t
                        .last_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone(),
                }
            })
            .collect()
    }
}

static PUBLISHED: OnceLock<Arc<DeliveryStats>> = OnceLock::new();

/// Makes `stats` the process's delivery statistics, read by the admin
/// API's `event-targets` route. A process runs one server, and the admin
/// route is built deep in the S3 service, so a process-wide handle keeps
/// the wiring in the binary's `serve` instead of threading it through
/// every layer. Later calls are ignored.
pub fn publish(stats: Arc<DeliveryStats>) {
    let _ = PUBLISHED.set(stats);
}

/// The statistics given to [`publish`], if any (none in a process that
/// runs no dispatcher).
#[must_use]
pub fn published() -> Option<Arc<DeliveryStats>> {
    PUBLISHED.get().cloned()
}
