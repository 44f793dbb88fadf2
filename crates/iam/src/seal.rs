//! Sealing of stored secrets, so that the data folder never holds an access
//! key's secret in clear: a copied `meta.db` or backup alone does not let
//! anyone sign requests.
//!
//! The key is derived with HKDF-SHA256 from the master key when one is
//! configured, otherwise from the root secret (as MinIO encrypts its IAM
//! data with the root credentials), stretched first with Argon2id
//! ([`stretch`]) so that a copied `meta.db` does not allow fast offline
//! guessing of a weak root password: every guess costs an Argon2id run.
//! Secrets sealed under the earlier, unstretched derivation still open and
//! are re-sealed when the store opens. Each secret is sealed with AES-256-GCM
//! under a fresh random nonce, with the entry's config key as associated
//! data so that a sealed value cannot be moved to another user.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// Seals and opens stored secrets.
pub struct Sealer {
    /// The current key first (it seals), then earlier ones (they only open).
    keys: Vec<RandomizedNonceKey>,
}

struct Len32;
impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

const NONCE_LEN: usize = 12;

fn derive(material: &[u8]) -> RandomizedNonceKey {
    let mut key = [0u8; 32];
    Salt::new(HKDF_SHA256, b"almacen-iam-v1")
        .extract(material)
        .expand(&[b"iam secrets"], Len32)
        .and_then(|okm| okm.fill(&mut key))
        .expect("HKDF-SHA256 can produce 32 bytes");
    RandomizedNonceKey::new(&AES_256_GCM, &key).expect("32 bytes is an AES-256 key")
}

/// Argon2id cost: 19 MiB, 2 passes, 1 lane (OWASP's minimum for
/// Argon2id), about 30 ms once per server start.
const STRETCH_MEMORY_KIB: u32 = 19 * 1024;
const STRETCH_PASSES: u32 = 2;

/// The root secret stretched with Argon2id into key material for
/// [`Sealer::new`]. The salt is fixed per root user (the access key, with a
/// domain label): the root secret is the only input a copied data folder
/// lacks, and it must derive the same key on every node and restart.
#[must_use]
pub fn stretch(root_access_key: &str, root_secret: &str) -> [u8; 32] {
    let params = argon2::Params::new(STRETCH_MEMORY_KIB, STRETCH_PASSES, 1, Some(32))
        .expect("constant Argon2 parameters are valid");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = format!("almacen-iam-seal-v2:{root_access_key}");
    let mut out = [0u8; 32];
    argon
        .hash_password_into(root_secret.as_bytes(), salt.as_bytes(), &mut out)
        .expect("the salt is longer than 8 bytes and the output 32");
    out
}

impl Sealer {
    /// A sealer whose key is derived from `root_key_material` (the master key
    /// or the root secret).
    #[must_use]
    pub fn new(root_key_material: &[u8]) -> Self {
        Self::with_previous(root_key_material, &[])
    }

    /// A sealer that seals under `current` and also opens what was sealed
    /// under `previous` materials (earlier master keys, or the root secret
    /// before a master key was configured), so that changing the key does
    /// not lock users out; [`Sealer::is_current`] tells what to re-seal.
    #[must_use]
    pub fn with_previous(current: &[u8], previous: &[&[u8]]) -> Self {
        let mut keys = vec![derive(current)];
        keys.extend(
            previous
                .iter()
                .filter(|p| **p != current)
                .map(|p| derive(p)),
        );
        Self { keys }
    }

    /// Whether `sealed` opens under the current key.
    #[must_use]
    pub fn is_current(&self, context: &str, sealed: &str) -> bool {
        open_with(&self.keys[0], context, sealed).is_some()
    }

    /// `secret` sealed for the entry `context`, as base64 (nonce, ciphertext, tag).
    #[must_use]
    pub fn seal(&self, context: &str, secret: &str) -> String {
        let mut buf = secret.as_bytes().to_vec();
        let nonce = self.keys[0]
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buf)
            .expect("AES-GCM sealing of a short secret cannot fail");
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        B64.encode(out)
    }

    /// The secret sealed by [`Sealer::seal`] for `context`, or `None` when it
    /// was sealed under another key (the root secret changed) or altered.
    #[must_use]
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        self.keys.iter().find_map(|k| open_with(k, context, sealed))
    }
}

fn open_with(key: &RandomizedNonceKey, context: &str, sealed: &str) -> Option<String> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let s = Sealer::new(b"root-secret");
        let sealed = s.seal("iam/users/alice", "alice-secret-1");
        assert!(!sealed.contains("alice-secret-1"));
        assert_eq!(
            s.open("iam/users/alice", &sealed).as_deref(),
            Some("alice-secret-1")
        );
        // Fresh nonce each time.
        assert_ne!(sealed, s.seal("iam/users/alice", "alice-secret-1"));
        // Moved to another entry, another key, or altered: refused.
        assert_eq!(s.open("iam/users/bob", &sealed), None);
        assert_eq!(Sealer::new(b"other").open("iam/users/alice", &sealed), None);
        let mut raw = B64.decode(&sealed).unwrap();
        raw[14] ^= 1;
        assert_eq!(s.open("iam/users/alice", &B64.encode(raw)), None);
    }
}
