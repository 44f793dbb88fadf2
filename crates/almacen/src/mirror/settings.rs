//! Bucket settings: created with object lock when the source has it, then
//! versioning, policy, lifecycle, CORS, tags, default encryption and
//! notifications copied where the source exposes them. A setting the
//! source does not have is skipped; one the destination refuses (a
//! notification ARN it lacks, say) is a warning, not the end of the mirror.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CorsConfiguration,
    CreateBucketConfiguration, NotificationConfiguration, Tagging, VersioningConfiguration,
};

use super::describe;

/// Error codes that mean "this bucket has no such setting".
const ABSENT: &[&str] = &[
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchCORSConfiguration",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "ServerSideEncryptionConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError",
    "NotImplemented",
];

/// The answer of a settings read: the value, or `None` when the source has
/// none or does not expose it (said once on stderr).
fn got<T, E>(bucket: &str, what: &str, r: Result<T, aws_sdk_s3::error::SdkError<E>>) -> Option<T>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(v) => Some(v),
        Err(e) if e.code().is_some_and(|c| ABSENT.contains(&c)) => None,
        Err(e) => {
            eprintln!(
                "warning: {bucket}: cannot read the source's {what}: {}",
                describe(&e)
            );
            None
        }
    }
}

/// Applies one setting on the destination, or says what it would do.
async fn apply<T, E>(
    bucket: &str,
    what: &str,
    dry_run: bool,
    put: impl std::future::Future<Output = Result<T, aws_sdk_s3::error::SdkError<E>>>,
) where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    if dry_run {
        eprintln!("{bucket}: would set {what}");
        return;
    }
    match put.await {
        Ok(_) => eprintln!("{bucket}: {what} set"),
        Err(e) => eprintln!(
            "warning: {bucket}: the destination refused the {what}: {}",
            describe(&e)
        ),
    }
}

/// Creates the bucket on the destination if missing (with object lock when
/// the source has it, which only creation can turn on). Returns whether it
/// existed already.
///
/// # Errors
/// The destination cannot be asked or refuses the creation.
pub async fn ensure_bucket(
    src: &Client,
    dst: &Client,
    bucket: &str,
    region: &str,
    dry_run: bool,
) -> anyhow::Result<bool> {
    match dst.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(true),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
        Err(e) => anyhow::bail!(
            "{bucket}: cannot reach the destination bucket: {}",
            describe(&e)
        ),
    }
    let lock = got(
        bucket,
        "object lock configuration",
        src.get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await,
    )
    .and_then(|o| o.object_lock_configuration().cloned())
    .filter(|c| c.object_lock_enabled().is_some());
    if dry_run {
        eprintln!(
            "{bucket}: would create the bucket{}",
            if lock.is_some() {
                " with object lock"
            } else {
                ""
            }
        );
        return Ok(false);
    }
    let mut create = dst.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    if lock.is_some() {
        create = create.object_lock_enabled_for_bucket(true);
    }
    create.send().await.map_err(|e| {
        anyhow::anyhow!(
            "{bucket}: cannot create the bucket on the destination: {}",
            describe(&e)
        )
    })?;
    eprintln!("{bucket}: created");
    if let Some(cfg) = lock.filter(|c| c.rule().is_some()) {
        apply(
            bucket,
            "object lock default retention",
            false,
            dst.put_object_lock_configuration()
                .bucket(bucket)
                .object_lock_configuration(cfg)
                .send(),
        )
        .await;
    }
    Ok(false)
}

/// Copies the bucket's settings. Returns whether the source keeps versions
/// (versioning enabled or suspended).
///
/// # Errors
/// Building a setting from the source's answer failed (a malformed answer).
pub async fn copy(src: &Client, dst: &Client, bucket: &str, dry_run: bool) -> anyhow::Result<bool> {
    let status = got(
        bucket,
        "versioning",
        src.get_bucket_versioning().bucket(bucket).send().await,
    )
    .and_then(|v| v.status().cloned());
    if let Some(s) = &status {
        apply(
            bucket,
            &format!("versioning {}", s.as_str()),
            dry_run,
            dst.put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(s.clone()).build(),
                )
                .send(),
        )
        .await;
    }
    if let Some(doc) = got(
        bucket,
        "policy",
        src.get_bucket_policy().bucket(bucket).send().await,
    )
    .and_then(|p| p.policy().map(str::to_owned))
    {
        apply(
            bucket,
            "policy",
            dry_run,
            dst.put_bucket_policy().bucket(bucket).policy(doc).send(),
        )
        .await;
    }
    if let Some(out) = got(
        bucket,
        "lifecycle",
        src.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await,
    )
    .filter(|o| !o.rules().is_empty())
    {
        let cfg = BucketLifecycleConfiguration::builder()
            .set_rules(Some(out.rules().to_vec()))
            .build()?;
        apply(
            bucket,
            "lifecycle",
            dry_run,
            dst.put_bucket_lifecycle_configuration()
                .bucket(bucket)
                .lifecycle_configuration(cfg)
                .send(),
        )
        .await;
    }
    if let Some(out) = got(
        bucket,
        "CORS",
        src.get_bucket_cors().bucket(bucket).send().await,
    )
    .filter(|o| !o.cors_rules().is_empty())
    {
        let cfg = CorsConfiguration::builder()
            .set_cors_rules(Some(out.cors_rules().to_vec()))
            .build()?;
        apply(
            bucket,
            "CORS",
            dry_run,
            dst.put_bucket_cors()
                .bucket(bucket)
                .cors_configuration(cfg)
                .send(),
        )
        .await;
    }
    if let Some(out) = got(
        bucket,
        "tags",
        src.get_bucket_tagging().bucket(bucket).send().await,
    )
    .filter(|o| !o.tag_set().is_empty())
    {
        let tags = Tagging::builder()
            .set_tag_set(Some(out.tag_set().to_vec()))
            .build()?;
        apply(
            bucket,
            "tags",
            dry_run,
            dst.put_bucket_tagging().bucket(bucket).tagging(tags).send(),
        )
        .await;
    }
    if let Some(cfg) = got(
        bucket,
        "default encryption",
        src.get_bucket_encryption().bucket(bucket).send().await,
    )
    .and_then(|o| o.server_side_encryption_configuration().cloned())
    {
        apply(
            bucket,
            "default encryption",
            dry_run,
            dst.put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(cfg)
                .send(),
        )
        .await;
    }
    if let Some(out) = got(
        bucket,
        "notifications",
        src.get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await,
    ) {
        let empty = out.queue_configurations().is_empty()
            && out.topic_configurations().is_empty()
            && out.lambda_function_configurations().is_empty();
        if !empty {
            let cfg = NotificationConfiguration::builder()
                .set_queue_configurations(Some(out.queue_configurations().to_vec()))
                .set_topic_configurations(Some(out.topic_configurations().to_vec()))
                .set_lambda_function_configurations(Some(
                    out.lambda_function_configurations().to_vec(),
                ))
                .build();
            apply(
                bucket,
                "notifications",
                dry_run,
                dst.put_bucket_notification_configuration()
                    .bucket(bucket)
                    .notification_configuration(cfg)
                    .send(),
            )
            .await;
        }
    }
    Ok(status.is_some())
}
