//! The listing algorithms, once for every store.
//!
//! A listing page is built by seeking, never by scanning: each common prefix
//! costs one index seek past everything it rolls up. The algorithm is the
//! same whatever answers the seeks, so it lives here as three small state
//! machines, and each store only runs the queries they ask for:
//!
//! ```text
//! while let Some(batch) = seek.next_batch() {
//!     for row in rows(lo <= key < upper, at most batch.limit) {
//!         if !seek.feed(row) { break }   // a common prefix: seek again
//!     }
//!     seek.end_batch();
//! }
//! seek.finish()
//! ```

use crate::list::{common_prefix, drop_last_upload_entry, prefix_successor};
use crate::{
    ListEntry, ListPage, ListQuery, ObjectRow, UploadListPage, UploadListQuery, UploadRow,
    VersionEntry, VersionListPage, VersionListQuery,
};

/// Rows one seek asks for at most.
pub(crate) const BATCH: usize = 1000;

/// `key` followed by a zero byte: the smallest key greater than `key`.
fn just_after(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + 1);
    v.extend_from_slice(key);
    v.push(0);
    v
}

/// The first key a listing may start at: just after the marker when the
/// marker is inside the prefix's range, the prefix otherwise.
fn start_key(prefix: &str, marker: Option<&str>, include_marker: bool) -> Vec<u8> {
    match marker {
        Some(m) if m.as_bytes() >= prefix.as_bytes() => {
            if include_marker {
                m.as_bytes().to_vec()
            } else {
                just_after(m.as_bytes())
            }
        }
        _ => prefix.as_bytes().to_vec(),
    }
}

/// One query the listing wants run: rows with `lo <= key < upper` (no upper
/// bound when `None`) in key order, at most `limit`.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    pub lo: &'a [u8],
    pub upper: Option<&'a [u8]>,
    pub limit: usize,
}

/// ListObjects: current versions that are not delete markers.
pub(crate) struct ObjectSeek<'q> {
    q: &'q ListQuery,
    upper: Option<Vec<u8>>,
    lo: Vec<u8>,
    entries: Vec<ListEntry>,
    /// Rows asked for and seen in the batch being read, and whether it was
    /// cut short by a common prefix.
    limit: usize,
    seen: usize,
    cut: bool,
    done: bool,
}

impl<'q> ObjectSeek<'q> {
    pub(crate) fn new(q: &'q ListQuery) -> Self {
        Self {
            q,
            upper: prefix_successor(q.prefix.as_bytes()),
            lo: start_key(&q.prefix, q.start_after.as_deref(), false),
            entries: Vec::new(),
            limit: 0,
            seen: 0,
            cut: false,
            done: q.max == 0,
        }
    }

    /// One more entry than the page holds tells whether it is truncated.
    fn want(&self) -> usize {
        self.q.max + 1
    }

    /// The next query to run, or `None` when the page is complete.
    pub(crate) fn next_batch(&mut self) -> Option<Batch<'_>> {
        if self.done || self.entries.len() >= self.want() {
            return None;
        }
        self.limit = (self.want() - self.entries.len()).clamp(1, BATCH);
        self.seen = 0;
        self.cut = false;
        Some(Batch {
            lo: &self.lo,
            upper: self.upper.as_deref(),
            limit: self.limit,
        })
    }

    /// Takes the next row of the batch; `false` means stop reading it (the
    /// row rolled up into a common prefix, or the page is full).
    pub(crate) fn feed(&mut self, obj: ObjectRow) -> bool {
        self.seen += 1;
        if let Some(cp) = common_prefix(&obj.key, &self.q.prefix, self.q.delimiter.as_deref()) {
            let cp = cp.to_owned();
            let skip = self
                .q
                .start_after
                .as_deref()
                .is_some_and(|s| cp.as_str() <= s);
            self.cut = true;
            match prefix_successor(cp.as_bytes()) {
                Some(next) => self.lo = next,
                None => {
                    self.done = true;
                    return false;
                }
            }
            if !skip {
                self.entries.push(ListEntry::CommonPrefix(cp));
            }
            return false;
        }
        self.lo = just_after(obj.key.as_bytes());
        self.entries.push(ListEntry::Object(obj));
        self.entries.len() < self.want()
    }

    /// The batch's rows ran out (or reading stopped): a short batch means
    /// nothing is left in the range.
    pub(crate) fn end_batch(&mut self) {
        if !self.cut && self.seen < self.limit {
            self.done = true;
        }
    }

    pub(crate) fn finish(mut self) -> ListPage {
        let truncated = self.entries.len() > self.q.max;
        self.entries.truncate(self.q.max);
        ListPage {
            entries: self.entries,
            truncated,
        }
    }
}

/// ListMultipartUploads: uploads in (key, upload id) order.
pub(crate) struct UploadSeek<'q> {
    q: &'q UploadListQuery,
    upper: Option<Vec<u8>>,
    /// Exclusive lower bound on (key, upload id); an empty id with a bare
    /// key includes that key's uploads, since every id is greater than ''.
    lo_key: Vec<u8>,
    lo_id: String,
    page: UploadListPage,
    count: usize,
    seen: usize,
    cut: bool,
    done: bool,
}

/// One query of an upload listing: uploads after (`lo_key`, `lo_id`), below
/// `upper`, in (key, upload id) order, at most [`BATCH`].
#[derive(Debug)]
pub(crate) struct UploadBatch<'a> {
    pub lo_key: &'a [u8],
    pub lo_id: &'a str,
    pub upper: Option<&'a [u8]>,
}

impl<'q> UploadSeek<'q> {
    pub(crate) fn new(q: &'q UploadListQuery) -> Self {
        let (lo_key, lo_id) = match (&q.key_marker, &q.upload_id_marker) {
            (Some(k), Some(id)) if k.as_bytes() >= q.prefix.as_bytes() => {
                (k.as_bytes().to_vec(), id.clone())
            }
            (k, _) => (start_key(&q.prefix, k.as_deref(), false), String::new()),
        };
        Self {
            q,
            upper: prefix_successor(q.prefix.as_bytes()),
            lo_key,
            lo_id,
            page: UploadListPage::default(),
            count: 0,
            seen: 0,
            cut: false,
            done: q.max == 0,
        }
    }

    fn want(&self) -> usize {
        self.q.max + 1
    }

    pub(crate) fn next_batch(&mut self) -> Option<UploadBatch<'_>> {
        if self.done || self.count >= self.want() {
            return None;
        }
        self.seen = 0;
        self.cut = false;
        Some(UploadBatch {
            lo_key: &self.lo_key,
            lo_id: &self.lo_id,
            upper: self.upper.as_deref(),
        })
    }

    /// Takes the next upload of the batch; `false` means stop reading it.
    pub(crate) fn feed(&mut self, u: UploadRow) -> bool {
        self.seen += 1;
        if let Some(cp) = common_prefix(&u.key, &self.q.prefix, self.q.delimiter.as_deref()) {
            let cp = cp.to_owned();
            let skip = self
                .q
                .key_marker
                .as_deref()
                .is_some_and(|s| cp.as_str() <= s);
            match prefix_successor(cp.as_bytes()) {
                Some(next) => {
                    self.lo_key = next;
                    self.lo_id = String::new();
                }
                None => {
                    self.done = true;
                    self.cut = true;
                    return false;
                }
            }
            if !skip {
                self.page.common_prefixes.push(cp);
                self.count += 1;
            }
            self.cut = true;
            return false;
        }
        self.lo_key = u.key.as_bytes().to_vec();
        self.lo_id.clone_from(&u.upload_id);
        self.page.uploads.push(u);
        self.count += 1;
        self.count < self.want()
    }

    pub(crate) fn end_batch(&mut self) {
        if !self.cut && self.seen < BATCH {
            self.done = true;
        }
    }

    pub(crate) fn finish(mut self) -> UploadListPage {
        if self.count > self.q.max {
            self.page.truncated = true;
            drop_last_upload_entry(&mut self.page);
        }
        self.page
    }
}

/// ListObjectVersions: keys in order, each key's versions newest first. Two
/// queries per key: its current row (the first key at or after `lo`), then
/// its older versions.
pub(crate) struct VersionSeek<'q> {
    q: &'q VersionListQuery,
    upper: Option<Vec<u8>>,
    lo: Vec<u8>,
    entries: Vec<VersionEntry>,
    done: bool,
}

impl<'q> VersionSeek<'q> {
    pub(crate) fn new(q: &'q VersionListQuery) -> Self {
        // The marker key itself is included only to resume after one of
        // its versions.
        let include_marker = q.version_id_marker.is_some();
        Self {
            q,
            upper: prefix_successor(q.prefix.as_bytes()),
            lo: start_key(&q.prefix, q.key_marker.as_deref(), include_marker),
            entries: Vec::new(),
            done: q.max == 0,
        }
    }

    fn want(&self) -> usize {
        self.q.max + 1
    }

    /// The next key to look up: the first current row with `lo <= key <
    /// upper` (`limit` is 1), or `None` when the page is complete.
    pub(crate) fn next_key(&self) -> Option<Batch<'_>> {
        if self.done || self.entries.len() >= self.want() {
            return None;
        }
        Some(Batch {
            lo: &self.lo,
            upper: self.upper.as_deref(),
            limit: 1,
        })
    }

    /// Takes the current row found (or `None`: no keys are left). Returns
    /// the row back when the caller must fetch its older versions and call
    /// [`Self::versions`]; `None` when it rolled up into a common prefix.
    pub(crate) fn found(&mut self, current: Option<ObjectRow>) -> Option<ObjectRow> {
        let Some(current) = current else {
            self.done = true;
            return None;
        };
        let Some(cp) = common_prefix(&current.key, &self.q.prefix, self.q.delimiter.as_deref())
        else {
            return Some(current);
        };
        let cp = cp.to_owned();
        let skip = self
            .q
            .key_marker
            .as_deref()
            .is_some_and(|m| cp.as_str() <= m);
        let next = prefix_successor(cp.as_bytes());
        if !skip {
            self.entries.push(VersionEntry::CommonPrefix(cp));
        }
        match next {
            Some(n) => self.lo = n,
            None => self.done = true,
        }
        None
    }

    /// Takes a key's current row and its older versions, newest first.
    pub(crate) fn versions(&mut self, current: ObjectRow, older: Vec<ObjectRow>) {
        let key = current.key.clone();
        let resume_after = (self.q.key_marker.as_deref() == Some(key.as_str()))
            .then_some(self.q.version_id_marker.as_deref())
            .flatten();
        let all = std::iter::once((current, true)).chain(older.into_iter().map(|v| (v, false)));
        let mut all: Vec<(ObjectRow, bool)> = all.collect();
        let start = resume_after
            .and_then(|m| all.iter().position(|(v, _)| v.version_id == m))
            .map_or(0, |i| i + 1);
        let room = self.want().saturating_sub(self.entries.len());
        for (row, is_latest) in all.drain(..).skip(start).take(room) {
            self.entries.push(VersionEntry::Version { row, is_latest });
        }
        self.lo = just_after(key.as_bytes());
    }

    pub(crate) fn finish(mut self) -> VersionListPage {
        let truncated = self.entries.len() > self.q.max;
        self.entries.truncate(self.q.max);
        VersionListPage {
            entries: self.entries,
            truncated,
        }
    }
}
