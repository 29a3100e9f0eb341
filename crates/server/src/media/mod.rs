//! The media side: worker threads, each owning a sans-IO SFU and a socket on the one UDP
//! media port, fed by the signaling sessions' commands.
//!
//! Rooms are spread over the workers (`routes.rs`); each worker runs its own loop on its own
//! thread (`worker.rs`), so many rooms use every core. A large room spreads too: its peers
//! are placed on several workers, which relay each published packet to each other once
//! (`moot_sfu::cluster`; the messages below carry it).
//!
//! Signaling talks to the workers through `MediaHandle::send(MediaCommand)`, which routes each
//! command to the worker owning the participant's peer. The workers answer with `MediaEvent`s
//! on one channel (`MediaHandle::new` returns its receiving end), already in protocol terms
//! (`convert.rs`), in the order each SFU produced them; the hub consumes it. A worker never
//! calls into signaling and never takes the rooms' lock.

mod convert;
mod routes;
mod worker;

use crate::sync::{lock, read, write};
use moot_protocol::{ParticipantId, Quality, ServerMessage, TrackSource};
use moot_sfu::{ForwardedPacket, GroupId, KeyframeRequestKind, PeerId, Rid, SfuStats, TrackKey};
use routes::{PublishedTrack, Routes};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// A signaling connection, as registered with the hub. A participant resumed by a newer
/// connection keeps its id; what media says about a peer goes to the connection the peer
/// was added for only, never to a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

/// What the media workers tell signaling, in protocol terms.
#[derive(Debug)]
pub enum MediaEvent {
    /// Send `message` to participant `to`, if its session is still `connection` (None: any).
    Message {
        to: ParticipantId,
        connection: Option<ConnectionId>,
        message: ServerMessage,
    },
    /// The participant's media session ended or could not start: close its signaling with
    /// this fatal message (if its session is still `connection`).
    Ended {
        id: ParticipantId,
        connection: Option<ConnectionId>,
        message: ServerMessage,
    },
    /// The dominant speaker of `id`'s room changed to `id`.
    DominantSpeaker { id: ParticipantId },
}

#[derive(Debug)]
pub enum MediaCommand {
    AddPeer {
        id: ParticipantId,
        group: u64,
        /// The connection this media session belongs to: what the SFU says about this peer
        /// goes to that connection only, never to a newer one that resumed the participant.
        connection: ConnectionId,
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

/// What a worker is given: a command for one of its peers, or datagrams another worker
/// received for its peers.
#[derive(Debug)]
enum WorkerInput {
    Command(MediaCommand),
    Datagrams(worker::PassedOn),
    /// A packet from an ICE-TCP connection, for this peer.
    Tcp(PeerId, crate::media_tcp::Inbound),
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
    Relayed(Vec<ForwardedPacket>),
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
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl MediaHandle {
    /// A handle for `workers` media workers (at least one), each worker's end, and the
    /// receiving end of the workers' events (it closes when every worker has ended). Groups
    /// of more than `spread_after` peers spread over the workers (0: never) once their worker
    /// is `spread_busy` busy (permille of a core; 0: at once).
    pub fn new(
        workers: usize,
        spread_after: usize,
        spread_busy: u32,
    ) -> (Self, Vec<WorkerPort>, mpsc::UnboundedReceiver<MediaEvent>) {
        let workers = workers.max(1);
        let (events, events_rx) = mpsc::unbounded_channel();
        let (inputs, ports): (Vec<_>, Vec<_>) = (0..workers)
            .map(|index| {
                let (tx, rx) = mpsc::unbounded_channel();
                let port = WorkerPort {
                    index,
                    inputs: rx,
                    events: events.clone(),
                };
                (tx, port)
            })
            .unzip();
        let shared = Shared {
            routes: RwLock::new(Routes::new(workers, spread_after, spread_busy)),
            inputs,
            stats: (0..workers).map(|_| Mutex::default()).collect(),
            passed_on: AtomicU64::new(0),
        };
        let handle = Self {
            shared: Arc::new(shared),
        };
        (handle, ports, events_rx)
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
            total += *lock(cell);
        }
        total
    }

    /// Worker `worker`'s counters as of now.
    fn report_stats(&self, worker: usize, stats: SfuStats) {
        *lock(&self.shared.stats[worker]) = stats;
    }

    /// How busy `worker` was over its last period, in permille of a core (for spreading).
    fn report_busy(&self, worker: usize, permille: u32) {
        self.routes_mut().set_busy(worker, permille);
    }

    fn worker_count(&self) -> usize {
        self.shared.inputs.len()
    }

    /// Hands `worker` the datagrams another worker received for its peers.
    fn pass_on(&self, worker: usize, datagrams: worker::PassedOn) {
        self.shared
            .passed_on
            .fetch_add(datagrams.len() as u64, Ordering::Relaxed);
        self.to_worker(worker, WorkerInput::Datagrams(datagrams));
    }

    pub fn passed_on(&self) -> u64 {
        self.shared.passed_on.load(Ordering::Relaxed)
    }

    /// Media peers on each worker.
    pub fn worker_load(&self) -> Vec<usize> {
        self.routes().load()
    }

    /// Hands a packet from an ICE-TCP connection to the worker owning its peer, found as for a
    /// datagram but as a route of its own (a STUN message binds the connection); nobody's is
    /// dropped.
    fn route_tcp(&self, packet: crate::media_tcp::Inbound) {
        let (tcp, source) = (moot_sfu::Protocol::Tcp, packet.source);
        let lookup = self.routes().lookup(tcp, source, &packet.packet);
        let (worker, peer) = match lookup {
            routes::Lookup::Worker(worker, peer) => (worker, peer),
            routes::Lookup::Bind(peer) => match self.routes_mut().bind(tcp, source, peer) {
                Some(worker) => (worker, peer),
                None => return,
            },
            routes::Lookup::Unknown => return,
        };
        self.to_worker(worker, WorkerInput::Tcp(peer, packet));
    }

    /// A worker's SFU added `peer`, whose session answers to `ufrag`: packets naming it are
    /// routed to that worker from now on.
    fn set_ufrag(&self, peer: PeerId, ufrag: String) {
        self.routes_mut().set_ufrag(peer, ufrag);
    }

    fn routes(&self) -> std::sync::RwLockReadGuard<'_, Routes> {
        read(&self.shared.routes)
    }

    fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, Routes> {
        write(&self.shared.routes)
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
    convert::peer(id)
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
