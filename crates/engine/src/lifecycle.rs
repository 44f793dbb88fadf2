//! Lifecycle rules: which objects expire when, and the worker pass that
//! deletes them and aborts forgotten multipart uploads.
//!
//! Rules live in the bucket's configuration. A pass walks each bucket with
//! rules a page at a time (1000 keys, one commit per page), so a bucket of
//! a million objects never holds a lock or a transaction for long; it keeps
//! no state between passes, so a restart simply starts the next pass from
//! the beginning. Deletes are conditional on the object being the one that
//! was listed (same ETag and modification time): an object overwritten
//! meanwhile is not touched.
//!
//! A lifecycle "day" is 86,400 s unless the operator shortens it for tests
//! and demos (`ALMACEN_LIFECYCLE_DAY_SECONDS`, like Ceph RGW's debug
//! interval). Transition rules are stored and returned but not acted on
//! (there is no second storage tier yet). In a versioned bucket, expiry of a
//! current object leaves a delete marker (as S3); NoncurrentVersionExpiration
//! removes old versions, counting from when each became noncurrent (the
//! next version's time), and ExpiredObjectDeleteMarker removes markers that
//! hide nothing.

use almacen_meta::{
    ListEntry, ListQuery, UploadListQuery, VersionEntry, VersionListQuery, WriteOp,
};

use crate::{Engine, EngineError, ObjectAttrs, Tags, now_ms};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// What a rule applies to; every given part must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleFilter {
    /// Keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Objects carrying every one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    /// Objects larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<i64>,
    /// Objects smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<i64>,
    /// How the client wrote it (`Filter`/`And`, `Filter`/`Prefix`, top-level
    /// `Prefix`), so GetBucketLifecycleConfiguration answers in the same shape.
    #[serde(default)]
    pub shape: FilterShape,
}

/// The XML shape a filter came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FilterShape {
    /// `<Filter>` with one condition (or empty).
    #[default]
    Filter,
    /// `<Filter><And>...</And></Filter>`.
    And,
    /// The deprecated top-level `<Prefix>`.
    TopLevelPrefix,
}

/// A transition (stored, not acted on).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    /// After this many days (or noncurrent days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    /// On this date (milliseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_ms: Option<i64>,
    /// Keep this many newer noncurrent versions (noncurrent transitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_versions: Option<i32>,
    /// The target storage class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// One lifecycle rule, as S3's `<Rule>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleRule {
    /// The rule id (S3 makes one up when absent; so does the S3 front).
    pub id: String,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// What it applies to.
    pub filter: LifecycleFilter,
    /// Current objects expire this many days after their last modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i32>,
    /// Current objects expire on this date (midnight UTC, ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<i64>,
    /// Remove delete markers with no versions behind them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
    /// Noncurrent versions expire this many days after becoming noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    /// ... keeping this many newer noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
    /// Abort multipart uploads this many days after they started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_days: Option<i32>,
    /// Transitions of current objects (stored only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    /// Transitions of noncurrent versions (stored only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noncurrent_transitions: Vec<Transition>,
}

impl LifecycleRule {
    /// Whether the rule covers an object with this key, size and tags.
    #[must_use]
    pub fn matches(&self, key: &str, size: u64, tags: &Tags) -> bool {
        let f = &self.filter;
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        key.starts_with(&f.prefix)
            && f.size_greater_than.is_none_or(|n| size > n)
            && f.size_less_than.is_none_or(|n| size < n)
            && f.tags.iter().all(|t| tags.contains(t))
    }

    /// When an object modified at `mtime_ms` expires under this rule, if it does.
    /// With real days, S3 rounds up to the next midnight UTC.
    #[must_use]
    pub fn expiry_ms(&self, mtime_ms: i64, day_ms: i64) -> Option<i64> {
        if let Some(date) = self.expiration_date_ms {
            return Some(date);
        }
        let days = i64::from(self.expiration_days?);
        let at = mtime_ms.saturating_add(days.saturating_mul(day_ms));
        Some(if day_ms == DAY_MS {
            (at + DAY_MS - 1).div_euclid(DAY_MS) * DAY_MS
        } else {
            at
        })
    }
}

/// What one worker pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleStats {
    /// Objects deleted because they expired.
    pub expired: usize,
    /// Multipart uploads aborted.
    pub aborted: usize,
}

/// Running totals of lifecycle actions since the server started.
#[derive(Debug, Default)]
pub struct LifecycleTotals {
    /// Objects and versions expired.
    pub expired: std::sync::atomic::AtomicU64,
    /// Multipart uploads aborted.
    pub aborted: std::sync::atomic::AtomicU64,
}

const PAGE: usize = 1000;

impl Engine {
    /// The lifecycle day length in milliseconds.
    #[must_use]
    pub fn lifecycle_day_ms(&self) -> i64 {
        self.lifecycle_day_ms
    }

    /// What lifecycle passes did since start.
    #[must_use]
    pub fn lifecycle_totals(&self) -> &LifecycleTotals {
        &self.lifecycle_totals
    }

    /// Shortens (or restores) the lifecycle day, for tests and demos.
    pub fn set_lifecycle_day_ms(&mut self, day_ms: i64) {
        self.lifecycle_day_ms = day_ms.max(1);
    }

    /// Sets or removes the bucket's lifecycle rules (validated by the caller).
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn set_bucket_lifecycle(
        &self,
        name: &str,
        rules: Option<Vec<LifecycleRule>>,
    ) -> Result<(), EngineError> {
        self.update_bucket_config(name, |c| c.lifecycle = rules.clone())
            .await
    }

    /// When the object expires and by which rule (the earliest), for the
    /// `x-amz-expiration` header.
    pub async fn expiration(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        mtime_ms: i64,
        attrs: &ObjectAttrs,
    ) -> Option<(i64, String)> {
        let rules = self.bucket_config(bucket).await.ok()?.lifecycle?;
        rules
            .iter()
            .filter(|r| r.enabled && r.matches(key, size, &attrs.tags))
            .filter_map(|r| Some((r.expiry_ms(mtime_ms, self.lifecycle_day_ms)?, r.id.clone())))
            .min()
    }

    /// One worker pass over every bucket with lifecycle rules.
    ///
    /// # Errors
    /// Store failures; a bucket deleted during the pass is skipped.
    pub async fn apply_lifecycle(&self) -> Result<LifecycleStats, EngineError> {
        let mut stats = LifecycleStats::default();
        let now = now_ms();
        for bucket in self.meta.list_buckets().await? {
            let Ok(config) = self.bucket_config(&bucket.name).await else {
                continue;
            };
            let Some(rules) = config.lifecycle.clone() else {
                continue;
            };
            for rule in rules.iter().filter(|r| r.enabled) {
                let pass = async {
                    if rule.expiration_days.is_some() || rule.expiration_date_ms.is_some() {
                        stats.expired += self
                            .expire_objects(&bucket.name, &config, rule, now)
                            .await?;
                    }
                    if rule.noncurrent_days.is_some()
                        || rule.newer_noncurrent_versions.is_some()
                        || rule.expired_object_delete_marker == Some(true)
                        || (config.versioning.is_some() && rule.expiration_days.is_some())
                    {
                        stats.expired += self
                            .expire_versions(&bucket.name, &config, rule, now)
                            .await?;
                    }
                    if rule.abort_incomplete_days.is_some() {
                        stats.aborted += self.abort_stale_uploads(&bucket.name, rule, now).await?;
                    }
                    Ok::<_, EngineError>(())
                };
                match pass.await {
                    Ok(()) | Err(EngineError::NoSuchBucket) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        use std::sync::atomic::Ordering::Relaxed;
        self.lifecycle_totals
            .expired
            .fetch_add(stats.expired as u64, Relaxed);
        self.lifecycle_totals
            .aborted
            .fetch_add(stats.aborted as u64, Relaxed);
        Ok(stats)
    }

    async fn expire_objects(
        &self,
        bucket: &str,
        config: &crate::BucketConfig,
        rule: &LifecycleRule,
        now: i64,
    ) -> Result<usize, EngineError> {
        let mut done = 0;
        let mut after = None;
        loop {
            let page = self
                .meta
                .list_objects(
                    bucket,
                    ListQuery {
                        prefix: rule.filter.prefix.clone(),
                        start_after: after.take(),
                        delimiter: None,
                        max: PAGE,
                    },
                )
                .await?;
            let mut ops = Vec::new();
            for entry in &page.entries {
                let ListEntry::Object(row) = entry else {
                    continue;
                };
                let attrs = ObjectAttrs::decode(&row.attrs).unwrap_or_default();
                if rule.matches(&row.key, row.size, &attrs.tags)
                    && rule
                        .expiry_ms(row.mtime_ms, self.lifecycle_day_ms)
                        .is_some_and(|t| t <= now)
                {
                    // In a versioned bucket expiry leaves a delete marker, as S3's does.
                    let marker = self.delete_marker_for(bucket, &row.key).await?;
                    let event = if marker.is_some() {
                        "s3:LifecycleExpiration:DeleteMarkerCreated"
                    } else {
                        "s3:LifecycleExpiration:Delete"
                    };
                    let version_id = marker
                        .as_ref()
                        .map_or(row.version_id.clone(), |m| m.version_id.clone());
                    let events = crate::notify::event_ops(
                        config,
                        &self.region,
                        event,
                        &crate::notify::EventObject {
                            bucket,
                            key: &row.key,
                            version_id: &version_id,
                            ..Default::default()
                        },
                        false,
                    )
                    .into_iter()
                    .filter_map(|op| match op {
                        WriteOp::QueueEvent { target, payload } => Some((target, payload)),
                        _ => None,
                    })
                    .collect();
                    ops.push(WriteOp::ExpireObject {
                        bucket: bucket.to_owned(),
                        key: row.key.clone(),
                        etag: row.etag.clone(),
                        mtime_ms: row.mtime_ms,
                        marker,
                        events,
                    });
                }
            }
            done += ops.len();
            if !ops.is_empty() {
                self.commit(ops).await?;
            }
            if !page.truncated {
                return Ok(done);
            }
            after = page.entries.last().map(|e| e.sort_key().to_owned());
            tokio::task::yield_now().await;
        }
    }

    /// Noncurrent versions past `NoncurrentDays` (keeping
    /// `NewerNoncurrentVersions` of them), and delete markers left alone
    /// with no versions behind them.
    async fn expire_versions(
        &self,
        bucket: &str,
        config: &crate::BucketConfig,
        rule: &LifecycleRule,
        now: i64,
    ) -> Result<usize, EngineError> {
        let day = self.lifecycle_day_ms;
        let mut done = 0;
        let (mut key_marker, mut version_marker) = (None, None);
        // Per key, newest first: the previous version's mtime (when the next
        // one became noncurrent) and how many noncurrent versions came so far.
        let mut prev: Option<(String, i64)> = None;
        let mut noncurrent_seen = 0usize;
        // A current delete marker waiting to see whether versions follow it.
        let mut lone_marker: Option<(String, String)> = None;
        loop {
            let page = self
                .meta
                .list_versions(
                    bucket,
                    VersionListQuery {
                        prefix: rule.filter.prefix.clone(),
                        key_marker: key_marker.take(),
                        version_id_marker: version_marker.take(),
                        delimiter: None,
                        max: PAGE,
                    },
                )
                .await?;
            let mut ops = Vec::new();
            for entry in &page.entries {
                let VersionEntry::Version { row, is_latest } = entry else {
                    continue;
                };
                if *is_latest {
                    if let Some((key, vid)) = lone_marker.take() {
                        ops.push(delete_version_op(bucket, &key, &vid));
                    }
                    noncurrent_seen = 0;
                    let marker_rule = rule.expired_object_delete_marker == Some(true)
                        || rule.expiration_days.is_some();
                    if row.delete_marker && marker_rule {
                        lone_marker = Some((row.key.clone(), row.version_id.clone()));
                    }
                    prev = Some((row.key.clone(), row.mtime_ms));
                    continue;
                }
                if lone_marker.as_ref().is_some_and(|(k, _)| *k == row.key) {
                    lone_marker = None;
                }
                let became_noncurrent = match &prev {
                    Some((k, t)) if *k == row.key => *t,
                    _ => row.mtime_ms,
                };
                prev = Some((row.key.clone(), row.mtime_ms));
                let index = noncurrent_seen;
                noncurrent_seen += 1;
                let attrs = ObjectAttrs::decode(&row.attrs).unwrap_or_default();
                if !rule.matches(&row.key, row.size, &attrs.tags) {
                    continue;
                }
                let old_enough = rule.noncurrent_days.is_some_and(|d| {
                    became_noncurrent.saturating_add(i64::from(d).saturating_mul(day)) <= now
                });
                let beyond_kept = rule
                    .newer_noncurrent_versions
                    .is_none_or(|n| index >= usize::try_from(n).unwrap_or(0));
                if old_enough && beyond_kept && crate::check_removable(&attrs, false).is_ok() {
                    ops.push(delete_version_op(bucket, &row.key, &row.version_id));
                    ops.extend(crate::notify::event_ops(
                        config,
                        &self.region,
                        "s3:LifecycleExpiration:Delete",
                        &crate::notify::EventObject {
                            bucket,
                            key: &row.key,
                            version_id: &row.version_id,
                            ..Default::default()
                        },
                        false,
                    ));
                }
            }
            if !page.truncated
                && let Some((key, vid)) = lone_marker.take()
            {
                ops.push(delete_version_op(bucket, &key, &vid));
            }
            done += ops
                .iter()
                .filter(|op| !matches!(op, WriteOp::QueueEvent { .. }))
                .count();
            if !ops.is_empty() {
                self.commit(ops).await?;
            }
            if !page.truncated {
                return Ok(done);
            }
            match page.entries.last() {
                Some(VersionEntry::Version { row, .. }) => {
                    key_marker = Some(row.key.clone());
                    version_marker = Some(row.version_id.clone());
                }
                _ => return Ok(done),
            }
            tokio::task::yield_now().await;
        }
    }

    async fn abort_stale_uploads(
        &self,
        bucket: &str,
        rule: &LifecycleRule,
        now: i64,
    ) -> Result<usize, EngineError> {
        let Some(days) = rule.abort_incomplete_days else {
            return Ok(0);
        };
        let max_age = i64::from(days).saturating_mul(self.lifecycle_day_ms);
        let mut done = 0;
        let (mut key_marker, mut upload_id_marker) = (None, None);
        loop {
            let page = self
                .meta
                .list_uploads(
                    bucket,
                    UploadListQuery {
                        prefix: rule.filter.prefix.clone(),
                        key_marker: key_marker.take(),
                        upload_id_marker: upload_id_marker.take(),
                        delimiter: None,
                        max: PAGE,
                    },
                )
                .await?;
            let mut ops = Vec::new();
            for u in &page.uploads {
                // Tag and size filters cannot apply to uploads (S3 refuses
                // Tag filters with this action): the prefix decides.
                if u.key.starts_with(&rule.filter.prefix)
                    && u.initiated_ms.saturating_add(max_age) <= now
                {
                    ops.push(WriteOp::AbortUpload {
                        bucket: bucket.to_owned(),
                        upload_id: u.upload_id.clone(),
                    });
                }
            }
            done += ops.len();
            if !ops.is_empty() {
                self.commit(ops).await?;
            }
            if !page.truncated {
                return Ok(done);
            }
            if let Some(last) = page.uploads.last() {
                key_marker = Some(last.key.clone());
                upload_id_marker = Some(last.upload_id.clone());
            }
            tokio::task::yield_now().await;
        }
    }
}

fn delete_version_op(bucket: &str, key: &str, version_id: &str) -> WriteOp {
    WriteOp::DeleteVersion {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: version_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_expiry() {
        let rule = LifecycleRule {
            id: "DeleteOldVideos".into(),
            enabled: true,
            filter: LifecycleFilter {
                prefix: "videos/".into(),
                ..Default::default()
            },
            expiration_days: Some(30),
            ..Default::default()
        };
        assert!(rule.matches("videos/a.mp4", 10, &Tags::new()));
        assert!(!rule.matches("frames/a.jpg", 10, &Tags::new()));
        // Real days: rounded up to the next midnight UTC.
        let mtime = 10 * DAY_MS + 5;
        assert_eq!(rule.expiry_ms(mtime, DAY_MS), Some(41 * DAY_MS));
        // Shortened days: exact.
        assert_eq!(rule.expiry_ms(1000, 2000), Some(61_000));
        let tagged = LifecycleRule {
            filter: LifecycleFilter {
                tags: vec![("tmp".into(), "yes".into())],
                size_greater_than: Some(5),
                ..Default::default()
            },
            ..rule
        };
        assert!(tagged.matches(
            "x",
            6,
            &vec![("tmp".into(), "yes".into()), ("a".into(), "b".into())]
        ));
        assert!(!tagged.matches("x", 5, &vec![("tmp".into(), "yes".into())]));
        assert!(!tagged.matches("x", 6, &Tags::new()));
    }
}
