//! Object bytes of almacen.
//!
//! An upload is *staged* first: its bytes stream from the request into
//! memory (small objects, which then live inline in the metadata row) or
//! into a temporary file, while every digest the request asks for is
//! computed in the same pass over each buffer. Only when the body ended
//! cleanly and every digest matched does the engine *publish* the file
//! (fsync, rename into `blobs/`, fsync the directory) and commit the
//! metadata that names it. A crash before that leaves only a temporary file,
//! removed on the next start.
#![forbid(unsafe_code)]

mod checksum;
pub mod crypt;
mod error;
pub mod integrity;
mod read;
mod store;

pub use checksum::{Algorithm, ChecksumSet, Checksums, Digests, Hasher};
pub use error::BlobError;
pub use integrity::Corrupt;
pub use read::{ByteStream, Segment, read_sealed_segments, read_segments};
pub use store::{BlobStore, DiskStats, HEAD_LEN, Staged, StagedData};
