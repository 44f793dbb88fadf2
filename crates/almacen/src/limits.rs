//! Bounds on connections, so that one client (or a slowloris run holding
//! sockets open) cannot take every connection the server has: a total cap
//! and a cap per client address. Bounds on what one request may hold
//! (header size, body rate) live with hyper's builder in `serve` and with
//! `almacen_s3::slow_body`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connection and request-head limits, from the environment.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections at most (`ALMACEN_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Open connections per client address (`ALMACEN_MAX_CONNECTIONS_PER_CLIENT`);
    /// behind a reverse proxy every client has the proxy's address, so raise it there.
    pub max_per_client: usize,
    /// Time a client has to send a request head, and to send the next one on
    /// an idle keep-alive connection (`ALMACEN_HEADER_TIMEOUT_SECONDS`).
    pub header_timeout: Duration,
    /// The slowest request body accepted (`ALMACEN_BODY_MIN_RATE` per second,
    /// judged over `ALMACEN_BODY_TIMEOUT_SECONDS`).
    pub body_rate: almacen_s3::slow_body::BodyRate,
}

/// Largest request head (request line and headers): 64 KiB, 8x what S3 documents
/// for user metadata plus room for long presigned URLs.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most headers in one request (431 beyond).
pub const MAX_HEADERS: usize = 100;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 8192,
            max_per_client: 1024,
            header_timeout: Duration::from_secs(30),
            body_rate: almacen_s3::slow_body::BodyRate::default(),
        }
    }
}

/// Counts open connections, in total and per client address.
#[derive(Debug)]
pub struct ConnLimiter {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; frees its place when dropped.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    /// A limiter for `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Admits a connection from `ip`, or `None` when a cap is reached.
    #[must_use]
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnPermit> {
        let mut open = self.open.lock().ok()?;
        let (total, per_ip) = &mut *open;
        let mine = per_ip.entry(ip).or_insert(0);
        if *total >= self.limits.max_connections || *mine >= self.limits.max_per_client {
            if *mine == 0 {
                per_ip.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(ConnPermit {
            limiter: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limiter.open.lock() {
            let (total, per_ip) = &mut *open;
            *total = total.saturating_sub(1);
            if let Some(n) = per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// What a connection over the cap is told before it is closed (plain HTTP
/// only; a TLS connection is closed before its handshake).
pub const OVER_CAP_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/xml\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 120\r\n\r\n\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Too many open connections.</Message></Error>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_client_and_in_total() {
        let l = ConnLimiter::new(Limits {
            max_connections: 3,
            max_per_client: 2,
            ..Limits::default()
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = l.admit(a).expect("a1");
        let _a2 = l.admit(a).expect("a2");
        assert!(l.admit(a).is_none(), "third from one client");
        let _b1 = l.admit(b).expect("b1");
        assert!(l.admit(b).is_none(), "over the total");
        drop(a1);
        assert!(l.admit(b).is_some(), "a freed place is reused");
    }

    #[test]
    fn the_over_cap_answer_has_the_right_length() {
        let text = std::str::from_utf8(OVER_CAP_RESPONSE).expect("ascii");
        let (_, body) = text.split_once("\r\n\r\n").expect("head");
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    }
}
