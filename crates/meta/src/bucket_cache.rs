//! Bucket rows kept in memory: every request reads its bucket's row (the
//! access check for the bucket policy and ACL, then the handler for
//! versioning, encryption, lock settings), and a bucket changes rarely. A
//! read through the cache costs a hash lookup instead of a trip to a blocking
//! thread and SQLite.
//!
//! Coherence: every commit that touches a bucket row empties the cache and
//! bumps a generation after it lands; a row read from SQLite is only kept
//! if no such commit happened while it was read, so a stale row can never
//! outlive the commit that changed it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{BucketRow, WriteOp};

/// At most this many names are remembered (present or missing); past it the
/// cache starts over, so names probed by clients cannot grow it unbounded.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
struct State {
    generation: u64,
    rows: HashMap<String, Option<BucketRow>>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct BucketCache {
    state: Mutex<State>,
}

impl BucketCache {
    /// The cached answer for `name` (`Some(None)`: known to be missing), and
    /// the generation to pass to [`BucketCache::insert`] after a miss.
    pub(crate) fn get(&self, name: &str) -> (Option<Option<BucketRow>>, u64) {
        let Ok(s) = self.state.lock() else {
            return (None, u64::MAX);
        };
        (s.rows.get(name).cloned(), s.generation)
    }

    /// Keeps a row read from the store at `generation`, unless a bucket
    /// commit landed since.
    pub(crate) fn insert(&self, name: &str, row: Option<BucketRow>, generation: u64) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.generation != generation {
            return;
        }
        if s.rows.len() >= MAX_ENTRIES {
            s.rows.clear();
        }
        s.rows.insert(name.to_owned(), row);
    }

    /// Forgets everything; called after every commit that touches a bucket row.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.generation = s.generation.wrapping_add(1);
            s.rows.clear();
        }
    }

    /// Whether committing `ops` can change what [`BucketCache::get`] answers.
    pub(crate) fn touched_by(ops: &[WriteOp]) -> bool {
        ops.iter().any(|op| {
            matches!(
                op,
                WriteOp::CreateBucket(_) | WriteOp::SetBucketAttrs { .. } | WriteOp::DeleteBucket { .. }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attrs: &[u8]) -> BucketRow {
        BucketRow {
            name: "b".into(),
            created_ms: 1,
            region: "us-east-1".into(),
            attrs: attrs.to_vec(),
        }
    }

    #[test]
    fn a_read_racing_a_commit_is_not_kept() {
        let c = BucketCache::default();
        let (hit, generation) = c.get("b");
        assert!(hit.is_none());
        // A commit lands while the old row is being read.
        c.invalidate();
        c.insert("b", Some(row(b"old")), generation);
        assert!(c.get("b").0.is_none());
        let (_, generation) = c.get("b");
        c.insert("b", Some(row(b"new")), generation);
        assert_eq!(c.get("b").0, Some(Some(row(b"new"))));
        c.invalidate();
        assert!(c.get("b").0.is_none());
    }
}
