//! A simulated participant: real signaling over a WebSocket, real WebRTC via str0m.

use crate::canned;
use crate::tcp_link::{TcpLinks, ACTIVE_PORT};
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use moot_protocol::{
    ChatMessage, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomSettings,
    ServerMessage, TrackKind,
};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
/// A keyframe every 3 s even unasked, as browsers do after loss recovery fails.
const KEYFRAME_INTERVAL: u64 = 90;

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
}

/// The simulcast layers a simulated participant sends, lowest first, and their frame sizes.
pub const SIMULCAST_LAYERS: [&str; 3] = ["q", "h", "f"];
pub const SIMULCAST_SIZES: [usize; 3] = [300, 500, 800];
/// The picture size each simulcast layer's keyframes declare (quarter, half, full).
pub const SIMULCAST_DIMENSIONS: [(u16, u16); 3] = [(160, 120), (320, 240), (640, 480)];

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            send_loss: 0.0,
            receive_loss: 0.0,
            audio_level: -127,
            simulcast: false,
            tcp: false,
        }
    }
}

/// Deterministic loss: a small xorshift generator, so a failing run can be reproduced.
struct Loss {
    fraction: f64,
    state: u64,
}

impl Loss {
    fn new(fraction: f64, seed: u64) -> Self {
        Self {
            fraction,
            state: seed | 1,
        }
    }

    /// Whether to drop this datagram. Only RTP/RTCP (first byte 128..=191) is ever dropped:
    /// losing ICE or DTLS would test connection setup, not NACK/RTX.
    fn drops(&mut self, datagram: &[u8]) -> bool {
        if self.fraction <= 0.0 || !matches!(datagram.first(), Some(128..=191)) {
            return false;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % 10_000) as f64 / 10_000.0 < self.fraction
    }
}

/// A simulated bottleneck on the way in: a link of `rate` bits per second in front of this
/// client. What it cannot carry at once waits in its queue (so delay grows, as on a real
/// slow link, which is what congestion control measures); what would wait longer than
/// `LINK_QUEUE` is dropped. Only RTP/RTCP is shaped: ICE and DTLS are not the test's subject.
struct Link {
    /// Bits per second; None: no limit (shared with the handle, changeable at any time).
    rate: Arc<Mutex<Option<u64>>>,
    queue: VecDeque<(Instant, SocketAddr, Vec<u8>)>,
    /// When the link has sent everything queued so far.
    free_at: Instant,
}

/// The most a packet waits in the simulated link's queue before being dropped instead.
const LINK_QUEUE: Duration = Duration::from_millis(300);

impl Link {
    /// Takes an arriving datagram: Some when it goes through at once, None when it queued
    /// (or was dropped).
    fn admit(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
        let rate = *self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let shaped = matches!(datagram.first(), Some(128..=191));
        match rate {
            Some(rate) if shaped && rate > 0 => {
                let start = self.free_at.max(now);
                if start.saturating_duration_since(now) > LINK_QUEUE {
                    return None;
                }
                let bits = (datagram.len() as u64 + 28) * 8;
                self.free_at = start + Duration::from_secs_f64(bits as f64 / rate as f64);
                self.queue
                    .push_back((self.free_at, source, datagram.to_vec()));
                None
            }
            _ if self.queue.is_empty() => Some(datagram.to_vec()),
            // Unlimited again, but keep the order behind what is still queued.
            _ => {
                self.queue.push_back((now, source, datagram.to_vec()));
                None
            }
        }
    }

    /// When the next queued datagram is due.
    fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _, _)| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if self.next_due()? > now {
            return None;
        }
        self.queue.pop_front().map(|(_, s, d)| (s, d))
    }
}

/// Latency samples kept per participant (bounded: a long load test must not grow memory).
const MAX_LATENCY_SAMPLES: usize = 20_000;

/// What arrived from one remote track.
#[derive(Debug, Clone, Copy, Default)]
pub struct Received {
    pub frames: u64,
    /// Frames missing between received ones (by the sender's frame counter).
    pub lost: u64,
    /// The last frame counter seen.
    pub last_counter: u64,
    /// Size of the last frame (tells simulcast layers apart).
    pub last_size: usize,
    /// Frames str0m flagged as following a gap that NACK/RTX did not repair.
    pub gaps: u64,
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

#[derive(Debug, Default)]
struct Shared {
    received: HashMap<(ParticipantId, TrackKind), Received>,
    participants: HashMap<ParticipantId, Participant>,
    me: Option<Participant>,
    host_key: Option<String>,
    settings: RoomSettings,
    lobby: Vec<LobbyEntry>,
    muted: Vec<TrackKind>,
    left: HashMap<ParticipantId, LeaveReason>,
    chat: Vec<ChatMessage>,
    /// One-way latencies of received frames (sender stamp to arrival), in microseconds.
    latencies_us: Vec<u32>,
    chat_history: Option<Vec<ChatMessage>>,
    reactions: Vec<(ParticipantId, String)>,
    dominant_speaker: Option<ParticipantId>,
    /// `e2ee` messages received: (from, payload).
    e2ee: Vec<(ParticipantId, String)>,
    resume_token: Option<String>,
    errors: Vec<(ErrorCode, String)>,
    keyframe_requests: u64,
    /// `layers` messages received: (mid, active RIDs).
    layers: Vec<(String, Vec<String>)>,
    connected: bool,
    ended: Option<String>,
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

type Ws =
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
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
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
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate = if options.tcp {
            Candidate::builder()
                .tcp()
                .host(SocketAddr::new(local.ip(), ACTIVE_PORT))
                .tcptype(TcpType::Active)
                .build()?
        } else {
            Candidate::host(local, "udp")?
        };
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let audio_mid = api.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some("sim".into()),
            None,
            None,
        );
        let simulcast = options.simulcast.then(|| {
            let mut layers = str0m::media::Simulcast::new();
            for rid in SIMULCAST_LAYERS {
                layers.send.push(str0m::media::SimulcastLayer::new(rid));
            }
            layers
        });
        let video_mid = api.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            Some("sim".into()),
            None,
            simulcast,
        );
        let (offer, pending) = api
            .apply()
            .context("a fresh Rtc always has changes to offer")?;
        send(
            &mut ws,
            &serde_json::json!({"type": "offer", "sdp": offer.to_sdp_string()}),
        )
        .await?;
        send(&mut ws, &serde_json::json!({"type": "media_state", "audio": options.audio, "video": options.video})).await?;

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
        let client = Client {
            rtc,
            socket,
            local,
            tcp: TcpLinks::default(),
            ws,
            pending: Some(pending),
            audio_mid: options.audio.then_some(audio_mid),
            video_mid: options.video.then_some(video_mid),
            remote_mids: HashMap::new(),
            shared: shared.clone(),
            frame_no: 0,
            force_keyframe: true,
            audio_level: audio_level.clone(),
            simulcast: options.simulcast,
            send_loss: Loss::new(options.send_loss, me.id.0 * 7919),
            receive_loss: Loss::new(options.receive_loss, me.id.0 * 104_729),
            link: Link {
                rate: receive_bandwidth.clone(),
                queue: VecDeque::new(),
                free_at: now,
            },
            paused_layers: Vec::new(),
        };
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

    pub fn knows(&self, other: ParticipantId) -> bool {
        lock(&self.shared).participants.contains_key(&other)
    }

    pub fn errors(&self) -> Vec<(ErrorCode, String)> {
        lock(&self.shared).errors.clone()
    }

    pub fn keyframe_requests(&self) -> u64 {
        lock(&self.shared).keyframe_requests
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

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

async fn send(ws: &mut Ws, value: &serde_json::Value) -> anyhow::Result<()> {
    ws.send(Message::Text(value.to_string().into())).await?;
    Ok(())
}

async fn next_message(ws: &mut Ws) -> anyhow::Result<ServerMessage> {
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

struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    tcp: TcpLinks,
    ws: Ws,
    pending: Option<SdpPendingOffer>,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    /// Which remote participant and kind each receiving mid carries (from server offers).
    remote_mids: HashMap<Mid, (ParticipantId, TrackKind)>,
    shared: Arc<Mutex<Shared>>,
    frame_no: u64,
    force_keyframe: bool,
    send_loss: Loss,
    receive_loss: Loss,
    audio_level: Arc<Mutex<i8>>,
    simulcast: bool,
    link: Link,
    /// Simulcast layers the server asked us not to send (`layers`).
    paused_layers: Vec<String>,
}

impl Client {
    async fn run(
        mut self,
        mut leave: oneshot::Receiver<()>,
        mut raw: mpsc::UnboundedReceiver<serde_json::Value>,
    ) {
        let result = self.event_loop(&mut leave, &mut raw).await;
        let reason = match result {
            Ok(()) => "left".to_owned(),
            Err(e) => e.to_string(),
        };
        lock(&self.shared).ended = Some(reason);
    }

    async fn event_loop(
        &mut self,
        leave: &mut oneshot::Receiver<()>,
        raw: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let start = tokio::time::Instant::now();
        let mut audio_tick = tokio::time::interval_at(start, AUDIO_INTERVAL);
        let mut video_tick = tokio::time::interval_at(start, VIDEO_INTERVAL);
        let mut buf = vec![0u8; 2048];
        let mut audio_no = 0u64;
        loop {
            let timeout = self.drain().await?;
            tokio::select! {
                polite = &mut *leave => {
                    // Err: the handle was dropped without `leave()` (or `vanish()` races its
                    // abort): go without a word, like a closed tab.
                    if polite.is_ok() {
                        send(&mut self.ws, &serde_json::json!({"type": "leave"})).await?;
                        let _ = self.ws.close(None).await;
                    }
                    return Ok(());
                }
                message = next_message(&mut self.ws) => self.on_signal(message?).await?,
                Some(message) = raw.recv() => send(&mut self.ws, &message).await?,
                received = self.socket.recv_from(&mut buf) => {
                    let (len, source) = received?;
                    if self.receive_loss.drops(&buf[..len]) {
                        continue;
                    }
                    if let Some(datagram) = self.link.admit(Instant::now(), source, &buf[..len]) {
                        self.receive(source, &datagram)?;
                    }
                }
                _ = tokio::time::sleep_until(self.link.next_due().unwrap_or(timeout).into()),
                    if self.link.next_due().is_some() => {
                    while let Some((source, datagram)) = self.link.pop_due(Instant::now()) {
                        self.receive(source, &datagram)?;
                    }
                }
                Some((source, packet)) = self.tcp.recv() => {
                    if self.receive_loss.drops(&packet) {
                        continue;
                    }
                    let local = SocketAddr::new(self.local.ip(), ACTIVE_PORT);
                    if let Ok(receive) = Receive::new(Protocol::Tcp, source, local, &packet) {
                        self.rtc.handle_input(Input::Receive(Instant::now(), receive))?;
                    }
                }
                _ = tokio::time::sleep_until(timeout.into()) => {
                    self.rtc.handle_input(Input::Timeout(Instant::now()))?;
                }
                _ = audio_tick.tick() => {
                    audio_no += 1;
                    self.write_audio(audio_no)?;
                }
                _ = video_tick.tick() => self.write_video()?,
            }
        }
    }

    fn receive(&mut self, source: SocketAddr, datagram: &[u8]) -> anyhow::Result<()> {
        if let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, datagram) {
            self.rtc
                .handle_input(Input::Receive(Instant::now(), receive))?;
        }
        Ok(())
    }

    fn connected(&self) -> bool {
        lock(&self.shared).connected
    }

    fn write_audio(&mut self, n: u64) -> anyhow::Result<()> {
        let Some(mid) = self.audio_mid.filter(|_| self.connected()) else {
            return Ok(());
        };
        let level = *self.audio_level.lock().unwrap_or_else(|p| p.into_inner());
        write(
            &mut self.rtc,
            mid,
            Codec::Opus,
            MediaTime::new(n * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
            {
                let mut frame = canned::opus_frame(n);
                canned::stamp(&mut frame, n, canned::unix_nanos());
                frame
            },
            Some(level),
        )
    }

    fn write_video(&mut self) -> anyhow::Result<()> {
        let Some(mid) = self.video_mid.filter(|_| self.connected()) else {
            return Ok(());
        };
        self.frame_no += 1;
        let key = self.force_keyframe || self.frame_no.is_multiple_of(KEYFRAME_INTERVAL);
        self.force_keyframe = false;
        if !self.simulcast {
            let mut frame = canned::vp8_frame(key, if key { 3000 } else { 900 });
            canned::stamp(&mut frame, self.frame_no, canned::unix_nanos());
            return write(
                &mut self.rtc,
                mid,
                Codec::Vp8,
                MediaTime::from_90khz(self.frame_no * 3000),
                frame,
                None,
            );
        }
        // One frame per layer, of a size that tells the layers apart on arrival.
        for ((rid, size), (width, height)) in SIMULCAST_LAYERS
            .iter()
            .zip(SIMULCAST_SIZES)
            .zip(SIMULCAST_DIMENSIONS)
        {
            if self.paused_layers.iter().any(|p| p == rid) {
                continue;
            }
            let mut frame =
                canned::vp8_frame_sized(key, if key { size * 3 } else { size }, width, height);
            canned::stamp(&mut frame, self.frame_no, canned::unix_nanos());
            let Some(writer) = self.rtc.writer(mid) else {
                return Ok(());
            };
            let Some(pt) = writer
                .payload_params()
                .find(|p| p.spec().codec == Codec::Vp8)
                .map(|p| p.pt())
            else {
                return Ok(());
            };
            writer.rid(str0m::media::Rid::from(*rid)).write(
                pt,
                Instant::now(),
                MediaTime::from_90khz(self.frame_no * 3000),
                frame,
            )?;
        }
        Ok(())
    }

    async fn on_signal(&mut self, message: ServerMessage) -> anyhow::Result<()> {
        match message {
            ServerMessage::Answer { sdp } => {
                let pending = self.pending.take().context("answer without our offer")?;
                self.rtc
                    .sdp_api()
                    .accept_answer(pending, SdpAnswer::from_sdp_string(&sdp)?)?;
            }
            ServerMessage::Offer { sdp, tracks } => {
                let answer = self
                    .rtc
                    .sdp_api()
                    .accept_offer(SdpOffer::from_sdp_string(&sdp)?)?;
                self.remote_mids = tracks
                    .into_iter()
                    .map(|t| (Mid::from(t.mid.as_str()), (t.participant, t.kind)))
                    .collect();
                send(
                    &mut self.ws,
                    &serde_json::json!({"type": "answer", "sdp": answer.to_sdp_string()}),
                )
                .await?;
            }
            ServerMessage::ParticipantJoined { participant }
            | ServerMessage::ParticipantUpdated { participant } => {
                let mut shared = lock(&self.shared);
                if shared.me.as_ref().is_some_and(|me| me.id == participant.id) {
                    shared.me = Some(participant);
                } else {
                    shared.participants.insert(participant.id, participant);
                }
            }
            ServerMessage::ParticipantLeft { id, reason } => {
                let mut shared = lock(&self.shared);
                shared.participants.remove(&id);
                shared.left.insert(id, reason);
            }
            ServerMessage::Waiting {} => bail!("waiting after welcome"),
            ServerMessage::Lobby { waiting } => lock(&self.shared).lobby = waiting,
            ServerMessage::Settings { settings } => lock(&self.shared).settings = settings,
            ServerMessage::Muted { kind } => lock(&self.shared).muted.push(kind),
            ServerMessage::Chat { message } => lock(&self.shared).chat.push(message),
            ServerMessage::ChatHistory { messages } => {
                lock(&self.shared).chat_history = Some(messages);
            }
            ServerMessage::Reaction { id, emoji } => lock(&self.shared).reactions.push((id, emoji)),
            ServerMessage::DominantSpeaker { id } => lock(&self.shared).dominant_speaker = id,
            ServerMessage::E2ee { from, payload } => lock(&self.shared).e2ee.push((from, payload)),
            ServerMessage::Error {
                code,
                message,
                fatal,
            } => {
                lock(&self.shared).errors.push((code, message.clone()));
                if fatal {
                    bail!("fatal error from server: {message}");
                }
            }
            ServerMessage::Welcome { .. } => bail!("second welcome"),
            ServerMessage::Layers { mid, active } => {
                let paused: Vec<String> = SIMULCAST_LAYERS
                    .iter()
                    .filter(|rid| !active.iter().any(|a| a == *rid))
                    .map(|rid| (*rid).to_owned())
                    .collect();
                // A resumed layer starts with a keyframe, as a browser's encoder does.
                if self.paused_layers.iter().any(|p| !paused.contains(p)) {
                    self.force_keyframe = true;
                }
                self.paused_layers = paused;
                lock(&self.shared).layers.push((mid, active));
            }
        }
        Ok(())
    }

    /// Drains str0m until it yields a timeout, which is returned.
    async fn drain(&mut self) -> anyhow::Result<Instant> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    if self.send_loss.drops(&t.contents) {
                        continue;
                    }
                    if t.proto == Protocol::Tcp {
                        self.tcp.send(t.destination, &t.contents).await;
                    } else {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                }
                Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => lock(&self.shared).connected = true,
            Event::MediaData(data) => {
                let Some(&(from, kind)) = self.remote_mids.get(&data.mid) else {
                    return;
                };
                let mut guard = lock(&self.shared);
                let shared = &mut *guard;
                let entry = shared.received.entry((from, kind)).or_default();
                entry.frames += 1;
                if let Some((counter, sent)) = canned::read_stamp(&data.data) {
                    if entry.last_counter > 0 && counter > entry.last_counter {
                        entry.lost += counter - entry.last_counter - 1;
                    }
                    entry.last_counter = entry.last_counter.max(counter);
                    let latency = canned::unix_nanos().saturating_sub(sent) / 1000;
                    if shared.latencies_us.len() < MAX_LATENCY_SAMPLES {
                        shared.latencies_us.push(latency as u32);
                    }
                }
                if !data.contiguous {
                    entry.gaps += 1;
                }
                entry.bytes += data.data.len() as u64;
                entry.last_size = data.data.len();
                if kind == TrackKind::Video && canned::vp8_is_keyframe(&data.data) {
                    entry.keyframes += 1;
                }
                entry.last = Some(Instant::now());
            }
            Event::KeyframeRequest(req) if Some(req.mid) == self.video_mid => {
                self.force_keyframe = true;
                lock(&self.shared).keyframe_requests += 1;
            }
            _ => {}
        }
    }
}

fn write(
    rtc: &mut Rtc,
    mid: Mid,
    codec: Codec,
    time: MediaTime,
    data: Vec<u8>,
    audio_level: Option<i8>,
) -> anyhow::Result<()> {
    let Some(mut writer) = rtc.writer(mid) else {
        return Ok(());
    };
    let Some(pt) = writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
    else {
        return Ok(());
    };
    if let Some(level) = audio_level {
        writer = writer.audio_level(level, level > -127);
    }
    writer.write(pt, Instant::now(), time, data)?;
    Ok(())
}
