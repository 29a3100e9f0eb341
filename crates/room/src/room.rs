//! One live room: who is in it, in join order, and who must be told about each change.
//!
//! A `Room` trusts its caller ([`crate::Rooms`]) to have checked registry-wide rules (the
//! participant is not elsewhere, the room has space); it only keeps its own members consistent
//! and emits the messages the protocol promises.

use crate::{Output, RoomInstanceId};
use moot_protocol::{DisplayName, Participant, ParticipantId, RoomName, ServerMessage};
use std::collections::VecDeque;
use std::time::Instant;

/// One person in a room. A struct rather than a bare `Participant` so that per-person room
/// state (role, hand raised, join time) has a place to go.
#[derive(Debug, Clone)]
struct Member {
    participant: Participant,
}

#[derive(Debug)]
pub(crate) struct Room {
    instance: RoomInstanceId,
    name: RoomName,
    /// In join order. A `Vec` because rooms are small (100 by default) and every change is
    /// broadcast to all members anyway, so a linear search costs nothing extra.
    members: Vec<Member>,
}

impl Room {
    pub(crate) fn new(instance: RoomInstanceId, name: RoomName) -> Self {
        Self {
            instance,
            name,
            members: Vec::new(),
        }
    }

    pub(crate) fn instance(&self) -> RoomInstanceId {
        self.instance
    }

    pub(crate) fn name(&self) -> &RoomName {
        &self.name
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Everyone in join order, as the wire shows them.
    pub(crate) fn participants(&self) -> Vec<Participant> {
        self.members.iter().map(|m| m.participant.clone()).collect()
    }

    /// Adds `id` (the caller has checked it is in no room and that there is space), welcomes it
    /// with everyone already there, and tells those people about it.
    pub(crate) fn join(
        &mut self,
        _now: Instant,
        id: ParticipantId,
        name: DisplayName,
        out: &mut VecDeque<Output>,
    ) {
        debug_assert!(
            self.position(id).is_none(),
            "caller checks for double joins"
        );
        // Media starts off: the client reports what it really sends with `media_state`.
        let you = Participant {
            id,
            name,
            audio: false,
            video: false,
        };
        out.push_back(Output::Joined {
            id,
            instance: self.instance,
        });
        out.push_back(Output::Send {
            to: id,
            message: ServerMessage::Welcome {
                version: moot_protocol::PROTOCOL_VERSION,
                you: you.clone(),
                room: self.name.clone(),
                participants: self.participants(),
            },
        });
        self.broadcast(
            id,
            ServerMessage::ParticipantJoined {
                participant: you.clone(),
            },
            out,
        );
        self.members.push(Member { participant: you });
    }

    /// Removes `id` and tells the others. Returns false (and does nothing) if `id` is not here.
    pub(crate) fn leave(
        &mut self,
        _now: Instant,
        id: ParticipantId,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        self.members.remove(index);
        // `Left` first: the server must stop forwarding this person's media before the others
        // are told they are gone, so no frame of theirs arrives after their tile is removed.
        out.push_back(Output::Left {
            id,
            instance: self.instance,
        });
        self.broadcast(id, ServerMessage::ParticipantLeft { id }, out);
        true
    }

    /// Records `id`'s microphone and camera state and tells everyone else if it changed.
    /// Returns false (and does nothing) if `id` is not here.
    pub(crate) fn set_media(
        &mut self,
        _now: Instant,
        id: ParticipantId,
        audio: bool,
        video: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let participant = &mut self.members[index].participant;
        if participant.audio == audio && participant.video == video {
            // Clients may repeat their state (e.g. after a device change); saying nothing keeps
            // the others from re-rendering for no reason.
            return true;
        }
        participant.audio = audio;
        participant.video = video;
        let participant = participant.clone();
        // The sender already knows its own state, so it is not told.
        self.broadcast(id, ServerMessage::ParticipantUpdated { participant }, out);
        true
    }

    fn position(&self, id: ParticipantId) -> Option<usize> {
        self.members.iter().position(|m| m.participant.id == id)
    }

    /// Sends `message` to every member except `except` (the one who caused it), in join order.
    fn broadcast(&self, except: ParticipantId, message: ServerMessage, out: &mut VecDeque<Output>) {
        for member in &self.members {
            let to = member.participant.id;
            if to != except {
                out.push_back(Output::Send {
                    to,
                    message: message.clone(),
                });
            }
        }
    }
}
