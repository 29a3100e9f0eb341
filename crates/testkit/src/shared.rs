//! What a simulated participant's handle (`participant.rs`) and its client task
//! (`client.rs`) share: the options, the state both read and write, and the signaling socket.

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use moot_protocol::{
    ChatMessage, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomSettings,
    ServerMessage, TrackKind,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    pub audio: bool,
    pub video: bool,
    /// Fraction of outgoing RTP datagrams dropped before they leave (simulated uplink loss).
    pub send_loss: f64,
    /// Fraction of incoming RTP datagrams dropped on arrival (simulated downlink loss).
    pub receive_loss: f64,
    /// RFC 6464 level (-dBov) put on every audio frame: -127 is silence, -30 speech.
    pub audio_level: i8,
    /// Publish the camera as three simulcast layers "q", "h", "f" whose delta frames are
    /// 300, 500 and 800 bytes (keyframes three times that: no size is shared by two layers), so
    /// a receiver can tell them apart.
    pub simulcast: bool,
    /// Media over ICE-TCP only: a TCP active candidate and no UDP one, so the session has
    /// to use the server's passive TCP candidate (as a browser behind a UDP-blocking
    /// firewall does).
    pub tcp: bool,
    /// Receive other people's microphones on audio slots in a large room (protocol.md,
    /// "Audio slots"), as the web client does.
    pub audio_slots: bool,
    /// Send Opus as a browser does when the server's SDP asks for DTX (`usedtx=1`): while
    /// `audio_level` is silence, one frame every 400 ms instead of every 20 ms. Off by
    /// default: tests use a silent level on audio they expect to arrive in full.
    pub opus_dtx: bool,
}

/// The simulcast layers a simulated participant sends, lowest first, and their frame sizes.
pub const SIMULCAST_LAYERS: [&str; 3] = ["q", "h", "f"];
pub const SIMULCAST_SIZES: [usize; 3] = [300, 500, 800];

/// The simulcast layer (index into `SIMULCAST_SIZES`) a received frame of `size` bytes
/// belongs to (keyframes are three times the size).
pub fn simulcast_layer_of(size: usize) -> Option<usize> {
    SIMULCAST_SIZES
        .iter()
        .position(|s| size == *s || size == s * 3)
}
/// The picture size each simulcast layer's keyframes declare (quarter, half, full).
pub const SIMULCAST_DIMENSIONS: [(u16, u16); 3] = [(160, 120), (320, 240), (640, 480)];

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            send_loss: 0.0,
            receive_loss: 0.0,
            audio_level: crate::canned::SILENCE,
            simulcast: false,
            tcp: false,
            audio_slots: true,
            opus_dtx: false,
        }
    }
}

/// Latency samples kept per participant (bounded: a long load test must not grow memory).
const MAX_LATENCY_SAMPLES: usize = 20_000;

/// What arrived from one remote track.
#[derive(Debug, Clone, Copy, Default)]
pub struct Received {
    pub frames: u64,
    /// Frames missing between received ones (by the sender's frame counter); one that
    /// completes late (a retransmission) no longer counts.
    pub lost: u64,
    /// The last frame counter seen.
    pub last_counter: u64,
    /// Size of the last frame, all its packets' payloads without descriptors (tells simulcast
    /// layers apart).
    pub last_size: usize,
    /// Breaks in the RTP sequence numbering of the received stream that NACK/RTX did not
    /// repair within 300 ms (a run of missing numbers is one): the SFU's rewritten stream was
    /// not contiguous, or loss went unrepaired.
    pub gaps: u64,
    /// RTP packets that arrived, and packets given up as lost (not there 300 ms after a
    /// later one, NACK and RTX included): the packet loss. Frames the SFU chose not to send
    /// (a paused layer) leave no hole in the rewritten numbering, so they are not in it.
    pub packets: u64,
    pub lost_packets: u64,
    /// Payload bytes of the frames (without RTP header and VP8 payload descriptor).
    pub bytes: u64,
    pub keyframes: u64,
    pub last: Option<Instant>,
}

/// What the handle and the client task share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) received: HashMap<(ParticipantId, TrackKind), Received>,
    pub(crate) participants: HashMap<ParticipantId, Participant>,
    pub(crate) me: Option<Participant>,
    pub(crate) host_key: Option<String>,
    pub(crate) settings: RoomSettings,
    pub(crate) lobby: Vec<LobbyEntry>,
    pub(crate) muted: Vec<TrackKind>,
    pub(crate) left: HashMap<ParticipantId, LeaveReason>,
    pub(crate) chat: Vec<ChatMessage>,
    /// One-way latencies of received frames (sender stamp to arrival), in microseconds.
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) chat_history: Option<Vec<ChatMessage>>,
    pub(crate) reactions: Vec<(ParticipantId, String)>,
    pub(crate) dominant_speaker: Option<ParticipantId>,
    /// `e2ee` messages received: (from, payload).
    pub(crate) e2ee: Vec<(ParticipantId, String)>,
    pub(crate) resume_token: Option<String>,
    pub(crate) errors: Vec<(ErrorCode, String)>,
    pub(crate) keyframe_requests: u64,
    /// `layers` messages received: (mid, active RIDs).
    pub(crate) layers: Vec<(String, Vec<String>)>,
    /// Audio slots in the last server offer, and `slot` messages received.
    pub(crate) slots: usize,
    pub(crate) slot_changes: u64,
    pub(crate) connected: bool,
    pub(crate) ended: Option<String>,
}

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Shared {
    /// Keeps a one-way latency sample (microseconds) unless there are enough already.
    pub(crate) fn record_latency(&mut self, latency_us: u32) {
        if self.latencies_us.len() < MAX_LATENCY_SAMPLES {
            self.latencies_us.push(latency_us);
        }
    }
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) async fn send(ws: &mut Ws, value: &serde_json::Value) -> anyhow::Result<()> {
    ws.send(Message::Text(value.to_string().into())).await?;
    Ok(())
}

pub(crate) async fn next_message(ws: &mut Ws) -> anyhow::Result<ServerMessage> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
            Some(Ok(Message::Close(frame))) => bail!("server closed the connection: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("server closed the connection"),
        }
    }
}
