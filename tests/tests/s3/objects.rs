//! Objects: put/get/head/delete, metadata, ranges, conditionals, copy, listing, checksums.

use almacen_tests::{Server, bucket_name, code, data, status};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, Delete, MetadataDirective, ObjectIdentifier,
};
use md5::Digest as _;

async fn setup() -> (Server, aws_sdk_s3::Client, String) {
    let srv = Server::start();
    let c = srv.client();
    let b = bucket_name("obj");
    c.create_bucket().bucket(&b).send().await.unwrap();
    (srv, c, b)
}

#[tokio::test]
async fn put_get_round_trip_with_metadata_and_odd_keys() {
    let (_srv, c, b) = setup().await;
    let body = data(300_000, 7);
    let keys = [
        "plain".to_owned(),
        "with space+plus%percent".to_owned(),
        "a//double/../dots".to_owned(),
        "/leading-slash".to_owned(),
        "ünïcødé/ファイル.jpg".to_owned(),
        "k".repeat(1024),
    ];
    for key in &keys {
        let put = c
            .put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .content_type("image/jpeg")
            .cache_control("max-age=60")
            .content_disposition("attachment; filename=\"x.jpg\"")
            .metadata("tenant", "t1")
            .send()
            .await
            .unwrap();
        let md5 = hex::encode(md5::Md5::digest(&body));
        assert_eq!(put.e_tag(), Some(format!("\"{md5}\"").as_str()));
        let got = c.get_object().bucket(&b).key(key).send().await.unwrap();
        assert_eq!(got.content_type(), Some("image/jpeg"));
        assert_eq!(got.cache_control(), Some("max-age=60"));
        assert_eq!(
            got.metadata().unwrap().get("tenant").map(String::as_str),
            Some("t1")
        );
        assert_eq!(got.content_length(), Some(300_000));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(bytes.as_ref() == body.as_slice(), "body of {key}");
    }
    let too_long = c
        .put_object()
        .bucket(&b)
        .key("k".repeat(1025))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_long).as_deref(), Some("KeyTooLongError"));
    let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let mut expect: Vec<&str> = keys.iter().map(String::as_str).collect();
    expect.sort_unstable();
    let got: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, expect, "listing is in byte order");
}

#[tokio::test]
async fn ranges_and_conditionals() {
    let (_srv, c, b) = setup().await;
    let body = data(1000, 3);
    let put = c
        .put_object()
        .bucket(&b)
        .key("r")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    for (range, lo, hi) in [
        ("bytes=10-19", 10, 20),
        ("bytes=990-", 990, 1000),
        ("bytes=-5", 995, 1000),
    ] {
        let got = c
            .get_object()
            .bucket(&b)
            .key("r")
            .range(range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {lo}-{}/1000", hi - 1).as_str())
        );
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.as_ref(), &body[lo..hi]);
    }
    let e = c
        .get_object()
        .bucket(&b)
        .key("r")
        .range("bytes=2000-3000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(416));
    assert_eq!(code(&e).as_deref(), Some("InvalidRange"));

    let e = c
        .get_object()
        .bucket(&b)
        .key("r")
        .if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    let e = c
        .get_object()
        .bucket(&b)
        .key("r")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(304));
    c.get_object()
        .bucket(&b)
        .key("r")
        .if_match(&etag)
        .send()
        .await
        .unwrap();

    // Conditional writes.
    let e = c
        .put_object()
        .bucket(&b)
        .key("r")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    c.put_object()
        .bucket(&b)
        .key("fresh")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let e = c
        .put_object()
        .bucket(&b)
        .key("r")
        .if_match("\"0123\"")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    c.put_object()
        .bucket(&b)
        .key("r")
        .if_match(&etag)
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn checksums_are_verified_stored_and_returned() {
    let (_srv, c, b) = setup().await;
    let body = data(200_000, 11);
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("sum-{}", alg.as_str());
        let put = c
            .put_object()
            .bucket(&b)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let head = c
            .head_object()
            .bucket(&b)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let (sent, back) = match alg {
            ChecksumAlgorithm::Crc32 => (put.checksum_crc32(), head.checksum_crc32()),
            ChecksumAlgorithm::Crc32C => (put.checksum_crc32_c(), head.checksum_crc32_c()),
            ChecksumAlgorithm::Crc64Nvme => (put.checksum_crc64_nvme(), head.checksum_crc64_nvme()),
            ChecksumAlgorithm::Sha1 => (put.checksum_sha1(), head.checksum_sha1()),
            _ => (put.checksum_sha256(), head.checksum_sha256()),
        };
        assert!(sent.is_some(), "{alg:?} echoed on PUT");
        assert_eq!(sent, back, "{alg:?} returned on HEAD");
        // GET in checksum mode lets the SDK validate the body against it.
        let got = c
            .get_object()
            .bucket(&b)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().len(),
            body.len()
        );
    }
    // A wrong checksum header: BadDigest and nothing stored.
    let e = c
        .put_object()
        .bucket(&b)
        .key("bad")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(400));
    assert_eq!(code(&e).as_deref(), Some("BadDigest"));
    let e = c
        .head_object()
        .bucket(&b)
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(404));
    let e = c
        .put_object()
        .bucket(&b)
        .key("bad")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"not empty"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("BadDigest"));
}

#[tokio::test]
async fn copy_delete_and_batch_delete() {
    let (_srv, c, b) = setup().await;
    let b2 = bucket_name("dst");
    c.create_bucket().bucket(&b2).send().await.unwrap();
    let body = data(500_000, 5);
    c.put_object()
        .bucket(&b)
        .key("src")
        .content_type("text/plain")
        .metadata("a", "1")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket(&b2)
        .key("copy")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket(&b2).key("copy").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("a").map(String::as_str),
        Some("1")
    );
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == body.as_slice());

    let e = c
        .copy_object()
        .bucket(&b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidRequest"));
    c.copy_object()
        .bucket(&b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("src").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
    let e = c
        .copy_object()
        .bucket(&b2)
        .key("c2")
        .copy_source(format!("{b}/src"))
        .copy_source_if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));

    // Delete is idempotent.
    c.delete_object()
        .bucket(&b)
        .key("never-existed")
        .send()
        .await
        .unwrap();
    for i in 0..20 {
        c.put_object()
            .bucket(&b)
            .key(format!("d/{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let ids: Vec<ObjectIdentifier> = (0..25)
        .map(|i| {
            ObjectIdentifier::builder()
                .key(format!("d/{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 25);
    let left = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("d/")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0));
}

#[tokio::test]
async fn listing_pages_prefixes_and_delimiters() {
    let (_srv, c, b) = setup().await;
    let mut keys = Vec::new();
    for dir in ["a", "b", "c"] {
        for i in 0..40 {
            keys.push(format!("{dir}/{i:03}"));
        }
    }
    keys.push("top".into());
    for k in &keys {
        c.put_object()
            .bucket(&b)
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let top = c
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/", "c/"]);
    assert_eq!(top.contents().len(), 1);
    assert_eq!(top.key_count(), Some(4));

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_objects_v2()
            .bucket(&b)
            .max_keys(7)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    keys.sort();
    assert_eq!(seen, keys);

    let v1 = c
        .list_objects()
        .bucket(&b)
        .prefix("b/")
        .marker("b/010")
        .max_keys(5)
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, ["b/011", "b/012", "b/013", "b/014", "b/015"]);
    assert_eq!(v1.is_truncated(), Some(true));
}
