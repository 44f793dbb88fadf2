//! The queued event as the targets need it: the engine stores MinIO's
//! `event.Log` JSON (`{"EventName", "Key", "Records": [record]}`), which
//! webhooks and NATS receive as is; Redis and PostgreSQL store MinIO's
//! other shapes, derived here so every target says the same thing.

use serde_json::{Value, json};

/// One queued event, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The stored JSON, sent as is to webhooks and NATS.
    pub raw: Vec<u8>,
    /// `s3:ObjectCreated:Put`, ...
    pub name: String,
    /// `bucket/key`, the key not URL-encoded: the namespace entry's name.
    pub key: String,
    /// The S3 event record.
    pub record: Value,
    /// The record's `eventTime` (RFC 3339).
    pub time: String,
}

/// A payload that is not an event record: it can never be delivered.
#[derive(Debug, thiserror::Error)]
#[error("the queued event is not an S3 event record: {0}")]
pub(crate) struct Malformed(pub String);

impl Event {
    /// Parses a stored payload.
    pub(crate) fn parse(raw: Vec<u8>) -> Result<Self, Malformed> {
        let v: Value = serde_json::from_slice(&raw).map_err(|e| Malformed(e.to_string()))?;
        let record = v["Records"][0].clone();
        if !record.is_object() {
            return Err(Malformed("no Records[0]".into()));
        }
        let name = match v["EventName"].as_str() {
            Some(n) => n.to_owned(),
            None => format!(
                "s3:{}",
                record["eventName"]
                    .as_str()
                    .ok_or_else(|| Malformed("no eventName".into()))?
            ),
        };
        let key = match v["Key"].as_str() {
            Some(k) => k.to_owned(),
            None => {
                let bucket = record["s3"]["bucket"]["name"].as_str().unwrap_or_default();
                let key = record["s3"]["object"]["key"].as_str().unwrap_or_default();
                format!(
                    "{bucket}/{}",
                    percent_encoding::percent_decode_str(key).decode_utf8_lossy()
                )
            }
        };
        let time = record["eventTime"].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            raw,
            name,
            key,
            record,
            time,
        })
    }

    /// Whether the event removes the object from a namespace view. MinIO
    /// removes the entry on `s3:ObjectRemoved:Delete` only; almacen also
    /// does on delete markers and lifecycle expirations, after which the
    /// object is just as gone for a reader.
    pub(crate) fn removes(&self) -> bool {
        matches!(
            self.name.as_str(),
            "s3:ObjectRemoved:Delete"
                | "s3:ObjectRemoved:DeleteMarkerCreated"
                | "s3:LifecycleExpiration:Delete"
                | "s3:LifecycleExpiration:DeleteMarkerCreated"
        )
    }

    /// `{"Records":[record]}`: a namespace entry's value, and PostgreSQL's
    /// `event_data`.
    pub(crate) fn records_json(&self) -> Value {
        json!({ "Records": [self.record] })
    }

    /// `[{"Event":[record],"EventTime":"..."}]`: what MinIO RPUSHes to a
    /// Redis list in the access format.
    pub(crate) fn redis_access_json(&self) -> String {
        json!([{ "Event": [self.record], "EventTime": self.time }]).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_each_format() {
        let raw = br#"{"EventName":"s3:ObjectRemoved:Delete","Key":"b/a b.mp4","Records":[{"eventName":"ObjectRemoved:Delete","eventTime":"2026-01-02T03:04:05.678Z","s3":{"bucket":{"name":"b"},"object":{"key":"a%20b.mp4"}}}]}"#;
        let e = Event::parse(raw.to_vec()).unwrap();
        assert_eq!(e.key, "b/a b.mp4");
        assert!(e.removes());
        assert_eq!(e.time, "2026-01-02T03:04:05.678Z");
        let access: Value = serde_json::from_str(&e.redis_access_json()).unwrap();
        assert_eq!(access[0]["Event"][0]["s3"]["object"]["key"], "a%20b.mp4");
        assert_eq!(access[0]["EventTime"], "2026-01-02T03:04:05.678Z");
        assert_eq!(
            e.records_json()["Records"][0]["eventName"],
            "ObjectRemoved:Delete"
        );
        assert!(Event::parse(b"{}".to_vec()).is_err());
    }
}
