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
    /// Media worker threads [default: 0, one per core].
    #[arg(long, env = "MOOT_MEDIA_THREADS")]
    media_threads: Option<usize>,
    /// Where each subscriber's bandwidth estimate starts, kbit/s [default: 1000].
    #[arg(long, env = "MOOT_INITIAL_BANDWIDTH_KBPS")]
    initial_bandwidth_kbps: Option<u64>,
    /// Address browsers send media to (repeat for several) [default: detected].
    #[arg(long = "public-ip", env = "MOOT_PUBLIC_IPS", value_delimiter = ',')]
    public_ips: Vec<IpAddr>,
    /// Refuse to create rooms with guessable names.
    #[arg(long, env = "MOOT_REQUIRE_UNGUESSABLE_ROOM_NAMES")]
    require_unguessable_room_names: bool,
    /// Start new rooms with end-to-end encryption on (`rooms.e2ee_by_default`).
    #[arg(long, env = "MOOT_E2EE_BY_DEFAULT")]
    e2ee_by_default: bool,
    /// Log filter, e.g. info, debug, moot_server=debug [default: info].
    #[arg(long, env = "MOOT_LOG")]
    log_level: Option<String>,
    /// Serve plain HTTP beyond loopback (behind a TLS reverse proxy).
    #[arg(long, env = "MOOT_ALLOW_PLAIN_HTTP")]
    allow_plain_http: bool,
    /// Record meetings (when a moderator starts it) into this directory
    /// (`recording.directory`); without it this server does not record.
    #[arg(long = "recording-dir", env = "MOOT_RECORDING_DIR")]
    recording_dir: Option<PathBuf>,
    /// Directory for state kept across restarts (a generated certificate)
    /// [default: $XDG_STATE_HOME/moot or ./moot-state].
    #[arg(long, env = "MOOT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// PEM certificate chain for HTTPS (with --tls-key-file).
    #[arg(long, env = "MOOT_TLS_CERT_FILE")]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS (with --tls-cert-file).
    #[arg(long, env = "MOOT_TLS_KEY_FILE")]
    tls_key_file: Option<PathBuf>,
    /// Contact of this instance's operator, shown on /privacy.
    #[arg(long, env = "MOOT_OPERATOR_CONTACT")]
    operator_contact: Option<String>,
    /// The TURN shared secret (coturn's static-auth-secret); better from the environment
    /// than on a command line others can read.
    #[arg(long, env = "MOOT_TURN_SHARED_SECRET", hide_env_values = true)]
    turn_shared_secret: Option<String>,
    /// Run the built-in TURN relay (`turn_server.enabled`), for people behind firewalls that
    /// block UDP to the media port.
    #[arg(long, env = "MOOT_TURN_SERVER")]
    turn_server: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate the configuration, print the effective one as TOML (secrets hidden), exit.
    CheckConfig,
}

impl Cli {
    fn into_config(self) -> anyhow::Result<(Config, Option<Command>)> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        // Variables that are not UTF-8 cannot be MOOT__ keys; skip them rather than panic.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        config = moot_server::config::env::apply(config, vars)?;
        if let Some(listen) = self.listen {
            config.http.listen = listen;
        }
        if let Some(port) = self.media_port {
            config.media.port = port;
        }
        if let Some(threads) = self.media_threads {
            config.media.threads = threads;
        }
        if let Some(kbps) = self.initial_bandwidth_kbps {
            config.media.initial_bandwidth_kbps = kbps;
        }
        if !self.public_ips.is_empty() {
            config.media.public_ips = self.public_ips;
        }
        if self.e2ee_by_default {
            config.rooms.e2ee_by_default = true;
        }
        if self.require_unguessable_room_names {
            config.rooms.require_unguessable_room_names = true;
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
        }
        if self.allow_plain_http {
            config.http.allow_plain_http = true;
        }
        if let Some(dir) = self.state_dir {
            config.state_dir = dir;
        }
        if let Some(dir) = self.recording_dir {
            config.recording.directory = Some(dir);
        }
        if let Some(cert) = self.tls_cert_file {
            config.tls.cert_file = Some(cert);
        }
        if let Some(key) = self.tls_key_file {
            config.tls.key_file = Some(key);
        }
        if let Some(contact) = self.operator_contact {
            config.privacy.operator_contact = contact;
        }
        if let Some(secret) = self.turn_shared_secret {
            config.turn.shared_secret = Some(secret);
        }
        if self.turn_server {
            config.turn_server.enabled = true;
        }
        config.validate()?;
        Ok((config, self.command))
    }
}

fn main() -> anyhow::Result<()> {
    let (config, command) = Cli::parse().into_config()?;
    if let Some(Command::CheckConfig) = command {
        println!("# effective configuration (defaults, file, environment, flags)");
        print!("{}", config.to_toml());
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
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails outside a tokio runtime");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let (info, task) = bound.start(shutdown)?;
    println!("Moot is running at {}", info.url());
    if let Some(domains) = info.certificate.as_ref().and_then(|c| c.acme_domains()) {
        let cert = info.certificate.as_ref().map(|c| c.fingerprint.as_str());
        println!(
            "HTTPS with ACME certificates for {} (kept in the state directory, renewed while \
             running); {}",
            domains.join(", "),
            match cert {
                Some(fp) if !fp.is_empty() => format!("SHA-256 fingerprint now: {fp}"),
                _ => "requesting the first one now (see the log)".to_owned(),
            }
        );
    } else if let Some(cert) = &info.certificate {
        match &cert.generated_in {
            Some(dir) => {
                println!(
                "HTTPS with a self-signed certificate{} (kept in {}); browsers warn until it is \
                 accepted. SHA-256 fingerprint: {}",
                if cert.newly_generated { ", generated now" } else { "" },
                dir.display(),
                cert.fingerprint
            )
            }
            None => println!(
                "HTTPS certificate SHA-256 fingerprint: {}",
                cert.fingerprint
            ),
        }
    }
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
    println!("Moot stopped");
    Ok(())
}
