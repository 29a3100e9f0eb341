//! Audio slots: in a group that forwards only who speaks (`SfuConfig::selective_audio_after`),
//! a subscriber that can (`Sfu::set_audio_slots`) receives the microphones on a fixed pool of
//! `SLOT_COUNT` send streams instead of one per microphone of the group.
//!
//! Why: str0m walks every stream of a connection in each poll and timeout, carrying or not.
//! In a room of 20 where 3 talk, a subscriber holding a stream per microphone costs the SFU
//! 26.3k instructions per forwarded packet, one holding only the talkers' 16.7k
//! (docs/performance.md, "Counting instructions").
//!
//! Each subscriber owns its slots (their mids differ per subscriber anyway): a heard packet
//! of a publisher without a slot takes a free one, else the one silent longest, and the
//! subscriber is told (`Signal::SlotOwner`) before the packet is written. A slot keeps one
//! outgoing RTP stream: numbering continues across owners and timestamps step forward by the
//! time that passed (`Continuity::NewSource`), so the browser's jitter buffer sees one stream
//! with a pause. Packets are never held back waiting for the message.

use crate::mline::{Keep, LineState, MLine};
use crate::rewrite::Continuity;
use crate::types::{PeerId, TrackKey};
use std::time::{Duration, Instant};
use str0m::media::Mid;

/// Slots per subscriber: `SpeakerDetector::heard` keeps the three most recent dominant
/// speakers heard, plus whoever is loud right now.
pub const SLOT_COUNT: usize = 5;
/// A slot whose owner's voice was forwarded within this time is never taken from it: with
/// more voices at once than slots, the newest waits rather than the slots flapping per
/// packet. Silence (a recent speaker's breaths) holds a slot only while nobody else needs it.
const SLOT_BUSY: Duration = Duration::from_millis(200);
/// Opus's RTP clock (RFC 7587: always 48 kHz, whatever the sampling rate).
const OPUS_CLOCK_HZ: u64 = 48_000;
/// The least timestamp step at a change of owner: one 20 ms Opus frame.
const MIN_STEP: u32 = 960;

/// One of a subscriber's audio slots.
#[derive(Debug, Clone)]
pub struct AudioSlot {
    pub line: MLine,
    /// The microphone it carries now (None: free).
    owner: Option<TrackKey>,
    /// When its last packet was written.
    last_sent: Option<Instant>,
    /// When its last packet carrying voice (`speaker::VOICE_DBOV`) was written.
    last_voice: Option<Instant>,
}

/// One subscriber's audio slots (none outside a large group).
#[derive(Debug, Default)]
pub struct SlotPool {
    slots: Vec<AudioSlot>,
}

impl SlotPool {
    /// Whether this subscriber receives microphones on slots now (or is about to).
    pub fn in_slot_mode(&self) -> bool {
        self.slots.iter().any(|s| s.line.is_wanted())
    }

    /// Asks for `SLOT_COUNT` new slots in the next offer. Slots of an earlier slot mode still
    /// being stopped stay until answered, so that their m-lines are stopped; the new ones
    /// come beside them.
    pub fn open(&mut self) {
        let new = || AudioSlot {
            line: MLine::new(),
            owner: None,
            last_sent: None,
            last_voice: None,
        };
        self.slots
            .extend(std::iter::repeat_with(new).take(SLOT_COUNT));
    }

    /// Stops every slot (in the next offer, or once the one in flight is answered).
    pub fn close(&mut self) {
        self.slots
            .retain_mut(|slot| slot.line.wind_down() == Keep::Yes);
    }

    /// The slots' m-lines, for negotiation.
    pub fn lines_mut(&mut self) -> impl Iterator<Item = &mut MLine> {
        self.slots.iter_mut().map(|s| &mut s.line)
    }

    pub fn lines(&self) -> impl Iterator<Item = &MLine> {
        self.slots.iter().map(|s| &s.line)
    }

    /// The answer came: forgets stopped slots, opens negotiated ones.
    pub fn answered(&mut self) {
        self.slots
            .retain_mut(|slot| slot.line.answered().1 == Keep::Yes);
    }

    /// A publisher left: the slots it held are free (their next owner is announced as usual).
    pub fn free_owner(&mut self, publisher: PeerId) {
        for slot in &mut self.slots {
            if slot.owner.is_some_and(|o| o.peer == publisher) {
                slot.owner = None;
            }
        }
    }

    /// The open slot to write `track`'s packet on (`voice`: it is at least
    /// `speaker::VOICE_DBOV` loud) and how the packet follows the slot's last one
    /// (`Continuity::NewSource`: the slot changed hands); None when every slot is busy with
    /// someone else's voice.
    #[inline]
    pub fn slot_for(
        &mut self,
        now: Instant,
        track: TrackKey,
        voice: bool,
    ) -> Option<(Mid, Continuity)> {
        let open = |s: &AudioSlot| matches!(s.line.state, LineState::Open(_));
        let own = self
            .slots
            .iter_mut()
            .find(|s| open(s) && s.owner == Some(track));
        let (slot, changed) = match own {
            Some(slot) => (slot, false),
            None => {
                // A free slot; else one whose owner is no longer forwarded; else, for a
                // voice, one whose owner's voice is old enough. Silence takes no one's slot.
                let idle = |at: Option<Instant>| {
                    at.is_none_or(|at| now.saturating_duration_since(at) >= SLOT_BUSY)
                };
                let slot = self
                    .slots
                    .iter_mut()
                    .filter(|s| open(s))
                    .filter(|s| {
                        s.owner.is_none() || idle(s.last_sent) || (voice && idle(s.last_voice))
                    })
                    .min_by_key(|s| (s.owner.is_some(), s.last_voice, s.last_sent))?;
                (slot, true)
            }
        };
        let mid = slot.line.open_mid()?;
        let continuity = if changed {
            let elapsed = slot
                .last_sent
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
            let ticks = elapsed.as_millis() as u64 * OPUS_CLOCK_HZ / 1000;
            let timestamp_step = u32::try_from(ticks).unwrap_or(u32::MAX / 2).max(MIN_STEP);
            slot.owner = Some(track);
            slot.last_voice = None;
            Continuity::NewSource { timestamp_step }
        } else {
            Continuity::Same
        };
        slot.last_sent = Some(now);
        if voice {
            slot.last_voice = Some(now);
        }
        Some((mid, continuity))
    }
}
