//! The PostgreSQL schema and its versioned migrations.
//!
//! The layout mirrors the embedded store (see `sqlite.rs` and
//! docs/design.md): keys are `BYTEA` so that ordering is S3's byte order,
//! names that are listed in order are `COLLATE "C"`. Two differences, both
//! for many writers at once:
//! - usage counters are spread over [`USAGE_SHARDS`] rows per bucket, so
//!   concurrent uploads to one bucket do not queue on a single row lock;
//! - the quota lives on the bucket row.
//!
//! Only portable SQL is used (no stored procedures, advisory locks,
//! LISTEN/NOTIFY or `LOCK TABLE`), so that CockroachDB and YugabyteDB can
//! host the same schema.

use deadpool_postgres::GenericClient;

use crate::MetaError;

/// Rows each bucket's usage counters are spread over.
pub(super) const USAGE_SHARDS: i32 = 16;

/// Migrations in order; the schema version is the number applied. Never
/// edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the initial layout.
    r#"
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT COLLATE "C" PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    region TEXT NOT NULL,
    attrs BYTEA NOT NULL,
    quota BIGINT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    version_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms BIGINT NOT NULL,
    attrs BYTEA NOT NULL,
    inline BYTEA,
    blobs TEXT NOT NULL,
    delete_marker BOOLEAN NOT NULL,
    vseq BIGINT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    vseq BIGINT NOT NULL,
    version_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms BIGINT NOT NULL,
    attrs BYTEA NOT NULL,
    inline BYTEA,
    blobs TEXT NOT NULL,
    delete_marker BOOLEAN NOT NULL,
    noncurrent_ms BIGINT NOT NULL,
    PRIMARY KEY (bucket, key, vseq)
);
CREATE TABLE IF NOT EXISTS uploads (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    upload_id TEXT COLLATE "C" NOT NULL,
    initiated_ms BIGINT NOT NULL,
    attrs BYTEA NOT NULL,
    PRIMARY KEY (bucket, key, upload_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS uploads_by_id ON uploads (upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms BIGINT NOT NULL,
    blob TEXT NOT NULL,
    attrs BYTEA NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE IF NOT EXISTS usage_shards (
    bucket TEXT NOT NULL,
    shard INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    objects BIGINT NOT NULL,
    versions BIGINT NOT NULL,
    PRIMARY KEY (bucket, shard)
);
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,
    target TEXT NOT NULL,
    payload BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    key TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS garbage (
    blob TEXT PRIMARY KEY,
    since_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS garbage_by_age ON garbage (since_ms);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    endpoint TEXT NOT NULL,
    version TEXT NOT NULL,
    roles TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS generation (
    id INTEGER PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
"#,
];

/// The schema version this binary writes.
pub(super) const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the database to [`SCHEMA_VERSION`]. Several nodes may start at
/// once: every migration is idempotent and applied in a transaction with
/// its version bump, and the caller retries a migration that lost a race.
///
/// # Errors
/// The database refused a statement, or its schema is newer than this binary.
pub(super) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), MetaError> {
    client
        .batch_execute(
            "SET client_min_messages TO WARNING;
             CREATE TABLE IF NOT EXISTS almacen_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
             INSERT INTO almacen_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
        )
        .await
        .map_err(super::from_pg)?;
    loop {
        let tx = client.transaction().await.map_err(super::from_pg)?;
        let version: i32 = tx
            .query_one(
                "SELECT version FROM almacen_schema WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(super::from_pg)?;
        if version > SCHEMA_VERSION {
            return Err(MetaError::Corrupt(format!(
                "metadata schema version {version} is newer than this binary understands ({SCHEMA_VERSION})"
            )));
        }
        let Some(next) = MIGRATIONS.get(usize::try_from(version).unwrap_or(usize::MAX)) else {
            return Ok(());
        };
        tx.batch_execute(next).await.map_err(super::from_pg)?;
        tx.execute(
            "UPDATE almacen_schema SET version = $1 WHERE id = 1",
            &[&(version + 1)],
        )
        .await
        .map_err(super::from_pg)?;
        tx.commit().await.map_err(super::from_pg)?;
        tracing::info!(version = version + 1, "metadata schema migrated");
    }
}
