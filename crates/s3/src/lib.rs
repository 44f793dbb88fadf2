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

#[async_trait::async_trait]
impl S3 for Almacen {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.op_list_buckets(req).await
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.op_create_bucket(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.op_head_bucket(req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.op_delete_bucket(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.op_get_bucket_location(req).await
    }
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.op_put_object(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.op_get_object(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.op_head_object(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.op_delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.op_delete_objects(req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.op_copy_object(req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.op_list_objects(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.op_list_objects_v2(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.op_create_multipart_upload(req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.op_upload_part(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.op_upload_part_copy(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.op_complete_multipart_upload(req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.op_abort_multipart_upload(req).await
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.op_list_parts(req).await
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.op_list_multipart_uploads(req).await
    }
    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        self.op_get_object_attributes(req).await
    }
    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        self.op_get_object_acl(req).await
    }
    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.op_get_bucket_acl(req).await
    }
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        self.op_list_object_versions(req).await
    }
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        self.op_put_object_acl(req).await
    }
    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        self.op_put_bucket_acl(req).await
    }
    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.op_put_bucket_policy(req).await
    }
    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        self.op_get_bucket_policy(req).await
    }
    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.op_delete_bucket_policy(req).await
    }
    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        self.op_put_bucket_cors(req).await
    }
    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        self.op_get_bucket_cors(req).await
    }
    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.op_delete_bucket_cors(req).await
    }
    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        self.op_put_object_tagging(req).await
    }
    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        self.op_get_object_tagging(req).await
    }
    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        self.op_delete_object_tagging(req).await
    }
    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        self.op_put_bucket_tagging(req).await
    }
    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        self.op_get_bucket_tagging(req).await
    }
    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.op_delete_bucket_tagging(req).await
    }
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        self.op_put_bucket_lifecycle_configuration(req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        self.op_get_bucket_lifecycle_configuration(req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.op_delete_bucket_lifecycle(req).await
    }
    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        self.op_put_bucket_versioning(req).await
    }
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.op_get_bucket_versioning(req).await
    }
    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        self.op_put_object_lock_configuration(req).await
    }
    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        self.op_get_object_lock_configuration(req).await
    }
    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        self.op_put_object_retention(req).await
    }
    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        self.op_get_object_retention(req).await
    }
    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        self.op_put_object_legal_hold(req).await
    }
    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        self.op_get_object_legal_hold(req).await
    }
    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        self.op_put_bucket_notification_configuration(req).await
    }
    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        self.op_get_bucket_notification_configuration(req).await
    }
    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        self.op_put_bucket_encryption(req).await
    }
    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        self.op_get_bucket_encryption(req).await
    }
    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.op_delete_bucket_encryption(req).await
    }
    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        self.op_get_bucket_policy_status(req).await
    }
}
