//! Reading rows and listing pages from PostgreSQL. The listing algorithms
//! are the embedded store's (keyset pagination, one seek per common
//! prefix), one query per step.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::seek::{ObjectSeek, UploadSeek, VersionSeek};
use crate::{
    ListPage, ListQuery, MetaError, ObjectRow, UploadListPage, UploadListQuery, UploadRow,
    VersionListPage, VersionListQuery,
};

pub(super) fn db(e: tokio_postgres::Error) -> MetaError {
    super::from_pg(e)
}

pub(super) async fn query<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, MetaError> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.query(&stmt, params).await.map_err(db)
}

pub(super) async fn query_opt<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, MetaError> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.query_opt(&stmt, params).await.map_err(db)
}

pub(super) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T, MetaError> {
    row.try_get(i).map_err(db)
}

fn utf8(bytes: Vec<u8>) -> Result<String, MetaError> {
    String::from_utf8(bytes).map_err(|_| MetaError::Corrupt("a key is not UTF-8".into()))
}

/// Columns read by [`object_from_row`], inline bytes included.
pub(super) const OBJECT_COLS: &str =
    "bucket, key, version_id, size, etag, mtime_ms, attrs, inline, blobs, delete_marker";
/// The same columns with the inline bytes left out (listings).
pub(super) const OBJECT_COLS_NO_INLINE: &str =
    "bucket, key, version_id, size, etag, mtime_ms, attrs, NULL::BYTEA, blobs, delete_marker";

pub(super) fn object_from_row(r: &Row) -> Result<ObjectRow, MetaError> {
    let blobs: String = get(r, 8)?;
    Ok(ObjectRow {
        bucket: get(r, 0)?,
        key: utf8(get(r, 1)?)?,
        version_id: get(r, 2)?,
        size: u64::try_from(get::<i64>(r, 3)?).unwrap_or(0),
        etag: get(r, 4)?,
        mtime_ms: get(r, 5)?,
        attrs: get(r, 6)?,
        inline: get(r, 7)?,
        blobs: blobs
            .split('\n')
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect(),
        delete_marker: get(r, 9)?,
    })
}

pub(super) fn upload_from_row(r: &Row) -> Result<UploadRow, MetaError> {
    Ok(UploadRow {
        bucket: get(r, 0)?,
        key: utf8(get(r, 1)?)?,
        upload_id: get(r, 2)?,
        initiated_ms: get(r, 3)?,
        attrs: get(r, 4)?,
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(1000)
}

/// One page of objects; the algorithm is [`ObjectSeek`]'s.
pub(super) async fn list_objects<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &ListQuery,
) -> Result<ListPage, MetaError> {
    let sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM objects WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
         AND NOT delete_marker ORDER BY key LIMIT $4"
    );
    let mut seek = ObjectSeek::new(q);
    while let Some(b) = seek.next_batch() {
        let found = query(c, &sql, &[&bucket, &b.lo, &b.upper, &limit(b.limit)]).await?;
        for r in &found {
            if !seek.feed(object_from_row(r)?) {
                break;
            }
        }
        seek.end_batch();
    }
    Ok(seek.finish())
}

/// One page of versions; the algorithm is [`VersionSeek`]'s.
pub(super) async fn list_versions<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &VersionListQuery,
) -> Result<VersionListPage, MetaError> {
    let keys_sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM objects WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3) ORDER BY key LIMIT 1"
    );
    let older_sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM versions WHERE bucket = $1 AND key = $2 ORDER BY vseq DESC"
    );
    let mut seek = VersionSeek::new(q);
    while let Some(b) = seek.next_key() {
        let current = match query_opt(c, &keys_sql, &[&bucket, &b.lo, &b.upper]).await? {
            Some(r) => Some(object_from_row(&r)?),
            None => None,
        };
        let Some(current) = seek.found(current) else {
            continue;
        };
        let rows = query(c, &older_sql, &[&bucket, &current.key.as_bytes()]).await?;
        let older = rows
            .iter()
            .map(object_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        seek.versions(current, older);
    }
    Ok(seek.finish())
}

/// One page of multipart uploads; the algorithm is [`UploadSeek`]'s.
pub(super) async fn list_uploads<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &UploadListQuery,
) -> Result<UploadListPage, MetaError> {
    let sql = "SELECT bucket, key, upload_id, initiated_ms, attrs FROM uploads
         WHERE bucket = $1 AND (key > $2 OR (key = $2 AND upload_id > $3)) AND ($4::BYTEA IS NULL OR key < $4)
         ORDER BY key, upload_id LIMIT 1000";
    let mut seek = UploadSeek::new(q);
    while let Some(b) = seek.next_batch() {
        let found = query(c, sql, &[&bucket, &b.lo_key, &b.lo_id, &b.upper]).await?;
        for r in &found {
            if !seek.feed(upload_from_row(r)?) {
                break;
            }
        }
        seek.end_batch();
    }
    Ok(seek.finish())
}
