//! Reading rows and listing pages from PostgreSQL. The listing algorithms
//! are the embedded store's (keyset pagination, one seek per common
//! prefix), one query per step.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::list::{common_prefix, prefix_successor};
use crate::{
    ListEntry, ListPage, ListQuery, MetaError, ObjectRow, UploadListPage, UploadListQuery,
    UploadRow, VersionEntry, VersionListPage, VersionListQuery,
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

/// One page of objects (see `list_objects_sync` in the embedded store).
pub(super) async fn list_objects<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &ListQuery,
) -> Result<ListPage, MetaError> {
    if q.max == 0 {
        return Ok(ListPage::default());
    }
    let upper = prefix_successor(q.prefix.as_bytes());
    let mut lo: Vec<u8> = match &q.start_after {
        Some(s) if s.as_bytes() >= q.prefix.as_bytes() => {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        }
        _ => q.prefix.as_bytes().to_vec(),
    };
    let want = q.max + 1;
    let mut entries: Vec<ListEntry> = Vec::new();
    let sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM objects WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
         AND NOT delete_marker ORDER BY key LIMIT $4"
    );
    'outer: while entries.len() < want {
        let batch = (want - entries.len()).clamp(1, 1000);
        let found = query(c, &sql, &[&bucket, &lo, &upper, &limit(batch)]).await?;
        let seen = found.len();
        for r in &found {
            let obj = object_from_row(r)?;
            if let Some(cp) = common_prefix(&obj.key, &q.prefix, q.delimiter.as_deref()) {
                let cp = cp.to_owned();
                let skip = q.start_after.as_deref().is_some_and(|s| cp.as_str() <= s);
                match prefix_successor(cp.as_bytes()) {
                    Some(next) => lo = next,
                    None => break 'outer,
                }
                if !skip {
                    entries.push(ListEntry::CommonPrefix(cp));
                }
                continue 'outer;
            }
            lo = obj.key.as_bytes().to_vec();
            lo.push(0);
            entries.push(ListEntry::Object(obj));
            if entries.len() >= want {
                break 'outer;
            }
        }
        if seen < batch {
            break;
        }
    }
    let truncated = entries.len() > q.max;
    entries.truncate(q.max);
    Ok(ListPage { entries, truncated })
}

/// One page of versions (see `list_versions_sync` in the embedded store).
pub(super) async fn list_versions<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &VersionListQuery,
) -> Result<VersionListPage, MetaError> {
    if q.max == 0 {
        return Ok(VersionListPage::default());
    }
    let upper = prefix_successor(q.prefix.as_bytes());
    let mut lo: Vec<u8> = match (&q.key_marker, &q.version_id_marker) {
        (Some(k), Some(_)) if k.as_bytes() >= q.prefix.as_bytes() => k.as_bytes().to_vec(),
        (Some(k), None) if k.as_bytes() >= q.prefix.as_bytes() => {
            let mut v = k.as_bytes().to_vec();
            v.push(0);
            v
        }
        _ => q.prefix.as_bytes().to_vec(),
    };
    let want = q.max + 1;
    let mut entries: Vec<VersionEntry> = Vec::new();
    let keys_sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM objects WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3) ORDER BY key LIMIT 1"
    );
    let older_sql = format!(
        "SELECT {OBJECT_COLS_NO_INLINE} FROM versions WHERE bucket = $1 AND key = $2 ORDER BY vseq DESC"
    );
    while entries.len() < want {
        let Some(r) = query_opt(c, &keys_sql, &[&bucket, &lo, &upper]).await? else {
            break;
        };
        let current = object_from_row(&r)?;
        if let Some(cp) = common_prefix(&current.key, &q.prefix, q.delimiter.as_deref()) {
            let cp = cp.to_owned();
            let skip = q.key_marker.as_deref().is_some_and(|m| cp.as_str() <= m);
            let next = prefix_successor(cp.as_bytes());
            if !skip {
                entries.push(VersionEntry::CommonPrefix(cp));
            }
            match next {
                Some(n) => lo = n,
                None => break,
            }
            continue;
        }
        let key = current.key.clone();
        let mut versions = vec![(current, true)];
        for r in query(c, &older_sql, &[&bucket, &key.as_bytes()]).await? {
            versions.push((object_from_row(&r)?, false));
        }
        let resume_after = (q.key_marker.as_deref() == Some(key.as_str()))
            .then_some(q.version_id_marker.as_deref())
            .flatten();
        let start = resume_after
            .and_then(|m| versions.iter().position(|(v, _)| v.version_id == m))
            .map_or(0, |i| i + 1);
        for (row, is_latest) in versions.into_iter().skip(start) {
            entries.push(VersionEntry::Version { row, is_latest });
            if entries.len() >= want {
                break;
            }
        }
        lo = key.into_bytes();
        lo.push(0);
    }
    let truncated = entries.len() > q.max;
    entries.truncate(q.max);
    Ok(VersionListPage { entries, truncated })
}

/// One page of multipart uploads (see `list_uploads_sync` in the embedded store).
pub(super) async fn list_uploads<C: GenericClient + Sync>(
    c: &C,
    bucket: &str,
    q: &UploadListQuery,
) -> Result<UploadListPage, MetaError> {
    if q.max == 0 {
        return Ok(UploadListPage::default());
    }
    let upper = prefix_successor(q.prefix.as_bytes());
    let (mut lo_key, mut lo_id): (Vec<u8>, String) = match (&q.key_marker, &q.upload_id_marker) {
        (Some(k), Some(id)) if k.as_bytes() >= q.prefix.as_bytes() => {
            (k.as_bytes().to_vec(), id.clone())
        }
        (Some(k), _) if k.as_bytes() >= q.prefix.as_bytes() => {
            let mut v = k.as_bytes().to_vec();
            v.push(0);
            (v, String::new())
        }
        _ => (q.prefix.as_bytes().to_vec(), String::new()),
    };
    let mut page = UploadListPage::default();
    let want = q.max + 1;
    let mut count = 0usize;
    let sql = "SELECT bucket, key, upload_id, initiated_ms, attrs FROM uploads
         WHERE bucket = $1 AND (key > $2 OR (key = $2 AND upload_id > $3)) AND ($4::BYTEA IS NULL OR key < $4)
         ORDER BY key, upload_id LIMIT 1000";
    'outer: while count < want {
        let found = query(c, sql, &[&bucket, &lo_key, &lo_id, &upper]).await?;
        let seen = found.len();
        for r in &found {
            let u = upload_from_row(r)?;
            if let Some(cp) = common_prefix(&u.key, &q.prefix, q.delimiter.as_deref()) {
                let cp = cp.to_owned();
                let skip = q.key_marker.as_deref().is_some_and(|s| cp.as_str() <= s);
                match prefix_successor(cp.as_bytes()) {
                    Some(next) => {
                        lo_key = next;
                        lo_id = String::new();
                    }
                    None => break 'outer,
                }
                if !skip {
                    page.common_prefixes.push(cp);
                    count += 1;
                }
                continue 'outer;
            }
            lo_key = u.key.as_bytes().to_vec();
            lo_id = u.upload_id.clone();
            page.uploads.push(u);
            count += 1;
            if count >= want {
                break 'outer;
            }
        }
        if seen < 1000 {
            break;
        }
    }
    if count > q.max {
        page.truncated = true;
        crate::list::drop_last_upload_entry(&mut page);
    }
    Ok(page)
}
