//! `almacen bench`: drives any S3 endpoint (almacen, MinIO, AWS...) with
//! SigV4-signed requests over kept-alive connections and reports ops/s,
//! MiB/s, latency percentiles and errors, as a table and as JSON, like
//! MinIO's warp. `almacen bench machine` measures the machine's own limits
//! (fsync'd writes, small-file create+fsync, loopback TCP, MD5/SHA-256) that
//! the results are compared with in docs/benchmarks.md.
#![forbid(unsafe_code)]

mod body;
mod client;
mod hist;
mod machine;
mod report;
mod units;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::client::{Conn, Target};
use crate::report::{Op, OpStats, Report};
use crate::workload::{Shared, Work, Worker};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Upload new objects.
    Put,
    /// Download prepared objects.
    Get,
    /// GET, PUT, DELETE and HEAD in the ratio of `--mix`.
    Mixed,
    /// Page through prepared objects with ListObjectsV2.
    List,
    /// Delete prepared objects (the run ends when they are gone).
    Delete,
    /// Whole multipart uploads of `--size` in parts of `--part-size`.
    Multipart,
    /// The machine's own limits: fsync'd write, 4 KiB create+fsync, loopback
    /// TCP, MD5 and SHA-256 of one core (no server involved).
    Machine,
}

/// `almacen bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: Mode,
    /// The S3 endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Access key; default `ALMACEN_ROOT_USER` or `MINIO_ROOT_USER`.
    #[arg(long)]
    pub access_key: Option<String>,
    /// Secret key; default `ALMACEN_ROOT_PASSWORD` or `MINIO_ROOT_PASSWORD`.
    #[arg(long)]
    pub secret_key: Option<String>,
    /// Take endpoint and keys from a saved `almacen admin alias`.
    #[arg(long)]
    pub alias: Option<String>,
    /// Region to sign for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Bucket (created if missing).
    #[arg(long, default_value = "almacen-bench")]
    pub bucket: String,
    /// Prefix of every key the run writes or reads.
    #[arg(long, default_value = "bench/")]
    pub prefix: String,
    /// Object size (4KiB, 1MiB, 5GiB...).
    #[arg(long, default_value = "4KiB", value_parser = units::parse_size)]
    pub size: u64,
    /// Parallel requests, one connection each.
    #[arg(long, short = 'c', default_value_t = 16)]
    pub concurrency: u64,
    /// How long to measure (10s, 500ms, 2m); ignored with `--count`.
    #[arg(long, default_value = "10s", value_parser = units::parse_duration)]
    pub duration: Duration,
    /// Measure this many operations instead of a duration.
    #[arg(long)]
    pub count: Option<u64>,
    /// Run unmeasured for this long first.
    #[arg(long, default_value = "0s", value_parser = units::parse_duration)]
    pub warmup: Duration,
    /// Objects to prepare for get, mixed, list and delete.
    #[arg(long, default_value_t = 1000)]
    pub objects: u64,
    /// The objects are there already (from an earlier run with the same
    /// bucket, prefix, size and `--objects`): do not upload them.
    #[arg(long)]
    pub no_prepare: bool,
    /// Part size of multipart uploads.
    #[arg(long, default_value = "16MiB", value_parser = units::parse_size)]
    pub part_size: u64,
    /// LIST page size.
    #[arg(long, default_value_t = 1000)]
    pub max_keys: u32,
    /// LIST with this delimiter (common prefixes), e.g. `/`.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Mixed run ratio, e.g. `get=60,put=20,delete=10,head=10`.
    #[arg(long, default_value = "get=60,put=20,delete=10,head=10")]
    pub mix: String,
    /// Print JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Worker threads of the client (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// `machine` mode: the folder whose disk is measured.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// `machine` mode: bytes of the fsync'd sequential write and of each hash run.
    #[arg(long, default_value = "1GiB", value_parser = units::parse_size)]
    pub machine_size: u64,
}

/// Runs the benchmark and prints its report.
///
/// # Errors
/// Bad arguments, or any request failed (after the report is printed).
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().context("starting the runtime")?;
    if args.mode == Mode::Machine {
        return machine::run(&args.dir, args.machine_size, args.json);
    }
    let report = rt.block_on(bench(&args))?;
    let table = report.table();
    if args.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{table}");
    }
    let errors = report.total_errors();
    anyhow::ensure!(errors == 0, "{errors} requests failed");
    Ok(())
}

fn env_first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok())
}

fn parse_mix(text: &str) -> anyhow::Result<Vec<(Op, u32)>> {
    let mut mix = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, w) = part
            .split_once('=')
            .with_context(|| format!("--mix: expected OP=WEIGHT, got {part:?}"))?;
        let op = match name.trim() {
            "get" => Op::Get,
            "put" => Op::Put,
            "delete" => Op::Delete,
            "head" => Op::Head,
            other => anyhow::bail!("--mix: unknown operation {other:?} (get, put, delete, head)"),
        };
        let w: u32 = w
            .trim()
            .parse()
            .with_context(|| format!("--mix: bad weight in {part:?}"))?;
        mix.push((op, w));
    }
    anyhow::ensure!(
        mix.iter().any(|(_, w)| *w > 0),
        "--mix: at least one weight must be above 0"
    );
    Ok(mix)
}

async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let access = args
        .access_key
        .clone()
        .or_else(|| env_first(&["ALMACEN_ROOT_USER", "MINIO_ROOT_USER"]))
        .context("no access key: pass --access-key, --alias or set MINIO_ROOT_USER")?;
    let secret = args
        .secret_key
        .clone()
        .or_else(|| env_first(&["ALMACEN_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD"]))
        .context("no secret key: pass --secret-key, --alias or set MINIO_ROOT_PASSWORD")?;
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let mix = if args.mode == Mode::Mixed {
        parse_mix(&args.mix)?
    } else {
        Vec::new()
    };
    let target = Arc::new(Target::new(&args.endpoint, &access, &secret, &args.region)?);
    let shared = Arc::new(Shared {
        target: target.clone(),
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        size: args.size,
        pattern: body::pattern(args.size),
        objects: args.objects,
        part_size: args.part_size,
        max_keys: args.max_keys,
        delimiter: args.delimiter.clone(),
        mix,
        next_key: AtomicU64::new(0),
        budget: args.count.map(AtomicU64::new),
    });
    let mut setup_errors = std::collections::BTreeMap::new();
    if let Err(kind) = create_bucket(&target, &args.bucket).await {
        eprintln!("almacen bench: creating bucket {}: {kind}", args.bucket);
        *setup_errors
            .entry(format!("create bucket: {kind}"))
            .or_insert(0) += 1;
    }
    let needs_objects = matches!(
        args.mode,
        Mode::Get | Mode::Mixed | Mode::List | Mode::Delete
    );
    if needs_objects && !args.no_prepare {
        eprintln!(
            "almacen bench: preparing {} objects of {}",
            args.objects,
            units::human_size(args.size)
        );
        let (_, stats) = phase(&shared, args.concurrency, Work::Prepare, None, None).await;
        for s in stats {
            for (k, v) in s.errors {
                *setup_errors.entry(format!("prepare: {k}")).or_insert(0) += v;
            }
        }
        shared.next_key.store(0, Ordering::Relaxed);
    }
    let work = match args.mode {
        Mode::Put => Work::Only(Op::Put),
        Mode::Get => Work::Only(Op::Get),
        Mode::Mixed => Work::Mixed,
        Mode::List => Work::Only(Op::List),
        Mode::Delete => Work::Only(Op::Delete),
        Mode::Multipart => Work::Only(Op::Multipart),
        Mode::Machine => unreachable!("handled before"),
    };
    let warm = (!args.warmup.is_zero()).then(|| Instant::now() + args.warmup);
    let end = match args.count {
        Some(_) => None,
        None => Some(warm.unwrap_or_else(Instant::now) + args.duration),
    };
    let (secs, stats) = phase(&shared, args.concurrency, work, warm, end).await;
    let ops = Op::ALL
        .iter()
        .zip(stats)
        .filter(|(op, s)| s.ops + s.error_count() > 0 || Work::Only(**op) == work)
        .map(|(op, s)| (*op, s))
        .collect();
    Ok(Report {
        settings: json!({
            "mode": format!("{:?}", args.mode).to_lowercase(),
            "endpoint": args.endpoint,
            "bucket": args.bucket,
            "prefix": args.prefix,
            "size": args.size,
            "concurrency": args.concurrency,
            "duration_s": args.count.is_none().then_some(args.duration.as_secs_f64()),
            "count": args.count,
            "warmup_s": args.warmup.as_secs_f64(),
            "objects": args.objects,
            "part_size": args.part_size,
            "max_keys": args.max_keys,
            "delimiter": args.delimiter,
            "mix": (args.mode == Mode::Mixed).then(|| args.mix.clone()),
        }),
        secs,
        ops,
        setup_errors,
    })
}

/// Runs `workers` workers; each warms up until `warm` (if given), then
/// measures until `end` or until the work runs out. Returns the measured
/// seconds and the merged statistics per operation kind.
async fn phase(
    shared: &Arc<Shared>,
    workers: u64,
    work: Work,
    warm: Option<Instant>,
    end: Option<Instant>,
) -> (f64, Vec<OpStats>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..workers {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = Worker::new(&shared, id, workers);
            if let Some(warm) = warm {
                w.run(&shared, work, Some(warm), false).await;
            }
            w.run(&shared, work, end, true).await;
            w.stats
        }));
    }
    let start = warm.unwrap_or(start);
    let mut merged = vec![OpStats::default(); Op::ALL.len()];
    for t in tasks {
        if let Ok(stats) = t.await {
            for (m, s) in merged.iter_mut().zip(&stats) {
                m.merge(s);
            }
        }
    }
    let secs = Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64();
    (secs.max(1e-6), merged)
}

/// PUT /bucket; an existing bucket of ours is fine.
async fn create_bucket(target: &Arc<Target>, bucket: &str) -> Result<(), String> {
    let mut conn = Conn::new(target.clone());
    let empty = body::RepeatBody::new(&bytes::Bytes::from_static(b" "), 0);
    let r = conn
        .send(http::Method::PUT, &format!("/{bucket}"), empty, 0, false)
        .await?;
    if r.status.is_success() {
        return Ok(());
    }
    let kind = r.error_kind();
    if kind.ends_with("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    Err(kind)
}
