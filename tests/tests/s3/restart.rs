//! Durability across restarts: a graceful stop and a kill -9 both find
//! every acknowledged object intact.

use almacen_tests::{Server, bucket_name, complete_upload, data};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedPart;

#[tokio::test]
async fn objects_survive_restart_and_kill() {
    let dir = tempfile::tempdir().unwrap();
    let b = bucket_name("dur");
    let mut expected = Vec::new();
    {
        let mut srv = Server::start_in(dir.path());
        let c = srv.client();
        c.create_bucket().bucket(&b).send().await.unwrap();
        for (i, size) in [0usize, 10, 4096, 200_000, 3_000_000]
            .into_iter()
            .enumerate()
        {
            let body = data(size, i as u64 + 1);
            c.put_object()
                .bucket(&b)
                .key(format!("o{i}"))
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            expected.push((format!("o{i}"), body));
        }
        let up = c
            .create_multipart_upload()
            .bucket(&b)
            .key("mp")
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap();
        let p1 = data(5 * 1024 * 1024, 77);
        let p2 = data(1000, 78);
        let mut parts = Vec::new();
        for (n, p) in [(1, &p1), (2, &p2)] {
            let out = c
                .upload_part()
                .bucket(&b)
                .key("mp")
                .upload_id(id)
                .part_number(n)
                .body(ByteStream::from(p.clone()))
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
        complete_upload(&c, &b, "mp", id, parts).await;
        expected.push(("mp".into(), [p1, p2].concat()));
        srv.stop();
    }
    for round in 0..2 {
        let mut srv = Server::start_in(dir.path());
        let c = srv.client();
        for (key, body) in &expected {
            let got = c.get_object().bucket(&b).key(key).send().await.unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert!(
                bytes.as_ref() == body.as_slice(),
                "{key} after restart {round}"
            );
        }
        let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
        assert_eq!(listed.contents().len(), expected.len());
        // The second round starts after a kill -9.
        srv.kill();
    }
}
