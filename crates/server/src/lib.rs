//! The `moot` server: one process serving the web client, the signaling WebSocket and the
//! SFU's single UDP port. `main.rs` is thin; tests call `bind` on port 0, then
//! `Bound::start(shutdown)`.

#![forbid(unsafe_code)]

mod acme;
pub mod client_ip;
pub mod config;
mod html;
mod http;
mod hub;
mod limits;
mod media;
mod media_tcp;
mod metrics;
mod privacy;
mod private_file;
mod session;
mod sync;
pub mod tls;
mod turn_credentials;
mod turn_server;
mod udp_batch;

use config::Config;
use hub::Hub;
use limits::Limits;
use media::MediaHandle;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

pub use moot_sfu::SfuStats;

/// A server whose sockets are bound (so the ports are known) but not yet serving.
pub struct Bound {
    config: Config,
    listener: TcpListener,
    /// One socket per media worker, all on the media port.
    media_sockets: Vec<std::net::UdpSocket>,
    candidates: Vec<SocketAddr>,
    /// The ICE-TCP listener (`media.tcp_port`) and the candidates advertising it.
    media_tcp: Option<(TcpListener, Vec<SocketAddr>)>,
    certificate: Option<tls::Certificate>,
    /// The built-in TURN relay's listeners, when `turn_server.enabled`.
    turn_server: Option<turn_server::TurnListeners>,
}

/// Binds the HTTP listener and the media UDP socket, and loads (or generates) the TLS
/// certificate when the config calls for HTTPS.
pub async fn bind(config: Config) -> std::io::Result<Bound> {
    let certificate = tls::certificate(&config).map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(config.http.listen).await?;
    let media_sockets = bind_media_sockets(
        SocketAddr::new(config.media_bind_ip(), config.media.port),
        config.media_threads(),
    )?;
    let port = media_sockets[0].local_addr()?.port();
    let candidates = media_candidates(&config, port);
    let tcp_listener = media_tcp::bind(
        config.media_bind_ip(),
        config.media.tcp_port,
        port,
        config.media.port == 0,
    )
    .await?;
    let media_tcp = match tcp_listener {
        Some(listener) => {
            let tcp_port = listener.local_addr()?.port();
            Some((listener, media_candidates(&config, tcp_port)))
        }
        None => None,
    };
    let turn_server =
        turn_server::TurnListeners::bind(&config, &candidates, certificate.is_some()).await?;
    Ok(Bound {
        config,
        listener,
        media_sockets,
        candidates,
        media_tcp,
        certificate,
        turn_server,
    })
}

/// Binds `count` UDP sockets to one address with `SO_REUSEPORT`, one per media worker: the
/// kernel spreads arriving datagrams over them by their addresses, and each worker sends from
/// the same port. A plain bind first makes sure no other process holds the port (a second
/// server with `SO_REUSEPORT` would otherwise silently share it).
fn bind_media_sockets(addr: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let bind_one = |addr: SocketAddr| -> std::io::Result<std::net::UdpSocket> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        set_media_buffers(&socket);
        socket.bind(&addr.into())?;
        Ok(socket.into())
    };
    if addr.port() != 0 {
        drop(std::net::UdpSocket::bind(addr)?);
    }
    let first = bind_one(addr)?;
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..count.max(1) {
        sockets.push(bind_one(addr)?);
    }
    Ok(sockets)
}

/// Receive and send buffer asked for each media socket. The default (about 200 KiB, some 100
/// datagrams) overflows when a worker is busy for 20 ms in a room of 50 (a join renegotiates
/// everyone): the benchmark counted 13,000 datagrams dropped at the server's socket in one
/// such run, which the browsers see as loss. 4 MiB rides out about half a second.
const MEDIA_SOCKET_BUFFER_BYTES: usize = 4 << 20;
/// Below this, a warning tells the operator to raise the kernel's limit.
const MEDIA_SOCKET_BUFFER_WARN_BYTES: usize = 1 << 20;

/// Asks for deep socket buffers; the kernel caps them at `net.core.rmem_max` /
/// `net.core.wmem_max` (212,992 bytes on a stock Linux), so say how to raise those once.
fn set_media_buffers(socket: &socket2::Socket) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    // Best effort: a smaller buffer only makes loss under bursts more likely.
    let _ = socket.set_recv_buffer_size(MEDIA_SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(MEDIA_SOCKET_BUFFER_BYTES);
    // Linux reports twice the size asked (its bookkeeping overhead), capped at twice the limit.
    let got = socket.recv_buffer_size().unwrap_or(0) / 2;
    if got < MEDIA_SOCKET_BUFFER_WARN_BYTES && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the media socket's receive buffer is {got} bytes; large meetings may lose packets in \
             bursts: raise it with `sysctl -w net.core.rmem_max=4194304 net.core.wmem_max=4194304` \
             (docs/self-hosting.md)"
        );
    }
}

/// The addresses browsers are told to send media to.
fn media_candidates(config: &Config, port: u16) -> Vec<SocketAddr> {
    let ips: Vec<IpAddr> = if !config.media.public_ips.is_empty() {
        config.media.public_ips.clone()
    } else if !config.media_bind_ip().is_unspecified() {
        vec![config.media_bind_ip()]
    } else {
        let found: Vec<IpAddr> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .map(|iface| iface.ip())
            .filter(|ip| !ip.is_loopback() && ip.is_ipv4() == config.media_bind_ip().is_ipv4())
            .collect();
        if found.is_empty() {
            vec![IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)]
        } else {
            found
        }
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

/// Handle for tests and the binary to look at a running server.
#[derive(Clone)]
pub struct ServerInfo {
    pub http_addr: SocketAddr,
    pub media_addr: SocketAddr,
    pub candidates: Vec<SocketAddr>,
    /// The certificate served, when HTTPS is on.
    pub certificate: Option<tls::Certificate>,
    media: MediaHandle,
    hub: Arc<Hub>,
}

impl ServerInfo {
    /// The URL people open.
    pub fn url(&self) -> String {
        let ip = self.http_addr.ip();
        // With ACME, the certificate is only valid for its names.
        let acme_name = self
            .certificate
            .as_ref()
            .and_then(|c| c.acme_domains()?.first().cloned());
        let host = if let Some(name) = acme_name {
            name
        } else if ip.is_loopback() {
            "localhost".to_owned()
        } else if ip.is_unspecified() {
            self.candidates
                .first()
                .map(|c| c.ip().to_string())
                .unwrap_or_else(|| "localhost".to_owned())
        } else {
            ip.to_string()
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}:{}/", self.http_addr.port())
    }

    pub fn media_stats(&self) -> SfuStats {
        self.media.stats()
    }

    /// Media peers on each media worker thread.
    pub fn media_worker_load(&self) -> Vec<usize> {
        self.media.worker_load()
    }

    /// Datagrams one media worker received for a peer of another and passed on.
    pub fn media_datagrams_passed_on(&self) -> u64 {
        self.media.passed_on()
    }

    /// (rooms, participants) currently in memory.
    pub fn room_counts(&self) -> (usize, usize) {
        self.hub.room_counts()
    }
}

impl Bound {
    /// Starts serving on background tasks until `shutdown` resolves. Then: new connections
    /// are refused, everyone connected is told `server_shutdown`, and the server waits up to
    /// `http.shutdown_grace_seconds` for their connections to close before it stops HTTP and
    /// media. The returned handle finishes when all that is done.
    pub fn start(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(ServerInfo, tokio::task::JoinHandle<()>)> {
        let http_addr = self.listener.local_addr()?;
        let media_addr = self.media_sockets[0].local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (media, media_ports, media_events) = MediaHandle::new(
            self.media_sockets.len(),
            self.config.media.spread_room_after,
            self.config.media.spread_when_busy_percent * 10,
        );
        let hub = Arc::new(Hub::new(
            moot_room::RoomsConfig {
                max_participants_per_room: self.config.rooms.max_participants,
                require_unguessable_names: self.config.rooms.require_unguessable_room_names,
                max_rooms: self.config.rooms.max_rooms,
                e2ee_by_default: self.config.rooms.e2ee_by_default,
                recording_available: self.config.recording.directory.is_some(),
            },
            media.clone(),
            match &self.turn_server {
                Some(builtin) => Some(builtin.credentials()),
                None => turn_credentials::TurnCredentials::from_config(&self.config.turn),
            },
        ));
        let limits = Arc::new(Limits::new(self.config.limits.clone()));
        let grace = Duration::from_secs(self.config.http.shutdown_grace_seconds);
        tokio::spawn(drain_on(
            shutdown,
            hub.clone(),
            limits.clone(),
            grace,
            stop_tx,
        ));
        let setup = media::MediaSetup {
            sockets: self.media_sockets,
            candidates: self.candidates.clone(),
            tcp: self.media_tcp,
            initial_bandwidth_bps: self.config.media.initial_bandwidth_kbps * 1000,
            selective_audio_after: self.config.media.selective_audio_after,
            loss_based_estimation_after: self.config.media.loss_based_estimation_after,
            opus_dtx: self.config.media.opus_dtx,
            recording_dir: self.config.recording.directory.clone(),
            recording_limits: media::RecordingLimits {
                longest: Duration::from_secs(self.config.recording.max_minutes.saturating_mul(60)),
                min_free_bytes: self.config.recording.min_free_mb.saturating_mul(1 << 20),
            },
        };
        media::start(setup, media_ports, media.clone(), stop_rx.clone())?;
        tokio::spawn(hub.clone().run_media_events(media_events));
        let rates = Arc::new(metrics::Rates::default());
        tokio::spawn(sample_rates(rates.clone(), media.clone(), stop_rx.clone()));
        if let (Some(dir), keep @ 1..) = (
            self.config.recording.directory.clone(),
            self.config.recording.keep_days,
        ) {
            let keep = Duration::from_secs(keep.saturating_mul(86_400));
            tokio::spawn(delete_old_recordings(dir, keep, stop_rx.clone()));
        }
        tokio::spawn(hub.clone().run_ticks(stop_rx.clone()));
        let state = http::AppState {
            hub: hub.clone(),
            limits,
            config: Arc::new(self.config),
            rates,
            turn: self.turn_server.as_ref().map(|t| t.stats()),
        };
        let app = http::router(state).into_make_service_with_connect_info::<tls::ClientAddr>();
        let turn_stop = stop_rx.clone();
        let mut http_stop = stop_rx;
        let stopped = async move {
            let _ = http_stop.wait_for(|stop| *stop).await;
        };
        // The built-in TURN's TLS listener serves the HTTPS certificate with the same acceptor.
        let mut tls_acceptor = None;
        let task = match &self.certificate {
            None => {
                let server = axum::serve(self.listener, app).with_graceful_shutdown(stopped);
                tokio::spawn(async move {
                    if let Err(e) = server.await {
                        tracing::error!("http server failed: {e}");
                    }
                })
            }
            Some(certificate) => {
                let acceptor = certificate.acceptor().map_err(std::io::Error::other)?;
                tls_acceptor = Some(acceptor.clone());
                let listener = tls::TlsListener::new(self.listener, acceptor)?;
                let server = axum::serve(listener, app).with_graceful_shutdown(stopped);
                tokio::spawn(async move {
                    if let Err(e) = server.await {
                        tracing::error!("https server failed: {e}");
                    }
                })
            }
        };
        if let Some(builtin) = self.turn_server {
            builtin.start(tls_acceptor, turn_stop);
        }
        let info = ServerInfo {
            http_addr,
            media_addr,
            candidates: self.candidates,
            certificate: self.certificate,
            media,
            hub,
        };
        Ok((info, task))
    }
}

/// Graceful shutdown: once `shutdown` resolves, refuse newcomers, tell everyone, wait for
/// their connections to close (at most `grace`), then stop HTTP and media.
async fn drain_on(
    shutdown: impl Future<Output = ()>,
    hub: Arc<Hub>,
    limits: Arc<Limits>,
    grace: Duration,
    stop: tokio::sync::watch::Sender<bool>,
) {
    shutdown.await;
    limits.start_draining();
    let open = limits.open_connections();
    tracing::info!(connections = open, "shutting down: telling clients");
    hub.close_all(&limits::shutdown_message());
    let deadline = Instant::now() + grace;
    while limits.open_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = limits.open_connections();
    if left > 0 {
        tracing::info!(
            connections = left,
            "shutdown grace period over; closing the rest"
        );
    }
    let _ = stop.send(true);
}

/// Deletes recordings older than `keep` at start and every hour (`recording.keep_days`).
async fn delete_old_recordings(
    dir: std::path::PathBuf,
    keep: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let (dir, now) = (dir.clone(), std::time::SystemTime::now());
        let swept = tokio::task::spawn_blocking(move || media::delete_expired(&dir, now, keep));
        match swept.await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(deleted = n, "old recordings deleted (recording.keep_days)")
            }
            Ok(Err(e)) => tracing::warn!("deleting old recordings: {e}"),
            Err(e) => tracing::warn!("deleting old recordings: {e}"),
        }
    }
}

async fn sample_rates(
    rates: Arc<metrics::Rates>,
    media: MediaHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(metrics::SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => rates.sample(Instant::now(), media.stats()),
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
