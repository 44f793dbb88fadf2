//! Master key rotation: object keys sealed under a previous master key are
//! re-sealed under the current one. Only the 60-odd bytes of each sealed
//! key change; object data is never rewritten, and every object stays
//! readable throughout because the previous keys stay configured until the
//! rotation reports nothing left under them.

use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError, ObjectAttrs, UploadAttrs};

/// What a rotation pass did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotateReport {
    /// The key everything is sealed under now.
    pub current_key: String,
    /// Object versions whose key was re-sealed by this pass.
    pub resealed: u64,
    /// Versions already under the current key.
    pub current: u64,
    /// SSE-C versions: sealed under the customer's key, nothing to rotate.
    pub customer_keys: u64,
    /// Versions left under a previous key (changed meanwhile, or no
    /// configured key opens them): run the rotation again before removing
    /// a previous key.
    pub remaining: u64,
    /// Multipart uploads in progress under a previous key; their objects
    /// are re-sealed by a rotation after they complete.
    pub uploads_pending: u64,
    /// What went wrong, one line per version left behind.
    pub errors: Vec<String>,
}

impl Engine {
    /// Re-seals every SSE-S3/SSE-KMS object key under the current master key.
    ///
    /// # Errors
    /// `KmsNotConfigured`, store failures.
    pub async fn rotate_master_key(&self) -> Result<RotateReport, EngineError> {
        let current = self
            .master_key
            .as_ref()
            .ok_or(EngineError::KmsNotConfigured)?
            .name()
            .to_owned();
        let mut report = RotateReport {
            current_key: current.clone(),
            ..RotateReport::default()
        };
        for bucket in self.meta.list_buckets().await? {
            let mut pages = crate::walk::VersionPages::new(self.meta.clone(), &bucket.name);
            while let Some(rows) = pages.next_page().await? {
                for row in rows {
                    let stored = ObjectAttrs::decode(&row.attrs)?;
                    let Some(sse) = &stored.sse else { continue };
                    if sse.is_customer_key() {
                        report.customer_keys += 1;
                        // Their metadata is sealed under the master key all the same.
                        if stored
                            .sealed_meta
                            .as_ref()
                            .is_none_or(|m| m.key_id == current)
                        {
                            continue;
                        }
                    }
                    // Metadata in clear (written before it was sealed) or
                    // sealed under an older key is re-sealed along the way.
                    let meta_stale = stored
                        .sealed_meta
                        .as_ref()
                        .is_none_or(|m| m.key_id != current);
                    let fresh = match self.reseal(sse, &row.bucket, &row.key) {
                        Ok(None) if !meta_stale => {
                            report.current += 1;
                            continue;
                        }
                        Ok(fresh) => fresh,
                        Err(e) => {
                            report.remaining += 1;
                            report.errors.push(format!(
                                "{}/{} version {}: {e}",
                                row.bucket, row.key, row.version_id
                            ));
                            continue;
                        }
                    };
                    let info = self.info(row)?;
                    if info.attrs.sealed_meta.is_some() {
                        report.remaining += 1;
                        report.errors.push(format!(
                            "{}/{} version {}: no configured master key opens its metadata",
                            info.bucket, info.key, info.version_id
                        ));
                        continue;
                    }
                    let mut new_attrs = info.attrs.clone();
                    if let Some(f) = fresh {
                        new_attrs.sse = Some(f);
                    }
                    match self.set_object_attrs(&info, new_attrs).await {
                        Ok(()) => report.resealed += 1,
                        // Changed meanwhile (tags, ACL, an overwrite): the
                        // next pass sees the new state.
                        Err(EngineError::ConditionalConflict | EngineError::PreconditionFailed) => {
                            report.remaining += 1;
                            report.errors.push(format!(
                                "{}/{} version {}: changed during the rotation; run it again",
                                info.bucket, info.key, info.version_id
                            ));
                        }
                        Err(EngineError::NoSuchKey) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            report.uploads_pending += self.uploads_under_old_key(&bucket.name, &current).await?;
        }
        tracing::info!(
            key = %current,
            resealed = report.resealed,
            remaining = report.remaining,
            "master key rotation pass done"
        );
        Ok(report)
    }

    async fn uploads_under_old_key(&self, bucket: &str, current: &str) -> Result<u64, EngineError> {
        let mut n = 0;
        let mut pages = crate::walk::UploadPages::new(self.meta.clone(), bucket);
        while let Some(uploads) = pages.next_page().await? {
            n += uploads
                .iter()
                .filter_map(|u| UploadAttrs::decode(&u.attrs).ok()?.sse)
                .filter(|s| !s.is_customer_key() && s.key_id != current)
                .count() as u64;
        }
        Ok(n)
    }
}
