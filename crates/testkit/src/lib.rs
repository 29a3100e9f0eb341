//! Test support: an in-process `moot` on port 0 and simulated participants.
//!
//! A simulated participant is a real client: it speaks the signaling protocol over a real
//! WebSocket and runs a full-ICE str0m `Rtc` on its own UDP socket, publishing canned Opus and
//! VP8 (no encoder needed) and counting the frames it receives from each other participant.
//! str0m runs in RTP mode, as in the server, so the load generator packetizes and accounts for
//! frames itself (`rtp_out`, `rtp_in`) instead of paying for str0m's depacketizing.

pub mod baseline;
pub mod canned;
mod client;
mod participant;
pub mod raw;
mod rtp_in;
mod rtp_out;
mod shared;
mod sim_network;
mod tcp_link;

pub use participant::{Hello, SimParticipant};
pub use shared::{
    simulcast_layer_of, Received, SimOptions, SIMULCAST_DIMENSIONS, SIMULCAST_LAYERS,
    SIMULCAST_SIZES,
};

use moot_server::config::Config;
use moot_server::ServerInfo;

/// A server running inside the test's tokio runtime; stops when dropped.
pub struct TestServer {
    pub info: ServerInfo,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// `ws://127.0.0.1:PORT/api/ws`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/ws", self.info.http_addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.info.http_addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server on loopback with ephemeral HTTP and media ports.
pub async fn spawn_server() -> anyhow::Result<TestServer> {
    spawn_server_with(Config::default()).await
}

/// A server with the given config (its listen addresses are replaced by ephemeral ones).
pub async fn spawn_server_with(mut config: Config) -> anyhow::Result<TestServer> {
    config.http.listen = "127.0.0.1:0".parse()?;
    config.media.port = 0;
    let bound = moot_server::bind(config).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (info, _task) = bound.start(async move {
        let _ = stopped.await;
    })?;
    Ok(TestServer {
        info,
        stop: Some(stop),
    })
}

/// Waits until `receiver` has at least `frames` audio and `frames` video frames from `sender`;
/// panics naming what did arrive when that takes longer than `timeout`.
pub async fn assert_receives_media(
    receiver: &SimParticipant,
    sender: &SimParticipant,
    frames: u64,
    timeout: std::time::Duration,
) {
    use moot_protocol::TrackKind;
    for kind in [TrackKind::Audio, TrackKind::Video] {
        assert!(
            receiver
                .wait_until(timeout, |r| r.received(sender.id, kind).frames >= frames)
                .await,
            "{} got only {:?} of {kind:?} from {}",
            receiver.id,
            receiver.received(sender.id, kind),
            sender.id
        );
    }
}
