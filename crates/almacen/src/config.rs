//! Command line and environment, MinIO-compatible: the same flags, the same
//! `MINIO_*` variables, plus `ALMACEN_*` aliases that win when both are set.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};

/// The almacen command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "almacen",
    version,
    about = "S3-compatible object storage server"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the S3 API from a data folder.
    Server(ServerArgs),
    /// Manage a running server: users, groups, policies, access keys, bucket policies.
    Admin(crate::admin::AdminArgs),
    /// Exit 0 when the server answers /minio/health/ready with 200 (a container
    /// healthcheck, like `mc ready local`), non-zero otherwise.
    Ready(crate::ready::ReadyArgs),
    /// Copy every bucket (settings, objects, versions) from one S3 endpoint to
    /// another, e.g. from MinIO to almacen; run it again to resume.
    Mirror(crate::mirror::MirrorArgs),
    /// Write a private authority and a certificate signed by it into a certs
    /// folder, for HTTPS in trials, on a LAN and in tests.
    Certgen(crate::certgen::CertgenArgs),
    /// Load-test any S3 endpoint (put, get, mixed, list, delete, multipart)
    /// or measure this machine's limits (`almacen bench machine`).
    Bench(almacen_bench::BenchArgs),
}

/// `almacen server` arguments.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The data folder (created if missing).
    pub data_dir: PathBuf,
    /// Address of the S3 API, `HOST:PORT` or `:PORT` (all interfaces); also
    /// `ALMACEN_ADDRESS` or `MINIO_ADDRESS`. Default `:9000`.
    #[arg(long)]
    pub address: Option<String>,
    /// Address of the web console, `HOST:PORT` or `:PORT`; also
    /// `ALMACEN_CONSOLE_ADDRESS` or `MINIO_CONSOLE_ADDRESS`. Default `:9001`.
    #[arg(long)]
    pub console_address: Option<String>,
    /// Folder with `public.crt` and `private.key` (and one subfolder per
    /// further certificate, chosen by SNI): HTTPS when it holds one. Also
    /// `ALMACEN_CERTS_DIR`. Default `~/.almacen/certs`, or `~/.minio/certs`
    /// when only that one exists.
    #[arg(long, short = 'S')]
    pub certs_dir: Option<PathBuf>,
    /// Keep metadata in PostgreSQL (or CockroachDB, YugabyteDB) instead of
    /// `DATA/meta.db`: `postgres://user:password@host:5432/database`. Any
    /// number of nodes with the same URL and a shared data folder serve one
    /// namespace. Also `ALMACEN_META_URL`.
    #[arg(long = "meta")]
    pub meta_url: Option<String>,
    /// This node's name among several (letters, digits, `.`, `_`, `-`, `:`);
    /// also `ALMACEN_NODE_ID`. Default: host name and API port.
    #[arg(long)]
    pub node_id: Option<String>,
}

/// Where metadata lives.
#[derive(Debug, Clone)]
pub enum MetaBackend {
    /// `DATA/meta.db`, this process only.
    Embedded,
    /// A PostgreSQL-compatible database shared by several nodes.
    Postgres {
        /// The connection URL (may hold a password: never logged).
        url: String,
        /// Connections this node keeps at most (`ALMACEN_META_POOL`, default 16).
        pool: usize,
        /// This node's name.
        node_id: String,
    },
}

/// Everything the server needs, resolved and validated.
#[derive(Debug)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub address: SocketAddr,
    pub console_address: String,
    /// Where HTTPS certificates are looked for (none found: plain HTTP).
    pub certs_dir: Option<PathBuf>,
    pub access_key: String,
    pub secret_key: String,
    pub default_credentials: bool,
    pub region: String,
    pub domains: Vec<String>,
    pub server_url: Option<String>,
    /// Key material that seals stored IAM secrets instead of the root secret.
    pub master_key: Option<String>,
    /// Origins allowed by CORS on buckets without rules of their own.
    pub cors_allow_origin: Vec<String>,
    /// A shortened lifecycle day, for tests and demos.
    pub lifecycle_day_seconds: Option<u64>,
    /// Metrics readable without a token (`MINIO_PROMETHEUS_AUTH_TYPE=public`).
    pub prometheus_public: bool,
    /// Accept SSE-C over plain HTTP (for tests and trusted networks).
    pub sse_c_insecure: bool,
    /// The master key for SSE-S3 (`MINIO_KMS_SECRET_KEY` format).
    pub kms_key: Option<almacen_engine::MasterKey>,
    /// Master keys used before the current one (`ALMACEN_KMS_PREVIOUS_KEYS`),
    /// parsed, and as given (they also open IAM secrets sealed under them).
    pub kms_previous: Vec<(almacen_engine::MasterKey, String)>,
    /// Further active keys for SSE-KMS key ids (`ALMACEN_KMS_KEYS`).
    pub kms_extra: Vec<almacen_engine::MasterKey>,
    /// Event notification targets (webhook, Redis, NATS, PostgreSQL).
    pub notify_targets: Vec<almacen_notify::Target>,
    /// Where to append the audit log, if anywhere.
    pub audit_log: Option<PathBuf>,
    /// Rotate the audit log at this many bytes.
    pub audit_log_max_bytes: u64,
    /// MinIO's rule: the root user ignores bucket policies (default: AWS's,
    /// where an explicit Deny binds the root user too).
    pub root_ignores_bucket_policy: bool,
    /// Whether Signature V2 is accepted (`ALMACEN_SIGV2=off` refuses it).
    pub sigv2: bool,
    /// MinIO's rule for a server without a region: signatures for any
    /// region are accepted (`ALMACEN_ACCEPT_ANY_REGION=on`; default AWS's,
    /// the credential scope must name this server's region).
    pub accept_any_region: bool,
    /// Bytes per second the background scrubber may read (none: no scrubber).
    pub scrub_rate: Option<u64>,
    /// Pause between scrubber passes.
    pub scrub_interval: std::time::Duration,
    /// Buckets to create at start (`ALMACEN_BUCKETS`).
    pub buckets: Vec<crate::provision::BucketSpec>,
    /// Connection caps and slow-client timeouts.
    pub limits: crate::limits::Limits,
    /// Where metadata lives.
    pub meta: MetaBackend,
}

/// A positive whole number from `var`, or `default` when unset.
fn positive(var: &str, default: u64) -> anyhow::Result<u64> {
    match env_any(&[var]) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{var}={v:?} is not a positive number")),
    }
}

/// Connection caps and slow-client timeouts from the environment.
fn limits_from_env() -> anyhow::Result<crate::limits::Limits> {
    let d = crate::limits::Limits::default();
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let window = positive("ALMACEN_BODY_TIMEOUT_SECONDS", d.body_rate.window.as_secs())?;
    let min_rate = match env_any(&["ALMACEN_BODY_MIN_RATE"]) {
        None => d.body_rate.min_bytes / d.body_rate.window.as_secs().max(1),
        Some(v) => parse_bytes(&v).with_context(|| {
            format!("ALMACEN_BODY_MIN_RATE={v:?} is not a byte rate such as 1KiB")
        })?,
    };
    Ok(crate::limits::Limits {
        max_connections: to_usize(positive(
            "ALMACEN_MAX_CONNECTIONS",
            d.max_connections as u64,
        )?),
        max_per_client: to_usize(positive(
            "ALMACEN_MAX_CONNECTIONS_PER_CLIENT",
            d.max_per_client as u64,
        )?),
        header_timeout: std::time::Duration::from_secs(positive(
            "ALMACEN_HEADER_TIMEOUT_SECONDS",
            d.header_timeout.as_secs(),
        )?),
        body_rate: almacen_s3::slow_body::BodyRate {
            window: std::time::Duration::from_secs(window),
            min_bytes: min_rate.saturating_mul(window),
        },
    })
}

/// Parses a comma-separated list of `name:base64` master keys from `var`,
/// keeping each as given (IAM sealing derives from the text).
fn key_list(var: &str) -> anyhow::Result<Vec<(almacen_engine::MasterKey, String)>> {
    env_any(&[var])
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|spec| {
                    almacen_engine::MasterKey::parse(spec)
                        .map(|k| (k, spec.to_owned()))
                        .map_err(|e| anyhow::anyhow!("{var}: {e}"))
                })
                .collect()
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Parses a byte count: `1048576`, `512KiB`, `16MiB`, `1GiB` (or KB/MB/GB, decimal).
fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn env_any(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// Parses MinIO-style addresses: `:9000` means every interface.
pub(crate) fn parse_address(s: &str) -> anyhow::Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.to_socket_addrs()
        .with_context(|| format!("invalid address {s:?} (expected HOST:PORT or :PORT)"))?
        .next()
        .with_context(|| format!("address {s:?} resolves to nothing"))
}

impl ServerConfig {
    /// Resolves flags and environment.
    ///
    /// # Errors
    /// A bad address, or credentials MinIO would refuse too.
    pub fn from_args(args: ServerArgs) -> anyhow::Result<Self> {
        let address = parse_address(
            &args
                .address
                .or_else(|| env_any(&["ALMACEN_ADDRESS", "MINIO_ADDRESS"]))
                .unwrap_or_else(|| ":9000".to_owned()),
        )?;
        let console_address = args
            .console_address
            .or_else(|| env_any(&["ALMACEN_CONSOLE_ADDRESS", "MINIO_CONSOLE_ADDRESS"]))
            .unwrap_or_else(|| ":9001".to_owned());
        let buckets = crate::provision::parse(&env_any(&["ALMACEN_BUCKETS"]).unwrap_or_default())
            .context("ALMACEN_BUCKETS")?;
        let user = env_any(&["ALMACEN_ROOT_USER", "MINIO_ROOT_USER", "MINIO_ACCESS_KEY"]);
        let password = env_any(&[
            "ALMACEN_ROOT_PASSWORD",
            "MINIO_ROOT_PASSWORD",
            "MINIO_SECRET_KEY",
        ]);
        let default_credentials = user.is_none() && password.is_none();
        let (access_key, secret_key) = match (user, password) {
            (None, None) => ("minioadmin".to_owned(), "minioadmin".to_owned()),
            (Some(u), Some(p)) => (u, p),
            (Some(_), None) => bail!("MINIO_ROOT_USER is set but MINIO_ROOT_PASSWORD is not"),
            (None, Some(_)) => bail!("MINIO_ROOT_PASSWORD is set but MINIO_ROOT_USER is not"),
        };
        if access_key.len() < 3 {
            bail!("the root user must be at least 3 characters long");
        }
        if secret_key.len() < 8 {
            bail!("the root password must be at least 8 characters long");
        }
        let region = env_any(&[
            "ALMACEN_REGION",
            "MINIO_REGION",
            "MINIO_SITE_REGION",
            "MINIO_REGION_NAME",
        ])
        .unwrap_or_else(|| "us-east-1".to_owned());
        let domains = env_any(&["ALMACEN_DOMAIN", "MINIO_DOMAIN"])
            .map(|d| {
                d.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let lifecycle_day_seconds = match env_any(&["ALMACEN_LIFECYCLE_DAY_SECONDS"]) {
            None => None,
            Some(v) => Some(v.parse::<u64>().ok().filter(|n| *n > 0).with_context(|| {
                format!("ALMACEN_LIFECYCLE_DAY_SECONDS={v:?} is not a positive number of seconds")
            })?),
        };
        let audit_log_max_bytes = match env_any(&["ALMACEN_AUDIT_LOG_MAX_MIB"]) {
            None => 100 << 20,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| {
                    format!("ALMACEN_AUDIT_LOG_MAX_MIB={v:?} is not a positive number")
                })?
                .saturating_mul(1 << 20),
        };
        // The scrubber re-reads all data at this rate; 0 or `off` disables it.
        let scrub_rate = match env_any(&["ALMACEN_SCRUB_RATE"]) {
            None => Some(16 << 20),
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(parse_bytes(&v).with_context(|| {
                format!("ALMACEN_SCRUB_RATE={v:?} is not a byte rate such as 16MiB")
            })?)
            .filter(|n| *n > 0),
        };
        let scrub_interval = match env_any(&["ALMACEN_SCRUB_INTERVAL_SECONDS"]) {
            None => std::time::Duration::from_secs(24 * 3600),
            Some(v) => std::time::Duration::from_secs(
                v.parse::<u64>().ok().filter(|n| *n > 0).with_context(|| {
                    format!(
                        "ALMACEN_SCRUB_INTERVAL_SECONDS={v:?} is not a positive number of seconds"
                    )
                })?,
            ),
        };
        // Webhook, Redis, NATS and PostgreSQL targets, from MinIO's variables.
        let notify_targets = almacen_notify::targets_from_env(std::env::vars(), "")
            .context("event notification targets")?;
        let kms_spec = match env_any(&["ALMACEN_KMS_SECRET_KEY_FILE", "MINIO_KMS_SECRET_KEY_FILE"])
        {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the KMS secret key file {path}"))?,
            ),
            None => env_any(&["ALMACEN_KMS_SECRET_KEY", "MINIO_KMS_SECRET_KEY"]),
        };
        let kms_key = kms_spec
            .map(|s| almacen_engine::MasterKey::parse(&s))
            .transpose()
            .map_err(|e| anyhow::anyhow!("MINIO_KMS_SECRET_KEY: {e}"))?;
        let kms_previous = key_list("ALMACEN_KMS_PREVIOUS_KEYS")?;
        let kms_extra = key_list("ALMACEN_KMS_KEYS")?
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>();
        if kms_key.is_none() && !kms_previous.is_empty() {
            bail!(
                "ALMACEN_KMS_PREVIOUS_KEYS is set but there is no current key (MINIO_KMS_SECRET_KEY)"
            );
        }
        let meta = match args.meta_url.or_else(|| env_any(&["ALMACEN_META_URL"])) {
            None => MetaBackend::Embedded,
            Some(url) => {
                if !(url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.contains("host="))
                {
                    bail!("--meta must be a postgres:// URL");
                }
                let pool = usize::try_from(positive("ALMACEN_META_POOL", 16)?).unwrap_or(16);
                let node_id = match args.node_id.or_else(|| env_any(&["ALMACEN_NODE_ID"])) {
                    Some(id) => id,
                    None => format!("{}-{}", host_name(), address.port()),
                };
                if node_id.is_empty()
                    || node_id.len() > 128
                    || node_id.starts_with('.')
                    || !node_id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
                {
                    bail!(
                        "node id {node_id:?}: use up to 128 letters, digits, '.', '_', '-' or ':'"
                    );
                }
                MetaBackend::Postgres { url, pool, node_id }
            }
        };
        Ok(Self {
            meta,
            limits: limits_from_env()?,
            root_ignores_bucket_policy: env_any(&["ALMACEN_ROOT_IGNORES_BUCKET_POLICY"])
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1")),
            sigv2: !env_any(&["ALMACEN_SIGV2"])
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "false" | "0")),
            accept_any_region: env_any(&["ALMACEN_ACCEPT_ANY_REGION"])
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1")),
            kms_previous,
            kms_extra,
            sse_c_insecure: env_any(&["ALMACEN_SSE_C_ALLOW_HTTP"])
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1")),
            kms_key,
            notify_targets,
            audit_log: env_any(&["ALMACEN_AUDIT_LOG_FILE"]).map(PathBuf::from),
            audit_log_max_bytes,
            scrub_rate,
            scrub_interval,
            prometheus_public: env_any(&[
                "ALMACEN_PROMETHEUS_AUTH_TYPE",
                "MINIO_PROMETHEUS_AUTH_TYPE",
            ])
            .is_some_and(|v| v.eq_ignore_ascii_case("public")),
            lifecycle_day_seconds,
            data_dir: args.data_dir,
            address,
            console_address,
            certs_dir: args
                .certs_dir
                .or_else(|| env_any(&["ALMACEN_CERTS_DIR", "MINIO_CERTS_DIR"]).map(PathBuf::from))
                .or_else(crate::tls::default_certs_dir),
            buckets,
            access_key,
            secret_key,
            default_credentials,
            region,
            domains,
            server_url: env_any(&["ALMACEN_SERVER_URL", "MINIO_SERVER_URL"]),
            master_key: env_any(&["ALMACEN_MASTER_KEY", "MINIO_KMS_SECRET_KEY"]),
            // MinIO's default is every origin; `none` (or an empty list) turns the default off.
            cors_allow_origin: std::env::var("ALMACEN_API_CORS_ALLOW_ORIGIN")
                .or_else(|_| std::env::var("MINIO_API_CORS_ALLOW_ORIGIN"))
                .map_or_else(
                    |_| vec!["*".to_owned()],
                    |v| {
                        v.split(',')
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty() && s != "none")
                            .collect()
                    },
                ),
        })
    }
}

/// This machine's host name, for default node ids.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_else(|_| "node".to_owned())
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}
