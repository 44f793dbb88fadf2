//! The object engine of almacen: S3's data model (buckets, objects,
//! multipart uploads, listings) over a [`MetaStore`] and a [`BlobStore`].
//!
//! Every write follows one protocol (see docs/design.md):
//! 1. check what can be checked before reading the body (bucket exists, key valid);
//! 2. *stage* the body: bytes to memory or a temporary file, every digest in one pass;
//! 3. the caller verifies the client's digests against the staged ones;
//! 4. *publish* the blob (fsync, rename, fsync dir) and *commit* the metadata
//!    row in the group-committed metadata store. Only then is the write acknowledged.
//!
//! Replaced and deleted blobs are released to a garbage table in the same
//! transaction and removed by [`Engine::collect_garbage`] after a grace
//! period, so readers that looked up the old row can finish.
#![forbid(unsafe_code)]

mod attrs;
mod bucket;
mod error;
mod integrity;
mod kms;
mod lifecycle;
mod listen;
mod multipart;
mod names;
mod notify;
mod object;
mod object_lock;
mod sealed_meta;
mod sse;
mod upload_rules;
mod versioning;
mod walk;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use almacen_blob::BlobStore;
pub use almacen_blob::crypt::ObjectKey;
pub use almacen_blob::{Algorithm, ByteStream, ChecksumSet, Checksums, Digests, DiskStats, Staged};
pub use almacen_meta::{
    BucketUsage, ListEntry, ListPage, ListQuery, MetaStore, UploadListPage, UploadListQuery,
    VersionEntry, VersionListPage, VersionListQuery,
};
use almacen_meta::{SqliteStore, WriteOp};
pub use attrs::{CannedAcl, ChecksumType, ContentHeaders, ObjectAttrs, Tags, UploadAttrs};
pub use bucket::{BucketConfig, CorsRule};
pub use error::EngineError;
pub use integrity::{CorruptObject, IntegrityTotals, ScanReport};
pub use kms::RotateReport;
pub use lifecycle::{
    FilterShape, LifecycleFilter, LifecycleRule, LifecycleStats, LifecycleTotals,
    Transition as LifecycleTransition,
};
pub use listen::LiveEvent;
pub use multipart::{CompletePart, PartInfo, UploadInfo};
pub use names::{MAX_KEY_LEN, validate_bucket_name, validate_key};
pub use notify::{EVENT_NAMES, NotificationRule};
pub use object::{BucketInfo, ObjectInfo, PutCondition};
pub use object_lock::{DefaultRetention, LockMode, ObjectLockConfig, Retention, check_removable};
pub use sealed_meta::SealedMeta;
pub use sse::{MasterKey, SseAttrs};
pub use upload_rules::{UploadRule, check_declared, rule_for, sniff};
pub use versioning::{DeleteOutcome, NULL_VERSION, VersioningStatus, validate_version_id};

/// Largest object a single PUT (or copy) may create: 5 GiB, as S3.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest size of a part that is not the last one: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Objects up to this size live inline in their metadata row.
pub const INLINE_MAX: usize = 128 * 1024;
/// How long released blobs stay on disk before garbage collection removes them.
pub const GC_GRACE_MS: i64 = 5 * 60 * 1000;

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    region: String,
    /// Orders read-modify-write updates of bucket configuration (one node).
    config_lock: Arc<tokio::sync::Mutex<()>>,
    /// How long a lifecycle "day" is (shortened for tests and demos).
    lifecycle_day_ms: i64,
    /// What lifecycle passes did since start, for metrics.
    lifecycle_totals: Arc<lifecycle::LifecycleTotals>,
    /// The master key for SSE-S3, if configured.
    master_key: Option<Arc<sse::MasterKey>>,
    /// Master keys used before the current one, still able to open.
    previous_keys: Arc<Vec<sse::MasterKey>>,
    /// Further active master keys, chosen by SSE-KMS key id.
    extra_keys: Arc<Vec<sse::MasterKey>>,
    /// What integrity checks found since start, for metrics.
    integrity_totals: Arc<integrity::IntegrityTotals>,
    /// Live event listeners (ListenBucketNotification).
    listeners: listen::Listeners,
    /// Whether this node runs the work that must run once per cluster
    /// (lifecycle, scrubbing, garbage collection): always alone, and on
    /// the node holding the background lease when several share a store.
    background: Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Engine {
    /// Opens the engine on a data folder with the embedded metadata store
    /// (`DATA/meta.db`) and blob area (`DATA/blobs`, `DATA/tmp`).
    ///
    /// # Errors
    /// The folder cannot be created or written, or the store does not open.
    pub fn open(data_dir: &Path, region: &str) -> Result<Self, EngineError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            EngineError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let blobs = BlobStore::open(data_dir)?;
        let meta = SqliteStore::open(&data_dir.join("meta.db"))
            .map_err(|e| EngineError::Internal(format!("cannot open metadata store: {e}")))?;
        Ok(Self::with_stores(Arc::new(meta), blobs, region))
    }

    /// Opens the engine on a data folder shared by several nodes, with
    /// metadata in a shared store (PostgreSQL). Uploads in progress are
    /// staged under `DATA/tmp/<node>`, so a node that starts cleans only
    /// its own leftovers, never another node's uploads.
    ///
    /// # Errors
    /// The folder cannot be created or written.
    pub fn open_shared(
        data_dir: &Path,
        region: &str,
        meta: Arc<dyn MetaStore>,
        node: &str,
    ) -> Result<Self, EngineError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            EngineError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let blobs = BlobStore::open_for_node(data_dir, Some(node))?;
        Ok(Self::with_stores(meta, blobs, region))
    }

    /// Builds an engine over explicit stores (another metadata backend, tests).
    #[must_use]
    pub fn with_stores(meta: Arc<dyn MetaStore>, blobs: BlobStore, region: &str) -> Self {
        Self {
            meta,
            blobs,
            region: region.to_owned(),
            config_lock: Arc::new(tokio::sync::Mutex::new(())),
            lifecycle_day_ms: lifecycle::DAY_MS,
            lifecycle_totals: Arc::default(),
            master_key: None,
            previous_keys: Arc::default(),
            extra_keys: Arc::default(),
            integrity_totals: Arc::default(),
            listeners: listen::Listeners::default(),
            background: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    /// Shares the flag that says whether this node runs cluster-wide
    /// background work (see [`Engine::runs_background`]).
    pub fn set_background_flag(&mut self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.background = flag;
    }

    /// Whether this node should run lifecycle passes, scrubbing and garbage
    /// collection now.
    #[must_use]
    pub fn runs_background(&self) -> bool {
        self.background.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Space on the data folder's file system.
    ///
    /// # Errors
    /// The file system cannot be queried.
    pub fn disk_stats(&self) -> Result<DiskStats, EngineError> {
        self.blobs
            .disk_stats()
            .map_err(|e| EngineError::Internal(format!("statvfs: {e}")))
    }

    /// Multipart uploads in progress in `bucket`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn uploads_in_progress(&self, bucket: &str) -> Result<u64, EngineError> {
        Ok(self.meta.count_uploads(bucket).await?)
    }

    /// The metadata store, for features that keep their own configuration
    /// in it (IAM).
    #[must_use]
    pub fn meta(&self) -> Arc<dyn MetaStore> {
        self.meta.clone()
    }

    /// The region this server answers for.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether the server can serve: metadata readable and the data folder writable.
    ///
    /// # Errors
    /// Whichever check failed.
    pub async fn ready(&self) -> Result<(), EngineError> {
        self.meta.ping().await?;
        self.blobs.probe().await?;
        Ok(())
    }

    /// Removes blobs released more than `grace_ms` ago. Returns how many.
    ///
    /// # Errors
    /// The metadata store failed; files that cannot be removed are retried next time.
    pub async fn collect_garbage(&self, grace_ms: i64) -> Result<usize, EngineError> {
        let mut total = 0;
        loop {
            let ids = self.meta.garbage(now_ms() - grace_ms, 500).await?;
            if ids.is_empty() {
                return Ok(total);
            }
            let mut done = Vec::with_capacity(ids.len());
            for id in ids {
                match self.blobs.remove(&id).await {
                    Ok(()) => done.push(id),
                    Err(e) => tracing::warn!(blob = %id, error = %e, "cannot remove garbage blob"),
                }
            }
            if done.is_empty() {
                return Ok(total);
            }
            total += done.len();
            self.meta.commit(vec![WriteOp::ForgetGarbage(done)]).await?;
        }
    }

    /// Commits ops that name a freshly published blob. When the store
    /// certainly did not commit (a refused condition, quota, full disk),
    /// the blob is removed at once instead of lingering as an orphan.
    async fn commit_with_blob(
        &self,
        mut ops: Vec<WriteOp>,
        blob: Option<&str>,
    ) -> Result<(), EngineError> {
        let notices = Self::take_notices(&mut ops);
        match self.meta.commit(ops).await {
            Ok(()) => {
                self.announce(notices);
                Ok(())
            }
            Err(e) => {
                let refused = !e.is_uncertain();
                if refused
                    && let Some(id) = blob
                    && let Err(re) = self.blobs.remove(id).await
                {
                    tracing::warn!(blob = %id, error = %re, "cannot remove an uncommitted blob");
                }
                if e.is_uncertain() {
                    tracing::error!(error = %e, "metadata commit failed");
                }
                Err(EngineError::from(e))
            }
        }
    }

    async fn commit(&self, mut ops: Vec<WriteOp>) -> Result<(), EngineError> {
        let notices = Self::take_notices(&mut ops);
        self.meta
            .commit(ops)
            .await
            .map(|()| self.announce(notices))
            .map_err(|e| {
                if e.is_uncertain() {
                    tracing::error!(error = %e, "metadata commit failed");
                }
                EngineError::from(e)
            })
    }
}
