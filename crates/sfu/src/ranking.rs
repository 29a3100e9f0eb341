//! Speaker ranking: who is speaking in each group, who was the dominant speaker recently,
//! and so each publisher's rank, which decides whose camera a subscriber with
//! `ReceiveVideo::TopSpeakers` receives and, in a large group, whose audio is forwarded at
//! all (`SfuConfig::selective_audio_after`).
//!
//! Per packet only `on_level` runs (one detector update); ranks change on speaker and
//! membership changes, never per packet.

use crate::speaker::{SpeakerDetector, EVALUATE_EVERY};
use crate::types::{GroupId, PeerId};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use std::time::Instant;

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
