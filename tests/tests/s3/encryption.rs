//! Encryption at rest through aws-sdk-s3: SSE-S3 round trips with ranges
//! across the 64 KiB package boundaries, SSE-C multipart, copies between
//! SSE-C and SSE-S3, wrong and missing customer keys, and no plaintext on disk.

use almacen_tests::{Server, bucket_name, code, complete_upload, data, status};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;

const KMS: &str = "test-key:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PACKAGE: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

fn kms_server() -> Server {
    Server::start_with_env(&[
        ("MINIO_KMS_SECRET_KEY", KMS),
        ("ALMACEN_SSE_C_ALLOW_HTTP", "on"),
        ("ALMACEN_SCRUB_RATE", "off"),
    ])
}

/// A customer key: (base64 key, base64 MD5 of the key).
fn customer_key(seed: u8) -> (String, String) {
    let key = [seed; 32];
    (B64.encode(key), B64.encode(md5::Md5::digest(key)))
}

async fn get_range(c: &aws_sdk_s3::Client, b: &str, k: &str, range: Option<String>) -> Vec<u8> {
    c.get_object()
        .bucket(b)
        .key(k)
        .set_range(range)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn sse_s3_round_trip_and_ranges_across_packages() {
    let srv = kms_server();
    let c = srv.client();
    let b = bucket_name("sse");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let body = data(5 * PACKAGE + 777, 3);
    let put = c
        .put_object()
        .bucket(&b)
        .key("photo.heic")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(get_range(&c, &b, "photo.heic", None).await, body);
    for (start, end) in [
        (0, 0),
        (PACKAGE - 5, PACKAGE + 5),
        (2 * PACKAGE - 1, 4 * PACKAGE),
        (5 * PACKAGE, 5 * PACKAGE + 776),
    ] {
        let got = get_range(&c, &b, "photo.heic", Some(format!("bytes={start}-{end}"))).await;
        assert_eq!(got, &body[start..=end], "range {start}-{end}");
    }
    let head = c
        .head_object()
        .bucket(&b)
        .key("photo.heic")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    // Nothing of the plaintext sits in the data folder.
    let needle = &body[1000..1032];
    for entry in walk(&srv.data_dir) {
        let raw = std::fs::read(&entry).unwrap();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "plaintext found in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn sse_c_multipart_copies_and_wrong_keys() {
    let srv = kms_server();
    let c = srv.client();
    let b = bucket_name("ssec");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let (key, key_md5) = customer_key(7);
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("video.mp4")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let chunks = [data(5 * MIB, 1), data(300_001, 2)];
    let mut parts = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let out = c
            .upload_part()
            .bucket(&b)
            .key("video.mp4")
            .upload_id(id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .body(ByteStream::from(chunk.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    complete_upload(&c, &b, "video.mp4", id, parts).await;
    let whole = chunks.concat();
    let get = |range: Option<String>| {
        c.get_object()
            .bucket(&b)
            .key("video.mp4")
            .set_range(range)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
    };
    let got = get(None).await.unwrap().body.collect().await.unwrap();
    assert_eq!(got.to_vec(), whole);
    let start = 5 * MIB - 10;
    let got = get(Some(format!("bytes={start}-{}", start + 100)))
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), &whole[start..=start + 100]);

    // No key, or a wrong one: S3's errors, never the bytes.
    let err = c
        .get_object()
        .bucket(&b)
        .key("video.mp4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(400));
    let (wrong, wrong_md5) = customer_key(8);
    let err = c
        .get_object()
        .bucket(&b)
        .key("video.mp4")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&wrong)
        .sse_customer_key_md5(&wrong_md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(403), "{:?}", code(&err));

    // SSE-C to SSE-S3, and back under another customer key.
    c.copy_object()
        .bucket(&b)
        .key("as-sse-s3")
        .copy_source(format!("{b}/video.mp4"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&key)
        .copy_source_sse_customer_key_md5(&key_md5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(get_range(&c, &b, "as-sse-s3", None).await, whole);
    c.copy_object()
        .bucket(&b)
        .key("back-to-sse-c")
        .copy_source(format!("{b}/as-sse-s3"))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&wrong)
        .sse_customer_key_md5(&wrong_md5)
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket(&b)
        .key("back-to-sse-c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&wrong)
        .sse_customer_key_md5(&wrong_md5)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), whole);
}
