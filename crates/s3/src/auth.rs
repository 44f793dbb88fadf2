//! Authentication and authorization hooks for s3s.
//!
//! s3s verifies SigV4/SigV2 signatures (header, presigned query, chunked
//! bodies, POST policies) with the secret [`Auth`] looks up in the
//! [`IamStore`]; [`Access`] then decides whether the caller may run the
//! operation, with [`Authz`]:
//! * the root credentials may do everything (as on MinIO, bucket policies
//!   do not restrict root);
//! * a user or service account needs an Allow from its own policies or
//!   from the bucket policy (naming it as principal), and no explicit Deny
//!   in either, as on AWS;
//! * an unsigned (anonymous) request is allowed exactly where the bucket's
//!   policy allows Principal `*` the operation's IAM action on its resource;
//! * where no policy decides, the bucket's and object's canned ACLs may
//!   still grant reads or writes to everyone.
//!
//! The decision needs the operation's IAM action and resource, from
//! [`crate::actions`]. Operations that name several resources are checked
//! further inside: DeleteObjects key by key, ListBuckets bucket by bucket;
//! CopyObject and UploadPartCopy also need read access to the source; a
//! POST upload is checked once s3s has read its key from the form.

use std::net::SocketAddr;
use std::sync::Arc;

use almacen_engine::{CannedAcl, Engine, EngineError};
use almacen_iam::{Context, Decision, IamStore, Identity, Policy, Request, combine};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopySource, PostObjectInput};
use s3s::path::S3Path;
use s3s::{S3Error, S3Request, S3Result, s3_error};

use crate::actions;
use crate::query::Query;

/// The client's address, put into request extensions by the front.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Whether the request came over TLS, put into request extensions by the
/// front (`aws:SecureTransport`).
#[derive(Debug, Clone, Copy)]
pub struct SecureTransport(pub bool);

/// What the front knows of the connection a request came on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connection {
    /// The client's address (`aws:SourceIp`).
    pub peer: Option<SocketAddr>,
    /// Whether it is TLS (`aws:SecureTransport`).
    pub secure: bool,
}

impl Connection {
    /// What the front put into the request's extensions.
    #[must_use]
    pub fn of(extensions: &http::Extensions) -> Self {
        Self {
            peer: extensions.get::<PeerAddr>().map(|p| p.0),
            secure: extensions
                .get::<SecureTransport>()
                .is_some_and(|SecureTransport(s)| *s),
        }
    }
}

/// Who called and with which condition keys; [`Access`] puts it into the
/// request's extensions for operations that check more than one resource.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The signer, or `None` for an anonymous request.
    pub identity: Option<Identity>,
    /// The request's condition keys.
    pub context: Context,
}

impl Caller {
    /// The caller `identity` with the request's condition keys (and
    /// `aws:username`, for `${aws:username}` in policies: an access key
    /// acts as its user).
    #[must_use]
    pub fn new(identity: Option<Identity>, mut context: Context) -> Self {
        if let Some(id) = &identity {
            context.set("aws:username", id.user.clone());
        }
        Self { identity, context }
    }

    /// What the caller's identity policies say of `action` on `resource`
    /// with the request's condition keys (root: always Allow). For the
    /// calls that no bucket policy governs: the admin API, metrics,
    /// listening to every bucket.
    #[must_use]
    pub fn identity_allows(&self, action: &str, resource: &str) -> bool {
        self.identity.as_ref().is_some_and(|id| {
            id.is_root() || id.evaluate(action, resource, &self.context) == Decision::Allow
        })
    }
}

/// Secret lookup for s3s's signature checks: root and every IAM access key.
#[derive(Clone, Debug)]
pub struct Auth {
    iam: Arc<IamStore>,
}

impl Auth {
    /// Secrets from `iam`; they are never logged.
    #[must_use]
    pub fn new(iam: Arc<IamStore>) -> Self {
        Self { iam }
    }
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.iam.identity(access_key) {
            Ok(id) => Ok(SecretKey::from(id.secret().to_owned())),
            Err(e) => Err(S3Error::with_message(
                s3s::S3ErrorCode::InvalidAccessKeyId,
                e.to_string(),
            )),
        }
    }
}

fn denied() -> S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

/// The authorization decisions of the S3 front (see the module documentation).
#[derive(Clone)]
pub struct Authz {
    engine: Engine,
    iam: Arc<IamStore>,
    /// MinIO's rule: the root user is not bound by bucket policies at all.
    pub root_ignores_bucket_policy: bool,
}

impl Authz {
    /// Decisions over `engine`'s bucket policies and ACLs and `iam`'s identities.
    #[must_use]
    pub fn new(engine: Engine, iam: Arc<IamStore>) -> Self {
        Self {
            engine,
            iam,
            root_ignores_bucket_policy: false,
        }
    }

    /// The identity store.
    #[must_use]
    pub fn iam(&self) -> &Arc<IamStore> {
        &self.iam
    }

    /// Whether `caller` may do `action` on `bucket` (and `key`).
    ///
    /// # Errors
    /// NoSuchBucket for an anonymous caller naming a missing bucket (as AWS
    /// answers), AccessDenied when not allowed.
    pub async fn check(
        &self,
        caller: &Caller,
        action: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> S3Result<()> {
        let identity = caller.identity.as_ref();
        // The root user owns every bucket and may do anything, except what a
        // bucket policy explicitly denies (AWS applies an explicit Deny to
        // every principal). Managing the policy itself stays allowed, so the
        // root user can always undo a policy that locks everyone out.
        let root = identity.is_some_and(Identity::is_root);
        if root && self.root_ignores_bucket_policy {
            return Ok(());
        }
        if root
            && matches!(
                action,
                "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy"
            )
        {
            return Ok(());
        }
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let config = match self.engine.bucket_config(bucket).await {
            Ok(c) => Some(c),
            // AWS tells anonymous callers that a bucket does not exist; a
            // signed caller learns it from the operation if it may run it.
            Err(EngineError::NoSuchBucket) if identity.is_none() => {
                return Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist"
                ));
            }
            Err(EngineError::NoSuchBucket) => None,
            // Not knowing the policy denies; the error says why (a 503 for
            // an unreachable metadata database, which clients retry).
            Err(e) => return Err(crate::error::to_s3(e)),
        };
        let policy = match config
            .as_ref()
            .and_then(|c| c.policy.as_deref())
            .map(|doc| Policy::parse_bucket_policy(doc, bucket))
        {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) if root => {
                tracing::warn!(bucket = %bucket, error = %e, "stored bucket policy does not parse; only the root user may act");
                None
            }
            Some(Err(e)) => {
                tracing::warn!(bucket = %bucket, error = %e, "stored bucket policy does not parse; denying");
                return Err(denied());
            }
        };
        let principal = identity.map_or("*", |id| id.user.as_str());
        // s3:ExistingObjectTag/<key> costs a metadata read: only for policies that test it.
        const EXISTING_TAG: &str = "s3:ExistingObjectTag/";
        let mut with_tags;
        let mut context = &caller.context;
        if let Some(key) = key
            && (policy
                .as_ref()
                .is_some_and(|p| p.uses_condition_key(EXISTING_TAG))
                || identity.is_some_and(|id| id.uses_condition_key(EXISTING_TAG)))
            && let Ok(info) = self.engine.object(bucket, key).await
        {
            with_tags = caller.context.clone();
            for (k, v) in &info.attrs.tags {
                with_tags.set(&format!("{EXISTING_TAG}{k}"), v.clone());
            }
            context = &with_tags;
        }
        let decide = |action: &str, resource: &str| {
            // A service account's own policy bounds every grant, a bucket
            // policy's or an ACL's included (AWS's session policies).
            if identity.is_some_and(|id| !id.session_permits(action, resource, context)) {
                return Decision::Deny;
            }
            let from_bucket = policy.as_ref().map_or(Decision::NotApplicable, |p| {
                p.evaluate(&Request {
                    action,
                    resource,
                    principal,
                    context,
                })
            });
            let from_identity = identity.map_or(Decision::NotApplicable, |id| {
                id.evaluate(action, resource, context)
            });
            combine([from_bucket, from_identity])
        };
        match decide(action, &resource) {
            Decision::Allow => return Ok(()),
            Decision::Deny => return Err(denied()),
            Decision::NotApplicable if root => return Ok(()),
            Decision::NotApplicable => {}
        }
        let Some(config) = config else {
            return Err(denied());
        };
        // No policy decided: the canned ACLs grant to everyone, signed or not.
        let bucket_acl = config.acl.unwrap_or(CannedAcl::Private);
        if bucket_acl.public_read() && actions::is_bucket_read(action) {
            return Ok(());
        }
        if bucket_acl.public_write() && actions::is_bucket_write(action) {
            return Ok(());
        }
        if action == "s3:GetObject"
            && let Some(key) = key
        {
            match self.engine.object(bucket, key).await {
                Ok(info) if info.attrs.acl.is_some_and(CannedAcl::public_read) => return Ok(()),
                // A missing key is 404 to callers who may list the bucket, 403 to others (as AWS).
                Err(EngineError::NoSuchKey)
                    if bucket_acl.public_read()
                        || decide("s3:ListBucket", &format!("arn:aws:s3:::{bucket}"))
                            == Decision::Allow =>
                {
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(denied())
    }

    /// Whether `caller` may see `bucket` in ListBuckets: root and holders of
    /// s3:ListAllMyBuckets see every bucket; others (as on MinIO) the
    /// buckets they may list or locate.
    pub async fn may_see_bucket(&self, caller: &Caller, all: bool, bucket: &str) -> bool {
        if all {
            return true;
        }
        for action in ["s3:ListBucket", "s3:GetBucketLocation"] {
            if self.check(caller, action, bucket, None).await.is_ok() {
                return true;
            }
        }
        false
    }
}

/// Authorization of every request (see the module documentation).
#[derive(Clone)]
pub struct Access {
    authz: Authz,
}

impl Access {
    /// Authorization with `authz`.
    #[must_use]
    pub fn new(authz: Authz) -> Self {
        Self { authz }
    }
}

/// The condition keys of a request, from its headers, its decoded query
/// and what the front put into its extensions (peer address, TLS). Every
/// authorization decision, the admin API's and the streaming calls'
/// included, evaluates policies with these.
#[must_use]
pub fn request_context(headers: &http::HeaderMap, query: &Query, conn: Connection) -> Context {
    let mut ctx = Context::new();
    if let Some(addr) = conn.peer {
        ctx.set("aws:SourceIp", addr.ip().to_canonical().to_string());
    }
    ctx.set(
        "aws:SecureTransport",
        if conn.secure { "true" } else { "false" },
    );
    let now = time::OffsetDateTime::now_utc();
    if let Ok(s) = now.format(&time::format_description::well_known::Rfc3339) {
        ctx.set("aws:CurrentTime", s);
    }
    ctx.set("aws:EpochTime", now.unix_timestamp().to_string());
    for (header, key) in [("user-agent", "aws:UserAgent"), ("referer", "aws:Referer")] {
        if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
            ctx.set(key, v);
        }
    }
    // Request headers that policies may test as `s3:<header>`.
    for header in [
        "x-amz-acl",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-storage-class",
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
        "x-amz-content-sha256",
        "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold",
    ] {
        if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
            ctx.set(&format!("s3:{header}"), v);
        }
    }
    // Tags the request sets: s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys.
    if let Some(tagging) = headers.get("x-amz-tagging").and_then(|v| v.to_str().ok())
        && let Ok(tags) = crate::tagging_ops::from_header(Some(tagging))
    {
        for (k, v) in &tags {
            ctx.set(&format!("s3:RequestObjectTag/{k}"), v.clone());
        }
        ctx.set_all(
            "s3:RequestObjectTagKeys",
            tags.into_iter().map(|(k, _)| k).collect(),
        );
    }
    for (param, key) in [
        ("prefix", "s3:prefix"),
        ("delimiter", "s3:delimiter"),
        ("max-keys", "s3:max-keys"),
    ] {
        if let Some(v) = query.get(param) {
            ctx.set(key, v);
        }
    }
    ctx
}

/// The source of a copy, parsed from `x-amz-copy-source` by the parser
/// s3s gives the operation (so the check and the copy read the same
/// bucket, key and version). `None` when there is no header; an
/// unparseable one never reaches the operation.
fn copy_source(headers: &http::HeaderMap) -> Option<Result<CopySource, ()>> {
    let raw = headers.get("x-amz-copy-source")?;
    Some(
        raw.to_str()
            .map_err(|_| ())
            .and_then(|v| CopySource::parse(v).map_err(|_| ())),
    )
}

/// Headers that set an ACL on what the request creates.
const ACL_HEADERS: &[&str] = &[
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some()
            && let Some(v) = cx
                .extensions_mut()
                .get::<crate::auth_throttle::SignatureVerified>()
        {
            v.set();
        }
        let identity = match cx.credentials() {
            None => None,
            Some(c) => Some(self.authz.iam.identity(&c.access_key).map_err(|e| {
                S3Error::with_message(s3s::S3ErrorCode::InvalidAccessKeyId, e.to_string())
            })?),
        };
        // A browser POST whose signature the front verified reaches s3s
        // without its signature fields: its signer rides in the extensions.
        let identity = match (
            identity,
            cx.extensions_mut().get::<crate::post_form::PostSigner>(),
        ) {
            (Some(id), _) => Some(id),
            (None, Some(signer)) => Some(signer.0.clone()),
            (None, None) => None,
        };
        let query = Query::of(cx.uri());
        let conn = Connection::of(cx.extensions_mut());
        let context = request_context(cx.headers(), &query, conn);
        let caller = Caller::new(identity, context);
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        // Tell the front which operation this is, for metrics and the audit log.
        if let Some(slot) = cx.extensions_mut().get::<crate::metrics::ApiSlot>() {
            let _ = slot.0.api.set(op.to_owned());
            if let Some(id) = &caller.identity {
                let _ = slot.0.access_key.set(id.access_key.clone());
                let _ = slot.0.user.set(id.user.clone());
            }
        }
        let mut action = actions::action(op);
        // s3s acts on the decoded `versionId` (`?version%49d=` included).
        if query.has("versionId") {
            action = actions::for_version(action);
        }
        let result = match cx.s3_path() {
            // Only ListBuckets addresses no bucket; it filters what each caller sees.
            S3Path::Root if caller.identity.is_some() && op == "ListBuckets" => Ok(()),
            S3Path::Root if caller.identity.as_ref().is_some_and(Identity::is_root) => Ok(()),
            S3Path::Root => Err(denied()),
            // POST uploads name their key in the form: checked in `post_object` below,
            // before any byte of the file is read. Only forms the front took
            // apart get here (it keeps the file's bytes out of s3s's buffer).
            S3Path::Bucket { .. } if op == "PostObject" => {
                if cx
                    .extensions_mut()
                    .get::<crate::post_form::PostFile>()
                    .is_some()
                {
                    Ok(())
                } else {
                    Err(denied())
                }
            }
            S3Path::Bucket { bucket } => {
                let bucket = bucket.to_string();
                // DeleteObjects is checked key by key (and version by
                // version) by the operation; an anonymous one also needs the
                // grant on the whole bucket.
                if op == "DeleteObjects" && caller.identity.is_some() {
                    Ok(())
                } else {
                    let key = (op == "DeleteObjects").then_some("*");
                    self.authz.check(&caller, action, &bucket, key).await
                }
            }
            S3Path::Object { bucket, key } => {
                let (bucket, key) = (bucket.to_string(), key.to_string());
                self.authz.check(&caller, action, &bucket, Some(&key)).await
            }
        };
        result?;
        if matches!(op, "CopyObject" | "UploadPartCopy")
            && let Some(source) = copy_source(cx.headers())
        {
            match source {
                Ok(CopySource::Bucket {
                    bucket,
                    key,
                    version_id,
                }) => {
                    let read = if version_id.is_some() {
                        "s3:GetObjectVersion"
                    } else {
                        "s3:GetObject"
                    };
                    self.authz.check(&caller, read, &bucket, Some(&key)).await?;
                }
                // Access points and outposts are not served here.
                Ok(_) => return Err(denied()),
                // The operation refuses it before reading anything.
                Err(()) => {}
            }
        }
        // Setting an ACL on what the request creates is a permission of its own.
        let sets_acl = ACL_HEADERS.iter().any(|h| cx.headers().contains_key(*h));
        if sets_acl {
            match (op, cx.s3_path()) {
                (
                    "PutObject" | "CopyObject" | "CreateMultipartUpload",
                    S3Path::Object { bucket, key },
                ) => {
                    let (bucket, key) = (bucket.to_string(), key.to_string());
                    self.authz
                        .check(&caller, "s3:PutObjectAcl", &bucket, Some(&key))
                        .await?;
                }
                ("CreateBucket", S3Path::Bucket { bucket }) => {
                    let bucket = bucket.to_string();
                    self.authz
                        .check(&caller, "s3:PutBucketAcl", &bucket, None)
                        .await?;
                }
                _ => {}
            }
        }
        // Bypassing GOVERNANCE retention is a permission of its own.
        let bypass = cx
            .headers()
            .get("x-amz-bypass-governance-retention")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        if bypass {
            let (bucket, key) = match cx.s3_path() {
                S3Path::Bucket { bucket } => (bucket.to_string(), None),
                S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
                S3Path::Root => (String::new(), None),
            };
            self.authz
                .check(
                    &caller,
                    "s3:BypassGovernanceRetention",
                    &bucket,
                    Some(key.as_deref().unwrap_or("*")),
                )
                .await?;
        }
        cx.extensions_mut().insert(caller);
        Ok(())
    }

    /// Runs before the file's first byte is read (the front holds it back).
    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        let caller = req.extensions.get::<Caller>().cloned().ok_or_else(denied)?;
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.authz
            .check(&caller, "s3:PutObject", bucket, Some(key))
            .await?;
        if req.input.acl.is_some()
            || req.input.grant_read.is_some()
            || req.input.grant_full_control.is_some()
            || req.input.grant_read_acp.is_some()
            || req.input.grant_write_acp.is_some()
        {
            self.authz
                .check(&caller, "s3:PutObjectAcl", bucket, Some(key))
                .await?;
        }
        Ok(())
    }
}
