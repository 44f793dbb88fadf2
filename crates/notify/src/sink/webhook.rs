//! Webhook: each event POSTed as MinIO's JSON, delivered on a 2xx answer.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use super::{CONNECT_TIMEOUT, DeliveryError};
use crate::config::WebhookSpec;
use crate::event::Event;

pub(crate) struct Webhook {
    spec: WebhookSpec,
}

impl Webhook {
    pub(crate) fn new(spec: WebhookSpec) -> Self {
        Self { spec }
    }

    fn address(&self) -> Result<(http::Uri, String), DeliveryError> {
        let uri: http::Uri = self.spec.endpoint.parse().map_err(|e| {
            DeliveryError::Rejected(format!("bad endpoint {}: {e}", self.spec.endpoint))
        })?;
        let authority = uri.authority().ok_or_else(|| {
            DeliveryError::Rejected(format!("endpoint {} has no host", self.spec.endpoint))
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
            endpoint: self.spec.endpoint.clone(),
            reason,
        };
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| unreachable("connect timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))
    }

    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        let (_, addr) = self.address()?;
        self.connect(&addr).await.map(drop)
    }

    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let (uri, addr) = self.address()?;
        let stream = self.connect(&addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| DeliveryError::Rejected(format!("HTTP handshake: {e}")))?;
        tokio::spawn(conn);
        let authority = uri.authority().map_or("", |a| a.as_str());
        let mut req = http::Request::builder()
            .method("POST")
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, event.raw.len());
        if let Some(t) = &self.spec.auth_token {
            req = req.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", t.expose()),
            );
        }
        let req = req
            .body(Full::new(Bytes::from(event.raw.clone())))
            .map_err(|e| DeliveryError::Rejected(format!("cannot build the request: {e}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| DeliveryError::Rejected(format!("HTTP request: {e}")))?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Rejected(format!(
                "{} answered {status}",
                self.spec.endpoint
            )))
        }
    }
}
