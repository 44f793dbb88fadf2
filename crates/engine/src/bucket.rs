//! Bucket operations.

use almacen_meta::{BucketRow, WriteOp};

use crate::object::BucketInfo;
use crate::{Engine, EngineError, now_ms, validate_bucket_name};

impl Engine {
    /// Creates a bucket.
    ///
    /// # Errors
    /// `InvalidBucketName`, `BucketAlreadyOwnedByYou`.
    pub async fn create_bucket(&self, name: &str, region: Option<&str>) -> Result<(), EngineError> {
        self.create_bucket_with(name, region, BucketConfig::default())
            .await
    }

    /// Creates a bucket with object lock on (and so versioning enabled).
    ///
    /// # Errors
    /// As [`Engine::create_bucket`].
    pub async fn create_locked_bucket(
        &self,
        name: &str,
        region: Option<&str>,
    ) -> Result<(), EngineError> {
        let config = BucketConfig {
            versioning: Some(crate::VersioningStatus::Enabled),
            object_lock: Some(crate::ObjectLockConfig::default()),
            ..BucketConfig::default()
        };
        self.create_bucket_with(name, region, config).await
    }

    async fn create_bucket_with(
        &self,
        name: &str,
        region: Option<&str>,
        config: BucketConfig,
    ) -> Result<(), EngineError> {
        validate_bucket_name(name)?;
        let attrs = if config == BucketConfig::default() {
            Vec::new()
        } else {
            serde_json::to_vec(&config).map_err(|e| EngineError::Internal(e.to_string()))?
        };
        self.commit(vec![WriteOp::CreateBucket(BucketRow {
            name: name.to_owned(),
            created_ms: now_ms(),
            region: region.unwrap_or(&self.region).to_owned(),
            attrs,
        })])
        .await
    }

    /// Looks a bucket up.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn bucket(&self, name: &str) -> Result<BucketInfo, EngineError> {
        let row = self
            .meta
            .get_bucket(name)
            .await?
            .ok_or(EngineError::NoSuchBucket)?;
        Ok(BucketInfo {
            name: row.name,
            created_ms: row.created_ms,
            region: row.region,
        })
    }

    /// Every bucket, by name.
    ///
    /// # Errors
    /// The metadata store failed.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, EngineError> {
        Ok(self
            .meta
            .list_buckets()
            .await?
            .into_iter()
            .map(|r| BucketInfo {
                name: r.name,
                created_ms: r.created_ms,
                region: r.region,
            })
            .collect())
    }

    /// Deletes an empty bucket (no objects and no multipart uploads).
    ///
    /// # Errors
    /// `NoSuchBucket`, `BucketNotEmpty`.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), EngineError> {
        self.commit(vec![WriteOp::DeleteBucket {
            name: name.to_owned(),
        }])
        .await
    }
}

/// Bucket configuration kept in the bucket row, as versioned JSON. Later
/// features (versioning, lifecycle, CORS, quotas...) add fields here.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketConfig {
    /// The bucket policy document, exactly as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The bucket's canned ACL (none means private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<crate::CannedAcl>,
    /// CORS rules, in the order the client gave them (the first match wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// The bucket's tags; `None` when no tag set was ever put (NoSuchTagSet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<crate::Tags>,
    /// Lifecycle rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<crate::LifecycleRule>>,
    /// Upload rules (size and content types per prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_rules: Option<Vec<crate::UploadRule>>,
    /// Default encryption of new objects (`AES256` or `aws:kms`), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// Event notification rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Vec<crate::NotificationRule>>,
    /// Object lock, once enabled (it cannot be turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<crate::ObjectLockConfig>,
    /// Versioning, once set (Enabled or Suspended; never back to unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<crate::VersioningStatus>,
}

/// One CORS rule, as S3's CORSRule: which origins may use which methods
/// with which request headers, and what the browser may read back.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorsRule {
    /// Optional rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// GET, PUT, HEAD, POST, DELETE.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may expose to the page.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

impl BucketConfig {
    fn decode(bytes: &[u8]) -> Result<Self, EngineError> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|e| EngineError::Internal(format!("corrupt bucket configuration: {e}")))
    }
}

impl Engine {
    /// The bucket's configuration.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn bucket_config(&self, name: &str) -> Result<BucketConfig, EngineError> {
        let row = self
            .meta
            .get_bucket(name)
            .await?
            .ok_or(EngineError::NoSuchBucket)?;
        BucketConfig::decode(&row.attrs)
    }

    /// Sets or removes the bucket policy (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_policy(
        &self,
        name: &str,
        policy: Option<String>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.policy = policy.clone())
            .await
    }

    /// Sets the bucket's canned ACL.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_acl(
        &self,
        name: &str,
        acl: crate::CannedAcl,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.acl = Some(acl)).await
    }

    /// Sets or removes the bucket's CORS rules (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_cors(
        &self,
        name: &str,
        rules: Option<Vec<CorsRule>>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.cors = rules.clone())
            .await
    }

    /// Sets or removes the bucket's tags (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_tags(
        &self,
        name: &str,
        tags: Option<crate::Tags>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.tags = tags.clone())
            .await
    }

    /// Sets or removes the bucket's upload rules (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_upload_rules(
        &self,
        name: &str,
        rules: Option<Vec<crate::UploadRule>>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.upload_rules = rules.clone())
            .await
    }

    /// Sets or removes the bucket's default encryption (`AES256` or `aws:kms`).
    ///
    /// # Errors
    /// `NoSuchBucket`, `KmsNotConfigured`, `KmsKeyNotFound`.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        algorithm: Option<String>,
        kms_key_id: Option<&str>,
    ) -> Result<(), EngineError> {
        if algorithm.is_some() {
            self.check_kms_key(kms_key_id)?;
        }
        self.update_bucket_config(name, |c| c.encryption = algorithm.clone())
            .await
    }

    /// Sets or removes the bucket's notification rules (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_notifications(
        &self,
        name: &str,
        rules: Option<Vec<crate::NotificationRule>>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.notifications = rules.clone())
            .await
    }

    /// What the bucket holds (bytes, objects, versions) and its quota.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn bucket_usage(
        &self,
        bucket: &str,
    ) -> Result<almacen_meta::BucketUsage, EngineError> {
        self.meta
            .bucket_usage(bucket)
            .await?
            .ok_or(EngineError::NoSuchBucket)
    }

    /// Sets or removes the bucket's hard quota in bytes. Writes that would
    /// take the bucket over it fail inside their commit, so nothing is stored.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_quota(
        &self,
        bucket: &str,
        quota: Option<u64>,
    ) -> Result<(), EngineError> {
        self.commit(vec![WriteOp::SetBucketQuota {
            bucket: bucket.to_owned(),
            quota,
        }])
        .await
    }

    /// Refuses early an upload of `size` bytes to `key` that cannot fit the
    /// quota (the commit checks again, exactly).
    ///
    /// # Errors
    /// `QuotaExceeded`, `NoSuchBucket`.
    pub async fn check_quota(&self, bucket: &str, key: &str, size: u64) -> Result<(), EngineError> {
        // Most buckets have no quota: known from memory, no usage read.
        if let Some(None) = self.meta.bucket_quota(bucket).await? {
            return Ok(());
        }
        let usage = self.bucket_usage(bucket).await?;
        let Some(quota) = usage.quota else {
            return Ok(());
        };
        if usage.bytes.saturating_add(size) <= quota {
            return Ok(());
        }
        // Overwriting the "null" version frees its bytes (versioning off or suspended).
        let freed = match self.meta.get_object(bucket, key).await? {
            Some(row)
                if row.version_id == crate::NULL_VERSION
                    && self.versioning(bucket).await? != Some(crate::VersioningStatus::Enabled) =>
            {
                row.size
            }
            _ => 0,
        };
        if usage.bytes.saturating_sub(freed).saturating_add(size) > quota {
            Err(EngineError::QuotaExceeded)
        } else {
            Ok(())
        }
    }

    /// Read-modify-write of the bucket configuration: one at a time on this
    /// node, and compare-and-set in the store, so that two updates of
    /// different fields (policy and CORS) cannot lose one even when they
    /// arrive through different nodes.
    pub(crate) async fn update_bucket_config(
        &self,
        name: &str,
        f: impl Fn(&mut BucketConfig),
    ) -> Result<(), EngineError> {
        let _one_at_a_time = self.config_lock.lock().await;
        let mut attempt = 0;
        loop {
            let row = self
                .meta
                .get_bucket(name)
                .await?
                .ok_or(EngineError::NoSuchBucket)?;
            let mut config = BucketConfig::decode(&row.attrs)?;
            f(&mut config);
            let attrs =
                serde_json::to_vec(&config).map_err(|e| EngineError::Internal(e.to_string()))?;
            let result = self
                .commit(vec![WriteOp::SetBucketAttrs {
                    name: name.to_owned(),
                    attrs,
                    expected: Some(row.attrs),
                }])
                .await;
            match result {
                Err(EngineError::ConditionalConflict) if attempt < 20 => attempt += 1,
                other => return other,
            }
        }
    }
}
