//! Signed calls to an almacen (or any S3) endpoint, as an S3 SDK signs them.
//!
//! The admin CLI and the web console both act on behalf of a user by
//! sending SigV4-signed requests to the S3 port, so the server checks them
//! with exactly the code that checks every S3 request. This crate is the one
//! place that signs: request headers ([`sign`]), presigned URLs
//! ([`presign`]) and the HS512 tokens the metrics endpoint accepts
//! ([`prometheus_jwt`]), plus a one-connection HTTP/1 sender ([`send`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// The subfolder of a certs folder holding authorities to trust.
const CAS_DIR: &str = "CAs";

/// Who signs: an access key, its secret, and the region to sign for.
#[derive(Clone)]
pub struct Keys {
    /// The access key.
    pub access_key: String,
    /// The secret key (never logged: `Debug` hides it).
    pub secret_key: String,
    /// The region the server expects in the signature's scope.
    pub region: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// What the signature says about the body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body, hashed into the signature (the admin API requires it).
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`: the body streams and is not hashed first.
    Unsigned,
}

fn settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

fn headers_of<B>(req: &http::Request<B>) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Adds the SigV4 `Authorization`, `x-amz-date` and `x-amz-content-sha256`
/// headers to `req`, whose URI must be absolute and whose headers must
/// already include `Host`.
///
/// # Errors
/// The request cannot be signed (a header that is not text).
pub fn sign<B>(
    req: &mut http::Request<B>,
    keys: &Keys,
    payload: Payload<'_>,
) -> anyhow::Result<()> {
    let identity =
        Credentials::new(&keys.access_key, &keys.secret_key, None, None, "almacen").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&keys.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings())
        .build()
        .context("signing parameters")?
        .into();
    let headers = headers_of(req);
    let body = match payload {
        Payload::Bytes(b) => SignableBody::Bytes(b),
        Payload::Unsigned => SignableBody::UnsignedPayload,
    };
    let method = req.method().as_str().to_owned();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        &method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .context("signing the request")?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .context("signing the request")?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// A presigned URL for `method url` valid for `expires` (S3 allows up to
/// seven days), signed for the host in `url`, which is the host the
/// holder of the link will call.
///
/// # Errors
/// `url` is not an absolute URL, or `expires` is over seven days.
pub fn presign(keys: &Keys, method: &str, url: &str, expires: Duration) -> anyhow::Result<String> {
    if expires > Duration::from_secs(7 * 24 * 3600) || expires.is_zero() {
        bail!("a presigned URL lasts from 1 s to 7 days");
    }
    let uri: http::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let host = uri
        .authority()
        .context("the URL has no host")?
        .as_str()
        .to_owned();
    let identity =
        Credentials::new(&keys.access_key, &keys.secret_key, None, None, "almacen").into();
    let mut s = settings();
    s.signature_location = SignatureLocation::QueryParams;
    s.expires_in = Some(expires);
    s.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&keys.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(s)
        .build()
        .context("signing parameters")?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        std::iter::once(("host", host.as_str())),
        SignableBody::UnsignedPayload,
    )
    .context("signing the URL")?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .context("signing the URL")?
        .into_parts();
    let mut req = http::Request::builder().uri(url).body(()).context("URL")?;
    instructions.apply_to_request_http1x(&mut req);
    Ok(req.uri().to_string())
}

/// A compact HS512 JWT for `keys`' access key, signed with its secret, as
/// MinIO's Prometheus bearer tokens are (see `almacen_s3::metrics::verify_jwt`).
///
/// # Errors
/// Never in practice (HMAC accepts any key length).
pub fn prometheus_jwt(keys: &Keys, lifetime: Duration) -> anyhow::Result<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::{KeyInit as _, Mac as _};
    let exp = time::OffsetDateTime::now_utc().unix_timestamp()
        + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let header = B64.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    let claims = B64.encode(
        serde_json::json!({"exp": exp, "sub": keys.access_key, "iss": "prometheus"}).to_string(),
    );
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(keys.secret_key.as_bytes())
        .context("cannot key HMAC")?;
    mac.update(format!("{header}.{claims}").as_bytes());
    Ok(format!(
        "{header}.{claims}.{}",
        B64.encode(mac.finalize().into_bytes())
    ))
}

/// Sends `req` over a new HTTP/1 connection (TLS for `https://`) to its
/// URI's host and returns the response with its body unread (streamed by
/// the caller).
///
/// # Errors
/// The URI is neither `http://` nor `https://`, the host cannot be
/// reached, or its certificate is not trusted.
pub async fn send<B>(req: http::Request<B>) -> anyhow::Result<http::Response<hyper::body::Incoming>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let authority = req
        .uri()
        .authority()
        .with_context(|| format!("{} has no host", req.uri()))?
        .clone();
    let stream = connect(req.uri()).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(conn);
    sender
        .send_request(req)
        .await
        .with_context(|| format!("request to {authority} failed"))
}

/// The certs folder used when none is given: `~/.almacen/certs`, or MinIO's
/// `~/.minio/certs` when only that one exists (a MinIO host moved over).
/// The server reads its certificates there, the CLI its `CAs/`.
#[must_use]
pub fn default_certs_dir() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let ours = home.join(".almacen/certs");
    let minio = home.join(".minio/certs");
    if !ours.exists() && minio.exists() {
        Some(minio)
    } else {
        Some(ours)
    }
}

/// The crypto the CLI and the console use (aws-lc-rs, as the AWS SDK does).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Roots the CLI trusts: the system's (or `SSL_CERT_FILE`), plus every
/// certificate in the `CAs` folder of the default certs folder.
fn client_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(dir) = default_certs_dir().map(|d| d.join(CAS_DIR))
        && let Ok(rd) = std::fs::read_dir(dir)
    {
        for e in rd.filter_map(Result::ok) {
            if let Ok(iter) = CertificateDer::pem_file_iter(e.path()) {
                roots.add_parsable_certificates(iter.filter_map(Result::ok));
            }
        }
    }
    roots
}

/// A byte stream to a server, plain or TLS, for hyper clients.
pub trait ClientIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> ClientIo for T {}

/// Connects to the server of `uri` (`http://` or `https://`), so the CLI
/// (admin, ready) reaches servers that serve HTTPS as well as plain ones.
///
/// # Errors
/// Another scheme, no connection, or a certificate the CLI does not trust.
pub async fn connect(uri: &http::Uri) -> anyhow::Result<Box<dyn ClientIo>> {
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => bail!("{uri}: expected an http:// or https:// URL"),
    };
    let authority = uri.authority().context("the URL has no host")?;
    // (host, port), not "host:port": an IPv6 host has colons of its own.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    let _ = tcp.set_nodelay(true);
    if !https {
        return Ok(Box::new(tcp));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_root_certificates(client_roots())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host} is not a valid server name"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {authority} failed"))?;
    Ok(Box::new(tls))
}
#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            access_key: "AK".into(),
            secret_key: "SECRET".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn presign_caps_expiry_at_seven_days() {
        let url = presign(&keys(), "GET", "http://h:9000/b/k", Duration::from_secs(60)).unwrap();
        assert!(url.starts_with("http://h:9000/b/k?"), "{url}");
        assert!(url.contains("X-Amz-Expires=60"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(
            presign(
                &keys(),
                "GET",
                "http://h/b/k",
                Duration::from_secs(8 * 86400)
            )
            .is_err()
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", keys()).contains("SECRET"));
    }
}
