//! The built-in policies every server has, with MinIO's names and contents,
//! so that `policy attach readwrite --user app` means on almacen what it
//! meant on MinIO. They cannot be changed or removed.

/// Read any object; find a bucket's region. (MinIO's `readonly` grants no listing.)
const READONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["s3:GetBucketLocation", "s3:GetObject"],
    "Resource": ["arn:aws:s3:::*"]
  }]
}"#;

/// Every S3 action on every bucket; no administration.
const READWRITE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["s3:*"],
    "Resource": ["arn:aws:s3:::*"]
  }]
}"#;

/// Upload objects, nothing else.
const WRITEONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["s3:PutObject"],
    "Resource": ["arn:aws:s3:::*"]
  }]
}"#;

/// Everything: S3, administration, KMS.
const CONSOLE_ADMIN: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["admin:*", "kms:*", "s3:*"],
    "Resource": ["arn:aws:s3:::*"]
  }]
}"#;

/// Server information, metrics and traces; no data access.
const DIAGNOSTICS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": [
      "admin:ServerInfo", "admin:ServerTrace", "admin:ConsoleLog", "admin:Profiling",
      "admin:TopLocksInfo", "admin:OBDInfo", "admin:BandwidthMonitor", "admin:Prometheus"
    ],
    "Resource": ["arn:aws:s3:::*"]
  }]
}"#;

/// The built-in policies by name, in listing order.
pub const CANNED_POLICIES: &[(&str, &str)] = &[
    ("consoleAdmin", CONSOLE_ADMIN),
    ("diagnostics", DIAGNOSTICS),
    ("readonly", READONLY),
    ("readwrite", READWRITE),
    ("writeonly", WRITEONLY),
];

/// The document of the built-in policy `name`, if it is one.
#[must_use]
pub fn canned_policy(name: &str) -> Option<&'static str> {
    CANNED_POLICIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, doc)| *doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Decision, Policy, Request};

    fn allows(policy: &str, action: &str, resource: &str) -> bool {
        let p = Policy::parse(canned_policy(policy).unwrap()).unwrap();
        p.evaluate(&Request {
            action,
            resource,
            principal: "u",
            context: &Context::new(),
        }) == Decision::Allow
    }

    #[test]
    fn canned_policies_parse_and_mean_what_minio_means() {
        for (name, doc) in CANNED_POLICIES {
            Policy::parse(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let obj = "arn:aws:s3:::b/k";
        let bucket = "arn:aws:s3:::b";
        assert!(allows("readonly", "s3:GetObject", obj));
        assert!(!allows("readonly", "s3:ListBucket", bucket));
        assert!(!allows("readonly", "s3:PutObject", obj));
        assert!(allows("writeonly", "s3:PutObject", obj));
        assert!(!allows("writeonly", "s3:GetObject", obj));
        assert!(allows("readwrite", "s3:DeleteObject", obj));
        assert!(!allows("readwrite", "admin:CreateUser", "arn:aws:s3:::*"));
        assert!(allows("consoleAdmin", "admin:CreateUser", "arn:aws:s3:::*"));
        assert!(allows("diagnostics", "admin:Prometheus", "arn:aws:s3:::*"));
        assert!(!allows("diagnostics", "s3:GetObject", obj));
    }
}
