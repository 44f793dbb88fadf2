//! Forwards a browser's call under `/api/s3/…` to the S3 port as a request
//! signed with the session's keys, streaming both bodies. The S3 API (and
//! the admin API under its prefix on the same port) decides what the user
//! may do, so the console grants nothing the user's keys do not.

use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use md5::Digest as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use almacen_sign::{Keys, Payload};

/// Bodies up to this size are read first and signed with their hash (the
/// admin API requires signed bodies, `DeleteObjects` a `Content-MD5`);
/// larger ones stream with `UNSIGNED-PAYLOAD`.
const SIGNED_BODY_MAX: u64 = 1 << 20;

/// What S3 leaves unencoded in a key segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Request headers passed on to S3; any other `x-amz-*` header passes too,
/// except those the signature sets.
const PASS: &[&str] = &[
    "content-type",
    "content-length",
    "content-md5",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// Headers the console computes itself.
const OWN: &[&str] = &[
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
];

/// Response headers not passed back (hop-by-hop, or the S3 port's CORS).
const DROP_BACK: &[&str] = &["connection", "keep-alive", "transfer-encoding", "upgrade"];

/// Re-encodes a browser's path (after `/api/s3`) the way SigV4 expects:
/// each segment decoded, then every byte but the unreserved ones escaped.
#[must_use]
pub fn canonical_path(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 1);
    for (i, seg) in raw.trim_start_matches('/').split('/').enumerate() {
        if i > 0 || raw.starts_with('/') || raw.is_empty() {
            out.push('/');
        }
        let bytes: Vec<u8> = percent_decode_str(seg).collect();
        out.extend(percent_encoding::percent_encode(&bytes, SEGMENT));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Re-encodes a query string strictly (`+` stays a plus sign, as S3 reads it).
#[must_use]
pub fn canonical_query(raw: &str) -> String {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let enc = |s: &str| {
                let d = percent_decode_str(s).decode_utf8_lossy().into_owned();
                utf8_percent_encode(&d, SEGMENT).to_string()
            };
            if pair.contains('=') {
                format!("{}={}", enc(k), enc(v))
            } else {
                enc(k)
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether the response's type is one PDF type: a single Content-Type
/// whose media type is `application/pdf`, parameters aside. A list
/// (`application/pdf,text/html`, read by Chromium as its last entry) or
/// anything else is not.
fn is_exactly_pdf(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(v) = v.to_str() else {
        return false;
    };
    !v.contains(',')
        && v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/pdf"))
}

/// The query without S3's `response-*` overrides, which would let a link
/// choose how the browser reads an object (`response-content-type=text/html`).
/// The one kept is the console's own download link: a
/// `response-content-disposition` that makes it an attachment.
fn without_response_overrides(raw: &str) -> String {
    raw.split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode_str(k)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            if !k.starts_with("response-") {
                return true;
            }
            let v = percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .trim()
                .to_ascii_lowercase();
            k == "response-content-disposition" && v.starts_with("attachment")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn passes(name: &HeaderName) -> bool {
    let n = name.as_str();
    PASS.contains(&n) || (n.starts_with("x-amz-") && !OWN.contains(&n))
}

/// Why a call could not be forwarded.
#[derive(Debug)]
pub struct ProxyError(pub StatusCode, pub String);

/// Sends the browser's `method path?query` with `headers` and `body` to
/// `endpoint` (`http://host:port` of the S3 port), signed with `keys`, and
/// returns S3's answer as it streams.
///
/// # Errors
/// The body cannot be read or the S3 port cannot be reached.
pub async fn forward(
    endpoint: &str,
    keys: &Keys,
    method: Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response<Body>, ProxyError> {
    let mut url = format!("{endpoint}{}", canonical_path(path));
    if let Some(q) = query
        .map(without_response_overrides)
        .map(|q| canonical_query(&q))
        .filter(|q| !q.is_empty())
    {
        url.push('?');
        url.push_str(&q);
    }
    let authority = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_owned()))
        .ok_or_else(|| ProxyError(StatusCode::BAD_REQUEST, "invalid path".into()))?;
    let mut builder = Request::builder().method(method.clone()).uri(&url);
    for (k, v) in headers {
        if passes(k) {
            builder = builder.header(k, v);
        }
    }
    builder = builder.header(http::header::HOST, &authority);
    let declared: Option<u64> = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bad = |e: anyhow::Error| ProxyError(StatusCode::BAD_GATEWAY, format!("{e:#}"));
    let resp = if declared.is_some_and(|n| n > SIGNED_BODY_MAX) {
        let mut req = builder
            .body(())
            .map_err(|e| ProxyError(StatusCode::BAD_REQUEST, e.to_string()))?;
        almacen_sign::sign(&mut req, keys, Payload::Unsigned).map_err(bad)?;
        almacen_sign::send(req.map(|()| body)).await.map_err(bad)?
    } else {
        let bytes =
            axum::body::to_bytes(body, usize::try_from(SIGNED_BODY_MAX).unwrap_or(usize::MAX))
                .await
                .map_err(|_| {
                    ProxyError(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "a body without Content-Length may be at most 1 MiB".into(),
                    )
                })?;
        let mut req = builder
            .body(())
            .map_err(|e| ProxyError(StatusCode::BAD_REQUEST, e.to_string()))?;
        let h = req.headers_mut();
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        if !bytes.is_empty() && !h.contains_key("content-md5") {
            use base64::Engine as _;
            let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&bytes));
            if let Ok(v) = HeaderValue::from_str(&md5) {
                h.insert("content-md5", v);
            }
        }
        almacen_sign::sign(&mut req, keys, Payload::Bytes(&bytes)).map_err(bad)?;
        almacen_sign::send(req.map(|()| Full::new(bytes)))
            .await
            .map_err(bad)?
    };
    let (parts, incoming) = resp.into_parts();
    let mut out = Response::builder().status(parts.status);
    for (k, v) in &parts.headers {
        let n = k.as_str();
        if !DROP_BACK.contains(&n) && !n.starts_with("access-control-") {
            out = out.header(k, v);
        }
    }
    // Stored objects are the users' content: never let one run as a page
    // of the console's origin. Only a PDF goes without the sandbox (it
    // keeps its viewer, which runs no page script), and then under exactly
    // that type, so a browser cannot read another into it.
    if is_exactly_pdf(&parts.headers) {
        if let Some(h) = out.headers_mut() {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
        }
    } else {
        out = out.header("content-security-policy", "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'");
    }
    out = out.header("x-content-type-options", "nosniff");
    out.body(Body::new(incoming.map_err(axum::Error::new)))
        .map_err(|e| ProxyError(StatusCode::BAD_GATEWAY, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_reencoded_strictly() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/b"), "/b");
        assert_eq!(
            canonical_path("/b/a%20b/c(1)!.txt"),
            "/b/a%20b/c%281%29%21.txt"
        );
        assert_eq!(canonical_path("/b/dir/"), "/b/dir/");
        assert_eq!(canonical_path("/b/%C3%A9"), "/b/%C3%A9");
        assert_eq!(
            canonical_query("list-type=2&prefix=a%2Fb&delete"),
            "list-type=2&prefix=a%2Fb&delete"
        );
        assert_eq!(
            canonical_query("continuation-token=a+b%2B"),
            "continuation-token=a%2Bb%2B"
        );
    }

    #[test]
    fn only_a_single_pdf_type_is_a_pdf() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(v).unwrap(),
            );
            h
        };
        assert!(is_exactly_pdf(&with("application/pdf")));
        assert!(is_exactly_pdf(&with("Application/PDF; x=1")));
        assert!(!is_exactly_pdf(&with("application/pdf,text/html")));
        assert!(!is_exactly_pdf(&with("application/pdfx")));
        assert!(!is_exactly_pdf(&with("text/html")));
        let mut two = with("application/pdf");
        two.append(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html"),
        );
        assert!(!is_exactly_pdf(&two));
    }

    #[test]
    fn response_overrides_are_dropped_but_attachment_downloads() {
        assert_eq!(
            without_response_overrides("response-content-type=text%2Fhtml&versionId=1"),
            "versionId=1"
        );
        assert_eq!(
            without_response_overrides("response-%63ontent-type=text%2Fhtml"),
            ""
        );
        assert_eq!(
            without_response_overrides("response-content-disposition=inline"),
            ""
        );
        assert_eq!(
            without_response_overrides(
                "response-content-disposition=attachment%3B%20filename%3D%22a%22"
            ),
            "response-content-disposition=attachment%3B%20filename%3D%22a%22"
        );
    }

    #[test]
    fn signing_headers_from_the_browser_are_not_passed() {
        assert!(passes(&HeaderName::from_static("x-amz-meta-a")));
        assert!(passes(&HeaderName::from_static("range")));
        assert!(!passes(&HeaderName::from_static("x-amz-content-sha256")));
        assert!(!passes(&HeaderName::from_static("authorization")));
        assert!(!passes(&HeaderName::from_static("cookie")));
    }
}
