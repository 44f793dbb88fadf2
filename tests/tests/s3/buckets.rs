//! Buckets: create, head, list, location, delete and their errors.

use almacen_tests::{Server, bucket_name, code, status};
use aws_sdk_s3::primitives::ByteStream;

#[tokio::test]
async fn bucket_lifecycle_and_errors() {
    let srv = Server::start();
    let c = srv.client();
    let b = bucket_name("bkt");
    c.create_bucket().bucket(&b).send().await.unwrap();
    // us-east-1 keeps AWS's legacy rule: re-creating your own bucket is a 200
    // that changes nothing (other regions answer BucketAlreadyOwnedByYou).
    c.put_object()
        .bucket(&b)
        .key("kept")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.head_object().bucket(&b).key("kept").send().await.unwrap();
    c.delete_object()
        .bucket(&b)
        .key("kept")
        .send()
        .await
        .unwrap();
    c.head_bucket().bucket(&b).send().await.unwrap();
    let listed = c.list_buckets().send().await.unwrap();
    assert!(
        listed
            .buckets()
            .iter()
            .any(|x| x.name() == Some(b.as_str()))
    );
    let loc = c.get_bucket_location().bucket(&b).send().await.unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|l| l.as_str().is_empty())
    );

    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let busy = c.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&busy).as_deref(), Some("BucketNotEmpty"));
    c.delete_object().bucket(&b).key("k").send().await.unwrap();

    // A pending multipart upload also keeps the bucket from being deleted.
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("m")
        .send()
        .await
        .unwrap();
    let busy = c.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&busy).as_deref(), Some("BucketNotEmpty"));
    c.abort_multipart_upload()
        .bucket(&b)
        .key("m")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket(&b).send().await.unwrap();
    let gone = c.head_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(status(&gone), Some(404));
    let gone = c.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&gone).as_deref(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn invalid_bucket_names_are_refused() {
    let srv = Server::start();
    let c = srv.client();
    for bad in ["ab", "Upper-Case", "under_score", "192.168.5.4", "-leading"] {
        let e = c.create_bucket().bucket(bad).send().await.unwrap_err();
        assert_eq!(status(&e), Some(400), "{bad}");
        assert_eq!(code(&e).as_deref(), Some("InvalidBucketName"), "{bad}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let srv = Server::start();
    let bad_key = almacen_tests::client_for(&srv.endpoint, "nobody", almacen_tests::SECRET_KEY);
    let e = bad_key.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidAccessKeyId"));
    assert_eq!(status(&e), Some(403));
    let bad_secret =
        almacen_tests::client_for(&srv.endpoint, almacen_tests::ACCESS_KEY, "wrong-secret-123");
    let e = bad_secret.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(status(&e), Some(403));
}
