//! Audit records sent to an HTTP endpoint as MinIO's audit webhook does
//! (`MINIO_AUDIT_WEBHOOK_ENABLE_<ID>=on`, `..._ENDPOINT_<ID>`,
//! `..._AUTH_TOKEN_<ID>`): one POST of one JSON record per request.
//!
//! Requests never wait for the endpoint: records queue in memory (bounded)
//! and a background task delivers them in order over a kept-alive
//! connection, retrying with backoff while the endpoint is down. When the
//! queue is full, new records are dropped and counted (logged once), so a
//! dead audit endpoint can never stall or grow the server. The file audit
//! log is the durable record; the webhook is the live feed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::audit::AuditRecord;

/// Records that may wait for a slow or absent endpoint.
const QUEUE: usize = 10_000;
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An audit webhook endpoint as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditWebhookTarget {
    /// The target's id (`<ID>` in the variable names, `_` for none).
    pub id: String,
    /// `http://host:port/path`.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer <token>` (never logged).
    pub auth_token: Option<String>,
}

/// The audit webhooks `vars` (the environment) configure.
///
/// # Errors
/// An enabled target without an `http://` endpoint.
pub fn targets_from_env(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<AuditWebhookTarget>, String> {
    let vars: HashMap<String, String> = vars.into_iter().collect();
    let mut ids: Vec<&str> = vars
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix("MINIO_AUDIT_WEBHOOK_ENABLE")?;
            if rest.is_empty() {
                Some("")
            } else {
                rest.strip_prefix('_')
            }
        })
        .collect();
    ids.sort_unstable();
    let mut out = Vec::new();
    for id in ids {
        let var = |name: &str| {
            let key = if id.is_empty() {
                format!("MINIO_AUDIT_WEBHOOK_{name}")
            } else {
                format!("MINIO_AUDIT_WEBHOOK_{name}_{id}")
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
            format!("audit webhook {label} is enabled but has no MINIO_AUDIT_WEBHOOK_ENDPOINT")
        })?;
        if !endpoint.starts_with("http://") {
            return Err(format!(
                "audit webhook {label}: only http:// endpoints are supported by this version"
            ));
        }
        out.push(AuditWebhookTarget {
            id: label.to_owned(),
            endpoint,
            auth_token: var("AUTH_TOKEN"),
        });
    }
    Ok(out)
}

/// The sending side of one audit webhook (see the module documentation).
#[derive(Debug)]
pub struct AuditWebhook {
    tx: mpsc::Sender<Bytes>,
    dropped: AtomicU64,
}

impl AuditWebhook {
    /// Starts delivering to `target` in the background.
    #[must_use]
    pub fn start(target: AuditWebhookTarget) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
        tokio::spawn(async move {
            let mut poster = almacen_notify::JsonPoster::new(
                target.endpoint.clone(),
                target.auth_token.clone().map(almacen_notify::Secret::new),
            );
            while let Some(record) = rx.recv().await {
                let mut tries = 0u32;
                loop {
                    let sent = tokio::time::timeout(TIMEOUT, poster.post(record.clone())).await;
                    match sent {
                        Ok(Ok(())) => break,
                        failed => {
                            tries += 1;
                            let wait = Duration::from_millis(250 << tries.min(7)).min(MAX_BACKOFF);
                            if tries == 1 {
                                let error = match &failed {
                                    Ok(Err(e)) => e.to_string(),
                                    _ => "timed out".to_owned(),
                                };
                                tracing::warn!(target = %target.id, endpoint = %target.endpoint, %error, "audit webhook delivery failed; retrying");
                            }
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
        });
        Self {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues one record (drops it, counted, when the queue is full).
    pub fn record(&self, r: &AuditRecord) {
        let Ok(json) = serde_json::to_vec(r) else {
            return;
        };
        if self.tx.try_send(Bytes::from(json)).is_err()
            && self.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!("audit webhook queue full: records are being dropped");
        }
    }
}
