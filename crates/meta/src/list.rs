//! Listing queries and pages, shared by every store implementation.

use crate::{ObjectRow, UploadRow};

/// What to list. Bounds are byte-wise on the UTF-8 keys.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Only keys (and common prefixes) strictly greater than this.
    pub start_after: Option<String>,
    /// Roll keys up to the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// At most this many entries (objects plus common prefixes).
    pub max: usize,
}

/// One entry of a listing page.
#[derive(Debug, Clone)]
pub enum ListEntry {
    /// An object (its `inline` bytes are not loaded).
    Object(ObjectRow),
    /// A common prefix, ending with the delimiter.
    CommonPrefix(String),
}

impl ListEntry {
    /// The key or prefix this entry sorts by.
    #[must_use]
    pub fn sort_key(&self) -> &str {
        match self {
            Self::Object(o) => &o.key,
            Self::CommonPrefix(p) => p,
        }
    }
}

/// A listing page.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Entries in key order.
    pub entries: Vec<ListEntry>,
    /// Whether more entries follow the last one.
    pub truncated: bool,
}

/// What multipart uploads to list.
#[derive(Debug, Clone, Default)]
pub struct UploadListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Start after this key (with `upload_id_marker`: after that upload of this key).
    pub key_marker: Option<String>,
    /// Start after this upload of `key_marker`.
    pub upload_id_marker: Option<String>,
    /// Roll keys up to the delimiter.
    pub delimiter: Option<String>,
    /// At most this many entries.
    pub max: usize,
}

/// A page of uploads and common prefixes.
#[derive(Debug, Clone, Default)]
pub struct UploadListPage {
    /// Uploads in (key, upload id) order.
    pub uploads: Vec<UploadRow>,
    /// Common prefixes.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub truncated: bool,
}

/// What ListObjectVersions asks for.
#[derive(Debug, Clone, Default)]
pub struct VersionListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Start at this key: after it, or (with `version_id_marker`) after that version of it.
    pub key_marker: Option<String>,
    /// Start after this version of `key_marker`.
    pub version_id_marker: Option<String>,
    /// Roll keys up to the delimiter.
    pub delimiter: Option<String>,
    /// At most this many entries (versions plus common prefixes).
    pub max: usize,
}

/// One entry of a version listing.
#[derive(Debug, Clone)]
pub enum VersionEntry {
    /// A version or delete marker (inline bytes not loaded).
    Version {
        /// The version.
        row: ObjectRow,
        /// Whether it is the current version.
        is_latest: bool,
    },
    /// A common prefix.
    CommonPrefix(String),
}

/// A page of versions, keys in order and each key's versions newest first.
#[derive(Debug, Clone, Default)]
pub struct VersionListPage {
    /// The entries.
    pub entries: Vec<VersionEntry>,
    /// Whether more follow.
    pub truncated: bool,
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` when there is none (empty prefix or all 0xFF).
#[must_use]
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// If `key` (which starts with `prefix`) contains `delimiter` after the
/// prefix, the common prefix it rolls up to.
#[must_use]
pub fn common_prefix<'a>(key: &'a str, prefix: &str, delimiter: Option<&str>) -> Option<&'a str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d).map(|pos| &key[..prefix.len() + pos + d.len()])
}

/// Drops the one extra entry a listing fetched to learn that it is
/// truncated: whichever of the last upload and the last prefix sorts last.
pub(crate) fn drop_last_upload_entry(page: &mut UploadListPage) {
    let last_upload = page.uploads.last().map(|u| u.key.clone());
    let last_cp = page.common_prefixes.last().cloned();
    match (last_upload, last_cp) {
        (Some(u), Some(c)) if c > u => {
            page.common_prefixes.pop();
        }
        (Some(_), _) => {
            page.uploads.pop();
        }
        (None, Some(_)) => {
            page.common_prefixes.pop();
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_increments_last_byte_and_drops_ff() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn common_prefix_after_prefix_only() {
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", Some("/")), None);
        assert_eq!(common_prefix("a/b", "", None), None);
        assert_eq!(common_prefix("x--y--z", "", Some("--")), Some("x--"));
    }
}
