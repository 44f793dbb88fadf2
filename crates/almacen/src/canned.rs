//! Canned bucket policies by name, shared by `almacen admin bucket-policy set`
//! and start-up provisioning (`ALMACEN_BUCKETS`), so one name means the same
//! access everywhere. The names are S3's canned ACLs and `mc anonymous`'s:
//! `private`/`none`, `public-read`/`download`, `upload`,
//! `public-read-write`/`public` (as `mc anonymous set public`: read AND write).

use serde_json::{Value, json};

/// The names [`policy_json`] knows, for error messages.
pub const NAMES: &str = "private, none, public-read, download, upload, public-read-write, public";

/// The bucket-policy JSON for a canned `name` on `bucket`: `Some(None)` for
/// `private` (no policy at all), `None` when the name is not a canned one.
pub fn policy_json(bucket: &str, name: &str) -> Option<Option<String>> {
    let list = json!({
        "Effect": "Allow", "Principal": {"AWS": ["*"]},
        "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
        "Resource": [format!("arn:aws:s3:::{bucket}")]
    });
    let get = json!({
        "Effect": "Allow", "Principal": {"AWS": ["*"]},
        "Action": ["s3:GetObject"],
        "Resource": [format!("arn:aws:s3:::{bucket}/*")]
    });
    let uploads = json!({
        "Effect": "Allow", "Principal": {"AWS": ["*"]},
        "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        "Resource": [format!("arn:aws:s3:::{bucket}")]
    });
    let put = json!({
        "Effect": "Allow", "Principal": {"AWS": ["*"]},
        "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        "Resource": [format!("arn:aws:s3:::{bucket}/*")]
    });
    let doc = |statements: Vec<Value>| {
        Some(Some(
            json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
        ))
    };
    match name {
        "private" | "none" => Some(None),
        "public-read" | "download" => doc(vec![list, get]),
        "upload" => doc(vec![uploads, put]),
        "public-read-write" | "public" => {
            let write = json!({
                "Effect": "Allow", "Principal": {"AWS": ["*"]},
                "Action": ["s3:ListBucketMultipartUploads"],
                "Resource": [format!("arn:aws:s3:::{bucket}")]
            });
            doc(vec![list, get, write, put])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_policies_that_parse() {
        for name in [
            "public-read",
            "download",
            "upload",
            "public",
            "public-read-write",
        ] {
            let doc = policy_json("uploads", name).unwrap().unwrap();
            almacen_iam::Policy::parse_bucket_policy(&doc, "uploads")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(policy_json("uploads", "private"), Some(None));
        assert_eq!(policy_json("uploads", "none"), Some(None));
        assert_eq!(policy_json("uploads", "./policy.json"), None);
    }

    #[test]
    fn public_read_allows_get_but_not_put() {
        let doc = policy_json("b", "public-read").unwrap().unwrap();
        assert!(doc.contains("s3:GetObject"));
        assert!(!doc.contains("s3:PutObject"));
    }
}
