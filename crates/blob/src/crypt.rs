//! Encryption at rest of object bytes: AES-256-GCM in fixed-size packages,
//! so a Range read decrypts only the packages it touches and a tampered
//! package fails authentication instead of being served.
//!
//! A sealed blob is an 8-byte random nonce prefix, then the packages: each
//! 64 KiB of plaintext (the last one shorter, possibly empty) sealed with
//! the object's key under the nonce `prefix || package index` and with
//! "is this the last package" as associated data, so truncating or
//! reordering packages is detected too. Every blob of an object (each part
//! of a multipart object) has its own random prefix.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// Plaintext bytes per package.
pub const PACKAGE: usize = 64 * 1024;
/// Authentication tag bytes per package.
pub const TAG: usize = 16;
/// The nonce prefix at the start of a sealed blob.
pub const HEADER: usize = 8;

/// A 256-bit object key.
#[derive(Clone)]
pub struct ObjectKey(pub [u8; 32]);

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectKey(..)")
    }
}

impl ObjectKey {
    /// A fresh random key.
    #[must_use]
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        aws_lc_rs::rand::fill(&mut k).expect("the system random source works");
        Self(k)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte AES key"))
    }
}

fn nonce(prefix: &[u8; HEADER], index: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[..HEADER].copy_from_slice(prefix);
    n[HEADER..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// Number of packages of a blob with `plain` plaintext bytes (at least one).
#[must_use]
pub fn packages(plain: u64) -> u64 {
    plain.div_ceil(PACKAGE as u64).max(1)
}

/// Size on disk of a sealed blob of `plain` plaintext bytes.
#[must_use]
pub fn sealed_len(plain: u64) -> u64 {
    HEADER as u64 + plain + packages(plain) * TAG as u64
}

/// Seals a stream of plaintext into packages as it arrives.
pub struct Sealer {
    key: LessSafeKey,
    prefix: [u8; HEADER],
    index: u32,
    pending: Vec<u8>,
    started: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for one blob of the object with `key`.
    #[must_use]
    pub fn new(key: &ObjectKey) -> Self {
        let mut prefix = [0u8; HEADER];
        aws_lc_rs::rand::fill(&mut prefix).expect("the system random source works");
        Self {
            key: key.aead(),
            prefix,
            index: 0,
            pending: Vec::with_capacity(PACKAGE),
            started: false,
        }
    }

    fn seal_one(&mut self, plain: &[u8], last: bool, out: &mut Vec<u8>) {
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                nonce(&self.prefix, self.index),
                Aad::from([u8::from(last)]),
                &mut body,
            )
            .expect("AES-GCM sealing cannot fail for 64 KiB");
        out.extend_from_slice(&body);
        self.index += 1;
    }

    /// Feeds plaintext; returns the sealed bytes ready so far.
    pub fn update(&mut self, mut plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&self.prefix);
            self.started = true;
        }
        // Keep at least one byte back so the final package is sealed as last.
        while self.pending.len() + plain.len() > PACKAGE {
            let take = PACKAGE - self.pending.len();
            self.pending.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
            let pkg = std::mem::take(&mut self.pending);
            self.seal_one(&pkg, false, &mut out);
        }
        self.pending.extend_from_slice(plain);
        out
    }

    /// Seals what is left as the last package.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&self.prefix);
        }
        let pkg = std::mem::take(&mut self.pending);
        self.seal_one(&pkg, true, &mut out);
        out
    }
}

/// Opens package `index` (of `total`) of a sealed blob whose first bytes
/// were `prefix`.
///
/// # Errors
/// `InvalidData` when the package fails authentication.
pub fn open_package(
    key: &ObjectKey,
    prefix: &[u8; HEADER],
    index: u64,
    total: u64,
    sealed: &mut Vec<u8>,
) -> std::io::Result<()> {
    let index32 = u32::try_from(index).map_err(|_| std::io::Error::other("too many packages"))?;
    let last = index + 1 == total;
    let plain_len = key
        .aead()
        .open_in_place(nonce(prefix, index32), Aad::from([u8::from(last)]), sealed)
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stored data failed authentication (corrupt or tampered)",
            )
        })?
        .len();
    sealed.truncate(plain_len);
    Ok(())
}

/// Opens a whole sealed buffer (inline objects).
///
/// # Errors
/// `InvalidData` when it is malformed or fails authentication.
pub fn open_all(key: &ObjectKey, sealed: &[u8], plain_len: u64) -> std::io::Result<Vec<u8>> {
    if sealed.len() < HEADER {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sealed data too short",
        ));
    }
    let mut prefix = [0u8; HEADER];
    prefix.copy_from_slice(&sealed[..HEADER]);
    let total = packages(plain_len);
    let mut out = Vec::with_capacity(usize::try_from(plain_len).unwrap_or(0));
    for (i, chunk) in sealed[HEADER..].chunks(PACKAGE + TAG).enumerate() {
        let mut buf = chunk.to_vec();
        open_package(key, &prefix, i as u64, total, &mut buf)?;
        out.extend_from_slice(&buf);
    }
    if out.len() as u64 != plain_len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sealed data has the wrong length",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &ObjectKey, data: &[u8], step: usize) -> Vec<u8> {
        let mut s = Sealer::new(key);
        let mut out = Vec::new();
        for c in data.chunks(step.max(1)) {
            out.extend(s.update(c));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = ObjectKey::random();
        for len in [
            0usize,
            1,
            PACKAGE - 1,
            PACKAGE,
            PACKAGE + 1,
            3 * PACKAGE + 17,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for step in [1000, PACKAGE, 7 * PACKAGE] {
                let sealed = seal(&key, &data, step);
                assert_eq!(sealed.len() as u64, sealed_len(len as u64), "len {len}");
                assert_eq!(open_all(&key, &sealed, len as u64).unwrap(), data);
            }
        }
        let data = vec![7u8; 2 * PACKAGE + 5];
        let mut sealed = seal(&key, &data, 4096);
        sealed[HEADER + 10] ^= 1;
        assert!(open_all(&key, &sealed, data.len() as u64).is_err());
        // Truncating to whole packages is caught by the last-package flag.
        let sealed = seal(&key, &data, 4096);
        let cut = &sealed[..HEADER + 2 * (PACKAGE + TAG)];
        assert!(open_all(&key, cut, 2 * PACKAGE as u64).is_err());
        assert!(
            open_all(
                &ObjectKey::random(),
                &seal(&key, &data, 4096),
                data.len() as u64
            )
            .is_err()
        );
    }
}
