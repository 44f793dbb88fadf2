//! Object lock (WORM): buckets created with it keep versions from being
//! deleted before their retention date, or while a legal hold is on.
//!
//! GOVERNANCE retention yields to a request that asks to bypass it (the
//! front checks the caller may); COMPLIANCE retention yields to no one,
//! root included, and can only be extended. A lock never stops new
//! versions or delete markers: it protects the versions that exist. Lock
//! buckets are always versioned; their versioning cannot be suspended.

use crate::{Engine, EngineError, ObjectAttrs, ObjectInfo, now_ms};

/// The retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LockMode {
    /// Users with the bypass permission may delete early or shorten it.
    Governance,
    /// No one may delete early or shorten it.
    Compliance,
}

/// A version's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// The mode.
    pub mode: LockMode,
    /// Protected until this time (milliseconds since the epoch).
    pub until_ms: i64,
}

/// The default retention new versions get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DefaultRetention {
    /// The mode.
    pub mode: LockMode,
    /// A period in days...
    pub days: Option<i32>,
    /// ... or in years.
    pub years: Option<i32>,
}

/// A bucket's object-lock configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectLockConfig {
    /// The default retention, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

impl DefaultRetention {
    /// The retention a version written at `now_ms` gets.
    #[must_use]
    pub fn retention_at(&self, now_ms: i64) -> Retention {
        let days = i64::from(self.days.unwrap_or(0)) + i64::from(self.years.unwrap_or(0)) * 365;
        Retention {
            mode: self.mode,
            until_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
        }
    }
}

/// Whether a version with these attributes may be removed now.
///
/// # Errors
/// `ObjectLocked` when a legal hold or an unexpired retention protects it
/// (GOVERNANCE yields to `bypass_governance`).
pub fn check_removable(attrs: &ObjectAttrs, bypass_governance: bool) -> Result<(), EngineError> {
    if attrs.legal_hold {
        return Err(EngineError::ObjectLocked(
            "The object version is under a legal hold".into(),
        ));
    }
    match attrs.retention {
        Some(r) if r.until_ms > now_ms() => match r.mode {
            LockMode::Governance if bypass_governance => Ok(()),
            _ => Err(EngineError::ObjectLocked(
                "The object version is protected by its retention period".into(),
            )),
        },
        _ => Ok(()),
    }
}

impl Engine {
    /// The bucket's object-lock configuration, if the bucket has object lock.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn object_lock(&self, bucket: &str) -> Result<Option<ObjectLockConfig>, EngineError> {
        Ok(self.bucket_config(bucket).await?.object_lock)
    }

    /// Turns object lock on (the bucket must be versioned and enabled) and
    /// sets its default retention.
    ///
    /// # Errors
    /// `InvalidBucketState` when versioning is not enabled, `NoSuchBucket`.
    pub async fn set_object_lock(
        &self,
        bucket: &str,
        config: ObjectLockConfig,
    ) -> Result<(), EngineError> {
        if self.versioning(bucket).await? != Some(crate::VersioningStatus::Enabled) {
            return Err(EngineError::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                    .into(),
            ));
        }
        self.update_bucket_config(bucket, |c| c.object_lock = Some(config))
            .await
    }

    /// Changes a version's retention. Extending in the same mode is always
    /// allowed; any other change of GOVERNANCE (shorter, removed, or turned
    /// into COMPLIANCE) needs `bypass_governance`, as on S3; COMPLIANCE
    /// cannot be shortened, removed or changed.
    ///
    /// # Errors
    /// `ObjectLocked`, `InvalidRequest` (bucket without object lock),
    /// `ConditionalConflict` if the version changed meanwhile.
    pub async fn set_retention(
        &self,
        info: &ObjectInfo,
        retention: Option<Retention>,
        bypass_governance: bool,
    ) -> Result<(), EngineError> {
        self.require_lock(&info.bucket).await?;
        if let Some(current) = info.attrs.retention
            && current.until_ms > now_ms()
        {
            let weaker = match retention {
                None => true,
                Some(new) => new.until_ms < current.until_ms || new.mode != current.mode,
            };
            if weaker {
                let allowed = current.mode == LockMode::Governance && bypass_governance;
                if !allowed {
                    return Err(EngineError::ObjectLocked(
                        "The retention of this object version cannot be shortened or weakened"
                            .into(),
                    ));
                }
            }
        }
        let mut attrs = info.attrs.clone();
        attrs.retention = retention;
        self.set_object_attrs(info, attrs).await
    }

    /// Puts a legal hold on a version or lifts it.
    ///
    /// # Errors
    /// `InvalidRequest` (bucket without object lock), `ConditionalConflict`.
    pub async fn set_legal_hold(&self, info: &ObjectInfo, on: bool) -> Result<(), EngineError> {
        self.require_lock(&info.bucket).await?;
        let mut attrs = info.attrs.clone();
        attrs.legal_hold = on;
        self.set_object_attrs(info, attrs).await
    }

    /// Gives a new version the bucket's default retention unless the request
    /// set one; refuses lock settings on a bucket without object lock.
    ///
    /// # Errors
    /// `InvalidRequest`.
    pub(crate) fn apply_lock_defaults(
        config: &crate::BucketConfig,
        retention: &mut Option<Retention>,
        legal_hold: bool,
    ) -> Result<(), EngineError> {
        match config.object_lock {
            None if retention.is_some() || legal_hold => Err(EngineError::InvalidRequest(
                "Bucket is missing Object Lock Configuration".into(),
            )),
            None => Ok(()),
            Some(lock) => {
                if retention.is_none()
                    && let Some(d) = lock.default_retention
                {
                    *retention = Some(d.retention_at(now_ms()));
                }
                Ok(())
            }
        }
    }

    /// Fails unless the bucket has object lock.
    ///
    /// # Errors
    /// `InvalidRequest`, `NoSuchBucket`.
    pub async fn require_lock(&self, bucket: &str) -> Result<ObjectLockConfig, EngineError> {
        self.object_lock(bucket).await?.ok_or_else(|| {
            EngineError::InvalidRequest("Bucket is missing Object Lock Configuration".into())
        })
    }
}
