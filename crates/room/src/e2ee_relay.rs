//! The rooms' side of end-to-end encryption (docs/e2ee.md): turning it on for a room, and
//! relaying opaque key exchange messages between two members of one room (held for a member
//! who is away, within bounds). The limits and checks are `e2ee.rs`'s.

use crate::e2ee::{is_base64, MAX_E2EE_PAYLOAD};
use crate::rooms::Rooms;
use crate::types::{Output, RoomError};
use moot_protocol::{ErrorCode, ParticipantId, RoomName, ServerMessage};
use std::time::Instant;

impl Rooms {
    /// `set_e2ee` from a moderator of `room_name` (checked by the caller).
    pub(crate) fn set_e2ee(&mut self, id: ParticipantId, room_name: &RoomName, enabled: bool) {
        let (room, out) = self.live_room(room_name);
        let on = room.settings().e2ee;
        if on == enabled {
            return;
        }
        if !enabled {
            let message = "end-to-end encryption cannot be turned off in a meeting once it is \
                           on: start a new meeting to meet without it";
            self.reply(id, ErrorCode::NotAllowed, message.into());
            return;
        }
        let incapable = room.e2ee_incapable();
        if !incapable.is_empty() {
            let message = format!(
                "end-to-end encryption cannot be turned on while someone's browser cannot do \
                 it; they would have to leave first: {}",
                incapable.join(", ")
            );
            self.reply(id, ErrorCode::E2eeUnsupported, message);
            return;
        }
        if room.settings().recording {
            // The server must not keep what it can no longer see: stop, then tell.
            let instance = room.instance();
            out.push_back(Output::Recording {
                instance,
                enabled: false,
            });
        }
        room.update_settings(
            false,
            |s| {
                s.e2ee = true;
                s.recording = false;
            },
            out,
        );
    }

    /// `e2ee {to, payload}` from `id`: passed on to `to` as `e2ee {from, payload}` if both are
    /// in the same room; held for `to` while their connection is gone (delivered if they
    /// resume, see `Room::hold_e2ee`).
    pub(crate) fn relay_e2ee(
        &mut self,
        now: Instant,
        id: ParticipantId,
        to: ParticipantId,
        payload: String,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "e2ee")? else {
            return Ok(());
        };
        if payload.is_empty() || payload.len() > MAX_E2EE_PAYLOAD || !is_base64(&payload) {
            let message = format!(
                "an e2ee payload must be 1 to {MAX_E2EE_PAYLOAD} bytes of base64, this one has \
                 {} bytes{}",
                payload.len(),
                if is_base64(&payload) {
                    ""
                } else {
                    " and is not base64"
                }
            );
            self.reply(id, ErrorCode::BadE2ee, message);
            return Ok(());
        }
        let (room, out) = self.live_room(&room_name);
        if to == id || !room.contains(to) {
            let message = format!("nobody with id {to} is in this meeting besides you");
            self.reply(id, ErrorCode::UnknownParticipant, message);
            return Ok(());
        }
        if room.take_e2ee_token(id, now) != Some(true) {
            let message = "too many e2ee messages; slow down";
            self.reply(id, ErrorCode::RateLimited, message.into());
            return Ok(());
        }
        if room.is_present(to) {
            out.push_back(Output::Send {
                to,
                message: ServerMessage::E2ee { from: id, payload },
            });
        } else {
            let held = room.hold_e2ee(to, id, payload);
            debug_assert!(held, "a member who is not present is away");
        }
        Ok(())
    }
}
