//! ListenBucketNotification, MinIO's streaming extension (`mc event
//! listen`, `mc watch`, minio-js `listenBucketNotification`):
//! `GET /BUCKET?events=s3:ObjectCreated:*&prefix=..&suffix=..` (or `GET
//! /?events=...` for every bucket) answers with a stream of JSON lines,
//! one `{"Records":[...]}` per committed change, and a blank line every
//! `ping` seconds (default 10) so that proxies keep the connection open.
//! It needs `s3:ListenBucketNotification`, decided by [`crate::Authz`] as
//! every S3 operation is (bucket policy and its Denies included, with the
//! request's condition keys), or `s3:ListenNotification` from the
//! caller's own policies for every bucket; the engine announces changes
//! only after they commit.

use std::time::Duration;

use almacen_engine::{Engine, LiveEvent};
use bytes::Bytes;
use futures::Stream;
use http::{HeaderValue, Method, StatusCode, Uri};
use s3s::{Body, S3Response};
use tokio::sync::broadcast::error::RecvError;

/// Whether a request is a ListenBucketNotification call.
#[must_use]
pub fn is_listen(method: &Method, uri: &Uri) -> bool {
    method == Method::GET && crate::query::Query::of(uri).has("events")
}

/// What a listener asked for.
#[derive(Debug, Default)]
struct Filter {
    bucket: Option<String>,
    events: Vec<String>,
    prefix: String,
    suffix: String,
}

impl Filter {
    fn accepts(&self, e: &LiveEvent) -> bool {
        self.bucket.as_ref().is_none_or(|b| *b == e.bucket)
            && e.key.starts_with(&self.prefix)
            && e.key.ends_with(&self.suffix)
            && (self.events.is_empty()
                || self.events.iter().any(|p| match p.strip_suffix('*') {
                    Some(head) => e.event.starts_with(head),
                    None => *p == e.event,
                }))
    }
}

/// Answers a listen call by `caller`: 403 unless allowed, else the stream.
pub async fn respond(
    engine: &Engine,
    authz: &crate::Authz,
    caller: &crate::Caller,
    query: &crate::query::Query,
    uri: &Uri,
) -> S3Response<Body> {
    let bucket = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|b| !b.is_empty())
        .map(|b| {
            percent_encoding::percent_decode_str(b)
                .decode_utf8_lossy()
                .into_owned()
        });
    let mut filter = Filter {
        bucket: bucket.clone(),
        ..Filter::default()
    };
    filter.events = query
        .all("events")
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    filter.prefix = query.get("prefix").unwrap_or_default().to_owned();
    filter.suffix = query.get("suffix").unwrap_or_default().to_owned();
    let ping = query
        .get("ping")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::from_secs(10), |n| {
            Duration::from_secs(n.clamp(1, 600))
        });
    let allowed = match &bucket {
        Some(b) => authz
            .check(caller, "s3:ListenBucketNotification", b, None)
            .await
            .is_ok(),
        None => caller.identity_allows("s3:ListenNotification", "arn:aws:s3:::*"),
    };
    if !allowed {
        return xml_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.");
    }
    let stream = sync_wrapper::SyncStream::new(Box::pin(lines(engine, filter, ping)));
    let mut resp = S3Response::new(Body::from(s3s::dto::StreamingBlob::wrap(stream)));
    resp.status = Some(StatusCode::OK);
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn lines(
    engine: &Engine,
    filter: Filter,
    ping: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let rx = engine.listen();
    futures::stream::unfold((rx, filter), move |(mut rx, filter)| async move {
        loop {
            let next = tokio::time::timeout(ping, rx.recv()).await;
            let line = match next {
                Err(_) => Bytes::from_static(b"\n"),
                Ok(Ok(e)) if filter.accepts(&e) => {
                    let mut v = e.payload.to_vec();
                    v.push(b'\n');
                    Bytes::from(v)
                }
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(n))) => {
                    tracing::warn!(missed = n, "a notification listener fell behind");
                    continue;
                }
                Ok(Err(RecvError::Closed)) => return None,
            };
            return Some((Ok(line), (rx, filter)));
        }
    })
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> S3Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = S3Response::new(Body::from(body));
    resp.status = Some(status);
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}
