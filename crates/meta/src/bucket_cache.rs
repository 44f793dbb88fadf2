//! Per-bucket facts kept in memory: every request reads its bucket's row
//! (the access check for the bucket policy and ACL, then the handler for
//! versioning, encryption, lock settings) and every upload its bucket's
//! quota, and both change rarely. A read through the cache costs a hash
//! lookup instead of a trip to a blocking thread and SQLite.
//!
//! Coherence: every commit that changes what a cache holds empties it and
//! bumps its generation after it lands; a value read from SQLite is only
//! kept if no such commit happened while it was read, so a stale value can
//! never outlive the commit that changed it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::WriteOp;

/// At most this many names are remembered (present or missing); past it the
/// cache starts over, so names probed by clients cannot grow it unbounded.
const MAX_ENTRIES: usize = 4096;

struct State<V> {
    generation: u64,
    rows: HashMap<String, V>,
}

/// One value per bucket name; see the module documentation.
pub(crate) struct BucketCache<V> {
    state: Mutex<State<V>>,
    /// Which commits change the cached values.
    changed_by: fn(&WriteOp) -> bool,
}

impl<V: Clone> BucketCache<V> {
    /// An empty cache emptied again by every commit with an op for which
    /// `changed_by` is true.
    pub(crate) fn new(changed_by: fn(&WriteOp) -> bool) -> Self {
        Self {
            state: Mutex::new(State {
                generation: 0,
                rows: HashMap::new(),
            }),
            changed_by,
        }
    }

    /// The cached value for `name`, and the generation to pass to
    /// [`BucketCache::insert`] after a miss.
    pub(crate) fn get(&self, name: &str) -> (Option<V>, u64) {
        let Ok(s) = self.state.lock() else {
            return (None, u64::MAX);
        };
        (s.rows.get(name).cloned(), s.generation)
    }

    /// Keeps a value read from the store at `generation`, unless a commit
    /// that changes it landed since.
    pub(crate) fn insert(&self, name: &str, value: V, generation: u64) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.generation != generation {
            return;
        }
        if s.rows.len() >= MAX_ENTRIES {
            s.rows.clear();
        }
        s.rows.insert(name.to_owned(), value);
    }

    /// Called by the writer thread after each commit, before any caller
    /// hears of it: forgets everything if `ops` change cached values.
    pub(crate) fn committed(&self, ops: &[WriteOp]) {
        if !ops.iter().any(self.changed_by) {
            return;
        }
        if let Ok(mut s) = self.state.lock() {
            s.generation = s.generation.wrapping_add(1);
            s.rows.clear();
        }
    }
}

/// Bucket rows (name, region, configuration) change with these ops.
pub(crate) fn changes_row(op: &WriteOp) -> bool {
    matches!(
        op,
        WriteOp::CreateBucket(_) | WriteOp::SetBucketAttrs { .. } | WriteOp::DeleteBucket { .. }
    )
}

/// Bucket quotas change with these ops.
pub(crate) fn changes_quota(op: &WriteOp) -> bool {
    matches!(
        op,
        WriteOp::CreateBucket(_) | WriteOp::SetBucketQuota { .. } | WriteOp::DeleteBucket { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BucketRow;

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
        let c = BucketCache::new(changes_row);
        let (hit, generation) = c.get("b");
        assert!(hit.is_none());
        // A commit lands while the old row is being read.
        let change = [WriteOp::SetBucketAttrs {
            name: "b".into(),
            attrs: b"new".to_vec(),
            expected: None,
        }];
        c.committed(&change);
        c.insert("b", Some(row(b"old")), generation);
        assert!(c.get("b").0.is_none());
        let (_, generation) = c.get("b");
        c.insert("b", Some(row(b"new")), generation);
        assert_eq!(c.get("b").0, Some(Some(row(b"new"))));
        c.committed(&[WriteOp::SetBucketQuota {
            bucket: "b".into(),
            quota: None,
        }]);
        assert!(c.get("b").0.is_some(), "a quota does not change the row");
        c.committed(&change);
        assert!(c.get("b").0.is_none());
    }
}
