//! Sending and receiving many datagrams with one system call (`sendmmsg`, `recvmmsg`).
//!
//! One forwarded packet becomes a datagram per subscriber; sending each with its own `sendto`
//! spends much of the media thread's time entering and leaving the kernel. A media worker
//! collects what one turn of its loop produced and hands it over here in batches of up to
//! `BATCH` datagrams; it reads what is queued the same way. `nix` wraps the calls safely, so
//! this module needs no `unsafe`.

use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `sendmmsg` call (the kernel's UIO_MAXIOV is 1024; 64 already amortises the
/// call while keeping the batch's memory small).
pub const BATCH: usize = 64;

/// A datagram waiting to be sent.
pub struct Datagram {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// Sends every datagram in `queue` (emptying it), waiting for the socket when it is full.
/// Returns how many datagrams the kernel took; send errors other than a full buffer drop
/// that batch (as one failed `sendto` would drop one datagram).
pub async fn send_all(socket: &UdpSocket, queue: &mut Vec<Datagram>) -> usize {
    let mut sent_total = 0;
    let mut start = 0;
    while start < queue.len() {
        let end = (start + BATCH).min(queue.len());
        // try_io tells tokio when the socket is full, so `writable()` then really waits.
        let attempt = socket.try_io(Interest::WRITABLE, || {
            try_send_batch(socket, &queue[start..end]).map_err(std::io::Error::from)
        });
        match attempt {
            Ok(sent) => {
                sent_total += sent;
                // A partial send leaves the rest for the next call.
                start += sent.max(1);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::debug!("media sendmmsg error: {e}");
                start = end;
            }
        }
    }
    queue.clear();
    sent_total
}

/// Largest datagram read; media datagrams stay below the path MTU (~1500 bytes), and a
/// longer one is cut here and then fails its SRTP or STUN integrity check.
const MAX_DATAGRAM: usize = 2048;

/// Buffers for reading up to `RECEIVE_BATCH` datagrams with one `recvmmsg`.
pub struct Receiver {
    buffers: Vec<Vec<u8>>,
    received: Vec<(SocketAddr, usize)>,
}

/// Datagrams read per `recvmmsg` call.
pub const RECEIVE_BATCH: usize = 32;

impl Default for Receiver {
    fn default() -> Self {
        Self {
            buffers: (0..RECEIVE_BATCH).map(|_| vec![0; MAX_DATAGRAM]).collect(),
            received: Vec::with_capacity(RECEIVE_BATCH),
        }
    }
}

impl Receiver {
    /// Reads what is queued on the socket, up to `RECEIVE_BATCH` datagrams, without waiting.
    /// Returns how many were read (0 when nothing was queued).
    pub fn try_receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        self.received.clear();
        let attempt = socket.try_io(Interest::READABLE, || {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(RECEIVE_BATCH, None);
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
                .buffers
                .iter_mut()
                .map(|b| [IoSliceMut::new(b)])
                .collect();
            let results = recvmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )?;
            for message in results {
                if let Some(source) = message.address.as_ref().and_then(socket_addr) {
                    self.received
                        .push((source, message.bytes.min(MAX_DATAGRAM)));
                }
            }
            Ok(())
        });
        match attempt {
            Ok(()) => Ok(self.received.len()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The `index`th datagram of the last `try_receive`: its source and its bytes.
    pub fn datagram(&self, index: usize) -> (SocketAddr, &[u8]) {
        let (source, len) = self.received[index];
        (source, &self.buffers[index][..len])
    }
}

fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    storage.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

fn try_send_batch(socket: &UdpSocket, batch: &[Datagram]) -> nix::Result<usize> {
    let iovs: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|d| [IoSlice::new(&d.contents)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = batch
        .iter()
        .map(|d| Some(SockaddrStorage::from(d.destination)))
        .collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch.len(), None);
    let results = sendmmsg(
        socket.as_raw_fd(),
        &mut headers,
        &iovs,
        &addrs,
        [],
        MsgFlags::MSG_DONTWAIT,
    )?;
    Ok(results.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_arrives_whole_and_in_order() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .expect("timeout");
        let destination = receiver.local_addr().expect("addr");
        let mut queue: Vec<Datagram> = (0..150u8)
            .map(|i| Datagram {
                destination,
                contents: vec![i; 100],
            })
            .collect();
        assert_eq!(send_all(&sender, &mut queue).await, 150);
        assert!(queue.is_empty());
        let mut buf = [0u8; 200];
        for i in 0..150u8 {
            let len = receiver.recv(&mut buf).expect("datagram arrives");
            assert_eq!(&buf[..len], &[i; 100][..]);
        }
    }

    #[tokio::test]
    async fn queued_datagrams_are_read_in_batches_with_their_sources() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let to = socket.local_addr().expect("addr");
        let senders: Vec<std::net::UdpSocket> = (0..2)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        for i in 0..40u8 {
            let sender = &senders[usize::from(i % 2)];
            sender.send_to(&[i; 50], to).expect("send");
        }
        let mut receiver = Receiver::default();
        let mut seen = Vec::new();
        while seen.len() < 40 {
            socket.readable().await.expect("readable");
            let n = receiver.try_receive(&socket).expect("receive");
            assert!(n <= RECEIVE_BATCH);
            for k in 0..n {
                let (source, bytes) = receiver.datagram(k);
                let i = bytes[0];
                assert_eq!(bytes, &[i; 50][..]);
                assert_eq!(
                    source,
                    senders[usize::from(i % 2)].local_addr().expect("addr")
                );
                seen.push(i);
            }
        }
        assert_eq!(seen, (0..40).collect::<Vec<u8>>(), "all, in order");
        assert_eq!(receiver.try_receive(&socket).expect("nothing queued"), 0);
    }
}
