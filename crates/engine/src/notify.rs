//! Bucket event notifications: the rules a bucket keeps, and the event
//! records queued in the same metadata commit as the change they report,
//! so a committed change always has its event and a failed one never does.
//! Delivery to the targets is `almacen-notify`'s job.

use almacen_meta::WriteOp;
use serde_json::json;

use crate::{BucketConfig, now_ms};

/// One notification rule of a bucket (a Queue/Topic/CloudFunction configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotificationRule {
    /// The configuration id.
    pub id: String,
    /// The target's ARN (`arn:minio:sqs:REGION:ID:webhook`).
    pub arn: String,
    /// Which XML element it came in (Queue, Topic, CloudFunction).
    pub kind: String,
    /// Event names, with `*` wildcards (`s3:ObjectCreated:*`).
    pub events: Vec<String>,
    /// Keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Keys ending with this.
    #[serde(default)]
    pub suffix: String,
}

/// The event names a rule may name.
pub const EVENT_NAMES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

fn event_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The object an event is about.
#[derive(Debug, Clone, Default)]
pub struct EventObject<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key.
    pub key: &'a str,
    /// Size in bytes (0 for removals).
    pub size: u64,
    /// ETag without quotes (empty for removals).
    pub etag: &'a str,
    /// The version written or removed.
    pub version_id: &'a str,
}

/// The ops for `event` (e.g. `s3:ObjectCreated:Put`) on `obj`: a queued
/// event per matching rule of `config`, in the S3/MinIO event JSON, and a
/// [`WriteOp::Notice`] for live listeners when `live`.
#[must_use]
pub fn event_ops(
    config: &BucketConfig,
    region: &str,
    event: &str,
    obj: &EventObject<'_>,
    live: bool,
) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    for rule in config.notifications.iter().flatten() {
        if !(obj.key.starts_with(&rule.prefix) && obj.key.ends_with(&rule.suffix)) {
            continue;
        }
        if !rule.events.iter().any(|p| event_matches(p, event)) {
            continue;
        }
        let payload = json!({
            "EventName": event,
            "Key": format!("{}/{}", obj.bucket, obj.key),
            "Records": [record(region, event, obj, &rule.id)],
        });
        ops.push(WriteOp::QueueEvent {
            target: rule.arn.clone(),
            payload: payload.to_string().into_bytes(),
        });
    }
    if live {
        ops.push(WriteOp::Notice {
            bucket: obj.bucket.to_owned(),
            key: obj.key.to_owned(),
            event: event.to_owned(),
            payload: json!({ "Records": [record(region, event, obj, "")] })
                .to_string()
                .into_bytes(),
        });
    }
    ops
}

/// One event record as S3 and MinIO send it.
fn record(
    region: &str,
    event: &str,
    obj: &EventObject<'_>,
    configuration_id: &str,
) -> serde_json::Value {
    let now = now_ms();
    let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default();
    let key = percent_encoding::utf8_percent_encode(obj.key, KEY).to_string();
    json!({
        "eventVersion": "2.0",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": time,
        "eventName": event.trim_start_matches("s3:"),
        "userIdentity": {"principalId": ""},
        "requestParameters": {"sourceIPAddress": ""},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": obj.bucket,
                "ownerIdentity": {"principalId": ""},
                "arn": format!("arn:aws:s3:::{}", obj.bucket),
            },
            "object": {
                "key": key,
                "size": obj.size,
                "eTag": obj.etag,
                "versionId": if obj.version_id == crate::NULL_VERSION { "" } else { obj.version_id },
                "sequencer": format!("{:016X}", u64::try_from(now).unwrap_or(0) * 1_000_000),
            },
        },
    })
}

/// What S3 escapes in event keys (as URL query encoding: spaces as `+`
/// are not used; `/` stays).
const KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_filter_by_event_prefix_and_suffix() {
        let config = BucketConfig {
            notifications: Some(vec![NotificationRule {
                id: "videos".into(),
                arn: "arn:minio:sqs::1:webhook".into(),
                kind: "Queue".into(),
                events: vec!["s3:ObjectCreated:*".into()],
                prefix: "videos/".into(),
                suffix: ".mp4".into(),
            }]),
            ..Default::default()
        };
        let obj = |key| EventObject {
            bucket: "b",
            key,
            size: 1,
            etag: "e",
            version_id: "null",
        };
        assert_eq!(
            event_ops(
                &config,
                "us-east-1",
                "s3:ObjectCreated:Put",
                &obj("videos/a b.mp4"),
                false
            )
            .len(),
            1
        );
        assert!(
            event_ops(
                &config,
                "us-east-1",
                "s3:ObjectRemoved:Delete",
                &obj("videos/a.mp4"),
                false
            )
            .is_empty()
        );
        assert!(
            event_ops(
                &config,
                "us-east-1",
                "s3:ObjectCreated:Put",
                &obj("frames/a.mp4"),
                false
            )
            .is_empty()
        );
        assert!(
            event_ops(
                &config,
                "us-east-1",
                "s3:ObjectCreated:Put",
                &obj("videos/a.jpg"),
                false
            )
            .is_empty()
        );
        let WriteOp::QueueEvent { payload, .. } = &event_ops(
            &config,
            "us-east-1",
            "s3:ObjectCreated:Put",
            &obj("videos/a b.mp4"),
            false,
        )[0] else {
            panic!()
        };
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(v["Records"][0]["s3"]["object"]["key"], "videos/a%20b.mp4");
        assert_eq!(v["Records"][0]["eventName"], "ObjectCreated:Put");
    }
}
