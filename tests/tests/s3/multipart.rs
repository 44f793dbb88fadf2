//! Multipart uploads: a 100 MiB upload, part rules, listing, copy parts.

use almacen_tests::{Server, bucket_name, code, complete_upload, data};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::Digest as _;
use sha2::Sha256;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn hundred_mib_multipart_round_trip() {
    let srv = Server::start();
    let c = srv.client();
    let b = bucket_name("mp");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("video.mp4")
        .content_type("video/mp4")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut whole = Sha256::new();
    let mut md5s = Vec::new();
    let mut parts = Vec::new();
    for n in 1..=10 {
        let chunk = data(10 * MIB, n);
        whole.update(&chunk);
        md5s.extend_from_slice(&md5::Md5::digest(&chunk));
        let out = c
            .upload_part()
            .bucket(&b)
            .key("video.mp4")
            .upload_id(id)
            .part_number(i32::try_from(n).unwrap())
            .body(ByteStream::from(chunk))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(i32::try_from(n).unwrap())
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let listed = c
        .list_parts()
        .bucket(&b)
        .key("video.mp4")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 10);
    let done = complete_upload(&c, &b, "video.mp4", id, parts).await;
    let expect = format!("\"{}-10\"", hex::encode(md5::Md5::digest(&md5s)));
    assert_eq!(done.e_tag(), Some(expect.as_str()));
    let got = c
        .get_object()
        .bucket(&b)
        .key("video.mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(100 * MIB as i64));
    assert_eq!(got.content_type(), Some("video/mp4"));
    let mut body = got.body;
    let mut h = Sha256::new();
    while let Some(chunk) = body.try_next().await.unwrap() {
        h.update(&chunk);
    }
    assert_eq!(h.finalize(), whole.finalize());
    let part3 = c
        .get_object()
        .bucket(&b)
        .key("video.mp4")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(part3.parts_count(), Some(10));
    assert_eq!(part3.content_length(), Some(10 * MIB as i64));
}

#[tokio::test]
async fn part_rules() {
    let srv = Server::start();
    let c = srv.client();
    let b = bucket_name("rules");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut etags = Vec::new();
    for n in 1..=2 {
        let out = c
            .upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(data(MIB, 1)))
            .send()
            .await
            .unwrap();
        etags.push(out.e_tag().unwrap().to_owned());
    }
    let complete = |parts: Vec<(i32, String)>| {
        let parts = parts
            .into_iter()
            .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e).build())
            .collect();
        c.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
    };
    let e = complete(vec![(1, etags[0].clone()), (2, etags[1].clone())])
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("EntityTooSmall"));
    let e = complete(vec![(2, etags[1].clone()), (1, etags[0].clone())])
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidPartOrder"));
    let e = complete(vec![(1, "\"0000\"".into())]).await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidPart"));
    // Re-uploading part 1 replaces it; a single part may be small.
    let out = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"replaced"))
        .send()
        .await
        .unwrap();
    complete(vec![(1, out.e_tag().unwrap().to_owned())])
        .await
        .unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"replaced"
    );
    let e = c
        .list_parts()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("NoSuchUpload"));
}

#[tokio::test]
async fn upload_part_copy_and_listing_uploads() {
    let srv = Server::start();
    let c = srv.client();
    let b = bucket_name("upc");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let src = data(6 * MIB, 9);
    c.put_object()
        .bucket(&b)
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("dst/x")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p1 = c
        .upload_part_copy()
        .bucket(&b)
        .key("dst/x")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let p2 = c
        .upload_part_copy()
        .bucket(&b)
        .key("dst/x")
        .upload_id(id)
        .part_number(2)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, 6 * MIB - 1))
        .send()
        .await
        .unwrap();
    let uploads = c
        .list_multipart_uploads()
        .bucket(&b)
        .prefix("dst/")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    let parts = [p1, p2]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            CompletedPart::builder()
                .part_number(i32::try_from(i + 1).unwrap())
                .e_tag(p.copy_part_result().unwrap().e_tag().unwrap())
                .build()
        })
        .collect();
    complete_upload(&c, &b, "dst/x", id, parts).await;
    let got = c.get_object().bucket(&b).key("dst/x").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == src.as_slice());
}
