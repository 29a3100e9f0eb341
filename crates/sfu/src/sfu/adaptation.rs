//! The adaptation round: every `ADAPT_EVERY`, each subscriber's simulcast layers are decided
//! again from its quality setting, tile sizes and bandwidth estimate (`SubscriberAdapt`),
//! and each publisher is told which of its layers anyone still needs (here, or on other SFUs
//! of a spread group: `Cluster`). Forwarding only looks the decided layer up.
//!
//! The bandwidth signal is str0m's send-side estimator (Google congestion control over
//! transport-wide congestion control feedback). It works in RTP mode: str0m numbers every
//! packet we write with the transport-wide sequence number as it sends it, and the browser
//! (or the test client) reports their arrival times. A subscriber whose client gives no such
//! feedback produces no estimate and simply gets no bandwidth cap. Except in large groups: a
//! peer joining one (`SfuConfig::loss_based_estimation_after`) is estimated from loss and
//! round-trip reports instead (`loss_estimate.rs`), because str0m's pacer makes every packet
//! cost a pass over all of the peer's streams.

use super::Sfu;
use crate::adapt::{audio_reserve, bwe_rates, ADAPT_EVERY};
use crate::loss_estimate::LinkReport;
use crate::outbox::{ClusterMessage, Signal};
use crate::simulcast::Stream;
use crate::types::{PeerId, Source, TrackKey};
use std::collections::HashMap;
use std::time::Instant;
use str0m::bwe::{Bitrate, BweKind};
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Rid};
use str0m::stats::PeerStats;

impl Sfu {
    /// Sets the heights (device pixels) at which `id` shows each publisher's camera; 0 for a
    /// hidden tile. Replaces what it said before. Used from the next adaptation on.
    pub fn set_view_sizes(&mut self, id: PeerId, sizes: impl IntoIterator<Item = (PeerId, u32)>) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.adapt.view_heights = sizes.into_iter().collect();
        }
    }

    /// A new bandwidth estimate from str0m for what we send `id`.
    pub(crate) fn on_estimate(&mut self, id: PeerId, kind: BweKind) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let BweKind::Twcc {
            estimate,
            can_probe,
        } = kind
        {
            // Without probing the estimate is only the last one, frozen: do not cap on it.
            peer.adapt.on_estimate(can_probe.then(|| estimate.as_u64()));
            tracing::trace!(peer = id.0, %estimate, can_probe, "bandwidth estimate");
        }
    }

    /// str0m's once-a-second report on what we send `id`: feeds its loss-based estimate.
    pub(crate) fn on_link_report(&mut self, now: Instant, id: PeerId, stats: &PeerStats) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let report = LinkReport {
            bytes_sent: stats.peer_bytes_tx,
            media_bytes_sent: stats.bytes_tx,
            loss: stats.egress_loss_fraction,
            rtt: stats.rtt,
        };
        if !peer.adapt.on_link_report(now, report) {
            return;
        }
        tracing::trace!(peer = id.0, ?report, estimate = ?peer.adapt.estimate, "loss-based estimate");
    }

    /// Re-decides every subscriber's layers and tells publishers which layers are needed.
    pub(crate) fn adapt(&mut self, now: Instant) {
        self.next_adaptation = (!self.peers.is_empty()).then(|| now + ADAPT_EVERY);
        for track in self.tracks.values_mut() {
            track.layers.roll(now);
        }
        let mut needed: HashMap<TrackKey, Vec<bool>> = HashMap::new();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.adapt_subscriber(now, id, &mut needed);
        }
        // Layers of tracks published elsewhere go to their owners; layers other SFUs need
        // of tracks published here count as needed here.
        let mut wanted_elsewhere = Vec::new();
        let mut keys: Vec<TrackKey> = Vec::new();
        for (key, track) in &self.tracks {
            if track.kind == MediaKind::Video && track.layers.is_simulcast() {
                keys.push(*key);
            }
        }
        for key in &keys {
            let track = &self.tracks[key];
            if track.remote {
                let rids = needed
                    .remove(key)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .filter(|(_, need)| **need)
                    .filter_map(|(i, _)| track.layers.rid_at(i))
                    .collect();
                wanted_elsewhere.push((*key, rids));
                continue;
            }
            let remote = self.cluster.layers_needed(now, *key);
            // A recording keeps the top layer, watched or not.
            let recorded = self.cluster.is_recorded(track.group);
            if remote.is_empty() && !recorded {
                continue;
            }
            let layers = &self.tracks[key].layers;
            let top = recorded.then(|| layers.len().saturating_sub(1));
            let need = needed
                .entry(*key)
                .or_insert_with(|| vec![false; layers.len()]);
            let remote = remote.iter().filter_map(|rid| layers.index_of(*rid));
            for i in remote.chain(top) {
                if let Some(slot) = need.get_mut(i) {
                    *slot = true;
                }
            }
        }
        if !wanted_elsewhere.is_empty() {
            self.outbox.cluster(ClusterMessage::LayersWanted {
                needs: wanted_elsewhere,
            });
        }
        let mut resumed = Vec::new();
        for (key, track) in &mut self.tracks {
            if track.kind != MediaKind::Video || !track.layers.is_simulcast() || track.remote {
                continue;
            }
            let rids: Vec<Rid> = track.layers.rids().collect();
            let need = needed
                .remove(key)
                .unwrap_or_else(|| vec![false; rids.len()]);
            let before: Vec<bool> = rids
                .iter()
                .map(|r| track.layers.active.is_active(*r))
                .collect();
            if let Some(active) = track.layers.active.update(now, &rids, &need) {
                if rids
                    .iter()
                    .zip(before)
                    .any(|(r, was)| !was && active.contains(r))
                {
                    resumed.push(*key);
                }
                self.outbox.signal(Signal::Layers {
                    peer: key.peer,
                    mid: key.mid,
                    active,
                });
            }
        }
        // A resumed layer is wanted by someone waiting to switch to it: ask for its keyframe
        // (browsers start a resumed encoding with one anyway; this covers one that does not).
        for key in resumed {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
    }

    /// Decides one subscriber's layers; marks in `needed` which layers of which tracks it
    /// needs (what it should get, and what it gets until the switch).
    fn adapt_subscriber(
        &mut self,
        now: Instant,
        id: PeerId,
        needed: &mut HashMap<TrackKey, Vec<bool>>,
    ) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let receive = peer.receive_video;
        let mut fixed = 0u64;
        let mut streams = Vec::new();
        let mut keys: Vec<(Mid, TrackKey)> = Vec::new();
        let mut previous = Vec::new();
        for sub in &peer.negotiation.subscriptions {
            let Some(mid) = sub.line.open_mid() else {
                continue;
            };
            let Some(track) = self.tracks.get(&sub.track) else {
                continue;
            };
            if track.kind == MediaKind::Audio {
                fixed += audio_reserve(track.audio_held, &track.layers);
                continue;
            }
            let rank = self.ranking.rank_of(sub.track.peer);
            if !receive.allows(track.source, rank) {
                continue;
            }
            if !track.layers.is_simulcast() {
                // One layer only (a screen share, a camera without simulcast): forwarded as
                // is, its cost comes off the estimate first.
                fixed += track.layers.plain_rate().unwrap_or(0);
                continue;
            }
            let tile = (track.source == Source::Camera)
                .then(|| peer.adapt.view_heights.get(&sub.track.peer).copied())
                .flatten();
            let rates = match track.layers.wanted(receive, tile) {
                Some(top) => track.layers.rates()[..=top].to_vec(),
                None => Vec::new(),
            };
            // Screen shares matter most, then cameras by how recently their owner spoke.
            let importance = match track.source {
                Source::Screen => 0,
                _ => rank.saturating_add(1),
            };
            streams.push(Stream { importance, rates });
            previous.push(
                peer.adapt
                    .target(mid)
                    .map(|t| t.and_then(|rid| track.layers.index_of(rid))),
            );
            keys.push((mid, sub.track));
        }
        let estimate = peer.adapt.estimate.map(|e| e.saturating_sub(fixed));
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let levels = peer.adapt.decide(now, &streams, &previous, fixed);
        let mut targets = HashMap::new();
        for ((mid, key), level) in keys.iter().zip(&levels) {
            let Some(track) = self.tracks.get(key) else {
                continue;
            };
            targets.insert(*mid, level.and_then(|l| track.layers.rid_at(l)));
            let need = needed
                .entry(*key)
                .or_insert_with(|| vec![false; track.layers.len()]);
            let current = peer
                .layer_of(*mid)
                .and_then(|rid| track.layers.index_of(rid));
            for i in level.iter().chain(current.iter()) {
                if let Some(slot) = need.get_mut(*i) {
                    *slot = true;
                }
            }
        }
        peer.adapt.set_targets(targets);
        tracing::trace!(
            peer = id.0,
            ?estimate,
            ?levels,
            ?streams,
            "simulcast layers"
        );
        let rates = bwe_rates(fixed, &streams, &levels);
        if let Some((minimum, desired)) = peer.adapt.aim(rates) {
            let set = peer.with_rtc(|rtc| {
                rtc.bwe()
                    .set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired));
                Ok(())
            });
            if set.is_err() {
                self.outbox.faulted.push(id);
            }
            self.outbox.mark_dirty(id, peer);
        }
    }
}
