//! `almacen mirror SRC DST`: copies everything from a live S3 endpoint
//! (MinIO, AWS, another almacen) to another, because MinIO's data folders
//! cannot be read in place: buckets with their settings, then objects with
//! their metadata and tags, every version in order where the source keeps
//! versions. Running it again copies only what is missing, so an
//! interrupted mirror resumes; it ends by counting both sides.

mod objects;
mod progress;
mod settings;

use anyhow::{Context as _, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;

use crate::admin::aliases::Alias;

/// `almacen mirror` arguments.
#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// The source: an alias (`almacen admin alias set`), or
    /// `http://ACCESS:SECRET@host:port` (`https://` too).
    pub src: String,
    /// The destination, written the same way.
    pub dst: String,
    /// Only this bucket (repeat for several); default: every bucket of the source.
    #[arg(long = "bucket")]
    pub buckets: Vec<String>,
    /// Show what would be copied and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Copy only each object's current version, even from versioned buckets.
    #[arg(long)]
    pub latest_only: bool,
}

/// An S3 client for an alias: path style, its region, its keys.
fn client(alias: &Alias) -> Client {
    let creds = aws_credential_types::Credentials::new(
        &alias.access_key,
        &alias.secret_key,
        None,
        None,
        "almacen-mirror",
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(&alias.url)
        .region(aws_sdk_s3::config::Region::new(alias.region.clone()))
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

/// Runs the mirror.
///
/// # Errors
/// A side cannot be reached, a bucket cannot be listed or created, or the
/// final counts differ.
pub fn run(args: &MirrorArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(args))
}

async fn run_async(args: &MirrorArgs) -> anyhow::Result<()> {
    let src_alias = crate::admin::aliases::resolve(&args.src)?;
    let dst_alias = crate::admin::aliases::resolve(&args.dst)?;
    let src = client(&src_alias);
    let dst = client(&dst_alias);
    let buckets = if args.buckets.is_empty() {
        src.list_buckets()
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("{}: cannot list buckets: {}", src_alias.url, describe(&e))
            })?
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    } else {
        args.buckets.clone()
    };
    let what = if args.dry_run {
        "dry run: nothing is written"
    } else {
        "copying"
    };
    eprintln!(
        "{} -> {}: {} bucket(s), {what}",
        src_alias.url,
        dst_alias.url,
        buckets.len()
    );

    let mut progress = progress::Progress::new();
    let mut summaries = Vec::new();
    let mut failures = 0usize;
    for bucket in &buckets {
        let existed =
            settings::ensure_bucket(&src, &dst, bucket, &dst_alias.region, args.dry_run).await?;
        let versioned = settings::copy(&src, &dst, bucket, args.dry_run).await?;
        let outcome = objects::copy_bucket(
            &src,
            &dst,
            bucket,
            versioned && !args.latest_only,
            args.dry_run,
            existed,
            &mut progress,
        )
        .await?;
        failures += outcome.failed;
        let src_count = objects::count(&src, bucket, versioned).await?;
        let dst_count = if existed || !args.dry_run {
            objects::count(&dst, bucket, versioned).await?
        } else {
            objects::Count::default()
        };
        summaries.push((bucket.clone(), outcome, src_count, dst_count));
    }

    println!(
        "{:<30} {:>9} {:>12} {:>21} {:>21}",
        "bucket", "copied", "copied MiB", "objects src/dst", "bytes src/dst"
    );
    let mut differ = Vec::new();
    for (bucket, outcome, s, d) in &summaries {
        println!(
            "{:<30} {:>9} {:>12.1} {:>21} {:>21}",
            bucket,
            outcome.copied,
            outcome.bytes as f64 / 1_048_576.0,
            format!("{}/{}", s.objects, d.objects),
            format!("{}/{}", s.bytes, d.bytes),
        );
        if s.versions > 0 || d.versions > 0 {
            println!(
                "{:<30} {:>9} {:>12} {:>21}",
                "",
                "",
                "versions",
                format!("{}/{}", s.versions, d.versions)
            );
        }
        if s != d {
            differ.push(bucket.as_str());
        }
    }
    if args.dry_run {
        return Ok(());
    }
    if failures > 0 || !differ.is_empty() {
        bail!(
            "{failures} object(s) could not be copied; counts differ in: {} (run the mirror again to resume)",
            if differ.is_empty() {
                "none".to_owned()
            } else {
                differ.join(", ")
            }
        );
    }
    Ok(())
}

/// An SDK error as `Code: message`, or its display form.
fn describe<E>(e: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)),
    }
}
