//! Live request tracing (`almacen admin trace`, like `mc admin trace`): the
//! front publishes each finished request's audit record here, and every
//! admin client streaming `GET .../trace` receives them as JSON lines. With
//! nobody listening, publishing costs one atomic load.

use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::broadcast;

use crate::audit::AuditRecord;

/// Records buffered per listener before a slow one starts losing them.
const BUFFER: usize = 4096;

/// The fan-out of finished requests to live listeners; cheap to clone.
#[derive(Debug, Clone)]
pub struct Tracer {
    tx: broadcast::Sender<Arc<AuditRecord>>,
}

impl Default for Tracer {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
        }
    }
}

/// What a listener wants to see.
#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    /// Only failed requests (status 400 and above).
    pub errors_only: bool,
    /// Only requests on this bucket.
    pub bucket: Option<String>,
}

impl TraceFilter {
    fn accepts(&self, r: &AuditRecord) -> bool {
        (!self.errors_only || r.status_code >= 400)
            && self
                .bucket
                .as_ref()
                .is_none_or(|b| r.bucket.as_deref() == Some(b.as_str()))
    }
}

impl Tracer {
    /// Whether anyone listens (the front skips building records otherwise).
    #[must_use]
    pub fn active(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Hands a finished request to the listeners.
    pub fn publish(&self, record: &AuditRecord) {
        if self.active() {
            let _ = self.tx.send(Arc::new(record.clone()));
        }
    }

    /// A stream of JSON lines for one listener; a listener too slow to keep
    /// up gets a `{"dropped": N}` line instead of the records it missed.
    pub fn lines(
        &self,
        filter: TraceFilter,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let rx = self.tx.subscribe();
        futures::stream::unfold((rx, filter), |(mut rx, filter)| async move {
            loop {
                let line = match rx.recv().await {
                    Ok(r) if filter.accepts(&r) => serde_json::to_string(&*r).ok()?,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        format!("{{\"dropped\":{n}}}")
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(Bytes::from(line + "\n")), (rx, filter)));
            }
        })
    }
}
