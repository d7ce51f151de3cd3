//! The `obrady` command: parse the CLI, load config, set up logging and run
//! the service until SIGINT or SIGTERM (a second signal exits at once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use obrady::config::Config;
use tracing_subscriber::EnvFilter;

/// How long a clean stop may take before the process exits anyway.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(4500);

#[derive(Parser)]
#[command(
    name = "obrady",
    version,
    about = "Broadcast, record and publish city-council sessions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: broadcast every configured channel and serve HTTP.
    Serve {
        /// Configuration file overlaid on the embedded config/default.toml.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Address to listen on (overrides http.listen and OBRADY_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Data directory (overrides storage.data_dir and OBRADY_DATA_DIR).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print the effective configuration's media graph as a gst-launch-1.0 line.
    Graph {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("obrady: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Graph { config } => {
            let config = Config::load(config.as_deref())?;
            for c in &config.channels {
                let spec = obrady::app::graph_spec(&config, c);
                println!(
                    "{}",
                    spec.launch_description(obrady::media::SinkKind::FakeSink)
                );
            }
            Ok(())
        }
        Command::Serve {
            config,
            listen,
            data_dir,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Ok(v) = std::env::var("OBRADY_LISTEN") {
                config.http.listen = v.parse().with_context(|| {
                    format!("OBRADY_LISTEN: expected an address like 127.0.0.1:8080, got {v:?}")
                })?;
            }
            if let Ok(v) = std::env::var("OBRADY_DATA_DIR") {
                config.storage.data_dir = v.into();
            }
            if let Some(l) = listen {
                config.http.listen = l;
            }
            if let Some(d) = data_dir {
                config.storage.data_dir = d;
            }
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(serve(config))
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.http.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (http.listen / --listen)"))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = tx.send(());
        // Exit at once on a second signal, or when a clean stop takes too long.
        tokio::select! {
            _ = wait_for_signal() => {
                eprintln!("obrady: second signal, exiting now");
                std::process::exit(130);
            }
            _ = tokio::time::sleep(SHUTDOWN_LIMIT) => {
                eprintln!("obrady: clean stop took longer than {SHUTDOWN_LIMIT:?}, exiting now");
                std::process::exit(1);
            }
        }
    });
    obrady::app::run(config, listener, async move {
        let _ = rx.await;
    })
    .await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
