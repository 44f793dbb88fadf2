//! A minimal signed HTTP client for the admin CLI: one request per
//! connection, SigV4-signed by aws-sigv4 exactly as an S3 SDK signs, so the
//! server verifies admin calls with the same code as S3 requests.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

use super::aliases::Alias;

/// How long one admin call may take in all.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A response: status and body.
pub struct Reply {
    /// HTTP status.
    pub status: http::StatusCode,
    /// The body (JSON from the admin API, XML from S3 calls).
    pub body: Bytes,
}

impl Reply {
    /// The error code and message of a failed call, from the admin API's
    /// JSON or S3's XML.
    pub fn error_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            let code = v["Code"].as_str().unwrap_or("Error");
            let msg = v["Message"].as_str().unwrap_or("");
            return format!("{code}: {msg}");
        }
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            text.split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&close))
                .map(|(v, _)| v.to_owned())
        };
        match (tag("Code"), tag("Message")) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c,
            _ => format!("HTTP {}", self.status),
        }
    }
}

/// Sends `method path?query` with `body` to the alias's server, signed with its keys.
///
/// # Errors
/// The server cannot be reached, or the alias URL is neither `http://` nor `https://`.
pub async fn send(
    alias: &Alias,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> anyhow::Result<Reply> {
    tokio::time::timeout(
        CALL_TIMEOUT,
        send_inner(alias, method, path_and_query, body),
    )
    .await
    .context("the server did not answer within 60 s")?
}

async fn send_inner(
    alias: &Alias,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> anyhow::Result<Reply> {
    let resp = open(alias, method, path_and_query, body).await?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    Ok(Reply { status, body })
}

/// Sends a signed GET and hands each line of the (endless) answer to
/// `on_line` as it arrives, until the server closes the stream.
///
/// # Errors
/// The server cannot be reached or refuses the call.
pub async fn stream_lines(
    alias: &Alias,
    path_and_query: &str,
    mut on_line: impl FnMut(&str),
) -> anyhow::Result<()> {
    let resp = tokio::time::timeout(CALL_TIMEOUT, open(alias, "GET", path_and_query, Vec::new()))
        .await
        .context("the server did not answer within 60 s")??;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let body = body
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        bail!("{}", Reply { status, body }.error_text());
    }
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the stream")?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            on_line(String::from_utf8_lossy(&line[..end]).trim());
        }
    }
    Ok(())
}

/// Sends a signed request and returns the response with its body unread.
async fn open(
    alias: &Alias,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
    let base: http::Uri = alias
        .url
        .parse()
        .with_context(|| format!("invalid URL {}", alias.url))?;
    let authority = base
        .authority()
        .with_context(|| format!("{} has no host", alias.url))?
        .clone();
    let url = format!(
        "{}://{authority}{path_and_query}",
        base.scheme_str().unwrap_or("http")
    );
    let mut req = http::Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(())
        .context("building the request")?;
    almacen_sign::sign(&mut req, &alias.keys(), almacen_sign::Payload::Bytes(&body))?;
    almacen_sign::send(req.map(|()| Full::new(Bytes::from(body)))).await
}
