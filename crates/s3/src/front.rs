//! Where every HTTP request enters: request ids, health probes, and the
//! decoration S3 clients expect on errors (`Resource`, `RequestId`, a
//! `Message` for every code), around the s3s service.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use almacen_engine::Engine;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use s3s::service::S3Service;
use s3s::{Body, HttpError};

/// The object key a path-style or virtual-host request names, if any.
fn object_of<B>(req: &Request<B>, bucket: Option<&str>) -> Option<String> {
    let path = req.uri().path().trim_start_matches('/');
    let bucket = bucket?;
    let encoded_bucket =
        percent_encoding::utf8_percent_encode(bucket, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let rest = path
        .strip_prefix(bucket)
        .or_else(|| path.strip_prefix(encoded_bucket.as_str()))
        .map_or(path, |r| r.strip_prefix('/').unwrap_or(""));
    (!rest.is_empty()).then(|| {
        percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned()
    })
}

/// Largest error body we rewrite; larger ones pass through untouched.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest GetObjectAttributes body we rewrite (10,000 parts fit).
const MAX_ATTRIBUTES_BODY: u64 = 4 * 1024 * 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A new request id: 16 upper-case hex digits, unique within this process
/// and unlikely to repeat across restarts.
fn request_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:016X}", (t << 24) ^ n)
}

/// The HTTP service of the S3 port.
#[derive(Clone)]
pub struct Front {
    s3: S3Service,
    engine: Engine,
    cors: crate::cors::Cors,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    audit: Option<std::sync::Arc<crate::audit::AuditLog>>,
    tracer: Option<crate::trace::Tracer>,
    audit_webhooks: Vec<std::sync::Arc<crate::audit_webhook::AuditWebhook>>,
    peer: Option<std::net::SocketAddr>,
    body_rate: Option<crate::slow_body::BodyRate>,
    /// Whether connections are TLS (`aws:SecureTransport`).
    secure: bool,
    /// Verifies browser POST forms (see [`crate::post_form`]); without it
    /// POST uploads are refused.
    iam: Option<std::sync::Arc<almacen_iam::IamStore>>,
    signature_rules: crate::signature_rules::SignatureRules,
    throttle: crate::auth_throttle::AuthThrottle,
}

/// The S3 error code of an error response, noted while decorating it.
#[derive(Clone, Debug)]
struct ErrorCode(String);

impl Front {
    /// Wraps the s3s service; `engine` answers the readiness probe and
    /// holds the buckets' CORS rules.
    #[must_use]
    pub fn new(s3: S3Service, engine: Engine, cors: crate::cors::Cors) -> Self {
        Self {
            s3,
            engine,
            cors,
            metrics: None,
            audit: None,
            tracer: None,
            audit_webhooks: Vec::new(),
            peer: None,
            body_rate: None,
            secure: false,
            iam: None,
            signature_rules: crate::signature_rules::SignatureRules::default(),
            throttle: crate::auth_throttle::AuthThrottle::default(),
        }
    }

    /// Marks every connection as TLS (the server's port speaks only HTTPS).
    #[must_use]
    pub fn with_secure_transport(self, secure: bool) -> Self {
        Self { secure, ..self }
    }

    /// The identities browser POST forms are verified against.
    #[must_use]
    pub fn with_iam(self, iam: std::sync::Arc<almacen_iam::IamStore>) -> Self {
        Self {
            iam: Some(iam),
            ..self
        }
    }

    /// The region signatures must name and whether Signature V2 is accepted.
    #[must_use]
    pub fn with_signature_rules(self, rules: crate::signature_rules::SignatureRules) -> Self {
        Self {
            signature_rules: rules,
            ..self
        }
    }

    /// Cuts off request bodies that arrive slower than `rate`.
    #[must_use]
    pub fn with_body_rate(self, rate: crate::slow_body::BodyRate) -> Self {
        Self {
            body_rate: Some(rate),
            ..self
        }
    }

    /// Also sends each audit record to these webhooks.
    #[must_use]
    pub fn with_audit_webhooks(
        self,
        hooks: Vec<std::sync::Arc<crate::audit_webhook::AuditWebhook>>,
    ) -> Self {
        Self {
            audit_webhooks: hooks,
            ..self
        }
    }

    /// Publishes each finished request to `tracer` (`almacen admin trace`).
    #[must_use]
    pub fn with_tracer(self, tracer: crate::trace::Tracer) -> Self {
        Self {
            tracer: Some(tracer),
            ..self
        }
    }

    /// Writes one audit record per request to `audit`.
    #[must_use]
    pub fn with_audit(self, audit: std::sync::Arc<crate::audit::AuditLog>) -> Self {
        Self {
            audit: Some(audit),
            ..self
        }
    }

    /// Counts requests into `metrics` and serves them on the metrics paths.
    #[must_use]
    pub fn with_metrics(self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The service for one connection from `peer` (its address feeds
    /// `aws:SourceIp` in policies).
    #[must_use]
    pub fn for_peer(&self, peer: std::net::SocketAddr) -> Self {
        Self {
            peer: Some(peer),
            ..self.clone()
        }
    }

    /// Handles one request: metrics scrapes here, everything else counted
    /// into the metrics around [`Front::serve`].
    ///
    /// # Errors
    /// Only what s3s reports as a transport-level failure.
    pub async fn handle(&self, mut req: Request<Body>) -> Result<Response<Body>, HttpError> {
        if self.metrics.is_none()
            && self.audit.is_none()
            && self.tracer.is_none()
            && self.audit_webhooks.is_empty()
        {
            return self.serve(req).await;
        }
        let path = req.uri().path().to_owned();
        if let Some(metrics) = &self.metrics
            && crate::metrics::METRICS_PATHS.contains(&path.as_str())
            && (req.method() == Method::GET || req.method() == Method::HEAD)
        {
            return Ok(self.scrape(metrics, &req).await);
        }
        if path.starts_with("/minio/health/") {
            return self.serve(req).await;
        }
        let api_fallback = if path.starts_with(crate::admin::ADMIN_PREFIX) {
            "Admin"
        } else if req.method() == Method::OPTIONS {
            "PreflightCors"
        } else {
            // Refused before an operation was known (bad signature, unknown key, ...).
            "Unknown"
        };
        let slot = crate::metrics::ApiSlot::default();
        req.extensions_mut().insert(slot.clone());
        let content_length = |h: &http::HeaderMap| {
            h.get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let bytes_in = content_length(req.headers());
        let tracing_now = self
            .tracer
            .as_ref()
            .is_some_and(crate::trace::Tracer::active);
        let audit_head = (self.audit.is_some() || tracing_now || !self.audit_webhooks.is_empty())
            .then(|| {
                let bucket = self.cors.bucket_of(&req);
                let object = object_of(&req, bucket.as_deref());
                let version_id = crate::query::Query::of(req.uri())
                    .get("versionId")
                    .map(str::to_owned);
                let user_agent = req
                    .headers()
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (bucket, object, version_id, user_agent)
            });
        if let Some(m) = &self.metrics {
            m.start();
        }
        let arrived = time::OffsetDateTime::now_utc();
        let started = std::time::Instant::now();
        let result = self.serve(req).await;
        let elapsed = started.elapsed();
        let (status, bytes_out, error_code, rid) = match &result {
            Ok(r) => (
                r.status().as_u16(),
                content_length(r.headers()),
                r.extensions().get::<ErrorCode>().map(|c| c.0.clone()),
                r.headers()
                    .get("x-amz-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
            ),
            Err(_) => (500, 0, None, String::new()),
        };
        let api = slot.0.api.get().map_or(api_fallback, String::as_str);
        if let Some(m) = &self.metrics {
            m.observe(api, status, elapsed.as_secs_f64(), bytes_in, bytes_out);
        }
        tracing::debug!(
            request_id = %rid,
            api = %api,
            status,
            access_key = %slot.0.access_key.get().map_or("-", String::as_str),
            bytes_in,
            bytes_out,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        if let Some((bucket, object, version_id, user_agent)) = audit_head {
            let record = crate::audit::AuditRecord {
                time: arrived
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                request_id: rid,
                api: api.to_owned(),
                bucket,
                object,
                version_id,
                access_key: slot.0.access_key.get().cloned(),
                user: slot.0.user.get().cloned(),
                remote_host: self.peer.map(|p| p.ip().to_canonical().to_string()),
                user_agent,
                status_code: status,
                error_code,
                rx: bytes_in,
                tx: bytes_out,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
            };
            if let Some(audit) = &self.audit {
                audit.record(&record);
            }
            if let Some(tracer) = &self.tracer {
                tracer.publish(&record);
            }
            for hook in &self.audit_webhooks {
                hook.record(&record);
            }
        }
        result
    }

    /// Answers a metrics scrape (bearer token unless public).
    async fn scrape(
        &self,
        metrics: &crate::metrics::Metrics,
        req: &Request<Body>,
    ) -> Response<Body> {
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let context = crate::request_context(
            req.headers(),
            &crate::query::Query::of(req.uri()),
            crate::Connection {
                peer: self.peer,
                secure: self.secure,
            },
        );
        let mut resp = if metrics.authorized(auth, &context) {
            let mut r = Response::new(Body::from(metrics.render().await));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        } else {
            let mut r = Response::new(Body::from(Bytes::from_static(
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>A valid bearer token (almacen admin prometheus token) is needed to read metrics</Message></Error>",
            )));
            *r.status_mut() = StatusCode::FORBIDDEN;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        };
        resp.headers_mut()
            .insert(http::header::SERVER, HeaderValue::from_static("almacen"));
        resp
    }

    /// Serves one request (everything but metrics), slowed down first when
    /// its client has been failing signatures for its access key (see
    /// [`crate::auth_throttle`]).
    async fn serve(&self, mut req: Request<Body>) -> Result<Response<Body>, HttpError> {
        let query = crate::query::Query::of(req.uri());
        let claimed = self.peer.and_then(|p| {
            crate::auth_throttle::claimed_access_key(req.headers(), &query)
                .map(|ak| (p.ip().to_canonical(), ak))
        });
        let Some((ip, ak)) = claimed else {
            return self.serve_request(req, query).await;
        };
        self.throttle.wait(ip, &ak).await;
        let verified = crate::auth_throttle::SignatureVerified::default();
        req.extensions_mut().insert(verified.clone());
        let resp = self.serve_request(req, query).await?;
        // A wrong signature or unknown key: 403 before authorization ran
        // (expired links and the like name another code and do not count;
        // HEAD answers name none).
        let failed_signature = resp.status() == StatusCode::FORBIDDEN
            && !verified.get()
            && resp
                .extensions()
                .get::<ErrorCode>()
                .is_none_or(|c| crate::auth_throttle::is_auth_failure(&c.0));
        if failed_signature {
            self.throttle.record(ip, &ak, true);
        } else if verified.get() && resp.status() != StatusCode::FORBIDDEN {
            self.throttle.record(ip, &ak, false);
        }
        Ok(resp)
    }

    /// Serves one request (everything but metrics); `query` is its decoded query.
    async fn serve_request(
        &self,
        mut req: Request<Body>,
        query: crate::query::Query,
    ) -> Result<Response<Body>, HttpError> {
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(crate::PeerAddr(peer));
        }
        req.extensions_mut()
            .insert(crate::SecureTransport(self.secure));
        if self.cors.virtual_host_bucket(&req).is_none() {
            sigv2_bucket_path(&mut req, &query);
        }
        let signature_error = self
            .signature_rules
            .violation(
                req.headers(),
                &query,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            )
            .or_else(|| {
                let iam = self.iam.as_ref()?;
                crate::sigv2::violation(
                    req.method(),
                    req.uri().path(),
                    req.headers(),
                    &query,
                    self.cors.virtual_host_bucket(&req).as_deref(),
                    |ak| iam.identity(ak).ok().map(|id| id.secret().to_owned()),
                )
            });
        let (req, form_error) = match signature_error {
            Some(e) => (req, Some(e)),
            None => self.take_apart_form(req).await,
        };
        let (mut req, bad_numbers) = match form_error {
            Some(e) => (req, Some(e)),
            None => crate::xml_numbers::check(req).await,
        };
        let rid = request_id();
        let path = req.uri().path().to_owned();
        let is_head = req.method() == Method::HEAD;
        let is_attributes = req.method() == Method::GET && query.has("attributes");
        // A client that sent `Expect: 100-continue` and gets its final answer
        // without a `100 Continue` (empty body, or an early error) may
        // misread the next response on this connection (botocore does):
        // close it after this response.
        let expects_continue = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let empty_body = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        // Browsers: preflights are answered here; actual requests get the
        // Access-Control-* headers of the rule that allows them.
        let cors_origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(|o| {
                // The rule is matched on Access-Control-Request-Method when a
                // client sends it on an actual request, as S3 does.
                let method = req
                    .headers()
                    .get("access-control-request-method")
                    .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
                    .unwrap_or_else(|| req.method().clone());
                (o.to_owned(), method, self.cors.bucket_of(&req))
            });
        let is_options = req.method() == Method::OPTIONS;
        let mut resp = if is_options {
            self.cors.preflight(&self.engine, &req).await
        } else {
            match self.health(&req).await {
                Some(r) => r,
                None => match bad_numbers.or_else(|| crate::hygiene::sanitize(&mut req)) {
                    Some(e) => e
                        .to_http_response()
                        .map_err(|e| HttpError::new(Box::new(e)))?,
                    None => self.s3.call(req).await?,
                },
            }
        };
        if let Some((origin, method, bucket)) = cors_origin
            && !is_options
        {
            self.cors
                .decorate(&self.engine, bucket.as_deref(), &origin, &method, &mut resp)
                .await;
        }
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&rid) {
            h.insert("x-amz-request-id", v.clone());
            h.insert("x-amz-id-2", v);
        }
        h.insert(http::header::SERVER, HeaderValue::from_static("almacen"));
        let status = resp.status();
        if expects_continue && (empty_body || !status.is_success()) {
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::NOT_MODIFIED {
            let (mut parts, _) = resp.into_parts();
            parts.headers.remove(http::header::CONTENT_TYPE);
            parts.headers.remove(http::header::CONTENT_LENGTH);
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        if is_attributes && status.is_success() {
            return Ok(unquote_attributes_etag(resp).await);
        }
        if status.is_client_error() || status.is_server_error() {
            if is_head {
                return Ok(resp);
            }
            let region = self.signature_rules.region.as_deref();
            return Ok(decorate_error(resp, &path, &rid, region).await);
        }
        Ok(resp)
    }

    async fn health(&self, req: &Request<Body>) -> Option<Response<Body>> {
        let path = req.uri().path();
        if !(req.method() == Method::GET || req.method() == Method::HEAD)
            || !path.starts_with("/minio/health/")
        {
            return None;
        }
        let status = match path {
            "/minio/health/live" => StatusCode::OK,
            "/minio/health/ready" | "/minio/health/cluster" | "/minio/health/cluster/read" => {
                match self.engine.ready().await {
                    Ok(()) => StatusCode::OK,
                    Err(e) => {
                        tracing::warn!(error = %e, "readiness probe failed");
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }
            _ => return None,
        };
        let mut r = Response::new(Body::empty());
        *r.status_mut() = status;
        Some(r)
    }
}

impl Front {
    /// A browser POST upload to a bucket, taken apart so that its file
    /// streams (see [`crate::post_form`]); any other request unchanged.
    /// On an error the request is returned with the error to answer.
    async fn take_apart_form(&self, req: Request<Body>) -> (Request<Body>, Option<s3s::S3Error>) {
        if !crate::post_form::is_form(&req) {
            return (req, None);
        }
        let bucket = self.cors.bucket_of(&req);
        let (Some(bucket), None, Some(iam)) = (
            bucket.clone(),
            object_of(&req, bucket.as_deref()),
            self.iam.as_ref(),
        ) else {
            // Not a bucket (s3s refuses POST forms elsewhere before reading
            // the file), or no identities to check: Access refuses it.
            return (req, None);
        };
        let (method, uri) = (req.method().clone(), req.uri().clone());
        match crate::post_form::take_apart(req, &bucket, iam, &self.signature_rules).await {
            Ok(req) => (req, None),
            Err(e) => {
                let mut stub = Request::new(Body::empty());
                *stub.method_mut() = method;
                *stub.uri_mut() = uri;
                (stub, Some(e))
            }
        }
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for Front {
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let me = self.clone();
        let req = match self.body_rate {
            Some(rate) => req.map(|b| Body::http_body(crate::slow_body::MinRateBody::new(b, rate))),
            None => req.map(Body::from),
        };
        Box::pin(async move { me.handle(req).await })
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A message for codes s3s raises without one.
fn default_message(code: &str) -> &'static str {
    match code {
        "AccessDenied" => "Access Denied",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "InvalidAccessKeyId" => "The Access Key Id you provided does not exist in our records.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "KeyTooLongError" => "Your key is too long",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the server's time is too large."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        _ => "The request could not be completed.",
    }
}

async fn decorate_error(
    resp: Response<Body>,
    path: &str,
    rid: &str,
    region: Option<&str>,
) -> Response<Body> {
    let is_xml = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"));
    let small = http_body::Body::size_hint(resp.body())
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY as u64);
    if !is_xml || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    // s3s answers a method no operation has on this resource (POST on an
    // object without `?uploads`, ...) with 501; S3 says 405.
    if parts.status == StatusCode::NOT_IMPLEMENTED && text.contains("Unknown operation") {
        parts.status = StatusCode::METHOD_NOT_ALLOWED;
        text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message></Error>".to_owned();
    }
    if let Some(code) = text
        .split_once("<Code>")
        .and_then(|(_, r)| r.split_once("</Code>"))
        .map(|(c, _)| c.to_owned())
    {
        parts.extensions.insert(ErrorCode(code));
    }
    let Some(end) = text.rfind("</Error>") else {
        return Response::from_parts(parts, Body::from(Bytes::from(text)));
    };
    let mut extra = String::new();
    if !text.contains("<Message>") {
        let code = text
            .split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map_or("", |(c, _)| c);
        extra.push_str(&format!(
            "<Message>{}</Message>",
            xml_escape(default_message(code))
        ));
    }
    if !text.contains("<Resource>") {
        extra.push_str(&format!("<Resource>{}</Resource>", xml_escape(path)));
    }
    // A signature for the wrong region names the right one, in the body
    // and in `x-amz-bucket-region`, as S3 does: SDKs re-sign with it.
    let wrong_region = text.contains("<Code>AuthorizationHeaderMalformed</Code>")
        || text.contains("<Code>AuthorizationQueryParametersError</Code>");
    if let Some(region) = region.filter(|_| wrong_region) {
        if !text.contains("<Region>") {
            extra.push_str(&format!("<Region>{}</Region>", xml_escape(region)));
        }
        if let Ok(v) = HeaderValue::from_str(region) {
            parts.headers.insert("x-amz-bucket-region", v);
        }
    }
    if !text.contains("<RequestId>") {
        extra.push_str(&format!("<RequestId>{rid}</RequestId>"));
    }
    let out = format!("{}{}{}", &text[..end], extra, &text[end..]);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(&out.len().to_string()) {
        parts.headers.insert(http::header::CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, Body::from(Bytes::from(out)))
}

/// GetObjectAttributes is the one S3 response whose `<ETag>` is unquoted;
/// s3s always quotes it, so take the quotes off here.
async fn unquote_attributes_etag(resp: Response<Body>) -> Response<Body> {
    let small = http_body::Body::size_hint(resp.body())
        .upper()
        .is_some_and(|n| n <= MAX_ATTRIBUTES_BODY);
    if !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let out = text
        .replacen("<ETag>\"", "<ETag>", 1)
        .replacen("\"</ETag>", "</ETag>", 1);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(&out.len().to_string()) {
        parts.headers.insert(http::header::CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, Body::from(Bytes::from(out)))
}

/// Signature V2 signs a path-style bucket request over `/bucket/` (the
/// CanonicalizedResource AWS documents), while clients send `/bucket`;
/// s3s signs over the path as sent. Give s3s the documented form (only
/// for path style: a virtual-host request's path is the key).
fn sigv2_bucket_path(req: &mut Request<Body>, query: &crate::query::Query) {
    let v2_header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS "));
    let v2_query = query.has("AWSAccessKeyId");
    if !(v2_header || v2_query) {
        return;
    }
    let path = req.uri().path();
    if path.len() < 2 || path[1..].contains('/') {
        return;
    }
    let new = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let Ok(pq) = http::uri::PathAndQuery::try_from(new) else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}
