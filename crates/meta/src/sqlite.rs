//! The embedded metadata store: SQLite in WAL mode with `synchronous=FULL`.
//!
//! Writes: one writer thread owns the only writing connection. Callers send
//! their batches over a channel; the thread takes every batch that is
//! waiting, applies each inside its own savepoint (so one failed precondition
//! does not undo its neighbours), commits them all in one transaction — one
//! fsync — and answers each caller. While one commit syncs, the next batches
//! queue up, so throughput grows with concurrency instead of being capped at
//! one fsync per request.
//!
//! Reads: a small pool of read-only connections used from blocking threads;
//! WAL lets them read the last committed state while the writer works.
//!
//! Layout (see docs/design.md): keys are stored as BLOBs so that SQLite's
//! memcmp ordering is S3's byte order; every table is `WITHOUT ROWID` keyed
//! by what it is listed by.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::bucket_cache::{BucketCache, changes_quota, changes_row};
use crate::seek::{ObjectSeek, UploadSeek, VersionSeek};
use crate::{
    BucketRow, BucketUsage, Condition, EventRow, ListPage, ListQuery, MetaError, MetaStore,
    ObjectRow, PartRow, UploadListPage, UploadListQuery, UploadRow, VersionListPage,
    VersionListQuery, WriteOp,
};

const SCHEMA_VERSION: i64 = 2;
const READERS: usize = 4;
const MAX_BATCH: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    region TEXT NOT NULL,
    attrs BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    version_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    attrs BLOB NOT NULL,
    inline BLOB,
    blobs TEXT NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0,
    vseq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    vseq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    attrs BLOB NOT NULL,
    inline BLOB,
    blobs TEXT NOT NULL,
    delete_marker INTEGER NOT NULL,
    noncurrent_ms INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, vseq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    upload_id TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    attrs BLOB NOT NULL,
    PRIMARY KEY (bucket, key, upload_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS uploads_by_id ON uploads (upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    blob TEXT NOT NULL,
    attrs BLOB NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_usage (
    bucket TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    objects INTEGER NOT NULL,
    versions INTEGER NOT NULL,
    quota INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS garbage (
    blob TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

struct Job {
    ops: Vec<WriteOp>,
    reply: oneshot::Sender<Result<(), MetaError>>,
}

/// SQLite-backed [`MetaStore`]; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<mpsc::Sender<Job>>,
    /// Bucket rows and quotas, read on every request (see bucket_cache.rs);
    /// the writer thread empties them after each commit that changes one.
    caches: Arc<Caches>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

/// What the writer thread keeps coherent.
struct Caches {
    rows: BucketCache<Option<BucketRow>>,
    quotas: BucketCache<Option<Option<u64>>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn open_conn(path: &Path, read_only: bool) -> Result<Connection, MetaError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    // Plans must not depend on bound values: otherwise SQLite re-prepares a
    // cached statement whenever a value it peeked at changes (a `LIMIT ?`,
    // a key range under STAT4), which cost a full parse per common prefix
    // in delimiter listings (most of the time of such a page, by perf).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and starts its writer thread.
    ///
    /// # Errors
    /// The file cannot be opened, is not a database, or has a newer schema.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        let conn = open_conn(path, false)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(MetaError::Corrupt(format!(
                "cannot enable WAL (journal_mode={mode})"
            )));
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 1 {
            // Version 2 adds versioning: two columns on objects, and the
            // versions table (created by SCHEMA below).
            conn.execute_batch(
                "BEGIN;
                 ALTER TABLE objects ADD COLUMN delete_marker INTEGER NOT NULL DEFAULT 0;
                 ALTER TABLE objects ADD COLUMN vseq INTEGER NOT NULL DEFAULT 0;
                 PRAGMA user_version = 2;
                 COMMIT;",
            )?;
        }
        conn.execute_batch(SCHEMA)?;
        // Usage counters for buckets that have none yet (stores written
        // before the counters existed): one scan, once.
        conn.execute_batch(
            "INSERT INTO bucket_usage (bucket, bytes, objects, versions)
             SELECT b.name,
               (SELECT COALESCE(SUM(size), 0) FROM objects o WHERE o.bucket = b.name)
                 + (SELECT COALESCE(SUM(size), 0) FROM versions v WHERE v.bucket = b.name),
               (SELECT COUNT(*) FROM objects o WHERE o.bucket = b.name AND o.delete_marker = 0),
               (SELECT COUNT(*) FROM objects o WHERE o.bucket = b.name)
                 + (SELECT COUNT(*) FROM versions v WHERE v.bucket = b.name)
             FROM buckets b
             WHERE NOT EXISTS (SELECT 1 FROM bucket_usage u WHERE u.bucket = b.name);",
        )?;
        if version == 0 {
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        } else if version > SCHEMA_VERSION {
            return Err(MetaError::Corrupt(format!(
                "metadata schema version {version} is newer than this binary understands ({SCHEMA_VERSION})"
            )));
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_conn(path, true)?);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let caches = Arc::new(Caches {
            rows: BucketCache::new(changes_row),
            quotas: BucketCache::new(changes_quota),
        });
        let cache = caches.clone();
        std::thread::Builder::new()
            .name("meta-writer".into())
            .spawn(move || writer_loop(conn, &rx, &cache))
            .map_err(|e| MetaError::Corrupt(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(tx),
                caches,
                readers: Mutex::new(readers),
                path: path.to_path_buf(),
            }),
        })
    }

    /// A bucket row straight from SQLite.
    async fn get_bucket_uncached(&self, name: String) -> Result<Option<BucketRow>, MetaError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT name, created_ms, region, attrs FROM buckets WHERE name = ?1",
            )?
            .query_row([name], |r| {
                Ok(BucketRow {
                    name: r.get(0)?,
                    created_ms: r.get(1)?,
                    region: r.get(2)?,
                    attrs: r.get(3)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, MetaError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map_err(|_| MetaError::WriterGone)?
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_conn(&inner.path, true)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < READERS
            {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|_| MetaError::WriterGone)?
    }
}

fn writer_loop(mut conn: Connection, rx: &mpsc::Receiver<Job>, caches: &Caches) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = commit_batch(&mut conn, &batch);
        // Before anyone hears of the commit, even a caller that went away.
        for job in &batch {
            caches.rows.committed(&job.ops);
            caches.quotas.committed(&job.ops);
        }
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

fn commit_batch(conn: &mut Connection, batch: &[Job]) -> Vec<Result<(), MetaError>> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            return batch
                .iter()
                .map(|_| Err(MetaError::Storage(clone_err(&e))))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let result = (|| {
            let sp = tx.savepoint()?;
            for op in &job.ops {
                apply(&sp, op)?;
            }
            sp.commit()?;
            Ok(())
        })();
        results.push(result);
    }
    if let Err(e) = tx.commit() {
        tracing::error!(error = %e, "metadata commit failed");
        return batch
            .iter()
            .map(|_| Err(MetaError::Storage(clone_err(&e))))
            .collect();
    }
    results
}

fn clone_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::ToSqlConversionFailure(other.to_string().into()),
    }
}

fn bucket_exists(tx: &Connection, name: &str) -> Result<bool, MetaError> {
    Ok(tx
        .query_row("SELECT 1 FROM buckets WHERE name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn release(tx: &Connection, blobs: &str) -> Result<(), MetaError> {
    let now = now_ms();
    for blob in blobs.split('\n').filter(|b| !b.is_empty()) {
        tx.execute(
            "INSERT OR IGNORE INTO garbage (blob, since_ms) VALUES (?1, ?2)",
            params![blob, now],
        )?;
    }
    Ok(())
}

fn check_condition(
    tx: &Connection,
    bucket: &str,
    key: &str,
    cond: Option<&Condition>,
) -> Result<(), MetaError> {
    let Some(cond) = cond else { return Ok(()) };
    let current: Option<String> = tx
        .query_row(
            "SELECT etag FROM objects WHERE bucket = ?1 AND key = ?2 AND delete_marker = 0",
            params![bucket, key.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    holds(cond, current.as_deref())
}

/// Whether `cond` holds for the current ETag (`None`: no current object).
pub(crate) fn holds(cond: &Condition, current: Option<&str>) -> Result<(), MetaError> {
    match (cond, current) {
        (Condition::All(all), _) => all.iter().try_for_each(|c| holds(c, current)),
        (Condition::IfNoneMatchAny, None) => Ok(()),
        (Condition::IfNoneMatchAny, Some(_)) => Err(MetaError::PreconditionFailed),
        (Condition::IfMatch(_), None) => Err(MetaError::NoSuchKey),
        (Condition::IfMatch(want), Some(etag)) if want == "*" || want == etag => Ok(()),
        (Condition::IfMatch(_), Some(_)) => Err(MetaError::PreconditionFailed),
        (Condition::IfNoneMatch(want), Some(etag)) if want == etag => {
            Err(MetaError::PreconditionFailed)
        }
        (Condition::IfNoneMatch(_), _) => Ok(()),
    }
}

/// Adjusts the bucket's usage counters.
fn usage_add(
    tx: &Connection,
    bucket: &str,
    bytes: i64,
    objects: i64,
    versions: i64,
) -> Result<(), MetaError> {
    tx.prepare_cached(
        "UPDATE bucket_usage SET bytes = bytes + ?2, objects = objects + ?3, versions = versions + ?4 WHERE bucket = ?1",
    )?
    .execute(params![bucket, bytes, objects, versions])?;
    Ok(())
}

/// Moves the current version of `key` to the noncurrent versions.
fn make_noncurrent(tx: &Connection, bucket: &str, key: &str) -> Result<(), MetaError> {
    let was_object: Option<bool> = tx
        .query_row(
            "SELECT delete_marker = 0 FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    if was_object == Some(true) {
        usage_add(tx, bucket, 0, -1, 0)?;
    }
    tx.execute(
        "INSERT INTO versions (bucket, key, vseq, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, noncurrent_ms)
         SELECT bucket, key, vseq, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, ?3
         FROM objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key.as_bytes(), now_ms()],
    )?;
    tx.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key.as_bytes()],
    )?;
    Ok(())
}

/// Removes noncurrent versions with this version id, releasing their blobs.
fn drop_noncurrent(
    tx: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<bool, MetaError> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 RETURNING blobs, size",
    )?;
    let gone: Vec<(String, i64)> = stmt
        .query_map(params![bucket, key.as_bytes(), version_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (blobs, size) in &gone {
        release(tx, blobs)?;
        usage_add(tx, bucket, -*size, 0, -1)?;
    }
    Ok(!gone.is_empty())
}

/// Makes the newest noncurrent version of `key` (if any) the current one.
fn promote_newest(tx: &Connection, bucket: &str, key: &str) -> Result<(), MetaError> {
    let vseq: Option<i64> = tx
        .query_row(
            "SELECT vseq FROM versions WHERE bucket = ?1 AND key = ?2 ORDER BY vseq DESC LIMIT 1",
            params![bucket, key.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(vseq) = vseq {
        let is_object: bool = tx.query_row(
            "SELECT delete_marker = 0 FROM versions WHERE bucket = ?1 AND key = ?2 AND vseq = ?3",
            params![bucket, key.as_bytes(), vseq],
            |r| r.get(0),
        )?;
        if is_object {
            usage_add(tx, bucket, 0, 1, 0)?;
        }
        tx.execute(
            "INSERT INTO objects (bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq)
             SELECT bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq
             FROM versions WHERE bucket = ?1 AND key = ?2 AND vseq = ?3",
            params![bucket, key.as_bytes(), vseq],
        )?;
        tx.execute(
            "DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND vseq = ?3",
            params![bucket, key.as_bytes(), vseq],
        )?;
    }
    Ok(())
}

/// Writes `row` as the new current version (see [`WriteOp::PutObject`]).
fn put_object_row(tx: &Connection, row: &ObjectRow) -> Result<(), MetaError> {
    let current: Option<(String, i64, String, i64, bool)> = tx
        .query_row(
            "SELECT version_id, vseq, blobs, size, delete_marker FROM objects WHERE bucket = ?1 AND key = ?2",
            params![row.bucket, row.key.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let vseq = current.as_ref().map_or(1, |(_, v, ..)| v + 1);
    let unversioned = row.version_id == NULL_VERSION;
    match &current {
        Some((vid, _, blobs, size, marker)) if unversioned && vid == NULL_VERSION => {
            release(tx, blobs)?;
            usage_add(tx, &row.bucket, -size, -i64::from(!*marker), -1)?;
            tx.execute(
                "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                params![row.bucket, row.key.as_bytes()],
            )?;
        }
        Some(_) => make_noncurrent(tx, &row.bucket, &row.key)?,
        None => {}
    }
    if unversioned {
        drop_noncurrent(tx, &row.bucket, &row.key, NULL_VERSION)?;
    }
    let size = i64::try_from(row.size).unwrap_or(i64::MAX);
    if !row.delete_marker {
        let (bytes, quota): (i64, Option<i64>) = tx
            .prepare_cached("SELECT bytes, quota FROM bucket_usage WHERE bucket = ?1")?
            .query_row([&row.bucket], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, None));
        if quota.is_some_and(|q| bytes.saturating_add(size) > q) {
            return Err(MetaError::QuotaExceeded);
        }
    }
    usage_add(tx, &row.bucket, size, i64::from(!row.delete_marker), 1)?;
    tx.execute(
        "INSERT INTO objects (bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            row.bucket,
            row.key.as_bytes(),
            row.version_id,
            i64::try_from(row.size).unwrap_or(i64::MAX),
            row.etag,
            row.mtime_ms,
            row.attrs,
            row.inline,
            row.blobs.join("\n"),
            row.delete_marker,
            vseq,
        ],
    )?;
    Ok(())
}

/// Deletes one version; see [`WriteOp::DeleteVersion`].
fn delete_version(
    tx: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<(), MetaError> {
    let current: Option<(String, i64, bool)> = tx
        .query_row(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 RETURNING blobs, size, delete_marker",
            params![bucket, key.as_bytes(), version_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match current {
        Some((blobs, size, marker)) => {
            release(tx, &blobs)?;
            usage_add(tx, bucket, -size, -i64::from(!marker), -1)?;
            promote_newest(tx, bucket, key)?;
        }
        None => {
            drop_noncurrent(tx, bucket, key, version_id)?;
        }
    }
    Ok(())
}

/// Deletes the current version without naming one; see [`WriteOp::DeleteObject`].
fn delete_current(
    tx: &Connection,
    bucket: &str,
    key: &str,
    marker: Option<&ObjectRow>,
) -> Result<(), MetaError> {
    match marker {
        Some(m) => put_object_row(tx, m),
        None => {
            let old: Option<(String, i64, bool)> = tx
                .query_row(
                    "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING blobs, size, delete_marker",
                    params![bucket, key.as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((old, size, marker)) = old {
                release(tx, &old)?;
                usage_add(tx, bucket, -size, -i64::from(!marker), -1)?;
            }
            Ok(())
        }
    }
}

fn apply(tx: &Connection, op: &WriteOp) -> Result<(), MetaError> {
    match op {
        WriteOp::CreateBucket(b) => {
            if bucket_exists(tx, &b.name)? {
                return Err(MetaError::BucketExists);
            }
            tx.execute(
                "INSERT INTO buckets (name, created_ms, region, attrs) VALUES (?1, ?2, ?3, ?4)",
                params![b.name, b.created_ms, b.region, b.attrs],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO bucket_usage (bucket, bytes, objects, versions) VALUES (?1, 0, 0, 0)",
                [&b.name],
            )?;
        }
        WriteOp::SetBucketAttrs {
            name,
            attrs,
            expected,
        } => {
            let n = tx.execute(
                "UPDATE buckets SET attrs = ?2 WHERE name = ?1 AND (?3 IS NULL OR attrs = ?3)",
                params![name, attrs, expected],
            )?;
            if n == 0 {
                return Err(if bucket_exists(tx, name)? {
                    MetaError::ConditionalConflict
                } else {
                    MetaError::NoSuchBucket
                });
            }
        }
        WriteOp::DeleteBucket { name } => {
            if !bucket_exists(tx, name)? {
                return Err(MetaError::NoSuchBucket);
            }
            let busy = tx
                .query_row(
                    "SELECT 1 FROM objects WHERE bucket = ?1 UNION ALL SELECT 1 FROM versions WHERE bucket = ?1
                     UNION ALL SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1",
                    [name],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if busy {
                return Err(MetaError::BucketNotEmpty);
            }
            tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM bucket_usage WHERE bucket = ?1", [name])?;
        }
        WriteOp::PutObject { row, condition } => {
            if !bucket_exists(tx, &row.bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            check_condition(tx, &row.bucket, &row.key, condition.as_ref())?;
            put_object_row(tx, row)?;
        }
        WriteOp::SetObjectAttrs {
            bucket,
            key,
            version_id,
            etag,
            mtime_ms,
            old_attrs,
            attrs,
        } => {
            let mut n = tx.execute(
                "UPDATE objects SET attrs = ?6 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 AND etag = ?4 AND mtime_ms = ?5 AND attrs = ?7",
                params![bucket, key.as_bytes(), version_id, etag, mtime_ms, attrs, old_attrs],
            )?;
            if n == 0 {
                n = tx.execute(
                    "UPDATE versions SET attrs = ?6 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 AND etag = ?4 AND mtime_ms = ?5 AND attrs = ?7",
                    params![bucket, key.as_bytes(), version_id, etag, mtime_ms, attrs, old_attrs],
                )?;
            }
            if n == 0 {
                return Err(MetaError::ConditionalConflict);
            }
        }
        WriteOp::DeleteObject {
            bucket,
            key,
            marker,
        } => {
            if !bucket_exists(tx, bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            delete_current(tx, bucket, key, marker.as_ref())?;
        }
        WriteOp::DeleteVersion {
            bucket,
            key,
            version_id,
        } => {
            if !bucket_exists(tx, bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            delete_version(tx, bucket, key, version_id)?;
        }
        WriteOp::CreateUpload(u) => {
            if !bucket_exists(tx, &u.bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            tx.execute(
                "INSERT INTO uploads (bucket, key, upload_id, initiated_ms, attrs) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.bucket, u.key.as_bytes(), u.upload_id, u.initiated_ms, u.attrs],
            )?;
        }
        WriteOp::PutPart { bucket, row } => {
            let owner: Option<String> = tx
                .query_row(
                    "SELECT bucket FROM uploads WHERE upload_id = ?1",
                    [&row.upload_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.as_deref() != Some(bucket.as_str()) {
                return Err(MetaError::NoSuchUpload);
            }
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2",
                    params![row.upload_id, row.part_number],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(old) = old {
                release(tx, &old)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, mtime_ms, blob, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    row.upload_id,
                    row.part_number,
                    i64::try_from(row.size).unwrap_or(i64::MAX),
                    row.etag,
                    row.mtime_ms,
                    row.blob,
                    row.attrs
                ],
            )?;
        }
        WriteOp::CompleteUpload {
            upload_id,
            row,
            used,
            condition,
        } => {
            let owner: Option<(String, Vec<u8>)> = tx
                .query_row(
                    "SELECT bucket, key FROM uploads WHERE upload_id = ?1",
                    [upload_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if owner.as_ref() != Some(&(row.bucket.clone(), row.key.as_bytes().to_vec())) {
                return Err(MetaError::NoSuchUpload);
            }
            check_condition(tx, &row.bucket, &row.key, condition.as_ref())?;
            let mut stmt =
                tx.prepare_cached("SELECT part_number, blob FROM parts WHERE upload_id = ?1")?;
            let parts: Vec<(u32, String)> = stmt
                .query_map([upload_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            for (number, blob) in used {
                if !parts.iter().any(|(n, b)| n == number && b == blob) {
                    return Err(MetaError::InvalidPart(*number));
                }
            }
            for (number, blob) in &parts {
                if !used.iter().any(|(n, _)| n == number) {
                    release(tx, blob)?;
                }
            }
            tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
            put_object_row(tx, row)?;
        }
        WriteOp::AbortUpload { bucket, upload_id } => {
            let owner: Option<String> = tx
                .query_row(
                    "SELECT bucket FROM uploads WHERE upload_id = ?1",
                    [upload_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.as_deref() != Some(bucket.as_str()) {
                return Err(MetaError::NoSuchUpload);
            }
            let mut stmt =
                tx.prepare_cached("DELETE FROM parts WHERE upload_id = ?1 RETURNING blob")?;
            let blobs: Vec<String> = stmt
                .query_map([upload_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            for blob in blobs {
                release(tx, &blob)?;
            }
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
        }
        WriteOp::ForgetGarbage(blobs) => {
            for blob in blobs {
                tx.execute("DELETE FROM garbage WHERE blob = ?1", [blob])?;
            }
        }
        WriteOp::ExpireObject {
            bucket,
            key,
            etag,
            mtime_ms,
            marker,
            events,
        } => {
            let still_there = tx
                .query_row(
                    "SELECT 1 FROM objects WHERE bucket = ?1 AND key = ?2 AND etag = ?3 AND mtime_ms = ?4 AND delete_marker = 0",
                    params![bucket, key.as_bytes(), etag, mtime_ms],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if still_there {
                delete_current(tx, bucket, key, marker.as_ref())?;
                for (target, payload) in events {
                    tx.prepare_cached("INSERT INTO events (target, payload) VALUES (?1, ?2)")?
                        .execute(params![target, payload])?;
                }
            }
        }
        WriteOp::QueueEvent { target, payload } => {
            tx.prepare_cached("INSERT INTO events (target, payload) VALUES (?1, ?2)")?
                .execute(params![target, payload])?;
        }
        WriteOp::DeleteEvent { seq } => {
            tx.execute("DELETE FROM events WHERE seq = ?1", [seq])?;
        }
        WriteOp::SetBucketQuota { bucket, quota } => {
            let n = tx.execute(
                "UPDATE bucket_usage SET quota = ?2 WHERE bucket = ?1",
                params![bucket, quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX))],
            )?;
            if n == 0 {
                return Err(MetaError::NoSuchBucket);
            }
        }
        WriteOp::PutConfig { key, value } => {
            tx.execute(
                "INSERT INTO config (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        WriteOp::DeleteConfig { key } => {
            tx.execute("DELETE FROM config WHERE key = ?1", [key])?;
        }
        WriteOp::Notice { .. } => {}
    }
    Ok(())
}

fn object_from_row(r: &rusqlite::Row<'_>, with_inline: bool) -> rusqlite::Result<ObjectRow> {
    let key: Vec<u8> = r.get(1)?;
    let blobs: String = r.get(8)?;
    let size: i64 = r.get(3)?;
    Ok(ObjectRow {
        bucket: r.get(0)?,
        key: String::from_utf8(key).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, Box::new(e))
        })?,
        version_id: r.get(2)?,
        size: u64::try_from(size).unwrap_or(0),
        etag: r.get(4)?,
        mtime_ms: r.get(5)?,
        attrs: r.get(6)?,
        inline: if with_inline { r.get(7)? } else { None },
        delete_marker: r.get(9)?,
        blobs: blobs
            .split('\n')
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

const OBJECT_COLS: &str =
    "bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker";

/// The version id of the version written while versioning is off or suspended.
const NULL_VERSION: &str = "null";

fn upload_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRow> {
    let key: Vec<u8> = r.get(1)?;
    Ok(UploadRow {
        bucket: r.get(0)?,
        key: String::from_utf8(key).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, Box::new(e))
        })?,
        upload_id: r.get(2)?,
        initiated_ms: r.get(3)?,
        attrs: r.get(4)?,
    })
}

/// One page of objects; the algorithm is [`ObjectSeek`]'s.
fn list_objects_sync(
    conn: &Connection,
    bucket: &str,
    q: &ListQuery,
) -> Result<ListPage, MetaError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3) AND delete_marker = 0 ORDER BY key LIMIT ?4"
    ))?;
    let mut seek = ObjectSeek::new(q);
    while let Some(b) = seek.next_batch() {
        let limit = i64::try_from(b.limit).unwrap_or(1000);
        let mut rows = stmt.query(params![bucket, b.lo, b.upper, limit])?;
        while let Some(r) = rows.next()? {
            if !seek.feed(object_from_row(r, false)?) {
                break;
            }
        }
        seek.end_batch();
    }
    Ok(seek.finish())
}

/// One page of versions; the algorithm is [`VersionSeek`]'s.
fn list_versions_sync(
    conn: &Connection,
    bucket: &str,
    q: &VersionListQuery,
) -> Result<VersionListPage, MetaError> {
    let mut keys = conn.prepare_cached(&format!(
        "SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3) ORDER BY key LIMIT 1"
    ))?;
    let mut older = conn.prepare_cached(
        "SELECT bucket, key, version_id, size, etag, mtime_ms, attrs, NULL, blobs, delete_marker
         FROM versions WHERE bucket = ?1 AND key = ?2 ORDER BY vseq DESC",
    )?;
    let mut seek = VersionSeek::new(q);
    while let Some(b) = seek.next_key() {
        let current = keys
            .query_row(params![bucket, b.lo, b.upper], |r| {
                object_from_row(r, false)
            })
            .optional()?;
        let Some(current) = seek.found(current) else {
            continue;
        };
        let rows = older.query_map(params![bucket, current.key.as_bytes()], |r| {
            object_from_row(r, false)
        })?;
        let older = rows.collect::<Result<Vec<_>, _>>()?;
        seek.versions(current, older);
    }
    Ok(seek.finish())
}

/// One page of multipart uploads; the algorithm is [`UploadSeek`]'s.
fn list_uploads_sync(
    conn: &Connection,
    bucket: &str,
    q: &UploadListQuery,
) -> Result<UploadListPage, MetaError> {
    let mut stmt = conn.prepare_cached(
        "SELECT bucket, key, upload_id, initiated_ms, attrs FROM uploads
         WHERE bucket = ?1 AND (key > ?2 OR (key = ?2 AND upload_id > ?3)) AND (?4 IS NULL OR key < ?4)
         ORDER BY key, upload_id LIMIT 1000",
    )?;
    let mut seek = UploadSeek::new(q);
    while let Some(b) = seek.next_batch() {
        let mut rows = stmt.query(params![bucket, b.lo_key, b.lo_id, b.upper])?;
        while let Some(r) = rows.next()? {
            if !seek.feed(upload_from_row(r)?) {
                break;
            }
        }
        seek.end_batch();
    }
    Ok(seek.finish())
}

#[async_trait::async_trait]
impl MetaStore for SqliteStore {
    async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), MetaError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .writer
            .lock()
            .map_err(|_| MetaError::WriterGone)?
            .send(Job { ops, reply })
            .map_err(|_| MetaError::WriterGone)?;
        rx.await.map_err(|_| MetaError::WriterGone)?
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRow>, MetaError> {
        let (cached, generation) = self.inner.caches.rows.get(name);
        if let Some(row) = cached {
            return Ok(row);
        }
        let row = self.get_bucket_uncached(name.to_owned()).await?;
        self.inner.caches.rows.insert(name, row.clone(), generation);
        Ok(row)
    }

    async fn bucket_quota(&self, bucket: &str) -> Result<Option<Option<u64>>, MetaError> {
        let (cached, generation) = self.inner.caches.quotas.get(bucket);
        if let Some(quota) = cached {
            return Ok(quota);
        }
        let quota = self.bucket_usage(bucket).await?.map(|u| u.quota);
        self.inner.caches.quotas.insert(bucket, quota, generation);
        Ok(quota)
    }

    async fn due_events(&self, max: usize) -> Result<Vec<EventRow>, MetaError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT seq, target, payload FROM events ORDER BY seq LIMIT ?1")?;
            let rows = stmt
                .query_map([i64::try_from(max).unwrap_or(1000)], |r| {
                    Ok(EventRow {
                        seq: r.get(0)?,
                        target: r.get(1)?,
                        payload: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn pending_events(&self) -> Result<Vec<(String, u64)>, MetaError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT target, COUNT(*) FROM events GROUP BY target ORDER BY target",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    ))
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn count_uploads(&self, bucket: &str) -> Result<u64, MetaError> {
        let bucket = bucket.to_owned();
        self.read(move |c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM uploads WHERE bucket = ?1")?
                .query_row([&bucket], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn bucket_usage(&self, bucket: &str) -> Result<Option<BucketUsage>, MetaError> {
        let bucket = bucket.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT bytes, objects, versions, quota FROM bucket_usage WHERE bucket = ?1",
            )?
            .query_row([&bucket], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
                Ok(BucketUsage {
                    bytes: n(0)?,
                    objects: n(1)?,
                    versions: n(2)?,
                    quota: r
                        .get::<_, Option<i64>>(3)?
                        .map(|q| u64::try_from(q).unwrap_or(0)),
                })
            })
            .optional()?)
        })
        .await
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRow>, MetaError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, created_ms, region, attrs FROM buckets ORDER BY name",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(BucketRow {
                        name: r.get(0)?,
                        created_ms: r.get(1)?,
                        region: r.get(2)?,
                        attrs: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>, MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |c| {
            let sql = format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2");
            Ok(c.prepare_cached(&sql)?
                .query_row(params![bucket, key.as_bytes()], |r| {
                    object_from_row(r, true)
                })
                .optional()?)
        })
        .await
    }

    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRow>, MetaError> {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        self.read(move |c| {
            let current = c
                .prepare_cached(&format!(
                    "SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
                ))?
                .query_row(params![bucket, key.as_bytes(), version_id], |r| {
                    object_from_row(r, true)
                })
                .optional()?;
            if current.is_some() {
                return Ok(current);
            }
            Ok(c.prepare_cached(
                "SELECT bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker
                 FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
            )?
            .query_row(params![bucket, key.as_bytes(), version_id], |r| {
                object_from_row(r, true)
            })
            .optional()?)
        })
        .await
    }

    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> Result<VersionListPage, MetaError> {
        let bucket = bucket.to_owned();
        self.read(move |c| list_versions_sync(c, &bucket, &query))
            .await
    }

    async fn list_objects(&self, bucket: &str, query: ListQuery) -> Result<ListPage, MetaError> {
        let bucket = bucket.to_owned();
        self.read(move |c| list_objects_sync(c, &bucket, &query))
            .await
    }

    async fn get_upload(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRow>, MetaError> {
        let (bucket, upload_id) = (bucket.to_owned(), upload_id.to_owned());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT bucket, key, upload_id, initiated_ms, attrs FROM uploads WHERE upload_id = ?1 AND bucket = ?2",
            )?
            .query_row(params![upload_id, bucket], upload_from_row)
            .optional()?)
        })
        .await
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<Vec<PartRow>, MetaError> {
        let upload_id = upload_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT upload_id, part_number, size, etag, mtime_ms, blob, attrs FROM parts
                 WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(
                    params![upload_id, after, i64::try_from(max).unwrap_or(i64::MAX)],
                    |r| {
                        let size: i64 = r.get(2)?;
                        Ok(PartRow {
                            upload_id: r.get(0)?,
                            part_number: r.get(1)?,
                            size: u64::try_from(size).unwrap_or(0),
                            etag: r.get(3)?,
                            mtime_ms: r.get(4)?,
                            blob: r.get(5)?,
                            attrs: r.get(6)?,
                        })
                    },
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> Result<UploadListPage, MetaError> {
        let bucket = bucket.to_owned();
        self.read(move |c| list_uploads_sync(c, &bucket, &query))
            .await
    }

    async fn garbage(&self, before_ms: i64, max: usize) -> Result<Vec<String>, MetaError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT blob FROM garbage WHERE since_ms < ?1 LIMIT ?2")?;
            let rows = stmt
                .query_map(
                    params![before_ms, i64::try_from(max).unwrap_or(i64::MAX)],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn list_config(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        let prefix = prefix.to_owned();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT key, value FROM config WHERE key >= ?1 ORDER BY key")?;
            let mut out = Vec::new();
            let mut rows = stmt.query([&prefix])?;
            while let Some(r) = rows.next()? {
                let key: String = r.get(0)?;
                if !key.starts_with(&prefix) {
                    break;
                }
                out.push((key, r.get(1)?));
            }
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<(), MetaError> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM buckets", [], |_| Ok(()))?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, version};

    fn open() -> (tempfile::TempDir, Arc<dyn MetaStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("meta.db")).unwrap();
        (dir, Arc::new(store))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn versions_markers_and_promotion() {
        let (_dir, store) = open();
        conformance::versions_markers_and_promotion(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delimiter_listing_seeks_past_prefixes() {
        let (_dir, store) = open();
        conformance::delimiter_listing_seeks_past_prefixes(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_condition_does_not_undo_neighbours() {
        let (_dir, store) = open();
        conformance::failed_condition_does_not_undo_neighbours(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_1_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE buckets (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, region TEXT NOT NULL, attrs BLOB NOT NULL) WITHOUT ROWID;
                 CREATE TABLE objects (bucket TEXT NOT NULL, key BLOB NOT NULL, version_id TEXT NOT NULL, size INTEGER NOT NULL,
                   etag TEXT NOT NULL, mtime_ms INTEGER NOT NULL, attrs BLOB NOT NULL, inline BLOB, blobs TEXT NOT NULL,
                   PRIMARY KEY (bucket, key)) WITHOUT ROWID;
                 INSERT INTO buckets VALUES ('b', 0, 'us-east-1', x'');
                 INSERT INTO objects VALUES ('b', CAST('old' AS BLOB), 'null', 1, 'e', 1, x'', NULL, 'blob-old');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let row = store.get_object("b", "old").await.unwrap().unwrap();
        assert!(!row.delete_marker);
        assert_eq!(row.blobs, vec!["blob-old".to_owned()]);
        store
            .commit(vec![WriteOp::PutObject {
                row: version("old", "v1", false),
                condition: None,
            }])
            .await
            .unwrap();
        assert!(
            store
                .get_object_version("b", "old", "null")
                .await
                .unwrap()
                .is_some()
        );
    }
}
