//! What the relay's reader tasks (UDP, TCP and TLS streams, relayed sockets) hand to its
//! state machine task, and how they notice the server stopping.

use moot_turn::{AllocationId, FiveTuple};
use std::net::SocketAddr;
use tokio::sync::{mpsc, watch};

/// Something for the state machine task.
pub enum Event {
    Client {
        tuple: FiveTuple,
        bytes: Vec<u8>,
    },
    Peer {
        allocation: AllocationId,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    StreamOpened {
        tuple: FiveTuple,
        writer: mpsc::Sender<Vec<u8>>,
    },
    StreamClosed {
        tuple: FiveTuple,
    },
}

/// Resolves once the server stops (a plain `wait_for` would hold its guard across awaits).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
