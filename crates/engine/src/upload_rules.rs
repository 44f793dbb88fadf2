//! Upload rules: per bucket, optionally per key prefix, a maximum object
//! size and the content types allowed. No S3 server has them; the seed apps
//! check uploads by hand, after the bytes have landed.
//!
//! The engine enforces them where every upload path meets, before the
//! metadata commit: [`crate::Engine::commit_object`] (PUT, presigned PUT,
//! POST form, copy) and [`crate::Engine::complete_upload`]. So a refused
//! upload stores nothing. The declared Content-Type must be allowed, and
//! the first bytes must really be of that type when it is one we can
//! recognize (JPEG, PNG, GIF, WebP, HEIC/HEIF, MP4/QuickTime, PDF, ...): a
//! PDF sent as `image/jpeg` is refused.

use crate::EngineError;

/// One rule. The rule with the longest matching prefix applies to a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadRule {
    /// Keys starting with this (empty: the whole bucket).
    #[serde(default)]
    pub prefix: String,
    /// Largest object allowed, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Allowed content types; `image/*` allows a family. Empty: any type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
}

/// The rule for `key`: the one with the longest matching prefix.
#[must_use]
pub fn rule_for<'a>(rules: &'a [UploadRule], key: &str) -> Option<&'a UploadRule> {
    rules
        .iter()
        .filter(|r| key.starts_with(&r.prefix))
        .max_by_key(|r| r.prefix.len())
}

/// The content type the leading bytes show, for the types we recognize.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| head.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("image/gif");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if starts(b"%PDF-") {
        return Some("application/pdf");
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(match &head[8..12] {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"hevm" | b"hevs" => {
                "image/heic"
            }
            b"mif1" | b"msf1" | b"avif" => "image/heif",
            b"qt  " => "video/quicktime",
            _ => "video/mp4",
        });
    }
    if starts(b"PK\x03\x04") {
        return Some("application/zip");
    }
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        return Some("video/webm");
    }
    None
}

/// The types the sniffer can tell, so a declared one must match the bytes.
const SNIFFABLE: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/heif",
    "video/mp4",
    "video/quicktime",
    "application/pdf",
    "application/zip",
    "video/webm",
];

/// Lower-cases and strips parameters; folds common aliases.
fn normalize(t: &str) -> String {
    let t = t
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match t.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        "image/heic-sequence" => "image/heic".into(),
        "image/heif-sequence" | "image/avif" => "image/heif".into(),
        _ => t,
    }
}

/// Whether the bytes' type and the declared one agree (HEIC and HEIF share
/// a container, and so do MP4 and QuickTime).
fn same_kind(sniffed: &str, declared: &str) -> bool {
    let family = |t: &str| {
        match t {
            "image/heic" | "image/heif" => "heif",
            "video/mp4" | "video/quicktime" | "video/x-m4v" | "audio/mp4" => "isobmff",
            other => other,
        }
        .to_owned()
    };
    family(sniffed) == family(declared)
}

fn allowed(rule: &UploadRule, declared: &str) -> bool {
    rule.content_types.is_empty()
        || rule.content_types.iter().any(|p| {
            let p = normalize(p);
            p == declared
                || p.strip_suffix("/*")
                    .is_some_and(|family| declared.split('/').next() == Some(family))
        })
}

fn name(rule: &UploadRule) -> String {
    if rule.prefix.is_empty() {
        "the bucket's upload rule".to_owned()
    } else {
        format!("the upload rule for prefix '{}'", rule.prefix)
    }
}

/// Checks what is known before the bytes arrive: the declared type and length.
///
/// # Errors
/// [`EngineError::UploadTooLarge`] or [`EngineError::UploadRefused`], naming the rule.
pub fn check_declared(
    rule: &UploadRule,
    content_type: Option<&str>,
    size: Option<u64>,
) -> Result<(), EngineError> {
    if let (Some(max), Some(size)) = (rule.max_size, size)
        && size > max
    {
        return Err(EngineError::UploadTooLarge(format!(
            "The object is {size} bytes; {} allows at most {max} bytes",
            name(rule)
        )));
    }
    if !rule.content_types.is_empty() {
        let declared = normalize(content_type.unwrap_or(""));
        if !allowed(rule, &declared) {
            return Err(EngineError::UploadRefused(format!(
                "Content-Type '{}' is not allowed by {} (allowed: {})",
                content_type.unwrap_or(""),
                name(rule),
                rule.content_types.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks a whole upload: declared type and final size, and that the first
/// bytes are what the declared type says.
///
/// # Errors
/// As [`check_declared`]; [`EngineError::UploadRefused`] when the bytes are
/// of another type.
pub fn check_upload(
    rule: &UploadRule,
    content_type: Option<&str>,
    size: u64,
    head: &[u8],
) -> Result<(), EngineError> {
    check_declared(rule, content_type, Some(size))?;
    if rule.content_types.is_empty() {
        return Ok(());
    }
    let declared = normalize(content_type.unwrap_or(""));
    let sniffed = sniff(head);
    let agrees = match sniffed {
        Some(s) => same_kind(s, &declared),
        None => !SNIFFABLE.contains(&declared.as_str()),
    };
    if agrees {
        Ok(())
    } else {
        Err(EngineError::UploadRefused(format!(
            "The object's bytes are {} but its Content-Type says '{}'; refused by {}",
            sniffed.unwrap_or("not a recognized file type"),
            content_type.unwrap_or(""),
            name(rule)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    const PDF: &[u8] = b"%PDF-1.7\n%...";

    fn seed_001() -> UploadRule {
        UploadRule {
            prefix: "products/".into(),
            max_size: Some(2 * 1024 * 1024),
            content_types: ["image/jpeg", "image/png", "image/gif", "image/webp"]
                .map(str::to_owned)
                .to_vec(),
        }
    }

    #[test]
    fn sniffs_common_types() {
        assert_eq!(sniff(JPEG), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff(b"\x00\x00\x00\x18ftypheic\x00\x00"),
            Some("image/heic")
        );
        assert_eq!(
            sniff(b"\x00\x00\x00\x18ftypmif1\x00\x00"),
            Some("image/heif")
        );
        assert_eq!(
            sniff(b"\x00\x00\x00\x20ftypisom\x00\x00"),
            Some("video/mp4")
        );
        assert_eq!(
            sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00"),
            Some("video/quicktime")
        );
        assert_eq!(sniff(PDF), Some("application/pdf"));
        assert_eq!(sniff(b"hello world"), None);
    }

    #[test]
    fn seed_001_rule() {
        let r = seed_001();
        assert!(check_upload(&r, Some("image/jpeg"), 1000, JPEG).is_ok());
        assert!(check_upload(&r, Some("image/jpg"), 1000, JPEG).is_ok());
        // A PDF sent as a JPEG.
        assert!(matches!(
            check_upload(&r, Some("image/jpeg"), 1000, PDF),
            Err(EngineError::UploadRefused(_))
        ));
        // A type the rule does not allow.
        assert!(matches!(
            check_upload(&r, Some("application/pdf"), 1000, PDF),
            Err(EngineError::UploadRefused(_))
        ));
        // Too big.
        assert!(matches!(
            check_upload(&r, Some("image/jpeg"), 3 << 20, JPEG),
            Err(EngineError::UploadTooLarge(_))
        ));
        // No type at all.
        assert!(check_declared(&r, None, None).is_err());
    }

    #[test]
    fn longest_prefix_wins_and_families() {
        let rules = vec![
            UploadRule {
                prefix: String::new(),
                max_size: Some(10),
                content_types: vec![],
            },
            UploadRule {
                prefix: "videos/".into(),
                max_size: None,
                content_types: vec!["video/*".into()],
            },
        ];
        assert_eq!(rule_for(&rules, "videos/a.mp4").unwrap().prefix, "videos/");
        assert_eq!(rule_for(&rules, "docs/a").unwrap().prefix, "");
        let v = &rules[1];
        assert!(
            check_upload(
                v,
                Some("video/quicktime"),
                99,
                b"\x00\x00\x00\x20ftypisom\x00\x00"
            )
            .is_ok()
        );
        assert!(check_upload(v, Some("image/png"), 99, b"\x89PNG\r\n\x1a\n").is_err());
    }
}
