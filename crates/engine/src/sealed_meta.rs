//! Sealing the metadata of encrypted objects that reveals their content:
//! user metadata (`x-amz-meta-*`) and the checksums of the plaintext (a
//! CRC or SHA-256 of a small file is enough to confirm a guess of it).
//!
//! They are sealed with AES-256-GCM under the master key, with the object's
//! bucket and key as associated data, into `ObjectAttrs::sealed_meta`; the
//! engine seals when it writes a row and opens when it reads one, so the
//! rest of the code sees plain attributes. The master key never sits on the
//! data disk, so a stolen disk shows neither the bytes nor these fields.
//! Without a master key (SSE-C alone) they stay in clear, as MinIO keeps them.

use std::collections::BTreeMap;

use almacen_blob::Checksums;
use almacen_meta::ObjectRow;
use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError, ObjectAttrs, ObjectInfo};

/// What is sealed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Hidden {
    #[serde(default)]
    user: BTreeMap<String, String>,
    #[serde(default)]
    checksums: Checksums,
    #[serde(default)]
    part_checksums: Vec<String>,
}

/// The sealed form, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedMeta {
    /// The master key that sealed it.
    pub key_id: String,
    /// Nonce, ciphertext and tag, base64.
    pub data: String,
}

fn context(bucket: &str, key: &str) -> String {
    format!("almacen-meta-v1:{bucket}/{key}")
}

impl Engine {
    /// `attrs` encoded for the row of `bucket/key`, with the revealing
    /// fields sealed when the object is encrypted and a master key is set.
    /// Attributes whose sealed part was never opened pass through as they are.
    pub(crate) fn encode_attrs(&self, bucket: &str, key: &str, attrs: &ObjectAttrs) -> Vec<u8> {
        let Some(mk) = &self.master_key else {
            return attrs.encode();
        };
        if attrs.sse.is_none() || attrs.sealed_meta.is_some() {
            return attrs.encode();
        }
        let mut out = attrs.clone();
        let hidden = Hidden {
            user: std::mem::take(&mut out.headers.user),
            checksums: std::mem::take(&mut out.checksums),
            part_checksums: std::mem::take(&mut out.part_checksums),
        };
        let plain = serde_json::to_vec(&hidden).unwrap_or_default();
        out.sealed_meta = Some(SealedMeta {
            key_id: mk.name().to_owned(),
            data: mk.seal_bytes(&plain, &context(bucket, key)),
        });
        out.encode()
    }

    /// Decodes a row's attributes, opening the sealed fields with whichever
    /// configured master key sealed them. When none can, the fields stay
    /// empty and the sealed form is kept (and logged): never guessed.
    pub(crate) fn decode_attrs(
        &self,
        bucket: &str,
        key: &str,
        raw: &[u8],
    ) -> Result<ObjectAttrs, EngineError> {
        let mut attrs = ObjectAttrs::decode(raw)?;
        let Some(sealed) = &attrs.sealed_meta else {
            return Ok(attrs);
        };
        let ctx = context(bucket, key);
        let opened = self
            .all_keys()
            .filter(|k| k.name() == sealed.key_id)
            .find_map(|k| k.open_bytes(&sealed.data, &ctx))
            .and_then(|p| serde_json::from_slice::<Hidden>(&p).ok());
        match opened {
            Some(h) => {
                attrs.headers.user = h.user;
                attrs.checksums = h.checksums;
                attrs.part_checksums = h.part_checksums;
                attrs.sealed_meta = None;
            }
            None => tracing::warn!(%bucket, %key, key_id = %sealed.key_id,
                "the sealed metadata of an object cannot be opened by any configured master key"),
        }
        Ok(attrs)
    }

    /// An [`ObjectInfo`] of a row, its sealed fields opened.
    pub(crate) fn info(&self, row: ObjectRow) -> Result<ObjectInfo, EngineError> {
        let attrs = self.decode_attrs(&row.bucket, &row.key, &row.attrs)?;
        Ok(ObjectInfo::with_attrs(row, attrs))
    }
}
