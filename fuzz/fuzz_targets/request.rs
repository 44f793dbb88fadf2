//! Whole requests through the server's front door, in process: SigV4
//! header and query parsing, presigned URLs, aws-chunked bodies, POST
//! forms, XML and JSON bodies, Range and conditional headers, and every
//! handler behind them. The input is a raw HTTP/1.1 request; its first
//! byte chooses whether it is signed with the root user's key first (so
//! the fuzzer gets past authentication) and with what payload hash.
//!
//! Invariant: no panic, and no 500 (bad input is the client's error).
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use almacen_s3::front::Front;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http_body_util::BodyExt as _;
use libfuzzer_sys::fuzz_target;

const ACCESS: &str = "fuzzadmin";
const SECRET: &str = "fuzzsecret123";

struct World {
    rt: tokio::runtime::Runtime,
    front: Front,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("almacen-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let front = rt.block_on(async {
            let engine = almacen_engine::Engine::open(&dir, "us-east-1").expect("engine");
            engine.ready().await.expect("ready");
            let iam = std::sync::Arc::new(
                almacen_iam::IamStore::open(engine.meta(), ACCESS, SECRET, None)
                    .await
                    .expect("iam"),
            );
            let s3 = almacen_s3::build_service(
                engine.clone(),
                iam.clone(),
                &almacen_s3::FrontConfig {
                    access_key: ACCESS.to_owned(),
                    domains: vec!["s3.fuzz.test".to_owned()],
                    notify_targets: Default::default(),
                    sse_c_insecure: true,
                    server_url: None,
                    root_ignores_bucket_policy: false,
                    tracer: almacen_s3::trace::Tracer::default(),
                    event_targets: None,
                },
            )
            .expect("service");
            let cors = almacen_s3::cors::Cors::new(&[], &["*".to_owned()]);
            // With the identities, so browser POST forms are taken apart
            // (crates/s3/src/post_form.rs) as the server does.
            let front = Front::new(s3, engine, cors).with_iam(iam);
            // A bucket with an object, so object operations reach the engine.
            for (method, uri, body) in [
                ("PUT", "/fuzz", &b""[..]),
                ("PUT", "/fuzz/exists.txt", &b"0123456789"[..]),
            ] {
                let req = signed(method, uri, &[], body.to_vec(), 1).expect("seed request");
                let _ = front.handle(req).await;
            }
            front
        });
        World { rt, front }
    })
}

/// Signs `method uri` with the root key; `mode` 1 signs the payload's
/// SHA-256, 2 sends UNSIGNED-PAYLOAD.
fn signed(
    method: &str,
    uri: &str,
    headers: &[(String, Vec<u8>)],
    body: Vec<u8>,
    mode: u8,
) -> Option<http::Request<s3s::Body>> {
    let url = format!("http://127.0.0.1:9000{uri}");
    let mut b = http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_slice());
    }
    let mut req = b.body(()).ok()?;
    req.headers_mut()
        .entry(http::header::HOST)
        .or_insert(http::HeaderValue::from_static("127.0.0.1:9000"));
    let identity = aws_credential_types::Credentials::new(ACCESS, SECRET, None, None, "fuzz").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .ok()?
        .into();
    let pairs: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let payload = if mode == 2 {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&body)
    };
    let signable = SignableRequest::new(
        method,
        url.clone(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        payload,
    )
    .ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    instructions.apply_to_request_http1x(&mut req);
    *req.uri_mut() = uri.parse().ok()?;
    Some(req.map(|()| s3s::Body::from(body)))
}

fn request(data: &[u8]) -> Option<http::Request<s3s::Body>> {
    let (&mode, raw) = data.split_first()?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = parsed.parse(raw).ok()? else {
        return None;
    };
    let method = parsed.method?;
    let uri = parsed.path?;
    let hs: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    // Frame the body as hyper does on the wire: Content-Length bytes, none
    // without it; chunked and conflicting lengths never reach the service
    // in this form, so such inputs are skipped.
    let mut body = raw[head_len..].to_vec();
    let lengths: Vec<&[u8]> = hs
        .iter()
        .filter(|(k, _)| k == "content-length")
        .map(|(_, v)| v.as_slice())
        .collect();
    if hs.iter().any(|(k, _)| k == "transfer-encoding") || lengths.len() > 1 {
        return None;
    }
    match lengths.first() {
        None => body.clear(),
        Some(v) => {
            let n: usize = std::str::from_utf8(v).ok()?.trim().parse().ok()?;
            if n > body.len() {
                return None;
            }
            body.truncate(n);
        }
    }
    match mode % 3 {
        0 => {
            let mut b = http::Request::builder().method(method).uri(uri);
            for (k, v) in &hs {
                b = b.header(k.as_str(), v.as_slice());
            }
            b.body(s3s::Body::from(body)).ok()
        }
        m => signed(method, uri, &hs, body, m),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else {
        return;
    };
    let w = world();
    // ListenBucketNotification answers with an endless stream (events and a
    // ping every few seconds) by design: check its head, never wait for its end.
    let endless = almacen_s3::listen_ops::is_listen(req.method(), req.uri());
    w.rt.block_on(async {
        let Ok(resp) = w.front.handle(req).await else {
            return;
        };
        let status = resp.status();
        if endless && status.is_success() {
            return;
        }
        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
        if status == http::StatusCode::INTERNAL_SERVER_ERROR {
            panic!(
                "500 for a client's request: {:?}",
                body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
            );
        }
    });
});
