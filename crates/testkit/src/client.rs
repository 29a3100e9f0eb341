//! The media side of a simulated participant: one task owning a str0m `Rtc` (full ICE, UDP
//! or ICE-TCP), the signaling WebSocket and the simulated network, publishing canned media
//! and accounting for what arrives.
//!
//! str0m runs in RTP mode, as the server does. In frame mode str0m depacketizes and
//! reassembles every received frame (jitter buffer, loss recovery bookkeeping, copies),
//! which made the load generator cost as much CPU as the server it measures; we only count
//! frames and read a few bytes of them, which `rtp_in` does from the packets. Sending then
//! needs our own packetizing (`rtp_out`). NACK, RTX, receiver reports and transport-wide
//! feedback are str0m's either way.

use crate::canned;
use crate::rtp_in::{PacketView, Reception};
use crate::rtp_out::OutgoingStream;
use crate::shared::{
    lock, next_message, send, Shared, SimOptions, Ws, SIMULCAST_DIMENSIONS, SIMULCAST_LAYERS,
    SIMULCAST_SIZES,
};
use crate::sim_network::{Link, Loss};
use crate::tcp_link::{TcpLinks, ACTIVE_PORT};
use anyhow::{bail, Context};
use moot_protocol::{ParticipantId, ServerMessage, TrackKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
/// A keyframe every 3 s even unasked, as browsers do after loss recovery fails.
const KEYFRAME_INTERVAL: u64 = 90;
/// Datagrams read from the socket in one go (each still followed by draining str0m).
const RECEIVE_BATCH: usize = 32;
/// How often streams that went quiet are checked for unrepaired gaps.
const GAP_SWEEP_INTERVAL: Duration = Duration::from_millis(100);
/// RTP clock ticks per frame: Opus's 48 kHz × 20 ms, video's 90 kHz × 33⅓ ms.
const OPUS_TICKS: u64 = 960;
const VIDEO_TICKS: u64 = 3000;
/// In DTX, one silent frame in this many is sent: every 400 ms, as Opus in browsers does.
const DTX_EVERY: u64 = 20;

pub(crate) struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    tcp: TcpLinks,
    ws: Ws,
    pending: Option<SdpPendingOffer>,
    /// Our video m-line, when we publish video (keyframe requests name it).
    video_mid: Option<Mid>,
    audio_out: Option<OutgoingStream>,
    /// One stream, or one per simulcast layer in `SIMULCAST_LAYERS` order.
    video_out: Vec<OutgoingStream>,
    /// Which remote participant and kind each receiving mid carries (from server offers,
    /// and for audio slots from `slot` messages).
    remote_mids: HashMap<Mid, (ParticipantId, TrackKind)>,
    /// The audio slots of the last server offer (owners in `remote_mids` once known).
    slot_mids: Vec<Mid>,
    /// Packets arrived and lost per sender not yet added to `shared` (added with the gap
    /// sweep, so the shared lock is not taken per packet).
    packet_counts: HashMap<(ParticipantId, TrackKind), (u64, u64)>,
    reception: Reception,
    shared: Arc<Mutex<Shared>>,
    frame_no: u64,
    force_keyframe: bool,
    send_loss: Loss,
    receive_loss: Loss,
    audio_level: Arc<Mutex<i8>>,
    /// Honour the server's request for Opus DTX (`SimOptions::opus_dtx`).
    honour_dtx: bool,
    /// The server's last SDP asked for Opus DTX (and `honour_dtx`): silence is sent as one
    /// frame every `DTX_EVERY`.
    dtx: bool,
    /// Audio frames sent: their stamps' counter, so frames not sent in DTX are not counted
    /// as lost by the receivers.
    audio_frames_sent: u64,
    simulcast: bool,
    link: Link,
    /// Simulcast layers the server asked us not to send (`layers`).
    paused_layers: Vec<String>,
}

/// Receive buffer asked for each simulated participant's socket (the kernel caps it at
/// `net.core.rmem_max`). A browser has a machine to itself; a load generator runs 50 of them
/// on one core and may not be scheduled for tens of milliseconds, which the default buffer
/// (about 170 datagrams) does not cover: its drops would be counted as the server's loss.
const RECEIVE_BUFFER_BYTES: usize = 4 << 20;

/// A UDP socket on loopback with a receive buffer deep enough to ride out scheduling delays.
fn bind_media_socket() -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer only makes drops under load more likely, and the
    // benchmark reports the kernel's drops beside the loss.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    UdpSocket::from_std(socket.into())
}

impl Client {
    /// Opens the media side: binds a UDP socket on loopback, offers a send-only audio and
    /// video m-line (video in three simulcast layers if asked) and says which we publish.
    pub(crate) async fn start(
        mut ws: Ws,
        options: SimOptions,
        me: ParticipantId,
        shared: Arc<Mutex<Shared>>,
        audio_level: Arc<Mutex<i8>>,
        receive_bandwidth: Arc<Mutex<Option<u64>>>,
    ) -> anyhow::Result<Self> {
        let socket = bind_media_socket()?;
        let local = socket.local_addr()?;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
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
            &serde_json::json!({
                "type": "offer",
                "sdp": offer.to_sdp_string(),
                "audio_slots": options.audio_slots,
            }),
        )
        .await?;
        send(&mut ws, &serde_json::json!({"type": "media_state", "audio": options.audio, "video": options.video})).await?;

        let audio_out = options
            .audio
            .then(|| OutgoingStream::new(&rtc, audio_mid, None, Codec::Opus))
            .flatten();
        let rids: Vec<Option<Rid>> = if options.simulcast {
            SIMULCAST_LAYERS
                .iter()
                .map(|r| Some(Rid::from(*r)))
                .collect()
        } else {
            vec![None]
        };
        let video_out = if options.video {
            rids.into_iter()
                .filter_map(|rid| OutgoingStream::new(&rtc, video_mid, rid, Codec::Vp8))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            rtc,
            socket,
            local,
            tcp: TcpLinks::default(),
            ws,
            pending: Some(pending),
            video_mid: options.video.then_some(video_mid),
            audio_out,
            video_out,
            remote_mids: HashMap::new(),
            slot_mids: Vec::new(),
            packet_counts: HashMap::new(),
            reception: Reception::default(),
            shared,
            frame_no: 0,
            force_keyframe: true,
            audio_level,
            honour_dtx: options.opus_dtx,
            dtx: false,
            audio_frames_sent: 0,
            simulcast: options.simulcast,
            send_loss: Loss::new(options.send_loss, me.0 * 7919),
            receive_loss: Loss::new(options.receive_loss, me.0 * 104_729),
            link: Link::new(receive_bandwidth, now),
            paused_layers: Vec::new(),
        })
    }

    pub(crate) async fn run(
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
        let mut gap_sweep = tokio::time::interval(GAP_SWEEP_INTERVAL);
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
                    self.on_datagram(source, &buf[..len])?;
                    // What else is queued already, without another turn of the select (and
                    // its timers): under load that turn costs more than the packet.
                    for _ in 0..RECEIVE_BATCH {
                        self.drain().await?;
                        match self.socket.try_recv_from(&mut buf) {
                            Ok((len, source)) => self.on_datagram(source, &buf[..len])?,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                _ = tokio::time::sleep_until(self.link.next_due().unwrap_or(timeout).into()),
                    if self.link.next_due().is_some() => {
                    while let Some((source, datagram)) = self.link.pop_due(Instant::now()) {
                        self.receive(source, &datagram)?;
                        self.drain().await?;
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
                    self.write_audio(audio_no);
                }
                _ = video_tick.tick() => self.write_video(),
                _ = gap_sweep.tick() => self.sweep_gaps(),
            }
        }
    }

    /// A datagram from the UDP socket, through the simulated downlink.
    fn on_datagram(&mut self, source: SocketAddr, datagram: &[u8]) -> anyhow::Result<()> {
        if self.receive_loss.drops(datagram) {
            return Ok(());
        }
        if self.link.admit(Instant::now(), source, datagram) {
            self.receive(source, datagram)?;
        }
        Ok(())
    }

    /// Hands one datagram to str0m. The caller drains str0m before the next: in RTP mode
    /// it holds one received packet at a time, and a second input would overwrite it.
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

    fn write_audio(&mut self, n: u64) {
        if !self.connected() {
            return;
        }
        let Some(stream) = &mut self.audio_out else {
            return;
        };
        let level = *self.audio_level.lock().unwrap_or_else(|p| p.into_inner());
        let dtx = self.dtx && level == canned::SILENCE;
        if dtx && !n.is_multiple_of(DTX_EVERY) {
            return;
        }
        self.audio_frames_sent += 1;
        let mut frame = if dtx {
            canned::opus_dtx_frame()
        } else {
            canned::opus_frame(n)
        };
        canned::stamp(&mut frame, self.audio_frames_sent, canned::unix_nanos());
        stream.write_opus(&mut self.rtc, (n * OPUS_TICKS) as u32, frame, level);
    }

    fn write_video(&mut self) {
        if self.video_out.is_empty() || !self.connected() {
            return;
        }
        self.frame_no += 1;
        let key = self.force_keyframe || self.frame_no.is_multiple_of(KEYFRAME_INTERVAL);
        self.force_keyframe = false;
        let rtp_time = (self.frame_no * VIDEO_TICKS) as u32;
        for (layer, stream) in self.video_out.iter_mut().enumerate() {
            let mut frame = if self.simulcast {
                // One frame per layer, of a size that tells the layers apart on arrival.
                if self
                    .paused_layers
                    .iter()
                    .any(|p| p == SIMULCAST_LAYERS[layer])
                {
                    continue;
                }
                let size = SIMULCAST_SIZES[layer];
                let (width, height) = SIMULCAST_DIMENSIONS[layer];
                canned::vp8_frame_sized(key, if key { size * 3 } else { size }, width, height)
            } else {
                canned::vp8_frame(key, if key { 3000 } else { 900 })
            };
            canned::stamp(&mut frame, self.frame_no, canned::unix_nanos());
            stream.write_vp8(&mut self.rtc, rtp_time, &frame);
        }
    }

    async fn on_signal(&mut self, message: ServerMessage) -> anyhow::Result<()> {
        match message {
            ServerMessage::Answer { sdp } => {
                self.dtx = self.honour_dtx && canned::sdp_asks_for_opus_dtx(&sdp);
                let pending = self.pending.take().context("answer without our offer")?;
                self.rtc
                    .sdp_api()
                    .accept_answer(pending, SdpAnswer::from_sdp_string(&sdp)?)?;
            }
            ServerMessage::Offer { sdp, tracks, slots } => {
                self.dtx = self.honour_dtx && canned::sdp_asks_for_opus_dtx(&sdp);
                let answer = self
                    .rtc
                    .sdp_api()
                    .accept_offer(SdpOffer::from_sdp_string(&sdp)?)?;
                let slot_mids: Vec<Mid> = slots.iter().map(|m| Mid::from(m.as_str())).collect();
                // A slot that stays keeps its owner until its next `slot` message.
                let owners: Vec<(Mid, (ParticipantId, TrackKind))> = slot_mids
                    .iter()
                    .filter_map(|mid| self.remote_mids.get(mid).map(|o| (*mid, *o)))
                    .collect();
                self.remote_mids = tracks
                    .into_iter()
                    .map(|t| (Mid::from(t.mid.as_str()), (t.participant, t.kind)))
                    .chain(owners)
                    .collect();
                lock(&self.shared).slots = slot_mids.len();
                self.slot_mids = slot_mids;
                let (remote, slots) = (&self.remote_mids, &self.slot_mids);
                self.reception
                    .retain_mids(|mid| remote.contains_key(mid) || slots.contains(mid));
                send(
                    &mut self.ws,
                    &serde_json::json!({"type": "answer", "sdp": answer.to_sdp_string()}),
                )
                .await?;
            }
            ServerMessage::Slot { mid, participant } => {
                let mid = Mid::from(mid.as_str());
                if self.slot_mids.contains(&mid) {
                    self.remote_mids
                        .insert(mid, (participant, TrackKind::Audio));
                    lock(&self.shared).slot_changes += 1;
                }
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
            Event::RtpPacket(packet) => self.on_rtp(&packet),
            Event::KeyframeRequest(req) if Some(req.mid) == self.video_mid => {
                // Every layer, as the server asks for each anyway.
                self.force_keyframe = true;
                lock(&self.shared).keyframe_requests += 1;
            }
            _ => {}
        }
    }

    fn on_rtp(&mut self, packet: &RtpPacket) {
        let ssrc = packet.header.ssrc;
        let rtc = &mut self.rtc;
        let Some(stream) = self
            .reception
            .stream(ssrc, || rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid()))
        else {
            return;
        };
        let owner = self.remote_mids.get(&stream.mid).copied();
        if owner.is_none() && !self.slot_mids.contains(&stream.mid) {
            return;
        }
        let video = owner.is_some_and(|(_, kind)| kind == TrackKind::Video);
        let arrival = stream.on_packet(Instant::now(), PacketView::from(packet), video);
        // A slot's first packets can arrive before its `slot` message: numbered, not counted.
        let Some((from, kind)) = owner else {
            return;
        };
        let counts = self.packet_counts.entry((from, kind)).or_default();
        counts.0 += arrival.packets;
        counts.1 += arrival.lost_packets;
        if arrival.gaps == 0 && arrival.frame.is_none() {
            return;
        }
        let mut guard = lock(&self.shared);
        let shared = &mut *guard;
        let received = shared.received.entry((from, kind)).or_default();
        received.gaps += arrival.gaps;
        if let Some(latency) = arrival.frame.and_then(|f| received.count_frame(&f)) {
            shared.record_latency(latency);
        }
    }

    /// Counts the gaps of streams that went quiet (see `Reception::expire`).
    fn sweep_gaps(&mut self) {
        let expired = self.reception.expire(Instant::now());
        let mut shared = lock(&self.shared);
        for (key, (packets, lost)) in self.packet_counts.drain() {
            let received = shared.received.entry(key).or_default();
            received.packets += packets;
            received.lost_packets += lost;
        }
        for (mid, gaps, lost) in expired {
            if let Some(&key) = self.remote_mids.get(&mid) {
                let received = shared.received.entry(key).or_default();
                received.gaps += gaps;
                received.lost_packets += lost;
            }
        }
    }
}
