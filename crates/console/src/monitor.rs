//! Monitoring: every [`EVERY`] the console reads the numbers the metrics
//! endpoint exports (the same exposition text) and keeps the last hour of
//! them, so the browser can chart storage, request rate, error rate and
//! latency without a Prometheus server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// How often a sample is taken.
pub const EVERY: Duration = Duration::from_secs(10);
/// How many samples are kept (one hour).
const KEEP: usize = 360;

/// One reading of the metrics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Unix time, milliseconds.
    pub t: i64,
    /// Bytes of every version in every bucket.
    pub bytes: f64,
    /// Current objects in every bucket.
    pub objects: f64,
    /// Size of the data folder's file system.
    pub disk_total: f64,
    /// Free bytes there.
    pub disk_free: f64,
    /// S3 requests since start (a counter).
    pub requests: f64,
    /// S3 requests answered with an error since start (a counter).
    pub errors: f64,
    /// Sum of the time to first byte of all requests, seconds (a counter).
    pub latency_sum: f64,
    /// Number of requests timed (a counter).
    pub latency_count: f64,
}

/// Reads a [`Sample`] out of Prometheus exposition text, summing a family's
/// series over their labels.
#[must_use]
pub fn parse(text: &str, t: i64) -> Sample {
    let mut s = Sample {
        t,
        ..Sample::default()
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let name = name_labels.split('{').next().unwrap_or_default();
        let slot = match name {
            "minio_cluster_usage_total_bytes" => &mut s.bytes,
            "minio_cluster_usage_object_total" => &mut s.objects,
            "minio_node_disk_total_bytes" => &mut s.disk_total,
            "minio_node_disk_free_bytes" => &mut s.disk_free,
            "minio_s3_requests_total" => &mut s.requests,
            "minio_s3_requests_errors_total" => &mut s.errors,
            "minio_s3_requests_ttfb_seconds_sum" => &mut s.latency_sum,
            "minio_s3_requests_ttfb_seconds_count" => &mut s.latency_count,
            _ => continue,
        };
        *slot += v;
    }
    s
}

/// The last hour of samples.
#[derive(Debug, Default, Clone)]
pub struct History(Arc<Mutex<VecDeque<Sample>>>);

impl History {
    /// Adds a sample, dropping the oldest past an hour.
    pub fn push(&self, s: Sample) {
        let mut q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() == KEEP {
            q.pop_front();
        }
        q.push_back(s);
    }

    /// The samples, oldest first.
    #[must_use]
    pub fn all(&self) -> Vec<Sample> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Samples `metrics` into `history` every [`EVERY`], forever.
pub async fn run(metrics: Arc<almacen_s3::metrics::Metrics>, history: History) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let text = metrics.render().await;
        history.push(parse(&text, now_ms()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_summed_over_labels() {
        let text = "# HELP x\nminio_s3_requests_total{api=\"GetObject\"} 3\nminio_s3_requests_total{api=\"PutObject\"} 4\nminio_s3_requests_ttfb_seconds_sum{api=\"a\"} 0.5\nminio_node_disk_free_bytes 100\nother 9\n";
        let s = parse(text, 1);
        assert_eq!(s.requests, 7.0);
        assert_eq!(s.latency_sum, 0.5);
        assert_eq!(s.disk_free, 100.0);
        let h = History::default();
        for i in 0..400 {
            h.push(Sample {
                t: i,
                ..Sample::default()
            });
        }
        let all = h.all();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].t, 40);
    }
}
