//! Versioning: the bucket's state (never versioned, Enabled, Suspended),
//! version ids, reads of a named version, deletes that leave delete markers,
//! and version listings.
//!
//! The current version of every key lives in the `objects` rows (a delete
//! marker included, which hides the key from GET and ListObjects); older
//! versions live apart (see `almacen_meta::WriteOp::PutObject`), so
//! ListObjects stays a scan of current rows however many versions exist.

use almacen_meta::{ObjectRow, VersionListPage, VersionListQuery, WriteOp};

use crate::{Engine, EngineError, ObjectInfo, now_ms};

/// The version id of the version written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state once it has been set; it never returns to
/// "never versioned".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VersioningStatus {
    /// Every write makes a new version.
    Enabled,
    /// Writes replace the "null" version; older versions are kept.
    Suspended,
}

/// What a delete did, for the `x-amz-version-id` and `x-amz-delete-marker` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version removed, or the delete marker created.
    pub version_id: Option<String>,
    /// Whether a delete marker was created, or the removed version was one.
    pub delete_marker: bool,
}

/// A fresh version id: 32 hex digits, time-ordered in its first half so
/// that ids of one key sort roughly by age in logs and tools.
fn new_version_id() -> String {
    let t = u64::try_from(now_ms()).unwrap_or(0);
    let r = uuid::Uuid::new_v4().as_u128() as u64;
    format!("{t:016x}{r:016x}")
}

/// Checks a version id from a request: "null" or one of ours.
///
/// # Errors
/// `InvalidArgument` for anything else (S3 answers 400 too).
pub fn validate_version_id(id: &str) -> Result<(), EngineError> {
    if id == NULL_VERSION || (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(
            "Invalid version id specified".into(),
        ))
    }
}

impl Engine {
    /// The bucket's versioning state (`None`: never versioned).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn versioning(&self, bucket: &str) -> Result<Option<VersioningStatus>, EngineError> {
        Ok(self.bucket_config(bucket).await?.versioning)
    }

    /// Sets the bucket's versioning state.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_versioning(
        &self,
        bucket: &str,
        status: VersioningStatus,
    ) -> Result<(), EngineError> {
        if status == VersioningStatus::Suspended && self.object_lock(bucket).await?.is_some() {
            return Err(EngineError::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
            ));
        }
        self.update_bucket_config(bucket, |c| c.versioning = Some(status))
            .await
    }

    /// The version id a new write to a bucket with `config` gets.
    pub(crate) fn version_id_for(config: &crate::BucketConfig) -> String {
        match config.versioning {
            Some(VersioningStatus::Enabled) => new_version_id(),
            _ => NULL_VERSION.to_owned(),
        }
    }

    /// One named version of an object.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `NoSuchVersion`, `DeleteMarker`
    /// (named) when the version is a delete marker, `NoSuchBucket`.
    pub async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<ObjectInfo, EngineError> {
        validate_version_id(version_id)?;
        match self
            .meta
            .get_object_version(bucket, key, version_id)
            .await?
        {
            Some(row) if row.delete_marker => Err(EngineError::DeleteMarker {
                version_id: row.version_id,
                named: true,
            }),
            Some(row) => self.info(row),
            None => {
                self.check_bucket(bucket).await?;
                Err(EngineError::NoSuchVersion)
            }
        }
    }

    /// The current version, or the named one.
    ///
    /// # Errors
    /// As [`Engine::object`] and [`Engine::object_version`].
    pub async fn object_at(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectInfo, EngineError> {
        match version_id {
            Some(v) => self.object_version(bucket, key, v).await,
            None => self.object(bucket, key).await,
        }
    }

    /// The delete marker that a delete without a version id leaves in
    /// `bucket` (`None` when the bucket was never versioned).
    pub(crate) async fn delete_marker_for(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRow>, EngineError> {
        Ok(self.versioning(bucket).await?.map(|status| ObjectRow {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: match status {
                VersioningStatus::Enabled => new_version_id(),
                VersioningStatus::Suspended => NULL_VERSION.to_owned(),
            },
            delete_marker: true,
            mtime_ms: now_ms(),
            attrs: b"{}".to_vec(),
            ..Default::default()
        }))
    }

    /// The write ops that delete `key` without naming a version (with its
    /// event notifications), and what they do.
    async fn delete_op(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<WriteOp>, DeleteOutcome), EngineError> {
        let config = self.bucket_config(bucket).await?;
        let marker = self.delete_marker_for(bucket, key).await?;
        let outcome = DeleteOutcome {
            version_id: marker.as_ref().map(|m| m.version_id.clone()),
            delete_marker: marker.is_some(),
        };
        let event = if outcome.delete_marker {
            "s3:ObjectRemoved:DeleteMarkerCreated"
        } else {
            "s3:ObjectRemoved:Delete"
        };
        let mut ops = vec![WriteOp::DeleteObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            marker,
        }];
        ops.extend(crate::notify::event_ops(
            &config,
            &self.region,
            event,
            &crate::notify::EventObject {
                bucket,
                key,
                version_id: outcome.version_id.as_deref().unwrap_or(""),
                ..Default::default()
            },
            self.listening(),
        ));
        Ok((ops, outcome))
    }

    /// The event ops for removing version `version_id` of `key`.
    async fn version_removed_ops(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Vec<WriteOp>, EngineError> {
        let config = self.bucket_config(bucket).await?;
        Ok(crate::notify::event_ops(
            &config,
            &self.region,
            "s3:ObjectRemoved:Delete",
            &crate::notify::EventObject {
                bucket,
                key,
                version_id,
                ..Default::default()
            },
            self.listening(),
        ))
    }

    /// Deletes an object without naming a version: removes it (never
    /// versioned) or hides it behind a new delete marker. Deleting a missing
    /// key succeeds, as in S3.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<DeleteOutcome, EngineError> {
        let (ops, outcome) = self.delete_op(bucket, key).await?;
        self.commit(ops).await?;
        Ok(outcome)
    }

    /// Whether the version is a delete marker, after checking that object
    /// lock lets it go.
    async fn check_version_removable(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass_governance: bool,
    ) -> Result<bool, EngineError> {
        match self
            .meta
            .get_object_version(bucket, key, version_id)
            .await?
        {
            Some(row) if row.delete_marker => Ok(true),
            Some(row) => {
                let attrs = crate::ObjectAttrs::decode(&row.attrs)?;
                crate::check_removable(&attrs, bypass_governance)?;
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// Removes one version for good; removing a missing one succeeds.
    /// Object lock may forbid it (see [`crate::check_removable`]).
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `ObjectLocked`, `NoSuchBucket`.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome, EngineError> {
        validate_version_id(version_id)?;
        let was_marker = self
            .check_version_removable(bucket, key, version_id, bypass_governance)
            .await?;
        let mut ops = vec![WriteOp::DeleteVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.to_owned(),
        }];
        ops.extend(self.version_removed_ops(bucket, key, version_id).await?);
        self.commit(ops).await?;
        Ok(DeleteOutcome {
            version_id: Some(version_id.to_owned()),
            delete_marker: was_marker,
        })
    }

    /// Deletes many objects or versions in one transaction; each one's
    /// outcome is as [`Engine::delete_object`] or [`Engine::delete_version`].
    ///
    /// # Errors
    /// `NoSuchBucket`, store failures.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        items: &[(String, Option<String>)],
        bypass_governance: bool,
    ) -> Result<Vec<Result<DeleteOutcome, EngineError>>, EngineError> {
        let mut ops = Vec::with_capacity(items.len());
        let mut outcomes = Vec::with_capacity(items.len());
        for (key, version) in items {
            match version {
                None => {
                    let (more, outcome) = self.delete_op(bucket, key).await?;
                    ops.extend(more);
                    outcomes.push(Ok(outcome));
                }
                Some(v) => {
                    let was_marker = match self
                        .check_version_removable(bucket, key, v, bypass_governance)
                        .await
                    {
                        Ok(m) => m,
                        Err(e @ EngineError::ObjectLocked(_)) => {
                            outcomes.push(Err(e));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    ops.push(WriteOp::DeleteVersion {
                        bucket: bucket.to_owned(),
                        key: key.clone(),
                        version_id: v.clone(),
                    });
                    ops.extend(self.version_removed_ops(bucket, key, v).await?);
                    outcomes.push(Ok(DeleteOutcome {
                        version_id: Some(v.clone()),
                        delete_marker: was_marker,
                    }));
                }
            }
        }
        if !ops.is_empty() {
            self.commit(ops).await?;
        }
        Ok(outcomes)
    }

    /// One page of versions and delete markers.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> Result<VersionListPage, EngineError> {
        self.check_bucket(bucket).await?;
        Ok(self.meta.list_versions(bucket, query).await?)
    }
}
