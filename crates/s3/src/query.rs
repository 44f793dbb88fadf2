//! The request's query string, decoded once the way s3s decodes it.
//!
//! Authorization, the front's own checks and the audit log must see the
//! parameters s3s acts on. s3s decodes names and values with
//! `application/x-www-form-urlencoded` rules (`serde_urlencoded`, which is
//! `form_urlencoded`), so `?version%49d=1` is `versionId=1` and
//! `X-Amz-%45xpires=9` is `X-Amz-Expires=9` to it. Matching the raw string
//! instead lets a client name a parameter that the check does not see and
//! the operation does: every reader of the query goes through here.

/// The decoded `(name, value)` pairs of a request's query, in order.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `uri`'s query (empty when it has none).
    #[must_use]
    pub fn of(uri: &http::Uri) -> Self {
        Self::parse(uri.query().unwrap_or(""))
    }

    /// Decodes a raw query string.
    #[must_use]
    pub fn parse(raw: &str) -> Self {
        Self {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The first value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_as_s3s_decodes_them() {
        let q = Query::parse("version%49d=abc&pre%66ix=tenant-b%2F&X-Amz-%45xpires=9&a+b=c+d&flag");
        assert_eq!(q.get("versionId"), Some("abc"));
        assert_eq!(q.get("prefix"), Some("tenant-b/"));
        assert_eq!(q.get("X-Amz-Expires"), Some("9"));
        assert_eq!(q.get("a b"), Some("c d"));
        assert!(q.has("flag"));
        assert_eq!(q.get("flag"), Some(""));
        assert!(!q.has("version%49d"));
    }

    #[test]
    fn every_value_of_a_repeated_name() {
        let q = Query::parse("versionId=1&versionId=2");
        assert_eq!(q.all("versionId").collect::<Vec<_>>(), ["1", "2"]);
    }
}
