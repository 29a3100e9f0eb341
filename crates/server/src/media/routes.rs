//! Which media worker owns a peer, and which peer a datagram belongs to, shared by all
//! workers.
//!
//! Every worker reads the one media port through its own `SO_REUSEPORT` socket, so the kernel
//! hands a datagram to whichever worker its 4-tuple hashes to, not to the one owning its peer.
//! The receiving worker looks the datagram up here and passes it on when another worker owns
//! it. A room (SFU group) lives on one worker, chosen when its first peer arrives: the worker
//! with the fewest peers.
//!
//! Routing mirrors the SFU's own demux: a STUN message names its peer in the ufrag (and binds
//! its source address to that peer); anything else goes by source address. The owning SFU
//! still authenticates everything; a forged ufrag only moves a datagram to a worker that
//! drops it.

use moot_sfu::{peer_of_ufrag, stun_local_ufrag, GroupId, PeerId};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Source addresses remembered per peer (a client changing networks, or trying several
/// candidates, has a few); the oldest is forgotten beyond this, so a flood of STUN messages
/// naming one peer cannot grow the table.
const ADDRESSES_PER_PEER: usize = 8;

#[derive(Debug, Default)]
pub struct Routes {
    /// Peer → (worker, group).
    peers: HashMap<PeerId, (usize, GroupId)>,
    /// Group → (worker, peers in it).
    groups: HashMap<GroupId, (usize, usize)>,
    by_addr: HashMap<SocketAddr, PeerId>,
    addrs_of: HashMap<PeerId, Vec<SocketAddr>>,
    /// Peers per worker, for placing new groups and for metrics.
    load: Vec<usize>,
}

impl Routes {
    pub fn new(workers: usize) -> Self {
        Self {
            load: vec![0; workers.max(1)],
            ..Self::default()
        }
    }

    /// Places a peer: on its group's worker, or for a new group on the least loaded worker.
    /// A peer placed already keeps its place.
    pub fn add_peer(&mut self, peer: PeerId, group: GroupId) -> usize {
        if let Some(&(worker, _)) = self.peers.get(&peer) {
            return worker;
        }
        let least_loaded = self
            .load
            .iter()
            .enumerate()
            .min_by_key(|(_, load)| **load)
            .map_or(0, |(worker, _)| worker);
        let entry = self.groups.entry(group).or_insert((least_loaded, 0));
        entry.1 += 1;
        let worker = entry.0;
        self.load[worker] += 1;
        self.peers.insert(peer, (worker, group));
        worker
    }

    /// Forgets a peer (and its group when it was the last one); returns the worker it was on.
    pub fn remove_peer(&mut self, peer: PeerId) -> Option<usize> {
        let (worker, group) = self.peers.remove(&peer)?;
        self.load[worker] -= 1;
        if let Some(entry) = self.groups.get_mut(&group) {
            entry.1 -= 1;
            if entry.1 == 0 {
                self.groups.remove(&group);
            }
        }
        for addr in self.addrs_of.remove(&peer).unwrap_or_default() {
            if self.by_addr.get(&addr) == Some(&peer) {
                self.by_addr.remove(&addr);
            }
        }
        Some(worker)
    }

    pub fn worker_of(&self, peer: PeerId) -> Option<usize> {
        self.peers.get(&peer).map(|(worker, _)| *worker)
    }

    /// The worker owning the peer a datagram from `source` belongs to. Only STUN messages
    /// change the table (a handful per peer and second), so a read lock serves everything else.
    pub fn lookup(&self, source: SocketAddr, datagram: &[u8]) -> Lookup {
        if let Some(ufrag) = stun_local_ufrag(datagram) {
            return match peer_of_ufrag(ufrag).filter(|p| self.peers.contains_key(p)) {
                Some(peer) if self.by_addr.get(&source) == Some(&peer) => {
                    Lookup::Worker(self.peers[&peer].0)
                }
                Some(peer) => Lookup::Bind(peer),
                None => Lookup::Unknown,
            };
        }
        match self.by_addr.get(&source).and_then(|p| self.peers.get(p)) {
            Some(&(worker, _)) => Lookup::Worker(worker),
            None => Lookup::Unknown,
        }
    }

    /// Routes `source` to `peer` from now on (after a STUN message named it); returns the
    /// peer's worker.
    pub fn bind(&mut self, source: SocketAddr, peer: PeerId) -> Option<usize> {
        let worker = self.worker_of(peer)?;
        if let Some(previous) = self.by_addr.insert(source, peer) {
            if previous == peer {
                return Some(worker);
            }
            if let Some(list) = self.addrs_of.get_mut(&previous) {
                list.retain(|a| *a != source);
            }
        }
        let list = self.addrs_of.entry(peer).or_default();
        list.push(source);
        if list.len() > ADDRESSES_PER_PEER {
            let oldest = list.remove(0);
            self.by_addr.remove(&oldest);
        }
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
    Worker(usize),
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
        let mut routes = Routes::new(2);
        assert_eq!(routes.add_peer(PeerId(1), GroupId(1)), 0);
        assert_eq!(routes.add_peer(PeerId(2), GroupId(1)), 0);
        assert_eq!(routes.add_peer(PeerId(3), GroupId(2)), 1);
        assert_eq!(routes.add_peer(PeerId(4), GroupId(3)), 1);
        assert_eq!(routes.add_peer(PeerId(5), GroupId(2)), 1);
        assert_eq!(routes.load(), vec![2, 3]);
        assert_eq!(routes.add_peer(PeerId(5), GroupId(2)), 1, "placed once");
        assert_eq!(routes.remove_peer(PeerId(1)), Some(0));
        assert_eq!(routes.remove_peer(PeerId(2)), Some(0));
        assert_eq!(routes.remove_peer(PeerId(2)), None);
        assert_eq!(routes.load(), vec![0, 3]);
        // Group 1 is gone; it starts again on the emptiest worker.
        assert_eq!(routes.add_peer(PeerId(6), GroupId(1)), 0);
    }

    #[test]
    fn stun_names_the_peer_and_binds_its_address_then_media_follows_the_address() {
        let mut routes = Routes::new(2);
        routes.add_peer(PeerId(7), GroupId(1));
        routes.add_peer(PeerId(8), GroupId(2));
        let rtp = [0x80u8, 96, 0, 1];
        assert_eq!(routes.lookup(addr(5000), &rtp), Lookup::Unknown);
        let stun = stun_for("m8xabcdef");
        assert_eq!(routes.lookup(addr(5000), &stun), Lookup::Bind(PeerId(8)));
        assert_eq!(routes.bind(addr(5000), PeerId(8)), Some(1));
        assert_eq!(routes.lookup(addr(5000), &stun), Lookup::Worker(1));
        assert_eq!(routes.lookup(addr(5000), &rtp), Lookup::Worker(1));
        // The port is reused by another peer that proves its ufrag: it moves.
        let stun7 = stun_for("m7xqwerty");
        assert_eq!(routes.lookup(addr(5000), &stun7), Lookup::Bind(PeerId(7)));
        assert_eq!(routes.bind(addr(5000), PeerId(7)), Some(0));
        assert_eq!(routes.lookup(addr(5000), &rtp), Lookup::Worker(0));
        // Removing a peer forgets its addresses.
        routes.remove_peer(PeerId(7));
        assert_eq!(routes.lookup(addr(5000), &rtp), Lookup::Unknown);
    }

    #[test]
    fn unknown_or_malformed_ufrags_route_nowhere() {
        let mut routes = Routes::new(1);
        routes.add_peer(PeerId(1), GroupId(1));
        for ufrag in ["m2xabcdef", "mxabcdef", "m1xab", "q1xabcdef", "m1"] {
            assert_eq!(
                routes.lookup(addr(1), &stun_for(ufrag)),
                Lookup::Unknown,
                "{ufrag}"
            );
        }
    }

    #[test]
    fn a_flood_of_addresses_for_one_peer_is_bounded() {
        let mut routes = Routes::new(1);
        routes.add_peer(PeerId(1), GroupId(1));
        for port in 0..1000 {
            routes.bind(addr(port), PeerId(1));
        }
        assert_eq!(routes.by_addr.len(), ADDRESSES_PER_PEER);
        assert_eq!(routes.addrs_of[&PeerId(1)].len(), ADDRESSES_PER_PEER);
        let rtp = [0x80u8, 96, 0, 1];
        assert_eq!(routes.lookup(addr(999), &rtp), Lookup::Worker(0));
        assert_eq!(routes.lookup(addr(0), &rtp), Lookup::Unknown);
    }
}
