//! Who receives which video: speaker ranks, track sources. Split from lib.rs to keep files
//! small; these are methods of `Sfu` like the rest.

use crate::{GroupId, MediaKind, PeerId, Sfu, SfuOutput, Source, TrackKey, EVALUATE_EVERY};
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, Mid};

impl Sfu {
    pub(crate) fn evaluate_speakers(&mut self, now: Instant) {
        self.next_speaker_evaluation = (!self.speakers.is_empty()).then(|| now + EVALUATE_EVERY);
        let changed: Vec<(GroupId, PeerId)> = self
            .speakers
            .iter_mut()
            .filter_map(|(group, det)| det.evaluate(now).map(|p| (*group, p)))
            .collect();
        for (group, peer) in changed {
            self.outputs
                .push_back(SfuOutput::DominantSpeaker { group, peer });
            self.rerank(now, group);
        }
    }

    /// Orders a group's peers for `ReceiveVideo::TopSpeakers`: recent dominant speakers first,
    /// then everyone else in join order. Done on speaker changes and membership changes, never
    /// per packet; a camera that becomes visible to someone gets a keyframe request.
    pub(crate) fn rerank(&mut self, now: Instant, group: GroupId) {
        let Some(local) = self.groups.get(&group) else {
            self.selective_audio.remove(&group);
            return;
        };
        // Local and remote members (a group spread over SFUs) in one order: by peer number,
        // which is join order, so every SFU of the group ranks alike.
        let mut members: Vec<PeerId> = local
            .iter()
            .copied()
            .chain(self.remote_members(group))
            .collect();
        members.sort_unstable();
        let limit = self.config.selective_audio_after;
        if limit > 0 && members.len() > limit {
            self.selective_audio.insert(group);
        } else {
            self.selective_audio.remove(&group);
        }
        let recent = self
            .speakers
            .get(&group)
            .map(|d| d.recent().to_vec())
            .unwrap_or_default();
        let order: Vec<PeerId> = recent
            .iter()
            .copied()
            .filter(|p| members.contains(p))
            .chain(members.iter().copied().filter(|p| !recent.contains(p)))
            .collect();
        let mut promoted = Vec::new();
        for (rank, id) in order.into_iter().enumerate() {
            if self.set_rank(id, rank) {
                promoted.push(id);
            }
        }
        for id in promoted {
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
