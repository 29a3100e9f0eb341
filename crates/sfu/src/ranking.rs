//! Speaker ranking: who is speaking in each group, who was the dominant speaker recently,
//! and so each publisher's rank, which decides whose camera a subscriber with
//! `ReceiveVideo::TopSpeakers` receives and, in a large group, whose audio is forwarded at
//! all (`SfuConfig::selective_audio_after`).
//!
//! Per packet only `on_level` runs (one detector update); ranks change on speaker and
//! membership changes, never per packet.

use crate::outbox::Signal;
use crate::speaker::{SpeakerDetector, EVALUATE_EVERY};
use crate::{GroupId, MediaKind, PeerId, Sfu, Source, TrackKey};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, Mid};

#[derive(Debug, Default)]
pub(crate) struct Ranking {
    /// Each group's dominant-speaker detector.
    speakers: HashMap<GroupId, SpeakerDetector>,
    /// When the detectors next decide (None while nobody has sent a level).
    next_evaluation: Option<Instant>,
    /// Each publisher's place in its group's order (0: the dominant speaker), local or on
    /// another SFU. Looked up per forwarded packet.
    ranks: FxHashMap<PeerId, usize>,
    /// Groups large enough to forward only who speaks (`SfuConfig::selective_audio_after`).
    selective: FxHashSet<GroupId>,
}

impl Ranking {
    /// One audio level of `peer`'s microphone in `group`; returns whether this packet is
    /// forwarded (always, unless the group forwards only who speaks and `peer` is not heard).
    #[inline]
    pub fn on_level(&mut self, now: Instant, group: GroupId, peer: PeerId, level: i8) -> bool {
        let detector = self.speakers.entry(group).or_default();
        detector.on_level(now, peer, level);
        self.next_evaluation.get_or_insert(now + EVALUATE_EVERY);
        !self.selective.contains(&group) || detector.heard(now, peer)
    }

    /// When `evaluate` is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_evaluation
    }

    /// Lets every group's detector decide; returns the groups whose dominant speaker changed.
    pub fn evaluate(&mut self, now: Instant) -> Vec<(GroupId, PeerId)> {
        self.next_evaluation = (!self.speakers.is_empty()).then(|| now + EVALUATE_EVERY);
        self.speakers
            .iter_mut()
            .filter_map(|(group, det)| det.evaluate(now).map(|p| (*group, p)))
            .collect()
    }

    /// `peer`'s place in its group's order (`usize::MAX`: not ranked yet).
    #[inline]
    pub fn rank_of(&self, peer: PeerId) -> usize {
        self.ranks.get(&peer).copied().unwrap_or(usize::MAX)
    }

    /// Whether `group` forwards only who speaks.
    #[inline]
    pub fn is_selective(&self, group: GroupId) -> bool {
        self.selective.contains(&group)
    }

    /// Orders `members` (every peer of `group`, here and elsewhere, by peer number, which is
    /// join order) for `ReceiveVideo::TopSpeakers`: recent dominant speakers first, then the
    /// rest. Past `selective_after` members (0: never) the group forwards only who speaks.
    /// Returns the peers that moved up.
    pub fn rerank(
        &mut self,
        group: GroupId,
        members: &[PeerId],
        selective_after: usize,
    ) -> Vec<PeerId> {
        if selective_after > 0 && members.len() > selective_after {
            self.selective.insert(group);
        } else {
            self.selective.remove(&group);
        }
        let recent = self
            .speakers
            .get(&group)
            .map(|d| d.recent().to_vec())
            .unwrap_or_default();
        let order = recent
            .iter()
            .copied()
            .filter(|p| members.contains(p))
            .chain(members.iter().copied().filter(|p| !recent.contains(p)));
        let mut promoted = Vec::new();
        for (rank, id) in order.enumerate() {
            let old = self.ranks.insert(id, rank).unwrap_or(usize::MAX);
            if rank < old {
                promoted.push(id);
            }
        }
        promoted
    }

    /// A publisher of `group` left.
    pub fn remove_peer(&mut self, group: GroupId, peer: PeerId) {
        self.ranks.remove(&peer);
        if let Some(detector) = self.speakers.get_mut(&group) {
            detector.remove(peer);
        }
    }

    /// `group` has nobody left here.
    pub fn forget_group(&mut self, group: GroupId) {
        self.speakers.remove(&group);
        self.selective.remove(&group);
    }

    /// The current dominant speaker of `group`.
    pub fn dominant_speaker(&self, group: GroupId) -> Option<PeerId> {
        self.speakers.get(&group).and_then(SpeakerDetector::current)
    }
}

impl Sfu {
    pub(crate) fn evaluate_speakers(&mut self, now: Instant) {
        for (group, peer) in self.ranking.evaluate(now) {
            self.outbox.signal(Signal::DominantSpeaker { group, peer });
            self.rerank(now, group);
        }
    }

    /// Re-orders a group's peers (`Ranking::rerank`) after a speaker or membership change;
    /// a camera that becomes visible to someone gets a keyframe request.
    pub(crate) fn rerank(&mut self, now: Instant, group: GroupId) {
        let Some(local) = self.groups.get(&group) else {
            self.ranking.forget_group(group);
            return;
        };
        // Local and remote members in one order: by peer number, which is join order, so
        // every SFU of the group ranks alike.
        let mut members: Vec<PeerId> = local
            .iter()
            .copied()
            .chain(self.cluster.remote_members(group))
            .collect();
        members.sort_unstable();
        let limit = self.config.selective_audio_after;
        for id in self.ranking.rerank(group, &members, limit) {
            for mid in self.published_by(id) {
                self.request_keyframe(now, TrackKey { peer: id, mid }, KeyframeRequestKind::Pli);
            }
        }
        self.sync_slots(group);
    }

    /// What the publisher's announced `mid` carries: as declared in its offer, else by
    /// m-line order among the announced mids of its kind (first: camera or microphone; second:
    /// screen or its sound), whichever of them sends first.
    pub(crate) fn source_of(&self, id: PeerId, mid: Mid) -> Option<Source> {
        let peer = self.peers.get(&id)?;
        if let Some(source) = peer.declared_sources.get(&mid.to_string()) {
            return Some(*source);
        }
        let kind = peer.announced.iter().find(|a| a.mid == mid)?.kind;
        let earlier = peer
            .announced
            .iter()
            .take_while(|a| a.mid != mid)
            .filter(|a| a.kind == kind)
            .count();
        match (kind, earlier) {
            (MediaKind::Audio, 0) => Some(Source::Microphone),
            (MediaKind::Audio, 1) => Some(Source::ScreenAudio),
            (MediaKind::Video, 0) => Some(Source::Camera),
            (MediaKind::Video, 1) => Some(Source::Screen),
            _ => None,
        }
    }
}
