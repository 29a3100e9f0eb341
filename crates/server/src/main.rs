//! `moot`: run a meeting server with no configuration at all, or with a TOML file and flags.

use anyhow::Context;
use clap::Parser;
use moot_server::config::Config;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "moot",
    version,
    about = "Private video meetings from one binary"
)]
struct Cli {
    /// TOML configuration file (every key: docs/config.md).
    #[arg(long, env = "MOOT_CONFIG")]
    config: Option<PathBuf>,
    /// Address for the web page and signaling [default: 127.0.0.1:8080].
    #[arg(long, env = "MOOT_LISTEN")]
    listen: Option<SocketAddr>,
    /// The one UDP port for media [default: 10000; 0 picks a free one].
    #[arg(long, env = "MOOT_MEDIA_PORT")]
    media_port: Option<u16>,
    /// Address browsers send media to (repeat for several) [default: detected].
    #[arg(long = "public-ip", env = "MOOT_PUBLIC_IPS", value_delimiter = ',')]
    public_ips: Vec<IpAddr>,
    /// Refuse to create rooms with guessable names.
    #[arg(long, env = "MOOT_REQUIRE_UNGUESSABLE_ROOM_NAMES")]
    require_unguessable_room_names: bool,
    /// Log filter, e.g. info, debug, moot_server=debug [default: info].
    #[arg(long, env = "MOOT_LOG")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print the effective configuration and exit.
    CheckConfig,
}

impl Cli {
    fn into_config(self) -> anyhow::Result<(Config, Option<Command>)> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(listen) = self.listen {
            config.http.listen = listen;
        }
        if let Some(port) = self.media_port {
            config.media.port = port;
        }
        if !self.public_ips.is_empty() {
            config.media.public_ips = self.public_ips;
        }
        if self.require_unguessable_room_names {
            config.rooms.require_unguessable_room_names = true;
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
        }
        config.validate()?;
        Ok((config, self.command))
    }
}

fn main() -> anyhow::Result<()> {
    let (config, command) = Cli::parse().into_config()?;
    if let Some(Command::CheckConfig) = command {
        println!("{config:#?}");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log.level)
                .context("log.level is not a valid filter")?,
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.http.listen;
    let bound = moot_server::bind(config)
        .await
        .with_context(|| format!("cannot listen on {listen} or its media port"))?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (info, task) = bound.start(shutdown)?;
    println!("Moot is running at {}", info.url());
    println!(
        "Media on UDP {} (advertised: {})",
        info.media_addr.port(),
        info.candidates
            .iter()
            .map(|c| c.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    task.await.context("server task")?;
    Ok(())
}
