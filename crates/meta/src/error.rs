//! Errors of the metadata store. Each variant is a fact the engine turns
//! into an S3 error; storage failures keep their source.

/// What can go wrong reading or committing metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The bucket named by an op does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// The write would take the bucket over its quota.
    #[error("bucket quota exceeded")]
    QuotaExceeded,
    /// CreateBucket on a name already taken.
    #[error("bucket already exists")]
    BucketExists,
    /// DeleteBucket on a bucket that still holds objects or uploads.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// The multipart upload named by an op does not exist (any more).
    #[error("no such upload")]
    NoSuchUpload,
    /// A part named in CompleteMultipartUpload changed or vanished meanwhile.
    #[error("part {0} changed or missing")]
    InvalidPart(u32),
    /// A conditional write's precondition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A conditional write raced with another write to the same key.
    #[error("conditional request conflict")]
    ConditionalConflict,
    /// The object named by an op does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// Stored bytes that do not decode: never served as valid.
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// The disk under the store is full; the transaction was rolled back
    /// and the store takes writes again once space is freed.
    #[error("no space left for metadata")]
    Full,
    /// The storage engine failed.
    #[error("metadata store: {0}")]
    Storage(rusqlite::Error),
    /// The writer thread is gone (shutdown or a fatal error).
    #[error("metadata writer stopped")]
    WriterGone,
    /// The PostgreSQL server failed, refused or could not be reached; a
    /// commit that fails this way may or may not have happened.
    #[error("metadata database: {}", crate::postgres::describe_pg(.0))]
    Database(#[source] tokio_postgres::Error),
    /// Another node changed a row between a check and the write that relied
    /// on it; the store runs the transaction again, so callers only see
    /// this if that keeps happening.
    #[error("concurrent change, try again")]
    Raced,
    /// No connection to the metadata database could be had in time.
    #[error("metadata database unavailable: {0}")]
    Unavailable(String),
}

impl MetaError {
    /// Whether a failed commit may nevertheless have taken effect (or may
    /// take effect later): the caller must then keep what the ops name
    /// (blobs) instead of cleaning it up.
    #[must_use]
    pub fn is_uncertain(&self) -> bool {
        matches!(
            self,
            Self::Storage(_) | Self::WriterGone | Self::Database(_) | Self::Unavailable(_)
        )
    }
}

impl From<rusqlite::Error> for MetaError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            Self::Full
        } else {
            Self::Storage(e)
        }
    }
}
