//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie
//! names the keys the user logged in with, kept only in this process's
//! memory. A session ends at logout, after [`Limits::idle`] without a
//! request, or [`Limits::lifetime`] after login, whichever comes first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use almacen_sign::Keys;
use rand::RngCore as _;

/// The cookie that carries the session id.
pub const COOKIE: &str = "almacen_session";

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From login to forced logout.
    pub lifetime: Duration,
    /// Without any request.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(12 * 3600),
            idle: Duration::from_secs(2 * 3600),
        }
    }
}

/// One logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    /// The keys every call is signed with.
    pub keys: Keys,
    /// The token state-changing calls must send in `X-Almacen-Csrf`.
    pub csrf: String,
    created: Instant,
    seen: Instant,
}

/// The sessions of this process.
#[derive(Debug, Default)]
pub struct Store {
    limits: Limits,
    sessions: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Store {
    /// An empty store with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            sessions: Mutex::default(),
        }
    }

    /// The session's limits (for the cookie's `Max-Age`).
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.created) < self.limits.lifetime
            && now.saturating_duration_since(s.seen) < self.limits.idle
    }

    /// Starts a session for `keys`; returns its id. Drops expired sessions.
    pub fn create(&self, keys: Keys, now: Instant) -> String {
        let id = random_token();
        let mut map = self.lock();
        map.retain(|_, s| self.alive(s, now));
        map.insert(
            id.clone(),
            Session {
                keys,
                csrf: random_token(),
                created: now,
                seen: now,
            },
        );
        id
    }

    /// The live session `id` names, marked as used now; `None` when it
    /// never existed, was ended or has expired.
    pub fn touch(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let alive = self.alive(map.get(id)?, now);
        if !alive {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.seen = now;
        Some(s.clone())
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            access_key: "a".into(),
            secret_key: "s".into(),
            region: "r".into(),
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_at_their_lifetime() {
        let store = Store::new(Limits {
            lifetime: Duration::from_secs(100),
            idle: Duration::from_secs(30),
        });
        let t0 = Instant::now();
        let id = store.create(keys(), t0);
        assert_eq!(id.len(), 64);
        assert!(store.touch(&id, t0 + Duration::from_secs(20)).is_some());
        assert!(store.touch(&id, t0 + Duration::from_secs(45)).is_some());
        assert!(
            store.touch(&id, t0 + Duration::from_secs(80)).is_none(),
            "idle"
        );
        let id = store.create(keys(), t0);
        for s in (25..100).step_by(25) {
            assert!(store.touch(&id, t0 + Duration::from_secs(s)).is_some());
        }
        assert!(
            store.touch(&id, t0 + Duration::from_secs(100)).is_none(),
            "lifetime"
        );
        assert!(store.touch("nope", t0).is_none());
    }

    #[test]
    fn logout_ends_the_session_and_tokens_differ() {
        let store = Store::new(Limits::default());
        let now = Instant::now();
        let id = store.create(keys(), now);
        let s = store.touch(&id, now).unwrap();
        assert_ne!(s.csrf, id);
        store.remove(&id);
        assert!(store.touch(&id, now).is_none());
    }
}
