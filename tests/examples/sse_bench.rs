//! The cost of encryption at rest: 64 MiB PUT and GET, one client, plain
//! against SSE-S3 on the same server, alternating so that both see the same
//! machine. Plain objects carry the per-chunk CRC-32C trailer; SSE-S3
//! objects are AES-256-GCM sealed in 64 KiB packages.
//!
//! Usage: cargo run --release -p almacen-tests --example sse_bench -- [ROUNDS]

use std::time::{Duration, Instant};

use almacen_tests::{Server, data};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

const KMS: &str = "bench-key:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::main]
async fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    let srv =
        Server::start_with_env(&[("MINIO_KMS_SECRET_KEY", KMS), ("ALMACEN_SCRUB_RATE", "off")]);
    let c = srv.client();
    c.create_bucket().bucket("bench").send().await.unwrap();
    let big = bytes::Bytes::from(data(64 << 20, 2));
    let mut put = [Duration::ZERO; 2];
    let mut get = [Duration::ZERO; 2];
    for r in 0..rounds {
        for (i, sse) in [None, Some(ServerSideEncryption::Aes256)]
            .into_iter()
            .enumerate()
        {
            let key = format!("o{i}-{r}");
            let t = Instant::now();
            c.put_object()
                .bucket("bench")
                .key(&key)
                .set_server_side_encryption(sse)
                .body(ByteStream::from(big.clone()))
                .send()
                .await
                .unwrap();
            put[i] += t.elapsed();
            let t = Instant::now();
            let body = c
                .get_object()
                .bucket("bench")
                .key(&key)
                .send()
                .await
                .unwrap()
                .body;
            let n = body.collect().await.unwrap().into_bytes().len();
            get[i] += t.elapsed();
            assert_eq!(n, 64 << 20);
        }
    }
    let mib = f64::from(64 * rounds);
    for (i, name) in ["plain (CRC-32C per 64 KiB)", "SSE-S3 (AES-256-GCM)"]
        .iter()
        .enumerate()
    {
        println!(
            "{name}: 64 MiB PUT {:.0} MiB/s, GET {:.0} MiB/s ({rounds} rounds)",
            mib / put[i].as_secs_f64(),
            mib / get[i].as_secs_f64()
        );
    }
}
