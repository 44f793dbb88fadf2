//! Walking every version of a bucket page by page, for whole-store passes
//! (scans, key rotation) that must not hold a bucket's listing in memory.

use std::sync::Arc;

use almacen_meta::{MetaStore, ObjectRow, VersionEntry, VersionListQuery};

use crate::EngineError;

/// Versions (and delete markers) listed per metadata query.
const PAGE: usize = 500;

/// The versions of one bucket, a page at a time, in key order.
pub(crate) struct VersionPages {
    meta: Arc<dyn MetaStore>,
    bucket: String,
    marker: Option<(String, String)>,
    done: bool,
}

impl VersionPages {
    pub(crate) fn new(meta: Arc<dyn MetaStore>, bucket: &str) -> Self {
        Self {
            meta,
            bucket: bucket.to_owned(),
            marker: None,
            done: false,
        }
    }

    /// The next page of rows (inline bytes left out), or `None` at the end.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Vec<ObjectRow>>, EngineError> {
        if self.done {
            return Ok(None);
        }
        let (key_marker, version_id_marker) = self.marker.take().unzip();
        let page = self
            .meta
            .list_versions(
                &self.bucket,
                VersionListQuery {
                    prefix: String::new(),
                    key_marker,
                    version_id_marker,
                    delimiter: None,
                    max: PAGE,
                },
            )
            .await?;
        let rows: Vec<ObjectRow> = page
            .entries
            .into_iter()
            .filter_map(|e| match e {
                VersionEntry::Version { row, .. } => Some(row),
                _ => None,
            })
            .collect();
        match rows.last() {
            Some(last) if page.truncated => {
                self.marker = Some((last.key.clone(), last.version_id.clone()));
            }
            _ => self.done = true,
        }
        Ok(Some(rows))
    }
}

/// The multipart uploads of one bucket, a page at a time.
pub(crate) struct UploadPages {
    meta: Arc<dyn MetaStore>,
    bucket: String,
    query: almacen_meta::UploadListQuery,
    done: bool,
}

impl UploadPages {
    pub(crate) fn new(meta: Arc<dyn MetaStore>, bucket: &str) -> Self {
        Self {
            meta,
            bucket: bucket.to_owned(),
            query: almacen_meta::UploadListQuery {
                max: PAGE,
                ..Default::default()
            },
            done: false,
        }
    }

    /// The next page of uploads, or `None` at the end.
    pub(crate) async fn next_page(
        &mut self,
    ) -> Result<Option<Vec<almacen_meta::UploadRow>>, EngineError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .meta
            .list_uploads(&self.bucket, self.query.clone())
            .await?;
        match page.uploads.last() {
            Some(last) if page.truncated => {
                self.query.key_marker = Some(last.key.clone());
                self.query.upload_id_marker = Some(last.upload_id.clone());
            }
            _ => self.done = true,
        }
        Ok(Some(page.uploads))
    }
}
