//! Streaming object bytes back out of blobs, for whole objects and ranges.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::Stream;

use crate::BlobStore;
use crate::store::join_err;

/// Bytes read per disk read.
const READ_CHUNK: usize = 512 * 1024;

/// A stream of object bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// One piece of an object: a blob and its length. A single-part object has
/// one segment; a multipart object one per part.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Blob id.
    pub blob: String,
    /// Length in bytes.
    pub size: u64,
}

struct ReadState {
    store: BlobStore,
    segments: std::vec::IntoIter<Segment>,
    /// Bytes still to skip before the range starts.
    skip: u64,
    /// Bytes still to send.
    remaining: u64,
    file: Option<std::fs::File>,
}

/// Streams bytes `[start, start + len)` of the concatenation of `segments`.
/// Files are opened as the stream reaches them; a missing one fails the
/// stream with `NotFound` instead of sending wrong bytes.
#[must_use]
pub fn read_segments(
    store: &BlobStore,
    segments: Vec<Segment>,
    start: u64,
    len: u64,
) -> ByteStream {
    let state = ReadState {
        store: store.clone(),
        segments: segments.into_iter(),
        skip: start,
        remaining: len,
        file: None,
    };
    Box::pin(futures::stream::try_unfold(state, |mut st| async move {
        if st.remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(st.remaining.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
        let (st, chunk) =
            tokio::task::spawn_blocking(move || -> std::io::Result<(ReadState, Bytes)> {
                loop {
                    if st.file.is_none() {
                        let Some(seg) = st.segments.next() else {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "object shorter than its metadata says",
                            ));
                        };
                        if st.skip >= seg.size {
                            st.skip -= seg.size;
                            continue;
                        }
                        let mut f = std::fs::File::open(st.store.path(&seg.blob)).map_err(|e| {
                            if e.kind() == std::io::ErrorKind::NotFound {
                                std::io::Error::new(
                                    e.kind(),
                                    format!("blob {} is missing", seg.blob),
                                )
                            } else {
                                e
                            }
                        })?;
                        if st.skip > 0 {
                            f.seek(SeekFrom::Start(st.skip))?;
                            st.skip = 0;
                        }
                        st.file = Some(f);
                    }
                    let f = st
                        .file
                        .as_mut()
                        .ok_or_else(|| std::io::Error::other("no file"))?;
                    let mut buf = BytesMut::zeroed(want);
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        st.file = None;
                        continue;
                    }
                    buf.truncate(n);
                    st.remaining -= n as u64;
                    return Ok((st, buf.freeze()));
                }
            })
            .await
            .map_err(|e| std::io::Error::other(join_err(e)))??;
        Ok(Some((chunk, st)))
    }))
}

struct SealedState {
    store: BlobStore,
    key: crate::crypt::ObjectKey,
    segments: std::vec::IntoIter<Segment>,
    /// Plaintext bytes still to skip before the range starts.
    skip: u64,
    /// Plaintext bytes still to send.
    remaining: u64,
    /// The segment being read: its file, nonce prefix and plaintext size,
    /// and the next package to open.
    current: Option<(std::fs::File, [u8; crate::crypt::HEADER], u64, u64)>,
}

/// Like [`read_segments`] for blobs sealed with `key` (see [`crate::crypt`]):
/// opens only the packages the range touches, one at a time, and fails the
/// stream (never sends the bytes) when a package fails authentication.
#[must_use]
pub fn read_sealed_segments(
    store: &BlobStore,
    key: crate::crypt::ObjectKey,
    segments: Vec<Segment>,
    start: u64,
    len: u64,
) -> ByteStream {
    use crate::crypt::{HEADER, PACKAGE, TAG, open_package, packages};
    let state = SealedState {
        store: store.clone(),
        key,
        segments: segments.into_iter(),
        skip: start,
        remaining: len,
        current: None,
    };
    Box::pin(futures::stream::try_unfold(state, |st| async move {
        if st.remaining == 0 {
            return Ok(None);
        }
        let (st, chunk) =
            tokio::task::spawn_blocking(move || -> std::io::Result<(SealedState, Bytes)> {
                let mut st = st;
                loop {
                    if st.current.is_none() {
                        let Some(seg) = st.segments.next() else {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "object shorter than its metadata says",
                            ));
                        };
                        if st.skip >= seg.size && seg.size > 0 {
                            st.skip -= seg.size;
                            continue;
                        }
                        if seg.size == 0 {
                            continue;
                        }
                        let mut f = std::fs::File::open(st.store.path(&seg.blob)).map_err(|e| {
                            if e.kind() == std::io::ErrorKind::NotFound {
                                std::io::Error::new(
                                    e.kind(),
                                    format!("blob {} is missing", seg.blob),
                                )
                            } else {
                                e
                            }
                        })?;
                        let mut prefix = [0u8; HEADER];
                        f.read_exact(&mut prefix)?;
                        let first = st.skip / PACKAGE as u64;
                        st.skip -= first * PACKAGE as u64;
                        st.current = Some((f, prefix, seg.size, first));
                    }
                    let (f, prefix, seg_size, index) = st
                        .current
                        .as_mut()
                        .ok_or_else(|| std::io::Error::other("no segment"))?;
                    let total = packages(*seg_size);
                    if *index >= total {
                        st.current = None;
                        continue;
                    }
                    let plain_in_pkg = (*seg_size - *index * PACKAGE as u64).min(PACKAGE as u64);
                    f.seek(SeekFrom::Start(
                        HEADER as u64 + *index * (PACKAGE + TAG) as u64,
                    ))?;
                    let mut buf = vec![0u8; usize::try_from(plain_in_pkg).unwrap_or(PACKAGE) + TAG];
                    f.read_exact(&mut buf)?;
                    open_package(&st.key, prefix, *index, total, &mut buf)?;
                    *index += 1;
                    let from = usize::try_from(st.skip).unwrap_or(0).min(buf.len());
                    st.skip = 0;
                    let to = (from as u64 + st.remaining).min(buf.len() as u64) as usize;
                    let out = Bytes::copy_from_slice(&buf[from..to]);
                    st.remaining -= out.len() as u64;
                    if *index >= total {
                        st.current = None;
                    }
                    if out.is_empty() {
                        continue;
                    }
                    return Ok((st, out));
                }
            })
            .await
            .map_err(|e| std::io::Error::other(join_err(e)))??;
        Ok(Some((chunk, st)))
    }))
}
