//! Request bodies cut from one shared, pre-filled buffer: every request of a
//! run sends slices (reference-counted views) of the same bytes, so the
//! client allocates nothing per request and a 5 GiB upload needs no more
//! memory than a 4 KiB one.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The largest slice handed to the connection at once.
pub const CHUNK: usize = 1 << 20;

/// A shared buffer of incompressible bytes (xorshift), `CHUNK` long or the
/// object size if smaller.
pub fn pattern(size: u64) -> Bytes {
    let len = usize::try_from(size.min(CHUNK as u64))
        .unwrap_or(CHUNK)
        .max(1);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = Vec::with_capacity(len + 8);
    while buf.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        buf.extend_from_slice(&state.to_le_bytes());
    }
    buf.truncate(len);
    Bytes::from(buf)
}

/// `len` bytes made of the shared buffer repeated.
pub struct RepeatBody {
    chunk: Bytes,
    remaining: u64,
}

impl RepeatBody {
    /// A body of `len` bytes cut from `chunk` (cheap: clones a reference).
    pub fn new(chunk: &Bytes, len: u64) -> Self {
        Self {
            chunk: chunk.clone(),
            remaining: len,
        }
    }
}

impl http_body::Body for RepeatBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = usize::try_from(self.remaining.min(self.chunk.len() as u64)).unwrap_or(CHUNK);
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
