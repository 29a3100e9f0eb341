//! The media task: owns the one UDP socket and the sans-IO SFU, and feeds one into the other.
//!
//! Commands from signaling sessions arrive on a channel; answers and offers go back through
//! the hub to the participant's session queue, in the order the SFU produced them.

use crate::hub::{Hub, Outbound};
use crate::udp_batch::{send_all, Datagram, BATCH};
use moot_protocol::{
    ErrorCode, ParticipantId, Quality, ServerMessage, TrackInfo, TrackKind, TrackSource,
};
use moot_room::Input;
use moot_sfu::{
    GroupId, MediaKind, PeerId, ReceiveVideo, Sfu, SfuConfig, SfuError, SfuOutput, SfuStats, Source,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Datagrams taken from the socket per loop turn after the first (bounded, so commands and
/// timers are never starved).
const RECEIVE_BURST: usize = 32;

#[derive(Debug)]
pub enum MediaCommand {
    AddPeer {
        id: ParticipantId,
        group: u64,
        /// The connection this media session belongs to: what the SFU says about this peer
        /// goes to that connection only, never to a newer one that resumed the participant.
        connection: u64,
    },
    RemovePeer {
        id: ParticipantId,
    },
    Offer {
        id: ParticipantId,
        sdp: String,
        sources: HashMap<String, TrackSource>,
    },
    Answer {
        id: ParticipantId,
        sdp: String,
    },
    SetPermissions {
        id: ParticipantId,
        audio: bool,
        video: bool,
    },
    SetQuality {
        id: ParticipantId,
        quality: Quality,
    },
}

/// The SFU's view of a protocol source.
fn sfu_source(source: TrackSource) -> Source {
    match source {
        TrackSource::Microphone => Source::Microphone,
        TrackSource::Camera => Source::Camera,
        TrackSource::Screen => Source::Screen,
        TrackSource::ScreenAudio => Source::ScreenAudio,
    }
}

fn protocol_source(source: Source) -> TrackSource {
    match source {
        Source::Microphone => TrackSource::Microphone,
        Source::Camera => TrackSource::Camera,
        Source::Screen => TrackSource::Screen,
        Source::ScreenAudio => TrackSource::ScreenAudio,
    }
}

/// Quality settings as video selection (docs/protocol.md, `set_quality`).
fn receive_video(quality: Quality) -> ReceiveVideo {
    match quality {
        Quality::High => ReceiveVideo::All,
        Quality::Standard => ReceiveVideo::TopSpeakers(9),
        Quality::Low => ReceiveVideo::TopSpeakers(1),
        Quality::AudioOnly => ReceiveVideo::None,
    }
}

#[derive(Clone)]
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<MediaCommand>,
    stats: Arc<Mutex<SfuStats>>,
}

impl MediaHandle {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<MediaCommand>) {
        let (commands, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(SfuStats::default()));
        (Self { commands, stats }, rx)
    }

    pub fn send(&self, command: MediaCommand) {
        // Fails only after the media task ended, i.e. during shutdown: nothing left to do.
        let _ = self.commands.send(command);
    }

    pub fn stats_cell(&self) -> Arc<Mutex<SfuStats>> {
        self.stats.clone()
    }

    /// Counters as of the media task's last loop turn.
    pub fn stats(&self) -> SfuStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn peer(id: ParticipantId) -> PeerId {
    PeerId(id.0)
}

/// Runs until the command channel closes (every handle dropped) or `shutdown` fires.
pub async fn run(
    socket: UdpSocket,
    candidates: Vec<SocketAddr>,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    hub: Arc<Hub>,
    stats: Arc<Mutex<SfuStats>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let local = match socket.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            tracing::error!("media socket has no local address: {e}");
            return;
        }
    };
    // str0m matches a datagram's destination against its local candidates; with a socket
    // bound to one address that is the address itself; bound to all interfaces we cannot
    // see the destination without IP_PKTINFO, so use the first advertised candidate.
    let destination = if local.ip().is_unspecified() {
        candidates.first().copied().unwrap_or(local)
    } else {
        local
    };
    let mut sfu = Sfu::new(SfuConfig {
        candidates,
        keyframe_request_interval: Duration::from_millis(500),
        seed: rand::random(),
    });
    let mut buf = vec![0u8; 2048];
    let mut outgoing: Vec<Datagram> = Vec::with_capacity(BATCH);
    // Which connection each media peer belongs to (see MediaCommand::AddPeer).
    let mut connections: HashMap<ParticipantId, u64> = HashMap::new();
    loop {
        flush(&mut sfu, &socket, &hub, &mut outgoing, &connections).await;
        if let Ok(mut shared) = stats.lock() {
            *shared = sfu.stats();
        }
        let deadline = sfu
            .next_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, source)) => {
                    sfu.handle_receive(Instant::now(), source, destination, &buf[..len]);
                    // Take whatever else is already queued before sending, so one sendmmsg
                    // carries the datagrams of several received packets.
                    for _ in 0..RECEIVE_BURST {
                        let Ok((len, source)) = socket.try_recv_from(&mut buf) else { break };
                        sfu.handle_receive(Instant::now(), source, destination, &buf[..len]);
                    }
                }
                // ICMP errors from departed clients surface here on Linux; not fatal.
                Err(e) => tracing::debug!("media recv error: {e}"),
            },
            command = commands.recv() => match command {
                Some(command) => handle_command(&mut sfu, &hub, command, &mut connections),
                None => return,
            },
            _ = tokio::time::sleep_until(deadline.into()) => sfu.handle_timeout(Instant::now()),
            _ = shutdown.changed() => return,
        }
    }
}

fn handle_command(
    sfu: &mut Sfu,
    hub: &Hub,
    command: MediaCommand,
    connections: &mut HashMap<ParticipantId, u64>,
) {
    let now = Instant::now();
    match command {
        MediaCommand::AddPeer {
            id,
            group,
            connection,
        } => {
            connections.insert(id, connection);
            if let Err(e) = sfu.add_peer(now, peer(id), GroupId(group)) {
                tracing::warn!(participant = %id, "cannot add media peer: {e}");
                hub.media_failed(id, Some(connection), "could not set up media");
            }
        }
        MediaCommand::RemovePeer { id } => {
            connections.remove(&id);
            sfu.remove_peer(now, peer(id));
        }
        MediaCommand::SetPermissions { id, audio, video } => {
            sfu.set_permissions(now, peer(id), audio, video)
        }
        MediaCommand::SetQuality { id, quality } => {
            sfu.set_receive_video(now, peer(id), receive_video(quality));
        }
        MediaCommand::Offer { id, sdp, sources } => {
            let sources = sources
                .into_iter()
                .map(|(mid, source)| (mid, sfu_source(source)))
                .collect();
            match sfu.accept_offer(now, peer(id), &sdp, sources) {
                Ok(answer) => hub.deliver_for_connection(
                    id,
                    connections.get(&id).copied(),
                    Outbound::Message(ServerMessage::Answer { sdp: answer }),
                ),
                Err(e) => hub.deliver_for_connection(
                    id,
                    connections.get(&id).copied(),
                    Outbound::Message(sdp_error(&e, "offer")),
                ),
            }
        }
        MediaCommand::Answer { id, sdp } => {
            if let Err(e) = sfu.accept_answer(now, peer(id), &sdp) {
                hub.deliver_for_connection(
                    id,
                    connections.get(&id).copied(),
                    Outbound::Message(sdp_error(&e, "answer")),
                );
            }
        }
    }
}

fn sdp_error(error: &SfuError, what: &str) -> ServerMessage {
    match error {
        SfuError::AlreadyNegotiated => ServerMessage::error(
            ErrorCode::OutOfOrder,
            "only one offer is accepted; answer the server's offers instead",
        ),
        SfuError::NoOfferOutstanding => ServerMessage::error(
            ErrorCode::OutOfOrder,
            "answer received but no offer from the server is outstanding",
        ),
        SfuError::UnknownPeer => ServerMessage::error(
            ErrorCode::OutOfOrder,
            format!("{what} received before joining a room"),
        ),
        other => ServerMessage::error(ErrorCode::BadSdp, format!("bad {what}: {other}")),
    }
}

/// Sends every pending datagram and delivers every signaling output.
async fn flush(
    sfu: &mut Sfu,
    socket: &UdpSocket,
    hub: &Hub,
    queue: &mut Vec<Datagram>,
    connections: &HashMap<ParticipantId, u64>,
) {
    while let Some(output) = sfu.poll_output() {
        match output {
            SfuOutput::Transmit(t) => queue.push(Datagram {
                destination: t.destination,
                contents: t.contents.into(),
            }),
            SfuOutput::Offer { peer, sdp, tracks } => {
                let tracks = tracks
                    .into_iter()
                    .map(|t| TrackInfo {
                        mid: t.mid,
                        participant: ParticipantId(t.publisher.0),
                        source: protocol_source(t.source),
                        kind: match t.kind {
                            MediaKind::Audio => TrackKind::Audio,
                            MediaKind::Video => TrackKind::Video,
                        },
                    })
                    .collect();
                let id = ParticipantId(peer.0);
                hub.deliver_for_connection(
                    id,
                    connections.get(&id).copied(),
                    Outbound::Message(ServerMessage::Offer { sdp, tracks }),
                );
            }
            SfuOutput::DominantSpeaker { peer, .. } => {
                let id = ParticipantId(peer.0);
                hub.room_input(Input::DominantSpeaker {
                    id: Some(id),
                    room_of: id,
                });
            }
            SfuOutput::PeerGone { peer, reason } => {
                let id = ParticipantId(peer.0);
                hub.media_failed(id, connections.get(&id).copied(), &reason)
            }
            // Passed on to the publisher once the media workers land (one arm there).
            SfuOutput::Layers { .. } => {}
        }
    }
    send_all(socket, queue).await;
}
