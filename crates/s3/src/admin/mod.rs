//! The admin HTTP API: users, groups, policies and service accounts, as
//! JSON under [`ADMIN_PREFIX`] on the S3 port.
//!
//! It is an s3s custom route, so every call is signed like an S3 request
//! (SigV4 with the `s3` service) and s3s has verified the signature before
//! [`AdminRoute::call`] runs. Bodies must be signed too (their SHA-256 in
//! `x-amz-content-sha256`). The caller needs root, or an identity policy
//! that allows the call's `admin:` action (MinIO's names, e.g.
//! `admin:CreateUser`; the built-in `consoleAdmin` allows all), evaluated
//! with the request's condition keys (`aws:SourceIp`, ...) as every S3
//! call is. Any user may manage its own service accounts, as on MinIO;
//! only root may create keys under root, and keys for another user need
//! the rights to create users and attach policies too (which already
//! reach every right), so a key is never a way to rights one lacks.
//!
//! The bucket name `minio` is reserved (as on MinIO), so these paths never
//! shadow a bucket. The shapes are almacen's own: MinIO's `mc admin`
//! encrypts its payloads and is not supported.

use std::sync::Arc;

use almacen_iam::{IamError, IamStore, Kind, NewServiceAccount, Status, Target};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use hyper::http::Extensions;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use serde::Deserialize;
use serde_json::json;

mod call;
use call::{AttachmentBody, Call, MembersBody, SecretBody, ServiceAccountBody, StatusBody};

/// Where the admin API lives.
pub const ADMIN_PREFIX: &str = "/minio/almacen/admin/v1/";

/// Largest request body the admin API reads (policy documents are small).
const MAX_BODY: usize = 1 << 20;

/// The admin API route (see the module documentation).
#[derive(Clone)]
pub struct AdminRoute {
    iam: Arc<IamStore>,
    authz: crate::Authz,
    engine: almacen_engine::Engine,
    tracer: crate::trace::Tracer,
    event_targets: Option<Arc<crate::event_targets::EventTargetAdmin>>,
}

impl AdminRoute {
    /// The admin API over `iam` and `engine`'s bucket settings;
    /// ListenBucketNotification, which shares the route, is authorized by
    /// `authz` as every S3 operation is.
    #[must_use]
    pub fn new(iam: Arc<IamStore>, engine: almacen_engine::Engine, authz: crate::Authz) -> Self {
        Self {
            iam,
            authz,
            engine,
            tracer: crate::trace::Tracer::default(),
            event_targets: None,
        }
    }

    /// Lets the admin API add and remove event targets at run time.
    #[must_use]
    pub fn with_event_targets(self, admin: Arc<crate::event_targets::EventTargetAdmin>) -> Self {
        Self {
            event_targets: Some(admin),
            ..self
        }
    }

    /// Serves `GET .../trace` from `tracer` (the front's).
    #[must_use]
    pub fn with_tracer(self, tracer: crate::trace::Tracer) -> Self {
        Self { tracer, ..self }
    }
}

/// Parses a size: a number of bytes, or a string such as `2MiB`, `10 MB`, `512KiB`.
fn parse_size(v: &serde_json::Value) -> Result<u64> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v
        .as_str()
        .ok_or_else(|| bad_request("a size is a number of bytes or a string like \"2MiB\""))?
        .trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| bad_request(format!("invalid size {s:?}")))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024.0_f64.powi(4),
        other => return Err(bad_request(format!("unknown size unit {other:?}"))),
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((num * mult).round() as u64)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleBody {
    #[serde(default)]
    prefix: String,
    max_size: Option<serde_json::Value>,
    #[serde(default)]
    content_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    quota: serde_json::Value,
}

fn usage_json(u: &almacen_engine::BucketUsage) -> serde_json::Value {
    json!({
        "quota": u.quota,
        "usage": { "bytes": u.bytes, "objects": u.objects, "versions": u.versions },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesBody {
    rules: Vec<RuleBody>,
}

fn engine_err(e: almacen_engine::EngineError) -> Reply {
    match e {
        almacen_engine::EngineError::NoSuchBucket => Reply::error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        ),
        other => {
            tracing::error!(error = %other, "admin API: engine error");
            Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                other.to_string(),
            )
        }
    }
}

/// An admin API answer: a status and a JSON body.
struct Reply(StatusCode, serde_json::Value);

impl Reply {
    fn ok(v: impl serde::Serialize) -> Self {
        Self(
            StatusCode::OK,
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        )
    }

    fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(status, json!({ "Code": code, "Message": message.into() }))
    }
}

/// The one place IAM errors become HTTP answers.
impl From<IamError> for Reply {
    fn from(e: IamError) -> Self {
        let (status, code) = match &e {
            IamError::NoSuchUser(_) => (StatusCode::NOT_FOUND, "NoSuchUser"),
            IamError::NoSuchGroup(_) => (StatusCode::NOT_FOUND, "NoSuchGroup"),
            IamError::NoSuchPolicy(_) => (StatusCode::NOT_FOUND, "NoSuchPolicy"),
            IamError::NoSuchServiceAccount(_) => (StatusCode::NOT_FOUND, "NoSuchServiceAccount"),
            IamError::AlreadyExists(_) => (StatusCode::CONFLICT, "AlreadyExists"),
            IamError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "InvalidArgument"),
            IamError::MalformedPolicy(_) => (StatusCode::BAD_REQUEST, "MalformedPolicy"),
            IamError::PolicyInUse(..) => (StatusCode::CONFLICT, "PolicyInUse"),
            IamError::BuiltIn(_) => (StatusCode::CONFLICT, "BuiltInPolicy"),
            IamError::GroupNotEmpty(_) => (StatusCode::CONFLICT, "GroupNotEmpty"),
            IamError::Forbidden(_) => (StatusCode::FORBIDDEN, "AccessDenied"),
            IamError::Meta(_) | IamError::Corrupt(_) => {
                tracing::error!(error = %e, "admin API: internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
            }
        };
        Self::error(status, code, e.to_string())
    }
}

type Result<T> = std::result::Result<T, Reply>;

fn bad_request(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

impl AdminRoute {
    async fn dispatch(&self, call: Call<'_>) -> Result<Reply> {
        let iam = &self.iam;
        let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
        let m = call.method;
        match (m, seg.as_slice()) {
            (&Method::GET, ["users"]) => {
                call.require("admin:ListUsers")?;
                Ok(Reply::ok(iam.users()))
            }
            (&Method::GET, ["users", name]) => {
                call.require("admin:GetUser")?;
                Ok(Reply::ok(iam.user(name)?))
            }
            (&Method::PUT, ["users", name]) => {
                call.require("admin:CreateUser")?;
                let b: SecretBody = parse_json(&call.body)?;
                // Never a silent reset: an existing user's secret changes
                // only when the call says so (the same secret again is a no-op).
                if let Ok(existing) = iam.identity(name)
                    && existing.kind == Kind::User
                    && !b.update
                {
                    use subtle::ConstantTimeEq as _;
                    let same: bool = existing
                        .secret()
                        .as_bytes()
                        .ct_eq(b.secret_key.as_bytes())
                        .into();
                    if !same {
                        return Err(Reply::error(
                            StatusCode::CONFLICT,
                            "UserAlreadyExists",
                            format!(
                                "The user {name} already exists; to change its secret key, ask for an update (almacen admin user add --update)"
                            ),
                        ));
                    }
                    return Ok(Reply::ok(iam.user(name)?));
                }
                iam.add_user(name, &b.secret_key).await?;
                Ok(Reply::ok(iam.user(name)?))
            }
            (&Method::PUT, ["users", name, "status"]) => {
                let b: StatusBody = parse_json(&call.body)?;
                call.require(match b.status {
                    Status::Enabled => "admin:EnableUser",
                    Status::Disabled => "admin:DisableUser",
                })?;
                iam.set_user_status(name, b.status).await?;
                Ok(Reply::ok(iam.user(name)?))
            }
            (&Method::DELETE, ["users", name]) => {
                call.require("admin:DeleteUser")?;
                iam.remove_user(name).await?;
                Ok(Reply::ok(json!({})))
            }
            (&Method::GET, ["groups"]) => {
                call.require("admin:ListGroups")?;
                Ok(Reply::ok(iam.groups()))
            }
            (&Method::GET, ["groups", name]) => {
                call.require("admin:GetGroup")?;
                Ok(Reply::ok(iam.group(name)?))
            }
            (&Method::POST, ["groups", name, "members"]) => {
                let b: MembersBody = parse_json(&call.body)?;
                if !b.add.is_empty() || b.remove.is_empty() {
                    call.require("admin:AddUserToGroup")?;
                    iam.add_group_members(name, &b.add).await?;
                }
                if !b.remove.is_empty() {
                    call.require("admin:RemoveUserFromGroup")?;
                    iam.remove_group_members(name, &b.remove).await?;
                }
                Ok(Reply::ok(iam.group(name)?))
            }
            (&Method::PUT, ["groups", name, "status"]) => {
                let b: StatusBody = parse_json(&call.body)?;
                call.require(match b.status {
                    Status::Enabled => "admin:EnableGroup",
                    Status::Disabled => "admin:DisableGroup",
                })?;
                iam.set_group_status(name, b.status).await?;
                Ok(Reply::ok(iam.group(name)?))
            }
            (&Method::DELETE, ["groups", name]) => {
                call.require("admin:RemoveUserFromGroup")?;
                iam.remove_group_members(name, &[]).await?;
                Ok(Reply::ok(json!({})))
            }
            (&Method::GET, ["policies"]) => {
                call.require("admin:GetPolicy")?;
                Ok(Reply::ok(iam.policies()))
            }
            (&Method::GET, ["policies", name]) => {
                call.require("admin:GetPolicy")?;
                Ok(Reply::ok(iam.policy(name)?))
            }
            (&Method::PUT, ["policies", name]) => {
                call.require("admin:CreatePolicy")?;
                let doc = std::str::from_utf8(&call.body)
                    .map_err(|_| bad_request("the policy must be UTF-8 JSON"))?;
                iam.put_policy(name, doc).await?;
                Ok(Reply::ok(iam.policy(name)?))
            }
            (&Method::DELETE, ["policies", name]) => {
                call.require("admin:DeletePolicy")?;
                iam.remove_policy(name).await?;
                Ok(Reply::ok(json!({})))
            }
            (&Method::POST, ["policy-attachments"]) => {
                call.require("admin:AttachUserOrGroupPolicy")?;
                let b: AttachmentBody = parse_json(&call.body)?;
                let target = match (b.user, b.group) {
                    (Some(u), None) => Target::User(u),
                    (None, Some(g)) => Target::Group(g),
                    _ => return Err(bad_request("name exactly one of user and group")),
                };
                iam.set_attachment(&target, &b.policies, b.attach).await?;
                Ok(Reply::ok(
                    match target {
                        Target::User(u) => serde_json::to_value(iam.user(&u)?),
                        Target::Group(g) => serde_json::to_value(iam.group(&g)?),
                    }
                    .unwrap_or_default(),
                ))
            }
            (&Method::GET, ["service-accounts"]) => {
                let user = call
                    .query("user")
                    .unwrap_or_else(|| call.identity.user.clone());
                call.require_for_service_account("admin:ListServiceAccounts", &user)?;
                Ok(Reply::ok(iam.service_accounts(Some(&user))))
            }
            (&Method::POST, ["service-accounts"]) => {
                if call.identity.kind == Kind::ServiceAccount {
                    return Err(IamError::Forbidden(
                        "a service account cannot create service accounts".into(),
                    )
                    .into());
                }
                let b: ServiceAccountBody = parse_json(&call.body)?;
                let parent = b.parent.unwrap_or_else(|| call.identity.user.clone());
                call.require_key_creation(&parent, iam.root_access_key())?;
                let policy = match b.policy {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s),
                    Some(v) => Some(v.to_string()),
                };
                let creds = iam
                    .create_service_account(
                        &parent,
                        NewServiceAccount {
                            access_key: b.access_key,
                            secret_key: b.secret_key,
                            policy,
                            expires_ms: b.expires_ms,
                            name: b.name,
                            description: b.description,
                        },
                    )
                    .await?;
                Ok(Reply::ok(creds))
            }
            (&Method::GET, ["buckets", bucket, "upload-rules"]) => {
                call.require("admin:GetBucketUploadRules")?;
                let config = self
                    .engine
                    .bucket_config(bucket)
                    .await
                    .map_err(engine_err)?;
                Ok(Reply::ok(
                    json!({ "rules": config.upload_rules.unwrap_or_default() }),
                ))
            }
            (&Method::PUT, ["buckets", bucket, "upload-rules"]) => {
                call.require("admin:SetBucketUploadRules")?;
                let b: RulesBody = parse_json(&call.body)?;
                let mut rules = Vec::with_capacity(b.rules.len());
                for r in b.rules {
                    if r.max_size.is_none() && r.content_types.is_empty() {
                        return Err(bad_request(format!(
                            "the rule for prefix {:?} limits nothing: give max_size or content_types",
                            r.prefix
                        )));
                    }
                    if let Some(t) = r.content_types.iter().find(|t| !t.contains('/')) {
                        return Err(bad_request(format!(
                            "{t:?} is not a content type (type/subtype)"
                        )));
                    }
                    rules.push(almacen_engine::UploadRule {
                        prefix: r.prefix,
                        max_size: r.max_size.as_ref().map(parse_size).transpose()?,
                        content_types: r.content_types,
                    });
                }
                for (i, r) in rules.iter().enumerate() {
                    if rules[..i].iter().any(|o| o.prefix == r.prefix) {
                        return Err(bad_request(format!("two rules for prefix {:?}", r.prefix)));
                    }
                }
                let rules = (!rules.is_empty()).then_some(rules);
                self.engine
                    .set_upload_rules(bucket, rules.clone())
                    .await
                    .map_err(engine_err)?;
                Ok(Reply::ok(json!({ "rules": rules.unwrap_or_default() })))
            }
            (&Method::DELETE, ["buckets", bucket, "upload-rules"]) => {
                call.require("admin:SetBucketUploadRules")?;
                self.engine
                    .set_upload_rules(bucket, None)
                    .await
                    .map_err(engine_err)?;
                Ok(Reply::ok(json!({ "rules": [] })))
            }
            (&Method::GET, ["event-targets"]) => {
                // Bucket notification targets: type, endpoint (no secrets),
                // online/offline, queued events and counters.
                call.require("admin:ServerInfo")?;
                let pending = self.engine.meta().pending_events().await.map_err(|e| {
                    Reply::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        format!("cannot count queued events: {e}"),
                    )
                })?;
                let targets = almacen_notify::published()
                    .map(|s| s.report(&pending))
                    .unwrap_or_default();
                Ok(Reply::ok(json!({ "targets": targets })))
            }
            (&Method::PUT | &Method::DELETE, ["event-targets", kind, id]) => {
                call.require("admin:ConfigUpdate")?;
                let Some(admin) = &self.event_targets else {
                    return Err(not_found());
                };
                let meta = self.engine.meta();
                let result = if m == Method::PUT {
                    let settings: std::collections::BTreeMap<String, String> =
                        parse_json(&call.body)?;
                    admin.add(&meta, iam, kind, id, settings).await.map(
                        |t| json!({ "arn": t.arn, "type": t.kind(), "endpoint": t.endpoint() }),
                    )
                } else {
                    admin
                        .remove(&meta, kind, id)
                        .await
                        .map(|arn| json!({ "arn": arn, "removed": true }))
                };
                use crate::event_targets::TargetAdminError as E;
                match result {
                    Ok(v) => Ok(Reply::ok(v)),
                    Err(e @ E::Invalid(_)) => Err(bad_request(e.to_string())),
                    Err(e @ E::FromEnvironment(_)) => Err(Reply::error(
                        StatusCode::CONFLICT,
                        "TargetFromEnvironment",
                        e.to_string(),
                    )),
                    Err(e @ E::NotFound(_)) => Err(Reply::error(
                        StatusCode::NOT_FOUND,
                        "NoSuchTarget",
                        e.to_string(),
                    )),
                    Err(e @ E::Store(_)) => Err(Reply::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        e.to_string(),
                    )),
                }
            }
            (&Method::GET, ["cluster"]) => {
                // The nodes sharing this metadata store, seen in the last
                // day, with the age of their last heartbeat by the
                // database's clock; an embedded store has one node: this one.
                call.require("admin:ServerInfo")?;
                let meta = self.engine.meta();
                let unavailable = |e: almacen_meta::MetaError| {
                    Reply::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "MetadataUnavailable",
                        format!("the metadata store does not answer: {e}"),
                    )
                };
                meta.ping().await.map_err(unavailable)?;
                let nodes = meta.nodes(86_400_000).await.map_err(unavailable)?;
                let nodes: Vec<serde_json::Value> = nodes
                    .iter()
                    .map(|n| {
                        let age = n.now_ms.saturating_sub(n.seen_ms);
                        json!({
                            "id": n.id,
                            "endpoint": n.endpoint,
                            "version": n.version,
                            "started_ms": n.started_ms,
                            "seen_ms_ago": age,
                            "state": if age <= crate::CLUSTER_NODE_TIMEOUT_MS { "online" } else { "offline" },
                            "background": n.roles.split(',').any(|r| r == "background"),
                        })
                    })
                    .collect();
                Ok(Reply::ok(json!({
                    "metadata": if meta.is_shared() { "postgres" } else { "embedded" },
                    "metadata_state": "online",
                    "nodes": nodes,
                })))
            }
            (&Method::GET, ["kms", "status"]) => {
                call.require("kms:Status")?;
                let (current, active, previous) = self.engine.key_names();
                Ok(Reply::ok(json!({
                    "current_key": current,
                    "other_keys": active,
                    "previous_keys": previous,
                })))
            }
            (&Method::POST, ["kms", "rotate"]) => {
                call.require("kms:Rotate")?;
                let report = self.engine.rotate_master_key().await.map_err(engine_err)?;
                let iam_resealed = self.iam.reseal_secrets().await?;
                let targets_resealed = crate::event_targets::reseal(&self.engine.meta(), iam)
                    .await
                    .map_err(|e| {
                        Reply::error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            e.to_string(),
                        )
                    })?;
                let mut v = serde_json::to_value(report).unwrap_or_default();
                v["iam_secrets_resealed"] = json!(iam_resealed);
                v["event_targets_resealed"] = json!(targets_resealed);
                Ok(Reply::ok(v))
            }
            (&Method::POST, ["scan"]) => {
                // MinIO's name for verifying stored data is "heal".
                call.require("admin:Heal")?;
                let rate = call
                    .query("rate")
                    .map(|r| parse_size(&serde_json::Value::String(r)))
                    .transpose()?;
                let report = self.engine.scan(rate).await.map_err(engine_err)?;
                Ok(Reply::ok(report))
            }
            (&Method::GET, ["corrupt"]) => {
                call.require("admin:Heal")?;
                let list = self.engine.corrupt_objects().await.map_err(engine_err)?;
                Ok(Reply::ok(json!({ "corrupt": list })))
            }
            (&Method::GET, ["buckets", bucket, "quota"]) => {
                call.require("admin:GetBucketQuota")?;
                let u = self.engine.bucket_usage(bucket).await.map_err(engine_err)?;
                Ok(Reply::ok(usage_json(&u)))
            }
            (&Method::PUT, ["buckets", bucket, "quota"]) => {
                call.require("admin:SetBucketQuota")?;
                let b: QuotaBody = parse_json(&call.body)?;
                let quota = parse_size(&b.quota)?;
                self.engine
                    .set_bucket_quota(bucket, Some(quota))
                    .await
                    .map_err(engine_err)?;
                let u = self.engine.bucket_usage(bucket).await.map_err(engine_err)?;
                Ok(Reply::ok(usage_json(&u)))
            }
            (&Method::DELETE, ["buckets", bucket, "quota"]) => {
                call.require("admin:SetBucketQuota")?;
                self.engine
                    .set_bucket_quota(bucket, None)
                    .await
                    .map_err(engine_err)?;
                let u = self.engine.bucket_usage(bucket).await.map_err(engine_err)?;
                Ok(Reply::ok(usage_json(&u)))
            }
            (_, ["service-accounts", ak, rest @ ..]) => {
                // Whether a key exists is itself something to keep from
                // callers who may not list keys: they learn only of their own.
                let info = match iam.service_account(ak) {
                    Ok(info) => info,
                    Err(e) => {
                        call.require("admin:ListServiceAccounts")?;
                        return Err(e.into());
                    }
                };
                match (m, rest) {
                    (&Method::GET, []) => {
                        call.require_for_service_account(
                            "admin:ListServiceAccounts",
                            &info.parent,
                        )?;
                        Ok(Reply::ok(info))
                    }
                    (&Method::PUT, ["status"]) => {
                        call.require_for_service_account(
                            "admin:UpdateServiceAccount",
                            &info.parent,
                        )?;
                        let b: StatusBody = parse_json(&call.body)?;
                        iam.set_service_account_status(ak, b.status).await?;
                        Ok(Reply::ok(iam.service_account(ak)?))
                    }
                    (&Method::DELETE, []) => {
                        call.require_for_service_account(
                            "admin:RemoveServiceAccount",
                            &info.parent,
                        )?;
                        iam.remove_service_account(ak).await?;
                        Ok(Reply::ok(json!({})))
                    }
                    _ => Err(not_found()),
                }
            }
            _ => Err(not_found()),
        }
    }
}

fn not_found() -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "NotFound", "no such admin API call")
}

/// Checks that the body is what the client signed: its SHA-256 must be
/// the `x-amz-content-sha256` header (unsigned bodies are refused).
fn verify_body(headers: &HeaderMap, body: &[u8]) -> Result<()> {
    use sha2::Digest as _;
    let claimed = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("UNSIGNED-PAYLOAD");
    let actual = hex::encode(sha2::Sha256::digest(body));
    if body.is_empty() || claimed.eq_ignore_ascii_case(&actual) {
        Ok(())
    } else {
        Err(bad_request(
            "the body must be signed: x-amz-content-sha256 must be its SHA-256",
        ))
    }
}

#[async_trait::async_trait]
impl S3Route for AdminRoute {
    fn is_match(
        &self,
        method: &Method,
        uri: &Uri,
        _headers: &HeaderMap,
        _extensions: &mut Extensions,
    ) -> bool {
        uri.path().starts_with(ADMIN_PREFIX) || crate::listen_ops::is_listen(method, uri)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if req.credentials.is_some() {
            if let Some(v) = req
                .extensions
                .get::<crate::auth_throttle::SignatureVerified>()
            {
                v.set();
            }
            Ok(())
        } else {
            Err(s3_error!(AccessDenied, "This call needs a signed request"))
        }
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let Some(creds) = &req.credentials else {
            return Err(s3_error!(AccessDenied, "This call needs a signed request"));
        };
        let identity = self.iam.identity(&creds.access_key).map_err(|e| {
            s3s::S3Error::with_message(s3s::S3ErrorCode::InvalidAccessKeyId, e.to_string())
        })?;
        let query = crate::query::Query::of(&req.uri);
        let caller = crate::Caller::new(
            Some(identity),
            crate::request_context(&req.headers, &query, crate::Connection::of(&req.extensions)),
        );
        if crate::listen_ops::is_listen(&req.method, &req.uri)
            && !req.uri.path().starts_with(ADMIN_PREFIX)
        {
            return Ok(crate::listen_ops::respond(
                &self.engine,
                &self.authz,
                &caller,
                &query,
                &req.uri,
            )
            .await);
        }
        let crate::Caller { identity, context } = caller;
        let identity = identity.expect("the caller signed");
        let body =
            req.input.store_all_limited(MAX_BODY).await.map_err(|_| {
                s3_error!(EntityTooLarge, "admin request bodies are limited to 1 MiB")
            })?;
        let path = &req.uri.path()[ADMIN_PREFIX.len()..];
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        if req.method == Method::GET && segments == ["trace"] {
            let call = Call {
                method: &req.method,
                segments,
                query: req.uri.query(),
                body,
                identity,
                context: context.clone(),
            };
            return Ok(match call.require("admin:ServerTrace") {
                Ok(()) => self.trace_response(&call),
                Err(r) => json_response(r),
            });
        }
        let reply = match verify_body(&req.headers, &body) {
            Err(r) => r,
            Ok(()) => {
                let call = Call {
                    method: &req.method,
                    segments,
                    query: req.uri.query(),
                    body,
                    identity,
                    context,
                };
                match self.dispatch(call).await {
                    Ok(r) | Err(r) => r,
                }
            }
        };
        Ok(json_response(reply))
    }
}

fn json_response(reply: Reply) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(reply.1.to_string()));
    resp.status = Some(reply.0);
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl AdminRoute {
    /// A response that streams finished requests as JSON lines until the
    /// client goes away (`?errors=true`, `?bucket=NAME` filter them).
    fn trace_response(&self, call: &Call<'_>) -> S3Response<Body> {
        let filter = crate::trace::TraceFilter {
            errors_only: call.query("errors").is_some_and(|v| v == "true"),
            bucket: call.query("bucket").filter(|b| !b.is_empty()),
        };
        let stream = sync_wrapper::SyncStream::new(Box::pin(self.tracer.lines(filter)));
        let mut resp = S3Response::new(Body::from(s3s::dto::StreamingBlob::wrap(stream)));
        resp.status = Some(StatusCode::OK);
        resp.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        resp
    }
}
