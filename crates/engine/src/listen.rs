//! Live event listeners (MinIO's ListenBucketNotification, used by `mc
//! event listen`/`mc watch`, minio-js and the console): every committed
//! change is announced to whoever listens, whatever the buckets'
//! notification rules. Events ride along with the ops of their change as
//! [`WriteOp::Notice`] and are announced only after the commit succeeded,
//! so a listener never sees an event for a change that did not happen.
//! Nothing is stored: a listener sees what happens while it listens.

use std::sync::Arc;

use almacen_meta::WriteOp;
use tokio::sync::broadcast;

use crate::Engine;

/// Events buffered per listener before a slow one starts losing them.
const BUFFER: usize = 4096;

/// One announced event.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Event name, e.g. `s3:ObjectCreated:Put`.
    pub event: String,
    /// `{"Records": [...]}` as S3/MinIO send it.
    pub payload: bytes::Bytes,
}

/// The fan-out to listeners.
#[derive(Debug, Clone)]
pub(crate) struct Listeners {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Listeners {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
        }
    }
}

impl Engine {
    /// Whether anyone listens (events for listeners are built only then).
    #[must_use]
    pub fn listening(&self) -> bool {
        self.listeners.tx.receiver_count() > 0
    }

    /// A new listener of every committed change.
    #[must_use]
    pub fn listen(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.listeners.tx.subscribe()
    }

    /// Takes the notices out of `ops` (stores never see them).
    pub(crate) fn take_notices(ops: &mut Vec<WriteOp>) -> Vec<LiveEvent> {
        let mut notices = Vec::new();
        ops.retain_mut(|op| match op {
            WriteOp::Notice {
                bucket,
                key,
                event,
                payload,
            } => {
                notices.push(LiveEvent {
                    bucket: std::mem::take(bucket),
                    key: std::mem::take(key),
                    event: std::mem::take(event),
                    payload: bytes::Bytes::from(std::mem::take(payload)),
                });
                false
            }
            _ => true,
        });
        notices
    }

    /// Announces the notices of a change that committed.
    pub(crate) fn announce(&self, notices: Vec<LiveEvent>) {
        for n in notices {
            let _ = self.listeners.tx.send(Arc::new(n));
        }
    }
}
