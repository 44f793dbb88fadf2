//! The metadata store of almacen.
//!
//! Every fact about buckets, objects and multipart uploads lives here, in an
//! ordered key-value layout, so that listing is a range scan and never a
//! directory walk. Object bytes live elsewhere (the blob store); rows only
//! name the blobs they own, so that replacing or deleting a row can hand the
//! old blobs to garbage collection *in the same transaction*.
//!
//! The [`MetaStore`] trait is what the engine talks to. [`SqliteStore`] is the
//! embedded default; [`PgStore`] keeps the same rows in PostgreSQL (or a
//! PostgreSQL-compatible database) so that several stateless nodes can share
//! one namespace. All writes go through [`MetaStore::commit`], which applies a batch of
//! [`WriteOp`]s atomically: the SQLite implementation funnels every caller
//! into one writer thread that group-commits whatever is waiting into one
//! transaction (one fsync for many requests).
#![forbid(unsafe_code)]

mod bucket_cache;
#[cfg(test)]
mod conformance;
mod error;
mod list;
mod postgres;
mod seek;
mod sqlite;
mod types;

pub use error::MetaError;
pub use list::{
    ListEntry, ListPage, ListQuery, UploadListPage, UploadListQuery, VersionEntry, VersionListPage,
    VersionListQuery,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::{
    BucketRow, BucketUsage, Condition, EventRow, NodeRow, ObjectRow, PartRow, UploadRow, WriteOp,
};

/// Metadata access for the engine. Implementations must make every
/// [`commit`](MetaStore::commit) durable before it returns `Ok`, and atomic:
/// either every op of the batch takes effect or none does.
#[async_trait::async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Applies `ops` atomically and durably, in order.
    ///
    /// # Errors
    /// The first op that cannot apply (a missing bucket, a failed
    /// precondition, ...) aborts the whole batch with its [`MetaError`].
    async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), MetaError>;

    /// One bucket by name.
    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRow>, MetaError>;

    /// The oldest events waiting for delivery, in sequence order.
    async fn due_events(&self, max: usize) -> Result<Vec<EventRow>, MetaError>;

    /// How many events wait for delivery, per target.
    async fn pending_events(&self) -> Result<Vec<(String, u64)>, MetaError>;

    /// How many multipart uploads are in progress in `bucket`.
    async fn count_uploads(&self, bucket: &str) -> Result<u64, MetaError>;

    /// What a bucket holds and its quota.
    async fn bucket_usage(&self, bucket: &str) -> Result<Option<BucketUsage>, MetaError>;

    /// Just the bucket's quota (`None`: no such bucket), which every upload
    /// checks; a store may answer it from memory.
    async fn bucket_quota(&self, bucket: &str) -> Result<Option<Option<u64>>, MetaError> {
        Ok(self.bucket_usage(bucket).await?.map(|u| u.quota))
    }

    /// Every bucket, sorted by name.
    async fn list_buckets(&self) -> Result<Vec<BucketRow>, MetaError>;

    /// The current object under `key`, with its inline bytes if any.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>, MetaError>;

    /// One version of an object (current or not), with its inline bytes.
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRow>, MetaError>;

    /// One page of object versions and delete markers: keys in order, each
    /// key's versions newest first (inline bytes left out).
    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> Result<VersionListPage, MetaError>;

    /// One page of objects and common prefixes in key order (inline bytes left out).
    async fn list_objects(&self, bucket: &str, query: ListQuery) -> Result<ListPage, MetaError>;

    /// One multipart upload.
    async fn get_upload(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRow>, MetaError>;

    /// Parts of an upload with a number greater than `after`, at most `max`, in order.
    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<Vec<PartRow>, MetaError>;

    /// One page of multipart uploads in (key, upload id) order.
    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> Result<UploadListPage, MetaError>;

    /// Blobs no row references any more and that were released before `before_ms`.
    async fn garbage(&self, before_ms: i64, max: usize) -> Result<Vec<String>, MetaError>;

    /// Every configuration entry whose key starts with `prefix`, in key order.
    /// Configuration is small (users, policies, ...), so it comes whole.
    async fn list_config(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, MetaError>;

    /// Whether the store can take writes now (for the readiness probe).
    async fn ping(&self) -> Result<(), MetaError>;

    /// Whether other server processes may share this store (PostgreSQL):
    /// then background work takes a [lease](MetaStore::lease) and in-memory
    /// copies of configuration follow [`config_generation`](MetaStore::config_generation).
    fn is_shared(&self) -> bool {
        false
    }

    /// Takes or renews the lease `name` for `holder` for `ttl_ms`; `true`
    /// when `holder` has it now. A lease whose holder stopped renewing it
    /// passes to the next node that asks once it expires. A store used by
    /// one process only grants every lease.
    async fn lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, MetaError> {
        let _ = (name, holder, ttl_ms);
        Ok(true)
    }

    /// A number that changes whenever configuration (IAM entries, bucket
    /// settings) changes, on any node: cheap to poll.
    async fn config_generation(&self) -> Result<i64, MetaError> {
        Ok(0)
    }

    /// Records that `node` is alive (and when it started).
    async fn heartbeat(&self, node: &NodeRow) -> Result<(), MetaError> {
        let _ = node;
        Ok(())
    }

    /// Every node that reported itself in the last `within_ms`, by id.
    async fn nodes(&self, within_ms: i64) -> Result<Vec<NodeRow>, MetaError> {
        let _ = within_ms;
        Ok(Vec::new())
    }
}
