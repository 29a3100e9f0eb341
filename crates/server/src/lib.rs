//! The `moot` server: one process serving the web client, the signaling WebSocket and the
//! SFU's single UDP port. `main.rs` is thin; tests call `bind` on port 0 and `serve`.

#![forbid(unsafe_code)]

pub mod config;
mod http;
mod hub;
mod media;
mod session;

use config::Config;
use hub::Hub;
use media::MediaHandle;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};

pub use moot_sfu::SfuStats;

/// A server whose sockets are bound (so the ports are known) but not yet serving.
pub struct Bound {
    config: Config,
    listener: TcpListener,
    udp: UdpSocket,
    candidates: Vec<SocketAddr>,
}

/// Binds the HTTP listener and the media UDP socket.
pub async fn bind(config: Config) -> std::io::Result<Bound> {
    let listener = TcpListener::bind(config.http.listen).await?;
    let udp = UdpSocket::bind(SocketAddr::new(config.media_bind_ip(), config.media.port)).await?;
    let port = udp.local_addr()?.port();
    let candidates = media_candidates(&config, port);
    Ok(Bound {
        config,
        listener,
        udp,
        candidates,
    })
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
    media: MediaHandle,
    hub: Arc<Hub>,
}

impl ServerInfo {
    /// The URL people open.
    pub fn url(&self) -> String {
        let ip = self.http_addr.ip();
        let host = if ip.is_loopback() {
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
        format!("http://{host}:{}/", self.http_addr.port())
    }

    pub fn media_stats(&self) -> SfuStats {
        self.media.stats()
    }

    /// (rooms, participants) currently in memory.
    pub fn room_counts(&self) -> (usize, usize) {
        self.hub.room_counts()
    }
}

impl Bound {
    /// Starts serving on background tasks until `shutdown` resolves. The returned handle
    /// finishes when the HTTP server has stopped.
    pub fn start(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(ServerInfo, tokio::task::JoinHandle<()>)> {
        let http_addr = self.listener.local_addr()?;
        let media_addr = self.udp.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let (media, commands) = MediaHandle::new();
        let hub = Arc::new(Hub::new(
            moot_room::RoomsConfig {
                max_participants_per_room: self.config.rooms.max_participants,
                require_unguessable_names: self.config.rooms.require_unguessable_room_names,
            },
            media.clone(),
        ));
        tokio::spawn(media::run(
            self.udp,
            self.candidates.clone(),
            commands,
            hub.clone(),
            media.stats_cell(),
            stop_rx.clone(),
        ));
        let app = http::router(hub.clone());
        let mut http_stop = stop_rx;
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = http_stop.changed().await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!("http server failed: {e}");
            }
        });
        let info = ServerInfo {
            http_addr,
            media_addr,
            candidates: self.candidates,
            media,
            hub,
        };
        Ok((info, task))
    }
}
