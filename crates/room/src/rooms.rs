//! The registry of live rooms: creates a room on its first join, drops it on its last leave,
//! and knows which room each participant is in.

use crate::room::Room;
use crate::{Input, Output, RoomError, RoomInstanceId, RoomsConfig};
use moot_protocol::{DisplayName, ErrorCode, Participant, ParticipantId, RoomName};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// All rooms of one server. Feed it [`Input`]s with [`Rooms::handle`], then drain
/// [`Rooms::poll_output`] until it returns `None`.
#[derive(Debug)]
pub struct Rooms {
    config: RoomsConfig,
    /// Keyed by canonical name. A `BTreeMap` so that anything iterating over rooms (metrics,
    /// later shutdown notices) does so in a stable order, which keeps tests deterministic.
    rooms: BTreeMap<RoomName, Room>,
    /// Which room each participant is in; every participant of every room is here and nowhere
    /// else, so a participant can never be in two rooms.
    location: HashMap<ParticipantId, RoomName>,
    /// The last instance id handed out; 0 means none yet, so ids start at 1.
    last_instance: u64,
    outputs: VecDeque<Output>,
}

impl Rooms {
    pub fn new(config: RoomsConfig) -> Self {
        Self {
            config,
            rooms: BTreeMap::new(),
            location: HashMap::new(),
            last_instance: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Applies one input. Errors are bad input (unknown participant, joining twice) and change
    /// nothing. A refused join (room full) is not an error: it is a normal outcome, reported as
    /// [`Output::Refused`].
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<(), RoomError> {
        match input {
            Input::Join { id, room, name } => self.join(now, id, room, name),
            Input::Leave { id } => self.leave(now, id),
            Input::MediaState { id, audio, video } => self.media_state(now, id, audio, video),
        }
    }

    /// The next thing to do, oldest first. Drain after every `handle` until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Rooms currently in memory (each has at least one participant).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Participants in all rooms together.
    pub fn participant_count(&self) -> usize {
        self.location.len()
    }

    /// Everyone in `room`, in join order; empty if there is no such room.
    pub fn participants_of(&self, room: &RoomName) -> Vec<Participant> {
        self.rooms
            .get(room)
            .map(Room::participants)
            .unwrap_or_default()
    }

    /// The current instance of `room`, if it is live.
    pub fn instance_of(&self, room: &RoomName) -> Option<RoomInstanceId> {
        self.rooms.get(room).map(Room::instance)
    }

    /// The room `id` is in, if any.
    pub fn room_of(&self, id: ParticipantId) -> Option<&RoomName> {
        self.location.get(&id)
    }

    fn join(
        &mut self,
        now: Instant,
        id: ParticipantId,
        room: RoomName,
        name: DisplayName,
    ) -> Result<(), RoomError> {
        if let Some(current) = self.location.get(&id) {
            return Err(RoomError::AlreadyJoined {
                id,
                room: current.clone(),
            });
        }
        let present = self.rooms.get(&room).map_or(0, Room::len);
        // Checked before the room exists too, so a limit of 0 never creates an empty room.
        if present >= self.config.max_participants_per_room {
            self.outputs.push_back(Output::Refused {
                id,
                code: ErrorCode::RoomFull,
                message: format!(
                    "the room {room} is full: it already has {present} participants, the most \
                     this server allows"
                ),
            });
            return Ok(());
        }
        let entry = match self.rooms.entry(room.clone()) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                self.last_instance += 1;
                let instance = RoomInstanceId(self.last_instance);
                self.outputs.push_back(Output::RoomCreated {
                    instance,
                    room: room.clone(),
                });
                entry.insert(Room::new(instance, room.clone()))
            }
        };
        entry.join(now, id, name, &mut self.outputs);
        self.location.insert(id, room);
        Ok(())
    }

    fn leave(&mut self, now: Instant, id: ParticipantId) -> Result<(), RoomError> {
        let room_name = self
            .location
            .remove(&id)
            .ok_or(RoomError::UnknownParticipant(id))?;
        let room = self
            .rooms
            .get_mut(&room_name)
            .expect("every located participant's room is live (rooms are dropped only when empty)");
        let was_there = room.leave(now, id, &mut self.outputs);
        debug_assert!(was_there, "location and room membership agree");
        if room.is_empty() {
            // Dropping the `Room` is what forgets everything about it: no tombstone stays behind.
            let room = self.rooms.remove(&room_name).expect("looked up just above");
            self.outputs.push_back(Output::RoomDestroyed {
                instance: room.instance(),
                room: room.name().clone(),
            });
        }
        Ok(())
    }

    fn media_state(
        &mut self,
        now: Instant,
        id: ParticipantId,
        audio: bool,
        video: bool,
    ) -> Result<(), RoomError> {
        let room_name = self
            .location
            .get(&id)
            .ok_or(RoomError::UnknownParticipant(id))?;
        let room = self
            .rooms
            .get_mut(room_name)
            .expect("every located participant's room is live (rooms are dropped only when empty)");
        let was_there = room.set_media(now, id, audio, video, &mut self.outputs);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }
}

#[cfg(test)]
#[path = "rooms_tests.rs"]
mod tests;
