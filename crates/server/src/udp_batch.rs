//! Sending many datagrams with one system call (`sendmmsg`).
//!
//! One forwarded packet becomes a datagram per subscriber; sending each with its own `sendto`
//! spends much of the media thread's time entering and leaving the kernel. The media task
//! collects what one turn of its loop produced and hands it over here in batches of up to
//! `BATCH` datagrams. `nix` wraps the call safely, so this module needs no `unsafe`.

use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io::IoSlice;
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
}
