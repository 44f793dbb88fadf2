//! `almacen admin ...`: manage a running server's users, groups, policies,
//! access keys and bucket policies through its admin API, like `mc admin`.
//! Servers are named by aliases (`almacen admin alias set`).

pub(crate) mod aliases;
mod client;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use aliases::Alias;

/// Where the server's admin API lives (see `almacen_s3::admin`).
const ADMIN: &str = "/minio/almacen/admin/v1";

/// `almacen admin` arguments.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Print the server's JSON answers instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Saved servers: `alias set NAME URL ACCESS_KEY SECRET_KEY`.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// IAM users (the user name is its access key).
    #[command(subcommand)]
    User(UserCommand),
    /// Groups of users that share policies.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Named IAM policies, and attaching them to users and groups.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Access keys (service accounts) of a user, optionally narrowed and expiring.
    #[command(subcommand, alias = "svcacct")]
    Accesskey(AccessKeyCommand),
    /// A bucket's policy: from a file or a canned name.
    #[command(subcommand)]
    BucketPolicy(BucketPolicyCommand),
    /// A bucket's upload rules and quota.
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Prometheus: a bearer token and scrape configuration for the metrics endpoint.
    #[command(subcommand)]
    Prometheus(PrometheusCommand),
    /// The SSE master keys: which is current, and re-sealing object keys
    /// (and IAM secrets) under it after a key change.
    #[command(subcommand)]
    Kms(KmsCommand),
    /// Stream the requests a server handles as they finish, like `mc admin
    /// trace`: one line each (time, API, status, duration, bucket/key, who).
    Trace {
        alias: String,
        /// Only failed requests.
        #[arg(long)]
        errors: bool,
        /// Only requests on this bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Stop after this many requests (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Bucket notification targets (configured on the server with MinIO's
    /// MINIO_NOTIFY_* variables), like `mc admin config get ALIAS notify_*`.
    #[command(subcommand)]
    Event(EventCommand),
    /// The nodes serving this namespace (several when metadata is in
    /// PostgreSQL): id, endpoint, online or offline by their heartbeats,
    /// which one runs background work, and whether the metadata store answers.
    Cluster { alias: String },
    /// Verify every stored object now: re-read it and check its checksums,
    /// report corrupt or missing data and orphaned files. Exits with 2 when
    /// something is corrupt.
    Scan {
        alias: String,
        /// Read at most this many bytes per second, e.g. `50MiB` (default: as fast as the disk).
        #[arg(long)]
        rate: Option<String>,
        /// Only list what reads and earlier scans have recorded as corrupt.
        #[arg(long)]
        recorded: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum EventCommand {
    /// The notification targets.
    #[command(subcommand)]
    Target(EventTargetCommand),
}

#[derive(Debug, clap::Subcommand)]
enum EventTargetCommand {
    /// Each target's ARN, type, endpoint (without secrets), whether it is
    /// online, and its queued, delivered and failed events.
    List { alias: String },
    /// Add (or replace) a target while the server runs, with the settings
    /// of MinIO's variables: `add local webhook jobs endpoint=http://worker:8080/events`,
    /// `add local redis jobs address=redis:6379 key=videojobs format=access`.
    /// It is stored (secrets sealed) and its ARN is `arn:minio:sqs::ID:TYPE`.
    Add {
        alias: String,
        /// webhook, redis, nats or postgres.
        kind: String,
        /// The target's id (letters, digits, '-').
        id: String,
        /// Settings as NAME=VALUE (endpoint, auth_token, address, key, format, ...).
        settings: Vec<String>,
    },
    /// Remove a target added with `add`; its queued events wait until it is added again.
    Remove {
        alias: String,
        kind: String,
        id: String,
    },
}

fn cluster_text(v: &Value) -> String {
    let mut lines = vec![format!(
        "Metadata: {} ({})",
        v["metadata"].as_str().unwrap_or_default(),
        v["metadata_state"].as_str().unwrap_or_default()
    )];
    let nodes: Vec<&Value> = v["nodes"].as_array().into_iter().flatten().collect();
    if nodes.is_empty() {
        lines.push("One node: this server (embedded metadata)".to_owned());
    }
    for n in nodes {
        lines.push(format!(
            "{}  {}  {}  seen {} ms ago  version {}{}",
            n["id"].as_str().unwrap_or_default(),
            n["endpoint"].as_str().unwrap_or_default(),
            n["state"].as_str().unwrap_or_default(),
            n["seen_ms_ago"],
            n["version"].as_str().unwrap_or_default(),
            if n["background"].as_bool() == Some(true) {
                "  [background work]"
            } else {
                ""
            }
        ));
    }
    lines.join("\n")
}

fn event_targets_text(v: &Value) -> String {
    let rows: Vec<&Value> = v["targets"].as_array().into_iter().flatten().collect();
    if rows.is_empty() {
        return "No notification targets configured (MINIO_NOTIFY_<TYPE>_ENABLE_<ID>=on)"
            .to_owned();
    }
    rows.iter()
        .map(|t| {
            let mut line = format!(
                "{}  {}  {}  {}  pending={} delivered={} failed={}",
                t["arn"].as_str().unwrap_or_default(),
                t["type"].as_str().unwrap_or_default(),
                t["status"].as_str().unwrap_or_default(),
                t["endpoint"].as_str().unwrap_or_default(),
                t["pending"],
                t["delivered"],
                t["failed"],
            );
            if let Some(e) = t["last_error"].as_str() {
                line.push_str(&format!("\n    last error: {e}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, clap::Subcommand)]
enum KmsCommand {
    /// Show the current master key and the previous ones still accepted.
    Status { alias: String },
    /// Re-seal every object key sealed under a previous master key under the
    /// current one, without rewriting object data. Start the server with the
    /// new key in MINIO_KMS_SECRET_KEY and the old one in
    /// ALMACEN_KMS_PREVIOUS_KEYS, run this until it reports nothing
    /// remaining, then drop the old key. Exits with 2 while something remains.
    Rotate { alias: String },
}

#[derive(Debug, clap::Subcommand)]
enum PrometheusCommand {
    /// Print a scrape configuration with a bearer token signed by the alias's keys
    /// (the key needs root or `admin:Prometheus`), like `mc admin prometheus generate`.
    Token {
        alias: String,
        /// Token lifetime, e.g. `365d` (default 100 years, as MinIO's).
        #[arg(long, default_value = "36500d")]
        expiry: String,
        /// Print only the token.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum BucketCommand {
    /// Upload rules: per prefix, a maximum size and the allowed content types.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// A hard quota on the bytes a bucket holds.
    #[command(subcommand)]
    Quota(QuotaCommand),
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Replace the bucket's rules with those of a JSON file:
    /// `{"rules": [{"prefix": "products/", "max_size": "2MiB", "content_types": ["image/jpeg", "image/png"]}]}`.
    Set {
        alias: String,
        bucket: String,
        file: PathBuf,
    },
    /// Show the bucket's rules.
    Get { alias: String, bucket: String },
    /// Remove every rule.
    Clear { alias: String, bucket: String },
}

#[derive(Debug, clap::Subcommand)]
enum QuotaCommand {
    /// Set a hard quota, e.g. `10GiB` or a number of bytes.
    Set {
        alias: String,
        bucket: String,
        size: String,
    },
    /// Show the quota and what the bucket uses.
    Get { alias: String, bucket: String },
    /// Remove the quota.
    Clear { alias: String, bucket: String },
}

#[derive(Debug, clap::Subcommand)]
enum AliasCommand {
    /// Save a server.
    Set {
        name: String,
        url: String,
        access_key: String,
        secret_key: String,
        /// Region to sign requests for.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// List saved servers (without secrets).
    List,
    /// Forget a server.
    Remove { name: String },
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Create a user (again with the same secret: no change). An existing
    /// user's secret changes only with `--update`.
    Add {
        alias: String,
        name: String,
        secret_key: String,
        /// Set a new secret for an existing user.
        #[arg(long)]
        update: bool,
    },
    /// List users.
    List { alias: String },
    /// Show a user: status, policies, groups.
    Info { alias: String, name: String },
    /// Let a user sign requests again.
    Enable { alias: String, name: String },
    /// Stop a user (and its access keys) from signing requests.
    Disable { alias: String, name: String },
    /// Remove a user and its access keys.
    Remove { alias: String, name: String },
}

#[derive(Debug, clap::Subcommand)]
enum GroupCommand {
    /// Add members to a group, creating it if needed.
    Add {
        alias: String,
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove members from a group; with no members, remove the (empty) group.
    Remove {
        alias: String,
        group: String,
        members: Vec<String>,
    },
    /// List groups.
    List { alias: String },
    /// Show a group.
    Info { alias: String, group: String },
    /// Let a group's policies apply again.
    Enable { alias: String, group: String },
    /// Stop a group's policies from applying.
    Disable { alias: String, group: String },
}

#[derive(Debug, clap::Args)]
struct AttachTarget {
    /// The user to attach to or detach from.
    #[arg(long, conflicts_with = "group", required_unless_present = "group")]
    user: Option<String>,
    /// The group to attach to or detach from.
    #[arg(long)]
    group: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Create or replace a policy from an IAM JSON file.
    Create {
        alias: String,
        name: String,
        file: PathBuf,
    },
    /// List policies (built-in ones included).
    List { alias: String },
    /// Show a policy's document.
    Info { alias: String, name: String },
    /// Remove a policy that is attached to nothing.
    Remove { alias: String, name: String },
    /// Attach policies to a user or group.
    Attach {
        alias: String,
        #[arg(required = true)]
        policies: Vec<String>,
        #[command(flatten)]
        target: AttachTarget,
    },
    /// Detach policies from a user or group.
    Detach {
        alias: String,
        #[arg(required = true)]
        policies: Vec<String>,
        #[command(flatten)]
        target: AttachTarget,
    },
}

#[derive(Debug, clap::Subcommand)]
enum AccessKeyCommand {
    /// Create an access key for USER (default: the alias's own user).
    Create {
        alias: String,
        user: Option<String>,
        /// Choose the access key instead of generating one.
        #[arg(long)]
        access_key: Option<String>,
        /// Choose the secret instead of generating one.
        #[arg(long)]
        secret_key: Option<String>,
        /// An IAM JSON file that narrows what the key may do.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Lifetime, e.g. `90m`, `12h`, `7d`.
        #[arg(long)]
        expiry: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the access keys of USER (default: the alias's own user).
    List { alias: String, user: Option<String> },
    /// Show an access key (never its secret).
    Info { alias: String, access_key: String },
    /// Let an access key sign requests again.
    Enable { alias: String, access_key: String },
    /// Stop an access key from signing requests.
    Disable { alias: String, access_key: String },
    /// Revoke an access key.
    Remove { alias: String, access_key: String },
}

#[derive(Debug, clap::Subcommand)]
enum BucketPolicyCommand {
    /// Set a bucket's policy: `private` (none), `public-read` (`download`),
    /// `upload`, `public-read-write` (`public`), or the path of a bucket-policy JSON file.
    Set {
        alias: String,
        bucket: String,
        policy: String,
    },
    /// Show a bucket's policy.
    Get { alias: String, bucket: String },
}

/// What SigV4 leaves unescaped in a path: letters, digits and `-_.~`.
const UNRESERVED: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one name as a path segment, as SigV4 canonicalizes it.
/// A `/` cannot travel in a segment (S3 signing keeps it a separator), and
/// no user, group, policy, access key or bucket name may hold one anyway.
fn seg(s: &str) -> anyhow::Result<String> {
    if s.contains('/') {
        bail!("InvalidArgument: invalid name {s:?}: names cannot contain '/'");
    }
    Ok(percent_encoding::utf8_percent_encode(s, &UNRESERVED).to_string())
}

/// Parses `90m`, `12h`, `7d` or plain seconds.
fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("invalid duration {s:?}: use s, m, h or d"),
    };
    Ok(std::time::Duration::from_secs(secs))
}

fn read_file(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

struct Out {
    json: bool,
}

impl Out {
    /// Prints an answer: raw JSON with `--json`, else `text` of it.
    fn show(&self, v: &Value, text: impl FnOnce(&Value) -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            let t = text(v);
            if !t.is_empty() {
                println!("{t}");
            }
        }
    }
}

fn list_text(v: &Value, line: impl Fn(&Value) -> String) -> String {
    v.as_array()
        .map(|a| a.iter().map(line).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn strs(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// One admin API call; a failure becomes an error with the server's code and message.
async fn call(
    alias: &Alias,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Value> {
    let reply = client::send(
        alias,
        method,
        &format!("{ADMIN}{path}"),
        body.unwrap_or_default(),
    )
    .await?;
    if !reply.status.is_success() {
        bail!("{}", reply.error_text());
    }
    serde_json::from_slice(&reply.body).context("the server's answer is not JSON")
}

fn body(v: &Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

/// Runs one `almacen admin` command.
///
/// # Errors
/// Whatever failed, with the server's error code and message.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(args))
}

#[allow(clippy::too_many_lines)]
async fn run_async(args: AdminArgs) -> anyhow::Result<()> {
    let out = Out { json: args.json };
    let done = |msg: String| {
        if !out.json {
            println!("{msg}");
        }
    };
    match args.command {
        AdminCommand::Alias(cmd) => {
            match cmd {
                AliasCommand::Set {
                    name,
                    url,
                    access_key,
                    secret_key,
                    region,
                } => {
                    let mut all = aliases::load()?;
                    all.insert(
                        name.clone(),
                        Alias {
                            url: url.trim_end_matches('/').to_owned(),
                            access_key,
                            secret_key,
                            region,
                        },
                    );
                    aliases::save(&all)?;
                    done(format!("Added alias {name}"));
                }
                AliasCommand::List => {
                    let all = aliases::load()?;
                    let v = json!(all.iter().map(|(n, a)| json!({"name": n, "url": a.url, "access_key": a.access_key})).collect::<Vec<_>>());
                    out.show(&v, |v| {
                        list_text(v, |a| {
                            format!(
                                "{}\t{}\t{}",
                                a["name"].as_str().unwrap_or(""),
                                a["url"].as_str().unwrap_or(""),
                                a["access_key"].as_str().unwrap_or("")
                            )
                        })
                    });
                }
                AliasCommand::Remove { name } => {
                    let mut all = aliases::load()?;
                    if all.remove(&name).is_none() {
                        bail!("no alias {name}");
                    }
                    aliases::save(&all)?;
                    done(format!("Removed alias {name}"));
                }
            }
        }
        AdminCommand::User(cmd) => match cmd {
            UserCommand::Add {
                alias,
                name,
                secret_key,
                update,
            } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/users/{}", seg(&name)?),
                    body(&json!({"secret_key": secret_key, "update": update})),
                )
                .await?;
                out.show(&v, |_| format!("Added user {name}"));
            }
            UserCommand::List { alias } => {
                let v = call(&aliases::get(&alias)?, "GET", "/users", None).await?;
                out.show(&v, |v| {
                    list_text(v, |u| {
                        format!(
                            "{}\t{}\t{}",
                            u["name"].as_str().unwrap_or(""),
                            u["status"].as_str().unwrap_or(""),
                            strs(&u["policies"])
                        )
                    })
                });
            }
            UserCommand::Info { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "GET",
                    &format!("/users/{}", seg(&name)?),
                    None,
                )
                .await?;
                out.show(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            }
            UserCommand::Enable { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/users/{}/status", seg(&name)?),
                    body(&json!({"status": "enabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Enabled user {name}"));
            }
            UserCommand::Disable { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/users/{}/status", seg(&name)?),
                    body(&json!({"status": "disabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Disabled user {name}"));
            }
            UserCommand::Remove { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "DELETE",
                    &format!("/users/{}", seg(&name)?),
                    None,
                )
                .await?;
                out.show(&v, |_| format!("Removed user {name}"));
            }
        },
        AdminCommand::Group(cmd) => match cmd {
            GroupCommand::Add {
                alias,
                group,
                members,
            } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "POST",
                    &format!("/groups/{}/members", seg(&group)?),
                    body(&json!({"add": members})),
                )
                .await?;
                out.show(&v, |_| {
                    format!("Added {} to group {group}", members.join(", "))
                });
            }
            GroupCommand::Remove {
                alias,
                group,
                members,
            } => {
                let a = aliases::get(&alias)?;
                let v = if members.is_empty() {
                    call(&a, "DELETE", &format!("/groups/{}", seg(&group)?), None).await?
                } else {
                    call(
                        &a,
                        "POST",
                        &format!("/groups/{}/members", seg(&group)?),
                        body(&json!({"remove": members})),
                    )
                    .await?
                };
                out.show(&v, |_| {
                    if members.is_empty() {
                        format!("Removed group {group}")
                    } else {
                        format!("Removed {} from group {group}", members.join(", "))
                    }
                });
            }
            GroupCommand::List { alias } => {
                let v = call(&aliases::get(&alias)?, "GET", "/groups", None).await?;
                out.show(&v, |v| {
                    list_text(v, |g| {
                        format!(
                            "{}\t{}\t{}\t{}",
                            g["name"].as_str().unwrap_or(""),
                            g["status"].as_str().unwrap_or(""),
                            strs(&g["members"]),
                            strs(&g["policies"])
                        )
                    })
                });
            }
            GroupCommand::Info { alias, group } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "GET",
                    &format!("/groups/{}", seg(&group)?),
                    None,
                )
                .await?;
                out.show(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            }
            GroupCommand::Enable { alias, group } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/groups/{}/status", seg(&group)?),
                    body(&json!({"status": "enabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Enabled group {group}"));
            }
            GroupCommand::Disable { alias, group } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/groups/{}/status", seg(&group)?),
                    body(&json!({"status": "disabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Disabled group {group}"));
            }
        },
        AdminCommand::Policy(cmd) => match cmd {
            PolicyCommand::Create { alias, name, file } => {
                let doc = read_file(&file)?;
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/policies/{}", seg(&name)?),
                    Some(doc.into_bytes()),
                )
                .await?;
                out.show(&v, |_| format!("Created policy {name}"));
            }
            PolicyCommand::List { alias } => {
                let v = call(&aliases::get(&alias)?, "GET", "/policies", None).await?;
                out.show(&v, |v| {
                    list_text(v, |p| {
                        format!(
                            "{}{}",
                            p["name"].as_str().unwrap_or(""),
                            if p["builtin"] == true {
                                "\t(built-in)"
                            } else {
                                ""
                            }
                        )
                    })
                });
            }
            PolicyCommand::Info { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "GET",
                    &format!("/policies/{}", seg(&name)?),
                    None,
                )
                .await?;
                out.show(&v, |v| {
                    v["document"].as_str().unwrap_or_default().to_owned()
                });
            }
            PolicyCommand::Remove { alias, name } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "DELETE",
                    &format!("/policies/{}", seg(&name)?),
                    None,
                )
                .await?;
                out.show(&v, |_| format!("Removed policy {name}"));
            }
            PolicyCommand::Attach {
                alias,
                policies,
                target,
            } => {
                attach(&out, &alias, true, &policies, &target).await?;
            }
            PolicyCommand::Detach {
                alias,
                policies,
                target,
            } => {
                attach(&out, &alias, false, &policies, &target).await?;
            }
        },
        AdminCommand::Accesskey(cmd) => match cmd {
            AccessKeyCommand::Create {
                alias,
                user,
                access_key,
                secret_key,
                policy,
                expiry,
                name,
                description,
            } => {
                let policy = policy.as_ref().map(read_file).transpose()?;
                let expires_ms = expiry.as_deref().map(parse_duration).transpose()?.map(|d| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    i64::try_from((now + d).as_millis()).unwrap_or(i64::MAX)
                });
                let v = call(
                    &aliases::get(&alias)?,
                    "POST",
                    "/service-accounts",
                    body(&json!({
                        "parent": user, "access_key": access_key, "secret_key": secret_key,
                        "policy": policy, "expires_ms": expires_ms, "name": name, "description": description,
                    })),
                )
                .await?;
                out.show(&v, |v| {
                    format!(
                        "Access Key: {}\nSecret Key: {}",
                        v["access_key"].as_str().unwrap_or(""),
                        v["secret_key"].as_str().unwrap_or("")
                    )
                });
            }
            AccessKeyCommand::List { alias, user } => {
                let q = match user {
                    Some(u) => format!("?user={}", seg(&u)?),
                    None => String::new(),
                };
                let v = call(
                    &aliases::get(&alias)?,
                    "GET",
                    &format!("/service-accounts{q}"),
                    None,
                )
                .await?;
                out.show(&v, |v| {
                    list_text(v, |s| {
                        format!(
                            "{}\t{}\t{}",
                            s["access_key"].as_str().unwrap_or(""),
                            s["parent"].as_str().unwrap_or(""),
                            s["status"].as_str().unwrap_or("")
                        )
                    })
                });
            }
            AccessKeyCommand::Info { alias, access_key } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "GET",
                    &format!("/service-accounts/{}", seg(&access_key)?),
                    None,
                )
                .await?;
                out.show(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            }
            AccessKeyCommand::Enable { alias, access_key } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/service-accounts/{}/status", seg(&access_key)?),
                    body(&json!({"status": "enabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Enabled access key {access_key}"));
            }
            AccessKeyCommand::Disable { alias, access_key } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "PUT",
                    &format!("/service-accounts/{}/status", seg(&access_key)?),
                    body(&json!({"status": "disabled"})),
                )
                .await?;
                out.show(&v, |_| format!("Disabled access key {access_key}"));
            }
            AccessKeyCommand::Remove { alias, access_key } => {
                let v = call(
                    &aliases::get(&alias)?,
                    "DELETE",
                    &format!("/service-accounts/{}", seg(&access_key)?),
                    None,
                )
                .await?;
                out.show(&v, |_| format!("Removed access key {access_key}"));
            }
        },
        AdminCommand::Bucket(BucketCommand::Rules(cmd)) => {
            let (alias, bucket) = match &cmd {
                RulesCommand::Set { alias, bucket, .. }
                | RulesCommand::Get { alias, bucket }
                | RulesCommand::Clear { alias, bucket } => (alias, bucket),
            };
            let a = aliases::get(alias)?;
            let path = format!("/buckets/{}/upload-rules", seg(bucket)?);
            let v = match &cmd {
                RulesCommand::Set { file, .. } => {
                    let doc = read_file(file)?;
                    call(&a, "PUT", &path, Some(doc.into_bytes())).await?
                }
                RulesCommand::Get { .. } => call(&a, "GET", &path, None).await?,
                RulesCommand::Clear { .. } => call(&a, "DELETE", &path, None).await?,
            };
            out.show(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
        }
        AdminCommand::Bucket(BucketCommand::Quota(cmd)) => {
            let (alias, bucket) = match &cmd {
                QuotaCommand::Set { alias, bucket, .. }
                | QuotaCommand::Get { alias, bucket }
                | QuotaCommand::Clear { alias, bucket } => (alias, bucket),
            };
            let a = aliases::get(alias)?;
            let path = format!("/buckets/{}/quota", seg(bucket)?);
            let v = match &cmd {
                QuotaCommand::Set { size, .. } => {
                    call(&a, "PUT", &path, body(&json!({ "quota": size }))).await?
                }
                QuotaCommand::Get { .. } => call(&a, "GET", &path, None).await?,
                QuotaCommand::Clear { .. } => call(&a, "DELETE", &path, None).await?,
            };
            out.show(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
        }
        AdminCommand::Event(EventCommand::Target(EventTargetCommand::List { alias })) => {
            let v = call(&aliases::get(&alias)?, "GET", "/event-targets", None).await?;
            out.show(&v, event_targets_text);
        }
        AdminCommand::Event(EventCommand::Target(EventTargetCommand::Add {
            alias,
            kind,
            id,
            settings,
        })) => {
            let mut map = serde_json::Map::new();
            for kv in &settings {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("settings are NAME=VALUE, not {kv:?}"))?;
                map.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            let path = format!("/event-targets/{}/{}", seg(&kind)?, seg(&id)?);
            let v = call(
                &aliases::get(&alias)?,
                "PUT",
                &path,
                body(&Value::Object(map)),
            )
            .await?;
            out.show(&v, |v| {
                format!(
                    "Added {} ({})",
                    v["arn"].as_str().unwrap_or_default(),
                    v["endpoint"].as_str().unwrap_or_default()
                )
            });
        }
        AdminCommand::Event(EventCommand::Target(EventTargetCommand::Remove {
            alias,
            kind,
            id,
        })) => {
            let path = format!("/event-targets/{}/{}", seg(&kind)?, seg(&id)?);
            let v = call(&aliases::get(&alias)?, "DELETE", &path, None).await?;
            out.show(&v, |v| {
                format!("Removed {}", v["arn"].as_str().unwrap_or_default())
            });
        }
        AdminCommand::Cluster { alias } => {
            let v = call(&aliases::get(&alias)?, "GET", "/cluster", None).await?;
            out.show(&v, cluster_text);
        }
        AdminCommand::Kms(KmsCommand::Status { alias }) => {
            let v = call(&aliases::get(&alias)?, "GET", "/kms/status", None).await?;
            out.show(&v, |v| {
                let prev: Vec<&str> = v["previous_keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let other: Vec<&str> = v["other_keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                format!(
                    "Current key: {}\nOther keys (by SSE-KMS key id): {}\nPrevious keys: {}",
                    v["current_key"]
                        .as_str()
                        .unwrap_or("(none: SSE-S3 not configured)"),
                    if other.is_empty() {
                        "(none)".to_owned()
                    } else {
                        other.join(", ")
                    },
                    if prev.is_empty() {
                        "(none)".to_owned()
                    } else {
                        prev.join(", ")
                    }
                )
            });
        }
        AdminCommand::Kms(KmsCommand::Rotate { alias }) => {
            let v = call(&aliases::get(&alias)?, "POST", "/kms/rotate", None).await?;
            out.show(&v, |v| {
                let mut lines: Vec<String> = v["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(|e| format!("LEFT     {e}")))
                    .collect();
                lines.push(format!(
                    "Re-sealed {} object keys under {} ({} already current, {} SSE-C); {} remaining; {} uploads in progress under an older key; {} IAM secrets re-sealed",
                    v["resealed"], v["current_key"].as_str().unwrap_or(""), v["current"],
                    v["customer_keys"], v["remaining"], v["uploads_pending"], v["iam_secrets_resealed"]
                ));
                lines.join("\n")
            });
            if v["remaining"].as_u64().unwrap_or(0) > 0
                || v["uploads_pending"].as_u64().unwrap_or(0) > 0
            {
                std::process::exit(2);
            }
        }
        AdminCommand::Trace {
            alias,
            errors,
            bucket,
            count,
        } => {
            let a = aliases::get(&alias)?;
            let mut query = vec![];
            if errors {
                query.push("errors=true".to_owned());
            }
            if let Some(b) = &bucket {
                query.push(format!("bucket={}", seg(b)?));
            }
            let path = format!("{ADMIN}/trace?{}", query.join("&"));
            let mut seen = 0u64;
            let json = out.json;
            let limit = count.unwrap_or(u64::MAX);
            let done = client::stream_lines(&a, &path, |line| {
                if line.is_empty() || seen >= limit {
                    return;
                }
                seen += 1;
                if json {
                    println!("{line}");
                } else {
                    println!("{}", trace_text(line));
                }
                if seen >= limit {
                    std::process::exit(0);
                }
            });
            done.await?;
        }
        AdminCommand::Scan {
            alias,
            rate,
            recorded,
        } => {
            let a = aliases::get(&alias)?;
            let v = if recorded {
                call(&a, "GET", "/corrupt", None).await?
            } else {
                let q = rate.map(|r| format!("?rate={}", seg(&r).unwrap_or_default()));
                call(&a, "POST", &format!("/scan{}", q.unwrap_or_default()), None).await?
            };
            out.show(&v, scan_text);
            let bad = v["corrupt"].as_array().is_some_and(|c| !c.is_empty());
            if bad {
                std::process::exit(2);
            }
        }
        AdminCommand::Prometheus(PrometheusCommand::Token { alias, expiry, raw }) => {
            let a = aliases::get(&alias)?;
            let token = almacen_sign::prometheus_jwt(&a.keys(), parse_duration(&expiry)?)?;
            let (scheme, host) = a.url.split_once("://").unwrap_or(("http", &a.url));
            if raw {
                println!("{token}");
            } else {
                println!(
                    "scrape_configs:\n- job_name: almacen-job\n  bearer_token: {token}\n  metrics_path: /minio/v2/metrics/cluster\n  scheme: {scheme}\n  static_configs:\n  - targets: ['{host}']"
                );
            }
        }
        AdminCommand::BucketPolicy(cmd) => match cmd {
            BucketPolicyCommand::Set {
                alias,
                bucket,
                policy,
            } => {
                let doc = match crate::canned::policy_json(&bucket, &policy) {
                    Some(d) => d,
                    None => Some(read_file(&PathBuf::from(&policy))?),
                };
                let a = aliases::get(&alias)?;
                let path = format!("/{}?policy=", seg(&bucket)?);
                let reply = match &doc {
                    Some(d) => client::send(&a, "PUT", &path, d.clone().into_bytes()).await?,
                    None => client::send(&a, "DELETE", &path, Vec::new()).await?,
                };
                if !reply.status.is_success() {
                    bail!("{}", reply.error_text());
                }
                done(format!("Set the policy of bucket {bucket} to {policy}"));
            }
            BucketPolicyCommand::Get { alias, bucket } => {
                let a = aliases::get(&alias)?;
                let reply = client::send(
                    &a,
                    "GET",
                    &format!("/{}?policy=", seg(&bucket)?),
                    Vec::new(),
                )
                .await?;
                if reply.status == http::StatusCode::NOT_FOUND
                    && reply.error_text().starts_with("NoSuchBucketPolicy")
                {
                    println!("private (no bucket policy)");
                } else if reply.status.is_success() {
                    println!("{}", String::from_utf8_lossy(&reply.body));
                } else {
                    bail!("{}", reply.error_text());
                }
            }
        },
    }
    Ok(())
}

/// One trace record as a line of text.
fn trace_text(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    if let Some(n) = v.get("dropped") {
        return format!("... {n} requests not shown (the client fell behind)");
    }
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let target = match (v["bucket"].as_str(), v["object"].as_str()) {
        (Some(b), Some(o)) => format!("{b}/{o}"),
        (Some(b), None) => b.to_owned(),
        _ => "/".to_owned(),
    };
    let err = v["errorCode"]
        .as_str()
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    format!(
        "{} {} {}{} {:.1}ms {} {} from {} rx={} tx={}",
        s("time"),
        s("api"),
        v["statusCode"],
        err,
        v["durationMs"].as_f64().unwrap_or(0.0),
        target,
        v["accessKey"].as_str().unwrap_or("anonymous"),
        s("remoteHost"),
        v["rx"],
        v["tx"]
    )
}

/// A scan report as text: one line per problem, then the totals.
fn scan_text(v: &Value) -> String {
    let mut lines = Vec::new();
    for c in v["corrupt"].as_array().into_iter().flatten() {
        lines.push(format!(
            "CORRUPT  {}/{} (version {}): {}",
            c["bucket"].as_str().unwrap_or(""),
            c["key"].as_str().unwrap_or(""),
            c["version_id"].as_str().unwrap_or(""),
            c["detail"].as_str().unwrap_or("")
        ));
    }
    for o in v["orphans"].as_array().into_iter().flatten() {
        lines.push(format!(
            "ORPHAN   blob {} (no metadata names it)",
            o.as_str().unwrap_or("")
        ));
    }
    if v.get("objects").is_some() {
        lines.push(format!(
            "Verified {} object versions, {} bytes; {} corrupt, {} not verifiable (SSE-C), {} orphaned files",
            v["objects"],
            v["bytes"],
            v["corrupt"].as_array().map_or(0, Vec::len),
            v["unverifiable"],
            v["orphans"].as_array().map_or(0, Vec::len)
        ));
    } else if lines.is_empty() {
        lines.push("Nothing recorded as corrupt".into());
    }
    lines.join("\n")
}

async fn attach(
    out: &Out,
    alias: &str,
    attach: bool,
    policies: &[String],
    target: &AttachTarget,
) -> anyhow::Result<()> {
    let v = call(
        &aliases::get(alias)?,
        "POST",
        "/policy-attachments",
        body(&json!({"attach": attach, "policies": policies, "user": target.user, "group": target.group})),
    )
    .await?;
    let who = target.user.as_ref().map_or_else(
        || format!("group {}", target.group.as_deref().unwrap_or("")),
        |u| format!("user {u}"),
    );
    let verb = if attach { "Attached" } else { "Detached" };
    out.show(&v, |_| format!("{verb} {} to {who}", policies.join(", ")));
    Ok(())
}
