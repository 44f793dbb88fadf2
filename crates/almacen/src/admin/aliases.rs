//! Saved servers for the admin CLI, as `mc alias` keeps them: a name, an
//! endpoint and keys, in `~/.almacen/aliases.json` (mode 0600), or from
//! `ALMACEN_HOST_<NAME>=http://ACCESS:SECRET@host:port` in the environment
//! (like `MC_HOST_<alias>`), which wins and needs no file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// One saved server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    /// `http://host:port`.
    pub url: String,
    /// Access key.
    pub access_key: String,
    /// Secret key (kept in a file only its owner can read).
    pub secret_key: String,
    /// Region to sign for.
    #[serde(default = "default_region")]
    pub region: String,
}

impl Alias {
    /// The alias's keys, for signing.
    #[must_use]
    pub fn keys(&self) -> almacen_sign::Keys {
        almacen_sign::Keys {
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            region: self.region.clone(),
        }
    }
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// The aliases file.
fn path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ALMACEN_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("aliases.json"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set ALMACEN_CONFIG_DIR")?;
    Ok(PathBuf::from(home).join(".almacen").join("aliases.json"))
}

/// Every saved alias.
pub fn load() -> anyhow::Result<BTreeMap<String, Alias>> {
    let path = path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid aliases file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the aliases, readable by the owner only.
pub fn save(aliases: &BTreeMap<String, Alias>) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(aliases)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Parses `http://ACCESS:SECRET@host:port`.
fn from_url(url: &str) -> anyhow::Result<Alias> {
    let (scheme, rest) = url
        .split_once("://")
        .context("expected http://ACCESS:SECRET@HOST:PORT")?;
    let (userinfo, host) = rest
        .rsplit_once('@')
        .context("expected ACCESS:SECRET@ before the host")?;
    let (ak, sk) = userinfo.split_once(':').context("expected ACCESS:SECRET")?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Ok(Alias {
        url: format!("{scheme}://{}", host.trim_end_matches('/')),
        access_key: decode(ak),
        secret_key: decode(sk),
        region: default_region(),
    })
}

/// A server named on the command line: `http(s)://ACCESS:SECRET@host:port`,
/// or the name of an alias.
///
/// # Errors
/// A malformed URL, or no such alias.
pub fn resolve(spec: &str) -> anyhow::Result<Alias> {
    if spec.contains("://") {
        return from_url(spec).with_context(|| format!("invalid server URL {spec:?}"));
    }
    get(spec)
}

/// The alias `name`: from the environment, else from the file.
pub fn get(name: &str) -> anyhow::Result<Alias> {
    let var = format!("ALMACEN_HOST_{name}");
    if let Ok(url) = std::env::var(&var) {
        return from_url(&url).with_context(|| format!("{var} is invalid"));
    }
    match load()?.remove(name) {
        Some(a) => Ok(a),
        None => bail!(
            "no alias {name}: add it with `almacen admin alias set {name} URL ACCESS_KEY SECRET_KEY`"
        ),
    }
}
