//! The way into the media workers, shared by every signaling session, and each worker's own
//! end of it: which worker owns a peer (`Routes`), the workers' input channels, their
//! counters.

use super::convert::peer;
use super::messages::{MediaCommand, MediaEvent};
use super::routes::{self, PublishedTrack, Routes};
use crate::sync::{lock, read, write};
use moot_sfu::{ForwardedPacket, GroupId, KeyframeRequestKind, PeerId, Rid, SfuStats, TrackKey};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// What a worker is given: a command for one of its peers, or datagrams another worker
/// received for its peers.
#[derive(Debug)]
pub(super) enum WorkerInput {
    Command(MediaCommand),
    Datagrams(PassedOn),
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
    pub(super) index: usize,
    pub(super) inputs: mpsc::UnboundedReceiver<WorkerInput>,
    pub(super) events: mpsc::UnboundedSender<MediaEvent>,
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
                let group = *group;
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
            MediaCommand::StartRecording { .. } | MediaCommand::StopRecording { .. } => {
                // Every worker: each records what its own peers of the group publish.
                for worker in 0..self.worker_count() {
                    self.to_worker(worker, WorkerInput::Command(command.clone()));
                }
                return;
            }
            other => other
                .participant()
                .and_then(|id| self.routes().worker_of(peer(id)))
                .unwrap_or(0),
        };
        self.to_worker(worker, WorkerInput::Command(command));
    }

    pub(super) fn to_worker(&self, worker: usize, input: WorkerInput) {
        // Fails only after the worker ended, i.e. during shutdown: nothing left to do.
        let _ = self.shared.inputs[worker].send(input);
    }

    /// A peer on `worker` published a track: the group's other workers forward it too.
    pub(super) fn published(&self, worker: usize, group: GroupId, track: PublishedTrack) {
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
    pub(super) fn report_stats(&self, worker: usize, stats: SfuStats) {
        *lock(&self.shared.stats[worker]) = stats;
    }

    /// How busy `worker` was over its last period, in permille of a core (for spreading).
    pub(super) fn report_busy(&self, worker: usize, permille: u32) {
        self.routes_mut().set_busy(worker, permille);
    }

    pub(super) fn worker_count(&self) -> usize {
        self.shared.inputs.len()
    }

    /// Hands `worker` the datagrams another worker received for its peers.
    pub(super) fn pass_on(&self, worker: usize, datagrams: PassedOn) {
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
    pub(super) fn route_tcp(&self, packet: crate::media_tcp::Inbound) {
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
    pub(super) fn set_ufrag(&self, peer: PeerId, ufrag: String) {
        self.routes_mut().set_ufrag(peer, ufrag);
    }

    pub(super) fn routes(&self) -> std::sync::RwLockReadGuard<'_, Routes> {
        read(&self.shared.routes)
    }

    pub(super) fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, Routes> {
        write(&self.shared.routes)
    }
}

/// Datagrams one worker received for peers of another, in one buffer: one allocation per
/// batch, not per datagram. Each keeps the peer it was routed to, so the owner does not look
/// it up again.
#[derive(Debug, Default)]
pub struct PassedOn {
    bytes: Vec<u8>,
    /// Each datagram's peer, source, and where it ends in `bytes` (it starts where the last
    /// ended).
    ends: Vec<(PeerId, SocketAddr, usize)>,
}

impl PassedOn {
    pub fn push(&mut self, peer: PeerId, source: SocketAddr, datagram: &[u8]) {
        self.bytes.extend_from_slice(datagram);
        self.ends.push((peer, source, self.bytes.len()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn datagrams(&self) -> impl Iterator<Item = (PeerId, SocketAddr, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|(_, _, end)| *end));
        self.ends
            .iter()
            .zip(starts)
            .map(|(&(peer, source, end), start)| (peer, source, &self.bytes[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::PassedOn;
    use std::net::SocketAddr;

    #[test]
    fn passed_on_datagrams_come_back_whole_with_their_sources() {
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:2000".parse().expect("addr");
        let (one, two) = (moot_sfu::PeerId(1), moot_sfu::PeerId(2));
        let mut passed = PassedOn::default();
        assert!(passed.is_empty());
        passed.push(one, a, &[1, 2, 3]);
        passed.push(two, b, &[]);
        passed.push(two, b, &[4, 5]);
        assert_eq!(passed.len(), 3);
        let back: Vec<_> = passed
            .datagrams()
            .map(|(p, s, d)| (p, s, d.to_vec()))
            .collect();
        let expected = vec![
            (one, a, vec![1, 2, 3]),
            (two, b, vec![]),
            (two, b, vec![4, 5]),
        ];
        assert_eq!(back, expected);
    }
}
