//! What the engine keeps about an object beyond the indexed columns,
//! encoded as versioned JSON in the metadata row's `attrs`.

use std::collections::BTreeMap;

use almacen_blob::{Algorithm, Checksums};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// Current encoding version of [`ObjectAttrs`]. Readers accept every older one.
const ATTRS_VERSION: u32 = 1;

/// A canned ACL, the only ACL form almacen keeps. Grants it implies for
/// anonymous callers: `public-read` lets them read (list a bucket, get an
/// object), `public-read-write` on a bucket also lets them write objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CannedAcl {
    /// Owner only.
    Private,
    /// Everyone may read.
    PublicRead,
    /// Everyone may read and write (buckets).
    PublicReadWrite,
    /// Authenticated users may read.
    AuthenticatedRead,
    /// Object: the bucket owner may read (the owner already may).
    BucketOwnerRead,
    /// Object: the bucket owner has full control (the owner already has).
    BucketOwnerFullControl,
}

impl CannedAcl {
    /// Parses the `x-amz-acl` value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Self::Private,
            "public-read" => Self::PublicRead,
            "public-read-write" => Self::PublicReadWrite,
            "authenticated-read" => Self::AuthenticatedRead,
            "bucket-owner-read" => Self::BucketOwnerRead,
            "bucket-owner-full-control" => Self::BucketOwnerFullControl,
            _ => return None,
        })
    }

    /// Whether anonymous callers may read.
    #[must_use]
    pub fn public_read(self) -> bool {
        matches!(self, Self::PublicRead | Self::PublicReadWrite)
    }

    /// Whether anonymous callers may write (bucket ACLs only).
    #[must_use]
    pub fn public_write(self) -> bool {
        self == Self::PublicReadWrite
    }
}

/// Whether a multipart checksum covers the whole object or the part checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    /// Checksum of the concatenated part checksums, suffixed `-N`.
    Composite,
    /// Checksum of the whole object's bytes.
    FullObject,
}

impl ChecksumType {
    /// The S3 name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }
}

/// Content headers and user metadata, returned exactly as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    /// Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Content-Encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// Content-Disposition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// Content-Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// Cache-Control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// Expires, as an HTTP date string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// x-amz-meta-* without the prefix, keys lower-cased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
}

impl ContentHeaders {
    /// S3's limit: user metadata keys and values add up to at most 2 KiB.
    ///
    /// # Errors
    /// [`EngineError::MetadataTooLarge`] over the limit.
    pub fn check_size(&self) -> Result<(), EngineError> {
        let size: usize = self.user.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > 2048 {
            return Err(EngineError::MetadataTooLarge);
        }
        Ok(())
    }
}

/// Everything stored about an object besides size, ETag and time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttrs {
    /// Encoding version.
    #[serde(default)]
    pub v: u32,
    /// Content headers and user metadata.
    #[serde(flatten)]
    pub headers: ContentHeaders,
    /// Checksums of the object (full-object, or composite `...-N`).
    #[serde(default)]
    pub checksums: Checksums,
    /// The checksum the client chose, if any (returned on HEAD/GET with checksum mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<Algorithm>,
    /// For multipart objects: how `checksums` were formed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
    /// For multipart objects: the size of each part, in order (for `partNumber` reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_sizes: Vec<u64>,
    /// For multipart objects: each part's checksum in `checksum_algorithm`, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_checksums: Vec<String>,
    /// For multipart objects: the upload that made it, so a repeated
    /// CompleteMultipartUpload answers as the first one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// The object's canned ACL (none means private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<CannedAcl>,
    /// The object's tags (key, value), in the order they were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    /// Object-lock retention of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::Retention>,
    /// Whether a legal hold protects this version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// Server-side encryption of the bytes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<crate::SseAttrs>,
    /// Encrypted objects: user metadata and checksums, sealed (see
    /// `sealed_meta.rs`). Set only in stored rows; the engine opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_meta: Option<crate::sealed_meta::SealedMeta>,
}

/// Object or bucket tags: (key, value) pairs with distinct keys.
pub type Tags = Vec<(String, String)>;

impl ObjectAttrs {
    /// Encodes for the metadata row.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut me = self.clone();
        me.v = ATTRS_VERSION;
        serde_json::to_vec(&me).unwrap_or_default()
    }

    /// Decodes from the metadata row.
    ///
    /// # Errors
    /// Bytes that do not decode: reported, never guessed at.
    pub fn decode(bytes: &[u8]) -> Result<Self, EngineError> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|e| EngineError::Internal(format!("corrupt object attributes: {e}")))
    }
}

/// What is stored about a multipart upload until it completes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAttrs {
    /// Content headers and user metadata for the final object.
    #[serde(flatten)]
    pub headers: ContentHeaders,
    /// The checksum algorithm named at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<Algorithm>,
    /// The checksum type named at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
    /// The canned ACL for the final object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<CannedAcl>,
    /// The tags for the final object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    /// Retention for the final object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::Retention>,
    /// Legal hold for the final object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// Encryption of the parts and the final object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<crate::SseAttrs>,
}

impl UploadAttrs {
    /// Encodes for the upload row.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes from the upload row.
    ///
    /// # Errors
    /// Bytes that do not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, EngineError> {
        serde_json::from_slice(bytes)
            .map_err(|e| EngineError::Internal(format!("corrupt upload attributes: {e}")))
    }
}
