//! Validation of bucket names and keys. Keys are opaque strings: they are
//! checked for length only and never touch the file system.

use crate::EngineError;

/// S3's key length limit in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks a bucket name against S3's rules for new buckets: 3-63 characters
/// of lower-case letters, digits, dots and hyphens, starting and ending with
/// a letter or digit, no `..`, not an IP address, none of the reserved
/// prefixes and suffixes.
///
/// # Errors
/// [`EngineError::InvalidBucketName`] naming the broken rule.
pub fn validate_bucket_name(name: &str) -> Result<(), EngineError> {
    let bad = |why: &str| Err(EngineError::InvalidBucketName(format!("{name}: {why}")));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("may hold only lower-case letters, digits, dots and hyphens");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return bad("must start and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("must not hold two adjacent dots or a dot next to a hyphen");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be formatted as an IP address");
    }
    // `minio` is reserved as on MinIO: the health and admin APIs live under `/minio/`.
    if name == "minio" {
        return bad("is reserved");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
        || name.ends_with("--x-s3")
    {
        return bad("uses a reserved prefix or suffix");
    }
    Ok(())
}

/// Checks an object key: non-empty, at most 1024 bytes.
///
/// # Errors
/// [`EngineError::KeyTooLong`] or [`EngineError::InvalidArgument`].
pub fn validate_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty() {
        return Err(EngineError::InvalidArgument(
            "The key must not be empty".into(),
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(EngineError::KeyTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        for ok in ["abc", "my-bucket.example", "a1b2c3", "uploads"] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "a_b",
            "xn--abc",
            &"a".repeat(64),
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_rules() {
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(
            validate_key(&"k".repeat(1025)),
            Err(EngineError::KeyTooLong)
        ));
        assert!(validate_key("../../etc/passwd").is_ok());
    }
}
