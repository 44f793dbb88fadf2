//! HTTPS: the SDK over TLS with a private authority, SSE-C allowed once the
//! transport is encrypted, TLS 1.2 and 1.3 only, certificates chosen by SNI
//! and reloaded without a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use almacen_tests::{Server, bucket_name, certgen, data, tls_client_for};
use aws_sdk_s3::primitives::ByteStream;
use tokio_rustls::rustls;

/// A rustls client that trusts `ca_pem` and speaks only `versions`.
fn rustls_client(
    ca_pem: &[u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(c.expect("CA PEM")).expect("add CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Handshakes with the server at `endpoint` asking for `sni`; returns the
/// negotiated version and the certificate the server presented.
async fn handshake(
    endpoint: &str,
    sni: &str,
    ca_pem: &[u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(rustls::ProtocolVersion, Vec<u8>), std::io::Error> {
    let addr = endpoint.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).expect("server name");
    let tls = rustls_client(ca_pem, versions).connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().expect("version");
    let leaf = conn.peer_certificates().expect("certificates")[0].to_vec();
    Ok((version, leaf))
}

fn leaf_of(dir: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::pem_file_iter(dir.join("public.crt"))
        .expect("public.crt")
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

#[tokio::test]
async fn sdk_round_trip_over_https() {
    let certs = tempfile::tempdir().expect("tempdir");
    let ca = certgen(certs.path(), "localhost,127.0.0.1");
    let server = Server::start_tls(certs.path());
    assert!(
        server.endpoint.starts_with("https://"),
        "{}",
        server.endpoint
    );
    let c = tls_client_for(&server.endpoint, &ca);
    let bucket = bucket_name("tls");
    c.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let body = data(3 << 20, 7);
    c.put_object()
        .bucket(&bucket)
        .key("photo.jpg")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put over https");
    let got = c
        .get_object()
        .bucket(&bucket)
        .key("photo.jpg")
        .range("bytes=1000-2000999")
        .send()
        .await
        .expect("ranged get over https");
    let got = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(&got[..], &body[1000..2_001_000]);

    // SSE-C needs an encrypted transport: over HTTPS it is accepted
    // without ALMACEN_SSE_C_ALLOW_HTTP.
    let key = [7u8; 32];
    let key_b64 = base64_encode(&key);
    let key_md5 = base64_encode(&md5_of(&key));
    c.put_object()
        .bucket(&bucket)
        .key("secret.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from(b"customer-keyed".to_vec()))
        .send()
        .await
        .expect("SSE-C put over https");
    let got = c
        .get_object()
        .bucket(&bucket)
        .key("secret.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .expect("SSE-C get over https");
    assert_eq!(
        &got.body.collect().await.expect("body").into_bytes()[..],
        b"customer-keyed"
    );

    // A client that does not trust the authority is refused by its own TLS check.
    let stranger = tempfile::tempdir().expect("tempdir");
    let other_ca = certgen(stranger.path(), "localhost");
    let untrusting = tls_client_for(&server.endpoint, &other_ca);
    assert!(untrusting.list_buckets().send().await.is_err());
    // Plain HTTP to the HTTPS port gets no S3 answer, and the server stays up.
    let plain = server.endpoint.replace("https://", "http://");
    let plain_client =
        almacen_tests::client_for(&plain, almacen_tests::ACCESS_KEY, almacen_tests::SECRET_KEY);
    assert!(plain_client.list_buckets().send().await.is_err());
    c.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("still serving");
}

#[tokio::test]
async fn tls_versions_are_1_2_and_1_3() {
    let certs = tempfile::tempdir().expect("tempdir");
    let ca = certgen(certs.path(), "localhost,127.0.0.1");
    let server = Server::start_tls(certs.path());
    let (v, _) = handshake(
        &server.endpoint,
        "localhost",
        &ca,
        &[&rustls::version::TLS13],
    )
    .await
    .expect("TLS 1.3");
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
    let (v, _) = handshake(
        &server.endpoint,
        "localhost",
        &ca,
        &[&rustls::version::TLS12],
    )
    .await
    .expect("TLS 1.2");
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_2);
    // rustls speaks nothing older; an SSL 3 / TLS 1.0 hello is refused:
    // the server answers a TLS 1.0 ClientHello with an alert or a close.
    let addr = server.endpoint.trim_start_matches("https://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    tcp.write_all(&tls10_client_hello())
        .await
        .expect("send hello");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("answer within 10 s")
        .unwrap_or(0);
    // Either closed (0) or a TLS alert record (content type 21), never a ServerHello (22).
    assert!(
        n == 0 || buf[0] == 21,
        "TLS 1.0 hello answered with {:?}",
        &buf[..n]
    );
}

#[tokio::test]
async fn sni_picks_the_certificate_and_changes_are_reloaded() {
    let certs = tempfile::tempdir().expect("tempdir");
    let ca_main = certgen(certs.path(), "localhost,127.0.0.1");
    let media = certs.path().join("media.example.test");
    let ca_media = certgen(&media, "media.example.test");
    let server = Server::start_tls(certs.path());

    let (_, leaf) = handshake(
        &server.endpoint,
        "media.example.test",
        &ca_media,
        &[&rustls::version::TLS13],
    )
    .await
    .expect("SNI media.example.test");
    assert_eq!(leaf, leaf_of(&media));
    let (_, leaf) = handshake(
        &server.endpoint,
        "localhost",
        &ca_main,
        &[&rustls::version::TLS13],
    )
    .await
    .expect("SNI localhost");
    assert_eq!(leaf, leaf_of(certs.path()));

    // Renew the default certificate under a new authority: the server picks
    // it up without a restart (it checks every few seconds).
    let renewed = tempfile::tempdir().expect("tempdir");
    let ca_new = certgen(renewed.path(), "localhost,127.0.0.1");
    for f in ["private.key", "public.crt"] {
        std::fs::copy(renewed.path().join(f), certs.path().join(f)).expect("replace");
    }
    let mut served = None;
    for _ in 0..60 {
        if let Ok((_, leaf)) = handshake(
            &server.endpoint,
            "localhost",
            &ca_new,
            &[&rustls::version::TLS13],
        )
        .await
        {
            served = Some(leaf);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        served.expect("renewed certificate served within 30 s"),
        leaf_of(renewed.path())
    );
    // And the SDK works against the renewed certificate.
    let c = tls_client_for(&server.endpoint, &ca_new);
    c.list_buckets()
        .send()
        .await
        .expect("list buckets after renewal");
}

/// A minimal TLS 1.0-only ClientHello (one cipher suite, no extensions).
fn tls10_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x01]; // client_version TLS 1.0
    hello.extend_from_slice(&[0x11; 32]); // random
    hello.push(0); // session id length
    hello.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    hello.extend_from_slice(&[0x01, 0x00]); // compression: null
    let mut hs = vec![0x01]; // ClientHello
    let len = u32::try_from(hello.len()).expect("len").to_be_bytes();
    hs.extend_from_slice(&len[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16::try_from(hs.len()).expect("len").to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn md5_of(b: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(b).into()
}
