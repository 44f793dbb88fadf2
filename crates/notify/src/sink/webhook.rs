//! Webhook: each event POSTed as MinIO's JSON, delivered on a 2xx answer.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use super::{CONNECT_TIMEOUT, DeliveryError};
use crate::config::{Secret, WebhookSpec};
use crate::event::Event;

/// POSTs JSON bodies to one `http://` endpoint over a kept-alive
/// connection, reopened after any failure. Used by webhook targets and by
/// the audit webhook, so both speak HTTP the same way.
pub struct JsonPoster {
    endpoint: String,
    auth_token: Option<Secret>,
    conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for JsonPoster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonPoster")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl JsonPoster {
    /// A poster to `endpoint`, sending `Authorization: Bearer <token>` when given.
    #[must_use]
    pub fn new(endpoint: String, auth_token: Option<Secret>) -> Self {
        Self {
            endpoint,
            auth_token,
            conn: None,
        }
    }

    fn address(&self) -> Result<(http::Uri, String), DeliveryError> {
        let uri: http::Uri = self
            .endpoint
            .parse()
            .map_err(|e| DeliveryError::Rejected(format!("bad endpoint {}: {e}", self.endpoint)))?;
        let authority = uri.authority().ok_or_else(|| {
            DeliveryError::Rejected(format!("endpoint {} has no host", self.endpoint))
        })?;
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        Ok((uri, addr))
    }

    async fn connect(&self, addr: &str) -> Result<tokio::net::TcpStream, DeliveryError> {
        let unreachable = |reason: String| DeliveryError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason,
        };
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| unreachable("connect timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))
    }

    /// Whether the endpoint accepts connections.
    ///
    /// # Errors
    /// It does not.
    pub async fn probe(&self) -> Result<(), DeliveryError> {
        let (_, addr) = self.address()?;
        self.connect(&addr).await.map(drop)
    }

    /// POSTs `body`; Ok on a 2xx answer. The connection is kept only
    /// after a complete exchange, so a failed or cancelled post (a caller's
    /// timeout) never leaves a half-used one behind.
    ///
    /// # Errors
    /// The endpoint cannot be reached or did not answer 2xx.
    pub async fn post(&mut self, body: Bytes) -> Result<(), DeliveryError> {
        let (uri, addr) = self.address()?;
        let mut sender = match self.conn.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => {
                let stream = self.connect(&addr).await?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| DeliveryError::Rejected(format!("HTTP handshake: {e}")))?;
                tokio::spawn(conn);
                sender
            }
        };
        let authority = uri.authority().map_or("", |a| a.as_str()).to_owned();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, body.len());
        if let Some(t) = &self.auth_token {
            req = req.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", t.expose()),
            );
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| DeliveryError::Rejected(format!("cannot build the request: {e}")))?;
        sender
            .ready()
            .await
            .map_err(|e| DeliveryError::Rejected(format!("HTTP connection: {e}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| DeliveryError::Rejected(format!("HTTP request: {e}")))?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        self.conn = Some(sender);
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Rejected(format!(
                "{} answered {status}",
                self.endpoint
            )))
        }
    }
}

pub(crate) struct Webhook {
    poster: JsonPoster,
}

impl Webhook {
    pub(crate) fn new(spec: WebhookSpec) -> Self {
        Self {
            poster: JsonPoster::new(spec.endpoint, spec.auth_token),
        }
    }

    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        self.poster.probe().await
    }

    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        self.poster.post(Bytes::from(event.raw.clone())).await
    }
}
