//! The built-in TURN relay's I/O around the sans-IO `moot_turn::Server`: a UDP listener, TCP
//! and TLS listeners (stream.rs), one UDP relay socket per allocation, and one task that owns
//! the state machine and does what it says.
//!
//! Everything goes through that one task over a channel. A relayed meeting is a few thousand
//! packets per second per person, well within one task; the SFU's own media path is untouched.
//!
//! Peers are limited to the server's own media addresses (the SFU's candidates), so the relay
//! can only ever carry media to and from this Moot, never into the operator's network.

mod event;
mod stream;

use event::{stopped, Event};

use crate::config::{Config, TurnTransport};
use crate::turn_credentials::TurnCredentials;
use moot_turn::{AllocationId, FiveTuple, Output, Transport};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Events queued for the state machine task; a full queue slows readers down (backpressure)
/// instead of growing memory.
const EVENT_QUEUE: usize = 4096;
/// Largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;
/// Random ports tried in the relay range before an allocation is refused with 508.
const RELAY_BIND_ATTEMPTS: usize = 64;

/// Counters shown on /metrics (no addresses, no names).
#[derive(Debug, Default)]
pub struct TurnStats {
    pub allocations: AtomicU64,
    pub bytes_to_peers: AtomicU64,
    pub bytes_to_clients: AtomicU64,
}

/// The relay's sockets, bound by `moot_server::bind` so port clashes show at start.
pub struct TurnListeners {
    udp: Option<UdpSocket>,
    tcp: Option<TcpListener>,
    tls: Option<TcpListener>,
    relay_bind: IpAddr,
    public_ip: IpAddr,
    host: String,
    relay_ports: (u16, u16),
    /// `turn.shared_secret` when set (several Moot processes, or tooling, can then make
    /// credentials); else made at start and kept only in memory, so credentials die with the
    /// process and nothing is written anywhere.
    secret: Vec<u8>,
    engine: moot_turn::Config,
    ttl: Duration,
    stats: Arc<TurnStats>,
}

impl TurnListeners {
    /// Binds the listeners `turn_server` asks for; None when the built-in relay is off.
    /// `media` are the SFU's advertised addresses: the only peers allowed.
    pub async fn bind(
        config: &Config,
        media: &[SocketAddr],
        has_certificate: bool,
    ) -> std::io::Result<Option<Self>> {
        let t = &config.turn_server;
        if !t.enabled {
            return Ok(None);
        }
        let bind_ip = t.bind.unwrap_or(config.media_bind_ip());
        let public_ip = t
            .public_ip
            .or_else(|| {
                media
                    .iter()
                    .map(SocketAddr::ip)
                    .find(|ip| ip.is_ipv4() == bind_ip.is_ipv4())
            })
            .or_else(|| media.first().map(SocketAddr::ip))
            .unwrap_or(bind_ip);
        let (udp, tcp) = bind_udp_and_tcp(
            SocketAddr::new(bind_ip, t.port),
            t.has(TurnTransport::Udp),
            t.has(TurnTransport::Tcp),
        )
        .await?;
        let tls = if has_certificate && t.has(TurnTransport::Tls) {
            Some(TcpListener::bind(SocketAddr::new(bind_ip, t.tls_port)).await?)
        } else {
            None
        };
        let secret = match config.turn.shared_secret.as_deref() {
            Some(shared) if !shared.is_empty() => shared.as_bytes().to_vec(),
            _ => rand::random::<[u8; 32]>().to_vec(),
        };
        let mut engine = moot_turn::Config::new(secret.clone(), rand::random(), public_ip);
        engine.realm = t.realm.clone();
        engine.allowed_peers = media.to_vec();
        engine.max_allocations = t.max_allocations;
        engine.bytes_per_second = t.max_kbps_per_allocation * 1000 / 8;
        engine.burst_bytes = engine.bytes_per_second;
        Ok(Some(Self {
            udp,
            tcp,
            tls,
            relay_bind: bind_ip,
            public_ip,
            // The certificate's name when ACME gets it, so turns: verifies without extra keys.
            host: t
                .host
                .clone()
                .or_else(|| config.tls.acme_domains.first().cloned())
                .unwrap_or_else(|| host_of(public_ip)),
            relay_ports: (t.relay_port_min, t.relay_port_max),
            secret,
            engine,
            ttl: Duration::from_secs(config.turn.ttl_seconds),
            stats: Arc::default(),
        }))
    }

    pub fn stats(&self) -> Arc<TurnStats> {
        self.stats.clone()
    }

    /// The URLs browsers get, built from the bound ports.
    pub fn urls(&self) -> Vec<String> {
        let ip = host_of(self.public_ip);
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut urls = Vec::new();
        if let Some(udp) = &self.udp {
            let p = udp.local_addr().map(|a| a.port()).unwrap_or(0);
            urls.push(format!("turn:{ip}:{p}?transport=udp"));
        }
        if let Some(tcp) = &self.tcp {
            urls.push(format!("turn:{ip}:{}?transport=tcp", port(tcp)));
        }
        if let Some(tls) = &self.tls {
            urls.push(format!("turns:{}:{}?transport=tcp", self.host, port(tls)));
        }
        urls
    }

    /// Credentials for this relay, signed with its in-memory secret.
    pub fn credentials(&self) -> TurnCredentials {
        TurnCredentials::new(self.urls(), &self.secret, self.ttl)
    }

    /// Starts the listeners and the state machine; they stop when `stop` turns true.
    /// `tls` is the HTTPS listener's acceptor (the same certificate), when there is one.
    pub fn start(self, tls: Option<TlsAcceptor>, stop: watch::Receiver<bool>) {
        // Ports only: logs at the default level carry no addresses.
        let port = |l: Option<u16>| l.map_or("off".to_owned(), |p| p.to_string());
        tracing::info!(
            udp = port(
                self.udp
                    .as_ref()
                    .and_then(|u| u.local_addr().ok())
                    .map(|a| a.port())
            ),
            tcp = port(
                self.tcp
                    .as_ref()
                    .and_then(|t| t.local_addr().ok())
                    .map(|a| a.port())
            ),
            tls = port(
                self.tls
                    .as_ref()
                    .and_then(|t| t.local_addr().ok())
                    .map(|a| a.port())
            ),
            "built-in TURN relay listening"
        );
        let (events, queue) = mpsc::channel(EVENT_QUEUE);
        let udp = self.udp.map(Arc::new);
        if let Some(udp) = &udp {
            tokio::spawn(read_udp(udp.clone(), events.clone(), stop.clone()));
        }
        if let Some(tcp) = self.tcp {
            tokio::spawn(stream::accept(tcp, None, events.clone(), stop.clone()));
        }
        if let (Some(listener), Some(acceptor)) = (self.tls, tls) {
            tokio::spawn(stream::accept(
                listener,
                Some(acceptor),
                events.clone(),
                stop.clone(),
            ));
        }
        let now = Instant::now();
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let core = Core {
            server: moot_turn::Server::new(self.engine, now, unix_now),
            udp,
            relays: HashMap::new(),
            streams: HashMap::new(),
            relay_bind: self.relay_bind,
            relay_ports: self.relay_ports,
            events,
            stats: self.stats,
        };
        tokio::spawn(core.run(queue, stop));
    }
}

/// An IP as it goes into a URL (IPv6 in brackets).
fn host_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// UDP and TCP on one port; with port 0 the TCP listener takes the port UDP got (retrying when
/// another program holds that TCP port).
async fn bind_udp_and_tcp(
    addr: SocketAddr,
    want_udp: bool,
    want_tcp: bool,
) -> std::io::Result<(Option<UdpSocket>, Option<TcpListener>)> {
    let mut last_error = None;
    for _ in 0..if addr.port() == 0 { 20 } else { 1 } {
        let udp = if want_udp {
            Some(UdpSocket::bind(addr).await?)
        } else {
            None
        };
        if !want_tcp {
            return Ok((udp, None));
        }
        let port = match &udp {
            Some(u) => u.local_addr()?.port(),
            None => addr.port(),
        };
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, Some(tcp))),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no port for TURN")))
}

async fn read_udp(
    socket: Arc<UdpSocket>,
    events: mpsc::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(server) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, client) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                // ICMP errors from earlier sends surface here on some systems: not fatal.
                Err(_) => continue,
            },
            () = stopped(&mut stop) => return,
        };
        let tuple = FiveTuple {
            client,
            server,
            transport: Transport::Udp,
        };
        let event = Event::Client {
            tuple,
            bytes: buf[..len].to_vec(),
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// A relay socket and the task reading it.
struct Relay {
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

/// The task that owns the state machine and every socket it sends from.
struct Core {
    server: moot_turn::Server,
    udp: Option<Arc<UdpSocket>>,
    relays: HashMap<AllocationId, Relay>,
    streams: HashMap<FiveTuple, mpsc::Sender<Vec<u8>>>,
    relay_bind: IpAddr,
    relay_ports: (u16, u16),
    /// For relay readers spawned later.
    events: mpsc::Sender<Event>,
    stats: Arc<TurnStats>,
}

impl Core {
    async fn run(mut self, mut queue: mpsc::Receiver<Event>, mut stop: watch::Receiver<bool>) {
        loop {
            let timeout = self.server.poll_timeout();
            tokio::select! {
                event = queue.recv() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                _ = sleep_until(timeout) => self.server.handle_timeout(Instant::now()),
                () = stopped(&mut stop) => break,
            }
            self.drain();
        }
        for (_, relay) in self.relays.drain() {
            relay.reader.abort();
        }
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Client { tuple, bytes } => self.server.handle_client(now, tuple, &bytes),
            Event::Peer {
                allocation,
                from,
                bytes,
            } => self.server.handle_peer(now, allocation, from, &bytes),
            Event::StreamOpened { tuple, writer } => {
                self.streams.insert(tuple, writer);
            }
            Event::StreamClosed { tuple } => {
                self.streams.remove(&tuple);
                self.server.transport_closed(now, tuple);
            }
        }
    }

    /// Does everything the state machine asked for.
    fn drain(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::Transmit { to, bytes } => match to.transport {
                    Transport::Udp => {
                        if let Some(udp) = &self.udp {
                            // A full socket buffer drops the datagram, as the network would.
                            let _ = udp.try_send_to(&bytes, to.client);
                        }
                    }
                    Transport::Tcp | Transport::Tls => {
                        if let Some(writer) = self.streams.get(&to) {
                            // A client that does not read loses packets, not our memory.
                            let _ = writer.try_send(bytes);
                        }
                    }
                },
                Output::Relay {
                    allocation,
                    to,
                    bytes,
                } => {
                    if let Some(relay) = self.relays.get(&allocation) {
                        let _ = relay.socket.try_send_to(&bytes, to);
                    }
                }
                Output::OpenRelay { allocation } => {
                    let port = self.open_relay(allocation);
                    self.server.relay_opened(Instant::now(), allocation, port);
                }
                Output::CloseRelay { allocation } => {
                    if let Some(relay) = self.relays.remove(&allocation) {
                        relay.reader.abort();
                    }
                }
            }
        }
        let stats = self.server.stats();
        self.stats
            .allocations
            .store(stats.allocations as u64, Ordering::Relaxed);
        self.stats
            .bytes_to_peers
            .store(stats.bytes_to_peers, Ordering::Relaxed);
        self.stats
            .bytes_to_clients
            .store(stats.bytes_to_clients, Ordering::Relaxed);
    }

    /// Binds a relay socket on a random port of the range; its port, or None when none was
    /// free (the client gets 508).
    fn open_relay(&mut self, allocation: AllocationId) -> Option<u16> {
        let (min, max) = self.relay_ports;
        let socket = (0..RELAY_BIND_ATTEMPTS).find_map(|_| {
            let port = rand::Rng::gen_range(&mut rand::thread_rng(), min..=max);
            let std = std::net::UdpSocket::bind(SocketAddr::new(self.relay_bind, port)).ok()?;
            std.set_nonblocking(true).ok()?;
            UdpSocket::from_std(std).ok()
        });
        let Some(socket) = socket else {
            tracing::warn!("TURN: no free relay port in {min}-{max}");
            return None;
        };
        let port = socket.local_addr().ok()?.port();
        let socket = Arc::new(socket);
        let reader = tokio::spawn(read_relay(socket.clone(), allocation, self.events.clone()));
        self.relays.insert(allocation, Relay { socket, reader });
        Some(port)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn read_relay(socket: Arc<UdpSocket>, allocation: AllocationId, events: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let event = Event::Peer {
            allocation,
            from,
            bytes: buf[..len].to_vec(),
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Config {
        let mut config = Config::default();
        config.turn_server.enabled = true;
        config.turn_server.port = 0;
        config.turn_server.tls_port = 0;
        config
    }

    #[tokio::test]
    async fn urls_follow_the_bound_ports_transports_and_certificate() {
        let media: [SocketAddr; 1] = ["127.0.0.1:10000".parse().expect("addr")];
        let mut config = enabled();
        config.turn_server.host = Some("meet.example.org".into());
        let relay = TurnListeners::bind(&config, &media, true)
            .await
            .expect("binds")
            .expect("enabled");
        let urls = relay.urls();
        assert_eq!(urls.len(), 3, "{urls:?}");
        let port = urls[0]
            .strip_prefix("turn:127.0.0.1:")
            .and_then(|rest| rest.strip_suffix("?transport=udp"))
            .expect("turn:IP:PORT?transport=udp");
        assert_eq!(urls[1], format!("turn:127.0.0.1:{port}?transport=tcp"));
        assert!(
            urls[2].starts_with("turns:meet.example.org:") && urls[2].ends_with("?transport=tcp"),
            "{urls:?}"
        );

        let relay = TurnListeners::bind(&enabled(), &media, false)
            .await
            .expect("binds")
            .expect("enabled");
        assert_eq!(relay.urls().len(), 2, "no turns: without a certificate");

        let mut config = enabled();
        config.turn_server.transports = vec![TurnTransport::Tcp];
        config.turn_server.public_ip = Some("192.0.2.9".parse().expect("ip"));
        let relay = TurnListeners::bind(&config, &media, true)
            .await
            .expect("binds")
            .expect("enabled");
        let urls = relay.urls();
        assert_eq!(urls.len(), 1, "{urls:?}");
        assert!(urls[0].starts_with("turn:192.0.2.9:"), "{urls:?}");

        let mut config = enabled();
        config.turn_server.enabled = false;
        assert!(TurnListeners::bind(&config, &media, true)
            .await
            .expect("nothing to bind")
            .is_none());
    }
}
