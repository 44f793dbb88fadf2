//! Users, groups, named policies and service accounts: kept in the metadata
//! store's configuration table (`iam/...` keys, JSON values, secrets sealed
//! by [`Sealer`]) and mirrored in memory, so that authenticating a request
//! never touches the disk.
//!
//! Every change commits to the metadata store first and only then updates
//! the in-memory copy; changes are serialized by one lock, so two
//! administrators adding members to one group cannot lose each other's
//! update.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use almacen_meta::{MetaStore, WriteOp};
use serde::{Deserialize, Serialize};

use crate::canned::CANNED_POLICIES;
use crate::seal::Sealer;
use crate::{AuthError, Context, Decision, IamError, Policy, Request};

const USERS: &str = "iam/users/";
const GROUPS: &str = "iam/groups/";
const POLICIES: &str = "iam/policies/";
const SERVICE_ACCOUNTS: &str = "iam/service-accounts/";

/// Whether an identity or group is in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In force.
    #[default]
    Enabled,
    /// Kept, but cannot sign requests (users, service accounts) or grants nothing (groups).
    Disabled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserRecord {
    secret: String,
    status: Status,
    policies: Vec<String>,
    created_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct GroupRecord {
    members: Vec<String>,
    policies: Vec<String>,
    #[serde(default)]
    status: Status,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PolicyRecord {
    document: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ServiceAccountRecord {
    secret: String,
    parent: String,
    policy: Option<String>,
    expires_ms: Option<i64>,
    status: Status,
    name: Option<String>,
    description: Option<String>,
    created_ms: i64,
}

/// A user as the admin API shows it (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    /// The user name, which is also its access key (as on MinIO).
    pub name: String,
    /// Enabled or disabled.
    pub status: Status,
    /// Policies attached to the user directly.
    pub policies: Vec<String>,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// False when its secret was sealed under another root secret or master key.
    pub secret_readable: bool,
}

/// A group as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupInfo {
    /// The group name.
    pub name: String,
    /// Enabled or disabled.
    pub status: Status,
    /// Member user names.
    pub members: Vec<String>,
    /// Attached policies.
    pub policies: Vec<String>,
}

/// A named policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyInfo {
    /// The policy name.
    pub name: String,
    /// True for the built-in policies (readonly, readwrite, ...).
    pub builtin: bool,
    /// The JSON document as written.
    pub document: String,
}

/// A service account as the admin API shows it (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccountInfo {
    /// Its access key.
    pub access_key: String,
    /// The user (or root access key) whose rights it borrows.
    pub parent: String,
    /// Optional display name.
    pub name: Option<String>,
    /// Optional description.
    pub description: Option<String>,
    /// The narrowing policy, if any.
    pub policy: Option<String>,
    /// Expiry as milliseconds since the epoch, if any.
    pub expires_ms: Option<i64>,
    /// Enabled or disabled.
    pub status: Status,
}

/// What to create a service account with; unset keys are generated.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewServiceAccount {
    /// A chosen access key.
    pub access_key: Option<String>,
    /// A chosen secret.
    pub secret_key: Option<String>,
    /// A policy that narrows the parent's rights.
    pub policy: Option<String>,
    /// Expiry as milliseconds since the epoch.
    pub expires_ms: Option<i64>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// Access key and secret of a new service account: the only time the
/// secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    /// The access key.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
}

/// What signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The root credentials: may do everything.
    Root,
    /// An IAM user.
    User,
    /// A service account of a user or of root.
    ServiceAccount,
}

/// An authenticated caller with the policies that decide what it may do.
#[derive(Clone)]
pub struct Identity {
    /// The access key that signed.
    pub access_key: String,
    /// The user it acts as: its own name, the parent of a service account,
    /// or the root access key. Bucket policies name this principal.
    pub user: String,
    /// Root, user or service account.
    pub kind: Kind,
    secret: String,
    parent_is_root: bool,
    policies: Vec<Arc<Policy>>,
    session: Option<Arc<Policy>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("access_key", &self.access_key)
            .field("user", &self.user)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The secret to verify signatures with.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether this is the root identity, which no policy restricts.
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.kind == Kind::Root
    }

    /// Whether any of its policies has a condition on a key starting with `prefix`.
    #[must_use]
    pub fn uses_condition_key(&self, prefix: &str) -> bool {
        self.policies
            .iter()
            .chain(self.session.iter())
            .any(|p| p.uses_condition_key(prefix))
    }

    /// Whether the identity's session policy (a service account's own
    /// policy, which narrows its parent's rights) allows `action` on
    /// `resource`; `true` without one. A grant from a bucket policy or an
    /// ACL to the parent counts for the key only when this holds, as AWS
    /// bounds resource-policy grants by a session policy.
    #[must_use]
    pub fn session_permits(&self, action: &str, resource: &str, context: &Context) -> bool {
        self.session.as_ref().is_none_or(|s| {
            s.evaluate(&Request {
                action,
                resource,
                principal: &self.user,
                context,
            }) == Decision::Allow
        })
    }

    /// What the identity's own policies say of `action` on `resource`:
    /// the user's and its enabled groups' policies (an explicit Deny wins);
    /// for a service account, the parent's rights, further narrowed by its
    /// own policy when it has one (both must allow).
    #[must_use]
    pub fn evaluate(&self, action: &str, resource: &str, context: &Context) -> Decision {
        let req = Request {
            action,
            resource,
            principal: &self.user,
            context,
        };
        let inherited = if self.is_root() || self.parent_is_root {
            Decision::Allow
        } else {
            combine(self.policies.iter().map(|p| p.evaluate(&req)))
        };
        match (&self.session, inherited) {
            (_, Decision::Deny) => Decision::Deny,
            (None, d) => d,
            (Some(session), d) => match session.evaluate(&req) {
                Decision::Deny => Decision::Deny,
                Decision::Allow if d == Decision::Allow => Decision::Allow,
                _ => Decision::NotApplicable,
            },
        }
    }
}

/// Several policies together: any Deny wins, else any Allow, else nothing.
#[must_use]
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    let mut out = Decision::NotApplicable;
    for d in decisions {
        match d {
            Decision::Deny => return Decision::Deny,
            Decision::Allow => out = Decision::Allow,
            Decision::NotApplicable => {}
        }
    }
    out
}

struct StoredUser {
    record: UserRecord,
    secret: Option<String>,
}

struct StoredServiceAccount {
    record: ServiceAccountRecord,
    secret: Option<String>,
    session: Option<Arc<Policy>>,
}

struct StoredPolicy {
    document: String,
    parsed: Arc<Policy>,
    builtin: bool,
}

#[derive(Default)]
struct State {
    users: BTreeMap<String, StoredUser>,
    groups: BTreeMap<String, GroupRecord>,
    policies: BTreeMap<String, StoredPolicy>,
    service_accounts: BTreeMap<String, StoredServiceAccount>,
}

impl State {
    /// An empty state but for the built-in policies.
    fn with_builtins() -> Self {
        let mut state = Self::default();
        for (name, doc) in CANNED_POLICIES {
            let parsed = Policy::parse(doc).expect("built-in policies parse");
            state.policies.insert(
                (*name).to_owned(),
                StoredPolicy {
                    document: (*doc).to_owned(),
                    parsed: Arc::new(parsed),
                    builtin: true,
                },
            );
        }
        state
    }
}

/// One change to the IAM data, applied to the metadata store then to memory.
enum Change {
    User(String, Option<UserRecord>),
    Group(String, Option<GroupRecord>),
    Policy(String, Option<PolicyRecord>),
    ServiceAccount(String, Option<ServiceAccountRecord>),
}

/// The identity store (see the module documentation); shared by the S3
/// front (authentication and authorization) and the admin API.
pub struct IamStore {
    meta: Arc<dyn MetaStore>,
    sealer: Sealer,
    root_access_key: String,
    root_secret: String,
    state: RwLock<State>,
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamStore")
            .field("root_access_key", &self.root_access_key)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// Names of users, groups, policies and access keys: 3 to 128 characters
/// (policies and groups may be shorter) of letters, digits and `_ . - @ + = ,`
/// (no `/` or `:`, which SigV4 credential scopes and ARNs use as separators).
fn check_name(what: &str, name: &str, min: usize) -> Result<(), IamError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-@+=,".contains(c));
    if (min..=128).contains(&name.len()) && ok_chars {
        Ok(())
    } else {
        Err(IamError::InvalidArgument(format!(
            "invalid {what} {name:?}: use {min} to 128 letters, digits or _ . - @ + = ,"
        )))
    }
}

/// Secrets: 8 to 40 characters, printable ASCII without spaces (MinIO's rule).
fn check_secret(secret: &str) -> Result<(), IamError> {
    if (8..=40).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(IamError::InvalidArgument(
            "a secret key must be 8 to 40 printable characters without spaces".into(),
        ))
    }
}

/// `n` random characters from `alphabet`.
fn random_string(n: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl IamStore {
    /// Loads the IAM data. `master_key`, when set, derives the sealing key;
    /// otherwise the root secret does (changing it then makes stored secrets
    /// unreadable: those keys stop working and are reported, nothing is lost).
    ///
    /// # Errors
    /// The metadata store failed, or an entry is not valid JSON.
    pub async fn open(
        meta: Arc<dyn MetaStore>,
        root_access_key: &str,
        root_secret: &str,
        master_key: Option<&[u8]>,
    ) -> Result<Self, IamError> {
        Self::open_with_previous(meta, root_access_key, root_secret, master_key, &[]).await
    }

    /// [`IamStore::open`], also opening secrets sealed under `previous` key
    /// materials (master keys before a rotation) and, when a master key is
    /// set, under the root secret (secrets stored before a master key was
    /// configured). [`IamStore::reseal_secrets`] moves them to the current key.
    ///
    /// # Errors
    /// As [`IamStore::open`].
    pub async fn open_with_previous(
        meta: Arc<dyn MetaStore>,
        root_access_key: &str,
        root_secret: &str,
        master_key: Option<&[u8]>,
        previous: &[&[u8]],
    ) -> Result<Self, IamError> {
        // The root secret seals only through Argon2id; what the earlier,
        // unstretched derivation sealed still opens (and is re-sealed below).
        let stretched = crate::seal::stretch(root_access_key, root_secret);
        let mut fallbacks: Vec<&[u8]> = previous.to_vec();
        if master_key.is_some() {
            fallbacks.push(&stretched);
        }
        fallbacks.push(root_secret.as_bytes());
        let sealer = Sealer::with_previous(master_key.unwrap_or(&stretched), &fallbacks);
        let store = Self {
            meta,
            sealer,
            root_access_key: root_access_key.to_owned(),
            root_secret: root_secret.to_owned(),
            state: RwLock::new(State::default()),
            writer: tokio::sync::Mutex::new(()),
        };
        let changes = store.stored_changes().await?;
        {
            let mut state = store.state_mut();
            *state = State::with_builtins();
            store.apply_to(&mut state, changes);
        }
        let unreadable = {
            let state = store.state();
            state.users.values().filter(|u| u.secret.is_none()).count()
                + state
                    .service_accounts
                    .values()
                    .filter(|s| s.secret.is_none())
                    .count()
        };
        if unreadable > 0 {
            tracing::error!(
                count = unreadable,
                "access keys whose secrets were sealed under another root secret or master key \
                 cannot sign requests; restore the previous key or set new secrets"
            );
        }
        // Without a master key, move secrets sealed under the unstretched
        // root secret (before Argon2id) to the stretched key.
        if master_key.is_none() {
            let moved = store.reseal_secrets().await?;
            if moved > 0 {
                tracing::info!(
                    count = moved,
                    "IAM secrets re-sealed under the Argon2id-stretched root key"
                );
            }
        }
        Ok(store)
    }

    /// Every IAM entry in the metadata store, as changes to apply.
    async fn stored_changes(&self) -> Result<Vec<Change>, IamError> {
        let entries = self.meta.list_config("iam/").await?;
        let mut changes = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let corrupt = || IamError::Corrupt(key.clone());
            let parse_err = |_| corrupt();
            let change = if let Some(name) = key.strip_prefix(USERS) {
                Change::User(
                    name.into(),
                    Some(serde_json::from_slice(&value).map_err(parse_err)?),
                )
            } else if let Some(name) = key.strip_prefix(GROUPS) {
                Change::Group(
                    name.into(),
                    Some(serde_json::from_slice(&value).map_err(parse_err)?),
                )
            } else if let Some(name) = key.strip_prefix(POLICIES) {
                Change::Policy(
                    name.into(),
                    Some(serde_json::from_slice(&value).map_err(parse_err)?),
                )
            } else if let Some(ak) = key.strip_prefix(SERVICE_ACCOUNTS) {
                Change::ServiceAccount(
                    ak.into(),
                    Some(serde_json::from_slice(&value).map_err(parse_err)?),
                )
            } else {
                continue;
            };
            changes.push(change);
        }
        Ok(changes)
    }

    /// Reads every entry again and swaps the in-memory copy at once: how a
    /// node sees users, groups, policies and keys that another node
    /// changed (the server calls it when the store's configuration
    /// generation moves).
    ///
    /// # Errors
    /// The metadata store failed or an entry is not valid JSON; the copy
    /// in memory is then left as it was.
    pub async fn reload(&self) -> Result<(), IamError> {
        // No local change may land between the read and the swap.
        let _one_writer = self.writer.lock().await;
        let changes = self.stored_changes().await?;
        let mut fresh = State::with_builtins();
        self.apply_to(&mut fresh, changes);
        *self.state_mut() = fresh;
        Ok(())
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The identity behind `access_key`, with the policies that apply to it now.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub fn identity(&self, access_key: &str) -> Result<Identity, AuthError> {
        use subtle::ConstantTimeEq as _;
        if bool::from(access_key.as_bytes().ct_eq(self.root_access_key.as_bytes())) {
            return Ok(Identity {
                access_key: access_key.to_owned(),
                user: self.root_access_key.clone(),
                kind: Kind::Root,
                secret: self.root_secret.clone(),
                parent_is_root: false,
                policies: Vec::new(),
                session: None,
            });
        }
        let state = self.state();
        if let Some(user) = state.users.get(access_key) {
            if user.record.status == Status::Disabled {
                return Err(AuthError::Disabled);
            }
            let secret = user.secret.clone().ok_or(AuthError::Unreadable)?;
            return Ok(Identity {
                access_key: access_key.to_owned(),
                user: access_key.to_owned(),
                kind: Kind::User,
                secret,
                parent_is_root: false,
                policies: state.policies_of(access_key),
                session: None,
            });
        }
        let sa = state
            .service_accounts
            .get(access_key)
            .ok_or(AuthError::Unknown)?;
        if sa.record.expires_ms.is_some_and(|t| t <= now_ms()) {
            return Err(AuthError::Unknown);
        }
        if sa.record.status == Status::Disabled {
            return Err(AuthError::Disabled);
        }
        let parent_is_root = sa.record.parent == self.root_access_key;
        if !parent_is_root {
            match state.users.get(&sa.record.parent) {
                Some(p) if p.record.status == Status::Enabled => {}
                Some(_) => return Err(AuthError::Disabled),
                None => return Err(AuthError::Unknown),
            }
        }
        let secret = sa.secret.clone().ok_or(AuthError::Unreadable)?;
        Ok(Identity {
            access_key: access_key.to_owned(),
            user: sa.record.parent.clone(),
            kind: Kind::ServiceAccount,
            secret,
            parent_is_root,
            policies: if parent_is_root {
                Vec::new()
            } else {
                state.policies_of(&sa.record.parent)
            },
            session: sa.session.clone(),
        })
    }

    /// Commits `changes` to the metadata store, then mirrors them in memory.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), IamError> {
        let mut ops = Vec::with_capacity(changes.len());
        for change in &changes {
            let (key, value) = match change {
                Change::User(n, r) => (format!("{USERS}{n}"), r.as_ref().map(serde_json::to_vec)),
                Change::Group(n, r) => (format!("{GROUPS}{n}"), r.as_ref().map(serde_json::to_vec)),
                Change::Policy(n, r) => {
                    (format!("{POLICIES}{n}"), r.as_ref().map(serde_json::to_vec))
                }
                Change::ServiceAccount(n, r) => (
                    format!("{SERVICE_ACCOUNTS}{n}"),
                    r.as_ref().map(serde_json::to_vec),
                ),
            };
            ops.push(match value {
                Some(v) => WriteOp::PutConfig {
                    key,
                    value: v.map_err(|e| IamError::Corrupt(e.to_string()))?,
                },
                None => WriteOp::DeleteConfig { key },
            });
        }
        self.meta.commit(ops).await?;
        self.apply_in_memory(changes);
        Ok(())
    }

    fn apply_in_memory(&self, changes: Vec<Change>) {
        let mut state = self.state_mut();
        self.apply_to(&mut state, changes);
    }

    fn apply_to(&self, state: &mut State, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::User(name, None) => {
                    state.users.remove(&name);
                }
                Change::User(name, Some(record)) => {
                    let secret = self.sealer.open(&format!("{USERS}{name}"), &record.secret);
                    state.users.insert(name, StoredUser { record, secret });
                }
                Change::Group(name, None) => {
                    state.groups.remove(&name);
                }
                Change::Group(name, Some(record)) => {
                    state.groups.insert(name, record);
                }
                Change::Policy(name, None) => {
                    state.policies.remove(&name);
                }
                Change::Policy(name, Some(record)) => {
                    // Stored policies were validated when written; one that no
                    // longer parses (a newer server wrote it) grants nothing.
                    let parsed = Policy::parse(&record.document).unwrap_or_else(|e| {
                        tracing::error!(policy = %name, error = %e, "stored policy does not parse; it grants nothing");
                        Policy { statements: Vec::new() }
                    });
                    state.policies.insert(
                        name,
                        StoredPolicy {
                            document: record.document,
                            parsed: Arc::new(parsed),
                            builtin: false,
                        },
                    );
                }
                Change::ServiceAccount(ak, None) => {
                    state.service_accounts.remove(&ak);
                }
                Change::ServiceAccount(ak, Some(record)) => {
                    let secret = self
                        .sealer
                        .open(&format!("{SERVICE_ACCOUNTS}{ak}"), &record.secret);
                    let session = record.policy.as_deref().map(|doc| {
                        Arc::new(Policy::parse(doc).unwrap_or(Policy {
                            statements: Vec::new(),
                        }))
                    });
                    state.service_accounts.insert(
                        ak,
                        StoredServiceAccount {
                            record,
                            secret,
                            session,
                        },
                    );
                }
            }
        }
    }

    fn taken(state: &State, root: &str, key: &str) -> bool {
        key == root || state.users.contains_key(key) || state.service_accounts.contains_key(key)
    }

    /// Seals a secret of another feature (an event target's password) the
    /// way IAM secrets are sealed, bound to `context`.
    #[must_use]
    pub fn seal_value(&self, context: &str, value: &str) -> String {
        self.sealer.seal(context, value)
    }

    /// Opens what [`IamStore::seal_value`] sealed for `context`.
    #[must_use]
    pub fn open_value(&self, context: &str, sealed: &str) -> Option<String> {
        self.sealer.open(context, sealed)
    }

    /// Re-seals, under the current key, every stored secret that opens only
    /// under a previous one (part of `almacen admin kms rotate`). Returns
    /// how many were re-sealed.
    ///
    /// # Errors
    /// The metadata store failed.
    pub async fn reseal_secrets(&self) -> Result<usize, IamError> {
        let _w = self.writer.lock().await;
        let changes: Vec<Change> = {
            let state = self.state();
            let users = state.users.iter().filter_map(|(name, u)| {
                let ctx = format!("{USERS}{name}");
                let secret = u.secret.as_ref()?;
                (!self.sealer.is_current(&ctx, &u.record.secret)).then(|| {
                    Change::User(
                        name.clone(),
                        Some(UserRecord {
                            secret: self.sealer.seal(&ctx, secret),
                            ..u.record.clone()
                        }),
                    )
                })
            });
            let accounts = state.service_accounts.iter().filter_map(|(ak, a)| {
                let ctx = format!("{SERVICE_ACCOUNTS}{ak}");
                let secret = a.secret.as_ref()?;
                (!self.sealer.is_current(&ctx, &a.record.secret)).then(|| {
                    Change::ServiceAccount(
                        ak.clone(),
                        Some(ServiceAccountRecord {
                            secret: self.sealer.seal(&ctx, secret),
                            ..a.record.clone()
                        }),
                    )
                })
            });
            users.chain(accounts).collect()
        };
        let n = changes.len();
        if n > 0 {
            self.commit(changes).await?;
        }
        Ok(n)
    }

    // ---- users ----

    /// Creates user `name` with `secret`, or sets a new secret for an existing
    /// one (as `mc admin user add` does), keeping its policies and status.
    ///
    /// # Errors
    /// Invalid name or secret; the name is the root or a service account key.
    pub async fn add_user(&self, name: &str, secret: &str) -> Result<(), IamError> {
        check_name("user name", name, 3)?;
        check_secret(secret)?;
        let _w = self.writer.lock().await;
        let record = {
            let state = self.state();
            if name == self.root_access_key || state.service_accounts.contains_key(name) {
                return Err(IamError::AlreadyExists(format!(
                    "the access key {name} is already in use"
                )));
            }
            let sealed = self.sealer.seal(&format!("{USERS}{name}"), secret);
            match state.users.get(name) {
                Some(u) => UserRecord {
                    secret: sealed,
                    ..u.record.clone()
                },
                None => UserRecord {
                    secret: sealed,
                    status: Status::Enabled,
                    policies: Vec::new(),
                    created_ms: now_ms(),
                },
            }
        };
        self.commit(vec![Change::User(name.into(), Some(record))])
            .await
    }

    /// Every user, by name.
    #[must_use]
    pub fn users(&self) -> Vec<UserInfo> {
        let state = self.state();
        state.users.keys().map(|n| state.user_info(n)).collect()
    }

    /// One user.
    ///
    /// # Errors
    /// [`IamError::NoSuchUser`].
    pub fn user(&self, name: &str) -> Result<UserInfo, IamError> {
        let state = self.state();
        if !state.users.contains_key(name) {
            return Err(IamError::NoSuchUser(name.into()));
        }
        Ok(state.user_info(name))
    }

    /// Enables or disables a user (a disabled user's keys stop working at once).
    ///
    /// # Errors
    /// [`IamError::NoSuchUser`].
    pub async fn set_user_status(&self, name: &str, status: Status) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let record = {
            let state = self.state();
            let u = state
                .users
                .get(name)
                .ok_or_else(|| IamError::NoSuchUser(name.into()))?;
            UserRecord {
                status,
                ..u.record.clone()
            }
        };
        self.commit(vec![Change::User(name.into(), Some(record))])
            .await
    }

    /// Removes a user, its group memberships and its service accounts.
    ///
    /// # Errors
    /// [`IamError::NoSuchUser`].
    pub async fn remove_user(&self, name: &str) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let changes = {
            let state = self.state();
            if !state.users.contains_key(name) {
                return Err(IamError::NoSuchUser(name.into()));
            }
            let mut changes = vec![Change::User(name.into(), None)];
            for (g, rec) in &state.groups {
                if rec.members.iter().any(|m| m == name) {
                    let mut rec = rec.clone();
                    rec.members.retain(|m| m != name);
                    changes.push(Change::Group(g.clone(), Some(rec)));
                }
            }
            for (ak, sa) in &state.service_accounts {
                if sa.record.parent == name {
                    changes.push(Change::ServiceAccount(ak.clone(), None));
                }
            }
            changes
        };
        self.commit(changes).await
    }

    // ---- groups ----

    /// Adds `members` to `group`, creating the group if needed.
    ///
    /// # Errors
    /// Invalid group name; a member that is not a user.
    pub async fn add_group_members(&self, group: &str, members: &[String]) -> Result<(), IamError> {
        check_name("group name", group, 1)?;
        let _w = self.writer.lock().await;
        let record = {
            let state = self.state();
            let mut rec = state.groups.get(group).cloned().unwrap_or_default();
            for m in members {
                if !state.users.contains_key(m) {
                    return Err(IamError::NoSuchUser(m.clone()));
                }
                if !rec.members.contains(m) {
                    rec.members.push(m.clone());
                }
            }
            rec.members.sort();
            rec
        };
        self.commit(vec![Change::Group(group.into(), Some(record))])
            .await
    }

    /// Removes `members` from `group`; with no members given, removes the
    /// group itself, which must then be empty (as MinIO).
    ///
    /// # Errors
    /// [`IamError::NoSuchGroup`], [`IamError::GroupNotEmpty`].
    pub async fn remove_group_members(
        &self,
        group: &str,
        members: &[String],
    ) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let change = {
            let state = self.state();
            let rec = state
                .groups
                .get(group)
                .ok_or_else(|| IamError::NoSuchGroup(group.into()))?;
            if members.is_empty() {
                if !rec.members.is_empty() {
                    return Err(IamError::GroupNotEmpty(group.into()));
                }
                Change::Group(group.into(), None)
            } else {
                let mut rec = rec.clone();
                rec.members.retain(|m| !members.contains(m));
                Change::Group(group.into(), Some(rec))
            }
        };
        self.commit(vec![change]).await
    }

    /// Every group, by name.
    #[must_use]
    pub fn groups(&self) -> Vec<GroupInfo> {
        let state = self.state();
        state.groups.iter().map(|(n, r)| group_info(n, r)).collect()
    }

    /// One group.
    ///
    /// # Errors
    /// [`IamError::NoSuchGroup`].
    pub fn group(&self, name: &str) -> Result<GroupInfo, IamError> {
        let state = self.state();
        state
            .groups
            .get(name)
            .map(|r| group_info(name, r))
            .ok_or_else(|| IamError::NoSuchGroup(name.into()))
    }

    /// Enables or disables a group (a disabled group's policies grant nothing).
    ///
    /// # Errors
    /// [`IamError::NoSuchGroup`].
    pub async fn set_group_status(&self, name: &str, status: Status) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let record = {
            let state = self.state();
            let g = state
                .groups
                .get(name)
                .ok_or_else(|| IamError::NoSuchGroup(name.into()))?;
            GroupRecord {
                status,
                ..g.clone()
            }
        };
        self.commit(vec![Change::Group(name.into(), Some(record))])
            .await
    }

    // ---- policies ----

    /// Creates or replaces the named policy after validating it.
    ///
    /// # Errors
    /// [`IamError::MalformedPolicy`] with the position or the unknown
    /// action/field; [`IamError::BuiltIn`] for the built-in names.
    pub async fn put_policy(&self, name: &str, document: &str) -> Result<(), IamError> {
        check_name("policy name", name, 1)?;
        Policy::parse(document)?;
        let _w = self.writer.lock().await;
        if self.state().policies.get(name).is_some_and(|p| p.builtin) {
            return Err(IamError::BuiltIn(name.into()));
        }
        self.commit(vec![Change::Policy(
            name.into(),
            Some(PolicyRecord {
                document: document.to_owned(),
            }),
        )])
        .await
    }

    /// Every policy, built-in ones included, by name.
    #[must_use]
    pub fn policies(&self) -> Vec<PolicyInfo> {
        let state = self.state();
        state
            .policies
            .iter()
            .map(|(n, p)| PolicyInfo {
                name: n.clone(),
                builtin: p.builtin,
                document: p.document.clone(),
            })
            .collect()
    }

    /// One policy.
    ///
    /// # Errors
    /// [`IamError::NoSuchPolicy`].
    pub fn policy(&self, name: &str) -> Result<PolicyInfo, IamError> {
        let state = self.state();
        state
            .policies
            .get(name)
            .map(|p| PolicyInfo {
                name: name.into(),
                builtin: p.builtin,
                document: p.document.clone(),
            })
            .ok_or_else(|| IamError::NoSuchPolicy(name.into()))
    }

    /// Removes a policy that nothing is attached to.
    ///
    /// # Errors
    /// [`IamError::NoSuchPolicy`], [`IamError::BuiltIn`], [`IamError::PolicyInUse`].
    pub async fn remove_policy(&self, name: &str) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        {
            let state = self.state();
            let p = state
                .policies
                .get(name)
                .ok_or_else(|| IamError::NoSuchPolicy(name.into()))?;
            if p.builtin {
                return Err(IamError::BuiltIn(name.into()));
            }
            let holders: Vec<String> = state
                .users
                .iter()
                .filter(|(_, u)| u.record.policies.iter().any(|x| x == name))
                .map(|(n, _)| format!("user {n}"))
                .chain(
                    state
                        .groups
                        .iter()
                        .filter(|(_, g)| g.policies.iter().any(|x| x == name))
                        .map(|(n, _)| format!("group {n}")),
                )
                .collect();
            if !holders.is_empty() {
                return Err(IamError::PolicyInUse(name.into(), holders.join(", ")));
            }
        }
        self.commit(vec![Change::Policy(name.into(), None)]).await
    }

    /// Attaches (`attach = true`) or detaches `policies` to or from a user
    /// or a group.
    ///
    /// # Errors
    /// Unknown user, group or policy.
    pub async fn set_attachment(
        &self,
        target: &Target,
        policies: &[String],
        attach: bool,
    ) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let change = {
            let state = self.state();
            for p in policies {
                if attach && !state.policies.contains_key(p) {
                    return Err(IamError::NoSuchPolicy(p.clone()));
                }
            }
            let edit = |list: &mut Vec<String>| {
                for p in policies {
                    if attach && !list.contains(p) {
                        list.push(p.clone());
                    }
                    if !attach {
                        list.retain(|x| x != p);
                    }
                }
            };
            match target {
                Target::User(name) => {
                    let mut rec = state
                        .users
                        .get(name)
                        .ok_or_else(|| IamError::NoSuchUser(name.clone()))?
                        .record
                        .clone();
                    edit(&mut rec.policies);
                    Change::User(name.clone(), Some(rec))
                }
                Target::Group(name) => {
                    let mut rec = state
                        .groups
                        .get(name)
                        .ok_or_else(|| IamError::NoSuchGroup(name.clone()))?
                        .clone();
                    edit(&mut rec.policies);
                    Change::Group(name.clone(), Some(rec))
                }
            }
        };
        self.commit(vec![change]).await
    }

    // ---- service accounts ----

    /// The root access key (`MINIO_ROOT_USER`).
    #[must_use]
    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    /// Creates a service account for `req.parent` (a user or the root
    /// access key), generating the keys that are not given.
    ///
    /// # Errors
    /// Unknown parent, a taken or invalid access key, an invalid secret or
    /// policy, an expiry in the past.
    pub async fn create_service_account(
        &self,
        parent: &str,
        req: NewServiceAccount,
    ) -> Result<Credentials, IamError> {
        let access_key = req
            .access_key
            .unwrap_or_else(|| random_string(20, KEY_ALPHABET));
        check_name("access key", &access_key, 3)?;
        let secret_key = req
            .secret_key
            .unwrap_or_else(|| random_string(40, SECRET_ALPHABET));
        check_secret(&secret_key)?;
        if let Some(doc) = &req.policy {
            Policy::parse(doc)?;
        }
        if req.expires_ms.is_some_and(|t| t <= now_ms()) {
            return Err(IamError::InvalidArgument(
                "the expiry must be in the future".into(),
            ));
        }
        let _w = self.writer.lock().await;
        {
            let state = self.state();
            if parent != self.root_access_key && !state.users.contains_key(parent) {
                return Err(IamError::NoSuchUser(parent.into()));
            }
            if Self::taken(&state, &self.root_access_key, &access_key) {
                return Err(IamError::AlreadyExists(format!(
                    "the access key {access_key} is already in use"
                )));
            }
        }
        let record = ServiceAccountRecord {
            secret: self
                .sealer
                .seal(&format!("{SERVICE_ACCOUNTS}{access_key}"), &secret_key),
            parent: parent.to_owned(),
            policy: req.policy,
            expires_ms: req.expires_ms,
            status: Status::Enabled,
            name: req.name,
            description: req.description,
            created_ms: now_ms(),
        };
        self.commit(vec![Change::ServiceAccount(
            access_key.clone(),
            Some(record),
        )])
        .await?;
        Ok(Credentials {
            access_key,
            secret_key,
        })
    }

    /// Service accounts, all or those of one parent.
    #[must_use]
    pub fn service_accounts(&self, parent: Option<&str>) -> Vec<ServiceAccountInfo> {
        let state = self.state();
        state
            .service_accounts
            .iter()
            .filter(|(_, sa)| parent.is_none_or(|p| sa.record.parent == p))
            .map(|(ak, sa)| service_account_info(ak, &sa.record))
            .collect()
    }

    /// One service account.
    ///
    /// # Errors
    /// [`IamError::NoSuchServiceAccount`].
    pub fn service_account(&self, access_key: &str) -> Result<ServiceAccountInfo, IamError> {
        let state = self.state();
        state
            .service_accounts
            .get(access_key)
            .map(|sa| service_account_info(access_key, &sa.record))
            .ok_or_else(|| IamError::NoSuchServiceAccount(access_key.into()))
    }

    /// Enables or disables a service account.
    ///
    /// # Errors
    /// [`IamError::NoSuchServiceAccount`].
    pub async fn set_service_account_status(
        &self,
        access_key: &str,
        status: Status,
    ) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        let record = {
            let state = self.state();
            let sa = state
                .service_accounts
                .get(access_key)
                .ok_or_else(|| IamError::NoSuchServiceAccount(access_key.into()))?;
            ServiceAccountRecord {
                status,
                ..sa.record.clone()
            }
        };
        self.commit(vec![Change::ServiceAccount(
            access_key.into(),
            Some(record),
        )])
        .await
    }

    /// Revokes a service account.
    ///
    /// # Errors
    /// [`IamError::NoSuchServiceAccount`].
    pub async fn remove_service_account(&self, access_key: &str) -> Result<(), IamError> {
        let _w = self.writer.lock().await;
        if !self.state().service_accounts.contains_key(access_key) {
            return Err(IamError::NoSuchServiceAccount(access_key.into()));
        }
        self.commit(vec![Change::ServiceAccount(access_key.into(), None)])
            .await
    }
}

/// Who a policy is attached to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A user by name.
    User(String),
    /// A group by name.
    Group(String),
}

impl State {
    /// The parsed policies of user `name`: its own and its enabled groups'.
    fn policies_of(&self, name: &str) -> Vec<Arc<Policy>> {
        let own = self
            .users
            .get(name)
            .map(|u| u.record.policies.as_slice())
            .unwrap_or_default();
        let from_groups = self
            .groups
            .values()
            .filter(|g| g.status == Status::Enabled && g.members.iter().any(|m| m == name))
            .flat_map(|g| g.policies.iter());
        own.iter()
            .chain(from_groups)
            .filter_map(|p| self.policies.get(p).map(|s| s.parsed.clone()))
            .collect()
    }

    fn user_info(&self, name: &str) -> UserInfo {
        let u = &self.users[name];
        UserInfo {
            name: name.to_owned(),
            status: u.record.status,
            policies: u.record.policies.clone(),
            groups: self
                .groups
                .iter()
                .filter(|(_, g)| g.members.iter().any(|m| m == name))
                .map(|(n, _)| n.clone())
                .collect(),
            secret_readable: u.secret.is_some(),
        }
    }
}

fn group_info(name: &str, r: &GroupRecord) -> GroupInfo {
    GroupInfo {
        name: name.to_owned(),
        status: r.status,
        members: r.members.clone(),
        policies: r.policies.clone(),
    }
}

fn service_account_info(ak: &str, r: &ServiceAccountRecord) -> ServiceAccountInfo {
    ServiceAccountInfo {
        access_key: ak.to_owned(),
        parent: r.parent.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        policy: r.policy.clone(),
        expires_ms: r.expires_ms,
        status: r.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use almacen_meta::SqliteStore;

    const TENANT_1: &str = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::products/tenant_1/*"}]}"#;

    async fn open(dir: &std::path::Path, root_secret: &str) -> IamStore {
        let meta = Arc::new(SqliteStore::open(&dir.join("meta.db")).unwrap());
        IamStore::open(meta, "root", root_secret, None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn users_groups_policies_and_service_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let iam = open(dir.path(), "rootsecret").await;
        iam.add_user("alice", "alice-secret").await.unwrap();
        iam.put_policy("tenant1", TENANT_1).await.unwrap();
        let ctx = Context::new();
        let obj1 = "arn:aws:s3:::products/tenant_1/a.jpg";
        let obj2 = "arn:aws:s3:::products/tenant_2/a.jpg";
        let alice = iam.identity("alice").unwrap();
        assert_eq!(alice.secret(), "alice-secret");
        assert_eq!(
            alice.evaluate("s3:GetObject", obj1, &ctx),
            Decision::NotApplicable
        );

        // Through a group.
        iam.add_group_members("tenants", &["alice".into()])
            .await
            .unwrap();
        iam.set_attachment(&Target::Group("tenants".into()), &["tenant1".into()], true)
            .await
            .unwrap();
        let alice = iam.identity("alice").unwrap();
        assert_eq!(alice.evaluate("s3:GetObject", obj1, &ctx), Decision::Allow);
        assert_eq!(
            alice.evaluate("s3:GetObject", obj2, &ctx),
            Decision::NotApplicable
        );
        iam.set_group_status("tenants", Status::Disabled)
            .await
            .unwrap();
        let alice = iam.identity("alice").unwrap();
        assert_eq!(
            alice.evaluate("s3:GetObject", obj1, &ctx),
            Decision::NotApplicable
        );
        assert!(matches!(
            iam.remove_policy("tenant1").await,
            Err(IamError::PolicyInUse(..))
        ));
        assert!(matches!(
            iam.remove_policy("readonly").await,
            Err(IamError::BuiltIn(..))
        ));

        // A service account narrowed to reads.
        iam.set_attachment(&Target::User("alice".into()), &["readwrite".into()], true)
            .await
            .unwrap();
        let creds = iam
            .create_service_account(
                "alice",
                NewServiceAccount {
                    policy: Some(canned_readonly_for_test().to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let sa = iam.identity(&creds.access_key).unwrap();
        assert_eq!(sa.user, "alice");
        assert_eq!(sa.evaluate("s3:GetObject", obj2, &ctx), Decision::Allow);
        assert_eq!(
            sa.evaluate("s3:PutObject", obj2, &ctx),
            Decision::NotApplicable
        );

        // Disabled users cannot sign, nor can their service accounts.
        iam.set_user_status("alice", Status::Disabled)
            .await
            .unwrap();
        assert_eq!(iam.identity("alice").unwrap_err(), AuthError::Disabled);
        assert_eq!(
            iam.identity(&creds.access_key).unwrap_err(),
            AuthError::Disabled
        );
        iam.set_user_status("alice", Status::Enabled).await.unwrap();
        drop(iam);

        // Everything survives a restart; the secret is not stored in clear.
        let iam = open(dir.path(), "rootsecret").await;
        assert_eq!(iam.identity("alice").unwrap().secret(), "alice-secret");
        assert_eq!(
            iam.user("alice").unwrap().groups,
            vec!["tenants".to_owned()]
        );
        let raw = std::fs::read(dir.path().join("meta.db")).unwrap();
        let wal = std::fs::read(dir.path().join("meta.db-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(12).any(|w| w == b"alice-secret"));
        }
        iam.remove_user("alice").await.unwrap();
        assert_eq!(iam.identity("alice").unwrap_err(), AuthError::Unknown);
        assert_eq!(
            iam.identity(&creds.access_key).unwrap_err(),
            AuthError::Unknown
        );
        assert!(iam.group("tenants").unwrap().members.is_empty());
    }

    fn canned_readonly_for_test() -> &'static str {
        crate::canned_policy("readonly").unwrap()
    }

    #[tokio::test]
    async fn another_root_secret_cannot_open_stored_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let iam = open(dir.path(), "rootsecret").await;
        iam.add_user("bob", "bob-secret-1").await.unwrap();
        drop(iam);
        let iam = open(dir.path(), "changed-secret").await;
        assert_eq!(iam.identity("bob").unwrap_err(), AuthError::Unreadable);
        assert!(!iam.user("bob").unwrap().secret_readable);
        // Setting a new secret makes the user usable again.
        iam.add_user("bob", "bob-secret-2").await.unwrap();
        assert_eq!(iam.identity("bob").unwrap().secret(), "bob-secret-2");
    }

    #[tokio::test]
    async fn secrets_sealed_before_argon2id_open_and_move_to_the_stretched_key() {
        let dir = tempfile::tempdir().unwrap();
        let meta: Arc<dyn MetaStore> =
            Arc::new(SqliteStore::open(&dir.path().join("meta.db")).unwrap());
        // A user sealed as the earlier release did: HKDF of the bare root secret.
        let v1 = Sealer::new(b"rootsecret");
        let record = UserRecord {
            secret: v1.seal(&format!("{USERS}carol"), "carol-secret-1"),
            status: Status::Enabled,
            policies: Vec::new(),
            created_ms: 0,
        };
        meta.commit(vec![WriteOp::PutConfig {
            key: format!("{USERS}carol"),
            value: serde_json::to_vec(&record).unwrap(),
        }])
        .await
        .unwrap();
        let iam = IamStore::open(meta.clone(), "root", "rootsecret", None)
            .await
            .unwrap();
        assert_eq!(iam.identity("carol").unwrap().secret(), "carol-secret-1");
        // Re-sealed at open: the fast derivation no longer opens it.
        let stored = meta.list_config(USERS).await.unwrap();
        let (_, raw) = stored.iter().find(|(k, _)| k.ends_with("carol")).unwrap();
        let now: UserRecord = serde_json::from_slice(raw).unwrap();
        assert!(v1.open(&format!("{USERS}carol"), &now.secret).is_none());
        let stretched = Sealer::new(&crate::seal::stretch("root", "rootsecret"));
        assert_eq!(
            stretched
                .open(&format!("{USERS}carol"), &now.secret)
                .as_deref(),
            Some("carol-secret-1")
        );
    }

    #[tokio::test]
    async fn clear_errors_for_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let iam = open(dir.path(), "rootsecret").await;
        assert!(matches!(
            iam.add_user("a/b", "12345678").await,
            Err(IamError::InvalidArgument(_))
        ));
        assert!(matches!(
            iam.add_user("carol", "short").await,
            Err(IamError::InvalidArgument(_))
        ));
        assert!(matches!(
            iam.add_user("root", "12345678").await,
            Err(IamError::AlreadyExists(_))
        ));
        let e = iam
            .put_policy("p", "{\n \"Statement\": [\n}")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = iam
            .put_policy(
                "p",
                r#"{"Statement": {"Effect": "Allow", "Action": "s3:Get", "Resource": "*"}}"#,
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Unknown action s3:Get"), "{e}");
        assert!(matches!(
            iam.set_attachment(&Target::User("nobody".into()), &["readonly".into()], true)
                .await,
            Err(IamError::NoSuchUser(_))
        ));
        assert!(matches!(
            iam.add_group_members("g", &["nobody".into()]).await,
            Err(IamError::NoSuchUser(_))
        ));
    }
}
