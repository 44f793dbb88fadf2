//! The shared test harness: starts the real `almacen` binary on an
//! ephemeral port over a fresh data folder and hands out aws-sdk-s3 clients.
//!
//! The binary is `$ALMACEN_BIN`, else `target/debug/almacen` of this
//! workspace (`scripts/test` builds it before the tests run).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Root user of test servers.
pub const ACCESS_KEY: &str = "testadmin";
/// Root password of test servers.
pub const SECRET_KEY: &str = "testsecret123";

/// Path of the server binary under test.
#[must_use]
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("ALMACEN_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    target.join("debug").join("almacen")
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its data folder.
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// With `ALMACEN_TEST_META=postgres` (under scripts/with-postgres, which
/// sets `ALMACEN_TEST_PG_URL`), the URL of a database reserved for
/// `data_dir`, created on first use, so that every test server keeps its
/// metadata in PostgreSQL and a restart on the same folder finds it again.
fn meta_url(data_dir: &Path) -> Option<String> {
    use std::hash::{Hash as _, Hasher as _};
    if std::env::var("ALMACEN_TEST_META").ok().as_deref() != Some("postgres") {
        return None;
    }
    let base = std::env::var("ALMACEN_TEST_PG_URL")
        .expect("ALMACEN_TEST_META=postgres needs ALMACEN_TEST_PG_URL (scripts/with-postgres)");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    let name = format!("almacen_rs_{:016x}", h.finish());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([base.as_str(), "-qAt", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    if psql(&format!(
        "SELECT 1 FROM pg_database WHERE datname = '{name}'"
    )) != "1"
    {
        psql(&format!("CREATE DATABASE {name}"));
    }
    let (head, _) = base.rsplit_once('/').expect("a URL ending in /database");
    Some(format!("{head}/{name}"))
}

impl Server {
    /// Starts a server on a fresh temporary data folder.
    #[must_use]
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Self::start_in(tmp.path());
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on a fresh temporary data folder with extra
    /// environment variables (a KMS key, insecure SSE-C, ...).
    #[must_use]
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Self::launch(tmp.path(), env);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `data_dir` (kept after the server stops).
    #[must_use]
    pub fn start_in(data_dir: &Path) -> Self {
        Self::launch(data_dir, &[])
    }

    /// Starts an HTTPS server on a fresh data folder whose certs folder is
    /// `certs_dir` (see [`certgen`]); its endpoint is `https://127.0.0.1:PORT`.
    #[must_use]
    pub fn start_tls(certs_dir: &Path) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let certs = certs_dir.to_str().expect("utf-8 path");
        let mut s = Self::launch_with(tmp.path(), &[], &["--certs-dir", certs]);
        s._tmp = Some(tmp);
        s
    }

    fn launch(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch_with(data_dir, env, &[])
    }

    fn launch_with(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Self {
        let bin = binary();
        assert!(
            bin.exists(),
            "server binary {} missing: run `cargo build -p almacen` first",
            bin.display()
        );
        let mut command = Command::new(&bin);
        if let Some(url) = meta_url(data_dir) {
            command.env("ALMACEN_META_URL", url);
        }
        let mut child = command
            .arg("server")
            .arg(data_dir)
            .args(["--address", "127.0.0.1:0"])
            .args(args)
            .env("MINIO_ROOT_USER", ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
            .env("RUST_LOG", "warn,s3s=off")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("API: ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let endpoint = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(e) => e,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start within 20 s");
            }
        };
        Self {
            child,
            endpoint,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
        }
    }

    /// An S3 client for the root user, path-style, with the SDK's default
    /// checksum behaviour (CRC32 trailers on uploads).
    #[must_use]
    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&self.endpoint, ACCESS_KEY, SECRET_KEY)
    }

    /// The server's process id (for RSS sampling).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGKILL (a crash, as far as the store knows).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server gracefully (SIGTERM) and waits up to 15 s.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..150 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    /// Runs `almacen admin --json ARGS` against this server as root, where
    /// the alias `srv` names it; panics unless it succeeds, and returns its
    /// JSON answer.
    pub fn admin(&self, args: &[&str]) -> serde_json::Value {
        let host = self.endpoint.trim_start_matches("http://");
        let out = Command::new(binary())
            .arg("admin")
            .arg("--json")
            .args(args)
            .env(
                "ALMACEN_HOST_srv",
                format!("http://{ACCESS_KEY}:{SECRET_KEY}@{host}"),
            )
            .env("ALMACEN_CONFIG_DIR", &self.data_dir)
            .output()
            .expect("run almacen admin");
        assert!(
            out.status.success(),
            "almacen admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one plain HTTP/1.1 request (as a browser or phone would send a
/// presigned URL) and returns the status and body.
pub async fn http_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    use http_body_util::BodyExt as _;
    let uri: hyper::Uri = url.parse().expect("url");
    let authority = uri.authority().expect("authority").to_string();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", &authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
        .await
        .expect("answer within 60 s")
        .expect("response");
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body)
}

/// An S3 client for any endpoint and key pair.
#[must_use]
pub fn client_for(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(config_for(endpoint, access_key, secret_key).build())
}

/// The SDK configuration every test client starts from: path style,
/// us-east-1, the given keys.
fn config_for(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::config::Builder {
    let creds = aws_credential_types::Credentials::new(access_key, secret_key, None, None, "test");
    aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
}

/// Writes a private authority and a certificate for `hosts` into `dir`
/// with `almacen certgen`; returns the authority's PEM (what clients trust).
#[must_use]
pub fn certgen(dir: &Path, hosts: &str) -> Vec<u8> {
    let out = Command::new(binary())
        .args(["certgen", "--host", hosts, "--out"])
        .arg(dir)
        .output()
        .expect("run almacen certgen");
    assert!(
        out.status.success(),
        "almacen certgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("CAs").join("ca.crt")).expect("CAs/ca.crt")
}

/// An S3 client that trusts only the authority `ca_pem` (HTTPS endpoints).
#[must_use]
pub fn tls_client_for(endpoint: &str, ca_pem: &[u8]) -> aws_sdk_s3::Client {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(ca_pem.to_vec()))
                .build()
                .expect("TLS context"),
        )
        .build_https();
    aws_sdk_s3::Client::from_conf(
        config_for(endpoint, ACCESS_KEY, SECRET_KEY)
            .http_client(http)
            .build(),
    )
}

/// A unique bucket name for one test.
#[must_use]
pub fn bucket_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deterministic pseudo-random bytes (xorshift), cheap to make in bulk.
#[must_use]
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The S3 error code of an SDK error, if it is a service error.
pub fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code().map(str::to_owned))
}

/// The HTTP status of an SDK error's response.
pub fn status<E>(
    err: &aws_sdk_s3::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Completes a multipart upload with the given parts, panicking on error.
pub async fn complete_upload(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete multipart upload")
}
