//! The almacen binary: `almacen server DATA_DIR` with MinIO's flags and
//! environment variables, and `almacen admin ...` to manage a running
//! server's identities, `almacen ready` for container healthchecks. See
//! README.md for the quickstart.
#![forbid(unsafe_code)]

mod admin;
mod canned;
mod certgen;
mod cluster;
mod config;
mod limits;
mod mirror;
mod provision;
mod ready;
mod serve;
mod tls;

use clap::Parser as _;

/// `almacen bench`, with `--alias` resolved from the admin CLI's saved servers.
fn bench(mut args: almacen_bench::BenchArgs) -> anyhow::Result<()> {
    if let Some(name) = args.alias.take() {
        let alias = admin::aliases::resolve(&name)?;
        args.endpoint = alias.url;
        args.access_key.get_or_insert(alias.access_key);
        args.secret_key.get_or_insert(alias.secret_key);
        args.region = alias.region;
    }
    almacen_bench::run(args)
}

fn main() -> std::process::ExitCode {
    let cli = config::Cli::parse();
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off"));
    // s3s's debug and trace events carry secrets (the signature it computed
    // on a mismatch, Authorization headers, form fields, customer keys):
    // never past warn, whatever RUST_LOG says.
    let s3s_cap = tracing_subscriber::filter::filter_fn(|meta| {
        let t = meta.target();
        !((t == "s3s" || t.starts_with("s3s::")) && *meta.level() > tracing::Level::WARN)
    });
    // Colors only on a terminal: logs captured to files stay plain text.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .with_filter(s3s_cap),
        )
        .init();
    let result = match cli.command {
        config::Command::Server(args) => match config::ServerConfig::from_args(args) {
            Ok(cfg) => serve::run(cfg),
            Err(e) => Err(e),
        },
        config::Command::Admin(args) => admin::run(args),
        config::Command::Ready(args) => return ready::main(&args),
        config::Command::Mirror(args) => mirror::run(&args),
        config::Command::Certgen(args) => certgen::run(&args),
        config::Command::Bench(args) => bench(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("almacen: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
