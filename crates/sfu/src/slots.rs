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
//! subscriber is told (`SfuOutput::SlotOwner`) before the packet is written. A slot keeps one
//! outgoing RTP stream: numbering continues across owners and timestamps step forward by the
//! time that passed (`Continuity::NewSource`), so the browser's jitter buffer sees one stream
//! with a pause. Packets are never held back waiting for the message.

use crate::forward::{prepare_write, write_to};
use crate::peer::{Continuity, Peer, SubState, Subscription};
use crate::{GroupId, MediaKind, PeerId, Sfu, SfuOutput, Source, TrackKey};
use std::time::{Duration, Instant};
use str0m::media::Mid;
use str0m::rtp::ExtensionValues;

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
    pub state: SubState,
    /// Slot mode ended while this was being negotiated: stop it once the answer is in.
    pub gone: bool,
    /// The microphone it carries now (None: free).
    pub owner: Option<TrackKey>,
    /// When its last packet was written.
    pub last_sent: Option<Instant>,
    /// When its last packet carrying voice (`speaker::VOICE_DBOV`) was written.
    pub last_voice: Option<Instant>,
}

impl AudioSlot {
    fn new() -> Self {
        Self {
            state: SubState::ToOpen,
            gone: false,
            owner: None,
            last_sent: None,
            last_voice: None,
        }
    }
}

impl Peer {
    /// Whether this subscriber receives microphones on slots now (or is about to).
    pub fn in_slot_mode(&self) -> bool {
        self.slots.iter().any(|s| {
            !s.gone
                && matches!(
                    s.state,
                    SubState::ToOpen | SubState::Negotiating(_) | SubState::Open(_)
                )
        })
    }

    /// The open slot to write `track`'s packet on (`voice`: it is at least
    /// `speaker::VOICE_DBOV` loud) and how the packet follows the slot's last one
    /// (`Continuity::NewSource`: the slot changed hands); None when every slot is busy with
    /// someone else's voice.
    pub fn slot_for(
        &mut self,
        now: Instant,
        track: TrackKey,
        voice: bool,
    ) -> Option<(Mid, Continuity)> {
        let open = |s: &AudioSlot| matches!(s.state, SubState::Open(_));
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
        let SubState::Open(mid) = slot.state else {
            unreachable!("only open slots are chosen")
        };
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

impl Sfu {
    /// Whether peer `id` can receive microphones on audio slots (its client said so in its
    /// offer). Set before `accept_offer`; in a small group it changes nothing.
    pub fn set_audio_slots(&mut self, id: PeerId, can: bool) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.audio_slots = can;
        }
    }

    /// Puts every ready, capable peer of `group` in or out of slot mode, as the group's
    /// selective audio says. Called whenever membership changes (`rerank`); does nothing for
    /// peers already where they should be.
    pub(crate) fn sync_slots(&mut self, group: GroupId) {
        let wanted = self.selective_audio.contains(&group);
        let members: Vec<PeerId> = self.groups.get(&group).cloned().unwrap_or_default();
        for id in members {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            if !peer.audio_slots || !peer.ready || peer.in_slot_mode() == wanted {
                continue;
            }
            if wanted {
                self.enter_slot_mode(group, id);
            } else {
                self.leave_slot_mode(group, id);
            }
        }
    }

    /// Stops `id`'s microphone subscriptions and asks for its slots in the next offer.
    fn enter_slot_mode(&mut self, group: GroupId, id: PeerId) {
        let peer = self.peers.get_mut(&id).expect("caller checked");
        let mut stopped = Vec::new();
        peer.subscriptions.retain_mut(|sub| {
            if sub.label != Source::Microphone {
                return true;
            }
            if let SubState::Open(mid) = sub.state {
                stopped.push((sub.source, mid));
            }
            sub.state.wind_down(&mut sub.source_gone)
        });
        // Slots of an earlier slot mode still being stopped (`gone`) stay until answered, so
        // that their m-lines are stopped; the new ones come beside them.
        peer.slots
            .extend(std::iter::repeat_with(AudioSlot::new).take(SLOT_COUNT));
        for (source, mid) in stopped {
            if let Some(track) = self.tracks.get_mut(&source) {
                track.subscribers.retain(|s| *s != (id, mid));
            }
        }
        let subscribers = self.slot_subscribers.entry(group).or_default();
        if !subscribers.contains(&id) {
            subscribers.push(id);
        }
        self.mark_dirty(id);
    }

    /// Stops `id`'s slots and subscribes it to every microphone of the group again.
    fn leave_slot_mode(&mut self, group: GroupId, id: PeerId) {
        if let Some(subscribers) = self.slot_subscribers.get_mut(&group) {
            subscribers.retain(|p| *p != id);
            if subscribers.is_empty() {
                self.slot_subscribers.remove(&group);
            }
        }
        let microphones: Vec<TrackKey> = self
            .group_tracks(group, id)
            .into_iter()
            .filter(|key| {
                self.tracks
                    .get(key)
                    .is_some_and(|t| t.source == Source::Microphone)
            })
            .collect();
        let peer = self.peers.get_mut(&id).expect("caller checked");
        peer.slots
            .retain_mut(|slot| slot.state.wind_down(&mut slot.gone));
        for source in microphones {
            peer.subscriptions.push(Subscription {
                source,
                label: Source::Microphone,
                kind: MediaKind::Audio,
                state: SubState::ToOpen,
                source_gone: false,
            });
        }
        self.mark_dirty(id);
    }

    /// Forwards one heard microphone packet to the group's slot subscribers. Per packet
    /// O(slot subscribers × SLOT_COUNT), like a track's own subscriber list.
    pub(crate) fn fan_out_to_slots(
        &mut self,
        now: Instant,
        group: GroupId,
        packet: &crate::RelayedPacket,
        out_ext: &ExtensionValues,
        resume: bool,
    ) {
        let Some(subscribers) = self.slot_subscribers.get(&group) else {
            return;
        };
        let key = packet.track;
        let voice = packet
            .audio_level
            .is_some_and(|level| level >= crate::speaker::VOICE_DBOV);
        for &sub_id in subscribers {
            if sub_id == key.peer {
                continue;
            }
            let Some(sub) = self.peers.get_mut(&sub_id) else {
                continue;
            };
            let Some((mid, continuity)) = sub.slot_for(now, key, voice) else {
                continue;
            };
            if matches!(continuity, Continuity::NewSource { .. }) {
                self.outputs.push_back(SfuOutput::SlotOwner {
                    peer: sub_id,
                    mid,
                    publisher: key.peer,
                });
            }
            let continuity = match continuity {
                Continuity::Same if resume => Continuity::Resume,
                other => other,
            };
            let Some(write) = prepare_write(sub, mid, packet, out_ext, continuity, false) else {
                continue;
            };
            write_to(
                sub,
                (sub_id, mid),
                write,
                packet.payload.len(),
                &mut self.stats,
                &mut self.dirty,
                &mut self.faulted,
            );
        }
    }

    /// A publisher left: the slots it held are free (their next owner is announced as usual).
    pub(crate) fn free_slots_of(&mut self, group: GroupId, publisher: PeerId) {
        let Some(subscribers) = self.slot_subscribers.get(&group) else {
            return;
        };
        for id in subscribers {
            if let Some(peer) = self.peers.get_mut(id) {
                for slot in &mut peer.slots {
                    if slot.owner.is_some_and(|o| o.peer == publisher) {
                        slot.owner = None;
                    }
                }
            }
        }
    }
}
