//! A bandwidth estimate from loss and round-trip time alone, for subscribers of large rooms.
//!
//! str0m's estimator (GoogCC, delay-based) comes with its pacer, and the pacer hands out one
//! packet per timer turn: every packet a subscriber receives costs a full pass over all of
//! its send streams (`Rtc::handle_timeout`). In a room of 50 a subscriber has about 75 of
//! them, and that pass, not the forwarding, was most of the server's CPU (docs/performance.md).
//! Without str0m's estimator nothing is paced, but str0m still numbers every packet for
//! transport-wide feedback and keeps the receiver's reports, so `PeerStats` tells, once a
//! second, which share of what we sent in the last second was lost and the latest round-trip
//! time. From those this follows the link like GoogCC's loss-based part: up while nearly
//! nothing is lost, hold between 2% and 10% (or while the round trip has grown by a queue's
//! worth), down in proportion to the loss above 10%, and never above what got through.
//!
//! What it cannot do that the delay-based estimator does: notice a queue building before it
//! overflows (only a grown round trip, coarsely), or probe with padding. Layers go up only
//! when the link has carried what is sent now without loss.

use std::time::{Duration, Instant};

/// How often str0m reports (`RtcConfig::set_stats_interval`) for peers estimated here.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Below this loss the estimate grows.
const LOSS_LOW: f32 = 0.02;
/// Above this loss the estimate falls, in proportion to the loss.
const LOSS_HIGH: f32 = 0.10;
/// Growth per second while nothing is lost: a step of the layer ladder (about ×2 between
/// simulcast layers, with 25% headroom) takes a few seconds, and a loss report arrives
/// within one second of overshooting.
const GROWTH_PER_SECOND: f64 = 1.25;
/// Growth per second from the start until the link first shows congestion (like TCP's slow
/// start): a newcomer in a large room needs every camera's lowest layer at once (25 of them
/// are about 2.3 Mbit/s), and the start is a guess. Overshooting costs at most one second
/// of loss before the cut.
const STARTUP_GROWTH_PER_SECOND: f64 = 2.0;
/// The estimate grows past what is sent by at most this factor, or to what the next step up
/// costs (`aim_for`): an estimate nothing tested is not evidence (a subscriber of small tiles
/// would otherwise claim any rate after a while).
const UNTESTED_FACTOR: f64 = 2.0;
/// How far past the next step's cost (`aim_for`) the estimate may grow untested: exactly
/// that cost is not enough once rounding, or a layer's rate measured a little higher a
/// moment later, makes the step cost a little more (seen in a browser test: short by 1 bit/s,
/// and stuck one layer down).
const STEP_MARGIN: f64 = 1.1;
/// A round trip this much above the lowest seen means a queue is building: do not grow.
const QUEUE_DELAY: Duration = Duration::from_millis(250);
/// Reports with media sent but no feedback before the client counts as giving none.
const REPORTS_WITHOUT_FEEDBACK: u32 = 3;
const MIN_ESTIMATE: u64 = 100_000;
const MAX_ESTIMATE: u64 = 1_000_000_000;

/// One subscriber's loss-based estimate.
#[derive(Debug)]
pub struct LossBasedEstimate {
    estimate: u64,
    /// When the last report came, and its total and media bytes sent.
    last: Option<(Instant, u64, u64)>,
    min_rtt: Option<Duration>,
    /// Reports in a row with media sent and no feedback (see `REPORTS_WITHOUT_FEEDBACK`).
    without_feedback: u32,
    /// No congestion seen yet: growing at `STARTUP_GROWTH_PER_SECOND`.
    starting: bool,
    /// What the next step up would cost in all (0: nothing is held back).
    next_step: u64,
}

/// What one report said: str0m's `PeerStats`, reduced to what the estimate uses.
#[derive(Debug, Clone, Copy)]
pub struct LinkReport {
    /// All bytes sent to the peer so far.
    pub bytes_sent: u64,
    /// RTP payload bytes sent to the peer so far (ICE and DTLS are not media: before any
    /// media there is nothing for feedback to report on).
    pub media_bytes_sent: u64,
    /// Share of the packets sent in the last second that the receiver reported lost; None
    /// when no feedback covered them.
    pub loss: Option<f32>,
    pub rtt: Option<Duration>,
}

impl LossBasedEstimate {
    pub fn new(initial: u64) -> Self {
        Self {
            estimate: initial.clamp(MIN_ESTIMATE, MAX_ESTIMATE),
            last: None,
            min_rtt: None,
            without_feedback: 0,
            starting: true,
            next_step: 0,
        }
    }

    /// Sets what the subscriber's next step up would cost in all (headroom included; 0 when
    /// nothing is held back): the estimate may grow to it without evidence, since taking the
    /// step is what tests it. (str0m's estimator probes with padding instead.)
    pub fn aim_for(&mut self, next_step: u64) {
        self.next_step = next_step;
    }

    /// The estimate to fit layers to; None when the client gives no transport-wide feedback
    /// (then nothing is capped by bandwidth, as with str0m's estimator).
    pub fn current(&self) -> Option<u64> {
        (self.without_feedback < REPORTS_WITHOUT_FEEDBACK).then_some(self.estimate)
    }

    /// Takes one report; returns the new estimate (as `current`).
    pub fn on_report(&mut self, now: Instant, report: LinkReport) -> Option<u64> {
        let this = (now, report.bytes_sent, report.media_bytes_sent);
        let Some((then, bytes_before, media_before)) = self.last.replace(this) else {
            return self.current();
        };
        let seconds = now.saturating_duration_since(then).as_secs_f64();
        if seconds < 0.1 {
            return self.current();
        }
        let sent = (report.bytes_sent.saturating_sub(bytes_before) * 8) as f64 / seconds;
        let Some(loss) = report.loss else {
            // A second without media has nothing to report on; with media and no feedback
            // the client may not send any (no transport-wide congestion control).
            if report.media_bytes_sent > media_before {
                self.without_feedback = self.without_feedback.saturating_add(1);
            }
            return self.current();
        };
        self.without_feedback = 0;
        let queueing = report.rtt.map(|rtt| {
            let min = self.min_rtt.map_or(rtt, |m| m.min(rtt));
            self.min_rtt = Some(min);
            rtt - min
        });
        let estimate = self.estimate as f64;
        let congested = loss > LOSS_LOW || queueing.is_some_and(|q| q > QUEUE_DELAY);
        self.starting &= !congested;
        let next = if loss > LOSS_HIGH {
            // GoogCC's cut (by half the loss), but never above what got through: after a
            // start far above the link (heavy loss) one cut brings it down to the link.
            let loss = f64::from(loss);
            (estimate * (1.0 - 0.5 * loss)).min(sent * (1.0 - loss))
        } else if congested {
            estimate
        } else {
            let growth = match self.starting {
                true => STARTUP_GROWTH_PER_SECOND,
                false => GROWTH_PER_SECOND,
            };
            let grown = estimate * growth.powf(seconds.min(2.0));
            let tested = (sent * UNTESTED_FACTOR).max(self.next_step as f64 * STEP_MARGIN);
            grown.min(estimate.max(tested))
        };
        self.estimate = (next as u64).clamp(MIN_ESTIMATE, MAX_ESTIMATE);
        self.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first report (nothing sent yet); returns the clock and bytes for `run`.
    fn begin(est: &mut LossBasedEstimate) -> (Instant, u64) {
        let at = (Instant::now(), 0);
        let report = LinkReport {
            bytes_sent: 0,
            media_bytes_sent: 0,
            loss: None,
            rtt: None,
        };
        est.on_report(at.0, report);
        at
    }

    /// Feeds one report a second at `rate` bits/s with `loss`; returns the last estimate.
    fn run(
        est: &mut LossBasedEstimate,
        start: &mut (Instant, u64),
        seconds: u32,
        rate: impl Fn(u64) -> u64,
        loss: Option<f32>,
        rtt_ms: u64,
    ) -> Option<u64> {
        let mut out = est.current();
        for _ in 0..seconds {
            start.0 += REPORT_EVERY;
            start.1 += rate(est.current().unwrap_or(0)) / 8;
            out = est.on_report(
                start.0,
                LinkReport {
                    bytes_sent: start.1,
                    media_bytes_sent: start.1,
                    loss,
                    rtt: Some(Duration::from_millis(rtt_ms)),
                },
            );
        }
        out
    }

    #[test]
    fn grows_while_nothing_is_lost_and_falls_with_heavy_loss() {
        let mut est = LossBasedEstimate::new(1_000_000);
        let mut at = begin(&mut est);
        // Sending what the estimate allows (80% of it), nothing lost: doubling a second
        // until the first sign of congestion (capped at twice what is sent).
        let full = |e: u64| e * 8 / 10;
        assert_eq!(
            run(&mut est, &mut at, 1, full, Some(0.0), 40),
            Some(1_600_000)
        );
        // Between 2% and 10%: hold.
        assert_eq!(
            run(&mut est, &mut at, 3, full, Some(0.05), 40),
            Some(1_600_000)
        );
        // Then ×1.25 a second.
        assert_eq!(
            run(&mut est, &mut at, 1, full, Some(0.01), 40),
            Some(2_000_000)
        );
        // Half lost while sending 1.6 Mbit/s: what got through.
        let sent = |_| 1_600_000;
        assert_eq!(
            run(&mut est, &mut at, 1, sent, Some(0.5), 40),
            Some(800_000)
        );
        // A quarter lost while sending more than the estimate: GoogCC's cut of the estimate
        // (what got through, 1.5 Mbit/s, is more).
        let sent = |_| 2_000_000;
        assert_eq!(
            run(&mut est, &mut at, 1, sent, Some(0.25), 40),
            Some(700_000)
        );
        // Never below the floor.
        assert_eq!(
            run(&mut est, &mut at, 30, full, Some(0.9), 40),
            Some(MIN_ESTIMATE)
        );
    }

    #[test]
    fn does_not_grow_far_past_what_is_sent_nor_while_a_queue_builds() {
        let mut est = LossBasedEstimate::new(1_000_000);
        let mut at = begin(&mut est);
        // Small tiles: 300 kbit/s sent, no loss. The estimate stays at what it was (it is
        // above twice what is sent), however long.
        let small = |_| 300_000;
        assert_eq!(
            run(&mut est, &mut at, 10, small, Some(0.0), 40),
            Some(1_000_000)
        );
        // Sending it all again, the round trip 300 ms above its lowest: hold.
        let full = |e: u64| e;
        assert_eq!(
            run(&mut est, &mut at, 3, full, Some(0.0), 340),
            Some(1_000_000)
        );
        // The queue drains: growth resumes, past the start-up now.
        assert_eq!(
            run(&mut est, &mut at, 1, full, Some(0.0), 60),
            Some(1_250_000)
        );
        // Something held back whose next step costs 3 Mbit/s in all: the estimate may grow
        // towards it though little is sent (taking the step will test it), and a little past
        // it, so that the step surely fits...
        est.aim_for(3_000_000);
        assert_eq!(
            run(&mut est, &mut at, 2, small, Some(0.0), 40),
            Some(1_953_125)
        );
        assert_eq!(
            run(&mut est, &mut at, 3, small, Some(0.0), 40),
            Some(3_300_000)
        );
        // ...and no further once nothing is held back.
        est.aim_for(0);
        assert_eq!(
            run(&mut est, &mut at, 2, small, Some(0.0), 40),
            Some(3_300_000)
        );
    }

    #[test]
    fn a_client_without_feedback_gets_no_estimate_and_one_with_it_again() {
        let mut est = LossBasedEstimate::new(1_000_000);
        let mut at = begin(&mut est);
        // Nothing sent yet and no feedback: not evidence of anything.
        assert_eq!(run(&mut est, &mut at, 5, |_| 0, None, 40), Some(1_000_000));
        // Nor are ICE and DTLS (bytes sent, but no media).
        for _ in 0..5 {
            at.0 += REPORT_EVERY;
            let report = LinkReport {
                bytes_sent: at.1 + 2_000,
                media_bytes_sent: at.1,
                loss: None,
                rtt: None,
            };
            assert_eq!(est.on_report(at.0, report), Some(1_000_000));
        }
        // Media without feedback: for two reports still the estimate, then none.
        assert_eq!(
            run(&mut est, &mut at, 2, |_| 500_000, None, 40),
            Some(1_000_000)
        );
        assert_eq!(run(&mut est, &mut at, 1, |_| 500_000, None, 40), None);
        // Feedback after all: estimated again.
        assert_eq!(
            run(&mut est, &mut at, 1, |_| 500_000, Some(0.0), 40),
            Some(1_000_000)
        );
    }
}
