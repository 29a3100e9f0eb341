//! The room side of chat and reactions: numbering, delivery, the in-memory history and the
//! per-member rate limits. The text itself has been checked by `crate::chat`.

use super::Room;
use crate::types::Output;
use moot_protocol::{ChatMessage, ErrorCode, ParticipantId, ServerMessage};
use std::collections::VecDeque;
use std::time::Instant;

impl Room {
    /// Delivers `text` (already checked) from member `from`: to everyone, the sender included,
    /// or privately to the sender and `to`. A recipient who is not a member gets the sender
    /// `unknown_participant`, a sender over the rate limit `rate_limited`; neither sends
    /// anything else. Returns false if `from` is not here.
    pub(crate) fn chat(
        &mut self,
        now: Instant,
        from: ParticipantId,
        text: String,
        to: Option<ParticipantId>,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(from) else {
            return false;
        };
        if let Some(recipient) = to.filter(|&r| !self.contains(r)) {
            let message = format!("nobody with id {recipient} is in this meeting");
            reply(from, ErrorCode::UnknownParticipant, message, out);
            return true;
        }
        if !self.members[index].chat_bucket.take(now) {
            let message = "you are sending chat messages too fast: wait a second and try again";
            reply(from, ErrorCode::RateLimited, message.into(), out);
            return true;
        }
        let message = ChatMessage {
            seq: self.chat.next_seq(),
            from,
            name: self.members[index].participant.name.clone(),
            text,
            to,
        };
        match to {
            None => {
                self.chat.keep(message.clone());
                self.broadcast(None, ServerMessage::Chat { message }, out);
            }
            Some(recipient) => {
                let chat = ServerMessage::Chat { message };
                out.push_back(Output::Send {
                    to: from,
                    message: chat.clone(),
                });
                let present = self
                    .position(recipient)
                    .is_some_and(|i| self.members[i].away_until.is_none());
                if recipient != from && present {
                    out.push_back(Output::Send {
                        to: recipient,
                        message: chat,
                    });
                }
            }
        }
        true
    }

    /// Shows `emoji` (already checked) from member `id` to everyone, the sender included, unless
    /// they are over the rate limit (`rate_limited`). Returns false if `id` is not here.
    pub(crate) fn react(
        &mut self,
        now: Instant,
        id: ParticipantId,
        emoji: String,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        if !self.members[index].reaction_bucket.take(now) {
            let message = "you are sending reactions too fast: wait a second and try again";
            reply(id, ErrorCode::RateLimited, message.into(), out);
            return true;
        }
        self.broadcast(None, ServerMessage::Reaction { id, emoji }, out);
        true
    }
}

/// A non-fatal error to `to`.
fn reply(to: ParticipantId, code: ErrorCode, message: String, out: &mut VecDeque<Output>) {
    out.push_back(Output::Send {
        to,
        message: ServerMessage::error(code, message),
    });
}
