//! Slows down guessing of secrets: after [`FREE_FAILURES`] failed
//! signatures for one access key from one client address within
//! [`WINDOW`], every further request with that key from that address waits
//! its turn and a delay that doubles with each failure (up to
//! [`MAX_DELAY`]). Requests wait one after another, so an attacker's
//! concurrency does not buy guesses; the owner is slowed, never locked
//! out, and a success clears the count. Other keys and other addresses
//! are not affected. The table is bounded ([`MAX_ENTRIES`]).
//!
//! This reads the access key from the request as sent (it decides nothing
//! but a wait; authorization reads the verified request).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures allowed before requests start to wait.
pub const FREE_FAILURES: u32 = 10;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(300);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// The most (address, key) pairs tracked; the stalest go first.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Entry {
    failures: u32,
    last: Option<Instant>,
    /// Requests of a throttled pair queue here.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// Failed signatures per client address and access key.
#[derive(Default, Clone)]
pub struct AuthThrottle {
    entries: Arc<Mutex<HashMap<(IpAddr, String), Entry>>>,
    /// How many pairs are tracked: while none are, requests pass without
    /// taking the lock (the common case costs one atomic load).
    tracked: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for AuthThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthThrottle")
    }
}

/// The wait after `failures` failures.
fn delay_for(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(MAX_DELAY)
}

impl AuthThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(IpAddr, String), Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits as long as the pair has earned (nothing for most requests).
    /// Dropping the future gives up the turn.
    pub async fn wait(&self, ip: IpAddr, access_key: &str) {
        if self.tracked.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let (delay, turn) = {
            let mut entries = self.lock();
            let Some(e) = entries.get_mut(&(ip, access_key.to_owned())) else {
                return;
            };
            if e.last.is_some_and(|t| t.elapsed() > WINDOW) {
                e.failures = 0;
            }
            (delay_for(e.failures), e.turn.clone())
        };
        if delay.is_zero() {
            return;
        }
        let _turn = turn.lock().await;
        tokio::time::sleep(delay).await;
    }

    /// Records the outcome of a signed request: a failed signature (or an
    /// unknown key) counts, a success clears the pair.
    pub fn record(&self, ip: IpAddr, access_key: &str, failed: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if !failed && self.tracked.load(Relaxed) == 0 {
            return;
        }
        let mut entries = self.lock();
        let key = (ip, access_key.to_owned());
        if !failed {
            entries.remove(&key);
            self.tracked.store(entries.len(), Relaxed);
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let stalest = entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone());
            if let Some(k) = stalest {
                entries.remove(&k);
            }
        }
        let e = entries.entry(key).or_default();
        if e.last.is_some_and(|t| t.elapsed() > WINDOW) {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = Some(Instant::now());
        self.tracked.store(entries.len(), Relaxed);
    }
}

/// The access key a request claims (V4 or V2, header or query), if any.
#[must_use]
pub fn claimed_access_key(
    headers: &http::HeaderMap,
    query: &crate::query::Query,
) -> Option<String> {
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(cred) = auth
            .split([',', ' '])
            .find_map(|p| p.trim().strip_prefix("Credential="))
        {
            return cred.split('/').next().map(str::to_owned);
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            return rest.rsplit_once(':').map(|(ak, _)| ak.to_owned());
        }
    }
    if let Some(cred) = query.get("X-Amz-Credential") {
        return cred.split('/').next().map(str::to_owned);
    }
    query.get("AWSAccessKeyId").map(str::to_owned)
}

/// Whether an S3 error code means the signature or key was wrong.
#[must_use]
pub fn is_auth_failure(code: &str) -> bool {
    matches!(code, "SignatureDoesNotMatch" | "InvalidAccessKeyId")
}

/// Set by the authorization step, which s3s calls only once the signature
/// verified: a signed request refused with 403 without it failed its
/// signature (or named an unknown key). HEAD answers carry no error code,
/// so this is how they count too.
#[derive(Clone, Default, Debug)]
pub struct SignatureVerified(pub Arc<std::sync::atomic::AtomicBool>);

impl SignatureVerified {
    /// Marks the request's signature as verified.
    pub fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether it was.
    #[must_use]
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_after_the_free_failures_and_is_capped() {
        assert_eq!(delay_for(0), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES), Duration::from_millis(250));
        assert_eq!(delay_for(FREE_FAILURES + 1), Duration::from_millis(500));
        assert_eq!(delay_for(FREE_FAILURES + 40), MAX_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_and_other_keys_are_free() {
        let t = AuthThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..FREE_FAILURES + 2 {
            t.record(ip, "victim", true);
        }
        let start = tokio::time::Instant::now();
        t.wait(ip, "victim").await;
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        let start = tokio::time::Instant::now();
        t.wait(ip, "other").await;
        t.wait("192.0.2.2".parse().unwrap(), "victim").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        t.record(ip, "victim", false);
        let start = tokio::time::Instant::now();
        t.wait(ip, "victim").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn claimed_keys() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIA/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        let q = crate::query::Query::default();
        assert_eq!(claimed_access_key(&h, &q).as_deref(), Some("AKIA"));
        h.insert("authorization", "AWS AK2:c2ln".parse().unwrap());
        assert_eq!(claimed_access_key(&h, &q).as_deref(), Some("AK2"));
        let q = crate::query::Query::parse(
            "X-Amz-Credential=AK3%2F2026%2Fus-east-1%2Fs3%2Faws4_request",
        );
        assert_eq!(
            claimed_access_key(&http::HeaderMap::new(), &q).as_deref(),
            Some("AK3")
        );
    }
}
