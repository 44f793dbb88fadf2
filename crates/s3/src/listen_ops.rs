//! ListenBucketNotification, MinIO's streaming extension (`mc event
//! listen`, `mc watch`, minio-js `listenBucketNotification`):
//! `GET /BUCKET?events=s3:ObjectCreated:*&prefix=..&suffix=..` (or `GET
//! /?events=...` for every bucket) answers with a stream of JSON lines,
//! one `{"Records":[...]}` per committed change, and a blank line every
//! `ping` seconds (default 10) so that proxies keep the connection open.
//! It needs `s3:ListenBucketNotification` (`s3:ListenNotification` for
//! every bucket); the engine announces changes only after they commit.

use std::time::Duration;

use almacen_engine::{Engine, LiveEvent};
use almacen_iam::{Context, Decision, Identity};
use bytes::Bytes;
use futures::Stream;
use http::{HeaderValue, Method, StatusCode, Uri};
use s3s::{Body, S3Response};
use tokio::sync::broadcast::error::RecvError;

/// Whether a request is a ListenBucketNotification call.
#[must_use]
pub fn is_listen(method: &Method, uri: &Uri) -> bool {
    method == Method::GET
        && uri.query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv == "events" || kv.starts_with("events="))
        })
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

/// Answers a listen call for `identity`: 403 unless allowed, else the stream.
pub fn respond(engine: &Engine, identity: &Identity, uri: &Uri) -> S3Response<Body> {
    let bucket = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    let mut filter = Filter {
        bucket: bucket.clone(),
        ..Filter::default()
    };
    let mut ping = Duration::from_secs(10);
    for kv in uri.query().unwrap_or("").split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned();
        match k {
            "events" if !v.is_empty() => filter.events.push(v),
            "prefix" => filter.prefix = v,
            "suffix" => filter.suffix = v,
            "ping" => {
                if let Ok(n) = v.parse::<u64>() {
                    ping = Duration::from_secs(n.clamp(1, 600));
                }
            }
            _ => {}
        }
    }
    let (action, resource) = match &bucket {
        Some(b) => ("s3:ListenBucketNotification", format!("arn:aws:s3:::{b}")),
        None => ("s3:ListenNotification", "arn:aws:s3:::*".to_owned()),
    };
    let allowed = identity.is_root()
        || identity.evaluate(action, &resource, &Context::new()) == Decision::Allow;
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
