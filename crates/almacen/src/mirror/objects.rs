//! Objects: what to copy (the plan), copying one object or version, and
//! counting a bucket. In a versioned bucket a key's versions and delete
//! markers are replayed oldest first, so the destination's current version
//! is the source's; the destination's own count of a key's versions tells
//! how many are already there, which is what makes a second run resume.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};

use super::describe;
use super::progress::Progress;

/// Objects larger than this are copied in parts of this size, so memory
/// stays bounded whatever the object's size.
const PART: usize = 16 << 20;

/// What SigV4 and S3 tagging leave unescaped: letters, digits and `-_.~`.
const UNRESERVED: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One object, version or delete marker of a listing.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    version_id: Option<String>,
    marker: bool,
    size: u64,
    etag: Option<String>,
    modified: Option<DateTime>,
    /// Position in the listing (newest first within a key), to order ties.
    order: usize,
}

/// What one bucket's copy did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub copied: usize,
    pub bytes: u64,
    pub failed: usize,
}

/// A bucket's size: current objects, their bytes, and all versions and
/// delete markers when versioned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub objects: u64,
    pub bytes: u64,
    pub versions: u64,
}

fn is_no_such_bucket<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("NoSuchBucket")
}

fn size_of(n: Option<i64>) -> u64 {
    u64::try_from(n.unwrap_or(0)).unwrap_or(0)
}

/// Every version and delete marker; empty when the bucket does not exist.
async fn list_versions(c: &Client, bucket: &str) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = match c
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if is_no_such_bucket(&e) => return Ok(out),
            Err(e) => anyhow::bail!("{bucket}: cannot list versions: {}", describe(&e)),
        };
        for v in page.versions() {
            out.push(Entry {
                key: v.key().unwrap_or_default().to_owned(),
                version_id: v.version_id().map(str::to_owned),
                marker: false,
                size: size_of(v.size()),
                etag: v.e_tag().map(str::to_owned),
                modified: v.last_modified().copied(),
                order: out.len(),
            });
        }
        for m in page.delete_markers() {
            out.push(Entry {
                key: m.key().unwrap_or_default().to_owned(),
                version_id: m.version_id().map(str::to_owned),
                marker: true,
                size: 0,
                etag: None,
                modified: m.last_modified().copied(),
                order: out.len(),
            });
        }
        if !page.is_truncated().unwrap_or(false) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Ok(out);
        }
    }
}

/// The current objects; empty when the bucket does not exist.
async fn list_current(c: &Client, bucket: &str) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut token = None::<String>;
    loop {
        let page = match c
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if is_no_such_bucket(&e) => return Ok(out),
            Err(e) => anyhow::bail!("{bucket}: cannot list objects: {}", describe(&e)),
        };
        for o in page.contents() {
            out.push(Entry {
                key: o.key().unwrap_or_default().to_owned(),
                version_id: None,
                marker: false,
                size: size_of(o.size()),
                etag: o.e_tag().map(str::to_owned),
                modified: o.last_modified().copied(),
                order: out.len(),
            });
        }
        token = page.next_continuation_token().map(str::to_owned);
        if !page.is_truncated().unwrap_or(false) || token.is_none() {
            return Ok(out);
        }
    }
}

/// A key's history, oldest first. Within one second (S3's timestamps may
/// have no more precision) the listing's own newest-first order decides,
/// and a version goes before a delete marker.
fn by_key_oldest_first(entries: Vec<Entry>) -> BTreeMap<String, Vec<Entry>> {
    let mut keys: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        keys.entry(e.key.clone()).or_default().push(e);
    }
    for history in keys.values_mut() {
        history.sort_by(|a, b| {
            let t = |e: &Entry| e.modified.map_or((0, 0), |d| (d.secs(), d.subsec_nanos()));
            t(a).cmp(&t(b))
                .then(a.marker.cmp(&b.marker))
                .then(b.order.cmp(&a.order))
        });
    }
    keys
}

/// The copy plan: in a versioned bucket, each key's versions past those the
/// destination already has; otherwise the objects the destination lacks or
/// holds with another size or ETag.
async fn plan(
    src: &Client,
    dst: &Client,
    bucket: &str,
    versioned: bool,
    dst_exists: bool,
) -> anyhow::Result<Vec<Entry>> {
    if versioned {
        let theirs = if dst_exists {
            list_versions(dst, bucket).await?
        } else {
            Vec::new()
        };
        let mut have: HashMap<String, usize> = HashMap::new();
        for e in theirs {
            *have.entry(e.key).or_default() += 1;
        }
        let mut todo = Vec::new();
        for (key, history) in by_key_oldest_first(list_versions(src, bucket).await?) {
            let done = have.get(&key).copied().unwrap_or(0);
            if done > history.len() {
                eprintln!(
                    "warning: {bucket}/{key}: the destination has {done} versions, the source {}; left as is",
                    history.len()
                );
            }
            todo.extend(history.into_iter().skip(done));
        }
        return Ok(todo);
    }
    let theirs: HashMap<String, Entry> = if dst_exists {
        list_current(dst, bucket)
            .await?
            .into_iter()
            .map(|e| (e.key.clone(), e))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(list_current(src, bucket)
        .await?
        .into_iter()
        .filter(|e| match theirs.get(&e.key) {
            None => true,
            // A multipart ETag (either side: large objects are copied in
            // parts) depends on the part sizes: then sizes alone are compared.
            Some(d) => {
                let multipart = |x: &Entry| x.etag.as_deref().unwrap_or_default().contains('-');
                d.size != e.size || (d.etag != e.etag && !multipart(d) && !multipart(e))
            }
        })
        .collect())
}

/// Copies the bucket's objects following the plan.
///
/// # Errors
/// A listing failed. A failed object is counted in the outcome instead: the
/// rest of its key's history is then left for the next run, to keep order.
pub async fn copy_bucket(
    src: &Client,
    dst: &Client,
    bucket: &str,
    versioned: bool,
    dry_run: bool,
    dst_exists: bool,
    progress: &mut Progress,
) -> anyhow::Result<Outcome> {
    let todo = plan(src, dst, bucket, versioned, dst_exists).await?;
    let mut outcome = Outcome::default();
    if dry_run {
        for e in &todo {
            let what = if e.marker { "delete marker" } else { "copy" };
            let version = e
                .version_id
                .as_deref()
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default();
            eprintln!(
                "{bucket}: would {what} {}{version}, {} bytes",
                e.key, e.size
            );
            outcome.copied += 1;
            outcome.bytes += e.size;
        }
        return Ok(outcome);
    }
    progress.start(bucket, todo.len() as u64, todo.iter().map(|e| e.size).sum());
    let mut broken: Option<String> = None;
    for e in &todo {
        if broken.as_deref() == Some(e.key.as_str()) {
            progress.step(0);
            continue;
        }
        let result = if e.marker {
            dst.delete_object()
                .bucket(bucket)
                .key(&e.key)
                .send()
                .await
                .map(|_| 0)
                .map_err(|err| anyhow::anyhow!("{}", describe(&err)))
        } else {
            copy_one(src, dst, bucket, e).await
        };
        match result {
            Ok(n) => {
                outcome.copied += 1;
                outcome.bytes += n;
                progress.step(n);
            }
            Err(err) => {
                eprintln!("\nwarning: {bucket}/{}: not copied: {err:#}", e.key);
                outcome.failed += 1;
                broken = versioned.then(|| e.key.clone());
                progress.step(0);
            }
        }
    }
    progress.end_bucket();
    Ok(outcome)
}

/// Reads up to [`PART`] bytes; the flag says whether more may follow.
async fn read_part(body: &mut ByteStream) -> anyhow::Result<(Bytes, bool)> {
    let mut buf = BytesMut::new();
    while buf.len() < PART {
        match body.try_next().await.context("reading from the source")? {
            Some(b) => buf.extend_from_slice(&b),
            None => return Ok((buf.freeze(), false)),
        }
    }
    Ok((buf.freeze(), true))
}

/// The headers that travel with an object.
struct Attrs {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    metadata: Option<HashMap<String, String>>,
    tagging: Option<String>,
}

/// Copies one object or version; returns its size.
async fn copy_one(src: &Client, dst: &Client, bucket: &str, e: &Entry) -> anyhow::Result<u64> {
    let obj = src
        .get_object()
        .bucket(bucket)
        .key(&e.key)
        .set_version_id(e.version_id.clone())
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("reading: {}", describe(&err)))?;
    let tagging = src
        .get_object_tagging()
        .bucket(bucket)
        .key(&e.key)
        .set_version_id(e.version_id.clone())
        .send()
        .await
        .ok()
        .map(|t| {
            t.tag_set()
                .iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        percent_encoding::utf8_percent_encode(t.key(), &UNRESERVED),
                        percent_encoding::utf8_percent_encode(t.value(), &UNRESERVED)
                    )
                })
                .collect::<Vec<_>>()
                .join("&")
        })
        .filter(|s| !s.is_empty());
    let a = Attrs {
        content_type: obj.content_type().map(str::to_owned),
        cache_control: obj.cache_control().map(str::to_owned),
        content_disposition: obj.content_disposition().map(str::to_owned),
        content_encoding: obj.content_encoding().map(str::to_owned),
        content_language: obj.content_language().map(str::to_owned),
        metadata: obj.metadata().cloned().filter(|m| !m.is_empty()),
        tagging,
    };
    let mut body = obj.body;
    let (first, more) = read_part(&mut body).await?;
    if !more {
        let n = first.len() as u64;
        dst.put_object()
            .bucket(bucket)
            .key(&e.key)
            .body(ByteStream::from(first))
            .set_content_type(a.content_type)
            .set_cache_control(a.cache_control)
            .set_content_disposition(a.content_disposition)
            .set_content_encoding(a.content_encoding)
            .set_content_language(a.content_language)
            .set_metadata(a.metadata)
            .set_tagging(a.tagging)
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("writing: {}", describe(&err)))?;
        return Ok(n);
    }
    let up = dst
        .create_multipart_upload()
        .bucket(bucket)
        .key(&e.key)
        .set_content_type(a.content_type)
        .set_cache_control(a.cache_control)
        .set_content_disposition(a.content_disposition)
        .set_content_encoding(a.content_encoding)
        .set_content_language(a.content_language)
        .set_metadata(a.metadata)
        .set_tagging(a.tagging)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("starting the upload: {}", describe(&err)))?;
    let id = up
        .upload_id()
        .context("the destination gave no upload id")?
        .to_owned();
    let result = upload_parts(dst, bucket, &e.key, &id, first, &mut body).await;
    if result.is_err() {
        let _ = dst
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&e.key)
            .upload_id(&id)
            .send()
            .await;
    }
    result
}

async fn upload_parts(
    dst: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    first: Bytes,
    body: &mut ByteStream,
) -> anyhow::Result<u64> {
    let mut parts = Vec::new();
    let mut total = 0u64;
    let (mut chunk, mut more) = (first, true);
    for number in 1.. {
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        let out = dst
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(chunk))
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("writing part {number}: {}", describe(&err)))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
        if !more {
            break;
        }
        (chunk, more) = read_part(body).await?;
    }
    dst.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("completing the upload: {}", describe(&err)))?;
    Ok(total)
}

/// Counts a bucket (zero when it does not exist).
///
/// # Errors
/// A listing failed.
pub async fn count(c: &Client, bucket: &str, versioned: bool) -> anyhow::Result<Count> {
    let current = list_current(c, bucket).await?;
    let versions = if versioned {
        list_versions(c, bucket).await?.len() as u64
    } else {
        0
    };
    Ok(Count {
        objects: current.len() as u64,
        bytes: current.iter().map(|e| e.size).sum(),
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, secs: i64, marker: bool, order: usize) -> Entry {
        Entry {
            key: key.into(),
            version_id: Some(format!("v{order}")),
            marker,
            size: 1,
            etag: None,
            modified: Some(DateTime::from_secs(secs)),
            order,
        }
    }

    #[test]
    fn history_is_replayed_oldest_first() {
        // As listed: newest first; a tie in the same second keeps listing order.
        let listed = vec![
            entry("a", 20, false, 0),
            entry("a", 20, false, 1),
            entry("a", 10, false, 2),
            entry("a", 30, true, 3),
            entry("b", 5, false, 4),
        ];
        let keys = by_key_oldest_first(listed);
        let order: Vec<_> = keys["a"].iter().map(|e| e.order).collect();
        assert_eq!(order, vec![2, 1, 0, 3]);
        assert_eq!(keys["b"].len(), 1);
    }
}
