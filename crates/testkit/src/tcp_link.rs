//! The client side of ICE-TCP for simulated participants: the TCP connections an "active"
//! candidate opens to the server's passive one, with RFC 4571 framing written here again
//! (not borrowed from the server) so a framing mistake on one side cannot hide itself.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// RFC 6544 active candidates carry port 9 ("discard"): the real port is whatever the
/// connection gets, which the server learns when it is opened.
pub const ACTIVE_PORT: u16 = 9;

/// Open connections by server address, and what they receive.
pub struct TcpLinks {
    writers: HashMap<SocketAddr, OwnedWriteHalf>,
    readers: Vec<JoinHandle<()>>,
    inbound_tx: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
    inbound: mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>,
}

impl Default for TcpLinks {
    fn default() -> Self {
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        Self {
            writers: HashMap::new(),
            readers: Vec::new(),
            inbound_tx,
            inbound,
        }
    }
}

impl TcpLinks {
    /// Sends one packet to `to`, connecting first if there is no connection yet. Errors
    /// drop the packet (and the broken connection), as a lost datagram would be.
    pub async fn send(&mut self, to: SocketAddr, packet: &[u8]) {
        let Ok(len) = u16::try_from(packet.len()) else {
            return;
        };
        let writer = match self.writers.entry(to) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => {
                let connect = TcpStream::connect(to);
                let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), connect).await
                else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let (read, write) = stream.into_split();
                let reader = read_frames(read, to, self.inbound_tx.clone());
                self.readers.push(tokio::spawn(reader));
                slot.insert(write)
            }
        };
        let mut frame = Vec::with_capacity(2 + packet.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(packet);
        if writer.write_all(&frame).await.is_err() {
            self.writers.remove(&to);
        }
    }

    /// The next packet received on any connection, with the server address it came from.
    /// Pending forever when nothing arrives (the sender half lives in `self`).
    pub async fn recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.inbound.recv().await
    }
}

impl Drop for TcpLinks {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read_frames(
    mut read: tokio::net::tcp::OwnedReadHalf,
    from: SocketAddr,
    inbound: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
) {
    loop {
        let mut header = [0u8; 2];
        if read.read_exact(&mut header).await.is_err() {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(header))];
        if read.read_exact(&mut packet).await.is_err() || inbound.send((from, packet)).is_err() {
            return;
        }
    }
}
