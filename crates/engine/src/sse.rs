//! Server-side encryption with server-managed keys (SSE-S3).
//!
//! Each object gets its own random 256-bit key. That key seals the object's
//! bytes (see `almacen_blob::crypt`), and is itself sealed under the master
//! key with AES-256-GCM, the object's bucket and key serving as associated
//! data. The master key is configured like MinIO's single-key KMS:
//! `MINIO_KMS_SECRET_KEY=name:base64-of-32-bytes`. Without one, requests for
//! encryption are refused as MinIO refuses them (KMS not configured); the
//! server never invents a key that would sit next to the data.

use almacen_blob::crypt::ObjectKey;
use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::{Engine, EngineError};

/// The master key that seals object keys.
pub struct MasterKey {
    name: String,
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Parses `name:base64` (32 bytes of key), MinIO's `MINIO_KMS_SECRET_KEY` format.
    ///
    /// # Errors
    /// A message saying what is wrong (never the key).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, b64) = spec
            .trim()
            .split_once(':')
            .ok_or("the KMS secret key must look like NAME:BASE64 (32 bytes, base64)")?;
        if name.is_empty() {
            return Err("the KMS secret key needs a name before ':'".into());
        }
        let raw = B64
            .decode(b64.trim())
            .map_err(|_| "the KMS secret key is not valid base64")?;
        if raw.len() != 32 {
            return Err(format!(
                "the KMS secret key must be 32 bytes, not {}",
                raw.len()
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            key: RandomizedNonceKey::new(&AES_256_GCM, &raw).map_err(|_| "bad key")?,
        })
    }

    /// The key's name, recorded with each object it seals.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seals arbitrary bytes (sealed object metadata) for `context`.
    pub(crate) fn seal_bytes(&self, plain: &[u8], context: &str) -> String {
        seal_under(&self.key, plain, context)
    }

    /// Opens what [`MasterKey::seal_bytes`] sealed for `context`.
    pub(crate) fn open_bytes(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        open_under(&self.key, sealed, context)
    }

    fn seal(&self, object_key: &ObjectKey, context: &str) -> String {
        seal_under(&self.key, &object_key.0, context)
    }

    fn open(&self, sealed: &str, context: &str) -> Option<ObjectKey> {
        Some(ObjectKey(
            open_under(&self.key, sealed, context)?.try_into().ok()?,
        ))
    }
}

/// AES-256-GCM under `key` with `context` as associated data: base64 of
/// the random nonce, the ciphertext and the tag.
fn seal_under(key: &RandomizedNonceKey, plain: &[u8], context: &str) -> String {
    let mut buf = plain.to_vec();
    let nonce = key
        .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buf)
        .expect("AES-GCM sealing of key- and metadata-sized input cannot fail");
    let mut out = nonce.as_ref().to_vec();
    out.extend_from_slice(&buf);
    B64.encode(out)
}

/// Opens what [`seal_under`] sealed; `None` for a wrong key, context or tampering.
fn open_under(key: &RandomizedNonceKey, sealed: &str, context: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < 12 {
        return None;
    }
    let (nonce, body) = raw.split_at(12);
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).ok()?,
            Aad::from(context.as_bytes()),
            &mut body,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// How an object (or an upload's parts) is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SseAttrs {
    /// `AES256` (SSE-S3 and SSE-C) or `aws:kms` (SSE-KMS).
    pub algorithm: String,
    /// The master key's name.
    pub key_id: String,
    /// The object key, sealed under the master key (SSE-S3) or under the
    /// customer's key (SSE-C).
    pub sealed_key: String,
    /// SSE-C: the base64 MD5 of the customer's key, to tell a wrong key
    /// from a right one (the key itself is never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_md5: Option<String>,
}

impl SseAttrs {
    /// Whether the customer holds the key (SSE-C).
    #[must_use]
    pub fn is_customer_key(&self) -> bool {
        self.customer_key_md5.is_some()
    }
}

/// Seals or opens an object key under a 256-bit key (the customer's, for SSE-C).
fn seal_with(key: &[u8; 32], object_key: &ObjectKey, context: &str) -> String {
    let k = RandomizedNonceKey::new(&AES_256_GCM, key).expect("32-byte key");
    seal_under(&k, &object_key.0, context)
}

fn open_with(key: &[u8; 32], sealed: &str, context: &str) -> Option<ObjectKey> {
    let k = RandomizedNonceKey::new(&AES_256_GCM, key).ok()?;
    Some(ObjectKey(open_under(&k, sealed, context)?.try_into().ok()?))
}

fn context(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

impl Engine {
    /// Sets the master key (none: encryption requests are refused).
    pub fn set_master_key(&mut self, key: Option<MasterKey>) {
        self.master_key = key.map(std::sync::Arc::new);
    }

    /// Sets the keys used before the current one: they still open object
    /// keys sealed under them until `almacen admin kms rotate` has re-sealed
    /// those under the current key.
    pub fn set_previous_keys(&mut self, keys: Vec<MasterKey>) {
        self.previous_keys = std::sync::Arc::new(keys);
    }

    /// Sets further active keys (`ALMACEN_KMS_KEYS`): SSE-KMS requests and
    /// bucket defaults that name one by its key id are sealed under it, as
    /// with a KMS that holds several keys. Rotation leaves them alone.
    pub fn set_extra_keys(&mut self, keys: Vec<MasterKey>) {
        self.extra_keys = std::sync::Arc::new(keys);
    }

    /// The names of the current key, the further active keys and the previous keys.
    #[must_use]
    pub fn key_names(&self) -> (Option<String>, Vec<String>, Vec<String>) {
        let names = |v: &[MasterKey]| v.iter().map(|k| k.name().to_owned()).collect();
        (
            self.master_key.as_ref().map(|k| k.name().to_owned()),
            names(&self.extra_keys),
            names(&self.previous_keys),
        )
    }

    /// Every configured key: current, active, previous.
    pub(crate) fn all_keys(&self) -> impl Iterator<Item = &MasterKey> {
        self.master_key
            .iter()
            .map(|k| &**k)
            .chain(self.extra_keys.iter())
            .chain(self.previous_keys.iter())
    }

    /// The key that seals a new object: the one `kms_key_id` names when it
    /// is the current or an active key, else the current key (also for the
    /// name of a previous key: a request naming a retired key keeps
    /// working after a rotation).
    fn key_for_new(&self, kms_key_id: Option<&str>) -> Result<&MasterKey, EngineError> {
        let mk = self
            .master_key
            .as_deref()
            .ok_or(EngineError::KmsNotConfigured)?;
        let Some(id) = kms_key_id else {
            return Ok(mk);
        };
        if id == mk.name() || self.previous_keys.iter().any(|k| k.name() == id) {
            return Ok(mk);
        }
        self.extra_keys
            .iter()
            .find(|k| k.name() == id)
            .ok_or_else(|| EngineError::KmsKeyNotFound(id.to_owned()))
    }

    /// Opens an object key sealed under whichever configured master key
    /// sealed it (the one `sse.key_id` names first, then the others).
    fn open_sealed(&self, sse: &SseAttrs, bucket: &str, key: &str) -> Option<ObjectKey> {
        let ctx = context(bucket, key);
        self.all_keys()
            .filter(|k| k.name() == sse.key_id)
            .chain(self.all_keys().filter(|k| k.name() != sse.key_id))
            .find_map(|k| k.open(&sse.sealed_key, &ctx))
    }

    /// `sse` re-sealed under the current master key, or `None` when it
    /// already is (or is SSE-C, whose key only the client holds).
    ///
    /// # Errors
    /// `KmsNotConfigured`, or `Internal` when no configured key opens it.
    pub(crate) fn reseal(
        &self,
        sse: &SseAttrs,
        bucket: &str,
        key: &str,
    ) -> Result<Option<SseAttrs>, EngineError> {
        let mk = self
            .master_key
            .as_ref()
            .ok_or(EngineError::KmsNotConfigured)?;
        let active =
            sse.key_id == mk.name() || self.extra_keys.iter().any(|k| k.name() == sse.key_id);
        if sse.is_customer_key() || active {
            return Ok(None);
        }
        let object_key = self.open_sealed(sse, bucket, key).ok_or_else(|| {
            EngineError::Internal(format!(
                "no configured master key opens the key of {bucket}/{key} (sealed under {})",
                sse.key_id
            ))
        })?;
        Ok(Some(SseAttrs {
            key_id: mk.name().to_owned(),
            sealed_key: mk.seal(&object_key, &context(bucket, key)),
            ..sse.clone()
        }))
    }

    /// A new object key for `bucket/key` sealed under the master key, and
    /// the attributes that record it. `algorithm` is `AES256` (SSE-S3) or
    /// `aws:kms` (SSE-KMS), whose `kms_key_id`, when given, must name the
    /// configured key: there is one master key, as in MinIO's single-key KMS.
    ///
    /// # Errors
    /// `KmsNotConfigured` without a master key, `KmsKeyNotFound` for another key id.
    pub fn new_sse(
        &self,
        bucket: &str,
        key: &str,
        algorithm: &str,
        kms_key_id: Option<&str>,
    ) -> Result<(ObjectKey, SseAttrs), EngineError> {
        let mk = self.key_for_new(kms_key_id)?;
        let object_key = ObjectKey::random();
        let attrs = SseAttrs {
            algorithm: algorithm.to_owned(),
            key_id: mk.name().to_owned(),
            sealed_key: mk.seal(&object_key, &context(bucket, key)),
            customer_key_md5: None,
        };
        Ok((object_key, attrs))
    }

    /// Checks that a default-encryption setting can be honoured.
    ///
    /// # Errors
    /// As [`Engine::new_sse`].
    pub fn check_kms_key(&self, kms_key_id: Option<&str>) -> Result<(), EngineError> {
        self.key_for_new(kms_key_id).map(|_| ())
    }

    /// A new object key for `bucket/key` sealed under the customer's key (SSE-C).
    #[must_use]
    pub fn new_sse_c(
        &self,
        bucket: &str,
        key: &str,
        customer: &[u8; 32],
        md5_b64: &str,
    ) -> (ObjectKey, SseAttrs) {
        let object_key = ObjectKey::random();
        let attrs = SseAttrs {
            algorithm: "AES256".into(),
            key_id: String::new(),
            sealed_key: seal_with(customer, &object_key, &context(bucket, key)),
            customer_key_md5: Some(md5_b64.to_owned()),
        };
        (object_key, attrs)
    }

    /// The object key of an SSE-C object, with the customer's key.
    ///
    /// # Errors
    /// `Internal` when the key does not open it (the caller checks the MD5 first).
    pub fn object_key_c(
        &self,
        sse: &SseAttrs,
        bucket: &str,
        key: &str,
        customer: &[u8; 32],
    ) -> Result<ObjectKey, EngineError> {
        open_with(customer, &sse.sealed_key, &context(bucket, key)).ok_or_else(|| {
            EngineError::Internal(format!("the customer key does not open {bucket}/{key}"))
        })
    }

    /// The object key recorded in `sse` for `bucket/key`.
    ///
    /// # Errors
    /// `KmsNotConfigured`, or `Internal` when the key cannot be unsealed
    /// (a master key no longer configured, or tampered metadata).
    pub fn object_key(
        &self,
        sse: &SseAttrs,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectKey, EngineError> {
        if self.master_key.is_none() {
            return Err(EngineError::KmsNotConfigured);
        }
        self.open_sealed(sse, bucket, key).ok_or_else(|| {
            EngineError::Internal(format!(
                "the key of {bucket}/{key} cannot be unsealed by any configured master key (sealed under {})",
                sse.key_id
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_parse_and_seal() {
        let spec = format!("my-key:{}", B64.encode([7u8; 32]));
        let mk = MasterKey::parse(&spec).unwrap();
        let ok = ObjectKey::random();
        let sealed = mk.seal(&ok, "b/k");
        assert_eq!(mk.open(&sealed, "b/k").unwrap().0, ok.0);
        assert!(mk.open(&sealed, "b/other").is_none());
        assert!(MasterKey::parse("nokey").is_err());
        assert!(MasterKey::parse("n:aGVsbG8=").is_err());
        assert!(!format!("{mk:?}").contains("7"));
    }
}
