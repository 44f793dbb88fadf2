//! Prometheus metrics, with MinIO's names so that dashboards built for it
//! keep working: request counts, errors and time-to-first-byte by API,
//! traffic, bucket usage, disk space, uploads in progress, lifecycle
//! actions. Served by the front at `/minio/v2/metrics/cluster`,
//! `/minio/v2/metrics/node`, `/minio/v2/metrics/bucket` and `/metrics`.
//!
//! Scrapes need a bearer token (a JWT signed with an access key's secret,
//! as `mc admin prometheus generate` and `almacen admin prometheus token`
//! make) whose key may `admin:Prometheus`, unless
//! `MINIO_PROMETHEUS_AUTH_TYPE=public`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use almacen_engine::Engine;
use almacen_iam::{Context, Decision, IamStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Where the front serves metrics.
pub const METRICS_PATHS: &[&str] = &[
    "/minio/v2/metrics/cluster",
    "/minio/v2/metrics/node",
    "/minio/v2/metrics/bucket",
    "/metrics",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabel {
    api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabel {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabel {
    bucket: String,
}

/// What `Access` learns of a request (it is the one place that knows the
/// s3s operation and the signer), read by the front afterwards for the
/// metrics and the audit log.
#[derive(Clone, Default, Debug)]
pub struct ApiSlot(pub Arc<RequestFacts>);

/// See [`ApiSlot`].
#[derive(Default, Debug)]
pub struct RequestFacts {
    /// The s3s operation name.
    pub api: std::sync::OnceLock<String>,
    /// The access key that signed.
    pub access_key: std::sync::OnceLock<String>,
    /// The user it acts as.
    pub user: std::sync::OnceLock<String>,
}

/// The request counters and histograms (see the module documentation).
pub struct Metrics {
    registry: Registry,
    requests: Family<ApiLabel, Counter>,
    errors: Family<ApiLabel, Counter>,
    errors_4xx: Family<ApiLabel, Counter>,
    errors_5xx: Family<ApiLabel, Counter>,
    ttfb: Family<ApiLabel, Histogram, fn() -> Histogram>,
    received: Counter,
    sent: Counter,
    inflight: Gauge,
    engine: Engine,
    iam: Arc<IamStore>,
    public: bool,
    delivery: Arc<almacen_notify::DeliveryStats>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Latency buckets in seconds, from 5 ms to 10 s (the seeds warn at 3 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0,
];

impl Metrics {
    /// Metrics over `engine`'s buckets and disk; scrapes authenticated
    /// against `iam` unless `public`.
    #[must_use]
    pub fn new(
        engine: Engine,
        iam: Arc<IamStore>,
        public: bool,
        delivery: Arc<almacen_notify::DeliveryStats>,
    ) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<ApiLabel, Counter>::default();
        let errors = Family::<ApiLabel, Counter>::default();
        let errors_4xx = Family::<ApiLabel, Counter>::default();
        let errors_5xx = Family::<ApiLabel, Counter>::default();
        let ttfb = Family::<ApiLabel, Histogram, fn() -> Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS.iter().copied())
        });
        let received = Counter::default();
        let sent = Counter::default();
        let inflight = Gauge::default();
        registry.register(
            "minio_s3_requests",
            "Total S3 requests by API",
            requests.clone(),
        );
        registry.register(
            "minio_s3_requests_errors",
            "Total S3 requests with errors by API",
            errors.clone(),
        );
        registry.register(
            "minio_s3_requests_4xx_errors",
            "Total S3 requests answered 4xx by API",
            errors_4xx.clone(),
        );
        registry.register(
            "minio_s3_requests_5xx_errors",
            "Total S3 requests answered 5xx by API",
            errors_5xx.clone(),
        );
        registry.register(
            "minio_s3_requests_ttfb_seconds",
            "Time to first byte of S3 responses by API",
            ttfb.clone(),
        );
        registry.register(
            "minio_s3_traffic_received_bytes",
            "Request body bytes received (by Content-Length)",
            received.clone(),
        );
        registry.register(
            "minio_s3_traffic_sent_bytes",
            "Response body bytes sent (by Content-Length)",
            sent.clone(),
        );
        registry.register(
            "minio_s3_requests_inflight",
            "S3 requests being served",
            inflight.clone(),
        );
        Self {
            registry,
            requests,
            errors,
            errors_4xx,
            errors_5xx,
            ttfb,
            received,
            sent,
            inflight,
            engine,
            iam,
            public,
            delivery,
        }
    }

    /// A request started.
    pub fn start(&self) {
        self.inflight.inc();
    }

    /// A request ended with `status` after `seconds` to its first byte.
    pub fn observe(&self, api: &str, status: u16, seconds: f64, bytes_in: u64, bytes_out: u64) {
        self.inflight.dec();
        let label = ApiLabel {
            api: api.to_owned(),
        };
        self.requests.get_or_create(&label).inc();
        self.ttfb.get_or_create(&label).observe(seconds);
        if status >= 400 {
            self.errors.get_or_create(&label).inc();
        }
        if (400..500).contains(&status) {
            self.errors_4xx.get_or_create(&label).inc();
        }
        if status >= 500 {
            self.errors_5xx.get_or_create(&label).inc();
        }
        self.received.inc_by(bytes_in);
        self.sent.inc_by(bytes_out);
    }

    /// Whether the `Authorization` header may scrape.
    #[must_use]
    pub fn authorized(&self, authorization: Option<&str>, context: &Context) -> bool {
        if self.public {
            return true;
        }
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        let Some(access_key) = verify_jwt(token.trim(), |ak| {
            self.iam.identity(ak).ok().map(|id| id.secret().to_owned())
        }) else {
            return false;
        };
        self.may_scrape(&access_key, context)
    }

    /// Whether `access_key` may read the metrics (root, or an identity
    /// policy allowing `admin:Prometheus` with the request's condition
    /// keys `context`); the console asks the same.
    #[must_use]
    pub fn may_scrape(&self, access_key: &str, context: &Context) -> bool {
        self.public
            || self.iam.identity(access_key).is_ok_and(|id| {
                id.is_root()
                    || id.evaluate("admin:Prometheus", "arn:aws:s3:::*", context) == Decision::Allow
            })
    }

    /// The exposition text: the counters, then what is read per scrape
    /// (bucket usage, disk space, uploads in progress, lifecycle totals).
    pub async fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        let mut scrape = Registry::default();
        let bytes = Family::<BucketLabel, Gauge>::default();
        let objects = Family::<BucketLabel, Gauge>::default();
        let versions = Family::<BucketLabel, Gauge>::default();
        let quota = Family::<BucketLabel, Gauge>::default();
        let uploads = Family::<BucketLabel, Gauge>::default();
        let mut total_bytes: i64 = 0;
        let mut total_objects: i64 = 0;
        for b in self.engine.list_buckets().await.unwrap_or_default() {
            let label = BucketLabel {
                bucket: b.name.clone(),
            };
            if let Ok(u) = self.engine.bucket_usage(&b.name).await {
                let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                bytes.get_or_create(&label).set(g(u.bytes));
                objects.get_or_create(&label).set(g(u.objects));
                versions.get_or_create(&label).set(g(u.versions));
                if let Some(q) = u.quota {
                    quota.get_or_create(&label).set(g(q));
                }
                total_bytes = total_bytes.saturating_add(g(u.bytes));
                total_objects = total_objects.saturating_add(g(u.objects));
            }
            if let Ok(n) = self.engine.uploads_in_progress(&b.name).await {
                uploads
                    .get_or_create(&label)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        scrape.register(
            "minio_bucket_usage_total_bytes",
            "Bytes of every version in the bucket",
            bytes,
        );
        scrape.register(
            "minio_bucket_usage_object_total",
            "Current objects in the bucket",
            objects,
        );
        scrape.register(
            "minio_bucket_usage_version_total",
            "Versions and delete markers in the bucket",
            versions,
        );
        scrape.register(
            "minio_bucket_quota_total_bytes",
            "The bucket's hard quota",
            quota,
        );
        scrape.register(
            "almacen_bucket_multipart_uploads_in_progress",
            "Multipart uploads not yet completed or aborted",
            uploads,
        );
        let cluster_bytes = Gauge::<i64>::default();
        cluster_bytes.set(total_bytes);
        scrape.register(
            "minio_cluster_usage_total_bytes",
            "Bytes of every version in every bucket",
            cluster_bytes,
        );
        let cluster_objects = Gauge::<i64>::default();
        cluster_objects.set(total_objects);
        scrape.register(
            "minio_cluster_usage_object_total",
            "Current objects in every bucket",
            cluster_objects,
        );
        if let Ok(d) = self.engine.disk_stats() {
            let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            let total = Gauge::<i64>::default();
            total.set(g(d.total));
            let free = Gauge::<i64>::default();
            free.set(g(d.available));
            let used = Gauge::<i64>::default();
            used.set(g(d.total.saturating_sub(d.available)));
            scrape.register(
                "minio_node_disk_total_bytes",
                "Size of the data folder's file system",
                total,
            );
            scrape.register(
                "minio_node_disk_free_bytes",
                "Bytes free for uploads on the data folder's file system",
                free,
            );
            scrape.register(
                "minio_node_disk_used_bytes",
                "Bytes used on the data folder's file system",
                used,
            );
        }
        // Notifications: the queue by target (rows whose ARN names a
        // configured target are counted under its ARN, whatever region the
        // rule wrote), the totals (names kept for existing dashboards), and
        // each configured target's own counters and state.
        let pending = self
            .engine
            .meta()
            .pending_events()
            .await
            .unwrap_or_default();
        let report = self.delivery.report(&pending);
        let queued = Family::<TargetLabel, Gauge>::default();
        for t in &report {
            queued
                .get_or_create(&TargetLabel {
                    target: t.arn.clone(),
                })
                .set(i64::try_from(t.pending).unwrap_or(i64::MAX));
        }
        for (target, n) in &pending {
            let key = almacen_notify::arn_key(target);
            if !report
                .iter()
                .any(|t| almacen_notify::arn_key(&t.arn) == key)
            {
                queued
                    .get_or_create(&TargetLabel {
                        target: target.clone(),
                    })
                    .inc_by(i64::try_from(*n).unwrap_or(i64::MAX));
            }
        }
        scrape.register(
            "almacen_notify_queue_length",
            "Events waiting for delivery, by target ARN",
            queued,
        );
        let delivered = Counter::<u64>::default();
        delivered.inc_by(self.delivery.delivered.load(Ordering::Relaxed));
        let failed = Counter::<u64>::default();
        failed.inc_by(self.delivery.failed.load(Ordering::Relaxed));
        scrape.register(
            "almacen_notify_delivered",
            "Events delivered to their targets",
            delivered,
        );
        scrape.register(
            "almacen_notify_failed",
            "Event deliveries that failed (each is retried)",
            failed,
        );
        let t_delivered = Family::<TargetLabel, Counter<u64>>::default();
        let t_failed = Family::<TargetLabel, Counter<u64>>::default();
        let t_online = Family::<TargetLabel, Gauge>::default();
        for t in &report {
            let label = TargetLabel {
                target: t.arn.clone(),
            };
            t_delivered.get_or_create(&label).inc_by(t.delivered);
            t_failed.get_or_create(&label).inc_by(t.failed);
            t_online
                .get_or_create(&label)
                .set(i64::from(t.status == "online"));
        }
        scrape.register(
            "almacen_notify_target_delivered",
            "Events delivered, by target ARN",
            t_delivered,
        );
        scrape.register(
            "almacen_notify_target_failed",
            "Event deliveries that failed, by target ARN (each is retried)",
            t_failed,
        );
        scrape.register(
            "almacen_notify_target_online",
            "1 when the target took the last event or probe, by target ARN",
            t_online,
        );
        let totals = self.engine.lifecycle_totals();
        let expired = Counter::<u64>::default();
        expired.inc_by(totals.expired.load(Ordering::Relaxed));
        let aborted = Counter::<u64>::default();
        aborted.inc_by(totals.aborted.load(Ordering::Relaxed));
        scrape.register(
            "almacen_lifecycle_expired_objects",
            "Objects and versions removed by lifecycle rules",
            expired,
        );
        scrape.register(
            "almacen_lifecycle_aborted_uploads",
            "Multipart uploads aborted by lifecycle rules",
            aborted,
        );
        let integrity = self.engine.integrity_totals();
        for (name, help, value) in [
            (
                "almacen_integrity_checksum_failures",
                "Reads and scans that found stored bytes not matching their checksums",
                &integrity.checksum_failures,
            ),
            (
                "almacen_integrity_scanned_bytes",
                "Bytes verified by scans and the scrubber",
                &integrity.scanned_bytes,
            ),
            (
                "almacen_integrity_scanned_objects",
                "Object versions verified by scans and the scrubber",
                &integrity.scanned_objects,
            ),
        ] {
            let c = Counter::<u64>::default();
            c.inc_by(value.load(Ordering::Relaxed));
            scrape.register(name, help, c);
        }
        let mut more = String::new();
        let _ = prometheus_client::encoding::text::encode_registry(&mut more, &scrape);
        out.push_str(&more);
        out.push_str("# EOF\n");
        out
    }
}

/// Verifies a compact HS256/HS384/HS512 JWT whose `sub` (or `accessKey`)
/// names an access key, with that key's secret; checks `exp`. Returns the
/// access key. Signatures compare in constant time.
#[must_use]
pub fn verify_jwt(token: &str, secret_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    use hmac::{KeyInit as _, Mac as _};
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    let access_key = claims["sub"]
        .as_str()
        .or_else(|| claims["accessKey"].as_str())?
        .to_owned();
    let exp = claims["exp"].as_i64()?;
    if exp <= time::OffsetDateTime::now_utc().unix_timestamp() {
        return None;
    }
    let secret = secret_of(&access_key)?;
    let signed = format!("{h}.{p}");
    let ok = match header["alg"].as_str()? {
        "HS256" => {
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
            m.update(signed.as_bytes());
            m.verify_slice(&sig).is_ok()
        }
        "HS384" => {
            let mut m = hmac::Hmac::<sha2::Sha384>::new_from_slice(secret.as_bytes()).ok()?;
            m.update(signed.as_bytes());
            m.verify_slice(&sig).is_ok()
        }
        "HS512" => {
            let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).ok()?;
            m.update(signed.as_bytes());
            m.verify_slice(&sig).is_ok()
        }
        _ => false,
    };
    ok.then_some(access_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit as _, Mac as _};

    fn jwt(secret: &str, claims: &serde_json::Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(format!("{h}.{p}").as_bytes());
        format!(
            "{h}.{p}.{}",
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        )
    }

    #[test]
    fn jwt_checks() {
        let secrets = |ak: &str| (ak == "admin").then(|| "s3cret-key".to_owned());
        let future = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let good = jwt(
            "s3cret-key",
            &serde_json::json!({"sub": "admin", "exp": future, "iss": "prometheus"}),
        );
        assert_eq!(verify_jwt(&good, secrets).as_deref(), Some("admin"));
        let wrong = jwt("other", &serde_json::json!({"sub": "admin", "exp": future}));
        assert_eq!(verify_jwt(&wrong, secrets), None);
        let expired = jwt("s3cret-key", &serde_json::json!({"sub": "admin", "exp": 1}));
        assert_eq!(verify_jwt(&expired, secrets), None);
        let unknown = jwt(
            "s3cret-key",
            &serde_json::json!({"sub": "nobody", "exp": future}),
        );
        assert_eq!(verify_jwt(&unknown, secrets), None);
        assert_eq!(verify_jwt("not.a.jwt", secrets), None);
    }
}
