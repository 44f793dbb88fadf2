//! Starting and running the server: open the engine, bind, accept, shut down.

use std::io::Write as _;
use std::time::Duration;

use almacen_engine::{Engine, GC_GRACE_MS};
use almacen_iam::IamStore;
use almacen_s3::FrontConfig;
use almacen_s3::front::Front;
use anyhow::Context as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::config::{MetaBackend, ServerConfig};

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
/// The data folder or the port cannot be used.
pub fn run(cfg: ServerConfig) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(cfg))
}

async fn serve(mut cfg: ServerConfig) -> anyhow::Result<()> {
    let (mut engine, node_id) = match &cfg.meta {
        MetaBackend::Embedded => (
            Engine::open(&cfg.data_dir, &cfg.region)
                .map_err(|e| anyhow::anyhow!("data folder {}: {e}", cfg.data_dir.display()))?,
            None,
        ),
        MetaBackend::Postgres { url, pool, node_id } => {
            // The URL may hold a password: errors name the database, not the URL.
            let meta = almacen_meta::PgStore::connect(url, *pool)
                .await
                .map_err(|e| anyhow::anyhow!("metadata database (--meta): {e}"))?;
            tracing::info!(node = %node_id, "metadata in PostgreSQL, shared with other nodes");
            let engine = Engine::open_shared(
                &cfg.data_dir,
                &cfg.region,
                std::sync::Arc::new(meta),
                node_id,
            )
            .map_err(|e| anyhow::anyhow!("data folder {}: {e}", cfg.data_dir.display()))?;
            (engine, Some(node_id.clone()))
        }
    };
    // Several nodes: background work only on the lease holder (asked once
    // now, then renewed with every heartbeat).
    let background = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(node_id.is_none()));
    if let Some(id) = &node_id {
        engine.set_background_flag(background.clone());
        crate::cluster::take_lease(engine.meta().as_ref(), id, &background).await;
    }
    engine.set_master_key(cfg.kms_key.take());
    let previous = std::mem::take(&mut cfg.kms_previous);
    let previous_material: Vec<String> = previous.iter().map(|(_, spec)| spec.clone()).collect();
    engine.set_previous_keys(previous.into_iter().map(|(k, _)| k).collect());
    engine.set_extra_keys(std::mem::take(&mut cfg.kms_extra));
    if let Some(secs) = cfg.lifecycle_day_seconds {
        tracing::warn!(
            seconds = secs,
            "a lifecycle day lasts {secs} s (ALMACEN_LIFECYCLE_DAY_SECONDS): for tests and demos only"
        );
        engine.set_lifecycle_day_ms(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX));
    }
    engine.ready().await.map_err(|e| {
        anyhow::anyhow!(
            "data folder {} is not writable: {e}",
            cfg.data_dir.display()
        )
    })?;
    crate::provision::apply(&engine, &cfg.buckets).await?;
    let previous_material: Vec<&[u8]> = previous_material.iter().map(String::as_bytes).collect();
    let iam = IamStore::open_with_previous(
        engine.meta(),
        &cfg.access_key,
        &cfg.secret_key,
        cfg.master_key.as_deref().map(str::as_bytes),
        &previous_material,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot load users and policies: {e}"))?;
    let iam = std::sync::Arc::new(iam);
    if node_id.is_some() {
        crate::cluster::spawn_config_follower(engine.meta(), iam.clone());
    }
    let console_iam = iam.clone();
    let delivery = std::sync::Arc::new(almacen_notify::DeliveryStats::default());
    let metrics = std::sync::Arc::new(almacen_s3::metrics::Metrics::new(
        engine.clone(),
        iam.clone(),
        cfg.prometheus_public,
        delivery.clone(),
    ));
    // Event targets: the environment's, then those added with `almacen
    // admin event target add` (stored; the environment wins a clash).
    let mut targets = cfg.notify_targets.clone();
    for t in almacen_s3::event_targets::load(&engine.meta(), &iam, "")
        .await
        .map_err(|e| anyhow::anyhow!("cannot load event targets: {e}"))?
    {
        let key = almacen_notify::arn_key(&t.arn);
        if !targets
            .iter()
            .any(|e| almacen_notify::arn_key(&e.arn) == key)
        {
            targets.push(t);
        }
    }
    let (dispatcher, target_control) =
        almacen_notify::Dispatcher::new(engine.meta(), targets.clone(), delivery.clone())
            .controlled();
    let live_targets: almacen_s3::NotifyTargets = std::sync::Arc::new(std::sync::RwLock::new(
        targets.iter().map(|t| t.arn.clone()).collect(),
    ));
    let event_admin = std::sync::Arc::new(almacen_s3::event_targets::EventTargetAdmin::new(
        target_control,
        live_targets.clone(),
        cfg.notify_targets.iter().map(|t| t.arn.clone()).collect(),
        "",
    ));
    let tls = match &cfg.certs_dir {
        Some(dir) => crate::tls::ServerTls::load(dir)
            .with_context(|| format!("HTTPS certificates in {}", dir.display()))?,
        None => None,
    };
    let tracer = almacen_s3::trace::Tracer::default();
    let iam_for_forms = iam.clone();
    let s3 = almacen_s3::build_service(
        engine.clone(),
        iam,
        &FrontConfig {
            access_key: cfg.access_key.clone(),
            notify_targets: live_targets,
            // Under HTTPS every connection is encrypted, so customer keys may come.
            sse_c_insecure: cfg.sse_c_insecure || tls.is_some(),
            domains: cfg.domains.clone(),
            server_url: cfg.server_url.clone(),
            root_ignores_bucket_policy: cfg.root_ignores_bucket_policy,
            tracer: tracer.clone(),
            event_targets: Some(event_admin),
        },
    )
    .map_err(anyhow::Error::msg)?;
    let cors = almacen_s3::cors::Cors::new(&cfg.domains, &cfg.cors_allow_origin);
    let console_metrics = metrics.clone();
    let mut front = Front::new(s3, engine.clone(), cors)
        .with_iam(iam_for_forms)
        .with_secure_transport(tls.is_some())
        .with_signature_rules(almacen_s3::signature_rules::SignatureRules {
            region: (!cfg.accept_any_region).then(|| cfg.region.clone()),
            sigv2: cfg.sigv2,
        })
        .with_body_rate(cfg.limits.body_rate)
        .with_metrics(metrics)
        .with_tracer(tracer);
    let audit_hooks = almacen_s3::audit_webhook::targets_from_env(std::env::vars())
        .map_err(anyhow::Error::msg)?;
    for t in &audit_hooks {
        tracing::info!(id = %t.id, endpoint = %t.endpoint, "audit webhook");
    }
    front = front.with_audit_webhooks(
        audit_hooks
            .into_iter()
            .map(|t| std::sync::Arc::new(almacen_s3::audit_webhook::AuditWebhook::start(t)))
            .collect(),
    );
    if let Some(path) = &cfg.audit_log {
        let audit = almacen_s3::audit::AuditLog::open(path.clone(), cfg.audit_log_max_bytes, 5)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?;
        front = front.with_audit(std::sync::Arc::new(audit));
    }

    let listener = TcpListener::bind(cfg.address)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.address))?;
    let local = listener.local_addr().context("listener address")?;

    if cfg.default_credentials {
        tracing::warn!(
            "using the default root credentials minioadmin/minioadmin: set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD"
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shown = if local.ip().is_unspecified() {
        format!("{scheme}://127.0.0.1:{}", local.port())
    } else {
        format!("{scheme}://{local}")
    };
    if let (Some(t), Some(dir)) = (&tls, &cfg.certs_dir) {
        tracing::info!(dir = %dir.display(), "HTTPS with the certificates in the certs folder");
        t.spawn_reloader();
    }
    // The web console: its own port, acting through signed calls to ours.
    // Under HTTPS it calls a plain listener of its own on loopback, so it
    // need neither trust nor match the name of the public certificate.
    let console_api = match &tls {
        None => shown.clone(),
        Some(_) => loopback_api(front.clone(), cfg.limits.header_timeout).await?,
    };
    let console_shown = start_console(
        &cfg,
        &console_api,
        local.port(),
        console_iam,
        console_metrics,
        tls.as_ref().map(|t| t.acceptor.clone()),
    )
    .await;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "almacen {}", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(out, "API: {shown}");
        let _ = writeln!(out, "Console: {console_shown}");
        let _ = writeln!(out, "RootUser: {}", cfg.access_key);
        let _ = writeln!(out, "Region: {}", cfg.region);
        let _ = out.flush();
    }

    // Garbage collection of replaced blobs: everything left from before the
    // start at once, then periodically with a grace period for readers.
    // With several nodes, readers elsewhere may still hold released blobs:
    // always the grace period then.
    let gc_engine = engine.clone();
    let shared = node_id.is_some();
    tokio::spawn(async move {
        if !shared && let Err(e) = gc_engine.collect_garbage(0).await {
            tracing::warn!(error = %e, "garbage collection failed");
        }
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if !gc_engine.runs_background() {
                continue;
            }
            if let Err(e) = gc_engine.collect_garbage(GC_GRACE_MS).await {
                tracing::warn!(error = %e, "garbage collection failed");
            }
        }
    });

    // Scrubber: re-reads all data slowly, so rot is found before a read needs it.
    if let Some(rate) = cfg.scrub_rate {
        engine.spawn_scrubber(rate, cfg.scrub_interval);
    }

    // Event notifications: drain the durable queue to the targets.
    // Endpoints are logged without their secrets (Target::endpoint).
    for t in &targets {
        tracing::info!(arn = %t.arn, kind = t.kind(), endpoint = %t.endpoint(), "event notification target");
    }
    almacen_notify::publish(delivery.clone());
    let dispatcher = if node_id.is_some() {
        dispatcher.gated(background.clone())
    } else {
        dispatcher
    };
    tokio::spawn(dispatcher.run());
    if let Some(id) = &node_id {
        let node = almacen_meta::NodeRow {
            id: id.clone(),
            endpoint: cfg.server_url.clone().unwrap_or_else(|| shown.clone()),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            roles: String::new(),
            started_ms: i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            )
            .unwrap_or(0),
            seen_ms: 0,
            now_ms: 0,
        };
        crate::cluster::spawn_heartbeat(engine.meta(), node, background.clone());
    }

    // Lifecycle: a pass over the buckets with rules, several times a "day"
    // (every hour, or an eighth of a shortened day).
    let lc_engine = engine.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis(
            u64::try_from((lc_engine.lifecycle_day_ms() / 8).clamp(500, 3_600_000))
                .unwrap_or(3_600_000),
        );
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !lc_engine.runs_background() {
                continue;
            }
            match lc_engine.apply_lifecycle().await {
                Ok(s) if s.expired + s.aborted > 0 => {
                    tracing::info!(expired = s.expired, aborted = s.aborted, "lifecycle pass");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "lifecycle pass failed"),
            }
        }
    });

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limiter = crate::limits::ConnLimiter::new(cfg.limits);
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(permit) = limiter.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open connections");
            if tls.is_none() {
                tokio::spawn(refuse(socket));
            }
            continue;
        };
        let _ = socket.set_nodelay(true);
        let service = front.for_peer(peer);
        let header_timeout = cfg.limits.header_timeout;
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = acceptor else {
                return serve_connection(socket, service, watcher, header_timeout).await;
            };
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                Ok(Ok(stream)) => serve_connection(stream, service, watcher, header_timeout).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    tracing::info!("shutting down");
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("requests still running after the shutdown grace period"),
    }
    Ok(())
}

/// Serves HTTP/1.1 with keep-alive on one accepted connection, plain or TLS.
async fn serve_connection<I>(
    io: I,
    service: Front,
    watcher: hyper_util::server::graceful::Watcher,
    header_timeout: Duration,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(crate::limits::MAX_HEADERS)
        .max_header_size(crate::limits::MAX_HEADER_BYTES)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Tells a plain-HTTP connection over the caps to slow down, then closes it.
async fn refuse(mut socket: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = socket.write_all(crate::limits::OVER_CAP_RESPONSE).await;
        let _ = socket.shutdown().await;
    })
    .await;
}

/// Serves the web console on `--console-address`, calling the S3 API at
/// `api` (its loopback URL, port `api_port`); returns the URL to print. A console that
/// cannot listen (the port is taken) leaves the S3 API serving.
async fn start_console(
    cfg: &ServerConfig,
    api: &str,
    api_port: u16,
    iam: std::sync::Arc<IamStore>,
    metrics: std::sync::Arc<almacen_s3::metrics::Metrics>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> String {
    let bound = match crate::config::parse_address(&cfg.console_address) {
        Ok(addr) => TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}")),
        Err(e) => Err(e),
    };
    let listener = match bound.and_then(|l| Ok((l.local_addr()?, l))) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "the console is not served");
            return format!("not served ({e:#})");
        }
    };
    let (addr, listener) = listener;
    let console = almacen_console::Console::new(almacen_console::ConsoleConfig {
        s3_endpoint: api.to_owned(),
        public_url: cfg.server_url.clone(),
        api_port,
        region: cfg.region.clone(),
        secure_cookie: tls.is_some(),
        api_https: tls.is_some(),
        limits: almacen_console::Limits::default(),
        iam,
        metrics: Some(metrics),
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    match tls {
        None => {
            tokio::spawn(async move {
                if let Err(e) = console.serve(listener).await {
                    tracing::warn!(error = %e, "the console stopped");
                }
            });
        }
        Some(acceptor) => {
            console.spawn_sampler();
            let service = hyper_util::service::TowerToHyperService::new(console.router());
            let header_timeout = cfg.limits.header_timeout;
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let (acceptor, service) = (acceptor.clone(), service.clone());
                    tokio::spawn(async move {
                        let Ok(Ok(stream)) =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket))
                                .await
                        else {
                            return;
                        };
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(header_timeout)
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        }
    }
    if addr.ip().is_unspecified() {
        format!("{scheme}://127.0.0.1:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}

/// A plain-HTTP listener on loopback serving the S3 API, for the console
/// when the public port speaks only HTTPS; returns its URL. Its
/// connections are not drained at shutdown (only the console uses it).
async fn loopback_api(front: Front, header_timeout: Duration) -> anyhow::Result<String> {
    let internal = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("loopback listener for the console")?;
    let addr = internal.local_addr().context("loopback listener address")?;
    tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let Ok((socket, peer)) = internal.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = socket.set_nodelay(true);
            tokio::spawn(serve_connection(
                socket,
                front.for_peer(peer),
                graceful.watcher(),
                header_timeout,
            ));
        }
    });
    Ok(format!("http://{addr}"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
