//! Event notification targets added and removed at run time (`almacen
//! admin event target add/remove`, like `mc admin config set ALIAS
//! notify_webhook:ID ...`), beside those of the environment.
//!
//! A target is stored in the metadata store's configuration table under
//! `notify/targets/<kind>/<id>` with the same settings as MinIO's variables
//! (`ENDPOINT`, `ADDRESS`, `KEY`, ...); secrets (tokens, passwords,
//! connection strings) are sealed like IAM secrets. Adding one checks it
//! exactly as the environment's are checked, stores it, starts its
//! delivery and makes its ARN valid for bucket notification rules; the
//! server loads stored targets at start. Targets of the environment cannot
//! be changed here: they would come back at the next start.

use std::collections::BTreeMap;
use std::sync::Arc;

use almacen_iam::IamStore;
use almacen_meta::{MetaStore, WriteOp};
use almacen_notify::{SECRET_SETTINGS, Target, TargetChange, arn_key, target_from_settings};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::NotifyTargets;

const PREFIX: &str = "notify/targets/";

/// A stored target.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    kind: String,
    id: String,
    /// Settings that are not secret.
    settings: BTreeMap<String, String>,
    /// Secret settings, sealed.
    sealed: BTreeMap<String, String>,
}

fn config_key(kind: &str, id: &str) -> String {
    format!("{PREFIX}{kind}/{id}")
}

fn normalized_kind(kind: &str) -> String {
    match kind.to_ascii_lowercase().as_str() {
        "postgresql" => "postgres".to_owned(),
        k => k.to_owned(),
    }
}

/// Loads the stored targets (at start); one that no longer parses or whose
/// secret cannot be opened is skipped and logged, never guessed at.
///
/// # Errors
/// The metadata store failed.
pub async fn load(
    meta: &Arc<dyn MetaStore>,
    iam: &IamStore,
    region: &str,
) -> Result<Vec<Target>, almacen_meta::MetaError> {
    let mut out = Vec::new();
    for (key, value) in meta.list_config(PREFIX).await? {
        let Ok(stored) = serde_json::from_slice::<Stored>(&value) else {
            tracing::error!(%key, "stored event target does not decode; skipped");
            continue;
        };
        let mut settings = stored.settings.clone();
        let mut ok = true;
        for (name, sealed) in &stored.sealed {
            match iam.open_value(&format!("{key}/{name}"), sealed) {
                Some(v) => {
                    settings.insert(name.clone(), v);
                }
                None => ok = false,
            }
        }
        if !ok {
            tracing::error!(%key, "a secret of a stored event target cannot be opened (key changed?); skipped");
            continue;
        }
        match target_from_settings(&stored.kind, &stored.id, &settings, region) {
            Ok(t) => out.push(t),
            Err(e) => {
                tracing::error!(%key, error = %e, "stored event target is not usable; skipped")
            }
        }
    }
    Ok(out)
}

/// Re-seals the stored targets' secrets under the current key (part of
/// `almacen admin kms rotate`, like IAM secrets). Returns how many targets.
///
/// # Errors
/// The metadata store failed.
pub async fn reseal(
    meta: &Arc<dyn MetaStore>,
    iam: &IamStore,
) -> Result<usize, almacen_meta::MetaError> {
    let mut ops = Vec::new();
    for (key, value) in meta.list_config(PREFIX).await? {
        let Ok(mut stored) = serde_json::from_slice::<Stored>(&value) else {
            continue;
        };
        if stored.sealed.is_empty() {
            continue;
        }
        let mut all = true;
        for (name, sealed) in &mut stored.sealed {
            let ctx = format!("{key}/{name}");
            match iam.open_value(&ctx, sealed) {
                Some(v) => *sealed = iam.seal_value(&ctx, &v),
                None => all = false,
            }
        }
        if all {
            ops.push(WriteOp::PutConfig {
                key,
                value: serde_json::to_vec(&stored).unwrap_or_default(),
            });
        }
    }
    let n = ops.len();
    if n > 0 {
        meta.commit(ops).await?;
    }
    Ok(n)
}

/// What the admin API needs to change targets at run time.
#[derive(Debug)]
pub struct EventTargetAdmin {
    control: UnboundedSender<TargetChange>,
    live: NotifyTargets,
    env_arns: Vec<String>,
    region: String,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetAdminError {
    /// Bad settings (the message names the setting, never a secret).
    #[error("{0}")]
    Invalid(String),
    /// The target comes from the environment.
    #[error("{0} is configured by environment variables; change it there")]
    FromEnvironment(String),
    /// No stored target of that kind and id.
    #[error("no event target {0} was added with almacen admin")]
    NotFound(String),
    /// The metadata store failed.
    #[error("metadata store: {0}")]
    Store(#[from] almacen_meta::MetaError),
}

impl EventTargetAdmin {
    /// Changes go to the dispatcher through `control`; `live` is the ARN
    /// list bucket rules are checked against; `env_arns` are the
    /// environment's targets (not changeable here).
    #[must_use]
    pub fn new(
        control: UnboundedSender<TargetChange>,
        live: NotifyTargets,
        env_arns: Vec<String>,
        region: &str,
    ) -> Self {
        Self {
            control,
            live,
            env_arns,
            region: region.to_owned(),
        }
    }

    fn is_from_env(&self, arn: &str) -> bool {
        let key = arn_key(arn);
        self.env_arns.iter().any(|a| arn_key(a) == key)
    }

    /// Checks, stores and starts a target (replacing one of the same kind and id).
    ///
    /// # Errors
    /// See [`TargetAdminError`].
    pub async fn add(
        &self,
        meta: &Arc<dyn MetaStore>,
        iam: &IamStore,
        kind: &str,
        id: &str,
        settings: BTreeMap<String, String>,
    ) -> Result<Target, TargetAdminError> {
        let kind = normalized_kind(kind);
        let settings: BTreeMap<String, String> = settings
            .into_iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect();
        let target = target_from_settings(&kind, id, &settings, &self.region)
            .map_err(|e| TargetAdminError::Invalid(e.to_string()))?;
        if self.is_from_env(&target.arn) {
            return Err(TargetAdminError::FromEnvironment(target.arn));
        }
        let key = config_key(&kind, id);
        let mut stored = Stored {
            kind: kind.clone(),
            id: id.to_owned(),
            settings: BTreeMap::new(),
            sealed: BTreeMap::new(),
        };
        for (name, value) in settings {
            if SECRET_SETTINGS.contains(&name.as_str()) {
                let sealed = iam.seal_value(&format!("{key}/{name}"), &value);
                stored.sealed.insert(name, sealed);
            } else {
                stored.settings.insert(name, value);
            }
        }
        meta.commit(vec![WriteOp::PutConfig {
            key,
            value: serde_json::to_vec(&stored).unwrap_or_default(),
        }])
        .await?;
        {
            let mut live = self
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let k = arn_key(&target.arn);
            live.retain(|a| arn_key(a) != k);
            live.push(target.arn.clone());
        }
        let _ = self
            .control
            .send(TargetChange::Add(Box::new(target.clone())));
        Ok(target)
    }

    /// Stops and forgets a target added here. Its queued events wait, as for
    /// any target that is not configured, until it is added again.
    ///
    /// # Errors
    /// See [`TargetAdminError`].
    pub async fn remove(
        &self,
        meta: &Arc<dyn MetaStore>,
        kind: &str,
        id: &str,
    ) -> Result<String, TargetAdminError> {
        let kind = normalized_kind(kind);
        let arn_kind = if kind == "postgres" {
            "postgresql"
        } else {
            kind.as_str()
        };
        let arn = format!(
            "arn:minio:sqs:{}:{}:{arn_kind}",
            self.region,
            id.to_ascii_lowercase()
        );
        if self.is_from_env(&arn) {
            return Err(TargetAdminError::FromEnvironment(arn));
        }
        let key = config_key(&kind, id);
        if !meta.list_config(&key).await?.iter().any(|(k, _)| *k == key) {
            return Err(TargetAdminError::NotFound(format!("{kind}:{id}")));
        }
        meta.commit(vec![WriteOp::DeleteConfig { key }]).await?;
        {
            let mut live = self
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let k = arn_key(&arn);
            live.retain(|a| arn_key(a) != k);
        }
        let _ = self.control.send(TargetChange::Remove(arn.clone()));
        Ok(arn)
    }
}
