//! Rules on how a request is signed that s3s leaves to us, checked in the
//! front before s3s verifies the signature, on the decoded query (the
//! parameters s3s reads, see [`crate::query`]):
//! * a presigned V4 URL lives at most 7 days (`X-Amz-Expires`), as on AWS;
//! * a V4 signature's credential scope names this server's region (AWS
//!   answers `AuthorizationHeaderMalformed` otherwise, with the region in
//!   the error so that SDKs re-sign for it; GetBucketLocation is exempt, as
//!   on AWS, since clients ask it before they know the region).
//!   `ALMACEN_ACCEPT_ANY_REGION=on` keeps MinIO's rule for a server with no
//!   region set: any region is accepted;
//! * Signature V2, which has no expiry of its own in headers, must carry a
//!   `Date` (or `x-amz-date`) within 15 minutes of the server's clock, and
//!   a presigned V2 URL's `Expires` may be at most 7 days ahead (the V4
//!   rules, which AWS also applies to V2); operators who want V2 gone set
//!   `ALMACEN_SIGV2=off`.

use s3s::{S3Error, S3ErrorCode};

use crate::query::Query;

/// Longest validity of a presigned URL: 7 days, as AWS.
pub const MAX_PRESIGNED_SECS: i64 = 604_800;
/// Largest difference between a V2 request's date and the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// The server's signature settings.
#[derive(Debug, Clone)]
pub struct SignatureRules {
    /// The region credential scopes must name; `None` accepts any.
    pub region: Option<String>,
    /// Whether Signature V2 is accepted at all.
    pub sigv2: bool,
}

impl Default for SignatureRules {
    fn default() -> Self {
        Self {
            region: Some("us-east-1".to_owned()),
            sigv2: true,
        }
    }
}

fn err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}

/// The region of a V4 credential (`AK/DATE/REGION/SERVICE/aws4_request`).
/// The access key may itself hold slashes, so count from the end.
fn credential_region(credential: &str) -> Option<&str> {
    let mut parts = credential.rsplitn(5, '/');
    let _terminator = parts.next()?;
    let _service = parts.next()?;
    let region = parts.next()?;
    let _date = parts.next()?;
    parts.next()?;
    Some(region)
}

impl SignatureRules {
    /// The error for a signature scoped to `region` when that is not this
    /// server's (GetBucketLocation may name any).
    fn region_error(&self, region: &str, query: &Query, presigned: bool) -> Option<S3Error> {
        let expected = self.region.as_deref()?;
        if region == expected || query.has("location") {
            return None;
        }
        Some(if presigned {
            err(
                S3ErrorCode::AuthorizationQueryParametersError,
                format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{expected}'"
                ),
            )
        } else {
            err(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{expected}'"
                ),
            )
        })
    }

    /// The error to answer instead of serving the request, if its signature
    /// breaks a rule; `now` is the server's clock (Unix seconds).
    #[must_use]
    pub fn violation(&self, headers: &http::HeaderMap, query: &Query, now: i64) -> Option<S3Error> {
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // Presigned V4, as s3s recognizes it.
        if query.has("X-Amz-Signature") {
            if let Some(v) = query.get("X-Amz-Expires") {
                match v.parse::<i64>() {
                    Ok(n) if (0..=MAX_PRESIGNED_SECS).contains(&n) => {}
                    Ok(n) if n < 0 => {
                        return Some(err(
                            S3ErrorCode::AccessDenied,
                            "X-Amz-Expires must be non-negative",
                        ));
                    }
                    _ => {
                        return Some(err(
                            S3ErrorCode::AccessDenied,
                            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                        ));
                    }
                }
            }
            return query
                .get("X-Amz-Credential")
                .and_then(credential_region)
                .and_then(|region| self.region_error(region, query, true));
        }
        // Presigned V2.
        if query.has("Signature") {
            if !self.sigv2 {
                return Some(v2_disabled());
            }
            return match query.get("Expires").map(str::parse::<i64>) {
                Some(Ok(t)) if t - now > MAX_PRESIGNED_SECS => Some(err(
                    S3ErrorCode::AccessDenied,
                    "Expires must be less than a week (in seconds) in the future",
                )),
                _ => None,
            };
        }
        let authorization = authorization?;
        if let Some(rest) = authorization.strip_prefix("AWS4-HMAC-SHA256") {
            let region = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("Credential="))
                .and_then(credential_region);
            return region.and_then(|region| self.region_error(region, query, false));
        }
        if authorization.starts_with("AWS ") {
            if !self.sigv2 {
                return Some(v2_disabled());
            }
            // s3s signs V2 over `Date` when present, else `x-amz-date`;
            // either must be near the server's clock.
            let date = ["date", "x-amz-date"].iter().find_map(|h| {
                headers
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
            });
            let Some(date) = date else {
                return Some(err(
                    S3ErrorCode::AccessDenied,
                    "AWS authentication requires a valid Date or x-amz-date header",
                ));
            };
            let t = date
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            if (t - now).abs() > MAX_CLOCK_SKEW_SECS {
                return Some(err(
                    S3ErrorCode::RequestTimeTooSkewed,
                    "The difference between the request time and the server's time is too large.",
                ));
            }
        }
        None
    }
}

fn v2_disabled() -> S3Error {
    err(
        S3ErrorCode::AccessDenied,
        "Signature Version 2 is disabled on this server (ALMACEN_SIGV2=off); sign with Signature Version 4",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn a_percent_encoded_expires_name_is_still_capped() {
        let rules = SignatureRules::default();
        let q = Query::parse("X-Amz-Signature=ab&X-Amz-%45xpires=4294967295");
        let e = rules.violation(&headers(&[]), &q, NOW).unwrap();
        assert_eq!(*e.code(), S3ErrorCode::AccessDenied);
        let q = Query::parse("X-Amz-Signature=ab&X-Amz-Expires=604800");
        assert!(rules.violation(&headers(&[]), &q, NOW).is_none());
    }

    #[test]
    fn the_credential_scope_names_the_servers_region() {
        let rules = SignatureRules::default();
        let auth = "AWS4-HMAC-SHA256 Credential=AK/20261203/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        let e = rules
            .violation(&headers(&[("authorization", auth)]), &Query::default(), NOW)
            .unwrap();
        assert_eq!(*e.code(), S3ErrorCode::AuthorizationHeaderMalformed);
        let ok = auth.replace("eu-west-1", "us-east-1");
        assert!(
            rules
                .violation(&headers(&[("authorization", &ok)]), &Query::default(), NOW)
                .is_none()
        );
        assert_eq!(
            credential_region("a/b/20261203/r1/s3/aws4_request"),
            Some("r1")
        );
        // GetBucketLocation may be signed for any region; so may everything
        // when the operator accepts any.
        assert!(
            rules
                .violation(
                    &headers(&[("authorization", auth)]),
                    &Query::parse("location"),
                    NOW
                )
                .is_none()
        );
        let any = SignatureRules {
            region: None,
            ..SignatureRules::default()
        };
        assert!(
            any.violation(&headers(&[("authorization", auth)]), &Query::default(), NOW)
                .is_none()
        );
    }

    #[test]
    fn v2_needs_a_recent_date_and_a_bounded_expiry() {
        let rules = SignatureRules::default();
        let old = headers(&[
            ("authorization", "AWS AK:c2ln"),
            ("date", "Mon, 01 Jan 2001 00:00:00 GMT"),
        ]);
        let e = rules.violation(&old, &Query::default(), NOW).unwrap();
        assert_eq!(*e.code(), S3ErrorCode::RequestTimeTooSkewed);
        let far = Query::parse("AWSAccessKeyId=AK&Signature=x&Expires=4102444800");
        assert!(rules.violation(&headers(&[]), &far, NOW).is_some());
        let near = Query::parse(&format!(
            "AWSAccessKeyId=AK&Signature=x&Expires={}",
            NOW + 60
        ));
        assert!(rules.violation(&headers(&[]), &near, NOW).is_none());
        let off = SignatureRules {
            sigv2: false,
            ..SignatureRules::default()
        };
        assert!(off.violation(&headers(&[]), &near, NOW).is_some());
    }
}
