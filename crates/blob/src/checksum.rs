//! Digests computed while bytes stream through: MD5 (the ETag) always,
//! CRC64NVME always (what S3 stores when the client sends no checksum), and
//! whichever of CRC32, CRC32C, SHA-1 and SHA-256 the request names.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::{CrcAlgorithm, Digest as Crc};
use md5::Digest as _;
use serde::{Deserialize, Serialize};

/// The S3 checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// CRC-32 (ISO-HDLC), as zlib.
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Algorithm {
    /// Every algorithm, in the order S3 documents them.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses the S3 name (`CRC32`, `crc64nvme`, ...), case-insensitively.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "CRC32" => Self::Crc32,
            "CRC32C" => Self::Crc32c,
            "CRC64NVME" => Self::Crc64Nvme,
            "SHA1" => Self::Sha1,
            "SHA256" => Self::Sha256,
            _ => return None,
        })
    }

    /// The S3 name, upper case.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header carrying this checksum: `x-amz-checksum-crc32`, ...
    #[must_use]
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Whether a multipart checksum of this algorithm can be a full-object
    /// one (CRCs combine; SHA digests do not).
    #[must_use]
    pub fn combinable(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    /// Digest of `data` in this algorithm, raw bytes.
    #[must_use]
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(ChecksumSet::only(self));
        h.update(data);
        h.finish().checksums.get_raw(self).unwrap_or_default()
    }

    /// Full-object combination of two CRCs (raw big-endian bytes): the CRC
    /// of `a || b` where `b` is `b_len` bytes long. `None` for SHA digests.
    #[must_use]
    pub fn combine(self, a: &[u8], b: &[u8], b_len: u64) -> Option<Vec<u8>> {
        let alg = self.crc()?;
        let a = from_be(a);
        let b = from_be(b);
        let c = crc_fast::checksum_combine(alg, a, b, b_len);
        Some(to_be(self, c))
    }
}

fn from_be(v: &[u8]) -> u64 {
    v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn to_be(alg: Algorithm, v: u64) -> Vec<u8> {
    if alg == Algorithm::Crc64Nvme {
        v.to_be_bytes().to_vec()
    } else {
        u32::try_from(v & 0xFFFF_FFFF)
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec()
    }
}

/// Which optional checksums to compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumSet(u8);

impl ChecksumSet {
    /// Just one algorithm.
    #[must_use]
    pub fn only(a: Algorithm) -> Self {
        let mut s = Self::default();
        s.insert(a);
        s
    }

    /// Adds an algorithm.
    pub fn insert(&mut self, a: Algorithm) {
        self.0 |= 1 << (a as u8);
    }

    /// Whether `a` is in the set.
    #[must_use]
    pub fn contains(self, a: Algorithm) -> bool {
        self.0 & (1 << (a as u8)) != 0
    }
}

/// Base64-encoded checksums, as S3 sends them in headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// CRC32, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    /// CRC32C, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// CRC64NVME, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    /// SHA-1, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// SHA-256, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Checksums {
    /// The value for `a`, base64.
    #[must_use]
    pub fn get(&self, a: Algorithm) -> Option<&str> {
        match a {
            Algorithm::Crc32 => self.crc32.as_deref(),
            Algorithm::Crc32c => self.crc32c.as_deref(),
            Algorithm::Crc64Nvme => self.crc64nvme.as_deref(),
            Algorithm::Sha1 => self.sha1.as_deref(),
            Algorithm::Sha256 => self.sha256.as_deref(),
        }
    }

    /// The value for `a`, decoded.
    #[must_use]
    pub fn get_raw(&self, a: Algorithm) -> Option<Vec<u8>> {
        self.get(a).and_then(|v| B64.decode(v).ok())
    }

    /// Sets the value for `a` (base64).
    pub fn set(&mut self, a: Algorithm, v: Option<String>) {
        let slot = match a {
            Algorithm::Crc32 => &mut self.crc32,
            Algorithm::Crc32c => &mut self.crc32c,
            Algorithm::Crc64Nvme => &mut self.crc64nvme,
            Algorithm::Sha1 => &mut self.sha1,
            Algorithm::Sha256 => &mut self.sha256,
        };
        *slot = v;
    }

    /// Sets the value for `a` from raw bytes.
    pub fn set_raw(&mut self, a: Algorithm, raw: &[u8]) {
        self.set(a, Some(B64.encode(raw)));
    }

    /// The present (algorithm, base64 value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (Algorithm, &str)> {
        Algorithm::ALL
            .into_iter()
            .filter_map(|a| self.get(a).map(|v| (a, v)))
    }
}

/// Everything known about a byte stream once it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// MD5, raw.
    pub md5: [u8; 16],
    /// The checksums that were computed.
    pub checksums: Checksums,
}

/// Computes MD5, CRC64NVME and the requested checksums in one pass.
pub struct Hasher {
    md5: md5::Md5,
    crcs: Vec<(Algorithm, Crc)>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Hasher {
    /// A hasher for MD5, CRC64NVME and `extra`.
    #[must_use]
    pub fn new(extra: ChecksumSet) -> Self {
        let mut crcs = Vec::new();
        for a in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            if a == Algorithm::Crc64Nvme || extra.contains(a) {
                crcs.push((a, Crc::new(a.crc().unwrap_or(CrcAlgorithm::Crc64Nvme))));
            }
        }
        Self {
            md5: md5::Md5::new(),
            crcs,
            sha1: extra.contains(Algorithm::Sha1).then(sha1::Sha1::new),
            sha256: extra.contains(Algorithm::Sha256).then(sha2::Sha256::new),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        for (_, c) in &mut self.crcs {
            c.update(data);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
    }

    /// The digests of everything fed.
    #[must_use]
    pub fn finish(self) -> Digests {
        let mut checksums = Checksums::default();
        for (a, c) in &self.crcs {
            checksums.set_raw(*a, &to_be(*a, c.finalize()));
        }
        if let Some(h) = self.sha1 {
            checksums.set_raw(Algorithm::Sha1, &h.finalize());
        }
        if let Some(h) = self.sha256 {
            checksums.set_raw(Algorithm::Sha256, &h.finalize());
        }
        let mut md5 = [0u8; 16];
        md5.copy_from_slice(&self.md5.finalize());
        Digests { md5, checksums }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let mut h = Hasher::new(ChecksumSet::only(Algorithm::Crc32));
        h.update(b"hello world");
        let d = h.finish();
        assert_eq!(hex::encode(d.md5), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        // zlib.crc32(b"hello world") == 0x0d4a1185
        assert_eq!(
            d.checksums.get_raw(Algorithm::Crc32).unwrap(),
            vec![0x0d, 0x4a, 0x11, 0x85]
        );
        assert!(d.checksums.crc64nvme.is_some());
        assert!(d.checksums.sha256.is_none());
    }

    #[test]
    fn combine_equals_whole() {
        for a in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let whole = a.digest(b"hello world");
            let c = a
                .combine(&a.digest(b"hello "), &a.digest(b"world"), 5)
                .unwrap();
            assert_eq!(whole, c, "{a:?}");
        }
    }
}
