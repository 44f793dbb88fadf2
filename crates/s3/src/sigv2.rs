//! Signature V2 (header and presigned query), verified here in constant
//! time before s3s verifies it again.
//!
//! s3s 0.14.1 compares V2 signatures with `==`, which returns as soon as a
//! byte differs: a timing oracle for forging, one byte at a time. So the
//! front computes the same string to sign (AWS's RESTAuthentication
//! rules, built exactly as s3s builds it, so anything s3s accepts passes
//! here) and compares in constant time; only requests whose signature is
//! right reach s3s, whose comparison then learns nothing an attacker does
//! not already know. POST forms are verified in [`crate::post_form`].

use std::borrow::Cow;

use s3s::{S3Error, S3ErrorCode};
use subtle::ConstantTimeEq as _;

use crate::query::Query;

/// Subresources that are part of the signed resource (s3s's list, in order).
const INCLUDED_QUERY: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The headers as s3s orders them: UTF-8 values only, stable-sorted by name.
struct Headers<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Headers<'a> {
    fn of(map: &'a http::HeaderMap) -> Self {
        let mut v: Vec<(&str, &str)> = map
            .iter()
            .filter_map(|(k, v)| {
                std::str::from_utf8(v.as_bytes())
                    .ok()
                    .map(|v| (k.as_str(), v))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        Self(v)
    }

    /// The value of a header sent exactly once.
    fn unique(&self, name: &str) -> Option<&'a str> {
        let mut it = self.0.iter().filter(|(k, _)| *k == name);
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    }
}

/// The value of a query parameter sent exactly once.
fn unique<'a>(query: &'a Query, name: &'a str) -> Option<&'a str> {
    let mut it = query.all(name);
    match (it.next(), it.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// How a V2 request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Header,
    Presigned,
}

/// The string a V2 signature signs.
fn string_to_sign(
    mode: Mode,
    method: &http::Method,
    path: &str,
    query: &Query,
    headers: &Headers<'_>,
    virtual_host_bucket: Option<&str>,
) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(method.as_str());
    s.push('\n');
    s.push_str(headers.unique("content-md5").unwrap_or_default());
    s.push('\n');
    s.push_str(headers.unique("content-type").unwrap_or_default());
    s.push('\n');
    match mode {
        Mode::Header => {
            if headers.unique("x-amz-date").is_none() {
                s.push_str(headers.unique("date").unwrap_or_default());
            }
        }
        Mode::Presigned => s.push_str(unique(query, "Expires").unwrap_or_default()),
    }
    s.push('\n');
    let mut last = "";
    for (name, _) in &headers.0 {
        if !name.starts_with("x-amz-") || *name == last {
            continue;
        }
        last = name;
        s.push_str(name);
        s.push(':');
        let values: Vec<&str> = headers
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect();
        s.push_str(&values.join(","));
        s.push('\n');
    }
    if let Some(bucket) = virtual_host_bucket {
        s.push('/');
        s.push_str(bucket);
    }
    s.push_str(path);
    let mut first = true;
    for q in INCLUDED_QUERY {
        if let Some(v) = unique(query, q) {
            s.push(if first { '?' } else { '&' });
            first = false;
            s.push_str(q);
            if !v.is_empty() {
                s.push('=');
                s.push_str(v);
            }
        }
    }
    s
}

fn signature(secret: &str, string_to_sign: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut m =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    m.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Verifies a V2-signed request the way s3s will, in constant time:
/// `None` when it is not V2 (s3s's own test: a `Signature` query
/// parameter, else an `AWS AK:SIG` Authorization header) or its signature
/// is right, else the error to answer. `secret_of` looks up an access
/// key's secret; `path` is the request path as s3s will see it.
pub fn violation(
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
    query: &Query,
    virtual_host_bucket: Option<&str>,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Option<S3Error> {
    // Most requests are V4: leave before ordering the headers.
    let v2_header = headers
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(b"AWS "));
    if !v2_header && !query.has("Signature") {
        return None;
    }
    let ordered = Headers::of(headers);
    let (mode, access_key, given): (Mode, &str, Cow<'_, str>) = if query.has("Signature") {
        // s3s decodes the presigned signature once more after the query.
        let (Some(ak), Some(sig), Some(_)) = (
            unique(query, "AWSAccessKeyId"),
            unique(query, "Signature"),
            unique(query, "Expires"),
        ) else {
            return None; // s3s refuses it as malformed
        };
        let Ok(sig) = percent_encoding::percent_decode_str(sig).decode_utf8() else {
            return None;
        };
        (Mode::Presigned, ak, sig)
    } else {
        let auth = ordered.unique("authorization")?;
        let (ak, sig) = auth.strip_prefix("AWS ")?.split_once(':')?;
        (Mode::Header, ak, Cow::Borrowed(sig))
    };
    let Some(secret) = secret_of(access_key) else {
        return Some(S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    };
    let sts = string_to_sign(mode, method, path, query, &ordered, virtual_host_bucket);
    let expected = signature(&secret, &sts);
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        None
    } else {
        Some(S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn secret(ak: &str) -> Option<String> {
        (ak == AK).then(|| SK.to_owned())
    }

    #[test]
    fn aws_documented_examples() {
        // RESTAuthentication.html: Object GET, virtual-hosted.
        let mut h = http::HeaderMap::new();
        h.insert("date", "Tue, 27 Mar 2007 19:36:42 +0000".parse().unwrap());
        let sts = string_to_sign(
            Mode::Header,
            &http::Method::GET,
            "/photos/puppy.jpg",
            &Query::default(),
            &Headers::of(&h),
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(signature(SK, &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
        h.insert(
            "authorization",
            "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
                .parse()
                .unwrap(),
        );
        let check = |h: &http::HeaderMap| {
            violation(
                &http::Method::GET,
                "/photos/puppy.jpg",
                h,
                &Query::default(),
                Some("awsexamplebucket1"),
                secret,
            )
        };
        assert!(check(&h).is_none());
        h.insert(
            "authorization",
            "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1X="
                .parse()
                .unwrap(),
        );
        assert_eq!(
            *check(&h).unwrap().code(),
            S3ErrorCode::SignatureDoesNotMatch
        );
        h.insert("authorization", "AWS NOBODY:x".parse().unwrap());
        assert_eq!(*check(&h).unwrap().code(), S3ErrorCode::InvalidAccessKeyId);
    }

    #[test]
    fn amz_headers_and_subresources() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-date",
            "Tue, 27 Mar 2007 21:20:26 +0000".parse().unwrap(),
        );
        h.insert("date", "ignored".parse().unwrap());
        h.append("x-amz-meta-b", " two ".parse().unwrap());
        h.append("x-amz-meta-b", "three".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let q = Query::parse("acl&prefix=x&versionId=v1");
        let sts = string_to_sign(
            Mode::Header,
            &http::Method::PUT,
            "/b/k",
            &q,
            &Headers::of(&h),
            None,
        );
        assert_eq!(
            sts,
            "PUT\n\ntext/plain\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\nx-amz-meta-b:two,three\n/b/k?acl&versionId=v1"
        );
    }

    #[test]
    fn presigned_uses_expires_and_not_v2_is_left_alone() {
        let q = Query::parse("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620");
        let sts = string_to_sign(
            Mode::Presigned,
            &http::Method::GET,
            "/awsexamplebucket1/photos/puppy.jpg",
            &q,
            &Headers::of(&http::HeaderMap::new()),
            None,
        );
        let sig = signature(SK, &sts);
        let enc = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
        let q = Query::parse(&format!(
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature={enc}"
        ));
        let path = "/awsexamplebucket1/photos/puppy.jpg";
        let none = http::HeaderMap::new();
        assert!(violation(&http::Method::GET, path, &none, &q, None, secret).is_none());
        let bad =
            Query::parse("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139621&Signature=AAAA");
        assert!(violation(&http::Method::GET, path, &none, &bad, None, secret).is_some());
        let mut v4 = http::HeaderMap::new();
        v4.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        assert!(
            violation(
                &http::Method::GET,
                path,
                &v4,
                &Query::default(),
                None,
                secret
            )
            .is_none()
        );
    }
}
