//! The S3 protocol front of almacen, and the only crate that knows s3s.
//!
//! A request enters in [`front`] (request ids, health probes, error
//! decoration), then s3s parses and authenticates it ([`auth`] supplies
//! secrets and decides access), then one of the operation modules below
//! turns it into engine calls. Engine errors become S3 errors only in
//! [`error::to_s3`].
#![forbid(unsafe_code)]

mod acl_ops;
mod actions;
/// A node whose last heartbeat is older than this is shown offline (it
/// beats every 2 s; its background lease lapses after 10 s).
pub const CLUSTER_NODE_TIMEOUT_MS: i64 = 10_000;

pub mod admin;
pub mod audit;
pub mod audit_webhook;
mod auth;
pub mod auth_throttle;
mod bucket_ops;
mod conditions;
mod convert;
pub mod cors;
mod cors_ops;
pub mod encryption_ops;
pub mod error;
pub mod event_targets;
pub mod front;
mod host;
pub mod hygiene;
mod lifecycle_ops;
mod list_ops;
pub mod listen_ops;
pub mod metrics;
mod multipart_ops;
mod notification_ops;
mod object_lock_ops;
mod object_ops;
pub mod post_form;
pub mod query;
pub mod signature_rules;
mod sigv2;
pub mod slow_body;
mod tagging_ops;
pub mod trace;
mod versioning_ops;
mod xml_numbers;

use std::sync::Arc;

use almacen_engine::Engine;
use almacen_iam::IamStore;
use s3s::dto::*;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3, S3Request, S3Response, S3Result};

pub use auth::{
    Access, Auth, Authz, Caller, Connection, PeerAddr, SecureTransport, request_context,
};

/// Settings of the S3 front.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// Root access key (the owner shown in listings).
    pub access_key: String,
    /// Base domains for virtual-host-style addressing (`MINIO_DOMAIN`).
    pub domains: Vec<String>,
    /// ARNs of the event notification targets, kept current as targets are
    /// added and removed at run time.
    pub notify_targets: NotifyTargets,
    /// Accept customer keys (SSE-C): always under HTTPS, over plain HTTP only
    /// when the operator allows it (S3 refuses SSE-C without TLS).
    pub sse_c_insecure: bool,
    /// The public URL clients reach the server at (`MINIO_SERVER_URL`),
    /// used in the URLs the server writes into responses; without it they
    /// are built from the request's Host.
    pub server_url: Option<String>,
    /// MinIO's rule instead of AWS's: the root user ignores bucket policies,
    /// explicit Deny statements included (`ALMACEN_ROOT_IGNORES_BUCKET_POLICY`).
    pub root_ignores_bucket_policy: bool,
    /// Live request tracing, shared with the front.
    pub tracer: trace::Tracer,
    /// Run-time changes to event targets, when the server allows them.
    pub event_targets: Option<Arc<event_targets::EventTargetAdmin>>,
}

/// The S3 operations over the engine.
#[derive(Clone)]
pub struct Almacen {
    engine: Engine,
    authz: Authz,
    notify_targets: NotifyTargets,
    sse_c_insecure: bool,
    owner: Owner,
    server_url: Option<String>,
}

impl Almacen {
    /// The S3 operations for `engine`, owned by the root user `access_key`,
    /// with `authz` for the checks made inside operations.
    #[must_use]
    pub fn new(engine: Engine, authz: Authz, access_key: &str) -> Self {
        use sha2::Digest as _;
        Self {
            engine,
            authz,
            notify_targets: NotifyTargets::default(),
            sse_c_insecure: false,
            owner: Owner {
                display_name: Some(access_key.to_owned()),
                // A stable canonical user id shaped like AWS's (64 hex digits).
                id: Some(hex::encode(sha2::Sha256::digest(access_key.as_bytes()))),
            },
            server_url: None,
        }
    }
}

impl Almacen {
    /// The absolute URL of an object, as CompleteMultipartUpload's
    /// `Location` gives it: under `MINIO_SERVER_URL` when set, else under
    /// the Host the client used.
    pub(crate) fn object_url(&self, headers: &http::HeaderMap, bucket: &str, key: &str) -> String {
        let key = percent_encoding::utf8_percent_encode(key, &KEY_IN_PATH);
        match &self.server_url {
            Some(base) => format!("{base}/{bucket}/{key}"),
            None => {
                let host = headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}/{bucket}/{key}")
            }
        }
    }
}

/// What to escape of a key inside a URL path (`/` stays).
const KEY_IN_PATH: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The ARNs of the configured notification targets, shared by the S3
/// operations (which check the ARNs a bucket names) and the admin API
/// (which adds and removes targets).
pub type NotifyTargets = Arc<std::sync::RwLock<Vec<String>>>;

/// Builds the s3s service: operations, auth, access, the admin API, virtual hosts.
///
/// # Errors
/// A domain in `config.domains` is not a valid host name.
pub fn build_service(
    engine: Engine,
    iam: Arc<IamStore>,
    config: &FrontConfig,
) -> Result<S3Service, String> {
    let mut authz = Authz::new(engine.clone(), iam.clone());
    authz.root_ignores_bucket_policy = config.root_ignores_bucket_policy;
    let mut almacen = Almacen::new(engine.clone(), authz.clone(), &config.access_key);
    almacen.notify_targets = config.notify_targets.clone();
    almacen.sse_c_insecure = config.sse_c_insecure;
    almacen.server_url = config
        .server_url
        .as_ref()
        .map(|u| u.trim_end_matches('/').to_owned());
    let mut b = S3ServiceBuilder::new(almacen);
    b.set_auth(Auth::new(iam.clone()));
    b.set_access(Access::new(authz.clone()));
    let mut route = admin::AdminRoute::new(iam, engine, authz).with_tracer(config.tracer.clone());
    if let Some(t) = &config.event_targets {
        route = route.with_event_targets(t.clone());
    }
    b.set_route(route);
    if !config.domains.is_empty() {
        b.set_host(host::Domains::new(&config.domains));
    }
    Ok(b.build())
}

/// The S3 trait over the operation modules: each line is an s3s operation
/// (its input and output types) and the `op_*` method that serves it, in
/// the `*_ops.rs` module of its family.
macro_rules! operations {
    ($($name:ident($input:ident) -> $output:ident => $op:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Almacen {
            $(
                async fn $name(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.$op(req).await
                }
            )*
        }
    };
}

operations! {
    list_buckets(ListBucketsInput) -> ListBucketsOutput => op_list_buckets;
    create_bucket(CreateBucketInput) -> CreateBucketOutput => op_create_bucket;
    head_bucket(HeadBucketInput) -> HeadBucketOutput => op_head_bucket;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput => op_delete_bucket;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput => op_get_bucket_location;
    put_object(PutObjectInput) -> PutObjectOutput => op_put_object;
    get_object(GetObjectInput) -> GetObjectOutput => op_get_object;
    head_object(HeadObjectInput) -> HeadObjectOutput => op_head_object;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput => op_delete_object;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput => op_delete_objects;
    copy_object(CopyObjectInput) -> CopyObjectOutput => op_copy_object;
    list_objects(ListObjectsInput) -> ListObjectsOutput => op_list_objects;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output => op_list_objects_v2;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput => op_create_multipart_upload;
    upload_part(UploadPartInput) -> UploadPartOutput => op_upload_part;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput => op_upload_part_copy;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput => op_complete_multipart_upload;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput => op_abort_multipart_upload;
    list_parts(ListPartsInput) -> ListPartsOutput => op_list_parts;
    list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput => op_list_multipart_uploads;
    get_object_attributes(GetObjectAttributesInput) -> GetObjectAttributesOutput => op_get_object_attributes;
    get_object_acl(GetObjectAclInput) -> GetObjectAclOutput => op_get_object_acl;
    get_bucket_acl(GetBucketAclInput) -> GetBucketAclOutput => op_get_bucket_acl;
    list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput => op_list_object_versions;
    put_object_acl(PutObjectAclInput) -> PutObjectAclOutput => op_put_object_acl;
    put_bucket_acl(PutBucketAclInput) -> PutBucketAclOutput => op_put_bucket_acl;
    put_bucket_policy(PutBucketPolicyInput) -> PutBucketPolicyOutput => op_put_bucket_policy;
    get_bucket_policy(GetBucketPolicyInput) -> GetBucketPolicyOutput => op_get_bucket_policy;
    delete_bucket_policy(DeleteBucketPolicyInput) -> DeleteBucketPolicyOutput => op_delete_bucket_policy;
    put_bucket_cors(PutBucketCorsInput) -> PutBucketCorsOutput => op_put_bucket_cors;
    get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput => op_get_bucket_cors;
    delete_bucket_cors(DeleteBucketCorsInput) -> DeleteBucketCorsOutput => op_delete_bucket_cors;
    put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput => op_put_object_tagging;
    get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput => op_get_object_tagging;
    delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput => op_delete_object_tagging;
    put_bucket_tagging(PutBucketTaggingInput) -> PutBucketTaggingOutput => op_put_bucket_tagging;
    get_bucket_tagging(GetBucketTaggingInput) -> GetBucketTaggingOutput => op_get_bucket_tagging;
    delete_bucket_tagging(DeleteBucketTaggingInput) -> DeleteBucketTaggingOutput => op_delete_bucket_tagging;
    put_bucket_lifecycle_configuration(PutBucketLifecycleConfigurationInput) -> PutBucketLifecycleConfigurationOutput => op_put_bucket_lifecycle_configuration;
    get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput => op_get_bucket_lifecycle_configuration;
    delete_bucket_lifecycle(DeleteBucketLifecycleInput) -> DeleteBucketLifecycleOutput => op_delete_bucket_lifecycle;
    put_bucket_versioning(PutBucketVersioningInput) -> PutBucketVersioningOutput => op_put_bucket_versioning;
    get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput => op_get_bucket_versioning;
    put_object_lock_configuration(PutObjectLockConfigurationInput) -> PutObjectLockConfigurationOutput => op_put_object_lock_configuration;
    get_object_lock_configuration(GetObjectLockConfigurationInput) -> GetObjectLockConfigurationOutput => op_get_object_lock_configuration;
    put_object_retention(PutObjectRetentionInput) -> PutObjectRetentionOutput => op_put_object_retention;
    get_object_retention(GetObjectRetentionInput) -> GetObjectRetentionOutput => op_get_object_retention;
    put_object_legal_hold(PutObjectLegalHoldInput) -> PutObjectLegalHoldOutput => op_put_object_legal_hold;
    get_object_legal_hold(GetObjectLegalHoldInput) -> GetObjectLegalHoldOutput => op_get_object_legal_hold;
    put_bucket_notification_configuration(PutBucketNotificationConfigurationInput) -> PutBucketNotificationConfigurationOutput => op_put_bucket_notification_configuration;
    get_bucket_notification_configuration(GetBucketNotificationConfigurationInput) -> GetBucketNotificationConfigurationOutput => op_get_bucket_notification_configuration;
    put_bucket_encryption(PutBucketEncryptionInput) -> PutBucketEncryptionOutput => op_put_bucket_encryption;
    get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput => op_get_bucket_encryption;
    delete_bucket_encryption(DeleteBucketEncryptionInput) -> DeleteBucketEncryptionOutput => op_delete_bucket_encryption;
    get_bucket_policy_status(GetBucketPolicyStatusInput) -> GetBucketPolicyStatusOutput => op_get_bucket_policy_status;
}
