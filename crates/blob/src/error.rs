//! Errors of the blob store.

/// What can go wrong staging, publishing or reading object bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The request body failed before its end (client went away, bad chunk signature, ...).
    #[error("request body: {0}")]
    Body(std::io::Error),
    /// The body is larger than the caller allowed.
    #[error("body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The disk is full.
    #[error("no space left on device")]
    DiskFull,
    /// A blob named by metadata is missing on disk.
    #[error("blob {0} is missing")]
    Missing(String),
    /// Any other I/O failure of the data folder.
    #[error("data folder I/O: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(28) {
            Self::DiskFull
        } else {
            Self::Io(e)
        }
    }
}
