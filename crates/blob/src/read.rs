//! Streaming object bytes back out of blobs, for whole objects and ranges.

use std::io::{Read as _, Seek as _, SeekFrom};

use crate::integrity::{self, CHUNK, Corrupt, Layout, SUM};
use std::pin::Pin;

use bytes::Bytes;
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

/// The segment a plain read is in.
struct PlainCurrent {
    file: std::fs::File,
    blob: String,
    size: u64,
    layout: Layout,
    /// Offset in the segment of the next byte to send.
    pos: u64,
}

struct ReadState {
    store: BlobStore,
    segments: std::vec::IntoIter<Segment>,
    /// Bytes still to skip before the range starts.
    skip: u64,
    /// Bytes still to send.
    remaining: u64,
    current: Option<PlainCurrent>,
}

/// Opens a segment's file; a missing file is corruption, not "not found".
fn open_blob(store: &BlobStore, blob: &str) -> std::io::Result<std::fs::File> {
    std::fs::File::open(store.path(blob)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Corrupt::new(blob, "file is missing").into_io()
        } else {
            e
        }
    })
}

/// Streams bytes `[start, start + len)` of the concatenation of `segments`.
/// Files are opened as the stream reaches them. Every chunk read is checked
/// against its stored checksum before it is sent (see [`crate::integrity`]);
/// a mismatch, a missing file or a file of the wrong length ends the stream
/// with a [`Corrupt`] error instead of sending wrong bytes.
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
        current: None,
    };
    // Read-ahead of one chunk: the next disk read and checksum run on the
    // blocking pool while this chunk goes out on the socket. Each read is
    // its own short blocking task, so a slow client never holds a thread.
    // The first read starts at the first poll, as a plain stream would.
    Box::pin(futures::stream::try_unfold(
        PlainNext::Start(state),
        |next| async move {
            let pending = match next {
                PlainNext::Done => return Ok(None),
                PlainNext::Start(st) if st.remaining == 0 => return Ok(None),
                PlainNext::Start(st) => spawn_plain_step(st),
                PlainNext::Pending(p) => p,
            };
            let (st, chunk) = pending
                .await
                .map_err(|e| std::io::Error::other(join_err(e)))??;
            let next = if st.remaining > 0 {
                PlainNext::Pending(spawn_plain_step(st))
            } else {
                PlainNext::Done
            };
            Ok(Some((chunk, next)))
        },
    ))
}

/// Where a plain read stands between two chunks.
enum PlainNext {
    /// Not polled yet.
    Start(ReadState),
    /// The next chunk is being read.
    Pending(PlainStep),
    /// Everything was sent.
    Done,
}

type PlainStep = tokio::task::JoinHandle<std::io::Result<(ReadState, Bytes)>>;

fn spawn_plain_step(st: ReadState) -> PlainStep {
    tokio::task::spawn_blocking(move || plain_step(st))
}

/// Reads `len` bytes at `offset` into a fresh buffer without zeroing it
/// first (`read_to_end` fills spare capacity directly; zeroing 512 KiB per
/// piece was 8 % of a large GET's CPU). Fewer bytes than asked is
/// `UnexpectedEof`.
fn read_at(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    let want = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut buf = Vec::with_capacity(want);
    f.take(len).read_to_end(&mut buf)?;
    if buf.len() < want {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

/// Reads the next piece of a plain read (blocking).
fn plain_step(mut st: ReadState) -> std::io::Result<(ReadState, Bytes)> {
    use std::os::unix::fs::FileExt as _;
    loop {
        if st.current.is_none() {
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
            let file = open_blob(&st.store, &seg.blob)?;
            let layout = integrity::layout(&seg.blob, seg.size, file.metadata()?.len())
                .map_err(Corrupt::into_io)?;
            st.current = Some(PlainCurrent {
                file,
                blob: seg.blob,
                size: seg.size,
                layout,
                pos: st.skip,
            });
            st.skip = 0;
        }
        let cur = st
            .current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no segment"))?;
        let want_end = cur.size.min(cur.pos.saturating_add(st.remaining));
        let (from, to) = match cur.layout {
            // Whole chunks around the wanted bytes, at most READ_CHUNK.
            Layout::Framed => {
                let from = cur.pos / CHUNK as u64 * CHUNK as u64;
                let to = want_end
                    .div_ceil(CHUNK as u64)
                    .saturating_mul(CHUNK as u64)
                    .min(from + READ_CHUNK as u64)
                    .min(cur.size);
                (from, to)
            }
            Layout::Legacy => (cur.pos, want_end.min(cur.pos + READ_CHUNK as u64)),
        };
        let buf = read_at(&cur.file, from, to - from).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Corrupt::new(&cur.blob, "file shrank while being read").into_io()
            } else {
                e
            }
        })?;
        if cur.layout == Layout::Framed {
            let first = from / CHUNK as u64;
            let n = usize::try_from(integrity::chunks(to - from)).unwrap_or(0);
            let mut sums = vec![0u8; n * SUM];
            cur.file
                .read_exact_at(&mut sums, cur.size + first * SUM as u64)?;
            integrity::verify(&cur.blob, first, &buf, &sums).map_err(Corrupt::into_io)?;
        }
        let lo = usize::try_from(cur.pos - from).unwrap_or(0);
        let hi = usize::try_from(want_end.min(to) - from).unwrap_or(0);
        let out = Bytes::from(buf).slice(lo..hi);
        cur.pos = want_end.min(to);
        st.remaining -= out.len() as u64;
        if cur.pos >= cur.size {
            st.current = None;
        }
        if out.is_empty() {
            continue;
        }
        return Ok((st, out));
    }
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
    /// the next package to open, and the blob id (for corruption reports).
    current: Option<(std::fs::File, [u8; crate::crypt::HEADER], u64, u64, String)>,
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
                        let mut f = open_blob(&st.store, &seg.blob)?;
                        let file_len = f.metadata()?.len();
                        if file_len != crate::crypt::sealed_len(seg.size) {
                            return Err(Corrupt::new(
                                &seg.blob,
                                format!(
                                    "file is {file_len} bytes; {} expected for {} object bytes",
                                    crate::crypt::sealed_len(seg.size),
                                    seg.size
                                ),
                            )
                            .into_io());
                        }
                        let mut prefix = [0u8; HEADER];
                        f.read_exact(&mut prefix)?;
                        let first = st.skip / PACKAGE as u64;
                        st.skip -= first * PACKAGE as u64;
                        st.current = Some((f, prefix, seg.size, first, seg.blob));
                    }
                    let (f, prefix, seg_size, index, blob) = st
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
                    open_package(&st.key, prefix, *index, total, &mut buf).map_err(|_| {
                        Corrupt::new(blob, format!("package {index} failed authentication"))
                            .into_io()
                    })?;
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
