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
        validate_bucket_name(name)?;
        self.commit(vec![WriteOp::CreateBucket(BucketRow {
            name: name.to_owned(),
            created_ms: now_ms(),
            region: region.unwrap_or(&self.region).to_owned(),
            attrs: Vec::new(),
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
        self.update_bucket_config(name, |c| c.policy = policy).await
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

    /// Read-modify-write of the bucket configuration. Two concurrent updates
    /// of different fields can lose one; a merge inside the commit comes
    /// when configuration grows (versioning, lifecycle, CORS).
    async fn update_bucket_config(
        &self,
        name: &str,
        f: impl FnOnce(&mut BucketConfig),
    ) -> Result<(), EngineError> {
        let mut config = self.bucket_config(name).await?;
        f(&mut config);
        let attrs =
            serde_json::to_vec(&config).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.commit(vec![WriteOp::SetBucketAttrs {
            name: name.to_owned(),
            attrs,
        }])
        .await
    }
}
