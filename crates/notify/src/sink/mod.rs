//! The connections to the targets: one [`Sink`] per configured target,
//! holding its connection (Redis, NATS and PostgreSQL keep one open and
//! reconnect after any failure; webhooks connect per event).

mod nats;
mod postgres;
mod redis;
mod webhook;

pub use webhook::JsonPoster;

use std::time::Duration;

use crate::config::{Target, TargetSpec};
use crate::event::Event;

/// How long connecting to a target may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one delivery (including a reconnect) may take.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an event was not delivered. The messages name the target's
/// endpoint at most, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The target cannot be reached (refused, reset, unresolvable): it is
    /// down, and a successful probe may retry at once.
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable {
        /// Where.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The target answered, but refused the event (bad credentials, an
    /// HTTP error status, an SQL error): retried with backoff.
    #[error("{0}")]
    Rejected(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// One target's connection (see the module documentation).
pub(crate) enum Sink {
    Webhook(webhook::Webhook),
    Redis(redis::Redis),
    Nats(nats::Nats),
    Postgres(Box<postgres::Postgres>),
}

impl Sink {
    pub(crate) fn new(target: &Target) -> Self {
        let endpoint = target.endpoint();
        match &target.spec {
            TargetSpec::Webhook(s) => Self::Webhook(webhook::Webhook::new(s.clone())),
            TargetSpec::Redis(s) => Self::Redis(redis::Redis::new(s.clone(), endpoint)),
            TargetSpec::Nats(s) => Self::Nats(nats::Nats::new(s.clone(), endpoint)),
            TargetSpec::Postgres(s) => {
                Self::Postgres(Box::new(postgres::Postgres::new(s.clone(), endpoint)))
            }
        }
    }

    /// Delivers `event`; on any error the connection is dropped, so the
    /// next attempt starts on a fresh one.
    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let r = tokio::time::timeout(DELIVERY_TIMEOUT, async {
            match self {
                Self::Webhook(s) => s.deliver(event).await,
                Self::Redis(s) => s.deliver(event).await,
                Self::Nats(s) => s.deliver(event).await,
                Self::Postgres(s) => s.deliver(event).await,
            }
        })
        .await
        .unwrap_or(Err(DeliveryError::Timeout(DELIVERY_TIMEOUT)));
        if r.is_err() {
            self.disconnect();
        }
        r
    }

    /// Checks that the target is up (connecting if needed): a TCP connect
    /// for webhooks, PING for Redis and NATS, `SELECT 1` for PostgreSQL.
    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        let r = tokio::time::timeout(CONNECT_TIMEOUT, async {
            match self {
                Self::Webhook(s) => s.probe().await,
                Self::Redis(s) => s.probe().await,
                Self::Nats(s) => s.probe().await,
                Self::Postgres(s) => s.probe().await,
            }
        })
        .await
        .unwrap_or(Err(DeliveryError::Timeout(CONNECT_TIMEOUT)));
        if r.is_err() {
            self.disconnect();
        }
        r
    }

    fn disconnect(&mut self) {
        match self {
            Self::Webhook(_) => {}
            Self::Redis(s) => s.disconnect(),
            Self::Nats(s) => s.disconnect(),
            Self::Postgres(s) => s.disconnect(),
        }
    }
}
