//! Conversions between s3s DTOs and engine values, and the digest checks
//! every upload path shares (Content-MD5 and x-amz-checksum-*, in headers or
//! aws-chunked trailers).

use almacen_engine::{Algorithm, ChecksumSet, Checksums, ContentHeaders, Digests};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::dto::{ETag, Metadata, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, TrailingHeaders};

use crate::error::s3_err;

/// Milliseconds since the epoch as an s3s timestamp.
#[must_use]
pub fn ts(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// An s3s timestamp as milliseconds since the epoch.
#[must_use]
pub fn ms(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Formats a timestamp as an HTTP date (for storing `Expires`).
#[must_use]
pub fn http_date(t: &Timestamp) -> String {
    let mut buf = Vec::new();
    let _ = t.format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Parses a stored HTTP date back.
#[must_use]
pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

/// A strong ETag from its unquoted value.
#[must_use]
pub fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

/// Content headers and user metadata from request fields.
#[must_use]
pub fn content_headers(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
    metadata: Option<Metadata>,
) -> ContentHeaders {
    ContentHeaders {
        // S3 stores binary/octet-stream when the client names no type.
        content_type: content_type.or_else(|| Some("binary/octet-stream".to_owned())),
        // aws-chunked is a transfer detail, never part of the stored encoding.
        content_encoding: content_encoding.and_then(|e| {
            let kept: Vec<&str> = e
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            (!kept.is_empty()).then(|| kept.join(", "))
        }),
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(http_date),
        user: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
    }
}

/// The user metadata as an s3s map, `None` when empty.
#[must_use]
pub fn metadata_out(h: &ContentHeaders) -> Option<Metadata> {
    (!h.user.is_empty()).then(|| h.user.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Which checksums an upload asks for and what the client claims they are.
#[derive(Debug, Default)]
pub struct Expected {
    /// Algorithms to compute (beyond MD5 and CRC64NVME, always computed).
    pub set: ChecksumSet,
    /// Values sent in headers.
    pub values: Checksums,
    /// Algorithm whose value arrives in an aws-chunked trailer.
    pub trailer: Option<Algorithm>,
    /// The algorithm the client chose (stored and echoed back).
    pub primary: Option<Algorithm>,
    /// Content-MD5, decoded.
    pub md5: Option<Vec<u8>>,
}

/// Reads the checksum algorithm name of `x-amz-sdk-checksum-algorithm` / `ChecksumAlgorithm`.
///
/// # Errors
/// An unknown algorithm: InvalidRequest.
pub fn algorithm(name: Option<&str>) -> Result<Option<Algorithm>, S3Error> {
    match name {
        None | Some("") => Ok(None),
        Some(n) => Algorithm::parse(n).map(Some).ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidRequest,
                format!("Checksum algorithm {n} is not supported"),
            )
        }),
    }
}

impl Expected {
    /// Collects what a request expects from its headers and checksum fields.
    ///
    /// # Errors
    /// A malformed Content-MD5 (InvalidDigest), an unknown algorithm or a
    /// malformed checksum value (InvalidRequest).
    pub fn from_request(
        headers: &HeaderMap,
        algorithm_field: Option<&str>,
        values: [Option<&String>; 5],
        content_md5: Option<&str>,
    ) -> Result<Self, S3Error> {
        let mut me = Self {
            primary: algorithm(algorithm_field)?,
            ..Self::default()
        };
        let sdk = headers
            .get("x-amz-sdk-checksum-algorithm")
            .and_then(|v| v.to_str().ok());
        if me.primary.is_none() {
            me.primary = algorithm(sdk)?;
        }
        for (a, v) in Algorithm::ALL.into_iter().zip(values) {
            if let Some(v) = v {
                let raw = B64
                    .decode(v)
                    .ok()
                    .filter(|r| r.len() == a.digest(b"").len());
                if raw.is_none() {
                    return Err(s3_err(
                        S3ErrorCode::BadDigest,
                        format!("Value for {} header is invalid.", a.header()),
                    ));
                }
                me.values.set(a, Some(v.clone()));
                me.set.insert(a);
                me.primary.get_or_insert(a);
            }
        }
        if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            let t = t.trim().to_ascii_lowercase();
            let a = t
                .strip_prefix("x-amz-checksum-")
                .and_then(Algorithm::parse)
                .ok_or_else(|| {
                    s3_err(
                        S3ErrorCode::InvalidRequest,
                        format!("The trailer {t} is not supported"),
                    )
                })?;
            me.trailer = Some(a);
            me.set.insert(a);
            me.primary.get_or_insert(a);
        }
        if let Some(a) = me.primary {
            me.set.insert(a);
        }
        if let Some(m) = content_md5 {
            let raw = B64
                .decode(m.trim())
                .ok()
                .filter(|r| r.len() == 16)
                .ok_or_else(|| {
                    s3_err(
                        S3ErrorCode::InvalidDigest,
                        "The Content-MD5 you specified was invalid.",
                    )
                })?;
            me.md5 = Some(raw);
        }
        Ok(me)
    }

    /// Checks the staged digests against every value the client sent,
    /// including trailer values that arrived after the body.
    ///
    /// # Errors
    /// BadDigest naming the algorithm that did not match.
    pub fn verify(
        &self,
        digests: &Digests,
        trailers: Option<&TrailingHeaders>,
    ) -> Result<(), S3Error> {
        if let Some(md5) = &self.md5
            && md5.as_slice() != digests.md5
        {
            return Err(s3_err(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        let mut claimed = self.values.clone();
        if let Some(t) = trailers.and_then(TrailingHeaders::take) {
            for a in Algorithm::ALL {
                if let Some(v) = t.get(a.header()).and_then(|v| v.to_str().ok()) {
                    claimed.set(a, Some(v.trim().to_owned()));
                }
            }
        }
        // A declared trailer that never came means the body was cut short
        // before its end: not an object.
        if let Some(a) = self.trailer
            && claimed.get(a).is_none()
        {
            return Err(s3_err(
                S3ErrorCode::IncompleteBody,
                format!("The request body ended before its {} trailer.", a.header()),
            ));
        }
        for (a, v) in claimed.iter() {
            if digests.checksums.get(a) != Some(v) {
                return Err(s3_err(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        a.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Sets the five checksum fields of an output struct from `Checksums`,
/// limited to `only` when given.
macro_rules! set_checksums {
    ($out:expr, $sums:expr, $only:expr) => {{
        let sums: &almacen_engine::Checksums = $sums;
        let only: Option<almacen_engine::Algorithm> = $only;
        let pick = |a: almacen_engine::Algorithm| {
            if only.is_none() || only == Some(a) {
                sums.get(a).map(str::to_owned)
            } else {
                None
            }
        };
        $out.checksum_crc32 = pick(almacen_engine::Algorithm::Crc32);
        $out.checksum_crc32c = pick(almacen_engine::Algorithm::Crc32c);
        $out.checksum_crc64nvme = pick(almacen_engine::Algorithm::Crc64Nvme);
        $out.checksum_sha1 = pick(almacen_engine::Algorithm::Sha1);
        $out.checksum_sha256 = pick(almacen_engine::Algorithm::Sha256);
    }};
}
pub(crate) use set_checksums;

/// Percent-encodes for `encoding-type=url` listings: everything but
/// unreserved characters and `/`.
#[must_use]
pub fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}
