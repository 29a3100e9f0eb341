//! Recording a meeting on the server (docs/protocol.md, "Recording"): only moderators start
//! and stop it, only on a server that records, never in an end-to-end encrypted meeting (the
//! server cannot see or hear it, and recording it would need its keys), and never silently:
//! `settings.recording` tells everyone, newcomers included, before the first packet is kept.

use crate::rooms::Rooms;
use crate::types::{Output, RoomInstanceId};
use moot_protocol::{ErrorCode, ParticipantId, RoomName, ServerMessage};

impl Rooms {
    /// `set_recording` from a moderator of `room_name` (checked by the caller).
    pub(crate) fn set_recording(&mut self, id: ParticipantId, room_name: &RoomName, enabled: bool) {
        let available = self.config.recording_available;
        let (room, _) = self.live_room(room_name);
        let settings = room.settings();
        let refusal = if settings.recording == enabled {
            let message = if enabled {
                "the meeting is already being recorded"
            } else {
                "the meeting is not being recorded"
            };
            Some((ErrorCode::OutOfOrder, message))
        } else if enabled && settings.e2ee {
            let message = "this meeting is end-to-end encrypted: the server cannot see or hear \
                           it, so it cannot record it; record on your own device instead";
            Some((ErrorCode::RecordingEncrypted, message))
        } else if enabled && !available {
            let message = "this server does not record meetings (its operator has not turned \
                           recording on); record on your own device instead";
            Some((ErrorCode::RecordingUnavailable, message))
        } else {
            None
        };
        if let Some((code, message)) = refusal {
            self.reply(id, code, message.into());
            return;
        }
        let (room, out) = self.live_room(room_name);
        let instance = room.instance();
        if !enabled {
            out.push_back(Output::Recording { instance, enabled });
        }
        room.update_settings(false, |s| s.recording = enabled, out);
        if enabled {
            out.push_back(Output::Recording { instance, enabled });
        }
    }

    /// The server stopped recording `instance` by itself: its files are finished already;
    /// everyone is told it stopped, each moderator why.
    pub(crate) fn recording_ended(&mut self, instance: RoomInstanceId, reason: &str) {
        let Some(name) = self
            .rooms
            .iter()
            .find(|(_, room)| room.instance() == instance && room.settings().recording)
            .map(|(name, _)| name.clone())
        else {
            return;
        };
        let (room, out) = self.live_room(&name);
        let moderators: Vec<ParticipantId> = room
            .member_ids()
            .into_iter()
            .filter(|id| room.is_moderator(*id))
            .collect();
        // The worker that hit the limit stopped already; the room's others (a spread room)
        // stop now, before anyone is told.
        out.push_back(Output::Recording {
            instance,
            enabled: false,
        });
        room.update_settings(false, |s| s.recording = false, out);
        let message = format!("the recording stopped: {reason}");
        for to in moderators {
            out.push_back(Output::Send {
                to,
                message: ServerMessage::error(ErrorCode::RecordingStopped, message.clone()),
            });
        }
    }
}
