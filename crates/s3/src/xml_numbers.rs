//! Whole numbers in XML request bodies.
//!
//! s3s reads integer elements with `atoi`, which stops at the first
//! character that is not a digit: `<Days>1.5</Days>` would mean one day and
//! `<PartNumber>2x</PartNumber>` part 2. S3 refuses such bodies as
//! MalformedXML, so the front checks the integer elements of the bodies
//! that carry them (lifecycle, CORS, object lock, retention, multipart
//! completion) before s3s parses them.

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use hyper::{Method, Request};
use s3s::{Body, S3Error, S3ErrorCode};

/// Elements whose content S3 defines as a whole number.
const INTEGER_ELEMENTS: &[&str] = &[
    "Days",
    "NoncurrentDays",
    "NewerNoncurrentVersions",
    "DaysAfterInitiation",
    "Years",
    "PartNumber",
    "MaxAgeSeconds",
    "ObjectSizeGreaterThan",
    "ObjectSizeLessThan",
];

/// Subresources whose request bodies hold such elements.
const SUBRESOURCES: &[&str] = &["lifecycle", "cors", "object-lock", "retention", "uploadId"];

/// Bodies longer than this are left to s3s's own size limits.
const MAX_CHECKED: usize = 4 << 20;

fn wants_check<B>(req: &Request<B>) -> bool {
    if !matches!(*req.method(), Method::PUT | Method::POST) {
        return false;
    }
    // The names as s3s decodes them (`?lifecycl%65` is `lifecycle`).
    let query = crate::query::Query::of(req.uri());
    let named = SUBRESOURCES.iter().any(|s| query.has(s));
    // Part uploads (PUT ?uploadId&partNumber) carry object bytes, not XML.
    let part_upload = *req.method() == Method::PUT && query.has("partNumber");
    let streaming = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
    let small = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= MAX_CHECKED);
    named && !part_upload && !streaming && small
}

/// The first integer element of `xml` whose content is not a whole number.
fn first_bad_integer(xml: &[u8]) -> Option<&'static str> {
    for name in INTEGER_ELEMENTS {
        let open = format!("<{name}>");
        let mut rest = xml;
        while let Some(at) = find(rest, open.as_bytes()) {
            rest = &rest[at + open.len()..];
            let end = rest.iter().position(|b| *b == b'<').unwrap_or(rest.len());
            let text = rest[..end].trim_ascii();
            let digits = text.strip_prefix(b"-").unwrap_or(text);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Some(name);
            }
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Checks the request's XML body when it is one that holds integers; the
/// request comes back with the same bytes, and the error to answer instead
/// when an integer is not one.
pub async fn check(req: Request<Body>) -> (Request<Body>, Option<S3Error>) {
    if !wants_check(&req) {
        return (req, None);
    }
    let (parts, mut body) = req.into_parts();
    let mut buf = BytesMut::new();
    let mut failed = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => buf.extend_from_slice(&c),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        if buf.len() > MAX_CHECKED {
            break;
        }
    }
    let bytes: Bytes = buf.freeze();
    let bad = if failed.is_none() {
        first_bad_integer(&bytes).map(|name| {
            S3Error::with_message(
                S3ErrorCode::MalformedXML,
                format!("The XML you provided was not well-formed or did not validate against our published schema: <{name}> must be a whole number"),
            )
        })
    } else {
        None
    };
    let first = futures::stream::iter([Ok::<_, s3s::StdError>(bytes)]);
    let rest = first
        .chain(futures::stream::iter(failed.map(Err)))
        .chain(body);
    let frames = rest.map(|r| r.map(http_body::Frame::data));
    let req = Request::from_parts(
        parts,
        Body::http_body_unsync(http_body_util::StreamBody::new(frames)),
    );
    (req, bad)
}

#[cfg(test)]
mod tests {
    use super::first_bad_integer;

    #[test]
    fn only_whole_numbers_pass() {
        assert_eq!(first_bad_integer(b"<Days>30</Days>"), None);
        assert_eq!(
            first_bad_integer(b"<Days> 30 </Days><Years>-1</Years>"),
            None
        );
        assert_eq!(first_bad_integer(b"<Days>1.5</Days>"), Some("Days"));
        assert_eq!(
            first_bad_integer(b"<PartNumber>2x</PartNumber>"),
            Some("PartNumber")
        );
        assert_eq!(
            first_bad_integer(b"<MaxAgeSeconds></MaxAgeSeconds>"),
            Some("MaxAgeSeconds")
        );
        assert_eq!(first_bad_integer(b"<Prefix>1.5</Prefix>"), None);
    }
}
