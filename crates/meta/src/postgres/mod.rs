//! The metadata store on PostgreSQL (or a PostgreSQL-compatible database),
//! shared by any number of stateless almacen nodes.
//!
//! Each [`commit`](MetaStore::commit) is one transaction on a pooled
//! connection; PostgreSQL's own group commit makes concurrent ones share
//! WAL flushes, and `synchronous_commit` (on by default; keep it on) makes
//! the answer durable. Ordering between writers is by row locks (see
//! `write.rs`); a transaction that loses a race (serialization failure,
//! deadlock, a duplicate key inserted meanwhile) is retried whole.
//!
//! Nothing is cached between requests: every node reads what the database
//! has, so a write through one node is read and listed through any other at
//! once. Clocks that matter across nodes (leases, garbage ages, node
//! heartbeats) are the database's.

mod read;
mod schema;
mod write;

use std::str::FromStr as _;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls};

use read::{OBJECT_COLS, db, get, object_from_row, query, query_opt, upload_from_row};

use crate::{
    BucketRow, BucketUsage, EventRow, ListPage, ListQuery, MetaError, MetaStore, NodeRow,
    ObjectRow, PartRow, UploadListPage, UploadListQuery, UploadRow, VersionListPage,
    VersionListQuery, WriteOp,
};

/// The database clock in milliseconds since the Unix epoch, as SQL.
pub(crate) const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// How many times a transaction that lost a race is tried again.
const MAX_ATTEMPTS: u32 = 30;

/// [`MetaStore`] on PostgreSQL; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// A PostgreSQL error as a store error: a lost or refused connection (a
/// database restarting, failing over or shutting down) is
/// [`MetaError::Unavailable`], which clients see as a 503 to retry; anything
/// else is [`MetaError::Database`].
pub(super) fn from_pg(e: tokio_postgres::Error) -> MetaError {
    let connection_lost = e.is_closed()
        || e.code().is_some_and(|c| {
            let class = &c.code()[..2];
            class == "08" || class == "57"
        })
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if connection_lost {
        MetaError::Unavailable(describe_pg(&e))
    } else {
        MetaError::Database(e)
    }
}

/// The whole story of a PostgreSQL error for the log: tokio-postgres's own
/// Display says only "db error" and hides the server's message.
pub(crate) fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// Whether a failed transaction lost a race and may simply be run again.
fn retryable(e: &MetaError) -> bool {
    if matches!(e, MetaError::Raced) {
        return true;
    }
    let MetaError::Database(e) = e else {
        return false;
    };
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq
    /// key=value string), with at most `pool_size` connections, and brings
    /// its schema up to date.
    ///
    /// # Errors
    /// The URL does not parse, the database cannot be reached within a few
    /// seconds, or its schema is newer than this binary.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, MetaError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| MetaError::Unavailable(format!("the metadata URL does not parse: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("almacen");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(15)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| MetaError::Unavailable(e.to_string()))?;
        let store = Self { pool };
        let mut attempt = 0u32;
        loop {
            let mut client = store.client().await?;
            match schema::migrate(&mut client).await {
                Err(e) if retryable(&e) && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                other => break other?,
            }
        }
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, MetaError> {
        self.pool.get().await.map_err(|e| match e {
            // Failing to connect at all is unavailability, whatever the reason.
            deadpool_postgres::PoolError::Backend(e) => MetaError::Unavailable(describe_pg(&e)),
            other => MetaError::Unavailable(other.to_string()),
        })
    }

    /// Runs `ops` in one transaction, again from the start while it loses races.
    async fn commit_with_retries(&self, ops: &[WriteOp]) -> Result<(), MetaError> {
        let mut attempt = 0u32;
        loop {
            let mut client = self.client().await?;
            let result = async {
                let tx = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::ReadCommitted)
                    .start()
                    .await
                    .map_err(db)?;
                let mut usage = write::UsageDeltas::default();
                for op in ops {
                    write::apply(&tx, &mut usage, op).await?;
                }
                usage.flush(&tx).await?;
                tx.commit().await.map_err(db)
            }
            .await;
            match result {
                Err(e) if retryable(&e) && attempt + 1 < MAX_ATTEMPTS => {
                    attempt += 1;
                    // Jittered, growing: racing nodes fall out of step.
                    let jitter: u64 = rand::random::<u64>() % 5;
                    let ms = (u64::from(attempt.min(10)) * 2) + jitter;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                other => return other,
            }
        }
    }
}

fn bucket_from_row(r: &tokio_postgres::Row) -> Result<BucketRow, MetaError> {
    Ok(BucketRow {
        name: get(r, 0)?,
        created_ms: get(r, 1)?,
        region: get(r, 2)?,
        attrs: get(r, 3)?,
    })
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl MetaStore for PgStore {
    async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), MetaError> {
        if ops.iter().all(|op| matches!(op, WriteOp::Notice { .. })) {
            return Ok(());
        }
        // On its own task: a request that goes away mid-commit must not
        // leave the outcome to a dropped future.
        let store = self.clone();
        tokio::spawn(async move { store.commit_with_retries(&ops).await })
            .await
            .map_err(|_| MetaError::WriterGone)?
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRow>, MetaError> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT name, created_ms, region, attrs FROM buckets WHERE name = $1",
            &[&name],
        )
        .await?
        .map(|r| bucket_from_row(&r))
        .transpose()
    }

    async fn due_events(&self, max: usize) -> Result<Vec<EventRow>, MetaError> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT seq, target, payload FROM events ORDER BY seq LIMIT $1",
            &[&limit(max)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(EventRow {
                seq: get(r, 0)?,
                target: get(r, 1)?,
                payload: get(r, 2)?,
            })
        })
        .collect()
    }

    async fn pending_events(&self) -> Result<Vec<(String, u64)>, MetaError> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT target, COUNT(*) FROM events GROUP BY target ORDER BY target",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, count(get(r, 1)?))))
        .collect()
    }

    async fn count_uploads(&self, bucket: &str) -> Result<u64, MetaError> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT COUNT(*) FROM uploads WHERE bucket = $1",
            &[&bucket],
        )
        .await?;
        Ok(r.map(|r| get::<i64>(&r, 0)).transpose()?.map_or(0, count))
    }

    async fn bucket_usage(&self, bucket: &str) -> Result<Option<BucketUsage>, MetaError> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT b.quota, COALESCE(SUM(u.bytes), 0)::BIGINT, COALESCE(SUM(u.objects), 0)::BIGINT,
                    COALESCE(SUM(u.versions), 0)::BIGINT
             FROM buckets b LEFT JOIN usage_shards u ON u.bucket = b.name
             WHERE b.name = $1 GROUP BY b.name, b.quota",
            &[&bucket],
        )
        .await?
        .map(|r| {
            Ok(BucketUsage {
                quota: get::<Option<i64>>(&r, 0)?.map(count),
                bytes: count(get(&r, 1)?),
                objects: count(get(&r, 2)?),
                versions: count(get(&r, 3)?),
            })
        })
        .transpose()
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRow>, MetaError> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT name, created_ms, region, attrs FROM buckets ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(bucket_from_row)
        .collect()
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>, MetaError> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = $1 AND key = $2"),
            &[&bucket, &key.as_bytes()],
        )
        .await?
        .map(|r| object_from_row(&r))
        .transpose()
    }

    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRow>, MetaError> {
        let c = self.client().await?;
        // Current first, then noncurrent: a version moves from one table
        // to the other only forwards, so this order cannot miss it.
        for table in ["objects", "versions"] {
            let found = query_opt(
                &c,
                &format!(
                    "SELECT {OBJECT_COLS} FROM {table} WHERE bucket = $1 AND key = $2 AND version_id = $3"
                ),
                &[&bucket, &key.as_bytes(), &version_id],
            )
            .await?;
            if let Some(r) = found {
                return object_from_row(&r).map(Some);
            }
        }
        Ok(None)
    }

    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> Result<VersionListPage, MetaError> {
        let c = self.client().await?;
        read::list_versions(&c, bucket, &query).await
    }

    async fn list_objects(&self, bucket: &str, query: ListQuery) -> Result<ListPage, MetaError> {
        let c = self.client().await?;
        read::list_objects(&c, bucket, &query).await
    }

    async fn get_upload(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRow>, MetaError> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT bucket, key, upload_id, initiated_ms, attrs FROM uploads WHERE upload_id = $1 AND bucket = $2",
            &[&upload_id, &bucket],
        )
        .await?
        .map(|r| upload_from_row(&r))
        .transpose()
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<Vec<PartRow>, MetaError> {
        let c = self.client().await?;
        let after = i32::try_from(after).unwrap_or(i32::MAX);
        query(
            &c,
            "SELECT upload_id, part_number, size, etag, mtime_ms, blob, attrs FROM parts
             WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3",
            &[&upload_id, &after, &limit(max)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(PartRow {
                upload_id: get(r, 0)?,
                part_number: u32::try_from(get::<i32>(r, 1)?).unwrap_or(0),
                size: count(get(r, 2)?),
                etag: get(r, 3)?,
                mtime_ms: get(r, 4)?,
                blob: get(r, 5)?,
                attrs: get(r, 6)?,
            })
        })
        .collect()
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> Result<UploadListPage, MetaError> {
        let c = self.client().await?;
        read::list_uploads(&c, bucket, &query).await
    }

    async fn garbage(&self, before_ms: i64, max: usize) -> Result<Vec<String>, MetaError> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT blob FROM garbage WHERE since_ms < $1 ORDER BY since_ms LIMIT $2",
            &[&before_ms, &limit(max)],
        )
        .await?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    async fn list_config(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        let c = self.client().await?;
        let mut out = Vec::new();
        for r in query(
            &c,
            "SELECT key, value FROM config WHERE key >= $1 ORDER BY key",
            &[&prefix],
        )
        .await?
        {
            let key: String = get(&r, 0)?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key, get(&r, 1)?));
        }
        Ok(out)
    }

    async fn ping(&self) -> Result<(), MetaError> {
        let c = self.client().await?;
        let r = query_opt(&c, "SELECT current_setting('transaction_read_only')", &[]).await?;
        match r.map(|r| get::<String>(&r, 0)).transpose()?.as_deref() {
            Some("off") => Ok(()),
            _ => Err(MetaError::Unavailable(
                "the metadata database is read-only (a standby?)".into(),
            )),
        }
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, MetaError> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            &format!(
                "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, {NOW_MS} + $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                 WHERE leases.holder = excluded.holder OR leases.expires_ms < {NOW_MS}
                 RETURNING holder"
            ),
            &[&name, &holder, &ttl_ms],
        )
        .await;
        match r {
            Ok(r) => Ok(r.is_some()),
            // Two first takers at once: the loser simply does not hold it.
            Err(e) if retryable(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn config_generation(&self) -> Result<i64, MetaError> {
        let c = self.client().await?;
        let r = query_opt(&c, "SELECT n FROM generation WHERE id = 1", &[]).await?;
        Ok(r.map(|r| get::<i64>(&r, 0)).transpose()?.unwrap_or(0))
    }

    async fn heartbeat(&self, node: &NodeRow) -> Result<(), MetaError> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "INSERT INTO nodes (id, endpoint, version, roles, started_ms, seen_ms) VALUES ($1, $2, $3, $4, $5, {NOW_MS})
                 ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, version = excluded.version,
                   roles = excluded.roles, started_ms = excluded.started_ms, seen_ms = excluded.seen_ms"
            ),
            &[&node.id, &node.endpoint, &node.version, &node.roles, &node.started_ms],
        )
        .await?;
        Ok(())
    }

    async fn nodes(&self, within_ms: i64) -> Result<Vec<NodeRow>, MetaError> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT id, endpoint, version, roles, started_ms, seen_ms, {NOW_MS} FROM nodes
                 WHERE seen_ms > {NOW_MS} - $1 ORDER BY id"
            ),
            &[&within_ms],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(NodeRow {
                id: get(r, 0)?,
                endpoint: get(r, 1)?,
                version: get(r, 2)?,
                roles: get(r, 3)?,
                started_ms: get(r, 4)?,
                seen_ms: get(r, 5)?,
                now_ms: get(r, 6)?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::conformance::{self, obj};
    use crate::{Condition, MetaStore};

    /// A fresh database on the server named by `ALMACEN_TEST_PG_URL`
    /// (required in CI; elsewhere these tests are skipped without it).
    async fn fresh_url() -> Option<String> {
        let Ok(base) = std::env::var("ALMACEN_TEST_PG_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set ALMACEN_TEST_PG_URL (see .ci/run)"
            );
            eprintln!("ALMACEN_TEST_PG_URL is not set: PostgreSQL tests skipped");
            return None;
        };
        let (client, conn) = tokio_postgres::connect(&base, NoTls).await.unwrap();
        tokio::spawn(conn);
        let name = format!("almacen_t_{}", rand::random::<u64>());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (head, _) = base.rsplit_once('/').expect("a URL ending in /database");
        Some(format!("{head}/{name}"))
    }

    async fn store(url: &str) -> Arc<dyn MetaStore> {
        Arc::new(PgStore::connect(url, 8).await.unwrap())
    }

    fn bucket(name: &str) -> WriteOp {
        WriteOp::CreateBucket(BucketRow {
            name: name.into(),
            created_ms: 0,
            region: "r".into(),
            attrs: vec![],
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_suite() {
        let Some(url) = fresh_url().await else { return };
        conformance::versions_markers_and_promotion(store(&url).await).await;
        let url = fresh_url().await.unwrap();
        conformance::delimiter_listing_seeks_past_prefixes(store(&url).await).await;
        let url = fresh_url().await.unwrap();
        conformance::failed_condition_does_not_undo_neighbours(store(&url).await).await;
    }

    /// Two nodes (two pools) race `If-None-Match: *` writes to the same
    /// keys: exactly one of each pair wins, the other is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conditional_writes_from_two_nodes_let_one_win() {
        let Some(url) = fresh_url().await else { return };
        let (a, b) = (store(&url).await, store(&url).await);
        a.commit(vec![bucket("b")]).await.unwrap();
        for i in 0..20 {
            let key = format!("k{i}");
            let put = |s: Arc<dyn MetaStore>, key: String| async move {
                s.commit(vec![WriteOp::PutObject {
                    row: obj("b", &key),
                    condition: Some(Condition::IfNoneMatchAny),
                }])
                .await
            };
            let (ra, rb) = tokio::join!(
                tokio::spawn(put(a.clone(), key.clone())),
                tokio::spawn(put(b.clone(), key.clone()))
            );
            let results = [ra.unwrap(), rb.unwrap()];
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{key}: {results:?}");
            assert!(
                results
                    .iter()
                    .any(|r| matches!(r, Err(MetaError::PreconditionFailed))),
                "{results:?}"
            );
        }
        let usage = b.bucket_usage("b").await.unwrap().unwrap();
        assert_eq!((usage.objects, usage.versions, usage.bytes), (20, 20, 20));
    }

    /// Concurrent overwrites from two nodes keep the usage counters exact
    /// and release every replaced row's blob.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_overwrites_keep_counters_exact() {
        let Some(url) = fresh_url().await else { return };
        let (a, b) = (store(&url).await, store(&url).await);
        a.commit(vec![bucket("b")]).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..64 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let mut row = obj("b", &format!("k{}", i % 8));
                row.size = 10;
                row.blobs = vec![format!("blob-{i}")];
                s.commit(vec![WriteOp::PutObject {
                    row,
                    condition: None,
                }])
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let usage = a.bucket_usage("b").await.unwrap().unwrap();
        assert_eq!((usage.objects, usage.versions, usage.bytes), (8, 8, 80));
        assert_eq!(a.garbage(i64::MAX, 1000).await.unwrap().len(), 64 - 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leases_pass_on_when_they_expire() {
        let Some(url) = fresh_url().await else { return };
        let s = store(&url).await;
        assert!(s.lease("bg", "node-a", 300).await.unwrap());
        assert!(s.lease("bg", "node-a", 300).await.unwrap(), "renewal");
        assert!(!s.lease("bg", "node-b", 300).await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(s.lease("bg", "node-b", 300).await.unwrap(), "takeover");
        assert!(!s.lease("bg", "node-a", 300).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn config_changes_bump_the_generation_and_buckets_cas() {
        let Some(url) = fresh_url().await else { return };
        let s = store(&url).await;
        let g0 = s.config_generation().await.unwrap();
        s.commit(vec![WriteOp::PutConfig {
            key: "iam/users/x".into(),
            value: b"{}".to_vec(),
        }])
        .await
        .unwrap();
        assert!(s.config_generation().await.unwrap() > g0);
        s.commit(vec![bucket("b")]).await.unwrap();
        let set = |expected: Option<&[u8]>| WriteOp::SetBucketAttrs {
            name: "b".into(),
            attrs: b"new".to_vec(),
            expected: expected.map(<[u8]>::to_vec),
        };
        assert!(matches!(
            s.commit(vec![set(Some(b"stale"))]).await,
            Err(MetaError::ConditionalConflict)
        ));
        s.commit(vec![set(Some(b""))]).await.unwrap();
        assert_eq!(s.get_bucket("b").await.unwrap().unwrap().attrs, b"new");
        let node = NodeRow {
            id: "n1".into(),
            endpoint: "http://127.0.0.1:1".into(),
            version: "0".into(),
            roles: String::new(),
            started_ms: 1,
            seen_ms: 0,
            now_ms: 0,
        };
        s.heartbeat(&node).await.unwrap();
        let nodes = s.nodes(60_000).await.unwrap();
        assert_eq!(nodes.len(), 1);
        assert!(nodes[0].now_ms >= nodes[0].seen_ms);
    }
}
