//! Conditional request headers (If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since and their x-amz-copy-source-if-* twins), evaluated in
//! the order RFC 9110 section 13.2.2 gives.

use almacen_engine::ObjectInfo;
use s3s::dto::{ETagCondition, Timestamp};

/// The four conditions of a request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_unmodified_since: Option<&'a Timestamp>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
}

/// What the conditions say about the current object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve the request.
    Proceed,
    /// If-Match or If-Unmodified-Since failed: 412.
    PreconditionFailed,
    /// If-None-Match or If-Modified-Since failed: 304 on reads (412 on copies).
    NotModified,
}

/// HTTP dates have whole seconds; compare at that precision.
fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl Conditions<'_> {
    /// Evaluates against `info`. If-Match, when present, makes
    /// If-Unmodified-Since irrelevant; If-None-Match does the same for
    /// If-Modified-Since.
    pub(crate) fn evaluate(&self, info: &ObjectInfo) -> Verdict {
        let matches = |c: &ETagCondition| match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.value() == info.etag,
        };
        let mtime = secs(info.mtime_ms);
        let since = |t: &Timestamp| secs(crate::convert::ms(t));
        if let Some(c) = self.if_match {
            if !matches(c) {
                return Verdict::PreconditionFailed;
            }
        } else if let Some(t) = self.if_unmodified_since
            && mtime > since(t)
        {
            return Verdict::PreconditionFailed;
        }
        if let Some(c) = self.if_none_match {
            if matches(c) {
                return Verdict::NotModified;
            }
        } else if let Some(t) = self.if_modified_since
            && mtime <= since(t)
        {
            return Verdict::NotModified;
        }
        Verdict::Proceed
    }
}
