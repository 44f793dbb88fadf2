//! Presigned URLs made by aws-sdk-s3 (GET, PUT, UploadPart: seed 000's
//! phone upload), under a tenant user created with `almacen admin`: what the
//! user's policy allows works through a plain HTTP client, the rest is 403.

use std::time::Duration;

use almacen_tests::{Server, bucket_name, client_for, complete_upload, http_send};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::CompletedPart;

const MIB: usize = 1024 * 1024;

fn tenant_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow",
              "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
              "Resource": ["arn:aws:s3:::{bucket}/videos/tenant_1/*"]}}]}}"#
    )
}

#[tokio::test]
async fn presigned_get_put_and_upload_part_under_a_tenant_user() {
    let server = Server::start();
    let root = server.client();
    let bucket = bucket_name("presign");
    root.create_bucket().bucket(&bucket).send().await.unwrap();

    let policy_file = server.data_dir.join("tenant.json");
    std::fs::write(&policy_file, tenant_policy(&bucket)).unwrap();
    server.admin(&["user", "add", "srv", "tenant1", "tenant1-secret"]);
    server.admin(&[
        "policy",
        "create",
        "srv",
        "tenant1",
        policy_file.to_str().unwrap(),
    ]);
    server.admin(&["policy", "attach", "srv", "tenant1", "--user", "tenant1"]);
    let user = client_for(&server.endpoint, "tenant1", "tenant1-secret");
    let presign = || PresigningConfig::expires_in(Duration::from_secs(600)).unwrap();

    // The backend (as the tenant user) creates the upload; the phone PUTs
    // each part to a presigned URL; the backend completes.
    let key = "videos/tenant_1/clip.mp4";
    let upload = user
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .content_type("video/mp4")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let parts_data = [vec![1u8; 5 * MIB], vec![2u8; MIB]];
    let mut parts = Vec::new();
    for (i, data) in parts_data.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let url = user
            .upload_part()
            .bucket(&bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .presigned(presign())
            .await
            .unwrap();
        let (status, _) = http_send("PUT", url.uri(), &[], data.clone()).await;
        assert_eq!(status, 200, "presigned UploadPart {n}");
        let etag = format!(
            "\"{}\"",
            hex::encode(<md5::Md5 as md5::Digest>::digest(data))
        );
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    complete_upload(&user, &bucket, key, upload_id, parts).await;

    // Presigned GET of the finished object.
    let url = user
        .get_object()
        .bucket(&bucket)
        .key(key)
        .presigned(presign())
        .await
        .unwrap();
    let (status, body) = http_send("GET", url.uri(), &[], Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), 6 * MIB);
    assert_eq!(&body[5 * MIB..], &parts_data[1][..]);

    // Presigned PUT that signed its Content-Type: the same type works, another fails.
    let url = user
        .put_object()
        .bucket(&bucket)
        .key("videos/tenant_1/thumb.jpg")
        .content_type("image/jpeg")
        .presigned(presign())
        .await
        .unwrap();
    let (status, _) = http_send(
        "PUT",
        url.uri(),
        &[("content-type", "image/png")],
        b"png".to_vec(),
    )
    .await;
    assert_eq!(status, 403, "a changed signed Content-Type must fail");
    let (status, _) = http_send(
        "PUT",
        url.uri(),
        &[("content-type", "image/jpeg")],
        b"jpg".to_vec(),
    )
    .await;
    assert_eq!(status, 200);

    // Outside the tenant's prefix, a validly signed URL is still denied.
    root.put_object()
        .bucket(&bucket)
        .key("videos/tenant_2/other.mp4")
        .body(b"t2".to_vec().into())
        .send()
        .await
        .unwrap();
    let url = user
        .get_object()
        .bucket(&bucket)
        .key("videos/tenant_2/other.mp4")
        .presigned(presign())
        .await
        .unwrap();
    let (status, body) = http_send("GET", url.uri(), &[], Vec::new()).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
    let url = user
        .put_object()
        .bucket(&bucket)
        .key("videos/tenant_2/evil.mp4")
        .presigned(presign())
        .await
        .unwrap();
    let (status, _) = http_send("PUT", url.uri(), &[], b"x".to_vec()).await;
    assert_eq!(status, 403);

    // A removed user's URLs stop working at once.
    server.admin(&["user", "remove", "srv", "tenant1"]);
    let url = user
        .get_object()
        .bucket(&bucket)
        .key(key)
        .presigned(presign())
        .await
        .unwrap();
    let (status, body) = http_send("GET", url.uri(), &[], Vec::new()).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("InvalidAccessKeyId"));
}
