//! A simulated participant: real signaling over a WebSocket, real WebRTC via str0m. This is
//! the handle tests hold and what it can tell; the task doing the work is in `client.rs`.

use crate::client::Client;
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use moot_protocol::{
    ChatMessage, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomSettings,
    ServerMessage, TrackKind,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
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

/// The signaling WebSocket's read buffer (see `try_join`).
const READ_BUFFER_BYTES: usize = 4096;

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

/// Optional fields of `hello`.
#[derive(Debug, Clone, Default)]
pub struct Hello {
    pub identity: Option<String>,
    pub password: Option<String>,
    pub host_key: Option<String>,
    pub knock: Option<String>,
    pub resume: Option<String>,
    /// `hello.e2ee`: claim end-to-end encryption support.
    pub e2ee: bool,
    pub e2ee_public_key: Option<String>,
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

pub struct SimParticipant {
    pub id: ParticipantId,
    shared: Arc<Mutex<Shared>>,
    leave: Option<oneshot::Sender<()>>,
    raw: mpsc::UnboundedSender<serde_json::Value>,
    audio_level: Arc<Mutex<i8>>,
    receive_bandwidth: Arc<Mutex<Option<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl SimParticipant {
    /// Joins `room` on the server at `ws_url` and starts publishing.
    pub async fn join(
        ws_url: &str,
        room: &str,
        name: &str,
        options: SimOptions,
    ) -> anyhow::Result<Self> {
        match Self::try_join(ws_url, room, name, options, Hello::default()).await? {
            Ok(sim) => Ok(sim),
            Err((code, message)) => bail!("join refused: {code:?}: {message}"),
        }
    }

    /// Says hello with the given extras; waits through a lobby if there is one. The inner
    /// `Err` is the server's refusal (its error code and message).
    pub async fn try_join(
        ws_url: &str,
        room: &str,
        name: &str,
        options: SimOptions,
        hello: Hello,
    ) -> anyhow::Result<Result<Self, (ErrorCode, String)>> {
        // tungstenite zeroes its whole read buffer before every read attempt, and the event
        // loop polls the socket on every turn: with the default 128 KiB that was 7% of the
        // load generator's time at 50 participants. Signaling messages are small.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), false)
            .await
            .context("connecting the signaling WebSocket")?;
        send(
            &mut ws,
            &serde_json::json!({"type": "hello", "version": 1, "room": room, "name": name,
                "identity": hello.identity, "password": hello.password,
                "host_key": hello.host_key, "knock": hello.knock, "resume": hello.resume,
                "e2ee": hello.e2ee, "e2ee_public_key": hello.e2ee_public_key}),
        )
        .await?;
        let (me, others, settings, host_key, resume_token) = loop {
            match next_message(&mut ws).await? {
                ServerMessage::Welcome {
                    you,
                    participants,
                    settings,
                    host_key,
                    resume_token,
                    ..
                } => break (you, participants, settings, host_key, resume_token),
                ServerMessage::Waiting {} => continue,
                ServerMessage::Error { code, message, .. } => return Ok(Err((code, message))),
                other => bail!("expected welcome, got {other:?}"),
            }
        };
        let mut shared = Shared {
            me: Some(me.clone()),
            host_key,
            settings,
            resume_token: Some(resume_token),
            ..Shared::default()
        };
        for p in others {
            shared.participants.insert(p.id, p);
        }
        let shared = Arc::new(Mutex::new(shared));
        let (leave_tx, leave_rx) = oneshot::channel();
        let (raw, raw_rx) = mpsc::unbounded_channel();
        let audio_level = Arc::new(Mutex::new(options.audio_level));
        let receive_bandwidth = Arc::new(Mutex::new(None));
        let client = Client::start(
            ws,
            options,
            me.id,
            shared.clone(),
            audio_level.clone(),
            receive_bandwidth.clone(),
        )
        .await?;
        let task = tokio::spawn(client.run(leave_rx, raw_rx));
        Ok(Ok(Self {
            id: me.id,
            shared,
            leave: Some(leave_tx),
            raw,
            audio_level,
            receive_bandwidth,
            task,
        }))
    }

    /// Sends any JSON message as is (the hostile-client tests' way of speaking by hand).
    pub fn send(&self, message: serde_json::Value) {
        let _ = self.raw.send(message);
    }

    /// This participant as the server last described it.
    pub fn me(&self) -> Participant {
        lock(&self.shared).me.clone().expect("set at join")
    }

    /// Another participant as last described to this one.
    pub fn participant(&self, id: ParticipantId) -> Option<Participant> {
        lock(&self.shared).participants.get(&id).cloned()
    }

    pub fn host_key(&self) -> Option<String> {
        lock(&self.shared).host_key.clone()
    }

    pub fn settings(&self) -> RoomSettings {
        lock(&self.shared).settings
    }

    /// The lobby list as last sent to this (moderator) participant.
    pub fn lobby(&self) -> Vec<LobbyEntry> {
        lock(&self.shared).lobby.clone()
    }

    /// `muted` notices received (this client ignores them and keeps sending, on purpose).
    pub fn muted(&self) -> Vec<TrackKind> {
        lock(&self.shared).muted.clone()
    }

    /// Takes the one-way latency samples gathered so far (microseconds).
    pub fn take_latencies(&self) -> Vec<u32> {
        std::mem::take(&mut lock(&self.shared).latencies_us)
    }

    /// Everything received so far, per (sender, kind).
    pub fn received_all(&self) -> Vec<((ParticipantId, TrackKind), Received)> {
        lock(&self.shared)
            .received
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    /// Chat messages received, in order.
    pub fn chat(&self) -> Vec<ChatMessage> {
        lock(&self.shared).chat.clone()
    }

    /// The `chat_history` sent after welcome, if any.
    pub fn chat_history(&self) -> Option<Vec<ChatMessage>> {
        lock(&self.shared).chat_history.clone()
    }

    pub fn reactions(&self) -> Vec<(ParticipantId, String)> {
        lock(&self.shared).reactions.clone()
    }

    /// The `e2ee` key exchange messages received so far: (from, payload).
    pub fn e2ee_messages(&self) -> Vec<(ParticipantId, String)> {
        lock(&self.shared).e2ee.clone()
    }

    /// The dominant speaker as last announced.
    pub fn dominant_speaker(&self) -> Option<ParticipantId> {
        lock(&self.shared).dominant_speaker
    }

    pub fn resume_token(&self) -> Option<String> {
        lock(&self.shared).resume_token.clone()
    }

    /// Changes the RFC 6464 level on this participant's audio from now on.
    pub fn set_audio_level(&self, level: i8) {
        *self.audio_level.lock().unwrap_or_else(|p| p.into_inner()) = level;
    }

    /// Limits what reaches this participant to `bits_per_second` (a slow downlink: excess
    /// queues, then drops); None lifts the limit.
    pub fn set_receive_bandwidth(&self, bits_per_second: Option<u64>) {
        *self
            .receive_bandwidth
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = bits_per_second;
    }

    /// The `layers` messages received so far (mid, active RIDs), oldest first. This client
    /// obeys them: it stops sending the layers not listed.
    pub fn layers_messages(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.shared).layers.clone()
    }

    /// Why `id` left, if this participant was told.
    pub fn left_reason(&self, id: ParticipantId) -> Option<LeaveReason> {
        lock(&self.shared).left.get(&id).copied()
    }

    /// What arrived so far from `from`'s track of `kind`.
    pub fn received(&self, from: ParticipantId, kind: TrackKind) -> Received {
        lock(&self.shared)
            .received
            .get(&(from, kind))
            .copied()
            .unwrap_or_default()
    }

    /// How many frames of `from`'s track of `kind` arrive while waiting `wait`.
    pub async fn frames_during(&self, from: ParticipantId, kind: TrackKind, wait: Duration) -> u64 {
        let before = self.received(from, kind).frames;
        tokio::time::sleep(wait).await;
        self.received(from, kind).frames - before
    }

    pub fn knows(&self, other: ParticipantId) -> bool {
        lock(&self.shared).participants.contains_key(&other)
    }

    pub fn errors(&self) -> Vec<(ErrorCode, String)> {
        lock(&self.shared).errors.clone()
    }

    pub fn keyframe_requests(&self) -> u64 {
        lock(&self.shared).keyframe_requests
    }

    /// How many audio slots the last server offer had (0: microphones come as tracks).
    pub fn audio_slots(&self) -> usize {
        lock(&self.shared).slots
    }

    /// How many times one of this participant's audio slots changed hands (`slot` messages).
    pub fn slot_changes(&self) -> u64 {
        lock(&self.shared).slot_changes
    }

    pub fn is_connected(&self) -> bool {
        lock(&self.shared).connected
    }

    /// Why the session ended, if it has.
    pub fn ended(&self) -> Option<String> {
        lock(&self.shared).ended.clone()
    }

    /// Leaves politely (sends `leave`) and waits for the session to end.
    pub async fn leave(mut self) {
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Vanishes without a word, like a crashed tab: the server must notice by itself.
    pub fn vanish(self) {
        self.task.abort();
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passes.
    pub async fn wait_until(&self, timeout: Duration, condition: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if condition(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        condition(self)
    }
}

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
