//! The audit log: one JSON object per request, appended to a file that
//! rotates by size. It records who did what to which bucket and key, from
//! where, with what outcome, how many bytes and how long it took. It never
//! holds secrets: no headers, no query strings (presigned signatures live
//! there), no bodies.
//!
//! Lines are handed to a background task over a channel, so a slow disk
//! never holds up a request; if the channel is full the line is dropped
//! and counted (the server keeps serving).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// How many lines may wait for the writer.
const QUEUE: usize = 65_536;

/// What the front knows of a finished request.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// RFC 3339 time the request arrived.
    pub time: String,
    /// The request id (`x-amz-request-id`).
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// The S3 operation (`PutObject`, ...), or `Admin`, `Unknown`.
    pub api: String,
    /// The bucket, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The `versionId` asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The access key that signed, if any (never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// The user it acts as (the parent of a service account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<String>,
    /// The client's User-Agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// HTTP status.
    pub status_code: u16,
    /// The S3 error code of a failed request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Request body bytes (by Content-Length).
    pub rx: u64,
    /// Response body bytes (by Content-Length).
    pub tx: u64,
    /// Milliseconds until the response head was ready.
    pub duration_ms: f64,
}

/// The audit log writer (see the module documentation).
#[derive(Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<String>,
    dropped: AtomicU64,
}

impl AuditLog {
    /// Starts writing to `path`, rotating to `path.1` ... `path.{keep}` at `max_bytes`.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: PathBuf, max_bytes: u64, keep: u32) -> std::io::Result<Self> {
        let mut file = open_append(&path)?;
        let mut size = file.get_ref().metadata()?.len();
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let result = tokio::task::block_in_place(|| -> std::io::Result<()> {
                    for line in &batch {
                        if size > 0 && size + line.len() as u64 > max_bytes {
                            file.flush()?;
                            rotate(&path, keep)?;
                            file = open_append(&path)?;
                            size = 0;
                        }
                        file.write_all(line.as_bytes())?;
                        size += line.len() as u64;
                    }
                    file.flush()
                });
                if let Err(e) = result {
                    tracing::error!(error = %e, path = %path.display(), "cannot write the audit log");
                }
            }
        });
        Ok(Self {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues one record.
    pub fn record(&self, r: &AuditRecord) {
        let Ok(mut line) = serde_json::to_string(r) else {
            return;
        };
        line.push('\n');
        if self.tx.try_send(line).is_err() && self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!("audit log queue full: records are being dropped");
        }
    }
}

fn open_append(path: &PathBuf) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    Ok(std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?,
    ))
}

/// `path` → `path.1` → `path.2` ... dropping the oldest beyond `keep`.
fn rotate(path: &std::path::Path, keep: u32) -> std::io::Result<()> {
    let name = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    for n in (1..keep).rev() {
        let from = name(n);
        if from.exists() {
            std::fs::rename(&from, name(n + 1))?;
        }
    }
    if keep > 0 {
        std::fs::rename(path, name(1))?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
