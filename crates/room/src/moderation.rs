//! Moderator actions (docs/protocol.md, "Roles and moderation"). Every client mistake (not a
//! moderator, unknown target, bad password length, removing yourself) is answered with a
//! non-fatal `error` to the actor and changes nothing.

use crate::admission::{self, Entry, MAX_PASSWORD_CHARS};
use crate::room::{Room, Waiter};
use crate::rooms::Rooms;
use crate::secrets::hash_password;
use crate::types::{Action, Output, RoomError};
use moot_protocol::{ErrorCode, LeaveReason, ParticipantId, RoomName, ServerMessage};
use std::collections::VecDeque;

impl Rooms {
    /// Whether `id` setting `password` would take: a moderator of a room, a password of a
    /// valid length. The caller then hashes it outside the lock it keeps `Rooms` under
    /// ([`crate::hash_password`]) and passes the hash in `Action::SetPassword::hashed`, so
    /// that only a moderator's valid request ever makes the server run Argon2.
    pub fn password_to_hash(&self, id: ParticipantId, password: &str) -> bool {
        let length = password.chars().count();
        (1..=MAX_PASSWORD_CHARS).contains(&length)
            && self
                .location
                .get(&id)
                .and_then(|name| self.rooms.get(name))
                .is_some_and(|room| room.is_moderator(id))
    }

    pub(crate) fn moderate(&mut self, id: ParticipantId, action: Action) -> Result<(), RoomError> {
        let name = action.wire_name();
        if self.waiting.contains_key(&id) {
            // Someone in the lobby is no moderator of anything.
            self.reply(id, ErrorCode::NotAllowed, not_a_moderator(name));
            return Ok(());
        }
        let Some(room_name) = self.member_room(id, name)? else {
            return Ok(());
        };
        if !self.live_room(&room_name).0.is_moderator(id) {
            self.reply(id, ErrorCode::NotAllowed, not_a_moderator(name));
            return Ok(());
        }
        match action {
            Action::SetLobby(enabled) => self.set_lobby(&room_name, enabled),
            Action::SetPassword {
                password,
                salt,
                hashed,
            } => {
                let length = password.chars().count();
                if !(1..=MAX_PASSWORD_CHARS).contains(&length) {
                    let message = format!(
                        "a meeting password must be 1 to {MAX_PASSWORD_CHARS} characters long, \
                         this one has {length}"
                    );
                    {
                        self.reply(id, ErrorCode::BadPassword, message);
                        return Ok(());
                    }
                }
                let phc = hashed.unwrap_or_else(|| hash_password(&password, &salt));
                let (room, out) = self.live_room(&room_name);
                room.set_password_hash(Some(phc));
                // Always announced, even when replacing a password: the setter sees it took.
                room.update_settings(true, |s| s.password = true, out);
            }
            Action::RemovePassword => {
                let (room, out) = self.live_room(&room_name);
                room.set_password_hash(None);
                room.update_settings(false, |s| s.password = false, out);
            }
            Action::SetLock(locked) => {
                let (room, out) = self.live_room(&room_name);
                room.update_settings(false, |s| s.locked = locked, out);
            }
            Action::SetChatHistory(enabled) => {
                let (room, out) = self.live_room(&room_name);
                room.update_settings(false, |s| s.chat_history = enabled, out);
            }
            Action::SetE2ee(enabled) => self.set_e2ee(id, &room_name, enabled),
            Action::SetRecording(enabled) => self.set_recording(id, &room_name, enabled),
            Action::SetAllowUnmute(allowed) => {
                let (room, out) = self.live_room(&room_name);
                room.update_settings(false, |s| s.allow_unmute = allowed, out);
            }
            Action::Admit(target) | Action::Reject(target) => {
                let admit = matches!(action, Action::Admit(_));
                let Some(waiter) = self.live_room(&room_name).0.take_waiter(target) else {
                    let message = format!("nobody with id {target} is waiting in the lobby");
                    {
                        self.reply(id, ErrorCode::UnknownParticipant, message);
                        return Ok(());
                    }
                };
                self.waiting.remove(&target);
                if admit {
                    self.admit(&room_name, waiter);
                } else {
                    self.outputs.push_back(Output::Refused {
                        id: target,
                        code: ErrorCode::Declined,
                        message: "a moderator declined to let you into this meeting".into(),
                    });
                }
                let (room, out) = self.live_room(&room_name);
                room.send_lobby(out);
            }
            Action::Remove(target) => {
                if target == id {
                    let message = "you cannot remove yourself: leave the meeting instead";
                    {
                        self.reply(id, ErrorCode::NotAllowed, message.into());
                        return Ok(());
                    }
                }
                if let Some((room, out)) = self.target_room(id, &room_name, target) {
                    room.leave(target, LeaveReason::Removed, out);
                    self.location.remove(&target);
                    self.away.remove(&target);
                }
            }
            Action::Mute(target, kind) => {
                if let Some((room, out)) = self.target_room(id, &room_name, target) {
                    room.mute(target, kind, out);
                }
            }
            Action::MuteAll(kind) => {
                let (room, out) = self.live_room(&room_name);
                for target in room.member_ids() {
                    if target != id {
                        room.mute(target, kind, out);
                    }
                }
            }
            Action::AllowUnmute(target) => {
                if let Some((room, out)) = self.target_room(id, &room_name, target) {
                    room.allow_unmute(target, out);
                }
            }
            Action::MakeModerator(target) => {
                if let Some((room, out)) = self.target_room(id, &room_name, target) {
                    room.make_moderator(target, out);
                }
            }
        }
        Ok(())
    }

    /// The actor's room if `target` is a member of it; otherwise tells the actor and `None`.
    fn target_room(
        &mut self,
        actor: ParticipantId,
        room_name: &RoomName,
        target: ParticipantId,
    ) -> Option<(&mut Room, &mut VecDeque<Output>)> {
        if self.live_room(room_name).0.contains(target) {
            return Some(self.live_room(room_name));
        }
        let message = format!("nobody with id {target} is in this meeting");
        self.reply(actor, ErrorCode::UnknownParticipant, message);
        None
    }

    fn set_lobby(&mut self, room_name: &RoomName, enabled: bool) {
        let (room, out) = self.live_room(room_name);
        let changed = room.update_settings(false, |s| s.lobby = enabled, out);
        if changed && !enabled {
            let waiters = self.live_room(room_name).0.take_lobby();
            if waiters.is_empty() {
                return;
            }
            for waiter in waiters {
                self.waiting.remove(&waiter.entry.id);
                self.admit(room_name, waiter);
            }
            let (room, out) = self.live_room(room_name);
            room.send_lobby(out);
        }
    }

    /// Lets someone out of the lobby into the room, if it has space (else `room_full`). The
    /// caller has taken them out of the lobby and its index.
    fn admit(&mut self, room_name: &RoomName, waiter: Waiter) {
        let max = self.config.max_participants_per_room;
        let (room, out) = self.live_room(room_name);
        let id = waiter.entry.id;
        if room.settings().e2ee && waiter.e2ee_public_key.is_none() {
            // E2EE was turned on while they waited: they still cannot enter unencrypted.
            let (code, message) = crate::e2ee::unsupported_refusal();
            out.push_back(Output::Refused { id, code, message });
            return;
        }
        if let Some(Entry::Refuse(code, message)) = admission::room_full(room, max) {
            out.push_back(Output::Refused { id, code, message });
            return;
        }
        room.enter(waiter.into_newcomer(), false, None, out);
        self.location.insert(id, room_name.clone());
    }

    /// A non-fatal error to `to`.
    pub(crate) fn reply(&mut self, to: ParticipantId, code: ErrorCode, message: String) {
        self.outputs.push_back(Output::Send {
            to,
            message: ServerMessage::error(code, message),
        });
    }
}

fn not_a_moderator(action: &str) -> String {
    format!("only a moderator may {action}: you are not one in this meeting")
}
