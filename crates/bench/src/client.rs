//! One kept-alive HTTP/1.1 connection per worker, every request SigV4-signed
//! by aws-sigv4 (as an SDK signs) with `UNSIGNED-PAYLOAD` as the body hash,
//! like warp: the client spends its CPU on requests, not on hashing bodies.

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::body::RepeatBody;

/// Characters left as they are in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// In an object key's path, `/` stays too.
const PATH: &AsciiSet = &QUERY.remove(b'/');

/// Percent-encodes a query value.
pub fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY).to_string()
}

/// The endpoint and the identity requests are signed with.
pub struct Target {
    /// `host:port`, also the Host header.
    authority: String,
    identity: Identity,
    region: String,
}

impl Target {
    /// Parses `http://host:port` and keeps the keys as a signing identity.
    ///
    /// # Errors
    /// The URL is not `http://host[:port]`.
    pub fn new(endpoint: &str, access: &str, secret: &str, region: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid endpoint {endpoint}: {e}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "{endpoint}: only http:// endpoints are supported"
        );
        let auth = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("{endpoint} has no host"))?;
        let authority = format!("{}:{}", auth.host(), auth.port_u16().unwrap_or(80));
        let identity = Credentials::new(access, secret, None, None, "bench").into();
        Ok(Self {
            authority,
            identity,
            region: region.to_owned(),
        })
    }
}

/// A request's outcome as the workloads need it.
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (ETag of a part).
    pub headers: HeaderMap,
    /// The body if it was kept (listings, multipart answers, errors).
    pub body: Bytes,
    /// How many body bytes arrived.
    pub received: u64,
}

impl Reply {
    /// `STATUS Code` of a failed request, from the S3 error XML.
    pub fn error_kind(&self) -> String {
        let code = xml_tag(&self.body, "Code").unwrap_or_default();
        format!("{} {code}", self.status.as_u16())
            .trim_end()
            .to_owned()
    }
}

/// The text of the first `<name>` element of an XML document.
pub fn xml_tag<'a>(xml: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(xml).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find("</")? + start;
    Some(&text[start..end])
}

/// Percent-encodes an object key for the path.
pub fn key_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", utf8_percent_encode(key, PATH))
}

/// One worker's kept-alive connection; reconnects after a failure.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<RepeatBody>>,
}

impl Conn {
    /// A connection opened at the first request.
    pub fn new(target: Arc<Target>) -> Self {
        Self {
            target,
            sender: None,
        }
    }

    async fn ready(&mut self) -> Result<&mut SendRequest<RepeatBody>, String> {
        if let Some(s) = &mut self.sender {
            if s.ready().await.is_ok() {
                return Ok(self.sender.as_mut().expect("just checked"));
            }
            self.sender = None;
        }
        let stream = match tokio::net::TcpStream::connect(&self.target.authority).await {
            Ok(s) => s,
            Err(e) => {
                // A server that is down must not turn the run into a busy loop.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                return Err(format!("connect: {e}"));
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(self.sender.insert(sender))
    }

    /// Sends a signed request. `keep_body` keeps the answer's body (it is
    /// always kept for errors); otherwise it is only counted.
    ///
    /// # Errors
    /// A text naming the failure (connection, signing): the caller counts
    /// it as an error of the operation.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: RepeatBody,
        len: u64,
        keep_body: bool,
    ) -> Result<Reply, String> {
        let req = self.signed(method, path_and_query, body, len)?;
        let sender = self.ready().await?;
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("request: {e}"));
            }
        };
        let (parts, mut body) = resp.into_parts();
        let keep = keep_body || !parts.status.is_success();
        let mut kept = BytesMut::new();
        let mut received = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    self.sender = None;
                    return Err(format!("reading the answer: {e}"));
                }
            };
            if let Some(data) = frame.data_ref() {
                received += data.len() as u64;
                if keep {
                    kept.extend_from_slice(data);
                }
            }
        }
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: kept.freeze(),
            received,
        })
    }

    fn signed(
        &self,
        method: Method,
        path_and_query: &str,
        body: RepeatBody,
        len: u64,
    ) -> Result<http::Request<RepeatBody>, String> {
        let t = &*self.target;
        let url = format!("http://{}{path_and_query}", t.authority);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::HOST, &t.authority)
            .header(http::header::CONTENT_LENGTH, len)
            .body(())
            .map_err(|e| format!("building the request: {e}"))?;
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&t.identity)
            .region(&t.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let len_text = len.to_string();
        let headers = [
            ("host", t.authority.as_str()),
            ("content-length", &len_text),
        ];
        let signable = SignableRequest::new(
            req.method().as_str(),
            url.as_str(),
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut req);
        Ok(req.map(|()| body))
    }
}
