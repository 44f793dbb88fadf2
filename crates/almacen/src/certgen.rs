//! `almacen certgen`: a private authority and a certificate signed by it,
//! written in the certs-folder layout the server reads. It plays the part
//! of MinIO's separate `certgen` tool, for trials, LAN setups and tests; an
//! internet-facing server should use a certificate from a public authority.

use std::path::PathBuf;

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// `almacen certgen` arguments.
#[derive(Debug, clap::Args)]
pub struct CertgenArgs {
    /// Names and addresses the certificate is for, comma-separated
    /// (`localhost,127.0.0.1,s3.example.lan`).
    #[arg(long, default_value = "localhost,127.0.0.1")]
    pub host: String,
    /// The certs folder to write: `public.crt`, `private.key` and `CAs/ca.crt`
    /// (give clients `CAs/ca.crt` to trust).
    #[arg(long, default_value = "certs")]
    pub out: PathBuf,
    /// Days the certificate stays valid.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

/// Writes the authority and the server certificate.
///
/// # Errors
/// A name that is neither a DNS name nor an IP address, or an unwritable folder.
pub fn run(args: &CertgenArgs) -> anyhow::Result<()> {
    let names: Vec<String> = args
        .host
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    anyhow::ensure!(!names.is_empty(), "--host names no host");
    let now = time::OffsetDateTime::now_utc();
    let until = now + time::Duration::days(i64::from(args.days.max(1)));

    let ca_key = KeyPair::generate().context("generating the authority's key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "almacen private authority");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = until;
    let ca_cert = ca.self_signed(&ca_key).context("signing the authority")?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().context("generating the server's key")?;
    let mut leaf = CertificateParams::new(names.clone())
        .with_context(|| format!("--host {}: not DNS names or IP addresses", args.host))?;
    leaf.distinguished_name
        .push(DnType::CommonName, names[0].clone());
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = until;
    let cert = leaf
        .signed_by(&key, &issuer)
        .context("signing the certificate")?;

    let cas = args.out.join("CAs");
    std::fs::create_dir_all(&cas).with_context(|| format!("cannot create {}", cas.display()))?;
    write(&args.out.join("public.crt"), cert.pem().as_bytes(), 0o644)?;
    write(
        &args.out.join("private.key"),
        key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write(&cas.join("ca.crt"), ca_cert.pem().as_bytes(), 0o644)?;
    println!(
        "wrote {0}/public.crt, {0}/private.key and {0}/CAs/ca.crt for {1}",
        args.out.display(),
        names.join(", ")
    );
    Ok(())
}

/// Writes a file with the given mode (the private key readable by its owner only).
fn write(path: &std::path::Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
