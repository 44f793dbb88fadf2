//! CORS for browsers: preflight `OPTIONS` requests answered from the
//! bucket's rules, and `Access-Control-*` headers on actual requests that
//! carry an `Origin`. s3s has no CORS handling, so the front calls this
//! before and after s3s.
//!
//! A bucket's own rules (PutBucketCors) decide for it; the first rule that
//! matches wins, as on S3. A bucket without rules falls back to the
//! server-wide default (`MINIO_API_CORS_ALLOW_ORIGIN`, `*` unless set, as
//! MinIO): those origins may use every method with any header.

use almacen_engine::{CorsRule, Engine};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use s3s::Body;

use crate::host::Domains;

/// Response headers a page may read by default: what S3 SDKs and upload
/// widgets look at (ETag for multipart, version ids, checksums, ranges).
const DEFAULT_EXPOSE: &[&str] = &[
    "ETag",
    "Content-Length",
    "Content-Type",
    "Content-Range",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Cache-Control",
    "Expires",
    "Last-Modified",
    "Accept-Ranges",
    "Date",
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-version-id",
    "x-amz-delete-marker",
    "x-amz-expiration",
    "x-amz-server-side-encryption",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
    "x-amz-mp-parts-count",
    "x-amz-tagging-count",
    "x-amz-bucket-region",
];

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The CORS settings of the front.
#[derive(Debug, Clone)]
pub struct Cors {
    domains: Option<Domains>,
    default_rule: Option<CorsRule>,
}

impl Cors {
    /// CORS with `default_origins` for buckets without rules (empty: none),
    /// reading virtual-host bucket names under `domains`.
    #[must_use]
    pub fn new(domains: &[String], default_origins: &[String]) -> Self {
        let default_rule = (!default_origins.is_empty()).then(|| CorsRule {
            id: None,
            allowed_origins: default_origins.to_vec(),
            allowed_methods: ["GET", "PUT", "HEAD", "POST", "DELETE"]
                .map(str::to_owned)
                .to_vec(),
            allowed_headers: vec!["*".to_owned()],
            expose_headers: DEFAULT_EXPOSE.iter().map(|h| (*h).to_owned()).collect(),
            max_age_seconds: None,
        });
        Self {
            domains: (!domains.is_empty()).then(|| Domains::new(domains)),
            default_rule,
        }
    }

    /// The bucket a virtual-host-style request names in its Host (as s3s
    /// reads it: lower-case), or `None` for path style.
    #[must_use]
    pub fn virtual_host_bucket<B>(&self, req: &Request<B>) -> Option<String> {
        let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
        self.domains
            .as_ref()?
            .bucket_of_host(host)
            .map(str::to_ascii_lowercase)
    }

    /// The bucket a request addresses, by virtual host or first path segment.
    #[must_use]
    pub fn bucket_of<B>(&self, req: &Request<B>) -> Option<String> {
        if let Some(domains) = &self.domains
            && let Some(host) = req.headers().get(http::header::HOST)
            && let Ok(host) = host.to_str()
            && let Some(bucket) = domains.bucket_of_host(host)
        {
            return Some(bucket.to_owned());
        }
        let first = req.uri().path().trim_start_matches('/').split('/').next()?;
        if first.is_empty() || first == "minio" {
            return None;
        }
        Some(
            percent_encoding::percent_decode_str(first)
                .decode_utf8_lossy()
                .into_owned(),
        )
    }

    /// The rules that apply to `bucket`: its own, else the default.
    async fn rules(&self, engine: &Engine, bucket: Option<&str>) -> Option<Vec<CorsRule>> {
        if let Some(b) = bucket
            && let Ok(config) = engine.bucket_config(b).await
            && let Some(rules) = config.cors
        {
            return Some(rules);
        }
        self.default_rule.clone().map(|r| vec![r])
    }

    /// Answers a preflight `OPTIONS` request.
    pub async fn preflight<B>(&self, engine: &Engine, req: &Request<B>) -> Response<Body> {
        let headers = req.headers();
        let origin = header(headers, "origin");
        let method = header(headers, "access-control-request-method");
        let (Some(origin), Some(method)) = (origin, method) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            );
        };
        let requested: Vec<String> = header(headers, "access-control-request-headers")
            .map(|h| {
                h.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let bucket = self.bucket_of(req);
        let Some(rules) = self.rules(engine, bucket.as_deref()).await else {
            return error(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: CORS is not enabled for this bucket.",
            );
        };
        let Some(rule) = rules.iter().find(|r| {
            origin_allowed(r, origin)
                && r.allowed_methods.iter().any(|m| m == method)
                && requested.iter().all(|h| {
                    r.allowed_headers
                        .iter()
                        .any(|p| wildcard(&p.to_ascii_lowercase(), h))
                })
        }) else {
            return error(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the \
                 evaluation of Origin, request method / Access-Control-Request-Method or \
                 Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            );
        };
        let mut resp = Response::new(Body::empty());
        let h = resp.headers_mut();
        allow_origin(h, rule, origin);
        set(
            h,
            "access-control-allow-methods",
            &rule.allowed_methods.join(", "),
        );
        if !requested.is_empty() {
            set(h, "access-control-allow-headers", &requested.join(", "));
        }
        if !rule.expose_headers.is_empty() {
            set(
                h,
                "access-control-expose-headers",
                &rule.expose_headers.join(", "),
            );
        }
        if let Some(age) = rule.max_age_seconds {
            set(h, "access-control-max-age", &age.to_string());
        }
        set(h, "vary", VARY);
        resp
    }

    /// Adds the `Access-Control-*` headers to the answer of an actual
    /// request from `origin`, when a rule allows it.
    pub async fn decorate(
        &self,
        engine: &Engine,
        bucket: Option<&str>,
        origin: &str,
        method: &Method,
        resp: &mut Response<Body>,
    ) {
        let h = resp.headers_mut();
        set(h, "vary", VARY);
        let Some(rules) = self.rules(engine, bucket).await else {
            return;
        };
        // HEAD is allowed by a rule that allows HEAD or GET (browsers send both ways).
        let allowed = |r: &CorsRule| {
            r.allowed_methods
                .iter()
                .any(|m| m == method.as_str() || (method == Method::HEAD && m == "GET"))
        };
        let Some(rule) = rules
            .iter()
            .find(|r| origin_allowed(r, origin) && allowed(r))
        else {
            return;
        };
        allow_origin(h, rule, origin);
        set(
            h,
            "access-control-allow-methods",
            &rule.allowed_methods.join(", "),
        );
        if !rule.expose_headers.is_empty() {
            set(
                h,
                "access-control-expose-headers",
                &rule.expose_headers.join(", "),
            );
        }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn origin_allowed(rule: &CorsRule, origin: &str) -> bool {
    rule.allowed_origins.iter().any(|p| wildcard(p, origin))
}

/// `*` for a rule open to every origin, else the caller's origin (with
/// credentials allowed), as S3 answers.
fn allow_origin(h: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    if rule.allowed_origins.iter().any(|o| o == "*") {
        set(h, "access-control-allow-origin", "*");
    } else {
        set(h, "access-control-allow-origin", origin);
        set(h, "access-control-allow-credentials", "true");
    }
}

/// Matches `text` against `pattern` with at most one `*` (S3 allows one).
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((pre, post)) => {
            text.len() >= pre.len() + post.len() && text.starts_with(pre) && text.ends_with(post)
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn one_wildcard() {
        assert!(wildcard("*", "http://a.example"));
        assert!(wildcard("http://*.example.com", "http://app.example.com"));
        assert!(!wildcard("http://*.example.com", "http://example.org"));
        assert!(!wildcard("http://*.example.com", "https://app.example.com"));
        assert!(wildcard("x-amz-*", "x-amz-date"));
        assert!(!wildcard("http://a", "http://ab"));
    }
}
