//! The console's JSON API: login, logout, the session, share links,
//! metrics history, button hints, and the signed pass-through to S3.

use std::time::{Duration, Instant};

use almacen_iam::{Context, Decision};
use almacen_sign::Keys;
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::session::{COOKIE, Session, Store};
use crate::{ConsoleConfig, monitor, proxy};

/// The header state-changing calls carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-almacen-csrf";

/// How long a login check may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared by all handlers.
pub struct State {
    pub(crate) cfg: ConsoleConfig,
    sessions: Store,
    pub(crate) history: monitor::History,
}

impl State {
    pub(crate) fn new(cfg: ConsoleConfig) -> Self {
        Self {
            sessions: Store::new(cfg.limits),
            cfg,
            history: monitor::History::default(),
        }
    }
}

type St = AxState<std::sync::Arc<State>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "Code": code, "Message": message }))).into_response()
}

fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// A state-changing call from another site's page would carry that site
/// as its `Origin`: refuse it even before looking at the session.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller's live session, checked for CSRF when the call changes state.
/// 401 when there is none (the page then shows the login form), 403 when
/// the CSRF token is missing or wrong.
#[allow(clippy::result_large_err)] // the error is the answer, returned at once
fn authenticate(state: &State, method: &Method, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(session) = cookie_id(headers).and_then(|id| state.sessions.touch(&id, Instant::now()))
    else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "SessionExpired",
            "not logged in, or the session has expired",
        ));
    };
    if changes_state(method) {
        let sent = headers
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !same_origin(headers) || !bool::from(sent.ct_eq(session.csrf.as_bytes())) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "CsrfTokenMismatch",
                "missing or wrong X-Almacen-Csrf header",
            ));
        }
    }
    Ok(session)
}

fn set_cookie(state: &State, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.cfg.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Login form fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    access_key: String,
    secret_key: String,
}

/// `POST /api/login`: checks the keys with a signed `ListBuckets` on the S3
/// port and starts a session. Keys the server does not know, or a wrong
/// secret, get 401; keys that are valid but may not list buckets still log in.
pub async fn login(AxState(state): St, headers: HeaderMap, Json(form): Json<Login>) -> Response {
    if !same_origin(&headers) || !headers.contains_key(CSRF_HEADER) {
        return error(
            StatusCode::FORBIDDEN,
            "CsrfTokenMismatch",
            "missing X-Almacen-Csrf header",
        );
    }
    if form.access_key.is_empty() || form.secret_key.is_empty() {
        return error(
            StatusCode::UNAUTHORIZED,
            "InvalidLogin",
            "enter an access key and a secret key",
        );
    }
    let keys = Keys {
        access_key: form.access_key,
        secret_key: form.secret_key,
        region: state.cfg.region.clone(),
    };
    let no_headers = HeaderMap::new();
    let check = proxy::forward(
        &state.cfg.s3_endpoint,
        &keys,
        Method::GET,
        "/",
        None,
        &no_headers,
        Body::empty(),
    );
    let resp = match tokio::time::timeout(LOGIN_TIMEOUT, check).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return error(StatusCode::BAD_GATEWAY, "ServerUnreachable", &e.1),
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "ServerUnreachable",
                "the S3 port did not answer",
            );
        }
    };
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let accepted = status.is_success()
        || (status == StatusCode::FORBIDDEN
            && String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
    if !accepted {
        tracing::info!(access_key = %keys.access_key, %status, "console login refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "InvalidLogin",
            "wrong access key or secret key",
        );
    }
    tracing::info!(access_key = %keys.access_key, "console login");
    let id = state.sessions.create(keys, Instant::now());
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&state, &id, state.sessions.limits().lifetime.as_secs()),
    );
    resp
}

/// `POST /api/logout`: ends the session and clears the cookie.
pub async fn logout(AxState(state): St, method: Method, headers: HeaderMap) -> Response {
    if let Err(r) = authenticate(&state, &method, &headers) {
        return r;
    }
    if let Some(id) = cookie_id(&headers) {
        state.sessions.remove(&id);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, "", 0));
    resp
}

fn allowed(state: &State, access_key: &str, action: &str, resource: &str) -> bool {
    state.cfg.iam.identity(access_key).is_ok_and(|id| {
        id.is_root() || id.evaluate(action, resource, &Context::new()) == Decision::Allow
    })
}

/// `GET /api/session`: who is logged in, the CSRF token, and which screens
/// to show.
pub async fn session(AxState(state): St, method: Method, headers: HeaderMap) -> Response {
    let s = match authenticate(&state, &method, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ak = &s.keys.access_key;
    Json(json!({
        "accessKey": ak,
        "csrf": s.csrf,
        "admin": allowed(&state, ak, "admin:ListUsers", "arn:aws:s3:::*"),
        "monitor": state.cfg.metrics.as_ref().is_some_and(|m| m.may_scrape(ak, &Context::new())),
    }))
    .into_response()
}

/// Which bucket the hints are for.
#[derive(Deserialize)]
pub struct CanQuery {
    bucket: String,
}

/// Actions the page shows buttons for.
const HINTED: &[(&str, bool)] = &[
    ("s3:PutObject", true),
    ("s3:DeleteObject", true),
    ("s3:GetObject", true),
    ("s3:DeleteBucket", false),
    ("s3:PutBucketPolicy", false),
    ("s3:PutBucketVersioning", false),
    ("s3:PutLifecycleConfiguration", false),
    ("s3:PutBucketCORS", false),
    ("s3:PutBucketTagging", false),
    ("s3:PutEncryptionConfiguration", false),
    ("s3:PutBucketNotification", false),
];

/// `GET /api/can?bucket=B`: which of the page's buttons the user's identity
/// policies allow on `B`. Only hides buttons: the S3 port still decides
/// each call (and a bucket policy may allow more than this says).
pub async fn can(
    AxState(state): St,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<CanQuery>,
) -> Response {
    let s = match authenticate(&state, &method, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut out = serde_json::Map::new();
    for (action, on_objects) in HINTED {
        let resource = if *on_objects {
            format!("arn:aws:s3:::{}/*", q.bucket)
        } else {
            format!("arn:aws:s3:::{}", q.bucket)
        };
        out.insert(
            (*action).to_owned(),
            allowed(&state, &s.keys.access_key, action, &resource).into(),
        );
    }
    Json(out).into_response()
}

/// A share link request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presign {
    bucket: String,
    key: String,
    version_id: Option<String>,
    expires_seconds: u64,
}

/// `POST /api/presign`: a presigned GET for an object, signed with the
/// user's keys for the S3 port's public URL, valid up to seven days.
pub async fn presign(
    AxState(state): St,
    method: Method,
    headers: HeaderMap,
    Json(p): Json<Presign>,
) -> Response {
    let s = match authenticate(&state, &method, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let base = state.cfg.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let name = host
            .parse::<http::uri::Authority>()
            .map_or_else(|_| "127.0.0.1".to_owned(), |a| a.host().to_owned());
        let scheme = if state.cfg.api_https { "https" } else { "http" };
        format!("{scheme}://{name}:{}", state.cfg.api_port)
    });
    let mut url = format!(
        "{}{}",
        base.trim_end_matches('/'),
        proxy::canonical_path(&format!("/{}/{}", enc(&p.bucket), enc(&p.key)))
    );
    if let Some(v) = p.version_id.filter(|v| !v.is_empty()) {
        url.push_str("?versionId=");
        url.push_str(&enc(&v));
    }
    match almacen_sign::presign(&s.keys, "GET", &url, Duration::from_secs(p.expires_seconds)) {
        Ok(url) => Json(json!({ "url": url })).into_response(),
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            &format!("{e:#}"),
        ),
    }
}

/// Escapes a bucket name or key for a path (keeping `/` in keys).
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2F", "/")
}

/// `GET /api/metrics`: the last hour of samples, for users allowed to read
/// the metrics endpoint (root or `admin:Prometheus`).
pub async fn metrics(AxState(state): St, method: Method, headers: HeaderMap) -> Response {
    let s = match authenticate(&state, &method, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(m) = &state.cfg.metrics else {
        return error(
            StatusCode::NOT_FOUND,
            "NoMetrics",
            "metrics are not available",
        );
    };
    // The console's own port: no S3 request context (the S3 port's
    // scrapes are checked with theirs).
    if !m.may_scrape(&s.keys.access_key, &Context::new()) {
        return error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "reading metrics needs admin:Prometheus",
        );
    }
    let mut samples = state.history.all();
    samples.push(monitor::parse(&m.render().await, monitor::now_ms()));
    Json(json!({ "intervalSeconds": monitor::EVERY.as_secs(), "samples": samples })).into_response()
}

/// `ANY /api/s3/PATH`: the call, signed with the session's keys, on the S3 port.
pub async fn s3(
    AxState(state): St,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let s = match authenticate(&state, &method, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let path = uri.path().strip_prefix("/api/s3").unwrap_or("/");
    match proxy::forward(
        &state.cfg.s3_endpoint,
        &s.keys,
        method,
        path,
        uri.query(),
        &headers,
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(proxy::ProxyError(status, msg)) => error(status, "ConsoleProxyError", &msg),
    }
}
