//! Reconnection (docs/protocol.md, "Reconnecting"): a member whose connection drops without
//! `leave` stays in the room, unseen by anyone as gone, for [`RESUME_GRACE`]; a `hello` with
//! their resume token within that time continues their session, and otherwise they leave with
//! reason `disconnected` once the server calls [`Rooms::handle_timeout`].

use crate::admission;
use crate::rooms::Rooms;
use crate::types::{JoinRequest, Output, RoomError};
use moot_protocol::{LeaveReason, ParticipantId, RoomName};
use std::time::{Duration, Instant};

/// How long a member whose connection dropped may come back as themselves.
pub const RESUME_GRACE: Duration = Duration::from_secs(10);

impl Rooms {
    /// Expires grace periods that ended at or before `now`: each such member leaves as with
    /// `Input::Leave { reason: Disconnected }` (in deadline order, then id order), with
    /// everything that entails (succession, the room's end if it empties).
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<(Instant, ParticipantId)> = self
            .away
            .iter()
            .filter(|&(_, &deadline)| deadline <= now)
            .map(|(&id, &deadline)| (deadline, id))
            .collect();
        due.sort_unstable();
        for (_, id) in due {
            let left = self.leave(id, LeaveReason::Disconnected);
            debug_assert!(left.is_ok(), "away members are located");
        }
    }

    /// When [`Rooms::handle_timeout`] next has something to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.away.values().min().copied()
    }

    /// Members whose connection is gone and who may still resume.
    pub fn away_count(&self) -> usize {
        self.away.len()
    }

    pub(crate) fn disconnect(&mut self, now: Instant, id: ParticipantId) -> Result<(), RoomError> {
        if self.waiting.contains_key(&id) {
            // Nobody in a lobby has a resume token: they just vanish from it.
            return self.leave(id, LeaveReason::Disconnected);
        }
        let room_name = self
            .location
            .get(&id)
            .cloned()
            .ok_or(RoomError::UnknownParticipant(id))?;
        let deadline = now + RESUME_GRACE;
        let (room, _) = self.live_room(&room_name);
        if room.disconnect(id, deadline) == Some(true) {
            self.away.insert(id, deadline);
        }
        Ok(())
    }

    /// Continues a member's session on a new connection if `request.resume` is their token
    /// (whether or not their old connection has been noticed dead yet) and they are
    /// not banned from `room_name` by the identity this `hello` brings. Returns whether it did;
    /// if not, the caller treats the join as a new person's (a wrong or expired token is
    /// ignored, as the protocol says).
    pub(crate) fn try_resume(
        &mut self,
        connection: ParticipantId,
        room_name: &RoomName,
        request: &JoinRequest,
    ) -> bool {
        let Some(token) = request.resume.as_deref() else {
            return false;
        };
        let Some(room) = self.rooms.get_mut(room_name) else {
            return false;
        };
        let banned = request
            .identity
            .as_deref()
            .filter(|i| admission::valid_identity(i))
            .is_some_and(|i| room.is_banned(i));
        if banned {
            return false;
        }
        let Some(participant) = room.away_with_token(token) else {
            return false;
        };
        self.away.remove(&participant);
        self.outputs.push_back(Output::Resumed {
            connection,
            participant,
        });
        let new_token = request.new_resume_token.clone();
        let (room, out) = self.live_room(room_name);
        room.resume(participant, new_token, out);
        true
    }
}
