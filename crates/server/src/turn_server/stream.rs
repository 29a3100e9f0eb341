//! TURN over TCP and TLS (RFC 8656 3.1): STUN messages and ChannelData frames back to back on a
//! byte stream. Each connection is its own 5-tuple; its allocation ends when it closes.

use super::event::{stopped, Event};
use moot_turn::{stream_frame_len, FiveTuple, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Connections open at once per listener; the next ones wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 2048;
/// A connection that sends nothing for this long is closed. Browsers send consent checks
/// through their relay every few seconds, so only dead or idle ones hit it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames waiting to be written to one client; beyond it packets are dropped.
const WRITE_QUEUE: usize = 512;
/// The largest frame is a STUN message of 20 + 65535 bytes.
const MAX_BUFFERED: usize = 70_000;

/// Accepts connections until `stop`; with `tls`, each one is a TLS connection.
pub(super) async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    events: mpsc::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(server) = listener.local_addr() else {
        return;
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("TURN: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let _ = tcp.set_nodelay(true);
        let transport = if tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        };
        let tuple = FiveTuple {
            client,
            server,
            transport,
        };
        let events = events.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => serve(tcp, tuple, events).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => serve(stream, tuple, events).await,
                        // No address in the log: failed handshakes are routine (scanners).
                        Ok(Err(e)) => tracing::debug!("TURN TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!("TURN TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Splits the stream into frames for the state machine and writes what it sends back.
async fn serve<S>(stream: S, tuple: FiveTuple, events: mpsc::Sender<Event>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (to_client, mut outgoing) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let opened = Event::StreamOpened {
        tuple,
        writer: to_client,
    };
    if events.send(opened).await.is_err() {
        return;
    }
    let write = async {
        while let Some(bytes) = outgoing.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        loop {
            loop {
                match stream_frame_len(&buf) {
                    Ok(Some(len)) => {
                        let frame: Vec<u8> = buf.drain(..len).collect();
                        let event = Event::Client {
                            tuple,
                            bytes: frame,
                        };
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    // Neither STUN nor ChannelData: there is no next frame boundary to find.
                    Err(_) => return,
                }
            }
            if buf.len() > MAX_BUFFERED {
                return;
            }
            match tokio::time::timeout(IDLE_TIMEOUT, reader.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    let _ = events.send(Event::StreamClosed { tuple }).await;
}
