//! The room side of reconnection: members whose connection dropped stay, marked away, until
//! they resume or their grace period ends (docs/protocol.md, "Reconnecting").

use super::state::permissions;
use super::Room;
use crate::e2ee::MAX_HELD_E2EE_PER_SENDER;
use crate::secrets::secrets_equal;
use crate::types::Output;
use moot_protocol::{ParticipantId, Quality, ServerMessage};
use std::collections::VecDeque;
use std::time::Instant;

impl Room {
    /// Marks member `id` away until `deadline`. `None` if `id` is not here; `Some(false)` if it
    /// already was away (its first deadline stands).
    pub(crate) fn disconnect(&mut self, id: ParticipantId, deadline: Instant) -> Option<bool> {
        let index = self.position(id)?;
        let member = &mut self.members[index];
        if member.away_until.is_some() {
            return Some(false);
        }
        member.away_until = Some(deadline);
        member.held_e2ee.clear();
        Some(true)
    }

    /// Keeps `e2ee {from, payload}` for away member `to`, to deliver right after their resumed
    /// `welcome` (a newcomer's key, or a fresh key after someone left, would otherwise be lost
    /// and nothing sends it again). At most [`MAX_HELD_E2EE_PER_SENDER`] from each sender: a
    /// sender's oldest goes first (a later key supersedes it), so no member can crowd out
    /// another's. Held messages live in memory only and go with the member if they never
    /// resume. Returns false (and keeps nothing) if `to` is not an away member.
    pub(crate) fn hold_e2ee(
        &mut self,
        to: ParticipantId,
        from: ParticipantId,
        payload: String,
    ) -> bool {
        let Some(index) = self.position(to) else {
            return false;
        };
        let member = &mut self.members[index];
        if member.away_until.is_none() {
            return false;
        }
        let held = &mut member.held_e2ee;
        if held.iter().filter(|(f, _)| *f == from).count() >= MAX_HELD_E2EE_PER_SENDER {
            let oldest = held.iter().position(|(f, _)| *f == from);
            if let Some(oldest) = oldest {
                held.remove(oldest);
            }
        }
        held.push_back((from, payload));
        true
    }

    /// Drops the key exchange messages `from` sent to away members (`from` left: its keys are
    /// of no use any more, and its id would be unknown to the resumed client).
    pub(super) fn forget_held_e2ee_from(&mut self, from: ParticipantId) {
        for member in &mut self.members {
            member.held_e2ee.retain(|(f, _)| *f != from);
        }
    }

    /// The away member whose resume token is `token`, if any. Every away member's token is
    /// compared in full (in time that depends only on the lengths), and an empty token never
    /// matches.
    pub(crate) fn away_with_token(&self, token: &str) -> Option<ParticipantId> {
        if token.is_empty() {
            return None;
        }
        // Present members too: a client whose network changed comes back before the server
        // has noticed its old connection is dead; the new connection takes over.
        let mut found = None;
        for member in &self.members {
            if secrets_equal(&member.resume_token, token) && found.is_none() {
                found = Some(member.participant.id);
            }
        }
        found
    }

    /// Continues away member `id`'s session on a new connection: media goes back on (with any
    /// moderator block re-applied at once), a `welcome` with `resumed: true` and the new resume
    /// token (the old one is used up), what a newcomer gets after it, the SFU's quality if not
    /// the default, the lobby for a moderator, and the key exchange messages held for `id`
    /// while away, in the order they came. Nobody else is told: to them `id` never left.
    pub(crate) fn resume(
        &mut self,
        id: ParticipantId,
        new_token: String,
        out: &mut VecDeque<Output>,
    ) {
        let Some(index) = self.position(id) else {
            return;
        };
        let member = &mut self.members[index];
        member.away_until = None;
        member.resume_token = new_token.clone();
        let you = member.participant.clone();
        let quality = member.quality;
        let held = std::mem::take(&mut member.held_e2ee);
        out.push_back(Output::Joined {
            id,
            instance: self.instance,
        });
        if you.audio_blocked || you.video_blocked {
            out.push_back(permissions(&you));
        }
        // The host key is not repeated: the creator's client kept it from the first welcome.
        self.welcome(&you, None, new_token, true, out);
        if quality != Quality::High {
            out.push_back(Output::Quality { id, quality });
        }
        if you.moderator && !self.lobby.is_empty() {
            self.send_lobby_to(id, out);
        }
        // After `welcome`: the client must know the senders (their participant objects) before
        // it can open their keys.
        for (from, payload) in held {
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::E2ee { from, payload },
            });
        }
    }
}
