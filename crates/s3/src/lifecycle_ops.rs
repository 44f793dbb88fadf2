//! Put/Get/DeleteBucketLifecycleConfiguration with S3's validation, and the
//! `x-amz-expiration` header value. The rules act in the engine's worker
//! (`almacen_engine::Engine::apply_lifecycle`).

use almacen_engine::{FilterShape, LifecycleFilter, LifecycleRule, LifecycleTransition, Tags};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::convert::{ms, ts};
use crate::error::{malformed_xml, s3_err, to_s3};

/// S3's limit on rules per configuration.
const MAX_RULES: usize = 1000;

fn invalid_argument(msg: impl Into<String>) -> S3Error {
    s3_err(S3ErrorCode::InvalidArgument, msg)
}

fn positive(days: Option<i32>, what: &str) -> S3Result<()> {
    match days {
        Some(d) if d <= 0 => Err(invalid_argument(format!(
            "'{what}' for {} action must be a positive integer",
            if what == "Days" {
                "Expiration"
            } else {
                "NoncurrentVersionExpiration"
            }
        ))),
        _ => Ok(()),
    }
}

fn tags_of(set: Option<TagSet>) -> S3Result<Tags> {
    set.unwrap_or_default()
        .into_iter()
        .map(|t| {
            t.key
                .map(|k| (k, t.value.unwrap_or_default()))
                .ok_or_else(malformed_xml)
        })
        .collect()
}

fn filter_from_dto(
    rule_prefix: Option<String>,
    f: Option<LifecycleRuleFilter>,
) -> S3Result<LifecycleFilter> {
    match (rule_prefix, f) {
        (Some(_), Some(_)) => Err(malformed_xml()),
        (Some(prefix), None) => Ok(LifecycleFilter {
            prefix,
            shape: FilterShape::TopLevelPrefix,
            ..Default::default()
        }),
        (None, None) => Ok(LifecycleFilter::default()),
        (None, Some(f)) => {
            let given = usize::from(f.prefix.is_some())
                + usize::from(f.tag.is_some())
                + usize::from(f.object_size_greater_than.is_some())
                + usize::from(f.object_size_less_than.is_some())
                + usize::from(f.and.is_some());
            if given > 1 {
                // Several conditions must be combined with <And>.
                return Err(malformed_xml());
            }
            if let Some(and) = f.and {
                return Ok(LifecycleFilter {
                    prefix: and.prefix.unwrap_or_default(),
                    tags: tags_of(and.tags)?,
                    size_greater_than: and.object_size_greater_than,
                    size_less_than: and.object_size_less_than,
                    shape: FilterShape::And,
                });
            }
            Ok(LifecycleFilter {
                prefix: f.prefix.unwrap_or_default(),
                tags: tags_of(f.tag.map(|t| vec![t]))?,
                size_greater_than: f.object_size_greater_than,
                size_less_than: f.object_size_less_than,
                shape: FilterShape::Filter,
            })
        }
    }
}

fn rule_from_dto(r: LifecycleRule_, n: usize) -> S3Result<LifecycleRule> {
    let enabled = match r.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        _ => return Err(malformed_xml()),
    };
    let id = r.id.unwrap_or_else(|| format!("rule-{n}"));
    if id.len() > 255 {
        return Err(invalid_argument(
            "ID length should not exceed allowed limit of 255",
        ));
    }
    let filter = filter_from_dto(r.prefix, r.filter)?;
    let (mut days, mut date, mut marker) = (None, None, None);
    if let Some(e) = r.expiration {
        if e.days.is_some() && e.date.is_some() {
            return Err(malformed_xml());
        }
        if e.expired_object_delete_marker.is_some() && (e.days.is_some() || e.date.is_some()) {
            return Err(malformed_xml());
        }
        positive(e.days, "Days")?;
        if let Some(d) = &e.date {
            let at = ms(d);
            if at.rem_euclid(86_400_000) != 0 {
                return Err(invalid_argument("'Date' must be at midnight GMT"));
            }
            date = Some(at);
        }
        days = e.days;
        marker = e.expired_object_delete_marker;
    }
    let (noncurrent_days, newer_noncurrent_versions) = match r.noncurrent_version_expiration {
        Some(n) => {
            positive(n.noncurrent_days, "NoncurrentDays")?;
            (n.noncurrent_days, n.newer_noncurrent_versions)
        }
        None => (None, None),
    };
    let abort_incomplete_days = r
        .abort_incomplete_multipart_upload
        .and_then(|a| a.days_after_initiation);
    if abort_incomplete_days.is_some() && !filter.tags.is_empty() {
        return Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "AbortIncompleteMultipartUpload cannot be specified with Tags.",
        ));
    }
    if abort_incomplete_days.is_some_and(|d| d <= 0) {
        return Err(invalid_argument(
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        ));
    }
    for t in r.transitions.iter().flatten() {
        if t.date
            .as_ref()
            .is_some_and(|d| ms(d).rem_euclid(86_400_000) != 0)
        {
            return Err(invalid_argument("'Date' must be at midnight GMT"));
        }
        if t.days.is_some_and(|d| d < 0) {
            return Err(invalid_argument(
                "'Days' for Transition action must be a positive integer",
            ));
        }
    }
    let transitions: Vec<LifecycleTransition> = r
        .transitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| LifecycleTransition {
            days: t.days,
            date_ms: t.date.as_ref().map(ms),
            newer_versions: None,
            storage_class: t.storage_class.map(|c| c.as_str().to_owned()),
        })
        .collect();
    let noncurrent_transitions: Vec<LifecycleTransition> = r
        .noncurrent_version_transitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| LifecycleTransition {
            days: t.noncurrent_days,
            date_ms: None,
            newer_versions: t.newer_noncurrent_versions,
            storage_class: t.storage_class.map(|c| c.as_str().to_owned()),
        })
        .collect();
    let rule = LifecycleRule {
        id,
        enabled,
        filter,
        expiration_days: days,
        expiration_date_ms: date,
        expired_object_delete_marker: marker,
        noncurrent_days,
        newer_noncurrent_versions,
        abort_incomplete_days,
        transitions,
        noncurrent_transitions,
    };
    let has_action = rule.expiration_days.is_some()
        || rule.expiration_date_ms.is_some()
        || rule.expired_object_delete_marker.is_some()
        || rule.noncurrent_days.is_some()
        || rule.newer_noncurrent_versions.is_some()
        || rule.abort_incomplete_days.is_some()
        || !rule.transitions.is_empty()
        || !rule.noncurrent_transitions.is_empty();
    if !has_action {
        return Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(rule)
}

type LifecycleRule_ = s3s::dto::LifecycleRule;

fn tag_dto((k, v): (String, String)) -> Tag {
    Tag {
        key: Some(k),
        value: Some(v),
    }
}

fn rule_to_dto(r: LifecycleRule) -> LifecycleRule_ {
    let f = r.filter;
    let (prefix, filter) = match f.shape {
        FilterShape::TopLevelPrefix => (Some(f.prefix), None),
        FilterShape::And => (
            None,
            Some(LifecycleRuleFilter {
                and: Some(LifecycleRuleAndOperator {
                    prefix: Some(f.prefix),
                    tags: Some(f.tags.into_iter().map(tag_dto).collect()),
                    object_size_greater_than: f.size_greater_than,
                    object_size_less_than: f.size_less_than,
                }),
                ..Default::default()
            }),
        ),
        FilterShape::Filter => (
            None,
            Some(LifecycleRuleFilter {
                prefix: (f.tags.is_empty()
                    && f.size_greater_than.is_none()
                    && f.size_less_than.is_none())
                .then_some(f.prefix),
                tag: f.tags.into_iter().next().map(tag_dto),
                object_size_greater_than: f.size_greater_than,
                object_size_less_than: f.size_less_than,
                ..Default::default()
            }),
        ),
    };
    let expiration = (r.expiration_days.is_some()
        || r.expiration_date_ms.is_some()
        || r.expired_object_delete_marker.is_some())
    .then(|| LifecycleExpiration {
        days: r.expiration_days,
        date: r.expiration_date_ms.map(ts),
        expired_object_delete_marker: r.expired_object_delete_marker,
    });
    let class = |c: Option<String>| c.map(TransitionStorageClass::from);
    LifecycleRule_ {
        id: Some(r.id),
        status: ExpirationStatus::from(if r.enabled { "Enabled" } else { "Disabled" }.to_owned()),
        prefix,
        filter,
        expiration,
        noncurrent_version_expiration: (r.noncurrent_days.is_some()
            || r.newer_noncurrent_versions.is_some())
        .then_some(NoncurrentVersionExpiration {
            noncurrent_days: r.noncurrent_days,
            newer_noncurrent_versions: r.newer_noncurrent_versions,
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d),
            }
        }),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .into_iter()
                .map(|t| Transition {
                    days: t.days,
                    date: t.date_ms.map(ts),
                    storage_class: class(t.storage_class),
                })
                .collect()
        }),
        noncurrent_version_transitions: (!r.noncurrent_transitions.is_empty()).then(|| {
            r.noncurrent_transitions
                .into_iter()
                .map(|t| NoncurrentVersionTransition {
                    noncurrent_days: t.days,
                    newer_noncurrent_versions: t.newer_versions,
                    storage_class: class(t.storage_class),
                })
                .collect()
        }),
    }
}

/// The `x-amz-expiration` value: `expiry-date="<HTTP date>", rule-id="<id>"`.
pub(crate) fn expiration_header(expiry_ms: i64, rule_id: &str) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expiry_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .ok()
        })
        .unwrap_or_default();
    format!("expiry-date=\"{date}\", rule-id=\"{rule_id}\"")
}

impl Almacen {
    /// The `x-amz-expiration` header for an object, when a rule expires it.
    pub(crate) async fn expiration_of(
        &self,
        bucket: &str,
        info: &almacen_engine::ObjectInfo,
    ) -> Option<String> {
        self.engine
            .expiration(bucket, &info.key, info.size, info.mtime_ms, &info.attrs)
            .await
            .map(|(at, id)| expiration_header(at, &id))
    }

    pub(crate) async fn op_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let input = req.input;
        let rules = input
            .lifecycle_configuration
            .ok_or_else(malformed_xml)?
            .rules;
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(malformed_xml());
        }
        let rules = rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| rule_from_dto(r, i + 1))
            .collect::<S3Result<Vec<_>>>()?;
        for (i, r) in rules.iter().enumerate() {
            if rules[..i].iter().any(|o| o.id == r.id) {
                return Err(invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        self.engine
            .set_bucket_lifecycle(&input.bucket, Some(rules))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(
            PutBucketLifecycleConfigurationOutput::default(),
        ))
    }

    pub(crate) async fn op_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let rules = config.lifecycle.ok_or_else(|| {
            s3_err(
                S3ErrorCode::NoSuchLifecycleConfiguration,
                "The lifecycle configuration does not exist",
            )
        })?;
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rules.into_iter().map(rule_to_dto).collect()),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.engine
            .set_bucket_lifecycle(&req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteBucketLifecycleOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::expiration_header;

    #[test]
    fn header_format() {
        // 2012-12-23 00:00:00 UTC
        assert_eq!(
            expiration_header(1_356_220_800_000, "picture-deletion-rule"),
            "expiry-date=\"Sun, 23 Dec 2012 00:00:00 GMT\", rule-id=\"picture-deletion-rule\""
        );
    }
}
