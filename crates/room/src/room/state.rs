//! Per-member state: media (microphone, camera, screen), hands, moderator mutes, names,
//! receive quality, and the room's dominant speaker.

use super::Room;
use crate::types::Output;
use moot_protocol::{
    DisplayName, ErrorCode, Participant, ParticipantId, Quality, ServerMessage, TrackKind,
};
use std::collections::VecDeque;

impl Room {
    /// Records `id`'s microphone, camera and screen share state and tells everyone else if it
    /// changed.
    /// Turning on media a moderator blocked lifts the block if `allow_unmute` is on, and is
    /// refused with `not_allowed` (changing nothing) otherwise. Returns false (and does
    /// nothing) if `id` is not here.
    pub(crate) fn set_media(
        &mut self,
        id: ParticipantId,
        audio: bool,
        video: bool,
        screen: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let allow_unmute = self.settings.allow_unmute;
        let participant = &mut self.members[index].participant;
        let unblock_audio = audio && participant.audio_blocked;
        let unblock_video = video && participant.video_blocked;
        if (unblock_audio || unblock_video) && !allow_unmute {
            let what = match (unblock_audio, unblock_video) {
                (true, true) => "microphone and camera",
                (true, false) => "microphone",
                _ => "camera",
            };
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::error(
                    ErrorCode::NotAllowed,
                    format!(
                        "a moderator turned off your {what} and participants may not turn it \
                         back on themselves: raise your hand to ask a moderator"
                    ),
                ),
            });
            return true;
        }
        if participant.audio == audio && participant.video == video && participant.screen == screen
        {
            // Clients may repeat their state (e.g. after a device change); saying nothing keeps
            // the others from re-rendering for no reason.
            return true;
        }
        participant.audio = audio;
        participant.video = video;
        participant.screen = screen;
        if unblock_audio || unblock_video {
            participant.audio_blocked &= !unblock_audio;
            participant.video_blocked &= !unblock_video;
            out.push_back(permissions(participant));
        }
        let participant = participant.clone();
        // The sender already knows its own state, so it is not told.
        self.broadcast(
            Some(id),
            ServerMessage::ParticipantUpdated { participant },
            out,
        );
        true
    }

    /// Raises or lowers `id`'s hand and tells everyone, the sender included. A raise takes the
    /// next place in the room's hand queue (`hand_seq`); raising a raised hand keeps its place.
    /// Returns false if `id` is not here.
    pub(crate) fn raise_hand(
        &mut self,
        id: ParticipantId,
        raised: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let participant = &mut self.members[index].participant;
        if participant.hand_raised != raised {
            participant.hand_raised = raised;
            participant.hand_seq = if raised {
                self.last_hand_seq += 1;
                Some(self.last_hand_seq)
            } else {
                None
            };
            let participant = participant.clone();
            self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
        }
        true
    }

    /// A moderator mute of `kind` for member `id` (nothing if already in force): the SFU stops
    /// forwarding first, then the target and everyone are told.
    pub(crate) fn mute(&mut self, id: ParticipantId, kind: TrackKind, out: &mut VecDeque<Output>) {
        let Some(index) = self.position(id) else {
            return;
        };
        let participant = &mut self.members[index].participant;
        let (on, blocked) = match kind {
            TrackKind::Audio => (&mut participant.audio, &mut participant.audio_blocked),
            TrackKind::Video => (&mut participant.video, &mut participant.video_blocked),
        };
        if *blocked {
            return;
        }
        *blocked = true;
        *on = false;
        out.push_back(permissions(participant));
        if self.members[index].away_until.is_none() {
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::Muted { kind },
            });
        }
        let participant = self.members[index].participant.clone();
        self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
    }

    /// Lifts both moderator mutes of member `id` and lowers their hand (nothing if neither).
    pub(crate) fn allow_unmute(&mut self, id: ParticipantId, out: &mut VecDeque<Output>) {
        let Some(index) = self.position(id) else {
            return;
        };
        let participant = &mut self.members[index].participant;
        let was_blocked = participant.audio_blocked || participant.video_blocked;
        if !was_blocked && !participant.hand_raised {
            return;
        }
        participant.audio_blocked = false;
        participant.video_blocked = false;
        participant.hand_raised = false;
        participant.hand_seq = None;
        if was_blocked {
            out.push_back(permissions(participant));
        }
        let participant = participant.clone();
        self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
    }

    /// Renames member `id` and tells everyone, the sender included (nothing if unchanged).
    /// Returns false if `id` is not here. Chat messages already sent keep the old name.
    pub(crate) fn set_name(
        &mut self,
        id: ParticipantId,
        name: DisplayName,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let participant = &mut self.members[index].participant;
        if participant.name != name {
            participant.name = name;
            let participant = participant.clone();
            self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
        }
        true
    }

    /// Records what member `id` wants to receive and tells the SFU (always, even if
    /// unchanged: it costs nothing and keeps the SFU's view certain). Nobody else is told.
    /// Returns false if `id` is not here.
    pub(crate) fn set_quality(
        &mut self,
        id: ParticipantId,
        quality: Quality,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        self.members[index].quality = quality;
        out.push_back(Output::Quality { id, quality });
        true
    }

    /// The SFU says `speaker` speaks now (`None`: nobody). Tells everyone if that changed; a
    /// speaker who is not a member is ignored (the SFU may lag behind a leave).
    pub(crate) fn set_dominant(
        &mut self,
        speaker: Option<ParticipantId>,
        out: &mut VecDeque<Output>,
    ) {
        if speaker.is_some_and(|s| !self.contains(s)) || speaker == self.dominant {
            return;
        }
        self.dominant = speaker;
        self.broadcast(None, ServerMessage::DominantSpeaker { id: speaker }, out);
    }
}

pub(super) fn permissions(participant: &Participant) -> Output {
    Output::Permissions {
        id: participant.id,
        audio: !participant.audio_blocked,
        video: !participant.video_blocked,
    }
}
