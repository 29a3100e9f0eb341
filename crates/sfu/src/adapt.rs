//! Simulcast adaptation, per subscriber: its bandwidth estimate and the layer decided for each
//! video stream it receives (`SubscriberAdapt`, kept in its `Peer`), and what that costs.
//! The round that decides, over every subscriber and track, is `sfu/adaptation.rs`; the pure
//! decisions are in `simulcast.rs`.
//! Where the estimate comes from is told there too.

use crate::loss_estimate::{LinkReport, LossBasedEstimate};
use crate::simulcast::{Layers, Stream};
use crate::types::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::media::{Mid, Rid};

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
    /// A new estimate from str0m's delay-based estimator (None: frozen, not to cap on).
    pub fn on_estimate(&mut self, estimate: Option<u64>) {
        self.estimate = estimate;
    }

    /// A once-a-second link report, for a peer estimated from loss; false for one estimated
    /// by str0m (the report changes nothing then).
    pub fn on_link_report(&mut self, now: Instant, report: LinkReport) -> bool {
        let Some(estimator) = self.loss_based.as_mut() else {
            return false;
        };
        self.estimate = estimator.on_report(now, report);
        true
    }

    /// The layer of each stream now (`simulcast::Budget::decide`), within the estimate less
    /// `fixed` (what audio and single-layer video take first).
    pub fn decide(
        &mut self,
        now: Instant,
        streams: &[Stream],
        previous: &[Option<Option<usize>>],
        fixed: u64,
    ) -> Vec<Option<usize>> {
        let estimate = self.estimate.map(|e| e.saturating_sub(fixed));
        self.budget.decide(now, streams, previous, estimate)
    }

    /// The layers decided per outgoing mid, until the next round.
    pub fn set_targets(&mut self, targets: HashMap<Mid, Option<Rid>>) {
        self.targets = targets;
    }

    /// What the estimator should aim for now (`bwe_rates`): a loss-based estimate takes it
    /// here; for str0m's, returns the (minimum, desired) rates to set when they changed.
    pub fn aim(&mut self, rates: (u64, u64)) -> Option<(u64, u64)> {
        if let Some(estimate) = self.loss_based.as_mut() {
            estimate.aim_for(rates.0);
            return None;
        }
        (rates != self.bwe_rates).then(|| {
            self.bwe_rates = rates;
            rates
        })
    }

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

/// What one audio track a subscriber receives takes off its estimate: what the microphone
/// sends, as measured. With Opus DTX a silent one sends a packet every 400 ms (about 1.5
/// kbit/s), so a flat reserve per microphone would starve the cameras of anyone in a room of
/// silent people behind a modest link. One held back in a large room (selective audio)
/// costs nothing.
pub(crate) fn audio_reserve(held: bool, layers: &Layers) -> u64 {
    if held {
        return 0;
    }
    layers.plain_rate().unwrap_or(AUDIO_RESERVE)
}

/// What str0m's estimator should aim for: `desired` is everything wanted, with headroom so
/// the estimate can grow past what going up needs; `minimum`, while some stream is held
/// below what it wants, is what the next step up would cost, so padding fills the link to
/// it and the estimate can prove it (an estimate only grows with traffic to measure).
pub(crate) fn bwe_rates(fixed: u64, streams: &[Stream], levels: &[Option<usize>]) -> (u64, u64) {
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
