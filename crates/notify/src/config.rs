//! The targets configured on the server, read from the environment with
//! MinIO's variable names, so a MinIO deployment's settings carry over.
//!
//! Each kind reads `MINIO_NOTIFY_<KIND>_<SETTING>_<ID>` (or, for the
//! default target `_`, `MINIO_NOTIFY_<KIND>_<SETTING>`), and a target is
//! named by the ARN `arn:minio:sqs:<region>:<id>:<kind>`, the id in lower
//! case. Settings MinIO has but almacen does not need (`QUEUE_DIR`,
//! `QUEUE_LIMIT`, `COMMENT`: almacen's queue is always durable) are ignored.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr as _;

/// A value that must never reach a log line or an error message: `Debug`
/// prints `***`, and only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it to the target.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a Redis or PostgreSQL target stores events, as MinIO's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One entry per object (`bucket/key`), replaced by each event and
    /// removed when the object is: a mirror of what the bucket holds.
    Namespace,
    /// Every event appended, in order: a log or a job queue.
    Access,
}

impl Format {
    /// MinIO's name for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespace => "namespace",
            Self::Access => "access",
        }
    }
}

/// A webhook: each event POSTed as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    /// `http://host:port/path`.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub auth_token: Option<Secret>,
}

/// A Redis server: events go to a hash (namespace) or a list (access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSpec {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The hash or list the events go to.
    pub key: String,
    /// Hash per object, or list of every event.
    pub format: Format,
    /// ACL user (Redis 6 and later), with the password.
    pub user: Option<String>,
    /// `AUTH` password.
    pub password: Option<Secret>,
}

/// A NATS server (core NATS): each event published to a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSpec {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The subject events are published to.
    pub subject: String,
    /// User name, with the password.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<Secret>,
    /// Token authentication, instead of user and password.
    pub token: Option<Secret>,
}

/// A PostgreSQL table: one row per object (namespace) or per event (access).
#[derive(Clone)]
pub struct PostgresSpec {
    /// The parsed connection settings (they hold the password).
    pub config: tokio_postgres::Config,
    /// The table, created if missing (`name` or `schema.name`).
    pub table: String,
    /// Row per object, or row per event.
    pub format: Format,
}

impl fmt::Debug for PostgresSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSpec")
            .field("endpoint", &postgres_endpoint(&self.config))
            .field("table", &self.table)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Where a target's events go, by kind.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// HTTP POST.
    Webhook(WebhookSpec),
    /// Redis HSET/HDEL or RPUSH.
    Redis(RedisSpec),
    /// NATS PUB.
    Nats(NatsSpec),
    /// PostgreSQL upsert/delete or insert.
    Postgres(PostgresSpec),
}

/// A configured target: its ARN and where its events go.
#[derive(Debug, Clone)]
pub struct Target {
    /// `arn:minio:sqs:<region>:<id>:<kind>`.
    pub arn: String,
    /// Kind and settings.
    pub spec: TargetSpec,
}

impl Target {
    /// The kind, as in the ARN: `webhook`, `redis`, `nats`, `postgresql`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match &self.spec {
            TargetSpec::Webhook(_) => "webhook",
            TargetSpec::Redis(_) => "redis",
            TargetSpec::Nats(_) => "nats",
            TargetSpec::Postgres(_) => "postgresql",
        }
    }

    /// Where the events go, without any secret: safe to log and to show
    /// in `almacen admin event target list`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        match &self.spec {
            TargetSpec::Webhook(w) => w.endpoint.clone(),
            TargetSpec::Redis(r) => format!(
                "redis://{}{}:{}/ key={} format={}",
                r.user
                    .as_deref()
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default(),
                r.host,
                r.port,
                r.key,
                r.format.as_str()
            ),
            TargetSpec::Nats(n) => format!(
                "nats://{}{}:{} subject={}",
                n.username
                    .as_deref()
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default(),
                n.host,
                n.port,
                n.subject
            ),
            TargetSpec::Postgres(p) => format!(
                "{} table={} format={}",
                postgres_endpoint(&p.config),
                p.table,
                p.format.as_str()
            ),
        }
    }
}

/// `postgres://user@host:port/db`, never the password.
fn postgres_endpoint(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}{host}:{port}/{}",
        c.get_user().map(|u| format!("{u}@")).unwrap_or_default(),
        c.get_dbname().unwrap_or_default()
    )
}

/// Why the notification settings cannot be used; the server refuses to
/// start rather than silently drop a target's events.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// An enabled target lacks a required setting.
    #[error("{kind} target {id} is enabled but {var} is not set")]
    Missing {
        /// `redis`, `nats`, ...
        kind: &'static str,
        /// The target id.
        id: String,
        /// The variable to set.
        var: String,
    },
    /// A setting has a value almacen cannot use (secrets are never quoted).
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable.
        var: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The settings of one kind of target, keyed by id.
struct Vars<'a> {
    vars: &'a HashMap<String, String>,
    prefix: String,
    kind: &'static str,
    id: String,
}

impl Vars<'_> {
    fn name(&self, setting: &str) -> String {
        if self.id.is_empty() {
            format!("{}{setting}", self.prefix)
        } else {
            format!("{}{setting}_{}", self.prefix, self.id)
        }
    }

    fn get(&self, setting: &str) -> Option<String> {
        self.vars
            .get(&self.name(setting))
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    fn label(&self) -> String {
        if self.id.is_empty() {
            "_".to_owned()
        } else {
            self.id.clone()
        }
    }

    fn require(&self, setting: &str) -> Result<String, ConfigError> {
        self.get(setting).ok_or_else(|| ConfigError::Missing {
            kind: self.kind,
            id: self.label(),
            var: self.name(setting),
        })
    }

    fn invalid(&self, setting: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            var: self.name(setting),
            reason: reason.into(),
        }
    }

    fn enabled(&self) -> bool {
        self.get("ENABLE")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1"))
    }

    fn format(&self) -> Result<Format, ConfigError> {
        match self.require("FORMAT")?.to_ascii_lowercase().as_str() {
            "namespace" => Ok(Format::Namespace),
            "access" => Ok(Format::Access),
            other => Err(self.invalid(
                "FORMAT",
                format!("{other:?} is neither namespace nor access"),
            )),
        }
    }

    /// `host:port`, also accepting a `scheme://` in front (as MinIO's
    /// examples sometimes write it).
    fn host_port(
        &self,
        setting: &str,
        scheme: &str,
        default_port: u16,
    ) -> Result<(String, u16), ConfigError> {
        let raw = self.require(setting)?;
        let s = raw.trim();
        let s = s
            .strip_prefix(&format!("{scheme}://"))
            .unwrap_or(s)
            .trim_end_matches('/');
        if s.contains("://") || s.contains('@') || s.contains('/') {
            return Err(self.invalid(
                setting,
                format!("expected HOST:PORT (credentials go in their own variables), got {s:?}"),
            ));
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                p.parse::<u16>()
                    .map_err(|_| self.invalid(setting, format!("bad port in {s:?}")))?,
            ),
            _ => (s.to_owned(), default_port),
        };
        if host.is_empty() {
            return Err(self.invalid(setting, format!("no host in {s:?}")));
        }
        Ok((host, port))
    }
}

/// Every target configured by `vars` (the environment), in a stable order
/// (by kind, then id).
///
/// # Errors
/// An enabled target with a missing or unusable setting ([`ConfigError`]).
pub fn targets_from_env(
    vars: impl IntoIterator<Item = (String, String)>,
    region: &str,
) -> Result<Vec<Target>, ConfigError> {
    let vars: HashMap<String, String> = vars.into_iter().collect();
    let mut out = Vec::new();
    for kind in ["webhook", "redis", "nats", "postgres"] {
        let prefix = format!("MINIO_NOTIFY_{}_", kind.to_ascii_uppercase());
        let enable = format!("{prefix}ENABLE");
        let mut ids: Vec<String> = vars
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(&enable)?;
                if rest.is_empty() {
                    Some(String::new())
                } else {
                    rest.strip_prefix('_').map(str::to_owned)
                }
            })
            .collect();
        ids.sort_unstable();
        for id in ids {
            let v = Vars {
                vars: &vars,
                prefix: prefix.clone(),
                kind: match kind {
                    "webhook" => "webhook",
                    "redis" => "redis",
                    "nats" => "nats",
                    _ => "postgresql",
                },
                id,
            };
            if !v.enabled() {
                continue;
            }
            let spec = match kind {
                "webhook" => webhook(&v)?,
                "redis" => redis(&v)?,
                "nats" => nats(&v)?,
                _ => postgres(&v)?,
            };
            let target = Target {
                arn: format!(
                    "arn:minio:sqs:{region}:{}:{}",
                    v.label().to_ascii_lowercase(),
                    v.kind
                ),
                spec,
            };
            out.push(target);
        }
    }
    Ok(out)
}

fn webhook(v: &Vars<'_>) -> Result<TargetSpec, ConfigError> {
    let endpoint = v.require("ENDPOINT")?;
    if !endpoint.starts_with("http://") {
        return Err(v.invalid(
            "ENDPOINT",
            format!("only http:// endpoints are supported by this version ({endpoint})"),
        ));
    }
    Ok(TargetSpec::Webhook(WebhookSpec {
        endpoint,
        auth_token: v.get("AUTH_TOKEN").map(Secret),
    }))
}

fn redis(v: &Vars<'_>) -> Result<TargetSpec, ConfigError> {
    let (host, port) = v.host_port("ADDRESS", "redis", 6379)?;
    Ok(TargetSpec::Redis(RedisSpec {
        host,
        port,
        key: v.require("KEY")?,
        format: v.format()?,
        user: v.get("USER"),
        password: v.get("PASSWORD").map(Secret),
    }))
}

fn nats(v: &Vars<'_>) -> Result<TargetSpec, ConfigError> {
    let (host, port) = v.host_port("ADDRESS", "nats", 4222)?;
    let subject = v.require("SUBJECT")?;
    if subject.contains(char::is_whitespace) {
        return Err(v.invalid("SUBJECT", format!("{subject:?} contains white space")));
    }
    for unsupported in ["JETSTREAM", "STREAMING", "TLS"] {
        if v.get(unsupported)
            .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "on" | "true" | "1"))
        {
            return Err(v.invalid(
                unsupported,
                "not supported by this version (core NATS over plain TCP only)",
            ));
        }
    }
    let username = v.get("USERNAME");
    let password = v.get("PASSWORD").map(Secret);
    if username.is_some() != password.is_some() {
        return Err(v.invalid(
            "USERNAME",
            "set both the user name and the password, or neither",
        ));
    }
    Ok(TargetSpec::Nats(NatsSpec {
        host,
        port,
        subject,
        username,
        password,
        token: v.get("TOKEN").map(Secret),
    }))
}

fn postgres(v: &Vars<'_>) -> Result<TargetSpec, ConfigError> {
    let mut config = match v.get("CONNECTION_STRING") {
        // Never quote the string: it may hold the password.
        Some(s) => tokio_postgres::Config::from_str(&s)
            .map_err(|e| v.invalid("CONNECTION_STRING", format!("cannot parse it: {e}")))?,
        None => tokio_postgres::Config::new(),
    };
    // MinIO's separate settings fill what the string leaves out.
    if config.get_hosts().is_empty() {
        config.host(v.get("HOST").as_deref().unwrap_or("localhost"));
    }
    if config.get_ports().is_empty()
        && let Some(p) = v.get("PORT")
    {
        config.port(
            p.parse()
                .map_err(|_| v.invalid("PORT", format!("{p:?} is not a port")))?,
        );
    }
    if config.get_user().is_none()
        && let Some(u) = v.get("USERNAME")
    {
        config.user(&u);
    }
    if config.get_password().is_none()
        && let Some(p) = v.get("PASSWORD")
    {
        config.password(p);
    }
    if config.get_dbname().is_none()
        && let Some(d) = v.get("DATABASE")
    {
        config.dbname(&d);
    }
    if config.get_user().is_none() {
        return Err(v
            .require("CONNECTION_STRING")
            .err()
            .unwrap_or_else(|| v.invalid("CONNECTION_STRING", "no user (add user=NAME)")));
    }
    let table = v.require("TABLE")?;
    let valid_part = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && p.len() <= 63
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| valid_part(p)) {
        return Err(v.invalid(
            "TABLE",
            format!(
                "{table:?} is not a table name (letters, digits and _, optionally schema.table)"
            ),
        ));
    }
    Ok(TargetSpec::Postgres(PostgresSpec {
        config,
        table,
        format: v.format()?,
    }))
}

/// The kinds of target, as `almacen admin event target add` names them
/// (and as they appear in MinIO's variable names).
pub const TARGET_KINDS: [&str; 4] = ["webhook", "redis", "nats", "postgres"];

/// Settings whose values are secrets: sealed when stored, never shown.
pub const SECRET_SETTINGS: [&str; 4] = ["AUTH_TOKEN", "PASSWORD", "TOKEN", "CONNECTION_STRING"];

/// One target from its settings, named as MinIO's variables without the
/// `MINIO_NOTIFY_<KIND>_` prefix and `_<ID>` suffix (`ENDPOINT`,
/// `ADDRESS`, `KEY`, ...): the same parsing and checks as the environment.
///
/// # Errors
/// An unknown kind, a bad id, or a missing or unusable setting.
pub fn target_from_settings(
    kind: &str,
    id: &str,
    settings: &std::collections::BTreeMap<String, String>,
    region: &str,
) -> Result<Target, ConfigError> {
    let kind = match kind.to_ascii_lowercase().as_str() {
        "postgresql" => "postgres".to_owned(),
        k => k.to_owned(),
    };
    let bad = |msg: String| ConfigError::Invalid {
        var: "target".into(),
        reason: msg,
    };
    if !TARGET_KINDS.contains(&kind.as_str()) {
        return Err(bad(format!(
            "unknown target type {kind:?} (webhook, redis, nats or postgres)"
        )));
    }
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad(format!(
            "invalid target id {id:?}: letters, digits and '-' only"
        )));
    }
    let upper = kind.to_ascii_uppercase();
    let mut vars: Vec<(String, String)> =
        vec![(format!("MINIO_NOTIFY_{upper}_ENABLE_{id}"), "on".into())];
    for (k, v) in settings {
        let k = k.to_ascii_uppercase();
        if k != "ENABLE" {
            vars.push((format!("MINIO_NOTIFY_{upper}_{k}_{id}"), v.clone()));
        }
    }
    targets_from_env(vars, region)?
        .into_iter()
        .next()
        .ok_or_else(|| bad("the settings name no target".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn webhook_targets_from_minio_variables() {
        let t = targets_from_env(
            vars(&[
                ("MINIO_NOTIFY_WEBHOOK_ENABLE_PRIMARY", "on"),
                (
                    "MINIO_NOTIFY_WEBHOOK_ENDPOINT_PRIMARY",
                    "http://jobs:8080/events",
                ),
                ("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PRIMARY", "t0k"),
                ("MINIO_NOTIFY_WEBHOOK_ENABLE_OFF", "off"),
                ("MINIO_NOTIFY_WEBHOOK_ENABLE", "on"),
                ("MINIO_NOTIFY_WEBHOOK_ENDPOINT", "http://hook/"),
            ]),
            "",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].arn, "arn:minio:sqs::_:webhook");
        assert_eq!(t[1].arn, "arn:minio:sqs::primary:webhook");
        let TargetSpec::Webhook(w) = &t[1].spec else {
            panic!()
        };
        assert_eq!(w.auth_token.as_ref().map(Secret::expose), Some("t0k"));
        assert!(!format!("{:?}", t[1]).contains("t0k"));
        assert!(matches!(
            targets_from_env(vars(&[("MINIO_NOTIFY_WEBHOOK_ENABLE_X", "on")]), ""),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn redis_nats_postgres_from_minio_variables() {
        let t = targets_from_env(
            vars(&[
                ("MINIO_NOTIFY_REDIS_ENABLE_JOBS", "on"),
                ("MINIO_NOTIFY_REDIS_ADDRESS_JOBS", "redis:6380"),
                ("MINIO_NOTIFY_REDIS_KEY_JOBS", "videos"),
                ("MINIO_NOTIFY_REDIS_FORMAT_JOBS", "access"),
                ("MINIO_NOTIFY_REDIS_PASSWORD_JOBS", "r3dis-pass"),
                ("MINIO_NOTIFY_NATS_ENABLE_1", "on"),
                ("MINIO_NOTIFY_NATS_ADDRESS_1", "127.0.0.1:4222"),
                ("MINIO_NOTIFY_NATS_SUBJECT_1", "bucketevents"),
                ("MINIO_NOTIFY_NATS_TOKEN_1", "n4ts-token"),
                ("MINIO_NOTIFY_POSTGRES_ENABLE_PG", "on"),
                (
                    "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_PG",
                    "host=db port=5433 user=minio password=pg-s3cret dbname=events sslmode=disable",
                ),
                ("MINIO_NOTIFY_POSTGRES_TABLE_PG", "bucketevents"),
                ("MINIO_NOTIFY_POSTGRES_FORMAT_PG", "namespace"),
            ]),
            "us-east-1",
        )
        .unwrap();
        let arns: Vec<&str> = t.iter().map(|t| t.arn.as_str()).collect();
        assert_eq!(
            arns,
            [
                "arn:minio:sqs:us-east-1:jobs:redis",
                "arn:minio:sqs:us-east-1:1:nats",
                "arn:minio:sqs:us-east-1:pg:postgresql"
            ]
        );
        assert_eq!(
            t[0].endpoint(),
            "redis://redis:6380/ key=videos format=access"
        );
        assert_eq!(
            t[1].endpoint(),
            "nats://127.0.0.1:4222 subject=bucketevents"
        );
        assert_eq!(
            t[2].endpoint(),
            "postgres://minio@db:5433/events table=bucketevents format=namespace"
        );
        let debug = format!("{t:?}");
        for secret in ["r3dis-pass", "n4ts-token", "pg-s3cret"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn bad_settings_are_refused_without_quoting_secrets() {
        let e = targets_from_env(
            vars(&[
                ("MINIO_NOTIFY_REDIS_ENABLE_X", "on"),
                ("MINIO_NOTIFY_REDIS_ADDRESS_X", "localhost:6379"),
                ("MINIO_NOTIFY_REDIS_KEY_X", "k"),
                ("MINIO_NOTIFY_REDIS_FORMAT_X", "list"),
            ]),
            "",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "MINIO_NOTIFY_REDIS_FORMAT_X: \"list\" is neither namespace nor access"
        );
        let e = targets_from_env(
            vars(&[
                ("MINIO_NOTIFY_POSTGRES_ENABLE", "on"),
                (
                    "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING",
                    "user=u password=hunter2 port=notaport",
                ),
                ("MINIO_NOTIFY_POSTGRES_TABLE", "t"),
                ("MINIO_NOTIFY_POSTGRES_FORMAT", "access"),
            ]),
            "",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = targets_from_env(
            vars(&[
                ("MINIO_NOTIFY_POSTGRES_ENABLE", "on"),
                ("MINIO_NOTIFY_POSTGRES_CONNECTION_STRING", "user=u"),
                ("MINIO_NOTIFY_POSTGRES_TABLE", "t; DROP TABLE x"),
                ("MINIO_NOTIFY_POSTGRES_FORMAT", "access"),
            ]),
            "",
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }));
    }
}
