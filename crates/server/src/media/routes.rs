//! Which media worker owns a peer, and which peer a datagram belongs to, shared by all
//! workers.
//!
//! Every worker reads the one media port through its own `SO_REUSEPORT` socket, so the kernel
//! hands a datagram to whichever worker its 4-tuple hashes to, not to the one owning its peer.
//! The receiving worker looks the datagram up here and passes it on when another worker owns
//! it. A room (SFU group) starts on one worker, chosen when its first peer arrives: the
//! worker with the fewest peers. Past `spread_after` peers, once its worker is busy (at least
//! `spread_busy` of a core, as the workers report with `set_busy`), it spreads: each newcomer
//! goes to the least loaded worker, and the table remembers which workers hold part of the
//! room and what is published in it, so the workers can relay the room's media to each other
//! (`moot_sfu::cluster`).
//!
//! Which peer a packet belongs to is the SFU's routing table (`moot_sfu::Demux`, one for all
//! workers, here): a STUN message names its peer by the full server-side ufrag (and binds its
//! source, over UDP or an ICE-TCP connection, to that peer); anything else goes by source.
//! Each packet is looked up once, here, and handed to its worker's SFU with the peer it
//! belongs to. The owning SFU's str0m still authenticates everything.

use moot_sfu::{Demux, GroupId, MediaKind, PeerId, Protocol, Route, Source, TrackKey};
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Debug, Default)]
pub struct Routes {
    /// Peer → (worker, group).
    peers: HashMap<PeerId, (usize, GroupId)>,
    groups: HashMap<GroupId, GroupPlace>,
    /// Which peer a packet belongs to.
    demux: Demux,
    /// Peers per worker, for placing new groups and for metrics.
    load: Vec<usize>,
    /// Groups with more peers than this spread over the workers (0: never)…
    spread_after: usize,
    /// …once their home worker is at least this busy, in permille of one core (0: at once).
    /// Relaying costs: below that, one worker forwards the group more cheaply than two.
    spread_busy: u32,
    /// How busy each worker was over its last report, in permille of one core.
    busy: Vec<u32>,
}

/// Where one group lives.
#[derive(Debug, Default)]
struct GroupPlace {
    /// Workers holding peers of the group and how many each, the first (home) one first.
    workers: Vec<(usize, usize)>,
    /// Everything published in the group, for a worker that joins it later.
    tracks: Vec<PublishedTrack>,
}

/// A track published in a group (`SfuOutput::Published`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedTrack {
    pub track: TrackKey,
    pub kind: MediaKind,
    pub source: Source,
}

/// Where `add_peer` put a peer.
#[derive(Debug, PartialEq, Eq)]
pub struct Placement {
    pub worker: usize,
    /// Set when the peer's worker just started holding part of a group that is now on
    /// several: every worker listed must relay the group, and the new one needs the tracks
    /// published so far on the others.
    pub joined_spread: Option<(Vec<usize>, Vec<PublishedTrack>)>,
}

/// What removing a peer changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Removal {
    pub worker: usize,
    pub group: GroupId,
    /// The other workers still holding part of the group: the peer's tracks stop there.
    pub others: Vec<usize>,
    /// The peer's worker holds none of the group any more.
    pub worker_left: bool,
}

impl Routes {
    pub fn new(workers: usize, spread_after: usize, spread_busy: u32) -> Self {
        Self {
            load: vec![0; workers.max(1)],
            spread_after,
            spread_busy,
            busy: vec![0; workers.max(1)],
            ..Self::default()
        }
    }

    /// Records how busy `worker` was (permille of one core) over its last reporting period.
    pub fn set_busy(&mut self, worker: usize, permille: u32) {
        if let Some(busy) = self.busy.get_mut(worker) {
            *busy = permille;
        }
    }

    /// Places a peer: on its group's worker while the group is small or that worker not
    /// busy, otherwise (and for a new group) on the least loaded worker. A group spread once
    /// keeps spreading. A peer placed already keeps its place.
    pub fn add_peer(&mut self, peer: PeerId, group: GroupId) -> Placement {
        if let Some(&(worker, _)) = self.peers.get(&peer) {
            return Placement {
                worker,
                joined_spread: None,
            };
        }
        let place = self.groups.entry(group).or_default();
        let size: usize = place.workers.iter().map(|(_, n)| n).sum();
        let home_busy = place.workers.first().is_some_and(|&(home, _)| {
            self.busy.get(home).copied().unwrap_or(0) >= self.spread_busy
        });
        let spreads = self.spread_after > 0
            && size >= self.spread_after
            && (place.workers.len() > 1 || home_busy);
        let worker = match place.workers.first() {
            Some(&(home, _)) if !spreads => home,
            // The least loaded worker; among equals one already holding part of the group.
            _ => self
                .load
                .iter()
                .enumerate()
                .min_by_key(|(w, load)| (**load, !place.workers.iter().any(|(h, _)| h == w)))
                .map_or(0, |(worker, _)| worker),
        };
        let mut joined_spread = None;
        match place.workers.iter_mut().find(|(w, _)| *w == worker) {
            Some((_, n)) => *n += 1,
            None => {
                place.workers.push((worker, 1));
                if place.workers.len() > 1 {
                    let workers = place.workers.iter().map(|(w, _)| *w).collect();
                    joined_spread = Some((workers, place.tracks.clone()));
                }
            }
        }
        self.load[worker] += 1;
        self.peers.insert(peer, (worker, group));
        Placement {
            worker,
            joined_spread,
        }
    }

    /// Forgets a peer, its tracks, and its group when it was the last one.
    pub fn remove_peer(&mut self, peer: PeerId) -> Option<Removal> {
        let (worker, group) = self.peers.remove(&peer)?;
        self.load[worker] -= 1;
        let mut worker_left = false;
        let mut others = Vec::new();
        if let Some(place) = self.groups.get_mut(&group) {
            if let Some(at) = place.workers.iter().position(|(w, _)| *w == worker) {
                place.workers[at].1 -= 1;
                if place.workers[at].1 == 0 {
                    place.workers.remove(at);
                    worker_left = true;
                }
            }
            place.tracks.retain(|t| t.track.peer != peer);
            others = place
                .workers
                .iter()
                .map(|(w, _)| *w)
                .filter(|w| *w != worker)
                .collect();
            if place.workers.is_empty() {
                self.groups.remove(&group);
            }
        }
        self.demux.remove_peer(peer);
        Some(Removal {
            worker,
            group,
            others,
            worker_left,
        })
    }

    /// Records a track published in `group` on `worker`; returns the group's other workers,
    /// which relay it from now on.
    pub fn published(
        &mut self,
        worker: usize,
        group: GroupId,
        track: PublishedTrack,
    ) -> Vec<usize> {
        // A publisher that left meanwhile (its removal overtook this): nothing to relay.
        if self.peers.get(&track.track.peer) != Some(&(worker, group)) {
            return Vec::new();
        }
        let Some(place) = self.groups.get_mut(&group) else {
            return Vec::new();
        };
        if !place.tracks.contains(&track) {
            place.tracks.push(track);
        }
        place
            .workers
            .iter()
            .map(|(w, _)| *w)
            .filter(|w| *w != worker)
            .collect()
    }

    /// The workers holding part of `group` other than `worker`.
    pub fn other_workers(&self, group: GroupId, worker: usize) -> impl Iterator<Item = usize> + '_ {
        self.groups
            .get(&group)
            .into_iter()
            .flat_map(|place| place.workers.iter().map(|(w, _)| *w))
            .filter(move |w| *w != worker)
    }

    /// Whether `worker` speaks for `group` where the workers would repeat each other (the
    /// dominant speaker): its home worker, the first to hold it of those still holding it.
    pub fn is_home(&self, group: GroupId, worker: usize) -> bool {
        self.groups
            .get(&group)
            .and_then(|place| place.workers.first())
            .is_none_or(|(home, _)| *home == worker)
    }

    pub fn worker_of(&self, peer: PeerId) -> Option<usize> {
        self.peers.get(&peer).map(|(worker, _)| *worker)
    }

    /// Peer `peer`'s media session answers to `ufrag` (what its SFU's `add_peer` returned).
    /// Ignored for a peer no longer placed (it left before its worker added it).
    pub fn set_ufrag(&mut self, peer: PeerId, ufrag: String) {
        if self.peers.contains_key(&peer) {
            self.demux.insert_peer(peer, ufrag);
        }
    }

    /// The peer a packet from `source` over `proto` belongs to, and its worker. Only STUN
    /// messages change the table (a handful per peer and second), so a read lock serves
    /// everything else.
    pub fn lookup(&self, proto: Protocol, source: SocketAddr, packet: &[u8]) -> Lookup {
        match self.demux.lookup(proto, source, packet) {
            Route::Peer(peer) => match self.worker_of(peer) {
                Some(worker) => Lookup::Worker(worker, peer),
                None => Lookup::Unknown,
            },
            Route::Bind(peer) => Lookup::Bind(peer),
            Route::Unknown => Lookup::Unknown,
        }
    }

    /// Routes `source` over `proto` to `peer` from now on (after a STUN message named it);
    /// returns the peer's worker.
    pub fn bind(&mut self, proto: Protocol, source: SocketAddr, peer: PeerId) -> Option<usize> {
        let worker = self.worker_of(peer)?;
        self.demux.bind(proto, source, peer);
        Some(worker)
    }

    /// Peers on each worker.
    pub fn load(&self) -> Vec<usize> {
        self.load.clone()
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// To this worker, for this peer.
    Worker(usize, PeerId),
    /// A STUN message for this peer from an address not bound to it yet: `bind`, then route.
    Bind(PeerId),
    /// Nobody's: drop it.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_for(ufrag: &str) -> Vec<u8> {
        let username = format!("{ufrag}:client");
        let mut msg = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42];
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&0x0006u16.to_be_bytes());
        msg.extend_from_slice(&(username.len() as u16).to_be_bytes());
        msg.extend_from_slice(username.as_bytes());
        while msg.len() % 4 != 0 {
            msg.push(0);
        }
        let len = (msg.len() - 20) as u16;
        msg[2..4].copy_from_slice(&len.to_be_bytes());
        msg
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn groups_stay_together_and_new_groups_go_to_the_least_loaded_worker() {
        let mut routes = Routes::new(2, 0, 0);
        let mut add = |peer, group| routes.add_peer(PeerId(peer), GroupId(group)).worker;
        assert_eq!(add(1, 1), 0);
        assert_eq!(add(2, 1), 0);
        assert_eq!(add(3, 2), 1);
        assert_eq!(add(4, 3), 1);
        assert_eq!(add(5, 2), 1);
        assert_eq!(add(5, 2), 1, "placed once");
        assert_eq!(routes.load(), vec![2, 3]);
        assert_eq!(routes.remove_peer(PeerId(1)).map(|r| r.worker), Some(0));
        assert_eq!(routes.remove_peer(PeerId(2)).map(|r| r.worker), Some(0));
        assert_eq!(routes.remove_peer(PeerId(2)), None);
        assert_eq!(routes.load(), vec![0, 3]);
        // Group 1 is gone; it starts again on the emptiest worker.
        assert_eq!(routes.add_peer(PeerId(6), GroupId(1)).worker, 0);
    }

    fn track(peer: u64) -> PublishedTrack {
        PublishedTrack {
            track: TrackKey {
                peer: PeerId(peer),
                mid: "0".into(),
            },
            kind: MediaKind::Audio,
            source: Source::Microphone,
        }
    }

    #[test]
    fn a_large_group_spreads_and_a_joining_worker_learns_what_is_published() {
        let mut routes = Routes::new(2, 2, 0);
        assert_eq!(routes.add_peer(PeerId(1), GroupId(1)).worker, 0);
        assert_eq!(
            routes.published(0, GroupId(1), track(1)),
            Vec::<usize>::new()
        );
        assert_eq!(
            routes.add_peer(PeerId(2), GroupId(1)).worker,
            0,
            "small: together"
        );
        // The third spreads to the emptier worker, which learns the group's tracks.
        let third = routes.add_peer(PeerId(3), GroupId(1));
        assert_eq!(third.worker, 1);
        assert_eq!(third.joined_spread, Some((vec![0, 1], vec![track(1)])));
        assert_eq!(routes.published(1, GroupId(1), track(3)), vec![0]);
        assert_eq!(
            routes.other_workers(GroupId(1), 0).collect::<Vec<_>>(),
            vec![1]
        );
        let fourth = routes.add_peer(PeerId(4), GroupId(1));
        assert_eq!(
            (fourth.worker, fourth.joined_spread),
            (1, None),
            "balanced 2/2"
        );
        assert!(routes.is_home(GroupId(1), 0) && !routes.is_home(GroupId(1), 1));
        // Leaving: worker 0 keeps one peer, then none; worker 1 becomes home.
        let removal = routes.remove_peer(PeerId(1)).expect("placed");
        assert_eq!((removal.others, removal.worker_left), (vec![1], false));
        let removal = routes.remove_peer(PeerId(2)).expect("placed");
        assert_eq!((removal.others, removal.worker_left), (vec![1], true));
        assert!(routes.is_home(GroupId(1), 1));
        assert_eq!(
            routes.groups[&GroupId(1)].tracks,
            vec![track(3)],
            "1's track gone"
        );
    }

    #[test]
    fn a_large_group_spreads_only_once_its_worker_is_busy_and_then_keeps_spreading() {
        let mut routes = Routes::new(2, 2, 600);
        let add = |routes: &mut Routes, peer| routes.add_peer(PeerId(peer), GroupId(1));
        for peer in 1..=4 {
            let placed = add(&mut routes, peer);
            assert_eq!(
                (placed.worker, placed.joined_spread),
                (0, None),
                "peer {peer}"
            );
        }
        routes.set_busy(0, 599);
        routes.set_busy(1, 0);
        assert_eq!(
            add(&mut routes, 5).worker,
            0,
            "large but its worker not busy: together"
        );
        routes.set_busy(0, 600);
        let sixth = add(&mut routes, 6);
        assert_eq!(
            sixth.worker, 1,
            "busy: the newcomer goes to the idle worker"
        );
        assert_eq!(sixth.joined_spread.map(|(w, _)| w), Some(vec![0, 1]));
        // Spread once, the group keeps balancing even when its home is idle again.
        routes.set_busy(0, 0);
        assert_eq!(add(&mut routes, 7).worker, 1);
        // A new group goes where the fewest peers are, and stays together while small,
        // however busy its worker.
        routes.set_busy(1, 900);
        assert_eq!(
            routes.add_peer(PeerId(8), GroupId(2)).worker,
            1,
            "fewest peers"
        );
        assert_eq!(
            routes.add_peer(PeerId(9), GroupId(2)).worker,
            1,
            "small: together"
        );
    }

    const UDP: Protocol = Protocol::Udp;

    #[test]
    fn stun_names_the_peer_and_binds_its_address_then_media_follows_the_address() {
        let mut routes = Routes::new(2, 0, 0);
        routes.add_peer(PeerId(7), GroupId(1));
        routes.add_peer(PeerId(8), GroupId(2));
        routes.set_ufrag(PeerId(7), "m7xqwerty".into());
        routes.set_ufrag(PeerId(8), "m8xabcdef".into());
        let rtp = [0x80u8, 96, 0, 1];
        assert_eq!(routes.lookup(UDP, addr(5000), &rtp), Lookup::Unknown);
        let stun = stun_for("m8xabcdef");
        let eight = PeerId(8);
        assert_eq!(routes.lookup(UDP, addr(5000), &stun), Lookup::Bind(eight));
        assert_eq!(routes.bind(UDP, addr(5000), eight), Some(1));
        assert_eq!(
            routes.lookup(UDP, addr(5000), &stun),
            Lookup::Worker(1, eight)
        );
        assert_eq!(
            routes.lookup(UDP, addr(5000), &rtp),
            Lookup::Worker(1, eight)
        );
        // The same address over an ICE-TCP connection is a route of its own.
        assert_eq!(
            routes.lookup(Protocol::Tcp, addr(5000), &rtp),
            Lookup::Unknown
        );
        // The port is reused by another peer that proves its ufrag: it moves.
        let stun7 = stun_for("m7xqwerty");
        assert_eq!(
            routes.lookup(UDP, addr(5000), &stun7),
            Lookup::Bind(PeerId(7))
        );
        assert_eq!(routes.bind(UDP, addr(5000), PeerId(7)), Some(0));
        assert_eq!(
            routes.lookup(UDP, addr(5000), &rtp),
            Lookup::Worker(0, PeerId(7))
        );
        // Removing a peer forgets its addresses and its ufrag.
        routes.remove_peer(PeerId(7));
        assert_eq!(routes.lookup(UDP, addr(5000), &rtp), Lookup::Unknown);
        assert_eq!(routes.lookup(UDP, addr(5000), &stun7), Lookup::Unknown);
        // A ufrag reported for a peer that already left is not taken.
        routes.set_ufrag(PeerId(7), "m7xlate00".into());
        assert_eq!(
            routes.lookup(UDP, addr(1), &stun_for("m7xlate00")),
            Lookup::Unknown
        );
    }

    #[test]
    fn unknown_or_forged_ufrags_route_nowhere() {
        let mut routes = Routes::new(1, 0, 0);
        routes.add_peer(PeerId(1), GroupId(1));
        routes.set_ufrag(PeerId(1), "m1xabcdef".into());
        // The right peer number with the wrong random part is someone guessing: nobody's.
        for ufrag in [
            "m2xabcdef",
            "m1xabcdeg",
            "mxabcdef",
            "m1xab",
            "q1xabcdef",
            "m1",
        ] {
            assert_eq!(
                routes.lookup(UDP, addr(1), &stun_for(ufrag)),
                Lookup::Unknown,
                "{ufrag}"
            );
        }
    }
}
