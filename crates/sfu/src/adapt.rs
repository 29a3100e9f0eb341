//! Simulcast adaptation: per subscriber and video stream, which layer to forward (quality
//! setting, tile size, bandwidth estimate), and per published track which layers the
//! publisher still needs to encode: the per-subscriber state (`SubscriberAdapt`, kept in its `Peer`)
//! and the `Sfu`'s adaptation round, which needs every table; the pure decisions are in
//! `simulcast.rs`.
//!
//! Runs every `ADAPT_EVERY`, not per packet: forwarding only looks up the decided layer.
//!
//! The bandwidth signal is str0m's send-side estimator (Google congestion control over
//! transport-wide congestion control feedback). It works in RTP mode: str0m numbers every
//! packet we write with the transport-wide sequence number as it sends it, and the browser
//! (or the test client) reports their arrival times. A subscriber whose client
//! gives no such feedback produces no estimate and simply gets no bandwidth cap.
//!
//! Except in large groups: a peer joining one (`SfuConfig::loss_based_estimation_after`) is
//! estimated from loss and round-trip reports instead (`loss_estimate.rs`), because str0m's
//! pacer makes every packet cost a pass over all of the peer's streams.

use crate::loss_estimate::{LinkReport, LossBasedEstimate};
use crate::outbox::{ClusterMessage, Signal};
use crate::simulcast::{Layers, Stream};
use crate::{MediaKind, PeerId, Sfu, Source, TrackKey};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::media::{KeyframeRequestKind, Mid, Rid};
use str0m::stats::PeerStats;

/// How often layer choices are made.
pub const ADAPT_EVERY: Duration = Duration::from_millis(250);
/// Where str0m's bandwidth estimate starts by default before any feedback (it probes up from
/// here; see `SfuConfig::initial_bandwidth_bps`).
pub const DEFAULT_INITIAL_BANDWIDTH_BPS: u64 = 1_000_000;
/// Bits per second set aside per audio track a subscriber receives until the track's rate is
/// measured (Opus at 32 kbit/s plus 50 packets a second of headers): audio is never adapted,
/// so it comes off the estimate.
const AUDIO_RESERVE: u64 = 60_000;
/// str0m's estimator may discover up to this factor more than what is wanted: going up needs
/// headroom over the new total (`simulcast::UP_HEADROOM`).
const PROBE_FACTOR: f64 = 1.5;
/// While a stream is held back, padding fills the link up to the next step's total times
/// this (the headroom going up needs), and no further: padding competes with media.
const PAD_FACTOR: f64 = 1.25;

/// One subscriber's adaptation state (kept in its `Peer`).
#[derive(Debug, Default)]
pub struct SubscriberAdapt {
    /// The bandwidth estimate for what we send this peer (bits/s). None: no estimate (yet),
    /// or its client gives no transport-wide feedback: then nothing is capped by bandwidth.
    pub estimate: Option<u64>,
    /// The height (device pixels) this peer shows each publisher's camera at
    /// (`set_view_sizes`). A publisher not in it: not reported, the quality setting decides.
    pub view_heights: HashMap<PeerId, u32>,
    /// The layer decided per outgoing mid (None: nothing, paused for this subscriber).
    /// A mid not in it has not been decided yet (a new subscription).
    targets: HashMap<Mid, Option<Rid>>,
    budget: crate::simulcast::Budget,
    /// The (minimum, desired) rates last given to str0m's estimator.
    bwe_rates: (u64, u64),
    /// Set when this peer is estimated from loss reports, not by str0m.
    loss_based: Option<LossBasedEstimate>,
}

impl SubscriberAdapt {
    /// The layer decided for outgoing `mid`: `Some(None)` means send nothing.
    pub fn target(&self, mid: Mid) -> Option<Option<Rid>> {
        self.targets.get(&mid).copied()
    }

    /// Estimates this peer from loss reports (str0m's estimator is off for it), starting
    /// at `initial` bits/s.
    pub fn use_loss_based(&mut self, initial: u64) {
        let estimate = LossBasedEstimate::new(initial);
        self.estimate = estimate.current();
        self.loss_based = Some(estimate);
    }
}

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
            peer.adapt.estimate = can_probe.then(|| estimate.as_u64());
            tracing::trace!(peer = id.0, %estimate, can_probe, "bandwidth estimate");
        }
    }

    /// str0m's once-a-second report on what we send `id`: feeds its loss-based estimate.
    pub(crate) fn on_link_report(&mut self, now: Instant, id: PeerId, stats: &PeerStats) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(estimator) = peer.adapt.loss_based.as_mut() else {
            return;
        };
        let report = LinkReport {
            bytes_sent: stats.peer_bytes_tx,
            media_bytes_sent: stats.bytes_tx,
            loss: stats.egress_loss_fraction,
            rtt: stats.rtt,
        };
        peer.adapt.estimate = estimator.on_report(now, report);
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
            if remote.is_empty() {
                continue;
            }
            let layers = &self.tracks[key].layers;
            let need = needed
                .entry(*key)
                .or_insert_with(|| vec![false; layers.len()]);
            for i in remote.iter().filter_map(|rid| layers.index_of(*rid)) {
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
        for sub in &peer.subscriptions {
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
        let levels = peer.adapt.budget.decide(now, &streams, &previous, estimate);
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
        peer.adapt.targets = targets;
        tracing::trace!(
            peer = id.0,
            ?estimate,
            ?levels,
            ?streams,
            "simulcast layers"
        );
        let rates = bwe_rates(fixed, &streams, &levels);
        if let Some(estimate) = peer.adapt.loss_based.as_mut() {
            estimate.aim_for(rates.0);
        } else if rates != peer.adapt.bwe_rates {
            peer.adapt.bwe_rates = rates;
            let (minimum, desired) = rates;
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

/// What one audio track a subscriber receives takes off its estimate: what the microphone
/// sends, as measured. With Opus DTX a silent one sends a packet every 400 ms (about 1.5
/// kbit/s), so a flat reserve per microphone would starve the cameras of anyone in a room of
/// silent people behind a modest link. One held back in a large room (selective audio)
/// costs nothing.
fn audio_reserve(held: bool, layers: &Layers) -> u64 {
    if held {
        return 0;
    }
    layers.plain_rate().unwrap_or(AUDIO_RESERVE)
}

/// What str0m's estimator should aim for: `desired` is everything wanted, with headroom so
/// the estimate can grow past what going up needs; `minimum`, while some stream is held
/// below what it wants, is what the next step up would cost, so padding fills the link to
/// it and the estimate can prove it (an estimate only grows with traffic to measure).
fn bwe_rates(fixed: u64, streams: &[Stream], levels: &[Option<usize>]) -> (u64, u64) {
    let wanted: u64 = streams.iter().filter_map(|s| s.rates.last()).sum::<u64>();
    let desired = fixed + (wanted as f64 * PROBE_FACTOR) as u64;
    let now: u64 = streams
        .iter()
        .zip(levels)
        .filter_map(|(s, l)| l.and_then(|l| s.rates.get(l)))
        .sum();
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&i| streams[i].importance);
    let step = order.into_iter().find_map(|i| {
        let rates = &streams[i].rates;
        match levels[i] {
            None => rates.first().copied(),
            Some(l) => rates.get(l + 1).map(|next| next.saturating_sub(rates[l])),
        }
    });
    let minimum = match step {
        Some(step) => (fixed + ((now + step) as f64 * PAD_FACTOR) as u64).min(desired),
        None => 0,
    };
    (minimum, desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_takes_off_the_estimate_what_it_sends() {
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        // Before a rate is measured: the flat reserve.
        let mut speech = Layers::default();
        assert_eq!(audio_reserve(false, &speech), AUDIO_RESERVE);
        assert_eq!(audio_reserve(true, &speech), 0, "held back: nothing");
        // 2 s of speech: 80-byte frames every 20 ms; DTX silence: 17 bytes every 400 ms.
        let mut silence = Layers::default();
        for t in (0..=2000).step_by(20) {
            speech.saw(None, ms(t), 80, None);
            if t % 400 == 0 {
                silence.saw(None, ms(t), 17, None);
            }
            if t % 500 == 0 {
                speech.roll(ms(t));
                silence.roll(ms(t));
            }
        }
        let speaking = audio_reserve(false, &speech);
        let silent = audio_reserve(false, &silence);
        // (80 + 60 bytes of headers) × 8 × 50/s = 56 kbit/s; (17 + 60) × 8 × 2.5/s ≈ 1.5.
        assert!((50_000..=62_000).contains(&speaking), "speech: {speaking}");
        assert!((1_000..=2_500).contains(&silent), "DTX silence: {silent}");
        assert_eq!(audio_reserve(true, &silence), 0);
    }

    #[test]
    fn the_estimator_aims_past_the_next_step_only_while_held_back() {
        let streams = [
            Stream {
                importance: 1,
                rates: vec![100, 300, 900],
            },
            Stream {
                importance: 2,
                rates: vec![100],
            },
        ];
        // Everything as wanted: no padding wanted, probing up to 1.5 × the wanted total.
        assert_eq!(bwe_rates(60, &streams, &[Some(2), Some(0)]), (0, 60 + 1500));
        // The first stream held at "h": the next step costs 600 more.
        assert_eq!(
            bwe_rates(60, &streams, &[Some(1), Some(0)]),
            (60 + 1250, 60 + 1500)
        );
        assert_eq!(bwe_rates(0, &streams, &[Some(0), Some(0)]), (500, 1500));
    }
}
