//! `almacen ready`: exits 0 when a server answers `/minio/health/ready`
//! with 200, non-zero otherwise. It is the container healthcheck, the
//! equivalent of MinIO compose files' `mc ready local`, so it needs no
//! credentials, no curl in the image and no config file.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;

/// `almacen ready` arguments.
#[derive(Debug, clap::Args)]
pub struct ReadyArgs {
    /// The server: `local` (the default: this machine's server, at
    /// `ALMACEN_ADDRESS`/`MINIO_ADDRESS` or :9000), an alias of
    /// `almacen admin alias set`, or a URL such as http://127.0.0.1:9000.
    pub target: Option<String>,
    /// The server's URL (`http://HOST:PORT`) or address (`HOST:PORT`, `:PORT`); wins over TARGET.
    #[arg(long, visible_alias = "address")]
    pub endpoint: Option<String>,
    /// How long one probe may take, in seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
    /// Keep probing until ready or this many seconds have passed (scripts
    /// that start a server and wait for it); 0 probes once.
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Print nothing; only the exit code tells.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The base URL of a server address written as MinIO writes them: `:9000`
/// and `0.0.0.0:9000` mean this machine, so they are probed on loopback.
fn url_of_address(address: &str) -> String {
    let address = address.trim();
    if address.contains("://") {
        return address.trim_end_matches('/').to_owned();
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => (address, "9000"),
    };
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" | "::" => "[::1]",
        h => h,
    };
    format!("http://{host}:{port}")
}

/// Where to probe: the flag, else TARGET (URL, alias, or `local`), else the
/// address the server itself would take from the environment.
fn resolve(args: &ReadyArgs) -> anyhow::Result<String> {
    if let Some(e) = &args.endpoint {
        return Ok(url_of_address(e));
    }
    match args.target.as_deref() {
        Some(t) if t.contains("://") => return Ok(url_of_address(t)),
        Some(t) if t != "local" => return Ok(crate::admin::aliases::get(t)?.url),
        Some(t) => {
            // `local` may be a saved alias too; if not, it is this machine.
            if let Ok(a) = crate::admin::aliases::get(t) {
                return Ok(a.url);
            }
        }
        None => {}
    }
    let address = ["ALMACEN_ADDRESS", "MINIO_ADDRESS"]
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| ":9000".to_owned());
    Ok(url_of_address(&address))
}

/// One probe: the status of `GET {base}/minio/health/ready`.
async fn probe(base: &str) -> anyhow::Result<http::StatusCode> {
    let uri: http::Uri = format!("{base}/minio/health/ready")
        .parse()
        .with_context(|| format!("invalid URL {base}"))?;
    let authority = uri.authority().context("the URL has no host")?.clone();
    let stream = almacen_sign::connect(&uri).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(uri.path())
        .header(http::header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())
        .context("building the request")?;
    let resp = sender
        .send_request(req)
        .await
        .with_context(|| format!("request to {authority} failed"))?;
    Ok(resp.status())
}

/// Runs `almacen ready` to its exit code: 0 ready, 1 not ready or not
/// reachable (with the reason on stderr unless `--quiet`).
pub fn main(args: &ReadyArgs) -> std::process::ExitCode {
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if !args.quiet {
                eprintln!("almacen: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Probes until ready or out of time.
///
/// # Errors
/// The server is not ready (an answer other than 200), cannot be reached,
/// or did not answer in time.
fn run(args: &ReadyArgs) -> anyhow::Result<()> {
    let base = resolve(args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let per_probe = Duration::from_secs(args.timeout.max(1));
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    loop {
        let outcome =
            match rt.block_on(async { tokio::time::timeout(per_probe, probe(&base)).await }) {
                Ok(Ok(s)) if s == http::StatusCode::OK => Ok(()),
                Ok(Ok(s)) => Err(anyhow::anyhow!(
                    "{base} is not ready: /minio/health/ready answered {s}"
                )),
                Ok(Err(e)) => Err(e.context(format!("{base} is not ready"))),
                Err(_) => Err(anyhow::anyhow!(
                    "{base} is not ready: no answer within {} s",
                    per_probe.as_secs()
                )),
            };
        match outcome {
            Ok(()) => {
                if !args.quiet {
                    println!("{base} is ready");
                }
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url_of_address;

    #[test]
    fn minio_addresses_become_loopback_urls() {
        assert_eq!(url_of_address(":9000"), "http://127.0.0.1:9000");
        assert_eq!(url_of_address("0.0.0.0:9002"), "http://127.0.0.1:9002");
        assert_eq!(url_of_address("[::]:9000"), "http://[::1]:9000");
        assert_eq!(url_of_address("minio:9000"), "http://minio:9000");
        assert_eq!(url_of_address("http://h:1/"), "http://h:1");
    }
}
