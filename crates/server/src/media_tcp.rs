//! ICE-TCP: media over TCP for networks that block UDP (RFC 6544, passive side only).
//!
//! Browsers connect to the TCP host candidate the SFU advertises and send the same STUN,
//! DTLS, RTP and RTCP packets they would send over UDP, each preceded by its length as two
//! big-endian bytes (RFC 4571). This module turns connections back into packets for the
//! media workers (`deliver`) and packets from them into frames on the right connection
//! (`send`, by the connection's remote address, which is what str0m names as a transmit's
//! destination).
//!
//! A TCP connection costs the server memory for as long as it is open, and anybody can open
//! one, so every resource is bounded: frame size, connections per IP and in total, the time
//! until a connection proves it belongs to a peer (the SFU answered its STUN check), the
//! time between frames, the time a write may stall, and the queue of packets waiting for a
//! slow connection (full means drop, as a UDP socket would).

use crate::sync::lock;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Bounds on what TCP clients may make the server hold.
#[derive(Debug, Clone)]
pub struct TcpLimits {
    /// Largest packet accepted in one frame. Media packets fit a UDP datagram of ~1200
    /// bytes; the UDP path reads into 2048-byte buffers, so the same bound applies here.
    pub max_frame: usize,
    /// A new connection is closed unless the media side has sent it something (i.e. the SFU
    /// answered a STUN check with valid credentials) within this time.
    pub handshake_timeout: Duration,
    /// A connection that completes no frame for this long is closed. Browsers send an ICE
    /// consent check at least every few seconds, so a live one is never idle this long.
    pub idle_timeout: Duration,
    /// A connection whose writes stall this long (peer not reading) is closed.
    pub write_timeout: Duration,
    /// Open connections from one IP address.
    pub max_per_ip: usize,
    /// Open connections in total.
    pub max_total: usize,
    /// Packets waiting to be written to one connection; more are dropped.
    pub queue: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_frame: 2048,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            // As for signaling connections (limits.connections_per_address): a whole office
            // behind one NAT address must fit, a browser opens one per remote candidate.
            max_per_ip: 50,
            max_total: 4096,
            queue: 256,
        }
    }
}

/// One packet received on a TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The connection's remote address: the packet's source for the SFU.
    pub source: SocketAddr,
    /// The address the connection was accepted on.
    pub local: SocketAddr,
    pub packet: Vec<u8>,
}

/// Handle to the TCP media listener and its connections. Cloning is cheap; when the last
/// clone is dropped, the listener and every connection close.
#[derive(Clone)]
pub struct TcpMedia {
    shared: Arc<Shared>,
}

struct Shared {
    limits: TcpLimits,
    registry: Mutex<Registry>,
    /// Dropped with the last handle, which tells the accept loop and connections to stop.
    _alive: watch::Sender<()>,
}

#[derive(Default)]
struct Registry {
    by_addr: HashMap<SocketAddr, Connection>,
    per_ip: HashMap<IpAddr, usize>,
    next_id: u64,
}

struct Connection {
    id: u64,
    queue: mpsc::Sender<Vec<u8>>,
    /// Set on the first packet sent to it: the SFU accepted its STUN check.
    answered: Arc<AtomicBool>,
}

type Deliver = Arc<dyn Fn(Inbound) + Send + Sync>;

impl TcpMedia {
    /// Starts accepting on `listener` (must be called inside a tokio runtime). Each packet
    /// received is passed to `deliver`, on a connection's task: it must not block.
    pub fn start(
        listener: TcpListener,
        limits: TcpLimits,
        deliver: impl Fn(Inbound) + Send + Sync + 'static,
    ) -> Self {
        let (alive, stop) = watch::channel(());
        let shared = Arc::new(Shared {
            limits,
            registry: Mutex::new(Registry::default()),
            _alive: alive,
        });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(accept_loop(listener, weak, Arc::new(deliver), stop));
        Self { shared }
    }

    /// Queues `packet` for the connection from `to`. Never waits: returns false when there
    /// is no such connection, its queue is full, or the packet cannot be framed.
    pub fn send(&self, to: SocketAddr, packet: &[u8]) -> bool {
        let Ok(len) = u16::try_from(packet.len()) else {
            return false;
        };
        let registry = lock(&self.shared.registry);
        let Some(connection) = registry.by_addr.get(&to) else {
            return false;
        };
        let mut frame = Vec::with_capacity(2 + packet.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(packet);
        if connection.queue.try_send(frame).is_err() {
            return false;
        }
        connection.answered.store(true, Ordering::Relaxed);
        true
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn connections(&self) -> usize {
        lock(&self.shared.registry).by_addr.len()
    }
}

/// Binds the ICE-TCP listener for `[media] tcp_port`: `Some(0)` is off (None); unset is the
/// UDP media port's number. When the UDP port itself was ephemeral (tests) and its number
/// is taken for TCP, any free port will do: the candidates carry the port actually bound.
pub async fn bind(
    ip: IpAddr,
    tcp_port: Option<u16>,
    udp_port: u16,
    udp_port_ephemeral: bool,
) -> std::io::Result<Option<TcpListener>> {
    let port = match tcp_port {
        Some(0) => return Ok(None),
        Some(port) => port,
        None => udp_port,
    };
    match TcpListener::bind(SocketAddr::new(ip, port)).await {
        Ok(listener) => Ok(Some(listener)),
        Err(_) if tcp_port.is_none() && udp_port_ephemeral => {
            TcpListener::bind(SocketAddr::new(ip, 0)).await.map(Some)
        }
        Err(e) => Err(e),
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: std::sync::Weak<Shared>,
    deliver: Deliver,
    mut stop: watch::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Err: every handle is gone.
            _ = stop.changed() => return,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::debug!("media tcp accept error: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let Some((id, queue, answered)) = register(&strong, remote) else {
            // Over a limit: dropping the stream closes it before anything is read.
            continue;
        };
        let limits = strong.limits.clone();
        // Connections hold only a weak reference, so dropping the last handle stops them.
        drop(strong);
        let local = stream.local_addr().unwrap_or(remote);
        tokio::spawn(serve(
            stream,
            Conn {
                remote,
                local,
                id,
                answered,
                limits,
            },
            queue,
            shared.clone(),
            deliver.clone(),
            stop.clone(),
        ));
    }
}

/// Makes room for a connection from `remote` if the limits allow it.
fn register(
    shared: &Shared,
    remote: SocketAddr,
) -> Option<(u64, mpsc::Receiver<Vec<u8>>, Arc<AtomicBool>)> {
    let limits = &shared.limits;
    let mut registry = lock(&shared.registry);
    let from_ip = registry.per_ip.get(&remote.ip()).copied().unwrap_or(0);
    if registry.by_addr.len() >= limits.max_total
        || from_ip >= limits.max_per_ip
        || registry.by_addr.contains_key(&remote)
    {
        tracing::debug!("media tcp connection refused: limit reached");
        return None;
    }
    registry.next_id += 1;
    let id = registry.next_id;
    let (tx, rx) = mpsc::channel(limits.queue.max(1));
    let answered = Arc::new(AtomicBool::new(false));
    registry.by_addr.insert(
        remote,
        Connection {
            id,
            queue: tx,
            answered: answered.clone(),
        },
    );
    *registry.per_ip.entry(remote.ip()).or_default() += 1;
    Some((id, rx, answered))
}

fn unregister(shared: &Shared, remote: SocketAddr, id: u64) {
    let mut registry = lock(&shared.registry);
    if registry.by_addr.get(&remote).map(|c| c.id) != Some(id) {
        return;
    }
    registry.by_addr.remove(&remote);
    if let Some(count) = registry.per_ip.get_mut(&remote.ip()) {
        *count -= 1;
        if *count == 0 {
            registry.per_ip.remove(&remote.ip());
        }
    }
}

/// Why a connection ended (for the debug log and the tests).
#[derive(Debug, PartialEq, Eq)]
enum Closed {
    Eof,
    Io,
    Idle,
    Oversize,
    NotStun,
    Unanswered,
    WriteStalled,
    Stopped,
}

/// What a connection's task knows about itself.
struct Conn {
    remote: SocketAddr,
    local: SocketAddr,
    id: u64,
    answered: Arc<AtomicBool>,
    limits: TcpLimits,
}

async fn serve(
    stream: TcpStream,
    conn: Conn,
    queue: mpsc::Receiver<Vec<u8>>,
    shared: std::sync::Weak<Shared>,
    deliver: Deliver,
    mut stop: watch::Receiver<()>,
) {
    // Media is latency-sensitive and already packetized: never hold a frame back.
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let Conn {
        remote,
        local,
        id,
        answered,
        limits,
    } = conn;
    let reading = read_frames(BufReader::new(read), remote, local, &limits, &deliver);
    let writing = write_frames(write, queue, limits.write_timeout);
    let handshake = async {
        tokio::time::sleep(limits.handshake_timeout).await;
        if answered.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    let closed = tokio::select! {
        closed = reading => closed,
        closed = writing => closed,
        _ = handshake => Closed::Unanswered,
        _ = stop.changed() => Closed::Stopped,
    };
    tracing::debug!(?closed, "media tcp connection closed");
    if let Some(shared) = shared.upgrade() {
        unregister(&shared, remote, id);
    }
}

/// Reads RFC 4571 frames until the stream ends or breaks a rule. The first frame must be a
/// STUN message: anything else is not ICE-TCP and is not passed on.
async fn read_frames(
    mut read: impl AsyncRead + Unpin,
    source: SocketAddr,
    local: SocketAddr,
    limits: &TcpLimits,
    deliver: &Deliver,
) -> Closed {
    let mut first = true;
    loop {
        let frame = tokio::time::timeout(limits.idle_timeout, read_frame(&mut read, limits));
        let packet = match frame.await {
            Err(_) => return Closed::Idle,
            Ok(Err(closed)) => return closed,
            Ok(Ok(packet)) => packet,
        };
        if first && !moot_sfu::is_stun(&packet) {
            return Closed::NotStun;
        }
        first = false;
        if !packet.is_empty() {
            deliver(Inbound {
                source,
                local,
                packet,
            });
        }
    }
}

async fn read_frame(
    read: &mut (impl AsyncRead + Unpin),
    limits: &TcpLimits,
) -> Result<Vec<u8>, Closed> {
    let mut header = [0u8; 2];
    if let Err(e) = read.read_exact(&mut header).await {
        return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Closed::Eof
        } else {
            Closed::Io
        });
    }
    let len = usize::from(u16::from_be_bytes(header));
    if len > limits.max_frame {
        return Err(Closed::Oversize);
    }
    let mut packet = vec![0u8; len];
    read.read_exact(&mut packet).await.map_err(|_| Closed::Io)?;
    Ok(packet)
}

/// Writes queued frames, several per system call when they are waiting together.
async fn write_frames(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
    write_timeout: Duration,
) -> Closed {
    /// Bytes gathered into one write at most.
    const GATHER: usize = 64 * 1024;
    let mut buffer = Vec::with_capacity(GATHER);
    loop {
        let Some(frame) = queue.recv().await else {
            // The sender lives in the registry until this connection unregisters.
            return Closed::Stopped;
        };
        buffer.clear();
        buffer.extend_from_slice(&frame);
        while buffer.len() < GATHER {
            match queue.try_recv() {
                Ok(frame) => buffer.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        match tokio::time::timeout(write_timeout, write.write_all(&buffer)).await {
            Err(_) => return Closed::WriteStalled,
            Ok(Err(_)) => return Closed::Io,
            Ok(Ok(())) => {}
        }
    }
}

#[cfg(test)]
#[path = "media_tcp_tests.rs"]
mod tests;
