//! Errors of the engine: one variant per S3-visible outcome. The S3 front
//! maps each to its AWS code and status in one function.

use almacen_blob::BlobError;
use almacen_meta::MetaError;

/// What an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The bucket does not exist.
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    /// CreateBucket on a bucket that exists (single-tenant: always ours).
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    /// DeleteBucket on a bucket with objects or uploads.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    /// A bucket name that breaks S3's naming rules.
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    /// The key does not exist.
    #[error("The specified key does not exist.")]
    NoSuchKey,
    /// The named version does not exist.
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// The current version (or the named one, `named`) is a delete marker.
    #[error("{}", if *named { "The specified method is not allowed against this resource." } else { "The specified key does not exist." })]
    DeleteMarker {
        /// The marker's version id.
        version_id: String,
        /// Whether the request named this version.
        named: bool,
    },
    /// Encryption was asked for but no master key is configured.
    #[error("Server side encryption specified but KMS is not configured")]
    KmsNotConfigured,
    /// An SSE-KMS key id that is not the configured key.
    #[error("The KMS key {0} does not exist; this server has one key")]
    KmsKeyNotFound(String),
    /// Object lock protects the version.
    #[error("{0}")]
    ObjectLocked(String),
    /// The bucket is not in a state that allows this (object lock, versioning).
    #[error("{0}")]
    InvalidBucketState(String),
    /// The write would take the bucket over its quota.
    #[error("Bucket quota exceeded: the upload would take the bucket over its quota")]
    QuotaExceeded,
    /// An upload is larger than the bucket's upload rule allows.
    #[error("{0}")]
    UploadTooLarge(String),
    /// An upload's type is not allowed by the bucket's upload rule, or its
    /// bytes are not of its declared type.
    #[error("{0}")]
    UploadRefused(String),
    /// A key longer than 1024 bytes.
    #[error("Your key is too long")]
    KeyTooLong,
    /// The upload does not exist (never did, completed or aborted).
    #[error("The specified multipart upload does not exist.")]
    NoSuchUpload,
    /// A part named in CompleteMultipartUpload is missing or its ETag differs.
    #[error("{0}")]
    InvalidPart(String),
    /// Parts in CompleteMultipartUpload not in ascending order.
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    /// A part other than the last is under 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// A body over the size limit.
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    /// A conditional request whose condition failed.
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// Two conditional writes raced on one key.
    #[error(
        "A conflicting conditional operation is currently in progress against this resource. Please try again."
    )]
    ConditionalConflict,
    /// A Range outside the object.
    #[error("The requested range is not satisfiable")]
    InvalidRange {
        /// The object size, for `Content-Range: bytes */size`.
        size: u64,
    },
    /// A digest sent by the client does not match the bytes.
    #[error("{0}")]
    BadDigest(String),
    /// User metadata over 2 KiB.
    #[error("Your metadata headers exceed the maximum allowed metadata size.")]
    MetadataTooLarge,
    /// The body ended early or failed.
    #[error("{0}")]
    IncompleteBody(String),
    /// A request body that is not the XML S3 expects.
    #[error("{0}")]
    MalformedXml(String),
    /// An argument S3 would reject as InvalidArgument.
    #[error("{0}")]
    InvalidArgument(String),
    /// A request S3 would reject as InvalidRequest.
    #[error("{0}")]
    InvalidRequest(String),
    /// The disk is full.
    #[error(
        "Storage backend has reached its minimum free drive threshold. Please delete a few objects to proceed."
    )]
    DiskFull,
    /// The object's stored bytes failed their integrity check (recorded,
    /// counted and logged); they are never sent as good.
    #[error(
        "The object's stored data failed its integrity check and cannot be served; the server has recorded it as corrupt."
    )]
    CorruptObject,
    /// The metadata database cannot be reached now (PostgreSQL down or its
    /// connection pool exhausted): clients should retry.
    #[error("The metadata database is unavailable; please try again.")]
    Unavailable(String),
    /// Anything else: a bug or a failing disk; details go to the log, not the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<MetaError> for EngineError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NoSuchBucket => Self::NoSuchBucket,
            MetaError::QuotaExceeded => Self::QuotaExceeded,
            MetaError::BucketExists => Self::BucketAlreadyOwnedByYou,
            MetaError::BucketNotEmpty => Self::BucketNotEmpty,
            MetaError::NoSuchUpload => Self::NoSuchUpload,
            MetaError::InvalidPart(n) => {
                Self::InvalidPart(format!("Part {n} changed while completing"))
            }
            MetaError::PreconditionFailed => Self::PreconditionFailed,
            MetaError::ConditionalConflict | MetaError::Raced => Self::ConditionalConflict,
            MetaError::NoSuchKey => Self::NoSuchKey,
            MetaError::Full => Self::DiskFull,
            MetaError::Unavailable(detail) => Self::Unavailable(detail),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<BlobError> for EngineError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Body(e) => {
                Self::IncompleteBody(format!("The request body ended early: {e}"))
            }
            BlobError::TooLarge { .. } => Self::EntityTooLarge,
            BlobError::DiskFull => Self::DiskFull,
            other => Self::Internal(other.to_string()),
        }
    }
}
