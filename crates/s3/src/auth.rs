//! Authentication and authorization hooks for s3s.
//!
//! s3s verifies SigV4/SigV2 signatures (header, presigned query, chunked
//! bodies, POST policies) with the secret [`RootAuth`] hands it; [`Access`]
//! then decides whether the caller may run the operation:
//! * the root credentials may do everything (as on MinIO, bucket policies
//!   do not restrict root);
//! * an unsigned (anonymous) request is allowed exactly where the bucket's
//!   policy allows Principal `*` the operation's IAM action on its resource,
//!   with the request's condition keys; anything else is AccessDenied.
//!
//! IAM users, groups and service accounts plug in here next.

use std::net::SocketAddr;

use almacen_engine::{CannedAcl, Engine, EngineError};
use almacen_iam::{Context, Decision, Policy, Request};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use crate::actions;

/// The client's address, put into request extensions by the front.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The root credentials from the environment.
#[derive(Clone)]
pub struct RootAuth {
    access_key: String,
    secret_key: String,
}

impl RootAuth {
    /// Root credentials; the secret is never logged.
    #[must_use]
    pub fn new(access_key: String, secret_key: String) -> Self {
        Self {
            access_key,
            secret_key,
        }
    }
}

impl std::fmt::Debug for RootAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootAuth")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        use subtle::ConstantTimeEq as _;
        if bool::from(access_key.as_bytes().ct_eq(self.access_key.as_bytes())) {
            Ok(SecretKey::from(self.secret_key.clone()))
        } else {
            Err(s3_error!(
                InvalidAccessKeyId,
                "The Access Key Id you provided does not exist in our records."
            ))
        }
    }
}

/// Authorization of every request (see the module documentation).
#[derive(Clone)]
pub struct Access {
    engine: Engine,
}

impl Access {
    /// Authorization over `engine`'s bucket policies.
    #[must_use]
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

/// Percent-decodes one query value (`+` is a space in query strings).
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The condition keys of a request.
fn context(cx: &mut S3AccessContext<'_>) -> Context {
    let mut ctx = Context::new();
    if let Some(PeerAddr(addr)) = cx.extensions_mut().get::<PeerAddr>().copied() {
        ctx.set("aws:SourceIp", addr.ip().to_canonical().to_string());
    }
    ctx.set("aws:SecureTransport", "false");
    let now = time::OffsetDateTime::now_utc();
    if let Ok(s) = now.format(&time::format_description::well_known::Rfc3339) {
        ctx.set("aws:CurrentTime", s);
    }
    ctx.set("aws:EpochTime", now.unix_timestamp().to_string());
    for (header, key) in [("user-agent", "aws:UserAgent"), ("referer", "aws:Referer")] {
        if let Some(v) = cx.headers().get(header).and_then(|v| v.to_str().ok()) {
            ctx.set(key, v);
        }
    }
    if let Some(q) = cx.uri().query() {
        for (param, key) in [
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
        ] {
            if let Some(v) = query_value(q, param) {
                ctx.set(key, v);
            }
        }
    }
    ctx
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            // Only the root key authenticates today (RootAuth), and root may do everything.
            return Ok(());
        }
        let denied = || s3_error!(AccessDenied, "Access Denied");
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => return Err(denied()),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        // AWS tells anonymous callers that a bucket does not exist.
        let config = match self.engine.bucket_config(&bucket).await {
            Ok(c) => c,
            Err(EngineError::NoSuchBucket) => {
                return Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist"
                ));
            }
            Err(_) => return Err(denied()),
        };
        let action = actions::action(op);
        let policy = match config
            .policy
            .as_deref()
            .map(|doc| Policy::parse_bucket_policy(doc, &bucket))
        {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                tracing::warn!(bucket = %bucket, error = %e, "stored bucket policy does not parse; denying");
                return Err(denied());
            }
        };
        let ctx = context(cx);
        let decide = |action: &str, resource: &str| {
            policy.as_ref().map_or(Decision::NotApplicable, |p| {
                p.evaluate(&Request {
                    action,
                    resource,
                    principal: "*",
                    context: &ctx,
                })
            })
        };
        match decide(
            action,
            &actions::resource(op, Some(&bucket), key.as_deref()),
        ) {
            Decision::Allow => return Ok(()),
            Decision::Deny => return Err(denied()),
            Decision::NotApplicable => {}
        }
        // No policy statement decided: the canned ACLs may still grant it.
        let bucket_acl = config.acl.unwrap_or(CannedAcl::Private);
        if bucket_acl.public_read() && actions::is_bucket_read(action) {
            return Ok(());
        }
        if bucket_acl.public_write() && actions::is_bucket_write(action) {
            return Ok(());
        }
        if action == "s3:GetObject"
            && let Some(key) = key.as_deref()
        {
            match self.engine.object(&bucket, key).await {
                Ok(info) if info.attrs.acl.is_some_and(CannedAcl::public_read) => return Ok(()),
                // A missing key is 404 to callers who may list the bucket, 403 to others (as AWS).
                Err(EngineError::NoSuchKey)
                    if bucket_acl.public_read()
                        || decide(
                            "s3:ListBucket",
                            &actions::resource("ListObjects", Some(&bucket), None),
                        ) == Decision::Allow =>
                {
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(denied())
    }
}
