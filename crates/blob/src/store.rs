//! Staging and publishing blobs in the data folder.
//!
//! Layout: `tmp/<id>` while an upload streams in; `blobs/<id[0..2]>/<id>`
//! once published. Ids are fresh UUIDs, never derived from keys, so no
//! object key ever becomes a path.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};

use crate::{BlobError, ChecksumSet, Digests, Hasher};

/// Bytes gathered before each write to the temporary file.
const WRITE_CHUNK: usize = 1 << 20;

/// The blob area of a data folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// Space on the file system that holds the data folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Size of the file system in bytes.
    pub total: u64,
    /// Bytes free for unprivileged writers (what uploads can use).
    pub available: u64,
}

impl BlobStore {
    /// Space on the data folder's file system, for metrics and readiness.
    ///
    /// # Errors
    /// The file system cannot be queried.
    pub fn disk_stats(&self) -> std::io::Result<DiskStats> {
        let st = rustix::fs::statvfs(&self.blobs).map_err(std::io::Error::from)?;
        Ok(DiskStats {
            total: st.f_blocks.saturating_mul(st.f_frsize),
            available: st.f_bavail.saturating_mul(st.f_frsize),
        })
    }
}

/// Where staged bytes are.
#[derive(Debug)]
pub enum StagedData {
    /// Small enough to live in the metadata row.
    Inline(Bytes),
    /// In a temporary file, fsynced, not yet published.
    File {
        /// The blob id it will be published under.
        id: String,
        /// Its temporary path.
        tmp: PathBuf,
        /// Set once renamed into `blobs/`; an unpublished file is removed on drop.
        published: bool,
    },
}

/// An upload whose body ended cleanly, with its digests.
#[derive(Debug)]
pub struct Staged {
    /// Length in bytes.
    pub size: u64,
    /// MD5 and checksums of the bytes.
    pub digests: Digests,
    /// The bytes.
    pub data: StagedData,
    /// The first bytes (up to [`HEAD_LEN`]), for content sniffing.
    pub head: Bytes,
    /// Whether the bytes were sealed (then a blob file has no checksum trailer).
    pub sealed: bool,
}

/// How many leading bytes [`Staged::head`] keeps: enough to recognize any
/// common file signature (ISO BMFF brands sit at bytes 8 to 12).
pub const HEAD_LEN: usize = 64;

impl Drop for Staged {
    fn drop(&mut self) {
        if let StagedData::File {
            tmp,
            published: false,
            ..
        } = &self.data
        {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore {
    /// Opens the blob area under `root`, creating it, and removes leftovers
    /// of uploads that were interrupted by a crash or a stop.
    ///
    /// # Errors
    /// The folders cannot be created or cleaned.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        Self::open_for_node(root, None)
    }

    /// [`BlobStore::open`] for one of several nodes sharing `root`: its
    /// uploads stage in `tmp/<node>/`, and only that folder is cleaned.
    /// `node` must be a plain name (letters, digits, `.`, `_`, `-`, `:`).
    ///
    /// # Errors
    /// The folders cannot be created or cleaned, or `node` is not a plain name.
    pub fn open_for_node(root: &Path, node: Option<&str>) -> Result<Self, BlobError> {
        let blobs = root.join("blobs");
        let tmp = match node {
            None => root.join("tmp"),
            Some(n)
                if !n.is_empty()
                    && !n.starts_with('.')
                    && n.len() <= 128
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b)) =>
            {
                std::fs::create_dir_all(root.join("tmp"))?;
                root.join("tmp").join(n)
            }
            Some(n) => {
                return Err(BlobError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("invalid node id {n:?}: use letters, digits, '.', '_', '-' or ':'"),
                )));
            }
        };
        std::fs::create_dir_all(&blobs)?;
        if tmp.exists() {
            let mut removed = 0usize;
            for entry in std::fs::read_dir(&tmp)? {
                let entry = entry?;
                // Other nodes' folders (tmp/<node>/) are theirs to clean.
                if entry.file_type()?.is_dir() {
                    continue;
                }
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
            if removed > 0 {
                tracing::info!(removed, "removed leftovers of interrupted uploads");
            }
        }
        std::fs::create_dir_all(&tmp)?;
        fsync_dir(root)?;
        Ok(Self { blobs, tmp })
    }

    /// The path of a published blob.
    #[must_use]
    pub fn path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.blobs.join(shard).join(id)
    }

    /// Streams `body` in, computing MD5, CRC64NVME and `extra` in one pass.
    /// Bodies up to `inline_max` bytes stay in memory; longer ones go to a
    /// temporary file, fsynced before this returns. A body longer than
    /// `limit` fails with [`BlobError::TooLarge`].
    ///
    /// # Errors
    /// The body failed, was too large, or the disk failed.
    ///
    /// # Cancel safety
    /// Dropping the future removes the temporary file.
    pub async fn stage<S>(
        &self,
        body: S,
        extra: ChecksumSet,
        inline_max: usize,
        limit: u64,
    ) -> Result<Staged, BlobError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    {
        self.stage_sealed(body, extra, inline_max, limit, None)
            .await
    }

    /// [`BlobStore::stage`], sealing the bytes with `key` (see
    /// [`crate::crypt`]) before they touch the disk or the metadata row.
    /// Size, digests and head stay those of the plaintext.
    ///
    /// # Errors
    /// As [`BlobStore::stage`].
    pub async fn stage_sealed<S>(
        &self,
        body: S,
        extra: ChecksumSet,
        inline_max: usize,
        limit: u64,
        key: Option<&crate::crypt::ObjectKey>,
    ) -> Result<Staged, BlobError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    {
        self.stage_inner(body, extra, inline_max, limit, key, key.is_none())
            .await
    }

    /// Writes bytes that were staged inline to a file, as they are: a part
    /// must be a file, and sealed bytes stay sealed (no checksum trailer,
    /// the packages authenticate themselves). Size and digests are left to
    /// the caller, who knows those of the plaintext.
    ///
    /// # Errors
    /// The disk failed.
    pub async fn stage_bytes(&self, data: Bytes, sealed: bool) -> Result<Staged, BlobError> {
        self.stage_inner(
            futures::stream::iter([Ok(data)]),
            ChecksumSet::default(),
            0,
            u64::MAX,
            None,
            !sealed,
        )
        .await
    }

    async fn stage_inner<S>(
        &self,
        mut body: S,
        extra: ChecksumSet,
        inline_max: usize,
        limit: u64,
        key: Option<&crate::crypt::ObjectKey>,
        frame: bool,
    ) -> Result<Staged, BlobError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    {
        let mut hasher = Hasher::new(extra);
        let mut size: u64 = 0;
        let mut buf = BytesMut::new();
        // Memory phase.
        loop {
            match body.next().await {
                None => {
                    let digests = hasher.finish();
                    let data = buf.freeze();
                    let head = data.slice(..data.len().min(HEAD_LEN));
                    let data = match key {
                        None => data,
                        Some(k) => {
                            let mut sealer = crate::crypt::Sealer::new(k);
                            let mut sealed = sealer.update(&data);
                            sealed.extend(sealer.finish());
                            Bytes::from(sealed)
                        }
                    };
                    return Ok(Staged {
                        size,
                        digests,
                        head,
                        data: StagedData::Inline(data),
                        sealed: key.is_some(),
                    });
                }
                Some(Err(e)) => return Err(BlobError::Body(e)),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(BlobError::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    buf.extend_from_slice(&chunk);
                    if buf.len() > inline_max {
                        break;
                    }
                }
            }
        }
        // File phase: the guard removes the file if we fail or are dropped.
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.tmp.join(&id);
        let mut staged = Staged {
            sealed: key.is_some() || !frame,
            size,
            head: Bytes::copy_from_slice(&buf[..buf.len().min(HEAD_LEN)]),
            digests: Digests {
                md5: [0; 16],
                checksums: crate::Checksums::default(),
            },
            data: StagedData::File {
                id,
                tmp: tmp.clone(),
                published: false,
            },
        };
        let mut file = Some(
            tokio::task::spawn_blocking(move || std::fs::File::create_new(&tmp))
                .await
                .map_err(join_err)??,
        );
        // Chunks gather (without copying) until about WRITE_CHUNK bytes wait,
        // then one blocking task writes them all.
        let mut sealer = key.map(crate::crypt::Sealer::new);
        // Plain blobs carry per-chunk checksums; sealed ones are authenticated.
        let mut summer = frame.then(crate::integrity::ChunkSummer::default);
        if let Some(s) = &mut summer {
            s.update(&buf);
        }
        let first = match &mut sealer {
            None => buf.freeze(),
            Some(s) => Bytes::from(s.update(&buf)),
        };
        let mut pending: Vec<Bytes> = vec![first];
        let mut pending_len: usize = pending[0].len();
        loop {
            let end = match body.next().await {
                None => {
                    let mut tail = sealer
                        .take()
                        .map(crate::crypt::Sealer::finish)
                        .unwrap_or_default();
                    if let Some(s) = summer.take() {
                        tail.extend(s.finish());
                    }
                    pending_len += tail.len();
                    pending.push(Bytes::from(tail));
                    true
                }
                Some(Err(e)) => return Err(BlobError::Body(e)),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(BlobError::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    if let Some(s) = &mut summer {
                        s.update(&chunk);
                    }
                    let chunk = match &mut sealer {
                        None => chunk,
                        Some(s) => Bytes::from(s.update(&chunk)),
                    };
                    pending_len += chunk.len();
                    pending.push(chunk);
                    false
                }
            };
            if pending_len >= WRITE_CHUNK || (end && pending_len > 0) {
                let batch = std::mem::take(&mut pending);
                pending_len = 0;
                let mut f = file
                    .take()
                    .ok_or_else(|| BlobError::Io(std::io::Error::other("file lost")))?;
                f = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                    for b in &batch {
                        f.write_all(b)?;
                    }
                    Ok(f)
                })
                .await
                .map_err(join_err)??;
                file = Some(f);
            }
            if end {
                break;
            }
        }
        let f = file
            .take()
            .ok_or_else(|| BlobError::Io(std::io::Error::other("file lost")))?;
        tokio::task::spawn_blocking(move || f.sync_all())
            .await
            .map_err(join_err)??;
        staged.size = size;
        staged.digests = hasher.finish();
        Ok(staged)
    }

    /// Publishes a staged file under its blob id: rename into `blobs/` and
    /// fsync the directory, so the blob survives a crash once metadata names
    /// it. Returns the blob id, or `None` for inline data.
    ///
    /// # Errors
    /// The rename or the directory sync failed.
    pub async fn publish(&self, staged: &mut Staged) -> Result<Option<String>, BlobError> {
        let StagedData::File { id, tmp, published } = &mut staged.data else {
            return Ok(None);
        };
        let dest = self.path(id);
        let tmp2 = tmp.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dest.parent().unwrap_or(Path::new("."));
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                fsync_dir(dir.parent().unwrap_or(Path::new(".")))?;
            }
            std::fs::rename(&tmp2, &dest)?;
            fsync_dir(dir)
        })
        .await
        .map_err(join_err)??;
        *published = true;
        Ok(Some(id.clone()))
    }

    /// Removes a published blob (garbage collection). A missing file is fine.
    ///
    /// # Errors
    /// The file exists but cannot be removed.
    pub async fn remove(&self, id: &str) -> Result<(), BlobError> {
        let path = self.path(id);
        tokio::task::spawn_blocking(move || match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::from(e)),
        })
        .await
        .map_err(join_err)?
    }

    /// Ids of every published blob file last modified before `before`
    /// (a scan compares them with what metadata names, to find orphans).
    ///
    /// # Errors
    /// The blob folder cannot be listed.
    pub async fn all_blobs(&self, before: std::time::SystemTime) -> Result<Vec<String>, BlobError> {
        let root = self.blobs.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
            let mut out = Vec::new();
            for shard in std::fs::read_dir(&root)? {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                for f in std::fs::read_dir(shard.path())? {
                    let f = f?;
                    let old = f.metadata()?.modified().is_ok_and(|m| m < before);
                    if old && let Some(name) = f.file_name().to_str() {
                        out.push(name.to_owned());
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_err)?
        .map_err(BlobError::from)
    }

    /// Checks that the files of sealed `segments` exist and have the length
    /// their sizes imply: all that can be checked without the object's key.
    ///
    /// # Errors
    /// [`crate::Corrupt`] for the first file that is missing or of the wrong length.
    pub fn check_sealed_lengths(&self, segments: &[crate::Segment]) -> Result<(), crate::Corrupt> {
        for seg in segments {
            let want = crate::crypt::sealed_len(seg.size);
            match std::fs::metadata(self.path(&seg.blob)) {
                Ok(m) if m.len() == want => {}
                Ok(m) => {
                    return Err(crate::Corrupt::new(
                        &seg.blob,
                        format!("file is {} bytes; {want} expected", m.len()),
                    ));
                }
                Err(_) => return Err(crate::Corrupt::new(&seg.blob, "file is missing")),
            }
        }
        Ok(())
    }

    /// Checks the data folder takes writes (readiness probe): creates,
    /// writes and removes a small file in `tmp/`.
    ///
    /// # Errors
    /// The folder is not writable.
    pub async fn probe(&self) -> Result<(), BlobError> {
        let path = self
            .tmp
            .join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
        tokio::task::spawn_blocking(move || {
            std::fs::write(&path, b"ok")?;
            std::fs::remove_file(&path)
        })
        .await
        .map_err(join_err)??;
        Ok(())
    }
}

pub(crate) fn join_err(e: tokio::task::JoinError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(
        parts: Vec<&'static [u8]>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn sealed_blobs_read_back_by_range_and_never_hold_plaintext() {
        use futures::TryStreamExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let key = crate::crypt::ObjectKey::random();
        let a: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let b: Vec<u8> = b"PLAINTEXT-MARKER".repeat(9000);
        let mut ids = Vec::new();
        for data in [&a, &b] {
            let chunks: Vec<Bytes> = data.chunks(7000).map(Bytes::copy_from_slice).collect();
            let stream = futures::stream::iter(chunks.into_iter().map(Ok));
            let mut st = store
                .stage_sealed(stream, ChecksumSet::default(), 0, u64::MAX, Some(&key))
                .await
                .unwrap();
            assert_eq!(st.size, data.len() as u64);
            ids.push(store.publish(&mut st).await.unwrap().unwrap());
        }
        let raw = std::fs::read(store.path(&ids[1])).unwrap();
        assert!(!raw.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
        let segs = vec![
            crate::Segment {
                blob: ids[0].clone(),
                size: a.len() as u64,
            },
            crate::Segment {
                blob: ids[1].clone(),
                size: b.len() as u64,
            },
        ];
        let all: Vec<u8> = [a.clone(), b.clone()].concat();
        for (start, len) in [
            (0u64, all.len() as u64),
            (65_530, 20),
            (131_071, 70_000),
            (199_990, 30),
            (250_000, 1),
        ] {
            let got: Vec<Bytes> =
                crate::read_sealed_segments(&store, key.clone(), segs.clone(), start, len)
                    .try_collect()
                    .await
                    .unwrap();
            let got: Vec<u8> = got.concat();
            assert_eq!(
                got,
                all[start as usize..(start + len) as usize],
                "range {start}+{len}"
            );
        }
        // A flipped byte fails the read instead of being served.
        let mut raw = std::fs::read(store.path(&ids[0])).unwrap();
        raw[100] ^= 1;
        std::fs::write(store.path(&ids[0]), raw).unwrap();
        let r: Result<Vec<Bytes>, _> = crate::read_sealed_segments(&store, key, segs, 0, 10)
            .try_collect()
            .await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn plain_reads_check_every_chunk_they_send() {
        use crate::integrity::{CHUNK, Corrupt};
        use futures::TryStreamExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..(3 * CHUNK + 100)).map(|i| (i % 241) as u8).collect();
        let chunks: Vec<Bytes> = data.chunks(5000).map(Bytes::copy_from_slice).collect();
        let mut st = store
            .stage(
                futures::stream::iter(chunks.into_iter().map(Ok)),
                ChecksumSet::default(),
                0,
                u64::MAX,
            )
            .await
            .unwrap();
        let id = store.publish(&mut st).await.unwrap().unwrap();
        let seg = vec![crate::Segment {
            blob: id.clone(),
            size: data.len() as u64,
        }];
        let read = |start: u64, len: u64| {
            crate::read_segments(&store, seg.clone(), start, len).try_collect::<Vec<Bytes>>()
        };
        for (start, len) in [(0u64, data.len() as u64), (CHUNK as u64 - 3, 10), (5, 1)] {
            let got = read(start, len).await.unwrap().concat();
            assert_eq!(got, data[start as usize..(start + len) as usize]);
        }
        // A flipped byte in chunk 2: reads of chunk 0 still work, reads
        // that reach chunk 2 fail with a corruption report.
        let path = store.path(&id);
        let mut raw = std::fs::read(&path).unwrap();
        raw[2 * CHUNK + 7] ^= 4;
        std::fs::write(&path, &raw).unwrap();
        assert!(read(0, 100).await.is_ok());
        let e = read(0, data.len() as u64).await.unwrap_err();
        assert!(Corrupt::of(&e).unwrap().detail.contains("chunk 2"), "{e}");
        // Files written before checksums existed read unchecked.
        raw[2 * CHUNK + 7] ^= 4;
        std::fs::write(&path, &raw[..data.len()]).unwrap();
        assert_eq!(read(0, data.len() as u64).await.unwrap().concat(), data);
        // A truncated or missing file is corruption too.
        std::fs::write(&path, &raw[..data.len() - 1]).unwrap();
        assert!(Corrupt::of(&read(0, 1).await.unwrap_err()).is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(Corrupt::of(&read(0, 1).await.unwrap_err()).is_some());
    }

    #[tokio::test]
    async fn small_bodies_stay_inline_large_go_to_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let s = store
            .stage(body(vec![b"abc"]), ChecksumSet::default(), 8, u64::MAX)
            .await
            .unwrap();
        assert!(matches!(s.data, StagedData::Inline(ref b) if b.as_ref() == b"abc"));
        let mut s = store
            .stage(
                body(vec![b"0123456789", b"abc"]),
                ChecksumSet::default(),
                8,
                u64::MAX,
            )
            .await
            .unwrap();
        assert_eq!(s.size, 13);
        let id = store.publish(&mut s).await.unwrap().unwrap();
        let file = std::fs::read(store.path(&id)).unwrap();
        assert_eq!(&file[..13], b"0123456789abc");
        assert_eq!(file.len() as u64, crate::integrity::framed_len(13));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn failed_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let parts: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"0123456789")),
            Err(std::io::Error::other("reset")),
        ];
        let r = store
            .stage(
                futures::stream::iter(parts),
                ChecksumSet::default(),
                4,
                u64::MAX,
            )
            .await;
        assert!(matches!(r, Err(BlobError::Body(_))));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
