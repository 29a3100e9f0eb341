//! Simulcast: which layer each subscriber gets, and where a switch may happen.
//!
//! A publisher may send its camera in up to three layers (RIDs, lowest first by convention
//! "q", "h", "f"). Each subscriber receives exactly one of them as one continuous stream: the
//! SFU forwards the chosen layer and switches only at a keyframe of the new layer, rewriting
//! sequence numbers and timestamps so the receiver never sees a gap or a jump back.

use crate::ReceiveVideo;
use std::time::{Duration, Instant};
use str0m::media::Rid;

/// A layer counts as available while it has sent within this time.
const LAYER_ALIVE: Duration = Duration::from_secs(1);
/// Timestamp step put between the last frame of the old layer and the first of the new
/// (one frame at 30 fps on the 90 kHz video clock).
pub const SWITCH_TIMESTAMP_STEP: u32 = 3000;

/// Layers of one published video track, by when each was last seen.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    /// (rid, last packet time), kept sorted from the lowest to the highest layer.
    seen: Vec<(Rid, Instant)>,
}

/// Orders RIDs from lowest to highest quality: q < h < f; other names keep arrival order
/// after those three.
fn rank(rid: &Rid) -> u8 {
    match &**rid {
        "q" | "l" | "0" => 0,
        "h" | "m" | "1" => 1,
        "f" | "2" => 2,
        _ => 3,
    }
}

impl Layers {
    pub fn saw(&mut self, rid: Rid, now: Instant) {
        match self.seen.iter_mut().find(|(r, _)| *r == rid) {
            Some(entry) => entry.1 = now,
            None => {
                self.seen.push((rid, now));
                self.seen.sort_by_key(|(r, _)| rank(r));
            }
        }
    }

    /// Every layer seen, lowest first.
    pub fn rids(&self) -> impl Iterator<Item = Rid> + '_ {
        self.seen.iter().map(|(r, _)| *r)
    }

    /// The layer a subscriber with `receive` should get now.
    pub fn target(&self, receive: ReceiveVideo, now: Instant) -> Option<Rid> {
        let alive: Vec<Rid> = self
            .seen
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(*at) < LAYER_ALIVE)
            .map(|(r, _)| *r)
            .collect();
        let pick = match receive {
            ReceiveVideo::None => return None,
            // "Low": only the speaker's small picture.
            ReceiveVideo::TopSpeakers(1) => 0,
            // "Standard": a middle layer when there is one.
            ReceiveVideo::TopSpeakers(_) => alive.len().saturating_sub(1).min(1),
            ReceiveVideo::All => alive.len().saturating_sub(1),
        };
        alive.get(pick).copied()
    }
}

/// Whether an RTP payload starts a VP8 keyframe (RFC 7741 payload descriptor, then the VP8
/// frame tag, whose lowest bit is 0 on keyframes). With end-to-end encryption the first bytes
/// of each frame stay in clear precisely so this still works.
pub fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x0f;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    payload.get(at).is_some_and(|tag| tag & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_vp8_keyframes_behind_any_descriptor() {
        // S=1, PID=0, no extension; frame tag with P=0.
        assert!(vp8_starts_keyframe(&[0x10, 0x10, 0x02, 0x00]));
        assert!(
            !vp8_starts_keyframe(&[0x10, 0x11, 0x02, 0x00]),
            "P=1 is a delta frame"
        );
        assert!(
            !vp8_starts_keyframe(&[0x00, 0x10]),
            "not the start of a partition"
        );
        // X=1, I=1 with a 15-bit picture id, L=1, T=1.
        assert!(vp8_starts_keyframe(&[
            0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x10
        ]));
        assert!(!vp8_starts_keyframe(&[
            0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x11
        ]));
        assert!(!vp8_starts_keyframe(&[0x90, 0xE0]), "truncated");
    }

    #[test]
    fn targets_follow_quality_and_what_is_alive() {
        let now = Instant::now();
        let mut layers = Layers::default();
        for rid in ["f", "q", "h"] {
            layers.saw(Rid::from(rid), now);
        }
        assert_eq!(layers.target(ReceiveVideo::All, now), Some(Rid::from("f")));
        assert_eq!(
            layers.target(ReceiveVideo::TopSpeakers(9), now),
            Some(Rid::from("h"))
        );
        assert_eq!(
            layers.target(ReceiveVideo::TopSpeakers(1), now),
            Some(Rid::from("q"))
        );
        assert_eq!(layers.target(ReceiveVideo::None, now), None);
        // The top layer stops (the browser dropped it): High falls back to "h".
        let later = now + Duration::from_secs(2);
        layers.saw(Rid::from("q"), later);
        layers.saw(Rid::from("h"), later);
        assert_eq!(
            layers.target(ReceiveVideo::All, later),
            Some(Rid::from("h"))
        );
    }
}
