//! A quick single-client measurement of the core paths, until `almacen
//! bench` exists: sequential 4 KiB PUT/GET, 64 MiB PUT/GET, and one large
//! upload from a file while sampling the server's peak RSS.
//!
//! Usage: cargo run --release -p almacen-tests --example core_bench -- [BIG_FILE]
//! (starts its own server on a temp folder; BIG_FILE, if given, is uploaded
//! with PutObject-sized multipart parts and the server's VmHWM reported).

use std::time::Instant;

use almacen_tests::{Server, complete_upload, data};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedPart;

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let srv = Server::start();
    let pid = srv.pid();
    let c = srv.client();
    c.create_bucket().bucket("bench").send().await.unwrap();
    println!("idle RSS peak: {} KiB", vm_hwm_kib(pid));

    let small = bytes::Bytes::from(data(4096, 1));
    let n = 2000;
    let t = Instant::now();
    for i in 0..n {
        c.put_object()
            .bucket("bench")
            .key(format!("s/{i}"))
            .body(ByteStream::from(small.clone()))
            .send()
            .await
            .unwrap();
    }
    let put_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..n {
        let o = c
            .get_object()
            .bucket("bench")
            .key(format!("s/{i}"))
            .send()
            .await
            .unwrap();
        let _ = o.body.collect().await.unwrap();
    }
    let get_s = t.elapsed().as_secs_f64();
    println!(
        "4 KiB x {n}, 1 client: PUT {:.0} ops/s, GET {:.0} ops/s",
        f64::from(n) / put_s,
        f64::from(n) / get_s
    );

    // Concurrent small PUTs share fsyncs through group commit.
    for clients in [4usize, 16] {
        let per = 400usize;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..clients {
            let c = c.clone();
            let small = small.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..per {
                    c.put_object()
                        .bucket("bench")
                        .key(format!("c{clients}/{w}/{i}"))
                        .body(ByteStream::from(small.clone()))
                        .send()
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let total = (clients * per) as f64;
        println!(
            "4 KiB PUT, {clients} clients: {:.0} ops/s",
            total / t.elapsed().as_secs_f64()
        );
    }

    let big = bytes::Bytes::from(data(64 << 20, 2));
    let m = 8;
    let t = Instant::now();
    for i in 0..m {
        c.put_object()
            .bucket("bench")
            .key(format!("b/{i}"))
            .body(ByteStream::from(big.clone()))
            .send()
            .await
            .unwrap();
    }
    let put_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..m {
        let o = c
            .get_object()
            .bucket("bench")
            .key(format!("b/{i}"))
            .send()
            .await
            .unwrap();
        let _ = o.body.collect().await.unwrap();
    }
    let get_s = t.elapsed().as_secs_f64();
    let mib = f64::from(64 * m);
    println!(
        "64 MiB x {m}, 1 client: PUT {:.0} MiB/s, GET {:.0} MiB/s",
        mib / put_s,
        mib / get_s
    );
    println!("RSS peak after these: {} KiB", vm_hwm_kib(pid));

    if let Some(path) = std::env::args().nth(1) {
        let size = std::fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        // A single PutObject is limited to 5 GiB; upload it as one stream.
        if size <= 5 << 30 {
            c.put_object()
                .bucket("bench")
                .key("huge")
                .body(ByteStream::from_path(&path).await.unwrap())
                .send()
                .await
                .unwrap();
        } else {
            let up = c
                .create_multipart_upload()
                .bucket("bench")
                .key("huge")
                .send()
                .await
                .unwrap();
            let id = up.upload_id().unwrap();
            let part = 1u64 << 30;
            let mut parts = Vec::new();
            let mut off = 0;
            let mut n = 1;
            while off < size {
                let len = part.min(size - off);
                let body = ByteStream::read_from()
                    .path(&path)
                    .offset(off)
                    .length(aws_smithy_types::byte_stream::Length::Exact(len))
                    .build()
                    .await
                    .unwrap();
                let out = c
                    .upload_part()
                    .bucket("bench")
                    .key("huge")
                    .upload_id(id)
                    .part_number(n)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                parts.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .e_tag(out.e_tag().unwrap())
                        .build(),
                );
                off += len;
                n += 1;
            }
            complete_upload(&c, "bench", "huge", id, parts).await;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{} MiB single upload: {:.0} MiB/s, server RSS peak {} KiB",
            size >> 20,
            (size >> 20) as f64 / s,
            vm_hwm_kib(pid)
        );
    }
}
