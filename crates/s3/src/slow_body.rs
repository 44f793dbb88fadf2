//! A floor under the speed of request bodies. A client that trickles an
//! upload (one byte a second, or nothing at all after the headers) would
//! otherwise hold a connection, a task and a staging file forever; it is
//! cut off with `RequestTimeout`, as S3 does.
//!
//! Only the time the server spends *waiting on the client* counts: when the
//! server is slow to read (a busy disk), the client is not blamed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The message of the error a too-slow body ends with; `upload_err` maps it
/// to `RequestTimeout`.
pub const TOO_SLOW: &str = "RequestTimeout: the client sent the request body too slowly";

/// How slow is too slow: fewer than `min_bytes` in `window` of waiting.
#[derive(Clone, Copy, Debug)]
pub struct BodyRate {
    /// Waiting time over which the rate is judged.
    pub window: Duration,
    /// Bytes the client must deliver per window.
    pub min_bytes: u64,
}

impl Default for BodyRate {
    /// 30 s windows at 1 KiB/s: far below any phone network, far above an attack.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_bytes: 30 * 1024,
        }
    }
}

/// The error a too-slow body ends with.
#[derive(Debug)]
pub struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(TOO_SLOW)
    }
}

impl std::error::Error for TooSlow {}

/// Wraps a request body and ends it with [`TooSlow`] when the client falls
/// under the [`BodyRate`].
pub struct MinRateBody<B> {
    inner: B,
    rate: BodyRate,
    /// Bytes received in the current window.
    got: u64,
    /// Waiting time accumulated in the current window.
    waited: Duration,
    /// When the current wait began (the last poll returned Pending).
    pending_since: Option<Instant>,
    timer: Pin<Box<tokio::time::Sleep>>,
    failed: bool,
}

impl<B> MinRateBody<B> {
    /// Guards `inner` with `rate`.
    pub fn new(inner: B, rate: BodyRate) -> Self {
        Self {
            inner,
            rate,
            got: 0,
            waited: Duration::ZERO,
            pending_since: None,
            timer: Box::pin(tokio::time::sleep(rate.window)),
            failed: false,
        }
    }

    /// Closes the wait that just ended and judges the window when it is full.
    /// Returns false when the client was too slow.
    fn account(&mut self, now: Instant) -> bool {
        if let Some(since) = self.pending_since.take() {
            self.waited += now.saturating_duration_since(since);
        }
        if self.waited >= self.rate.window {
            if self.got < self.rate.min_bytes {
                return false;
            }
            self.got = 0;
            self.waited = Duration::ZERO;
        }
        true
    }
}

impl<B> Body for MinRateBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.got += data.len() as u64;
                }
                let _ = this.account(Instant::now());
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let now = Instant::now();
                if !this.account(now) {
                    this.failed = true;
                    return Poll::Ready(Some(Err(Box::new(TooSlow))));
                }
                this.pending_since = Some(now);
                // Wake up when this wait would fill the window.
                let left = this.rate.window.saturating_sub(this.waited);
                this.timer.as_mut().reset(now + left);
                if this.timer.as_mut().poll(cx).is_ready() {
                    // Already due (a zero window): judge at once.
                    if !this.account(Instant::now()) {
                        this.failed = true;
                        return Poll::Ready(Some(Err(Box::new(TooSlow))));
                    }
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    /// A body that yields one byte every `every`, `n` times.
    fn trickle(
        n: usize,
        every: Duration,
    ) -> impl Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let stream = futures::stream::unfold(0usize, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((
                Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"x"))),
                i + 1,
            ))
        });
        http_body_util::StreamBody::new(Box::pin(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_off_after_one_window() {
        let rate = BodyRate {
            window: Duration::from_secs(30),
            min_bytes: 1024,
        };
        let mut body = MinRateBody::new(trickle(1000, Duration::from_secs(1)), rate);
        let mut got = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("a trickle must not complete"),
            }
        };
        assert_eq!(err.to_string(), TOO_SLOW);
        assert!((29..=31).contains(&got), "cut after {got} bytes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_client_is_not_cut_off() {
        let rate = BodyRate {
            window: Duration::from_secs(2),
            min_bytes: 5,
        };
        // 10 bytes a second for 10 s: above the floor of 2.5 bytes a second.
        let body = MinRateBody::new(trickle(100, Duration::from_millis(100)), rate);
        let all = body.collect().await.expect("complete").to_bytes();
        assert_eq!(all.len(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_server_spends_elsewhere_is_not_blamed() {
        let rate = BodyRate {
            window: Duration::from_secs(1),
            min_bytes: 1,
        };
        let mut body = MinRateBody::new(trickle(3, Duration::from_millis(10)), rate);
        for _ in 0..3 {
            // The server takes a long time between reads (a slow disk).
            tokio::time::sleep(Duration::from_secs(60)).await;
            assert!(body.frame().await.expect("frame").is_ok());
        }
        assert!(body.frame().await.is_none());
    }
}
