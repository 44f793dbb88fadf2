//! Rows and write ops. Attributes the store does not index (content headers,
//! user metadata, checksums, part layout) travel as `attrs`: bytes encoded and
//! versioned by the engine, opaque here.

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    /// The bucket name (already validated by the engine).
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The region given at creation (LocationConstraint).
    pub region: String,
    /// Bucket configuration (versioning, policies, ...), engine-encoded.
    pub attrs: Vec<u8>,
}

/// One version of an object: the current one (in listings) or an older one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectRow {
    /// Bucket name.
    pub bucket: String,
    /// Object key: any UTF-8, compared byte-wise.
    pub key: String,
    /// Version id; "null" for the version written while versioning was off
    /// or suspended.
    pub version_id: String,
    /// A delete marker: no bytes; as the current version it hides the key.
    pub delete_marker: bool,
    /// Length of the object in bytes.
    pub size: u64,
    /// The ETag without quotes.
    pub etag: String,
    /// Last-modified time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
    /// Engine-encoded attributes.
    pub attrs: Vec<u8>,
    /// The object's bytes when small enough to live in the row.
    pub inline: Option<Vec<u8>>,
    /// Blob ids that hold the bytes, in order; released to garbage when the row goes.
    pub blobs: Vec<String>,
}

/// What a bucket holds, kept up to date by every write (never by scanning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketUsage {
    /// Bytes of every version (current and noncurrent).
    pub bytes: u64,
    /// Current objects (delete markers not counted).
    pub objects: u64,
    /// Versions and delete markers, current or not.
    pub versions: u64,
    /// The hard quota in bytes, if set.
    pub quota: Option<u64>,
}

/// An event waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Sequence number: delivery order.
    pub seq: i64,
    /// The target's ARN.
    pub target: String,
    /// The event JSON.
    pub payload: Vec<u8>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Bucket name.
    pub bucket: String,
    /// The key the upload will create.
    pub key: String,
    /// Opaque unique id.
    pub upload_id: String,
    /// Initiation time, milliseconds since the Unix epoch.
    pub initiated_ms: i64,
    /// Engine-encoded attributes (content headers, metadata, checksum algorithm).
    pub attrs: Vec<u8>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    /// The upload this part belongs to.
    pub upload_id: String,
    /// 1..=10000.
    pub part_number: u32,
    /// Part length in bytes.
    pub size: u64,
    /// The part's ETag without quotes (hex MD5).
    pub etag: String,
    /// Upload time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
    /// The blob holding the part's bytes.
    pub blob: String,
    /// Engine-encoded attributes (checksums).
    pub attrs: Vec<u8>,
}

/// A precondition checked inside the commit, against the row as it is then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `If-None-Match: *`: only if no object exists under the key.
    IfNoneMatchAny,
    /// `If-Match`: only if the current object has this ETag (without quotes);
    /// `*` matches any existing object.
    IfMatch(String),
    /// `If-None-Match: etag`: only if no current object has this ETag.
    IfNoneMatch(String),
    /// Every one of these (`If-Match` and `If-None-Match` together).
    All(Vec<Condition>),
}

/// One change. A batch of ops commits atomically.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create a bucket; fails with `BucketExists` if the name is taken.
    CreateBucket(BucketRow),
    /// Replace a bucket's attributes.
    SetBucketAttrs {
        /// Bucket name.
        name: String,
        /// New attributes.
        attrs: Vec<u8>,
        /// The attributes the caller read, when the change is a
        /// read-modify-write: if they changed meanwhile (another node, or
        /// another request) the op fails with `ConditionalConflict`
        /// instead of losing that change.
        expected: Option<Vec<u8>>,
    },
    /// Delete an empty bucket (no objects, no uploads).
    DeleteBucket {
        /// Bucket name.
        name: String,
    },
    /// Put a new current version of an object. With a real version id
    /// (versioning enabled) the previous current version becomes
    /// noncurrent; with version id "null" (versioning off or suspended) the
    /// previous "null" version, current or not, is replaced and its blobs
    /// become garbage, and a non-null current version becomes noncurrent.
    PutObject {
        /// The new row.
        row: ObjectRow,
        /// Checked against the current row inside the transaction.
        condition: Option<Condition>,
    },
    /// Replace the attributes of one version of an object, only if it is
    /// still the one the caller read (same ETag and mtime); its bytes are untouched.
    SetObjectAttrs {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// The version.
        version_id: String,
        /// ETag of the object the caller read.
        etag: String,
        /// Last-modified time of the object the caller read.
        mtime_ms: i64,
        /// The attributes the caller read: a change made meanwhile (tags,
        /// ACL, retention, a key rotation) fails the op instead of being lost.
        old_attrs: Vec<u8>,
        /// New attributes.
        attrs: Vec<u8>,
    },
    /// Delete an object without naming a version (idempotent). Without a
    /// marker (versioning off) the current version goes and its blobs become
    /// garbage; with one, the marker becomes the current version as a
    /// [`WriteOp::PutObject`] of it would.
    DeleteObject {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// The delete marker to insert (versioned buckets).
        marker: Option<ObjectRow>,
    },
    /// Delete one version (idempotent); its blobs become garbage. When it was
    /// the current version, the newest remaining version becomes current.
    DeleteVersion {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// The version id.
        version_id: String,
    },
    /// Start a multipart upload.
    CreateUpload(UploadRow),
    /// Store a part (replacing a part with the same number, whose blob becomes garbage).
    PutPart {
        /// Bucket of the upload, checked against the upload row.
        bucket: String,
        /// The part.
        row: PartRow,
    },
    /// Finish an upload: the object row is put, the upload and its parts
    /// removed; parts not named in `used` become garbage.
    CompleteUpload {
        /// The upload id.
        upload_id: String,
        /// The object to put; its `blobs` are the used parts' blobs.
        row: ObjectRow,
        /// (part number, blob) pairs read before the commit; each must still be current.
        used: Vec<(u32, String)>,
        /// Checked against the current object inside the transaction.
        condition: Option<Condition>,
    },
    /// Abort an upload: it and its parts go, the parts' blobs become garbage.
    AbortUpload {
        /// Bucket of the upload.
        bucket: String,
        /// The upload id.
        upload_id: String,
    },
    /// Forget garbage blobs whose files have been removed.
    ForgetGarbage(Vec<String>),
    /// Deletes an object only if it is still the one that was read (same
    /// ETag and modification time); otherwise does nothing. Lifecycle
    /// expiry uses it so that an object overwritten meanwhile survives.
    ExpireObject {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
        /// The ETag that was read.
        etag: String,
        /// The modification time that was read.
        mtime_ms: i64,
        /// In a versioned bucket, the delete marker that replaces it.
        marker: Option<ObjectRow>,
        /// Events (target ARN, payload) to queue if, and only if, the
        /// object is expired: a changed object is neither expired nor reported.
        events: Vec<(String, Vec<u8>)>,
    },
    /// Queues an event notification for delivery, in the same transaction
    /// as the change it reports (so none is lost and none invented).
    QueueEvent {
        /// The target's ARN.
        target: String,
        /// The event JSON.
        payload: Vec<u8>,
    },
    /// Forgets a delivered event.
    DeleteEvent {
        /// Its sequence number.
        seq: i64,
    },
    /// Sets or removes the bucket's hard quota in bytes.
    SetBucketQuota {
        /// Bucket name.
        bucket: String,
        /// The quota; `None` removes it.
        quota: Option<u64>,
    },
    /// Sets one server configuration entry (IAM users, policies, ...), replacing any.
    PutConfig {
        /// Namespaced key, e.g. `iam/users/alice`.
        key: String,
        /// Opaque value owned by the feature that wrote it.
        value: Vec<u8>,
    },
    /// Removes one configuration entry; removing a missing one is not an error.
    DeleteConfig {
        /// The key.
        key: String,
    },
    /// Not stored: an event for live listeners (ListenBucketNotification),
    /// carried with the ops of the change it reports so that the engine
    /// announces it only once that change has committed. Stores ignore it.
    Notice {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The event name, e.g. `s3:ObjectCreated:Put`.
        event: String,
        /// The event record, `{"Records": [...]}`.
        payload: Vec<u8>,
    },
}

/// A server process sharing the metadata store (several with PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Unique among the nodes: `--node-id`, or host name and port.
    pub id: String,
    /// The address its S3 API answers on, as it announced it.
    pub endpoint: String,
    /// Its version.
    pub version: String,
    /// Comma-separated roles it holds now, e.g. `background` for the node
    /// that runs lifecycle, scrubbing, garbage collection and event delivery.
    pub roles: String,
    /// When it started, milliseconds since the Unix epoch (database clock).
    pub started_ms: i64,
    /// When it last reported itself alive (database clock).
    pub seen_ms: i64,
    /// What the database clock read when this list was made, so that the
    /// age of `seen_ms` does not depend on the reader's clock.
    pub now_ms: i64,
}
