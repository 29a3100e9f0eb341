//! A simulated participant: real signaling over a WebSocket, real WebRTC via str0m. This is
//! the handle tests hold and what it can tell; the task doing the work is in `client.rs`.

use crate::client::Client;
use crate::shared::{lock, next_message, send, Received, Shared, SimOptions};
use anyhow::{bail, Context};
use moot_protocol::{
    ChatMessage, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomSettings,
    ServerMessage, TrackKind,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The signaling WebSocket's read buffer (see `try_join`).
const READ_BUFFER_BYTES: usize = 4096;

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

pub struct SimParticipant {
    pub id: ParticipantId,
    shared: Arc<Mutex<Shared>>,
    leave: Option<oneshot::Sender<()>>,
    raw: mpsc::UnboundedSender<serde_json::Value>,
    audio_level: Arc<Mutex<i8>>,
    receive_bandwidth: Arc<Mutex<Option<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

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
