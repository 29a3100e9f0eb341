//! Dominant-speaker detection from the RTP audio-level header extension (RFC 6464).
//!
//! Each audio frame carries the sender's level in -dBov (0 loudest, -127 silence). Per peer we
//! keep an exponential moving average of loudness (`level + 127`, so 0..=127). Every
//! `EVALUATE_EVERY` the loudest peer above the speech threshold becomes a *challenger*; it takes
//! over only after staying ahead of the current speaker by `SWITCH_MARGIN` for `HOLD` (or the
//! current one fell silent that long). That hysteresis keeps a cough or a "mm-hm" from flipping
//! the big tile. With nobody speaking, the last speaker stays dominant.

use crate::types::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the dominant speaker is re-evaluated.
pub const EVALUATE_EVERY: Duration = Duration::from_millis(300);
/// Time constant of the loudness average: long enough to smooth syllables.
const SMOOTHING: Duration = Duration::from_millis(600);
/// Average loudness (0..=127) above which a peer counts as speaking (about -55 dBov).
const SPEECH_THRESHOLD: f32 = 72.0;
/// How much louder a challenger must be than the current speaker.
const SWITCH_MARGIN: f32 = 6.0;
/// Gaps between frames up to this long are normal (20 ms packets, jitter) and cost nothing.
const FRAME_GAP_ALLOWANCE: Duration = Duration::from_millis(200);
/// How long a challenger must stay ahead before it takes over.
const HOLD: Duration = Duration::from_millis(900);
/// In a room that forwards only who speaks: a frame at least this loud (-dBov) is voice and
/// heard at once, so nobody's first word is cut.
pub(crate) const VOICE_DBOV: i8 = -60;
/// ... and a voice stays heard this long after its last such frame, so the quiet ends of
/// words and the pauses between them are not cut.
const HANGOVER: Duration = Duration::from_millis(500);
/// ... and the most recent dominant speakers are always heard, so the turns of a
/// conversation, breaths and quiet words included, come through whole.
pub const RECENT_SPEAKERS_HEARD: usize = 3;

#[derive(Debug, Clone, Copy)]
struct Loudness {
    average: f32,
    updated: Instant,
    /// The last frame at least `VOICE_DBOV` loud.
    last_voice: Option<Instant>,
}

impl Loudness {
    /// The average as of `now`, decayed toward silence for the time without frames (muted
    /// microphones and DTX send nothing).
    fn at(&self, now: Instant) -> f32 {
        let idle = now
            .saturating_duration_since(self.updated)
            .saturating_sub(FRAME_GAP_ALLOWANCE)
            .as_secs_f32();
        self.average * (-idle / SMOOTHING.as_secs_f32()).exp()
    }
}

/// The detector of one group (room instance).
#[derive(Debug, Default)]
pub struct SpeakerDetector {
    loudness: HashMap<PeerId, Loudness>,
    current: Option<PeerId>,
    challenger: Option<(PeerId, Instant)>,
    /// Peers that have been dominant, most recent first.
    recent: Vec<PeerId>,
}

impl SpeakerDetector {
    /// One audio frame from `peer` with RFC 6464 level `dbov` (-127..=0).
    pub fn on_level(&mut self, now: Instant, peer: PeerId, dbov: i8) {
        let loud = (f32::from(dbov.clamp(-127, 0)) + 127.0).max(0.0);
        let entry = self.loudness.entry(peer).or_insert(Loudness {
            average: 0.0,
            updated: now,
            last_voice: None,
        });
        if dbov >= VOICE_DBOV {
            entry.last_voice = Some(now);
        }
        let dt = now.saturating_duration_since(entry.updated).as_secs_f32();
        let alpha = 1.0 - (-dt.max(0.02) / SMOOTHING.as_secs_f32()).exp();
        // Frames arriving on time are averaged; a long gap first decays the old average.
        let current = entry.at(now);
        entry.average = current + (loud - current) * alpha;
        entry.updated = now;
    }

    pub fn remove(&mut self, peer: PeerId) -> bool {
        self.loudness.remove(&peer);
        self.recent.retain(|p| *p != peer);
        if self.challenger.is_some_and(|(p, _)| p == peer) {
            self.challenger = None;
        }
        if self.current == Some(peer) {
            self.current = None;
            return true;
        }
        false
    }

    /// Whether `peer`'s audio frame is forwarded in a room that forwards only the people
    /// speaking. Asked after `on_level` for that frame: a voice frame is its own `last_voice`.
    pub fn heard(&self, now: Instant, peer: PeerId) -> bool {
        self.loudness
            .get(&peer)
            .and_then(|l| l.last_voice)
            .is_some_and(|t| now.saturating_duration_since(t) < HANGOVER)
            || self
                .recent
                .iter()
                .take(RECENT_SPEAKERS_HEARD)
                .any(|p| *p == peer)
    }

    pub fn current(&self) -> Option<PeerId> {
        self.current
    }

    /// Peers that have been dominant, most recent first.
    pub fn recent(&self) -> &[PeerId] {
        &self.recent
    }

    /// Re-evaluates; returns the new dominant speaker when it changed.
    pub fn evaluate(&mut self, now: Instant) -> Option<PeerId> {
        let loudest = self
            .loudness
            .iter()
            .map(|(p, l)| (*p, l.at(now)))
            .filter(|(_, l)| *l >= SPEECH_THRESHOLD)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((best, best_level)) = loudest else {
            self.challenger = None;
            return None;
        };
        let Some(current) = self.current else {
            return Some(self.switch_to(best));
        };
        if best == current {
            self.challenger = None;
            return None;
        }
        let current_level = self.loudness.get(&current).map_or(0.0, |l| l.at(now));
        if best_level < current_level + SWITCH_MARGIN {
            self.challenger = None;
            return None;
        }
        match self.challenger {
            Some((p, since)) if p == best => {
                if now.saturating_duration_since(since) >= HOLD {
                    return Some(self.switch_to(best));
                }
                None
            }
            _ => {
                self.challenger = Some((best, now));
                None
            }
        }
    }

    fn switch_to(&mut self, peer: PeerId) -> PeerId {
        self.current = Some(peer);
        self.challenger = None;
        self.recent.retain(|p| *p != peer);
        self.recent.insert(0, peer);
        peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);
    const C: PeerId = PeerId(3);

    /// Feeds 20 ms frames for `ms` with the given levels and evaluates on schedule; returns
    /// every change with its time offset in ms.
    fn run(
        det: &mut SpeakerDetector,
        start: Instant,
        from_ms: u64,
        ms: u64,
        levels: &[(PeerId, i8)],
    ) -> Vec<(u64, PeerId)> {
        let mut changes = Vec::new();
        for t in (from_ms..from_ms + ms).step_by(20) {
            let now = start + Duration::from_millis(t);
            for (peer, level) in levels {
                det.on_level(now, *peer, *level);
            }
            if t % 300 == 0 {
                if let Some(p) = det.evaluate(now) {
                    changes.push((t, p));
                }
            }
        }
        changes
    }

    #[test]
    fn the_one_who_speaks_becomes_dominant() {
        let start = Instant::now();
        let mut det = SpeakerDetector::default();
        let changes = run(&mut det, start, 0, 2000, &[(A, -127), (B, -25), (C, -127)]);
        assert_eq!(changes.first().map(|c| c.1), Some(B));
        assert!(changes.first().is_some_and(|c| c.0 <= 1200), "{changes:?}");
        assert_eq!(changes.len(), 1);
        assert_eq!(det.current(), Some(B));
    }

    #[test]
    fn silence_keeps_the_last_speaker_and_background_noise_never_wins() {
        let start = Instant::now();
        let mut det = SpeakerDetector::default();
        run(&mut det, start, 0, 1500, &[(A, -30), (B, -127)]);
        assert_eq!(det.current(), Some(A));
        // Everyone quiet, B has faint background noise at -70 dBov.
        let changes = run(&mut det, start, 1500, 5000, &[(A, -127), (B, -70)]);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(det.current(), Some(A));
    }

    #[test]
    fn a_short_interjection_does_not_switch_but_a_real_turn_does() {
        let start = Instant::now();
        let mut det = SpeakerDetector::default();
        run(&mut det, start, 0, 1500, &[(A, -30), (B, -127)]);
        // B says "mm-hm" for 300 ms, louder than A, while A keeps talking.
        let blip = run(&mut det, start, 1500, 300, &[(A, -30), (B, -10)]);
        let after = run(&mut det, start, 1800, 1500, &[(A, -30), (B, -127)]);
        assert!(blip.is_empty() && after.is_empty(), "{blip:?} {after:?}");
        assert_eq!(det.current(), Some(A));
        // Now A stops and B talks: B takes over within about 2 s, and only once.
        let turn = run(&mut det, start, 3300, 2500, &[(A, -127), (B, -30)]);
        assert_eq!(turn.iter().map(|c| c.1).collect::<Vec<_>>(), vec![B]);
        assert!(turn[0].0 - 3300 <= 2000, "{turn:?}");
        assert_eq!(det.recent(), &[B, A]);
    }

    #[test]
    fn in_a_large_room_voices_and_recent_speakers_are_heard_and_silence_is_not() {
        let start = Instant::now();
        let mut det = SpeakerDetector::default();
        run(&mut det, start, 0, 1000, &[(A, -127), (B, -127)]);
        let at = |ms| start + Duration::from_millis(ms);
        assert!(!det.heard(at(1000), A), "silence is not forwarded");
        det.on_level(at(1000), A, -75);
        assert!(!det.heard(at(1000), A), "nor background noise");
        det.on_level(at(1000), A, -40);
        assert!(det.heard(at(1000), A), "a first word is, at once");
        // B says a word, then stops: heard during the trailing-off, then not...
        run(&mut det, start, 1000, 300, &[(B, -30)]);
        run(&mut det, start, 1300, 300, &[(B, -127)]);
        assert!(det.heard(at(1600), B), "trailing off");
        run(&mut det, start, 1600, 800, &[(B, -127)]);
        assert!(!det.heard(at(2400), B), "quiet again");
        // ...unless it became a dominant speaker: then heard throughout.
        run(&mut det, start, 2400, 2000, &[(A, -30), (B, -127)]);
        assert_eq!(det.current(), Some(A));
        run(&mut det, start, 4400, 2000, &[(A, -127)]);
        assert!(det.heard(at(6400), A), "a recent speaker's silence too");
        for (i, p) in [B, C, PeerId(4)].into_iter().enumerate() {
            let from = 6400 + 2000 * i as u64;
            run(&mut det, start, from, 2000, &[(p, -20)]);
        }
        assert_eq!(det.recent().len(), 4);
        assert!(!det.heard(at(12400), A), "only the last three speakers");
    }

    #[test]
    fn a_leaving_speaker_is_forgotten() {
        let start = Instant::now();
        let mut det = SpeakerDetector::default();
        run(&mut det, start, 0, 1500, &[(A, -30)]);
        assert!(det.remove(A));
        assert_eq!(det.current(), None);
        assert!(det.recent().is_empty());
        assert!(!det.remove(C));
    }
}
