//! The media side: worker threads, each owning a sans-IO SFU and a socket on the one UDP
//! media port, fed by the signaling sessions' commands.
//!
//! Rooms are spread over the workers (`routes.rs`); each worker runs its own loop on its own
//! thread (`worker.rs`), so many rooms use every core. A large room spreads too: its peers
//! are placed on several workers, which relay each published packet to each other once
//! (`moot_sfu::relay`; the messages below carry it). Commands from signaling sessions go to
//! the worker owning the participant's peer; answers and offers go back through the hub to the
//! participant's session queue, in the order the SFU produced them.

mod routes;
mod worker;

use crate::hub::{Hub, Outbound};
use moot_protocol::{
    ErrorCode, ParticipantId, Quality, ServerMessage, TrackInfo, TrackKind, TrackSource,
};
use moot_room::Input;
use moot_sfu::{
    GroupId, KeyframeRequestKind, MediaKind, PeerId, ReceiveVideo, RelayedPacket, Rid, Sfu,
    SfuError, SfuOutput, SfuStats, Source, TrackKey,
};
use routes::{PublishedTrack, Routes};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::mpsc;

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
        /// The client can receive microphones on audio slots.
        audio_slots: bool,
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
    /// The heights at which `id` shows each other participant's camera (`view_sizes`).
    ViewSizes {
        id: ParticipantId,
        sizes: Vec<(ParticipantId, u32)>,
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

/// What a worker is given: a command for one of its peers, or datagrams another worker
/// received for its peers.
#[derive(Debug)]
enum WorkerInput {
    Command(MediaCommand),
    Datagrams(worker::PassedOn),
    /// A packet from an ICE-TCP connection.
    Tcp(crate::media_tcp::Inbound),
    /// A large room, from here on: whether it is on several workers (then its packets are
    /// relayed to the others).
    Spread {
        group: GroupId,
        spread: bool,
    },
    /// Tracks published in a room on other workers, to forward here.
    RemoteTracks {
        group: GroupId,
        tracks: Vec<PublishedTrack>,
    },
    /// A publisher on another worker left.
    RemotePeerGone(PeerId),
    /// This worker holds none of the room any more.
    ForgetGroup(GroupId),
    /// Packets of tracks published on another worker, to forward to subscribers here.
    Relayed(Vec<RelayedPacket>),
    /// A subscriber on another worker needs a keyframe of a track published here.
    KeyframeWanted {
        track: TrackKey,
        kind: KeyframeRequestKind,
    },
    /// The layers of tracks published here that worker `from` needs.
    LayersWanted {
        from: usize,
        needs: Vec<(TrackKey, Vec<Rid>)>,
    },
}

/// The way into the media workers, shared by every session.
#[derive(Clone)]
pub struct MediaHandle {
    shared: Arc<Shared>,
}

struct Shared {
    routes: RwLock<Routes>,
    inputs: Vec<mpsc::UnboundedSender<WorkerInput>>,
    /// Each worker's counters as of its last loop turn.
    stats: Vec<Mutex<SfuStats>>,
    /// Datagrams a worker received for another worker's peer and passed on.
    passed_on: AtomicU64,
}

/// One worker's end of the handle: what it reads and where it reports.
pub struct WorkerPort {
    index: usize,
    inputs: mpsc::UnboundedReceiver<WorkerInput>,
}

impl MediaHandle {
    /// A handle for `workers` media workers (at least one), and each worker's end; groups of
    /// more than `spread_after` peers spread over the workers (0: never) once their worker
    /// is `spread_busy` busy (permille of a core; 0: at once).
    pub fn new(workers: usize, spread_after: usize, spread_busy: u32) -> (Self, Vec<WorkerPort>) {
        let workers = workers.max(1);
        let (inputs, ports): (Vec<_>, Vec<_>) = (0..workers)
            .map(|index| {
                let (tx, rx) = mpsc::unbounded_channel();
                (tx, WorkerPort { index, inputs: rx })
            })
            .unzip();
        let shared = Shared {
            routes: RwLock::new(Routes::new(workers, spread_after, spread_busy)),
            inputs,
            stats: (0..workers).map(|_| Mutex::default()).collect(),
            passed_on: AtomicU64::new(0),
        };
        (
            Self {
                shared: Arc::new(shared),
            },
            ports,
        )
    }

    /// Hands a command to the worker owning its peer. A peer nobody owns (an offer before
    /// joining) goes to worker 0, whose SFU answers it with the usual error.
    pub fn send(&self, command: MediaCommand) {
        let worker = match &command {
            MediaCommand::AddPeer { id, group, .. } => {
                let group = GroupId(*group);
                let placement = self.routes_mut().add_peer(peer(*id), group);
                if let Some((workers, tracks)) = placement.joined_spread {
                    for w in workers {
                        self.to_worker(
                            w,
                            WorkerInput::Spread {
                                group,
                                spread: true,
                            },
                        );
                    }
                    self.to_worker(
                        placement.worker,
                        WorkerInput::RemoteTracks { group, tracks },
                    );
                }
                placement.worker
            }
            MediaCommand::RemovePeer { id } => {
                let Some(removal) = self.routes_mut().remove_peer(peer(*id)) else {
                    return;
                };
                for &w in &removal.others {
                    self.to_worker(w, WorkerInput::RemotePeerGone(peer(*id)));
                }
                if let [last] = removal.others[..] {
                    if removal.worker_left {
                        self.to_worker(
                            last,
                            WorkerInput::Spread {
                                group: removal.group,
                                spread: false,
                            },
                        );
                    }
                }
                if removal.worker_left && !removal.others.is_empty() {
                    self.to_worker(removal.worker, WorkerInput::ForgetGroup(removal.group));
                }
                removal.worker
            }
            other => self
                .routes()
                .worker_of(peer(other.participant()))
                .unwrap_or(0),
        };
        self.to_worker(worker, WorkerInput::Command(command));
    }

    fn to_worker(&self, worker: usize, input: WorkerInput) {
        // Fails only after the worker ended, i.e. during shutdown: nothing left to do.
        let _ = self.shared.inputs[worker].send(input);
    }

    /// A peer on `worker` published a track: the group's other workers forward it too.
    fn published(&self, worker: usize, group: GroupId, track: PublishedTrack) {
        // Under the write lock, so a worker joining the group at the same time gets the
        // track exactly once: either in its `RemoteTracks` or from here.
        let mut routes = self.routes_mut();
        for w in routes.published(worker, group, track) {
            self.to_worker(
                w,
                WorkerInput::RemoteTracks {
                    group,
                    tracks: vec![track],
                },
            );
        }
    }

    /// Counters of all workers, as of their last loop turns.
    pub fn stats(&self) -> SfuStats {
        let mut total = SfuStats::default();
        for cell in &self.shared.stats {
            total += *cell.lock().unwrap_or_else(|p| p.into_inner());
        }
        total
    }

    pub fn passed_on(&self) -> u64 {
        self.shared.passed_on.load(Ordering::Relaxed)
    }

    /// Media peers on each worker.
    pub fn worker_load(&self) -> Vec<usize> {
        self.routes().load()
    }

    /// Hands a packet from an ICE-TCP connection to the worker owning its peer, found as for a
    /// datagram (a STUN message binds the connection's address); nobody's is dropped.
    fn route_tcp(&self, packet: crate::media_tcp::Inbound) {
        let lookup = self.routes().lookup(packet.source, &packet.packet);
        let worker = match lookup {
            routes::Lookup::Worker(worker) => worker,
            routes::Lookup::Bind(peer) => match self.routes_mut().bind(packet.source, peer) {
                Some(worker) => worker,
                None => return,
            },
            routes::Lookup::Unknown => return,
        };
        let _ = self.shared.inputs[worker].send(WorkerInput::Tcp(packet));
    }

    fn routes(&self) -> std::sync::RwLockReadGuard<'_, Routes> {
        self.shared.routes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, Routes> {
        self.shared
            .routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl MediaCommand {
    fn participant(&self) -> ParticipantId {
        match self {
            Self::AddPeer { id, .. }
            | Self::RemovePeer { id }
            | Self::Offer { id, .. }
            | Self::Answer { id, .. }
            | Self::SetPermissions { id, .. }
            | Self::SetQuality { id, .. }
            | Self::ViewSizes { id, .. } => *id,
        }
    }
}

fn peer(id: ParticipantId) -> PeerId {
    PeerId(id.0)
}

/// What the media workers are started with.
pub struct MediaSetup {
    /// One socket per worker, all on the media port (`SO_REUSEPORT`).
    pub sockets: Vec<std::net::UdpSocket>,
    /// The UDP addresses advertised to browsers.
    pub candidates: Vec<SocketAddr>,
    /// The ICE-TCP listener and the candidates advertising it.
    pub tcp: Option<(tokio::net::TcpListener, Vec<SocketAddr>)>,
    /// Where each subscriber's bandwidth estimate starts (`media.initial_bandwidth_kbps`).
    pub initial_bandwidth_bps: u64,
    /// `media.selective_audio_after`.
    pub selective_audio_after: usize,
    /// `media.loss_based_estimation_after`.
    pub loss_based_estimation_after: usize,
    /// `media.opus_dtx`.
    pub opus_dtx: bool,
}

/// Starts one thread per socket, running until `shutdown` fires. Must be called inside the
/// tokio runtime: the ICE-TCP connections run there and pass their packets to the workers.
pub fn start(
    setup: MediaSetup,
    ports: Vec<WorkerPort>,
    handle: MediaHandle,
    hub: Arc<Hub>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let MediaSetup {
        sockets,
        candidates,
        tcp,
        initial_bandwidth_bps,
        selective_audio_after,
        loss_based_estimation_after,
        opus_dtx,
    } = setup;
    let (tcp, tcp_candidates) = match tcp {
        Some((listener, tcp_candidates)) => {
            let routing = handle.clone();
            let limits = crate::media_tcp::TcpLimits::default();
            let media = crate::media_tcp::TcpMedia::start(listener, limits, move |packet| {
                routing.route_tcp(packet)
            });
            (Some(media), tcp_candidates)
        }
        None => (None, Vec::new()),
    };
    for (socket, port) in sockets.into_iter().zip(ports) {
        let context = worker::Context {
            candidates: candidates.clone(),
            handle: handle.clone(),
            hub: hub.clone(),
            shutdown: shutdown.clone(),
            tcp: tcp.clone(),
            tcp_candidates: tcp_candidates.clone(),
            initial_bandwidth_bps,
            selective_audio_after,
            loss_based_estimation_after,
            opus_dtx,
        };
        std::thread::Builder::new()
            .name(format!("moot-media-{}", port.index))
            .spawn(move || worker::run(socket, port, context))?;
    }
    Ok(())
}

pub(crate) fn handle_command(
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
        MediaCommand::ViewSizes { id, sizes } => {
            sfu.set_view_sizes(peer(id), sizes.into_iter().map(|(p, h)| (peer(p), h)));
        }
        MediaCommand::Offer {
            id,
            sdp,
            sources,
            audio_slots,
        } => {
            sfu.set_audio_slots(peer(id), audio_slots);
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

/// Delivers what the SFU says to signaling: offers, the dominant speaker, a lost peer.
fn deliver(output: SfuOutput, hub: &Hub, connections: &HashMap<ParticipantId, u64>) {
    match output {
        // The worker's business: datagrams and what goes between workers.
        SfuOutput::Transmit(_)
        | SfuOutput::Published { .. }
        | SfuOutput::Relay { .. }
        | SfuOutput::KeyframeWanted { .. }
        | SfuOutput::LayersWanted { .. } => {}
        SfuOutput::Offer {
            peer,
            sdp,
            tracks,
            slots,
        } => {
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
                Outbound::Message(ServerMessage::Offer { sdp, tracks, slots }),
            );
        }
        SfuOutput::SlotOwner {
            peer,
            mid,
            publisher,
        } => {
            let id = ParticipantId(peer.0);
            hub.deliver_for_connection(
                id,
                connections.get(&id).copied(),
                Outbound::Message(ServerMessage::Slot {
                    mid: mid.to_string(),
                    participant: ParticipantId(publisher.0),
                }),
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
        // Passed on to the publisher by the simulcast adaptation (one arm here).
        SfuOutput::Layers { peer, mid, active } => {
            let id = ParticipantId(peer.0);
            let active = active.iter().map(|rid| rid.to_string()).collect();
            hub.deliver_for_connection(
                id,
                connections.get(&id).copied(),
                Outbound::Message(ServerMessage::Layers {
                    mid: mid.to_string(),
                    active,
                }),
            );
        }
    }
}
