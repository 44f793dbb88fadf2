//! NATS (core), as MinIO publishes: each event's JSON on one subject.
//!
//! Written against the text protocol (INFO, CONNECT, PUB, PING/PONG)
//! rather than with the `async-nats` crate, because the queue needs to know
//! that the server has the message before the event leaves it:
//! `async_nats::Client::flush` only flushes the socket, and its client
//! keeps publishes buffered across its own reconnects, so a message given
//! up on here (and retried from the durable queue) could still be sent
//! later, twice. Here each PUB is followed by a PING, and the event counts
//! as delivered when the PONG comes back: NATS handles a connection's
//! commands in order, so the PUB was processed first.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::{CONNECT_TIMEOUT, DeliveryError};
use crate::config::NatsSpec;
use crate::event::Event;

/// Longest protocol line read (INFO can list many cluster URLs).
const MAX_LINE: u64 = 64 << 10;

pub(crate) struct Nats {
    spec: NatsSpec,
    endpoint: String,
    conn: Option<Conn>,
}

struct Conn {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    max_payload: usize,
}

impl Nats {
    pub(crate) fn new(spec: NatsSpec, endpoint: String) -> Self {
        Self {
            spec,
            endpoint,
            conn: None,
        }
    }

    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> DeliveryError {
        unreachable(&self.endpoint, reason)
    }

    async fn conn(&mut self) -> Result<&mut Conn, DeliveryError> {
        if self.conn.is_none() {
            let conn = self.connect().await?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    async fn connect(&self) -> Result<Conn, DeliveryError> {
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.spec.host.as_str(), self.spec.port)),
        )
        .await
        .map_err(|_| self.unreachable("connect timed out"))?
        .map_err(|e| self.unreachable(e))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut conn = Conn {
            rd: BufReader::new(rd),
            wr,
            max_payload: 1 << 20,
        };
        let ep = self.endpoint.as_str();
        let line = conn.read_line(ep).await?;
        let info: Value = line
            .strip_prefix("INFO ")
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| {
                DeliveryError::Rejected(format!("{} is not a NATS server", self.endpoint))
            })?;
        if info["tls_required"].as_bool() == Some(true) {
            return Err(DeliveryError::Rejected(format!(
                "{} requires TLS, which this version does not speak to NATS",
                self.endpoint
            )));
        }
        if let Some(n) = info["max_payload"].as_u64() {
            conn.max_payload = usize::try_from(n).unwrap_or(usize::MAX);
        }
        let mut connect = json!({
            "verbose": false,
            "pedantic": false,
            "tls_required": false,
            "name": "almacen",
            "lang": "rust",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": 1,
            "echo": false,
        });
        if let (Some(u), Some(p)) = (&self.spec.username, &self.spec.password) {
            connect["user"] = json!(u);
            connect["pass"] = json!(p.expose());
        }
        if let Some(t) = &self.spec.token {
            connect["auth_token"] = json!(t.expose());
        }
        conn.write(ep, format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await?;
        conn.await_pong(ep).await?;
        Ok(conn)
    }

    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        let ep = self.endpoint.clone();
        let conn = self.conn().await?;
        conn.write(&ep, b"PING\r\n").await?;
        conn.await_pong(&ep).await
    }

    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let ep = self.endpoint.clone();
        let subject = self.spec.subject.clone();
        let conn = self.conn().await?;
        if event.raw.len() > conn.max_payload {
            return Err(DeliveryError::Rejected(format!(
                "the event ({} bytes) is larger than the server's max_payload ({})",
                event.raw.len(),
                conn.max_payload
            )));
        }
        let mut msg = Vec::with_capacity(event.raw.len() + subject.len() + 40);
        msg.extend_from_slice(format!("PUB {} {}\r\n", subject, event.raw.len()).as_bytes());
        msg.extend_from_slice(&event.raw);
        msg.extend_from_slice(b"\r\nPING\r\n");
        conn.write(&ep, &msg).await?;
        conn.await_pong(&ep).await
    }
}

fn unreachable(endpoint: &str, reason: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Unreachable {
        endpoint: endpoint.to_owned(),
        reason: reason.to_string(),
    }
}

impl Conn {
    async fn write(&mut self, ep: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        self.wr
            .write_all(bytes)
            .await
            .map_err(|e| unreachable(ep, e))?;
        self.wr.flush().await.map_err(|e| unreachable(ep, e))
    }

    async fn read_line(&mut self, ep: &str) -> Result<String, DeliveryError> {
        let mut line = String::new();
        let got = (&mut self.rd)
            .take(MAX_LINE)
            .read_line(&mut line)
            .await
            .map_err(|e| unreachable(ep, e))?;
        if got == 0 {
            return Err(unreachable(ep, "the server closed the connection"));
        }
        if !line.ends_with('\n') {
            return Err(DeliveryError::Rejected(format!(
                "{ep}: protocol line too long"
            )));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Reads until PONG, answering the server's PINGs; `-ERR` (bad
    /// credentials, bad subject, too large) fails.
    async fn await_pong(&mut self, ep: &str) -> Result<(), DeliveryError> {
        loop {
            let line = self.read_line(ep).await?;
            match line.as_str() {
                "PONG" => return Ok(()),
                "PING" => self.write(ep, b"PONG\r\n").await?,
                "+OK" => {}
                l if l.starts_with("INFO ") => {}
                l if l.starts_with("-ERR") => {
                    return Err(DeliveryError::Rejected(format!(
                        "nats {ep}: {}",
                        l.trim_start_matches("-ERR").trim()
                    )));
                }
                other => {
                    return Err(DeliveryError::Rejected(format!(
                        "nats {ep}: unexpected {:?}",
                        other.chars().take(80).collect::<String>()
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::Secret;

    fn spec(port: u16) -> NatsSpec {
        NatsSpec {
            host: "127.0.0.1".into(),
            port,
            subject: "events".into(),
            username: None,
            password: None,
            token: Some(Secret::new("tok")),
        }
    }

    fn event() -> Event {
        Event::parse(
            br#"{"EventName":"s3:ObjectCreated:Put","Key":"b/k","Records":[{"eventName":"ObjectCreated:Put"}]}"#
                .to_vec(),
        )
        .unwrap()
    }

    /// A server that greets, checks the CONNECT, and answers the first
    /// PUB's PING with `answer`; returns the PUB it got.
    async fn fake_server(answer: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let h = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"INFO {\"max_payload\":1048576}\r\n")
                .await
                .unwrap();
            let mut line = String::new();
            r.read_line(&mut line).await.unwrap();
            assert!(
                line.starts_with("CONNECT {") && line.contains("\"auth_token\":\"tok\""),
                "{line}"
            );
            line.clear();
            r.read_line(&mut line).await.unwrap();
            assert_eq!(line, "PING\r\n");
            // A server PING in between must be answered, and +OK ignored.
            w.write_all(b"+OK\r\nPING\r\nPONG\r\n").await.unwrap();
            line.clear();
            r.read_line(&mut line).await.unwrap();
            assert_eq!(line, "PONG\r\n");
            let mut publ = String::new();
            r.read_line(&mut publ).await.unwrap();
            let n: usize = publ.trim().rsplit(' ').next().unwrap().parse().unwrap();
            let mut payload = vec![0; n + 2];
            r.read_exact(&mut payload).await.unwrap();
            line.clear();
            r.read_line(&mut line).await.unwrap();
            assert_eq!(line, "PING\r\n");
            w.write_all(answer.as_bytes()).await.unwrap();
            format!("{publ}{}", String::from_utf8_lossy(&payload[..n]))
        });
        (port, h)
    }

    #[tokio::test]
    async fn a_publish_counts_once_the_server_answered_the_ping_after_it() {
        let (port, server) = fake_server("PONG\r\n").await;
        let mut n = Nats::new(spec(port), "nats://test".into());
        n.deliver(&event()).await.unwrap();
        let got = server.await.unwrap();
        assert!(got.starts_with("PUB events "), "{got}");
        assert!(
            got.ends_with(r#""Records":[{"eventName":"ObjectCreated:Put"}]}"#),
            "{got}"
        );
    }

    #[tokio::test]
    async fn an_error_or_a_closed_connection_is_not_a_delivery() {
        let (port, server) = fake_server("-ERR 'Authorization Violation'\r\n").await;
        let mut n = Nats::new(spec(port), "nats://test".into());
        let e = n.deliver(&event()).await.unwrap_err();
        assert!(
            matches!(&e, DeliveryError::Rejected(m) if m.contains("Authorization Violation")),
            "{e}"
        );
        server.await.unwrap();
        let (port, server) = fake_server("").await;
        let mut n = Nats::new(spec(port), "nats://test".into());
        let e = n.deliver(&event()).await.unwrap_err();
        assert!(matches!(e, DeliveryError::Unreachable { .. }), "{e}");
        server.await.unwrap();
        // Nothing listens any more.
        n.disconnect();
        let e = n.deliver(&event()).await.unwrap_err();
        assert!(matches!(e, DeliveryError::Unreachable { .. }), "{e}");
    }
}
