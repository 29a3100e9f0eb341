//! Everyday in-room messages (docs/protocol.md, "Messages, client to server"): `chat`, `react`,
//! `set_name`, `set_quality`, and the dominant speaker the SFU reports. Client mistakes are
//! answered with a non-fatal `error` to the sender and change nothing.

use crate::rooms::Rooms;
use crate::types::{Output, RoomError};
use moot_protocol::{DisplayName, ErrorCode, ParticipantId, Quality, ServerMessage, REACTIONS};
use std::time::{Duration, Instant};

/// Longest chat message, in characters after trimming.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Group messages a room keeps in memory (and shares with newcomers when its `chat_history`
/// setting is on).
pub const CHAT_HISTORY_LEN: usize = 100;
/// Chat messages a member may send in a row…
pub const CHAT_BURST: u32 = 5;
/// …after which one more is allowed per this much time.
pub const CHAT_REFILL: Duration = Duration::from_secs(1);
/// Reactions a member may send in a row…
pub const REACTION_BURST: u32 = 3;
/// …after which one more is allowed per this much time.
pub const REACTION_REFILL: Duration = Duration::from_secs(1);

/// The text as delivered (trimmed), or why it is refused.
pub(crate) fn clean_chat(text: &str) -> Result<String, String> {
    let text = text.trim();
    let length = text.chars().count();
    if length == 0 {
        return Err("a chat message cannot be empty".into());
    }
    if length > MAX_CHAT_CHARS {
        return Err(format!(
            "a chat message may have at most {MAX_CHAT_CHARS} characters, this one has {length}"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(
            "a chat message may not contain control characters other than newline and tab".into(),
        );
    }
    Ok(text.to_owned())
}

impl Rooms {
    pub(crate) fn chat(
        &mut self,
        now: Instant,
        id: ParticipantId,
        text: String,
        to: Option<ParticipantId>,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "chat")? else {
            return Ok(());
        };
        let text = match clean_chat(&text) {
            Ok(text) => text,
            Err(message) => {
                self.error_to(id, ErrorCode::BadChat, message);
                return Ok(());
            }
        };
        let (room, out) = self.live_room(&room_name);
        let was_there = room.chat(now, id, text, to, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }

    pub(crate) fn react(
        &mut self,
        now: Instant,
        id: ParticipantId,
        emoji: String,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "react")? else {
            return Ok(());
        };
        if !REACTIONS.contains(&emoji.as_str()) {
            let message = format!("a reaction must be one of {}", REACTIONS.join(" "));
            self.error_to(id, ErrorCode::BadReaction, message);
            return Ok(());
        }
        let (room, out) = self.live_room(&room_name);
        let was_there = room.react(now, id, emoji, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }

    pub(crate) fn set_name(
        &mut self,
        id: ParticipantId,
        name: DisplayName,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "set_name")? else {
            return Ok(());
        };
        let (room, out) = self.live_room(&room_name);
        let was_there = room.set_name(id, name, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }

    pub(crate) fn set_quality(
        &mut self,
        id: ParticipantId,
        quality: Quality,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "set_quality")? else {
            return Ok(());
        };
        let (room, out) = self.live_room(&room_name);
        let was_there = room.set_quality(id, quality, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }

    /// From the SFU, not a client: `room_of` must be a member (someone in a lobby has no media,
    /// so that is an error too).
    pub(crate) fn dominant_speaker(
        &mut self,
        speaker: Option<ParticipantId>,
        room_of: ParticipantId,
    ) -> Result<(), RoomError> {
        let room_name = self
            .location
            .get(&room_of)
            .cloned()
            .ok_or(RoomError::UnknownParticipant(room_of))?;
        let (room, out) = self.live_room(&room_name);
        room.set_dominant(speaker, out);
        Ok(())
    }

    /// A non-fatal error to `to`.
    pub(crate) fn error_to(&mut self, to: ParticipantId, code: ErrorCode, message: String) {
        self.outputs.push_back(Output::Send {
            to,
            message: ServerMessage::error(code, message),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_is_trimmed_and_checked() {
        assert_eq!(clean_chat("  hi\tthere\n "), Ok("hi\tthere".into()));
        assert_eq!(clean_chat("a\nb"), Ok("a\nb".into()));
        assert!(clean_chat(" \n\t ").is_err());
        assert!(clean_chat("a\u{7}b").is_err());
        assert!(clean_chat("a\rb").is_err());
        assert!(
            clean_chat("a\u{200b}b").is_ok(),
            "format characters are not controls"
        );
        let longest = "é".repeat(MAX_CHAT_CHARS);
        assert_eq!(clean_chat(&longest), Ok(longest.clone()));
        assert!(clean_chat(&format!("{longest}x")).is_err());
        assert_eq!(clean_chat(&format!("  {longest}  ")), Ok(longest));
    }
}
