//! HTTPS, laid out as MinIO lays it out: a certs folder with `public.crt`
//! and `private.key`, one subfolder per further certificate (chosen by the
//! name the client asks for, SNI), `CAs/` for authorities to trust. Files
//! are watched and reloaded, so a renewed certificate (certbot, cert-manager)
//! takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate file of a folder (MinIO's name).
const CERT_FILE: &str = "public.crt";
/// The private key file of a folder (MinIO's name).
const KEY_FILE: &str = "private.key";
/// The subfolder of authorities to trust, not a certificate to serve.
const CAS_DIR: &str = "CAs";
/// How often the folder is checked for changed files.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The certs folder used when none is given (see [`almacen_sign::default_certs_dir`]).
#[must_use]
pub fn default_certs_dir() -> Option<PathBuf> {
    almacen_sign::default_certs_dir()
}

/// The crypto the server uses (aws-lc-rs, as the AWS SDK does).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate found in a certs folder: the top-level one is the
/// default for clients that send no name or a name no certificate covers.
#[derive(Debug)]
struct CertSet {
    default: Arc<CertifiedKey>,
    all: Vec<Arc<CertifiedKey>>,
}

/// Reads one folder's pair; `None` when the folder has neither file.
fn load_pair(dir: &Path) -> anyhow::Result<Option<CertifiedKey>> {
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    match (cert.exists(), key.exists()) {
        (false, false) => return Ok(None),
        (true, false) => bail!("{} has no {KEY_FILE} next to it", cert.display()),
        (false, true) => bail!("{} has no {CERT_FILE} next to it", key.display()),
        (true, true) => {}
    }
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let ck = CertifiedKey::from_der(chain, key_der, &provider())
        .with_context(|| format!("{} does not match {}", key.display(), cert.display()))?;
    Ok(Some(ck))
}

/// Reads the whole folder; `None` when it holds no certificate (plain HTTP).
fn load_set(dir: &Path) -> anyhow::Result<Option<CertSet>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let top = load_pair(dir)?.map(Arc::new);
    let mut all: Vec<Arc<CertifiedKey>> = top.iter().cloned().collect();
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != CAS_DIR))
        .collect();
    subdirs.sort();
    for sub in subdirs {
        if let Some(ck) = load_pair(&sub)? {
            all.push(Arc::new(ck));
        }
    }
    let Some(default) = top.or_else(|| all.first().cloned()) else {
        return Ok(None);
    };
    Ok(Some(CertSet { default, all }))
}

/// What a reload compares: each certificate file's path, length and time.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        dirs.extend(
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir()),
        );
    }
    for d in dirs {
        for f in [CERT_FILE, KEY_FILE] {
            let p = d.join(f);
            if let Ok(m) = std::fs::metadata(&p) {
                out.push((p, m.len(), m.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Chooses the certificate for each handshake from the current set.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertSet>>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.current.read().ok()?.clone();
        if let Some(name) = hello.server_name()
            && set.all.len() > 1
            && let Ok(name) = ServerName::try_from(name)
        {
            for ck in &set.all {
                let Some(leaf) = ck.cert.first() else {
                    continue;
                };
                if webpki::EndEntityCert::try_from(leaf)
                    .is_ok_and(|c| c.verify_is_valid_for_subject_name(&name).is_ok())
                {
                    return Some(ck.clone());
                }
            }
        }
        Some(set.default.clone())
    }
}

/// The server side of TLS: the acceptor's configuration and the folder it
/// reloads from.
pub struct ServerTls {
    /// What each accepted connection is handed to.
    pub acceptor: tokio_rustls::TlsAcceptor,
    resolver: Arc<CertResolver>,
    dir: PathBuf,
}

impl ServerTls {
    /// Loads `dir`; `None` when it holds no certificate, so the server
    /// speaks plain HTTP, as MinIO does.
    ///
    /// # Errors
    /// A certificate or key that cannot be read, or that do not match.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let Some(set) = load_set(dir)? else {
            return Ok(None);
        };
        let resolver = Arc::new(CertResolver {
            current: RwLock::new(Arc::new(set)),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS versions")?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            resolver,
            dir: dir.to_path_buf(),
        }))
    }

    /// Checks the folder every few seconds and swaps in changed
    /// certificates; a broken file is logged and the previous set kept.
    pub fn spawn_reloader(&self) {
        let (resolver, dir) = (self.resolver.clone(), self.dir.clone());
        tokio::spawn(async move {
            let mut seen = fingerprint(&dir);
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let now = fingerprint(&dir);
                if now == seen {
                    continue;
                }
                match load_set(&dir) {
                    Ok(Some(set)) => {
                        if let Ok(mut cur) = resolver.current.write() {
                            *cur = Arc::new(set);
                        }
                        tracing::info!(dir = %dir.display(), "TLS certificates reloaded");
                        seen = now;
                    }
                    Ok(None) => {
                        tracing::warn!(dir = %dir.display(), "no certificate left in the certs folder; keeping the loaded ones");
                        seen = now;
                    }
                    // Often a renewal caught half-written: try again next tick.
                    Err(e) => tracing::warn!(error = %e, "TLS certificates not reloaded"),
                }
            }
        });
    }
}
