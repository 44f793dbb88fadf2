//! Request headers and methods put right (or refused) before s3s parses
//! them, where S3 and HTTP say "ignore" and s3s would say 400, or where s3s
//! would let a value through that S3 refuses:
//!
//! - a `Range` that is not one well-formed byte range is ignored (the whole
//!   object is sent), as S3 does with invalid and multiple ranges (RFC 9110 §14.2);
//! - `If-Modified-Since`-style dates in any of HTTP's three formats are
//!   accepted, and invalid ones ignored (RFC 9110 §13.1.3);
//! - an unknown storage class is `InvalidStorageClass`;
//! - a method S3 does not have is `MethodNotAllowed` (405), not a 501.

use http::{HeaderValue, Method, Request};
use s3s::{Body, S3Error, S3ErrorCode};

/// Date headers that are conditions, and so are ignored when invalid.
const CONDITIONAL_DATES: [&str; 4] = [
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
];

/// The storage classes S3 knows; almacen stores every object the same way
/// and reports STANDARD, as MinIO does for the classes it does not tier.
const STORAGE_CLASSES: [&str; 11] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// Puts the request's headers right in place; an error when the request
/// must be refused before s3s sees it.
pub fn sanitize(req: &mut Request<Body>) -> Option<S3Error> {
    if !matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::PUT | Method::POST | Method::DELETE | Method::OPTIONS
    ) {
        return Some(S3Error::with_message(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        ));
    }
    let signed = signed_headers(req);
    let headers = req.headers_mut();
    if let Some(v) = headers.get("x-amz-storage-class")
        && !STORAGE_CLASSES.contains(&v.to_str().unwrap_or(""))
    {
        return Some(S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        ));
    }
    // A header under the signature cannot change without breaking it: those
    // stay as sent (s3s answers 400 InvalidArgument). Browsers and players
    // on presigned or public URLs add Range and dates outside it.
    if !signed.iter().any(|h| h == "range")
        && headers
            .get(http::header::RANGE)
            .is_some_and(|v| !is_single_byte_range(v.as_bytes()))
    {
        headers.remove(http::header::RANGE);
    }
    for name in CONDITIONAL_DATES {
        if signed.iter().any(|h| h == name) {
            continue;
        }
        let Some(v) = headers.get(name) else { continue };
        match v
            .to_str()
            .ok()
            .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
        {
            // Rewritten in the one format s3s reads (IMF-fixdate).
            Some(t) => {
                if let Ok(fixed) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
                    headers.insert(name, fixed);
                }
            }
            None => {
                headers.remove(name);
            }
        }
    }
    None
}

/// The lower-case names of the headers the request's SigV4 signature covers
/// (Authorization header or presigned query); empty when unsigned.
fn signed_headers(req: &Request<Body>) -> Vec<String> {
    let from_header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("SignedHeaders="))
        .map(|(_, rest)| rest.split([',', ' ']).next().unwrap_or("").to_owned());
    let from_query = || {
        crate::query::Query::of(req.uri())
            .get("X-Amz-SignedHeaders")
            .map(str::to_owned)
    };
    from_header
        .or_else(from_query)
        .map(|list| list.split(';').map(str::to_ascii_lowercase).collect())
        .unwrap_or_default()
}

/// `bytes=FIRST-[LAST]` with FIRST <= LAST, or `bytes=-SUFFIX`, in numbers
/// that fit 64 bits: the only ranges S3 serves.
fn is_single_byte_range(v: &[u8]) -> bool {
    let Some(spec) = v.strip_prefix(b"bytes=") else {
        return false;
    };
    let Ok(spec) = std::str::from_utf8(spec) else {
        return false;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return false;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), last.is_empty()) {
        (true, false) => num(last).is_some(),
        (false, true) => num(first).is_some(),
        (false, false) => matches!((num(first), num(last)), (Some(a), Some(b)) if a <= b),
        (true, true) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().method(method).uri("/b/k");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).expect("request")
    }

    #[test]
    fn ranges() {
        for ok in ["bytes=0-0", "bytes=5-", "bytes=-5", "bytes=10-20"] {
            assert!(is_single_byte_range(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "bytes=5-1",
            "bytes=0-1,3-4",
            "bits=0-1",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=99999999999999999999999-",
            "bytes=--1",
            " bytes=0-1",
        ] {
            assert!(!is_single_byte_range(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn invalid_ranges_and_dates_are_dropped_valid_dates_normalized() {
        let mut r = req(
            "GET",
            &[
                ("range", "bytes=0-1,3-4"),
                ("if-modified-since", "garbage"),
                ("if-unmodified-since", "Sunday, 06-Nov-94 08:49:37 GMT"),
            ],
        );
        assert!(sanitize(&mut r).is_none());
        assert!(r.headers().get("range").is_none());
        assert!(r.headers().get("if-modified-since").is_none());
        assert_eq!(
            r.headers()["if-unmodified-since"],
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn signed_headers_are_left_as_sent() {
        let mut r = req(
            "GET",
            &[
                ("range", "bytes=5-1"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=a/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=00",
                ),
            ],
        );
        assert!(sanitize(&mut r).is_none());
        assert_eq!(r.headers()["range"], "bytes=5-1");
    }

    #[test]
    fn unknown_methods_and_storage_classes_are_refused() {
        let e = sanitize(&mut req("PROPFIND", &[])).expect("refused");
        assert_eq!(*e.code(), S3ErrorCode::MethodNotAllowed);
        let e = sanitize(&mut req("PUT", &[("x-amz-storage-class", "FANCY")])).expect("refused");
        assert_eq!(*e.code(), S3ErrorCode::InvalidStorageClass);
        assert!(sanitize(&mut req("PUT", &[("x-amz-storage-class", "STANDARD_IA")])).is_none());
    }
}
