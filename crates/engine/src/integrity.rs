//! Integrity of stored bytes: every read is checked (plain blobs against
//! their per-chunk CRC-32C trailer, sealed ones by AES-GCM, inline bytes
//! against their CRC-64/NVME), and what fails is recorded, counted and
//! logged here. A scan re-reads everything on demand (`almacen admin scan`)
//! or slowly in the background (the scrubber), and also reports blob files
//! that no metadata names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use almacen_blob::{ByteStream, Corrupt};
use almacen_meta::WriteOp;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError, ObjectInfo, now_ms};

/// Where corruption records live in the configuration table.
const CORRUPT_PREFIX: &str = "integrity/corrupt/";
/// Orphan files younger than this may belong to an upload still committing.
const ORPHAN_MIN_AGE: Duration = Duration::from_secs(15 * 60);
/// Versions listed per metadata query during a scan.
const PAGE: usize = 500;

/// What integrity checks found since start, for metrics.
#[derive(Debug, Default)]
pub struct IntegrityTotals {
    /// Reads (by clients or scans) that found stored bytes not matching their checksums.
    pub checksum_failures: AtomicU64,
    /// Bytes verified by scans.
    pub scanned_bytes: AtomicU64,
    /// Object versions verified by scans.
    pub scanned_objects: AtomicU64,
}

/// One object version whose stored bytes failed a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptObject {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Version id.
    pub version_id: String,
    /// The blob that failed (empty for bytes inline in metadata).
    pub blob: String,
    /// What failed.
    pub detail: String,
    /// When it was found, ms since the epoch.
    pub detected_ms: i64,
}

/// What a scan found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanReport {
    /// Object versions whose bytes were verified.
    pub objects: u64,
    /// Bytes verified.
    pub bytes: u64,
    /// Versions that could not be verified (SSE-C: only the client holds the key;
    /// their file lengths were still checked).
    pub unverifiable: u64,
    /// Versions whose bytes are corrupt or missing.
    pub corrupt: Vec<CorruptObject>,
    /// Blob files no metadata names (older than a quarter of an hour).
    pub orphans: Vec<String>,
}

/// Keeps a scan under a byte rate.
struct Pacer {
    rate: Option<u64>,
    start: Instant,
    bytes: u64,
}

impl Pacer {
    async fn took(&mut self, n: u64) {
        self.bytes += n;
        let Some(rate) = self.rate.filter(|r| *r > 0) else {
            return;
        };
        let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
        let spent = self.start.elapsed();
        if due > spent {
            tokio::time::sleep(due - spent).await;
        }
    }
}

fn record_key(bucket: &str, version_id: &str, key: &str) -> String {
    format!("{CORRUPT_PREFIX}{bucket}/{version_id}/{key}")
}

impl Engine {
    /// Integrity counters since start.
    #[must_use]
    pub fn integrity_totals(&self) -> &IntegrityTotals {
        &self.integrity_totals
    }

    /// Records that `info`'s stored bytes failed a check: counted, logged,
    /// and kept in the metadata store until the version is rewritten or a
    /// scan finds it sound.
    pub fn report_corrupt(&self, info: &ObjectInfo, c: &Corrupt) {
        self.integrity_totals
            .checksum_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(bucket = %info.bucket, key = %info.key, version = %info.version_id,
            blob = %c.blob, detail = %c.detail, "stored object bytes failed their integrity check");
        let record = CorruptObject {
            bucket: info.bucket.clone(),
            key: info.key.clone(),
            version_id: info.version_id.clone(),
            blob: c.blob.clone(),
            detail: c.detail.clone(),
            detected_ms: now_ms(),
        };
        let meta = self.meta.clone();
        tokio::spawn(async move {
            let op = WriteOp::PutConfig {
                key: record_key(&record.bucket, &record.version_id, &record.key),
                value: serde_json::to_vec(&record).unwrap_or_default(),
            };
            if let Err(e) = meta.commit(vec![op]).await {
                tracing::warn!(error = %e, "cannot record a corrupt object");
            }
        });
    }

    /// Object versions recorded as corrupt, by reads or scans.
    ///
    /// # Errors
    /// Store failures.
    pub async fn corrupt_objects(&self) -> Result<Vec<CorruptObject>, EngineError> {
        Ok(self
            .meta
            .list_config(CORRUPT_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect())
    }

    /// Wraps a byte stream of `info` so that corruption it meets is reported.
    pub(crate) fn watch(&self, info: &ObjectInfo, stream: ByteStream) -> ByteStream {
        let engine = self.clone();
        let info = info.clone();
        Box::pin(stream.inspect_err(move |e| {
            if let Some(c) = Corrupt::of(e) {
                engine.report_corrupt(&info, c);
            }
        }))
    }

    /// Opens `len` bytes of `info` from `start` for a response, reading the
    /// first piece before answering: corruption found there fails the
    /// request with an error instead of a broken 200. Corruption further in
    /// ends the stream before the bad bytes (the client sees a short body).
    ///
    /// # Errors
    /// `CorruptObject`, or `Internal` when the bytes cannot be read.
    pub async fn open_read(
        &self,
        info: &ObjectInfo,
        start: u64,
        len: u64,
        key: Option<crate::ObjectKey>,
    ) -> Result<ByteStream, EngineError> {
        let mut stream = self.read_with(info, start, len, key);
        match stream.next().await {
            None => Ok(Box::pin(futures::stream::empty())),
            Some(Ok(first)) => Ok(Box::pin(
                futures::stream::once(async move { Ok(first) }).chain(stream),
            )),
            Some(Err(e)) => Err(match Corrupt::of(&e) {
                Some(_) => EngineError::CorruptObject,
                None => EngineError::Internal(format!("reading {}/{}: {e}", info.bucket, info.key)),
            }),
        }
    }

    /// Checks inline plain bytes against the object's CRC-64/NVME.
    pub(crate) fn check_inline(info: &ObjectInfo, bytes: &Bytes) -> Result<(), Corrupt> {
        if info.attrs.checksum_type.is_some() {
            return Ok(());
        }
        match &info.attrs.checksums.crc64nvme {
            Some(want) if *want != almacen_blob::integrity::crc64nvme_b64(bytes) => Err(
                Corrupt::new("", "inline bytes do not match their CRC-64/NVME"),
            ),
            _ => Ok(()),
        }
    }

    /// Re-reads and verifies every object version (parts of uploads in
    /// progress are not read), at most `rate` bytes per second when given;
    /// records corruption as reads do, drops records of versions now sound
    /// or gone, and lists blob files that no metadata names.
    ///
    /// # Errors
    /// Store failures (corruption is reported, not an error).
    pub async fn scan(&self, rate: Option<u64>) -> Result<ScanReport, EngineError> {
        let mut report = ScanReport::default();
        let mut pacer = Pacer {
            rate,
            start: Instant::now(),
            bytes: 0,
        };
        let mut referenced = std::collections::HashSet::new();
        let recorded: std::collections::HashSet<String> = self
            .meta
            .list_config(CORRUPT_PREFIX)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut seen = std::collections::HashSet::new();
        for bucket in self.meta.list_buckets().await? {
            let mut pages = crate::walk::VersionPages::new(self.meta.clone(), &bucket.name);
            while let Some(rows) = pages.next_page().await? {
                for row in rows {
                    referenced.extend(row.blobs.iter().cloned());
                    if row.delete_marker {
                        continue;
                    }
                    // List pages leave inline bytes out; fetch them.
                    let row = if row.blobs.is_empty() && row.size > 0 {
                        match self
                            .meta
                            .get_object_version(&bucket.name, &row.key, &row.version_id)
                            .await?
                        {
                            Some(r) => r,
                            None => continue,
                        }
                    } else {
                        row
                    };
                    let info = self.info(row)?;
                    let rkey = record_key(&info.bucket, &info.version_id, &info.key);
                    seen.insert(rkey.clone());
                    match self.verify_object(&info, &mut pacer).await {
                        Verified::Sound(n) => {
                            report.objects += 1;
                            report.bytes += n;
                            if recorded.contains(&rkey) {
                                self.commit(vec![WriteOp::DeleteConfig { key: rkey }])
                                    .await?;
                            }
                        }
                        Verified::Unverifiable => report.unverifiable += 1,
                        Verified::Corrupt(c) => {
                            report.objects += 1;
                            report.corrupt.push(CorruptObject {
                                bucket: info.bucket.clone(),
                                key: info.key.clone(),
                                version_id: info.version_id.clone(),
                                blob: c.blob,
                                detail: c.detail,
                                detected_ms: now_ms(),
                            });
                        }
                    }
                }
            }
            self.parts_of(&bucket.name, &mut referenced).await?;
        }
        let gone: Vec<WriteOp> = recorded
            .difference(&seen)
            .map(|k| WriteOp::DeleteConfig { key: k.clone() })
            .collect();
        if !gone.is_empty() {
            self.commit(gone).await?;
        }
        referenced.extend(self.meta.garbage(i64::MAX, usize::MAX).await?);
        let cutoff = std::time::SystemTime::now()
            .checked_sub(ORPHAN_MIN_AGE)
            .unwrap_or(std::time::UNIX_EPOCH);
        report.orphans = self
            .blobs
            .all_blobs(cutoff)
            .await?
            .into_iter()
            .filter(|id| !referenced.contains(id))
            .collect();
        self.integrity_totals
            .scanned_objects
            .fetch_add(report.objects, Ordering::Relaxed);
        self.integrity_totals
            .scanned_bytes
            .fetch_add(report.bytes, Ordering::Relaxed);
        Ok(report)
    }

    /// Adds the blobs of in-progress uploads' parts to `referenced`.
    async fn parts_of(
        &self,
        bucket: &str,
        referenced: &mut std::collections::HashSet<String>,
    ) -> Result<(), EngineError> {
        let mut pages = crate::walk::UploadPages::new(self.meta.clone(), bucket);
        while let Some(uploads) = pages.next_page().await? {
            for u in &uploads {
                let mut after = 0;
                loop {
                    let parts = self.meta.list_parts(&u.upload_id, after, PAGE).await?;
                    let Some(last) = parts.last() else { break };
                    after = last.part_number;
                    referenced.extend(parts.into_iter().map(|p| p.blob));
                }
            }
        }
        Ok(())
    }

    /// Reads one version through the checking read path, paced.
    async fn verify_object(&self, info: &ObjectInfo, pacer: &mut Pacer) -> Verified {
        if info
            .attrs
            .sse
            .as_ref()
            .is_some_and(crate::SseAttrs::is_customer_key)
        {
            return match self.blobs.check_sealed_lengths(&info.segments()) {
                Ok(()) => Verified::Unverifiable,
                Err(c) => {
                    self.report_corrupt(info, &c);
                    Verified::Corrupt(c)
                }
            };
        }
        let mut stream = self.read_with(info, 0, info.size, None);
        let mut n = 0u64;
        while let Some(item) = stream.next().await {
            match item {
                Ok(b) => {
                    n += b.len() as u64;
                    pacer.took(b.len() as u64).await;
                }
                Err(e) => {
                    return match Corrupt::of(&e) {
                        // `watch` has reported it already.
                        Some(c) => Verified::Corrupt(c.clone()),
                        None => Verified::Corrupt(Corrupt::new("", e.to_string())),
                    };
                }
            }
        }
        Verified::Sound(n)
    }

    /// Scans forever in the background, pausing `every` between passes and
    /// reading at most `rate` bytes per second. A scrubber finds rot in
    /// data nobody reads before the last good copy elsewhere ages out.
    pub fn spawn_scrubber(&self, rate: u64, every: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if !engine.runs_background() {
                    continue;
                }
                match engine.scan(Some(rate)).await {
                    Ok(r) => tracing::info!(
                        objects = r.objects,
                        bytes = r.bytes,
                        corrupt = r.corrupt.len(),
                        orphans = r.orphans.len(),
                        "scrubber pass done"
                    ),
                    Err(e) => tracing::warn!(error = %e, "scrubber pass failed"),
                }
            }
        })
    }
}

enum Verified {
    Sound(u64),
    Unverifiable,
    Corrupt(Corrupt),
}
