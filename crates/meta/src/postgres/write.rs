//! Applying [`WriteOp`]s inside one PostgreSQL transaction.
//!
//! Transactions run at READ COMMITTED; what must not interleave is ordered
//! by row locks taken first:
//! - the bucket row is locked `FOR KEY SHARE` by every write into the
//!   bucket and deleted by DeleteBucket, so a bucket is never deleted
//!   under a write that is about to land in it;
//! - the current row of a key is locked `FOR UPDATE` before it is checked
//!   or replaced, so conditional writes from several nodes see each other:
//!   the second waits for the first and then checks the row it left;
//! - two writers that both find no row for a key both insert, and the
//!   loser's unique-key violation makes the whole transaction retry (see
//!   `retryable` in mod.rs), when it finds the winner's row.

use deadpool_postgres::Transaction;
use rand::Rng as _;

use super::NOW_MS;
use super::read::{db, get, query, query_opt};
use super::schema::USAGE_SHARDS;
use crate::{Condition, MetaError, ObjectRow, WriteOp};

/// The version id of the version written while versioning is off or suspended.
const NULL_VERSION: &str = "null";

type Tx<'a> = Transaction<'a>;

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

async fn exec(
    tx: &Tx<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, MetaError> {
    let stmt = tx.prepare_cached(sql).await.map_err(db)?;
    tx.execute(&stmt, params).await.map_err(db)
}

/// A bucket row locked against deletion for the rest of the transaction.
struct HeldBucket {
    /// Its quota in bytes, read with the lock so a PUT needs no second
    /// lookup of the row.
    quota: Option<i64>,
}

/// Locks the bucket row against deletion for the rest of the transaction;
/// `None` when there is no such bucket.
async fn hold_bucket(tx: &Tx<'_>, name: &str) -> Result<Option<HeldBucket>, MetaError> {
    query_opt(
        tx,
        "SELECT quota FROM buckets WHERE name = $1 FOR KEY SHARE",
        &[&name],
    )
    .await?
    .map(|r| Ok(HeldBucket { quota: get(&r, 0)? }))
    .transpose()
}

async fn release(tx: &Tx<'_>, blobs: &str) -> Result<(), MetaError> {
    for blob in blobs.split('\n').filter(|b| !b.is_empty()) {
        exec(
            tx,
            &format!(
                "INSERT INTO garbage (blob, since_ms) VALUES ($1, {NOW_MS}) ON CONFLICT (blob) DO NOTHING"
            ),
            &[&blob],
        )
        .await?;
    }
    Ok(())
}

/// The usage counter changes of one transaction, written once at its end
/// ([`UsageDeltas::flush`]): one row lock per bucket, taken last and in
/// bucket order, so concurrent writers never wait on each other for long
/// and never deadlock over shard rows.
#[derive(Debug, Default)]
pub(super) struct UsageDeltas(std::collections::BTreeMap<String, Usage>);

/// Changes to one bucket's counters.
#[derive(Debug, Default)]
struct Usage {
    bytes: i64,
    objects: i64,
    versions: i64,
}

impl UsageDeltas {
    fn add(&mut self, bucket: &str, bytes: i64, objects: i64, versions: i64) {
        let d = self.0.entry(bucket.to_owned()).or_default();
        d.bytes += bytes;
        d.objects += objects;
        d.versions += versions;
    }

    /// Bytes this transaction has added to `bucket` so far.
    fn bytes(&self, bucket: &str) -> i64 {
        self.0.get(bucket).map_or(0, |d| d.bytes)
    }

    /// Adds the changes to one shard per bucket, chosen at random.
    pub(super) async fn flush(self, tx: &Tx<'_>) -> Result<(), MetaError> {
        for (
            bucket,
            Usage {
                bytes,
                objects,
                versions,
            },
        ) in self.0
        {
            if bytes == 0 && objects == 0 && versions == 0 {
                continue;
            }
            let shard: i32 = rand::rng().random_range(0..USAGE_SHARDS);
            exec(
                tx,
                "INSERT INTO usage_shards (bucket, shard, bytes, objects, versions) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (bucket, shard) DO UPDATE SET bytes = usage_shards.bytes + excluded.bytes,
                   objects = usage_shards.objects + excluded.objects, versions = usage_shards.versions + excluded.versions",
                &[&bucket, &shard, &bytes, &objects, &versions],
            )
            .await?;
        }
        Ok(())
    }
}

/// Locks the current row of `key` and returns its ETag when it is an
/// object (not a delete marker), then checks `cond` against it.
///
/// Returns whether a row was there: a row that was absent cannot be locked,
/// so the write that follows must find it still absent (see `put_object_row`).
async fn check_condition(
    tx: &Tx<'_>,
    bucket: &str,
    key: &str,
    cond: Option<&Condition>,
) -> Result<Option<bool>, MetaError> {
    let Some(cond) = cond else { return Ok(None) };
    let row = query_opt(
        tx,
        "SELECT etag, delete_marker FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
        &[&bucket, &key.as_bytes()],
    )
    .await?;
    let current = match &row {
        Some(r) if !get::<bool>(r, 1)? => Some(get::<String>(r, 0)?),
        _ => None,
    };
    crate::sqlite::holds(cond, current.as_deref())?;
    Ok(Some(row.is_some()))
}

/// Moves the current version of `key` to the noncurrent versions (its
/// objects row is then replaced or deleted by the caller).
async fn make_noncurrent(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    bucket: &str,
    key: &str,
    was_object: bool,
) -> Result<(), MetaError> {
    if was_object {
        u.add(bucket, 0, -1, 0);
    }
    exec(
        tx,
        &format!(
            "INSERT INTO versions (bucket, key, vseq, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, noncurrent_ms)
             SELECT bucket, key, vseq, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, {NOW_MS}
             FROM objects WHERE bucket = $1 AND key = $2"
        ),
        &[&bucket, &key.as_bytes()],
    )
    .await?;
    Ok(())
}

/// Removes noncurrent versions with this version id, releasing their blobs.
async fn drop_noncurrent(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<bool, MetaError> {
    let gone = query(
        tx,
        "DELETE FROM versions WHERE bucket = $1 AND key = $2 AND version_id = $3 RETURNING blobs, size",
        &[&bucket, &key.as_bytes(), &version_id],
    )
    .await?;
    for r in &gone {
        release(tx, &get::<String>(r, 0)?).await?;
        u.add(bucket, -get::<i64>(r, 1)?, 0, -1);
    }
    Ok(!gone.is_empty())
}

/// Makes the newest noncurrent version of `key` (if any) the current one.
async fn promote_newest(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    bucket: &str,
    key: &str,
) -> Result<(), MetaError> {
    let newest = query_opt(
        tx,
        "DELETE FROM versions WHERE bucket = $1 AND key = $2
           AND vseq = (SELECT MAX(vseq) FROM versions WHERE bucket = $1 AND key = $2)
         RETURNING version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq",
        &[&bucket, &key.as_bytes()],
    )
    .await?;
    let Some(r) = newest else { return Ok(()) };
    let marker: bool = get(&r, 7)?;
    if !marker {
        u.add(bucket, 0, 1, 0);
    }
    exec(
        tx,
        "INSERT INTO objects (bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &bucket,
            &key.as_bytes(),
            &get::<String>(&r, 0)?,
            &get::<i64>(&r, 1)?,
            &get::<String>(&r, 2)?,
            &get::<i64>(&r, 3)?,
            &get::<Vec<u8>>(&r, 4)?,
            &get::<Option<Vec<u8>>>(&r, 5)?,
            &get::<String>(&r, 6)?,
            &marker,
            &get::<i64>(&r, 8)?,
        ],
    )
    .await?;
    Ok(())
}

/// Writes `row` as the new current version (see [`WriteOp::PutObject`]).
/// `checked`: whether a condition checked earlier in the transaction found
/// a row; if another writer inserted one since, the check is void.
async fn put_object_row(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    row: &ObjectRow,
    quota: Option<i64>,
    checked: Option<bool>,
) -> Result<(), MetaError> {
    let key = row.key.as_bytes();
    let current = query_opt(
        tx,
        "SELECT version_id, vseq, blobs, size, delete_marker FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
        &[&row.bucket, &key],
    )
    .await?;
    if checked == Some(false) && current.is_some() {
        return Err(MetaError::Raced);
    }
    let unversioned = row.version_id == NULL_VERSION;
    let vseq = match &current {
        Some(c) => {
            let (vid, vseq, blobs, size, marker): (String, i64, String, i64, bool) =
                (get(c, 0)?, get(c, 1)?, get(c, 2)?, get(c, 3)?, get(c, 4)?);
            if unversioned && vid == NULL_VERSION {
                release(tx, &blobs).await?;
                u.add(&row.bucket, -size, -i64::from(!marker), -1);
            } else {
                make_noncurrent(tx, u, &row.bucket, &row.key, !marker).await?;
            }
            vseq + 1
        }
        None => {
            let r = query_opt(
                tx,
                "SELECT COALESCE(MAX(vseq), 0) FROM versions WHERE bucket = $1 AND key = $2",
                &[&row.bucket, &key],
            )
            .await?;
            r.map(|r| get::<i64>(&r, 0)).transpose()?.unwrap_or(0) + 1
        }
    };
    if unversioned {
        drop_noncurrent(tx, u, &row.bucket, &row.key, NULL_VERSION).await?;
    }
    let size = size_i64(row.size);
    if !row.delete_marker
        && let Some(q) = quota
    {
        let used = query_opt(
            tx,
            "SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM usage_shards WHERE bucket = $1",
            &[&row.bucket],
        )
        .await?
        .map(|r| get::<i64>(&r, 0))
        .transpose()?
        .unwrap_or(0);
        if used
            .saturating_add(u.bytes(&row.bucket))
            .saturating_add(size)
            > q
        {
            return Err(MetaError::QuotaExceeded);
        }
    }
    u.add(&row.bucket, size, i64::from(!row.delete_marker), 1);
    let blobs = row.blobs.join("\n");
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
        &row.bucket,
        &key,
        &row.version_id,
        &size,
        &row.etag,
        &row.mtime_ms,
        &row.attrs,
        &row.inline,
        &blobs,
        &row.delete_marker,
        &vseq,
    ];
    if current.is_some() {
        exec(
            tx,
            "UPDATE objects SET version_id = $3, size = $4, etag = $5, mtime_ms = $6, attrs = $7, inline = $8,
               blobs = $9, delete_marker = $10, vseq = $11 WHERE bucket = $1 AND key = $2",
            &params,
        )
        .await?;
    } else {
        exec(
            tx,
            "INSERT INTO objects (bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker, vseq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &params,
        )
        .await?;
    }
    Ok(())
}

/// Deletes one version; see [`WriteOp::DeleteVersion`].
async fn delete_version(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<(), MetaError> {
    let current = query_opt(
        tx,
        "DELETE FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3 RETURNING blobs, size, delete_marker",
        &[&bucket, &key.as_bytes(), &version_id],
    )
    .await?;
    match current {
        Some(r) => {
            release(tx, &get::<String>(&r, 0)?).await?;
            u.add(
                bucket,
                -get::<i64>(&r, 1)?,
                -i64::from(!get::<bool>(&r, 2)?),
                -1,
            );
            promote_newest(tx, u, bucket, key).await?;
        }
        None => {
            drop_noncurrent(tx, u, bucket, key, version_id).await?;
        }
    }
    Ok(())
}

/// Deletes the current version without naming one; see [`WriteOp::DeleteObject`].
async fn delete_current(
    tx: &Tx<'_>,
    u: &mut UsageDeltas,
    bucket: &str,
    key: &str,
    marker: Option<&ObjectRow>,
) -> Result<(), MetaError> {
    if let Some(m) = marker {
        // A delete marker adds no bytes: no quota to check.
        return put_object_row(tx, u, m, None, None).await;
    }
    let old = query_opt(
        tx,
        "DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING blobs, size, delete_marker",
        &[&bucket, &key.as_bytes()],
    )
    .await?;
    if let Some(r) = old {
        release(tx, &get::<String>(&r, 0)?).await?;
        u.add(
            bucket,
            -get::<i64>(&r, 1)?,
            -i64::from(!get::<bool>(&r, 2)?),
            -1,
        );
    }
    Ok(())
}

async fn bump_generation(tx: &Tx<'_>) -> Result<(), MetaError> {
    exec(tx, "UPDATE generation SET n = n + 1 WHERE id = 1", &[]).await?;
    Ok(())
}

async fn queue_event(tx: &Tx<'_>, target: &str, payload: &[u8]) -> Result<(), MetaError> {
    exec(
        tx,
        "INSERT INTO events (target, payload) VALUES ($1, $2)",
        &[&target, &payload],
    )
    .await?;
    Ok(())
}

/// The bucket that owns `upload_id` and the upload's key, locked.
async fn upload_owner(
    tx: &Tx<'_>,
    upload_id: &str,
) -> Result<Option<(String, Vec<u8>)>, MetaError> {
    query_opt(
        tx,
        "SELECT bucket, key FROM uploads WHERE upload_id = $1 FOR UPDATE",
        &[&upload_id],
    )
    .await?
    .map(|r| Ok((get(&r, 0)?, get(&r, 1)?)))
    .transpose()
}

/// Applies one op; the caller commits or rolls back the transaction.
#[allow(clippy::too_many_lines)] // one arm per op, each short
pub(super) async fn apply(tx: &Tx<'_>, u: &mut UsageDeltas, op: &WriteOp) -> Result<(), MetaError> {
    match op {
        WriteOp::CreateBucket(b) => {
            if query_opt(tx, "SELECT 1 FROM buckets WHERE name = $1", &[&b.name])
                .await?
                .is_some()
            {
                return Err(MetaError::BucketExists);
            }
            exec(
                tx,
                "INSERT INTO buckets (name, created_ms, region, attrs) VALUES ($1, $2, $3, $4)",
                &[&b.name, &b.created_ms, &b.region, &b.attrs],
            )
            .await?;
            exec(tx, "DELETE FROM usage_shards WHERE bucket = $1", &[&b.name]).await?;
        }
        WriteOp::SetBucketAttrs {
            name,
            attrs,
            expected,
        } => {
            let n = exec(
                tx,
                "UPDATE buckets SET attrs = $2 WHERE name = $1 AND ($3::BYTEA IS NULL OR attrs = $3)",
                &[name, attrs, expected],
            )
            .await?;
            if n == 0 {
                let exists = query_opt(tx, "SELECT 1 FROM buckets WHERE name = $1", &[name])
                    .await?
                    .is_some();
                return Err(if exists {
                    MetaError::ConditionalConflict
                } else {
                    MetaError::NoSuchBucket
                });
            }
        }
        WriteOp::DeleteBucket { name } => {
            if query_opt(
                tx,
                "SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE",
                &[name],
            )
            .await?
            .is_none()
            {
                return Err(MetaError::NoSuchBucket);
            }
            let busy = query_opt(
                tx,
                "SELECT 1 FROM objects WHERE bucket = $1 UNION ALL SELECT 1 FROM versions WHERE bucket = $1
                 UNION ALL SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1",
                &[name],
            )
            .await?
            .is_some();
            if busy {
                return Err(MetaError::BucketNotEmpty);
            }
            exec(tx, "DELETE FROM buckets WHERE name = $1", &[name]).await?;
            exec(tx, "DELETE FROM usage_shards WHERE bucket = $1", &[name]).await?;
        }
        WriteOp::PutObject { row, condition } => {
            let held = hold_bucket(tx, &row.bucket)
                .await?
                .ok_or(MetaError::NoSuchBucket)?;
            let checked = check_condition(tx, &row.bucket, &row.key, condition.as_ref()).await?;
            put_object_row(tx, u, row, held.quota, checked).await?;
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
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                bucket,
                &key.as_bytes(),
                version_id,
                etag,
                mtime_ms,
                attrs,
                old_attrs,
            ];
            let mut n = exec(
                tx,
                "UPDATE objects SET attrs = $6 WHERE bucket = $1 AND key = $2 AND version_id = $3 AND etag = $4 AND mtime_ms = $5 AND attrs = $7",
                &params,
            )
            .await?;
            if n == 0 {
                n = exec(
                    tx,
                    "UPDATE versions SET attrs = $6 WHERE bucket = $1 AND key = $2 AND version_id = $3 AND etag = $4 AND mtime_ms = $5 AND attrs = $7",
                    &params,
                )
                .await?;
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
            if hold_bucket(tx, bucket).await?.is_none() {
                return Err(MetaError::NoSuchBucket);
            }
            delete_current(tx, u, bucket, key, marker.as_ref()).await?;
        }
        WriteOp::DeleteVersion {
            bucket,
            key,
            version_id,
        } => {
            if hold_bucket(tx, bucket).await?.is_none() {
                return Err(MetaError::NoSuchBucket);
            }
            // Lock the current row first, as every writer of this key does.
            query_opt(
                tx,
                "SELECT 1 FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
                &[bucket, &key.as_bytes()],
            )
            .await?;
            delete_version(tx, u, bucket, key, version_id).await?;
        }
        WriteOp::CreateUpload(u) => {
            if hold_bucket(tx, &u.bucket).await?.is_none() {
                return Err(MetaError::NoSuchBucket);
            }
            exec(
                tx,
                "INSERT INTO uploads (bucket, key, upload_id, initiated_ms, attrs) VALUES ($1, $2, $3, $4, $5)",
                &[&u.bucket, &u.key.as_bytes(), &u.upload_id, &u.initiated_ms, &u.attrs],
            )
            .await?;
        }
        WriteOp::PutPart { bucket, row } => {
            let owner = query_opt(
                tx,
                "SELECT bucket FROM uploads WHERE upload_id = $1 FOR KEY SHARE",
                &[&row.upload_id],
            )
            .await?
            .map(|r| get::<String>(&r, 0))
            .transpose()?;
            if owner.as_deref() != Some(bucket.as_str()) {
                return Err(MetaError::NoSuchUpload);
            }
            let number = i32::try_from(row.part_number).unwrap_or(i32::MAX);
            let old = query_opt(
                tx,
                "SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE",
                &[&row.upload_id, &number],
            )
            .await?;
            if let Some(old) = old {
                release(tx, &get::<String>(&old, 0)?).await?;
            }
            exec(
                tx,
                "INSERT INTO parts (upload_id, part_number, size, etag, mtime_ms, blob, attrs)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                   mtime_ms = excluded.mtime_ms, blob = excluded.blob, attrs = excluded.attrs",
                &[
                    &row.upload_id,
                    &number,
                    &size_i64(row.size),
                    &row.etag,
                    &row.mtime_ms,
                    &row.blob,
                    &row.attrs,
                ],
            )
            .await?;
        }
        WriteOp::CompleteUpload {
            upload_id,
            row,
            used,
            condition,
        } => {
            let held = hold_bucket(tx, &row.bucket)
                .await?
                .ok_or(MetaError::NoSuchBucket)?;
            let owner = upload_owner(tx, upload_id).await?;
            if owner != Some((row.bucket.clone(), row.key.as_bytes().to_vec())) {
                return Err(MetaError::NoSuchUpload);
            }
            let checked = check_condition(tx, &row.bucket, &row.key, condition.as_ref()).await?;
            let parts: Vec<(u32, String)> = query(
                tx,
                "SELECT part_number, blob FROM parts WHERE upload_id = $1",
                &[upload_id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok((
                    u32::try_from(get::<i32>(r, 0)?).unwrap_or(0),
                    get::<String>(r, 1)?,
                ))
            })
            .collect::<Result<_, MetaError>>()?;
            for (number, blob) in used {
                if !parts.iter().any(|(n, b)| n == number && b == blob) {
                    return Err(MetaError::InvalidPart(*number));
                }
            }
            for (number, blob) in &parts {
                if !used.iter().any(|(n, _)| n == number) {
                    release(tx, blob).await?;
                }
            }
            exec(tx, "DELETE FROM parts WHERE upload_id = $1", &[upload_id]).await?;
            exec(tx, "DELETE FROM uploads WHERE upload_id = $1", &[upload_id]).await?;
            put_object_row(tx, u, row, held.quota, checked).await?;
        }
        WriteOp::AbortUpload { bucket, upload_id } => {
            let owner = upload_owner(tx, upload_id).await?;
            if owner.map(|(b, _)| b).as_deref() != Some(bucket.as_str()) {
                return Err(MetaError::NoSuchUpload);
            }
            let blobs = query(
                tx,
                "DELETE FROM parts WHERE upload_id = $1 RETURNING blob",
                &[upload_id],
            )
            .await?;
            for r in &blobs {
                release(tx, &get::<String>(r, 0)?).await?;
            }
            exec(tx, "DELETE FROM uploads WHERE upload_id = $1", &[upload_id]).await?;
        }
        WriteOp::ForgetGarbage(blobs) => {
            exec(tx, "DELETE FROM garbage WHERE blob = ANY($1)", &[blobs]).await?;
        }
        WriteOp::ExpireObject {
            bucket,
            key,
            etag,
            mtime_ms,
            marker,
            events,
        } => {
            if hold_bucket(tx, bucket).await?.is_none() {
                return Ok(());
            }
            let still_there = query_opt(
                tx,
                "SELECT 1 FROM objects WHERE bucket = $1 AND key = $2 AND etag = $3 AND mtime_ms = $4 AND NOT delete_marker FOR UPDATE",
                &[bucket, &key.as_bytes(), etag, mtime_ms],
            )
            .await?
            .is_some();
            if still_there {
                delete_current(tx, u, bucket, key, marker.as_ref()).await?;
                for (target, payload) in events {
                    queue_event(tx, target, payload).await?;
                }
            }
        }
        WriteOp::QueueEvent { target, payload } => queue_event(tx, target, payload).await?,
        WriteOp::DeleteEvent { seq } => {
            exec(tx, "DELETE FROM events WHERE seq = $1", &[seq]).await?;
        }
        WriteOp::SetBucketQuota { bucket, quota } => {
            let quota = quota.map(size_i64);
            let n = exec(
                tx,
                "UPDATE buckets SET quota = $2 WHERE name = $1",
                &[bucket, &quota],
            )
            .await?;
            if n == 0 {
                return Err(MetaError::NoSuchBucket);
            }
        }
        WriteOp::PutConfig { key, value } => {
            exec(
                tx,
                "INSERT INTO config (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[key, value],
            )
            .await?;
            bump_generation(tx).await?;
        }
        WriteOp::DeleteConfig { key } => {
            exec(tx, "DELETE FROM config WHERE key = $1", &[key]).await?;
            bump_generation(tx).await?;
        }
        WriteOp::Notice { .. } => {}
    }
    Ok(())
}
