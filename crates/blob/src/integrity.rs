//! Per-chunk checksums of plain (unencrypted) blobs, so that every read,
//! whole or ranged, checks what it sends and a flipped bit on disk is never
//! served as good data. (Sealed blobs need none of this: each AES-GCM
//! package is authenticated, see [`crate::crypt`].)
//!
//! A plain blob file is the object's bytes, unchanged (so a range is still
//! one seek away), followed by a trailer: the CRC-32C of each 64 KiB chunk
//! (4 bytes each, little-endian, the last chunk shorter) and an 8-byte
//! footer, `ALMC` and the format version. The trailer is written with the
//! data and fsynced with it: one file, one fsync. Files written before the
//! trailer existed are exactly as long as the object; [`layout`] tells the
//! two apart by length, and such legacy files are read unchecked.

use crc_fast::{CrcAlgorithm, Digest as Crc};

/// Bytes covered by one checksum.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of one chunk checksum in the trailer.
pub const SUM: usize = 4;
/// The footer that ends the trailer.
const FOOTER: [u8; 8] = *b"ALMC\x01\x00\x00\x00";

/// Number of chunks of a blob of `size` bytes.
#[must_use]
pub fn chunks(size: u64) -> u64 {
    size.div_ceil(CHUNK as u64)
}

/// Length on disk of a plain blob of `size` bytes, trailer included.
#[must_use]
pub fn framed_len(size: u64) -> u64 {
    size + chunks(size) * SUM as u64 + FOOTER.len() as u64
}

/// The CRC-32C of one chunk.
#[must_use]
pub fn chunk_sum(data: &[u8]) -> [u8; SUM] {
    let v = crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, data) as u32;
    v.to_le_bytes()
}

/// The CRC-64/NVME of `data` as S3 shows it (base64 of the big-endian
/// value): what inline objects are checked against.
#[must_use]
pub fn crc64nvme_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    let v = crc_fast::checksum(CrcAlgorithm::Crc64Nvme, data);
    base64::engine::general_purpose::STANDARD.encode(v.to_be_bytes())
}

/// How a blob file of `file_len` bytes holding `size` object bytes is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Object bytes then the checksum trailer.
    Framed,
    /// Object bytes only (written before checksums were kept).
    Legacy,
}

/// Tells the layout from the file's length.
///
/// # Errors
/// [`Corrupt`] when the length fits neither layout (truncated or extended).
pub fn layout(blob: &str, size: u64, file_len: u64) -> Result<Layout, Corrupt> {
    if file_len == framed_len(size) {
        Ok(Layout::Framed)
    } else if file_len == size {
        Ok(Layout::Legacy)
    } else {
        Err(Corrupt::new(
            blob,
            format!("file is {file_len} bytes; metadata says {size} object bytes"),
        ))
    }
}

/// Computes chunk checksums as bytes stream through, in any slicing.
#[derive(Debug)]
pub struct ChunkSummer {
    crc: Crc,
    filled: usize,
    table: Vec<u8>,
}

impl Default for ChunkSummer {
    fn default() -> Self {
        Self {
            crc: Crc::new(CrcAlgorithm::Crc32Iscsi),
            filled: 0,
            table: Vec::new(),
        }
    }
}

impl ChunkSummer {
    /// Feeds the next bytes of the blob.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (CHUNK - self.filled).min(data.len());
            self.crc.update(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled == CHUNK {
                self.push();
            }
        }
    }

    fn push(&mut self) {
        let v = self.crc.finalize() as u32;
        self.table.extend_from_slice(&v.to_le_bytes());
        self.crc = Crc::new(CrcAlgorithm::Crc32Iscsi);
        self.filled = 0;
    }

    /// The trailer to append after the last byte.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        if self.filled > 0 {
            self.push();
        }
        let mut t = self.table;
        t.extend_from_slice(&FOOTER);
        t
    }
}

/// Stored bytes that do not match what was written: a checksum or
/// authentication failure, a missing file, or a file of the wrong length.
/// Carried inside `std::io::Error` (kind `InvalidData`) through byte
/// streams, so that the engine can tell corruption from other failures,
/// record it and count it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("blob {blob} is corrupt: {detail}")]
pub struct Corrupt {
    /// The blob id (empty for bytes inline in metadata).
    pub blob: String,
    /// What failed, for logs and the scan report.
    pub detail: String,
}

impl Corrupt {
    /// A corruption report.
    pub fn new(blob: &str, detail: impl Into<String>) -> Self {
        Self {
            blob: blob.to_owned(),
            detail: detail.into(),
        }
    }

    /// Wraps it for a byte stream.
    #[must_use]
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, self)
    }

    /// The report inside `e`, if `e` is one.
    #[must_use]
    pub fn of(e: &std::io::Error) -> Option<&Self> {
        e.get_ref().and_then(|r| r.downcast_ref::<Self>())
    }
}

/// Checks `data` (chunks `first..` of a blob, aligned) against `sums`
/// (their trailer entries).
///
/// # Errors
/// [`Corrupt`] naming the first chunk that does not match.
pub fn verify(blob: &str, first: u64, data: &[u8], sums: &[u8]) -> Result<(), Corrupt> {
    for (i, (chunk, sum)) in data.chunks(CHUNK).zip(sums.chunks(SUM)).enumerate() {
        if chunk_sum(chunk) != sum {
            return Err(Corrupt::new(
                blob,
                format!("checksum mismatch in chunk {}", first + i as u64),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_matches_per_chunk_sums_in_any_slicing() {
        for len in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut whole = ChunkSummer::default();
            whole.update(&data);
            let mut sliced = ChunkSummer::default();
            for c in data.chunks(1000) {
                sliced.update(c);
            }
            let t = whole.finish();
            assert_eq!(t, sliced.finish());
            assert_eq!((len + t.len()) as u64, framed_len(len as u64));
            let sums = &t[..t.len() - FOOTER.len()];
            assert!(verify("b", 0, &data, sums).is_ok());
            if len > 0 {
                let mut bad = data.clone();
                bad[len / 2] ^= 0x10;
                let e = verify("b", 0, &bad, sums).unwrap_err();
                assert!(e.detail.contains(&format!("chunk {}", len / 2 / CHUNK)));
            }
        }
    }

    #[test]
    fn layout_by_length() {
        assert_eq!(layout("b", 10, framed_len(10)).unwrap(), Layout::Framed);
        assert_eq!(layout("b", 10, 10).unwrap(), Layout::Legacy);
        assert!(layout("b", 10, 11).is_err());
        let e = Corrupt::new("x", "bad").into_io();
        assert_eq!(Corrupt::of(&e).unwrap().blob, "x");
    }
}
