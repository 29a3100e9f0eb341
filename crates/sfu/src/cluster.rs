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

use crate::forward::ForwardedPacket;
use crate::negotiation::Keep;
use crate::track::Track;
use crate::{GroupId, MediaKind, PeerId, Sfu, Source, TrackKey};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::media::{KeyframeRequestKind, Mid, Rid};

/// How long layers another SFU said it needs count: it repeats them every adaptation round,
/// so an SFU that stopped (its last subscriber left) stops holding layers open soon after.
const REMOTE_NEED_LIFETIME: Duration = Duration::from_secs(2);

/// What this SFU knows of the others holding parts of its groups.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    /// Groups with peers on other SFUs too: their packets are also output as `Relay`.
    spread: FxHashSet<GroupId>,
    /// Publishers on other SFUs whose tracks are relayed here.
    remote_peers: FxHashMap<PeerId, RemotePeer>,
    /// Layers other SFUs need of tracks published here, by SFU (`set_remote_layer_needs`).
    needs: HashMap<TrackKey, Vec<RemoteNeed>>,
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
        if spread {
            self.spread.insert(group);
        } else {
            self.spread.remove(&group);
        }
    }

    /// Whether packets published here in `group` are relayed to other SFUs too.
    #[inline]
    pub fn is_spread(&self, group: GroupId) -> bool {
        self.spread.contains(&group)
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

    #[cfg(test)]
    pub fn has_remote_peers(&self) -> bool {
        !self.remote_peers.is_empty()
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

impl Sfu {
    /// Whether `group` also has peers on other SFUs: from now on every packet published here
    /// in it is also output as `Relay`.
    pub fn set_spread(&mut self, group: GroupId, spread: bool) {
        self.cluster.set_spread(group, spread);
    }

    /// A peer of `group` on another SFU publishes `track` (its `Published` output there): this
    /// SFU's peers of the group subscribe, and its packets come in through `relay_in`.
    pub fn add_remote_track(
        &mut self,
        now: Instant,
        group: GroupId,
        track: TrackKey,
        kind: MediaKind,
        source: Source,
    ) {
        if self.tracks.contains_key(&track) || self.peers.contains_key(&track.peer) {
            return;
        }
        self.tracks
            .insert(track, Track::new(kind, source, group, true));
        self.cluster.add_remote_track(group, track);
        self.subscribe_group(group, track, kind, source);
        self.rerank(now, group);
        self.settle(now);
    }

    /// A peer on another SFU left: its tracks stop here as they would for a local peer.
    pub fn remove_remote_peer(&mut self, now: Instant, peer: PeerId) {
        let Some((group, mids)) = self.cluster.remove_remote_peer(peer) else {
            return;
        };
        for mid in mids {
            self.tracks.remove(&TrackKey { peer, mid });
        }
        self.ranking.remove_peer(group, peer);
        self.unsubscribe_group(group, peer);
        self.rerank(now, group);
        self.settle(now);
    }

    /// This SFU holds none of `group` any more: forget what it relayed of it.
    pub fn forget_remote_group(&mut self, now: Instant, group: GroupId) {
        self.cluster.set_spread(group, false);
        let gone: Vec<PeerId> = self.cluster.remote_members(group).collect();
        for peer in gone {
            self.remove_remote_peer(now, peer);
        }
    }

    /// Forwards packets relayed from the SFUs owning their tracks to the subscribers here.
    pub fn relay_in(&mut self, now: Instant, packets: impl IntoIterator<Item = ForwardedPacket>) {
        for packet in packets {
            let Some(group) = self.tracks.get(&packet.track).map(|t| t.group) else {
                continue;
            };
            self.fan_out(now, group, &packet);
        }
        self.settle(now);
    }

    /// Another SFU's subscriber needs a keyframe of `track`, published here.
    pub fn relay_keyframe_request(
        &mut self,
        now: Instant,
        track: TrackKey,
        kind: KeyframeRequestKind,
    ) {
        if self.tracks.get(&track).is_some_and(|t| !t.remote) {
            self.request_keyframe(now, track, kind);
            self.settle(now);
        }
    }

    /// The SFU `from` (any number the caller tells the SFUs apart by) needs these layers of
    /// tracks published here (its `LayersWanted` output). Replaces what it said before.
    pub fn set_remote_layer_needs(
        &mut self,
        now: Instant,
        from: u64,
        needs: impl IntoIterator<Item = (TrackKey, Vec<Rid>)>,
    ) {
        for (track, rids) in needs {
            if self.tracks.get(&track).is_none_or(|t| t.remote) {
                continue;
            }
            self.cluster.set_needs(now, from, track, rids);
        }
    }

    /// Every track of `group` not published by `except`: local members' first (in join
    /// order), then those relayed from other SFUs (by publisher).
    pub(crate) fn group_tracks(&self, group: GroupId, except: PeerId) -> Vec<TrackKey> {
        let local = self
            .groups
            .get(&group)
            .into_iter()
            .flatten()
            .filter(|p| **p != except)
            .flat_map(|p| {
                self.peers[p].published.iter().map(|mid| TrackKey {
                    peer: *p,
                    mid: *mid,
                })
            });
        local.chain(self.cluster.remote_tracks(group)).collect()
    }

    /// The tracks `peer` publishes (local or remote).
    pub(crate) fn published_by(&self, peer: PeerId) -> Vec<Mid> {
        match self.peers.get(&peer) {
            Some(p) => p.published.clone(),
            None => self.cluster.remote_mids(peer),
        }
    }

    /// The group's peers here stop receiving `publisher`'s tracks (it left): open ones are
    /// stopped in the next offer.
    pub(crate) fn unsubscribe_group(&mut self, group: GroupId, publisher: PeerId) {
        self.free_slots_of(group, publisher);
        let members: Vec<PeerId> = self.groups.get(&group).cloned().unwrap_or_default();
        for other in members {
            let Some(other_peer) = self.peers.get_mut(&other) else {
                continue;
            };
            let mut changed = false;
            other_peer.subscriptions.retain_mut(|sub| {
                if sub.track.peer != publisher {
                    return true;
                }
                changed = true;
                sub.line.wind_down() == Keep::Yes
            });
            if changed {
                self.outbox.mark_dirty(other, other_peer);
            }
        }
    }
}
