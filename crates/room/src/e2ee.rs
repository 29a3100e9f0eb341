//! End-to-end encryption, the server's side of it (docs/e2ee.md): the room setting, who may
//! enter an encrypted room, and the relay of key exchange messages between two members.
//!
//! The server never sees a key: each client publishes an ECDH identity public key (carried
//! in its participant object) and sends its media keys to each other member in `e2ee`
//! messages, encrypted for that member. This crate checks only the envelope (size, alphabet,
//! both in the same room, rate) and never looks inside the payload.

use crate::{Output, RoomError, Rooms};
use moot_protocol::{ErrorCode, ParticipantId, RoomName, ServerMessage};
use std::time::{Duration, Instant};

/// Longest `e2ee.payload`, in bytes (base64 text).
pub const MAX_E2EE_PAYLOAD: usize = 8192;
/// Longest `hello.e2ee_public_key`, in bytes (a base64 P-256 or X25519 public key is 44–88).
pub const MAX_E2EE_PUBLIC_KEY: usize = 256;
/// Key exchange messages a member may send in a row (a key rotation in a room of n people
/// sends n − 1 at once)…
pub const E2EE_BURST: u32 = 250;
/// …after which one more is allowed per this much time.
pub const E2EE_REFILL: Duration = Duration::from_millis(10);
/// Key exchange messages held for an away member (docs/protocol.md, "Reconnecting"), at most
/// this many from each sender; a sender's oldest is dropped first. Each is at most
/// [`MAX_E2EE_PAYLOAD`] bytes, so an away member holds at most this × that × (room size − 1),
/// for at most the resume grace.
pub const MAX_HELD_E2EE_PER_SENDER: usize = 4;

/// Standard base64 (with or without padding), as the payloads and keys are sent.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether `key` has the shape of a public key: 1–256 characters of base64.
pub fn valid_e2ee_public_key(key: &str) -> bool {
    (1..=MAX_E2EE_PUBLIC_KEY).contains(&key.len()) && is_base64(key)
}

/// The fatal refusal of someone whose client cannot do end-to-end encryption.
pub(crate) fn unsupported_refusal() -> (ErrorCode, String) {
    (
        ErrorCode::E2eeUnsupported,
        "this meeting is end-to-end encrypted and your browser cannot encrypt its media end \
         to end, so it cannot join: use a browser that can (Moot's web client does it in \
         current Chromium, Chrome and Edge)"
            .into(),
    )
}

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
        room.update_settings(false, |s| s.e2ee = true, out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_shapes() {
        assert!(is_base64("QUJD"));
        assert!(is_base64("QUI="));
        assert!(is_base64("a+/9"));
        assert!(!is_base64("QU==="));
        assert!(!is_base64("QU I="));
        assert!(!is_base64("<script>"));
        assert!(valid_e2ee_public_key("BP3x"));
        assert!(!valid_e2ee_public_key(""));
        assert!(!valid_e2ee_public_key(&"A".repeat(MAX_E2EE_PUBLIC_KEY + 1)));
    }
}
