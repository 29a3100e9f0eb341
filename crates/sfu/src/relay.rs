//! One group over several SFUs: a large room spread over media workers (threads), each with
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

use crate::simulcast::Layers;
use crate::{GroupId, MediaKind, PeerId, Sfu, Source, Track, TrackKey};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, Mid, Rid};
use str0m::rtp::{SeqNo, VideoOrientation};

/// How long layers another SFU said it needs count: it repeats them every adaptation round,
/// so an SFU that stopped (its last subscriber left) stops holding layers open soon after.
const REMOTE_NEED_LIFETIME: Duration = Duration::from_secs(2);

/// One RTP packet of a track, as forwarded: what every subscriber's copy is made from.
#[derive(Debug, Clone)]
pub struct RelayedPacket {
    pub track: TrackKey,
    /// The simulcast layer it belongs to.
    pub rid: Option<Rid>,
    /// The publisher's codec for its payload type.
    pub params: PayloadParams,
    pub(crate) seq_no: SeqNo,
    pub(crate) rtp_time: u32,
    pub(crate) marker: bool,
    /// When the publisher's packet arrived.
    pub(crate) arrival: Instant,
    pub(crate) audio_level: Option<i8>,
    pub(crate) voice_activity: Option<bool>,
    pub(crate) video_orientation: Option<VideoOrientation>,
    pub(crate) payload: Arc<[u8]>,
}

/// A publisher on another SFU.
#[derive(Debug)]
pub(crate) struct RemotePeer {
    pub group: GroupId,
    pub mids: Vec<Mid>,
    /// Position in the group's speaker order, as for local peers.
    pub speaker_rank: usize,
}

/// Layers one other SFU needs of a track published here.
#[derive(Debug)]
pub(crate) struct RemoteNeed {
    from: u64,
    rids: Vec<Rid>,
    at: Instant,
}

impl Track {
    pub(crate) fn new(kind: MediaKind, source: Source, group: GroupId, remote: bool) -> Self {
        Self {
            kind,
            source,
            subscribers: Vec::new(),
            last_keyframe_request: None,
            layers: Layers::default(),
            group,
            remote,
            audio_held: false,
        }
    }
}

impl Sfu {
    /// Whether `group` also has peers on other SFUs: from now on every packet published here
    /// in it is also output as `Relay`.
    pub fn set_spread(&mut self, group: GroupId, spread: bool) {
        if spread {
            self.spread_groups.insert(group);
        } else {
            self.spread_groups.remove(&group);
        }
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
        let remote = self
            .remote_peers
            .entry(track.peer)
            .or_insert_with(|| RemotePeer {
                group,
                mids: Vec::new(),
                speaker_rank: usize::MAX,
            });
        remote.mids.push(track.mid);
        self.subscribe_group(group, track, kind, source);
        self.rerank(now, group);
        self.run(now);
    }

    /// A peer on another SFU left: its tracks stop here as they would for a local peer.
    pub fn remove_remote_peer(&mut self, now: Instant, peer: PeerId) {
        let Some(remote) = self.remote_peers.remove(&peer) else {
            return;
        };
        for mid in remote.mids {
            self.tracks.remove(&TrackKey { peer, mid });
        }
        if let Some(detector) = self.speakers.get_mut(&remote.group) {
            detector.remove(peer);
        }
        self.unsubscribe_group(remote.group, peer);
        self.rerank(now, remote.group);
        self.run(now);
    }

    /// This SFU holds none of `group` any more: forget what it relayed of it.
    pub fn forget_remote_group(&mut self, now: Instant, group: GroupId) {
        self.spread_groups.remove(&group);
        let gone: Vec<PeerId> = self.remote_members(group).collect();
        for peer in gone {
            self.remove_remote_peer(now, peer);
        }
    }

    /// Forwards packets relayed from the SFUs owning their tracks to the subscribers here.
    pub fn relay_in(&mut self, now: Instant, packets: impl IntoIterator<Item = RelayedPacket>) {
        for packet in packets {
            let Some(group) = self.tracks.get(&packet.track).map(|t| t.group) else {
                continue;
            };
            self.fan_out(now, group, &packet);
        }
        self.run(now);
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
            self.run(now);
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
            let entries = self.remote_needs.entry(track).or_default();
            entries.retain(|n| n.from != from);
            entries.push(RemoteNeed {
                from,
                rids,
                at: now,
            });
        }
    }

    /// Layers of `track` (published here) that other SFUs needed recently.
    pub(crate) fn remote_layers_needed(&mut self, now: Instant, track: TrackKey) -> Vec<Rid> {
        let Some(entries) = self.remote_needs.get_mut(&track) else {
            return Vec::new();
        };
        entries.retain(|n| now.saturating_duration_since(n.at) < REMOTE_NEED_LIFETIME);
        let rids = entries
            .iter()
            .flat_map(|n| n.rids.iter().copied())
            .collect();
        if entries.is_empty() {
            self.remote_needs.remove(&track);
        }
        rids
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
        let mut remote: Vec<(PeerId, &RemotePeer)> = self
            .remote_peers
            .iter()
            .filter(|(_, r)| r.group == group)
            .map(|(p, r)| (*p, r))
            .collect();
        remote.sort_by_key(|(p, _)| *p);
        let remote = remote.into_iter().flat_map(|(p, r)| {
            r.mids
                .iter()
                .map(move |mid| TrackKey { peer: p, mid: *mid })
        });
        local.chain(remote).collect()
    }

    /// A publisher's place in its group's speaker order, local or remote.
    pub(crate) fn rank_of(&self, peer: PeerId) -> usize {
        match self.peers.get(&peer) {
            Some(p) => p.speaker_rank,
            None => self
                .remote_peers
                .get(&peer)
                .map_or(usize::MAX, |r| r.speaker_rank),
        }
    }

    /// Sets a publisher's speaker rank; returns whether it moved up.
    pub(crate) fn set_rank(&mut self, peer: PeerId, rank: usize) -> bool {
        let slot = match self.peers.get_mut(&peer) {
            Some(p) => &mut p.speaker_rank,
            None => match self.remote_peers.get_mut(&peer) {
                Some(r) => &mut r.speaker_rank,
                None => return false,
            },
        };
        let promoted = rank < *slot;
        *slot = rank;
        promoted
    }

    /// The tracks `peer` publishes (local or remote).
    pub(crate) fn published_by(&self, peer: PeerId) -> Vec<Mid> {
        match self.peers.get(&peer) {
            Some(p) => p.published.clone(),
            None => self
                .remote_peers
                .get(&peer)
                .map(|r| r.mids.clone())
                .unwrap_or_default(),
        }
    }

    /// Remote publishers of `group`.
    pub(crate) fn remote_members(&self, group: GroupId) -> impl Iterator<Item = PeerId> + '_ {
        self.remote_peers
            .iter()
            .filter(move |(_, r)| r.group == group)
            .map(|(p, _)| *p)
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
                if sub.source.peer != publisher {
                    return true;
                }
                changed = true;
                sub.state.wind_down(&mut sub.source_gone)
            });
            if changed {
                self.mark_dirty(other);
            }
        }
    }
}
