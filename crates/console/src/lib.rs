//! The web console: a browser UI on `--console-address`.
//!
//! The page (HTML, CSS and JavaScript modules embedded in the binary, see
//! [`assets`]) talks only to this crate's small JSON API. After login, every
//! S3 or admin call the page makes goes through [`proxy`], which signs it
//! with the user's own keys and sends it to the S3 port over loopback: the
//! server authorizes console users exactly as it authorizes any S3 client,
//! so the console can never grant more than the user's keys allow. What the
//! console decides itself is only cosmetic (which buttons to show, see
//! [`api::can`]).
//!
//! Sessions ([`session`]) live in memory behind an `HttpOnly`,
//! `SameSite=Strict` cookie; state-changing calls must also carry the
//! session's token in `X-Almacen-Csrf`.

pub mod api;
pub mod assets;
pub mod monitor;
pub mod proxy;
pub mod session;

use std::sync::Arc;

use almacen_iam::IamStore;
use almacen_s3::metrics::Metrics;
use axum::Router;
use axum::routing::{any, get, post};

pub use session::Limits;

/// What the console needs from the server.
pub struct ConsoleConfig {
    /// Where the S3 port answers on loopback, `http://127.0.0.1:9000`.
    pub s3_endpoint: String,
    /// The S3 port's public URL for share links (`MINIO_SERVER_URL`); when
    /// unset, links use the host the browser reached the console at, with
    /// [`ConsoleConfig::api_port`].
    pub public_url: Option<String>,
    /// The S3 port, for share links without a public URL.
    pub api_port: u16,
    /// Whether the S3 port speaks HTTPS (share links without a public URL).
    pub api_https: bool,
    /// The region requests are signed for.
    pub region: String,
    /// Marks the session cookie `Secure` (when the console is served over TLS).
    pub secure_cookie: bool,
    /// How long sessions last.
    pub limits: Limits,
    /// Users and policies, to hide buttons the user may not use (a hint
    /// only: the S3 port decides).
    pub iam: Arc<IamStore>,
    /// The server's metrics, sampled for the monitoring screen.
    pub metrics: Option<Arc<Metrics>>,
}

/// The console: its configuration, sessions and metrics history.
#[derive(Clone)]
pub struct Console {
    state: Arc<api::State>,
}

impl Console {
    /// A console over `cfg`.
    #[must_use]
    pub fn new(cfg: ConsoleConfig) -> Self {
        Self {
            state: Arc::new(api::State::new(cfg)),
        }
    }

    /// The console's routes, for serving on any connection (plain or TLS).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/login", post(api::login))
            .route("/api/logout", post(api::logout))
            .route("/api/session", get(api::session))
            .route("/api/can", get(api::can))
            .route("/api/presign", post(api::presign))
            .route("/api/metrics", get(api::metrics))
            .route("/api/s3", any(api::s3))
            .route("/api/s3/", any(api::s3))
            .route("/api/s3/{*path}", any(api::s3))
            .fallback(assets::serve)
            .with_state(self.state.clone())
    }

    /// Starts sampling the metrics for the monitoring screen (needs a
    /// Tokio runtime).
    pub fn spawn_sampler(&self) {
        if let Some(m) = &self.state.cfg.metrics {
            tokio::spawn(monitor::run(m.clone(), self.state.history.clone()));
        }
    }

    /// Serves the console on `listener` until the process ends.
    ///
    /// # Errors
    /// Accepting connections fails for good.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.spawn_sampler();
        axum::serve(listener, self.router()).await
    }
}
