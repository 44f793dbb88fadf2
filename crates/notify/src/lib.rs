//! Delivery of bucket event notifications.
//!
//! The engine writes each event into the metadata store's `events` table in
//! the same commit as the object change it reports. The [`Dispatcher`] here
//! drains that table in sequence order and POSTs each event to its target.
//! An event leaves the table only after its target answered 2xx. While a
//! target is down, its events wait, in order, with exponential backoff up
//! to a minute. The table survives restarts, so no event is lost and none
//! is invented.
//!
//! Targets come from the environment, as MinIO's:
//! `MINIO_NOTIFY_WEBHOOK_ENABLE_<ID>=on`, `MINIO_NOTIFY_WEBHOOK_ENDPOINT_<ID>`,
//! `MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_<ID>` (also without `_<ID>`, id `_`),
//! named by the ARN `arn:minio:sqs:<region>:<ID>:webhook`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use almacen_meta::{MetaStore, WriteOp};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

/// A webhook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `arn:minio:sqs:<region>:<id>:webhook`.
    pub arn: String,
    /// `http://host:port/path`.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer <token>` when set (never logged).
    pub auth_token: Option<String>,
}

/// The (id, type) an ARN names; the region part is ignored, as clients
/// copy ARNs with an empty region or the server's.
#[must_use]
pub fn arn_key(arn: &str) -> Option<(String, String)> {
    let p: Vec<&str> = arn.split(':').collect();
    (p.len() == 6 && p[0] == "arn" && p[1] == "minio" && p[2] == "sqs")
        .then(|| (p[4].to_owned(), p[5].to_owned()))
}

/// The webhook targets configured by `vars` (the environment), as MinIO's variables.
///
/// # Errors
/// An enabled target without an endpoint, or one that is not `http://`.
pub fn webhook_targets(
    vars: impl IntoIterator<Item = (String, String)>,
    region: &str,
) -> Result<Vec<Target>, String> {
    let vars: HashMap<String, String> = vars.into_iter().collect();
    let mut out = Vec::new();
    let mut ids: Vec<&str> = vars
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix("MINIO_NOTIFY_WEBHOOK_ENABLE")?;
            Some(if rest.is_empty() {
                ""
            } else {
                rest.strip_prefix('_')?
            })
        })
        .collect();
    ids.sort_unstable();
    for id in ids {
        let var = |name: &str| {
            let key = if id.is_empty() {
                format!("MINIO_NOTIFY_WEBHOOK_{name}")
            } else {
                format!("MINIO_NOTIFY_WEBHOOK_{name}_{id}")
            };
            vars.get(&key).filter(|v| !v.is_empty()).cloned()
        };
        if !var("ENABLE")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1"))
        {
            continue;
        }
        let label = if id.is_empty() { "_" } else { id };
        let endpoint = var("ENDPOINT").ok_or_else(|| {
            format!("webhook target {label} is enabled but has no MINIO_NOTIFY_WEBHOOK_ENDPOINT")
        })?;
        if !endpoint.starts_with("http://") {
            return Err(format!(
                "webhook target {label}: only http:// endpoints are supported by this version ({endpoint})"
            ));
        }
        out.push(Target {
            arn: format!(
                "arn:minio:sqs:{region}:{}:webhook",
                label.to_ascii_lowercase()
            ),
            endpoint,
            auth_token: var("AUTH_TOKEN"),
        });
    }
    Ok(out)
}

/// What the dispatcher did since start, for metrics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Events delivered (answered 2xx).
    pub delivered: std::sync::atomic::AtomicU64,
    /// Delivery attempts that failed (each will be retried).
    pub failed: std::sync::atomic::AtomicU64,
}

/// Drains the event queue (see the crate documentation).
pub struct Dispatcher {
    meta: Arc<dyn MetaStore>,
    targets: Vec<Target>,
    blocked: HashMap<String, (Instant, u32)>,
    stats: Arc<DeliveryStats>,
}

/// How often an idle dispatcher looks for new events.
const IDLE: Duration = Duration::from_millis(200);
/// Longest wait before retrying a target that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

impl Dispatcher {
    /// A dispatcher over `meta`'s queue for `targets`, counting into `stats`.
    #[must_use]
    pub fn new(meta: Arc<dyn MetaStore>, targets: Vec<Target>, stats: Arc<DeliveryStats>) -> Self {
        Self {
            meta,
            targets,
            blocked: HashMap::new(),
            stats,
        }
    }

    fn target_for(&self, arn: &str) -> Option<&Target> {
        let key = arn_key(arn)?;
        self.targets
            .iter()
            .find(|t| arn_key(&t.arn).as_ref() == Some(&key))
    }

    /// One pass: delivers every due event whose target is up, in order.
    /// Returns how many were delivered.
    pub async fn pass(&mut self) -> usize {
        let events = match self.meta.due_events(256).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event queue");
                return 0;
            }
        };
        let now = Instant::now();
        let mut done = Vec::new();
        let mut failed_now: Vec<String> = Vec::new();
        for ev in events {
            let Some(key) = arn_key(&ev.target) else {
                continue;
            };
            let key = format!("{}:{}", key.0, key.1);
            if failed_now.contains(&key)
                || self
                    .blocked
                    .get(&key)
                    .is_some_and(|(until, _)| *until > now)
            {
                continue;
            }
            let Some(target) = self.target_for(&ev.target).cloned() else {
                // A target that is no longer configured: keep its events (safe), say so once a pass.
                if !failed_now.contains(&key) {
                    tracing::warn!(target = %ev.target, "events wait for a target that is not configured");
                    failed_now.push(key);
                }
                continue;
            };
            match deliver(&target, ev.payload.clone()).await {
                Ok(()) => {
                    self.blocked.remove(&key);
                    self.stats
                        .delivered
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    done.push(WriteOp::DeleteEvent { seq: ev.seq });
                }
                Err(e) => {
                    self.stats
                        .failed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let tries = self.blocked.get(&key).map_or(0, |(_, n)| *n) + 1;
                    let wait = Duration::from_secs(1 << tries.min(6)).min(MAX_BACKOFF);
                    tracing::warn!(target = %target.arn, error = %e, retry_in_s = wait.as_secs(), "event delivery failed");
                    self.blocked.insert(key.clone(), (now + wait, tries));
                    failed_now.push(key);
                }
            }
        }
        let n = done.len();
        if n > 0
            && let Err(e) = self.meta.commit(done).await
        {
            // They will be delivered again: at-least-once, never lost.
            tracing::warn!(error = %e, "cannot forget delivered events");
        }
        n
    }

    /// Runs forever.
    pub async fn run(mut self) {
        loop {
            if self.pass().await == 0 {
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

/// POSTs one event; Ok on a 2xx answer.
async fn deliver(target: &Target, payload: Vec<u8>) -> Result<(), String> {
    tokio::time::timeout(DELIVERY_TIMEOUT, deliver_inner(target, payload))
        .await
        .map_err(|_| "timed out".to_owned())?
}

async fn deliver_inner(target: &Target, payload: Vec<u8>) -> Result<(), String> {
    let uri: http::Uri = target
        .endpoint
        .parse()
        .map_err(|e| format!("bad endpoint: {e}"))?;
    let authority = uri.authority().ok_or("endpoint has no host")?.clone();
    let addr = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method("POST")
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONTENT_LENGTH, payload.len());
    if let Some(t) = &target.auth_token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(payload)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("target answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_minio_variables() {
        let vars = [
            ("MINIO_NOTIFY_WEBHOOK_ENABLE_PRIMARY", "on"),
            (
                "MINIO_NOTIFY_WEBHOOK_ENDPOINT_PRIMARY",
                "http://jobs:8080/events",
            ),
            ("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PRIMARY", "t0k"),
            ("MINIO_NOTIFY_WEBHOOK_ENABLE_OFF", "off"),
            ("MINIO_NOTIFY_WEBHOOK_ENABLE", "on"),
            ("MINIO_NOTIFY_WEBHOOK_ENDPOINT", "http://hook/"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let t = webhook_targets(vars, "").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].arn, "arn:minio:sqs::_:webhook");
        assert_eq!(t[1].arn, "arn:minio:sqs::primary:webhook");
        assert_eq!(t[1].auth_token.as_deref(), Some("t0k"));
        assert_eq!(
            arn_key("arn:minio:sqs:us-east-1:primary:webhook"),
            arn_key(&t[1].arn)
        );
        let bad =
            [("MINIO_NOTIFY_WEBHOOK_ENABLE_X", "on")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert!(webhook_targets(bad, "").is_err());
    }
}
