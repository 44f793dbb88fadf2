//! The machine's own limits, which the server's results are judged against:
//! fsync'd sequential write speed and 4 KiB create+write+fsync rate of the
//! data disk, loopback TCP throughput, and MD5 / SHA-256 speed of one core.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::body::pattern;

/// How long each timed probe runs.
const PROBE: Duration = Duration::from_secs(3);

/// Measures and prints every limit (JSON on stdout with `json`).
///
/// # Errors
/// The folder cannot be written, or a loopback socket cannot be opened.
pub fn run(dir: &Path, size: u64, json_out: bool) -> anyhow::Result<()> {
    let scratch = dir.join(format!(".almacen-machine-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = measure(&scratch, size);
    let _ = std::fs::remove_dir_all(&scratch);
    let (write, creates, tcp, md5, sha) = result?;
    let v = json!({
        "fsync_write_mib_s": round1(write),
        "create_fsync_per_s": round1(creates),
        "loopback_tcp_mib_s": round1(tcp),
        "md5_mib_s": round1(md5),
        "sha256_mib_s": round1(sha),
    });
    let table = format!(
        "fsync'd sequential write      {write:>10.1} MiB/s\n\
         4 KiB create+write+fsync      {creates:>10.1} /s\n\
         loopback TCP, one stream      {tcp:>10.1} MiB/s\n\
         MD5, one core                 {md5:>10.1} MiB/s\n\
         SHA-256, one core             {sha:>10.1} MiB/s\n"
    );
    if json_out {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn mib_per_s(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / 1048576.0 / t.as_secs_f64()
}

type Limits = (f64, f64, f64, f64, f64);

fn measure(dir: &Path, size: u64) -> anyhow::Result<Limits> {
    let chunk = pattern(1 << 20);
    Ok((
        fsync_write(dir, size, &chunk)?,
        create_fsync(dir, &chunk)?,
        loopback(&chunk)?,
        hash::<md5::Md5>(size, &chunk),
        hash::<sha2::Sha256>(size, &chunk),
    ))
}

/// Writes `size` bytes in 1 MiB writes and fsyncs, like `dd conv=fsync`.
fn fsync_write(dir: &Path, size: u64, chunk: &[u8]) -> anyhow::Result<f64> {
    let path = dir.join("seq");
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).context("creating the test file")?;
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).context("writing the test file")?;
        left -= n as u64;
    }
    f.sync_all().context("fsync")?;
    let speed = mib_per_s(size, t.elapsed());
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(speed)
}

/// New 4 KiB files, each written and fsynced, one thread, for a few seconds.
fn create_fsync(dir: &Path, chunk: &[u8]) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < PROBE {
        let mut f = std::fs::File::create(dir.join(format!("f{n}"))).context("creating a file")?;
        f.write_all(&chunk[..4096]).context("writing a file")?;
        f.sync_all().context("fsync")?;
        n += 1;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// One TCP stream over 127.0.0.1, 1 MiB writes and reads, two threads.
fn loopback(chunk: &[u8]) -> anyhow::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding loopback")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let mut s = std::net::TcpStream::connect(addr).context("connecting loopback")?;
    let t = Instant::now();
    while t.elapsed() < PROBE {
        s.write_all(chunk).context("loopback write")?;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let total = reader
        .join()
        .map_err(|_| anyhow::anyhow!("loopback reader panicked"))?
        .context("loopback read")?;
    Ok(mib_per_s(total, t.elapsed()))
}

/// Hashes `size` bytes (the 1 MiB buffer over and over) on this thread.
fn hash<D: sha2::Digest>(size: u64, chunk: &[u8]) -> f64 {
    let t = Instant::now();
    let mut d = D::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        d.update(&chunk[..n]);
        left -= n as u64;
    }
    std::hint::black_box(d.finalize());
    mib_per_s(size, t.elapsed())
}
