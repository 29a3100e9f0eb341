//! One group over several SFUs (a *cluster* of them): a large room spread over media workers (threads), each with
//! its own `Sfu` holding some of the room's peers.
//!
//! The SFU where a track's publisher lives owns the track: it decrypts the publisher's
//! packets, forwards them to its own subscribers and outputs each one once as `Relay`; the
//! caller hands it to every other SFU of the group (`relay_in`), which forwards it to its
//! subscribers as if it had been published there (a *remote track*). Only what the forwarding
//! needs travels: the payload is shared (`Arc`), never copied. Back to the owner go keyframe
//! requests (`KeyframeWanted` → `relay_keyframe_request`) and the simulcast layers other SFUs
//! need (`LayersWanted` → `set_remote_layer_needs`), so the owner neither pauses a layer
//! someone elsewhere watches nor misses a subscriber's keyframe. Speaker levels travel in the
//! relayed audio, so every SFU of the group ranks speakers from the same packets.
//!
//! Nothing here knows about threads: the caller moves the outputs between SFUs.

use crate::types::{GroupId, PeerId, TrackKey};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::media::{Mid, Rid};

/// How long layers another SFU said it needs count: it repeats them every adaptation round,
/// so an SFU that stopped (its last subscriber left) stops holding layers open soon after.
const REMOTE_NEED_LIFETIME: Duration = Duration::from_secs(2);

/// What this SFU knows of the others holding parts of its groups.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    /// Who besides this SFU's subscribers gets the packets published here, by group: other
    /// SFUs (`Relay`, a spread group) and a recorder (`Record`). One lookup per packet.
    taps: FxHashMap<GroupId, Taps>,
    /// Publishers on other SFUs whose tracks are relayed here.
    remote_peers: FxHashMap<PeerId, RemotePeer>,
    /// Layers other SFUs need of tracks published here, by SFU (`set_remote_layer_needs`).
    needs: HashMap<TrackKey, Vec<RemoteNeed>>,
}

/// Where a group's packets published here go besides this SFU's own subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taps {
    /// To the other SFUs holding part of the group (`ClusterMessage::Relay`).
    pub relay: bool,
    /// To the group's recorder (`ClusterMessage::Record`).
    pub record: bool,
}

/// A publisher on another SFU.
#[derive(Debug)]
struct RemotePeer {
    group: GroupId,
    mids: Vec<Mid>,
}

/// Layers one other SFU needs of a track published here.
#[derive(Debug)]
struct RemoteNeed {
    from: u64,
    rids: Vec<Rid>,
    at: Instant,
}

impl Cluster {
    pub fn set_spread(&mut self, group: GroupId, spread: bool) {
        self.set_tap(group, |taps| taps.relay = spread);
    }

    pub fn set_recorded(&mut self, group: GroupId, recorded: bool) {
        self.set_tap(group, |taps| taps.record = recorded);
    }

    fn set_tap(&mut self, group: GroupId, change: impl FnOnce(&mut Taps)) {
        let taps = self.taps.entry(group).or_default();
        change(taps);
        if *taps == Taps::default() {
            self.taps.remove(&group);
        }
    }

    /// Where packets published here in `group` go besides this SFU's subscribers.
    #[inline]
    pub fn taps(&self, group: GroupId) -> Taps {
        self.taps.get(&group).copied().unwrap_or_default()
    }

    /// Whether `group` is being recorded.
    pub fn is_recorded(&self, group: GroupId) -> bool {
        self.taps(group).record
    }

    /// Records a track published on another SFU.
    pub fn add_remote_track(&mut self, group: GroupId, track: TrackKey) {
        self.remote_peers
            .entry(track.peer)
            .or_insert_with(|| RemotePeer {
                group,
                mids: Vec::new(),
            })
            .mids
            .push(track.mid);
    }

    /// Forgets a publisher on another SFU; returns its group and tracks.
    pub fn remove_remote_peer(&mut self, peer: PeerId) -> Option<(GroupId, Vec<Mid>)> {
        self.remote_peers.remove(&peer).map(|r| (r.group, r.mids))
    }

    /// Every remote publisher, of any group.
    #[cfg(test)]
    pub fn remote_members_all(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.remote_peers.keys().copied()
    }

    /// Remote publishers of `group`.
    pub fn remote_members(&self, group: GroupId) -> impl Iterator<Item = PeerId> + '_ {
        self.remote_peers
            .iter()
            .filter(move |(_, r)| r.group == group)
            .map(|(p, _)| *p)
    }

    /// Tracks of `group` published on other SFUs, by publisher.
    pub fn remote_tracks(&self, group: GroupId) -> Vec<TrackKey> {
        let mut remote: Vec<(PeerId, &RemotePeer)> = self
            .remote_peers
            .iter()
            .filter(|(_, r)| r.group == group)
            .map(|(p, r)| (*p, r))
            .collect();
        remote.sort_by_key(|(p, _)| *p);
        remote
            .into_iter()
            .flat_map(|(p, r)| {
                r.mids
                    .iter()
                    .map(move |mid| TrackKey { peer: p, mid: *mid })
            })
            .collect()
    }

    /// The tracks a remote publisher sends (empty for anyone else).
    pub fn remote_mids(&self, peer: PeerId) -> Vec<Mid> {
        self.remote_peers
            .get(&peer)
            .map(|r| r.mids.clone())
            .unwrap_or_default()
    }

    /// What SFU `from` said it needs of `track` (published here), replacing what it said.
    pub fn set_needs(&mut self, now: Instant, from: u64, track: TrackKey, rids: Vec<Rid>) {
        let entries = self.needs.entry(track).or_default();
        entries.retain(|n| n.from != from);
        entries.push(RemoteNeed {
            from,
            rids,
            at: now,
        });
    }

    /// Layers of `track` (published here) that other SFUs needed recently.
    pub fn layers_needed(&mut self, now: Instant, track: TrackKey) -> Vec<Rid> {
        let Some(entries) = self.needs.get_mut(&track) else {
            return Vec::new();
        };
        entries.retain(|n| now.saturating_duration_since(n.at) < REMOTE_NEED_LIFETIME);
        let rids = entries
            .iter()
            .flat_map(|n| n.rids.iter().copied())
            .collect();
        if entries.is_empty() {
            self.needs.remove(&track);
        }
        rids
    }

    /// A track published here ended: nobody needs its layers any more.
    pub fn track_ended(&mut self, track: TrackKey) {
        self.needs.remove(&track);
    }
}
