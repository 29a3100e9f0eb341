//! The registry of live rooms: creates a room on its first join, drops it on its last leave,
//! knows which room each participant is in (or waiting for), and runs the join flow.

use crate::admission::{self, Entry};
use crate::e2ee::e2ee_key;
use crate::guessable;
use crate::room::{Newcomer, Room, Waiter};
use crate::throttle::AddressThrottle;
use crate::types::{Input, JoinRequest, Output, RoomError, RoomInstanceId, RoomsConfig};
use moot_protocol::{
    DisplayName, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomName,
    ServerMessage,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// All rooms of one server. Feed it [`Input`]s with [`Rooms::handle`], then drain
/// [`Rooms::poll_output`] until it returns `None`.
#[derive(Debug)]
pub struct Rooms {
    pub(crate) config: RoomsConfig,
    /// Keyed by canonical name. A `BTreeMap` so that anything iterating over rooms (metrics,
    /// later shutdown notices) does so in a stable order, which keeps tests deterministic.
    pub(crate) rooms: BTreeMap<RoomName, Room>,
    /// Which room each participant is in; every member of every room is here and nowhere
    /// else, so a participant can never be in two rooms.
    pub(crate) location: HashMap<ParticipantId, RoomName>,
    /// Which room's lobby each waiting person is in. Disjoint from `location`.
    pub(crate) waiting: HashMap<ParticipantId, RoomName>,
    /// Members whose connection dropped, with the time their grace period ends. Each is in
    /// `location` too and marked away in its room.
    pub(crate) away: HashMap<ParticipantId, Instant>,
    /// Failed passwords per client address, across rooms.
    pub(crate) addresses: AddressThrottle,
    /// The last instance id handed out; 0 means none yet, so ids start at 1.
    last_instance: u64,
    pub(crate) outputs: VecDeque<Output>,
}

impl Rooms {
    pub fn new(config: RoomsConfig) -> Self {
        Self {
            config,
            rooms: BTreeMap::new(),
            location: HashMap::new(),
            waiting: HashMap::new(),
            away: HashMap::new(),
            addresses: AddressThrottle::default(),
            last_instance: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Applies one input. Errors are sequencing bugs of the server (unknown participant,
    /// joining twice) and change nothing. Client mistakes and refusals are not errors: they are
    /// answered through outputs ([`Output::Refused`], or an `error` message to the sender).
    ///
    /// A join into a room with a password verifies it with Argon2id, which takes tens of
    /// milliseconds of this thread (only when the attempt is not throttled).
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<(), RoomError> {
        self.addresses.prune(now);
        match input {
            Input::Join {
                id,
                room,
                name,
                request,
            } => self.join(now, id, room, name, request),
            Input::Leave { id, reason } => self.leave(id, reason),
            Input::MediaState {
                id,
                audio,
                video,
                screen,
            } => self.media_state(id, audio, video, screen),
            Input::RaiseHand { id, raised } => self.raise_hand(id, raised),
            Input::Moderate { id, action } => self.moderate(id, action),
            Input::Chat { id, text, to } => self.chat(now, id, text, to),
            Input::React { id, emoji } => self.react(now, id, emoji),
            Input::SetName { id, name } => self.set_name(id, name),
            Input::SetQuality { id, quality } => self.set_quality(id, quality),
            Input::E2ee { id, to, payload } => self.relay_e2ee(now, id, to, payload),
            Input::DominantSpeaker { id, room_of } => self.dominant_speaker(id, room_of),
            Input::RecordingEnded { instance, reason } => {
                self.recording_ended(instance, &reason);
                Ok(())
            }
            Input::Disconnect { id } => self.disconnect(now, id),
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

    /// Participants in all rooms together (not counting lobbies; counting those away).
    pub fn participant_count(&self) -> usize {
        self.location.len()
    }

    /// People waiting in all lobbies together.
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
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

    /// The room `id` is in, if any (someone waiting in a lobby is in no room yet).
    pub fn room_of(&self, id: ParticipantId) -> Option<&RoomName> {
        self.location.get(&id)
    }

    /// Client addresses the password throttle currently remembers.
    pub fn throttled_address_count(&self) -> usize {
        self.addresses.len()
    }

    fn refuse(&mut self, id: ParticipantId, code: ErrorCode, message: String) {
        self.outputs
            .push_back(Output::Refused { id, code, message });
    }

    /// The password hash a join to `room` with `password` from `client` would be checked
    /// against now, if any: the caller checks it outside the lock it keeps `Rooms` under
    /// ([`crate::verify_password`]) and passes the result in `JoinRequest::password_check`.
    pub fn password_to_check(
        &mut self,
        now: Instant,
        room: &RoomName,
        client: std::net::IpAddr,
        password: &str,
    ) -> Option<String> {
        let room = self.rooms.get_mut(room)?;
        admission::password_to_check(now, room, client, password, &mut self.addresses)
    }

    fn join(
        &mut self,
        now: Instant,
        id: ParticipantId,
        room_name: RoomName,
        name: DisplayName,
        request: JoinRequest,
    ) -> Result<(), RoomError> {
        if let Some(current) = self.location.get(&id).or_else(|| self.waiting.get(&id)) {
            return Err(RoomError::AlreadyJoined {
                id,
                room: current.clone(),
            });
        }
        if self.try_resume(id, &room_name, &request) {
            return Ok(());
        }
        let identity = request
            .identity
            .clone()
            .filter(|i| admission::valid_identity(i));
        let max = self.config.max_participants_per_room;
        let Some(room) = self.rooms.get_mut(&room_name) else {
            return {
                self.create(id, room_name, name, identity, request);
                Ok(())
            };
        };
        let entry = admission::decide(
            now,
            room,
            &request,
            identity.as_deref(),
            &mut self.addresses,
            max,
        );
        match entry {
            Entry::Refuse(code, message) => self.refuse(id, code, message),
            Entry::Enter { moderator } => {
                let newcomer = Newcomer {
                    id,
                    name,
                    identity,
                    e2ee_public_key: e2ee_key(&request),
                    resume_token: request.new_resume_token,
                };
                room.enter(newcomer, moderator, None, &mut self.outputs);
                self.location.insert(id, room_name);
            }
            Entry::Wait => {
                let knock = request.knock.as_deref().and_then(admission::clean_knock);
                let entry = LobbyEntry { id, name, knock };
                let waiter = Waiter {
                    entry,
                    identity,
                    e2ee_public_key: e2ee_key(&request),
                    resume_token: request.new_resume_token,
                };
                room.wait(waiter, &mut self.outputs);
                self.waiting.insert(id, room_name);
            }
        }
        Ok(())
    }

    /// The first person in creates the room and becomes its moderator with the host key.
    fn create(
        &mut self,
        id: ParticipantId,
        room_name: RoomName,
        name: DisplayName,
        identity: Option<String>,
        request: JoinRequest,
    ) {
        if self.config.require_unguessable_names && guessable::is_guessable(room_name.as_str()) {
            let message = format!(
                "this server only creates meetings with names that are hard to guess, and \
                 {room_name} is easy to guess: pick a longer name with less common words, or \
                 use the name the home page suggests"
            );
            return self.refuse(id, ErrorCode::GuessableRoomName, message);
        }
        if self.rooms.len() >= self.config.max_rooms {
            let message = format!(
                "this server already holds its limit of {} meetings; try again later",
                self.config.max_rooms
            );
            return self.refuse(id, ErrorCode::TooManyRooms, message);
        }
        // Checked before the room exists, so a limit of 0 never creates an empty room.
        if self.config.max_participants_per_room == 0 {
            let message = format!("the room {room_name} is full: this server allows nobody in");
            return self.refuse(id, ErrorCode::RoomFull, message);
        }
        let e2ee_public_key = e2ee_key(&request);
        if self.config.e2ee_by_default && e2ee_public_key.is_none() {
            let (code, message) = crate::e2ee::unsupported_refusal();
            return self.refuse(id, code, message);
        }
        self.last_instance += 1;
        let instance = RoomInstanceId(self.last_instance);
        self.outputs.push_back(Output::RoomCreated {
            instance,
            room: room_name.clone(),
        });
        let key = request.new_host_key;
        let mut room = Room::new(instance, room_name.clone(), key.clone());
        if self.config.e2ee_by_default {
            room.update_settings(false, |s| s.e2ee = true, &mut self.outputs);
        }
        let newcomer = Newcomer {
            id,
            name,
            identity,
            e2ee_public_key,
            resume_token: request.new_resume_token,
        };
        room.enter(newcomer, true, Some(key), &mut self.outputs);
        self.rooms.insert(room_name.clone(), room);
        self.location.insert(id, room_name);
    }

    pub(crate) fn leave(
        &mut self,
        id: ParticipantId,
        reason: LeaveReason,
    ) -> Result<(), RoomError> {
        if let Some(room_name) = self.waiting.remove(&id) {
            let (room, out) = self.live_room(&room_name);
            let was_there = room.take_waiter(id).is_some();
            debug_assert!(was_there, "waiting index and lobby agree");
            room.send_lobby(out);
            return Ok(());
        }
        let room_name = self
            .location
            .remove(&id)
            .ok_or(RoomError::UnknownParticipant(id))?;
        self.away.remove(&id);
        let room = self
            .rooms
            .get_mut(&room_name)
            .expect("every located participant's room is live (rooms are dropped only when empty)");
        let was_there = room.leave(id, reason, &mut self.outputs);
        debug_assert!(was_there, "location and room membership agree");
        self.drop_if_empty(&room_name);
        Ok(())
    }

    /// Drops an empty room: whoever still waits in its lobby is turned away, and dropping the
    /// `Room` forgets everything about it (no tombstone stays behind).
    pub(crate) fn drop_if_empty(&mut self, room_name: &RoomName) {
        if !self.rooms.get(room_name).is_some_and(Room::is_empty) {
            return;
        }
        let mut room = self.rooms.remove(room_name).expect("looked up just above");
        for waiter in room.take_lobby() {
            let id = waiter.entry.id;
            self.waiting.remove(&id);
            self.refuse(
                id,
                ErrorCode::Declined,
                "the meeting ended before a moderator let you in".into(),
            );
        }
        if room.settings().recording {
            // Nobody is left to be recorded: the recording ends with the room.
            self.outputs.push_back(Output::Recording {
                instance: room.instance(),
                enabled: false,
            });
        }
        self.outputs.push_back(Output::RoomDestroyed {
            instance: room.instance(),
            room: room.name().clone(),
        });
    }

    /// The live room `name` (which the caller knows exists from one of the indexes), with the
    /// output queue it writes to.
    pub(crate) fn live_room(&mut self, name: &RoomName) -> (&mut Room, &mut VecDeque<Output>) {
        let room = self
            .rooms
            .get_mut(name)
            .expect("indexed rooms are live (rooms are dropped only when empty)");
        (room, &mut self.outputs)
    }

    /// The room `id` is a member of. Someone in a lobby gets `out_of_order` (a client mistake:
    /// the server may pass on what they send before `welcome`); an unknown id is a server bug.
    pub(crate) fn member_room(
        &mut self,
        id: ParticipantId,
        what: &str,
    ) -> Result<Option<RoomName>, RoomError> {
        if let Some(room) = self.location.get(&id) {
            return Ok(Some(room.clone()));
        }
        if self.waiting.contains_key(&id) {
            self.outputs.push_back(Output::Send {
                to: id,
                message: ServerMessage::error(
                    ErrorCode::OutOfOrder,
                    format!(
                        "you are waiting in the lobby: {what} is possible only once you are in"
                    ),
                ),
            });
            return Ok(None);
        }
        Err(RoomError::UnknownParticipant(id))
    }

    fn media_state(
        &mut self,
        id: ParticipantId,
        audio: bool,
        video: bool,
        screen: bool,
    ) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "media_state")? else {
            return Ok(());
        };
        let (room, out) = self.live_room(&room_name);
        let was_there = room.set_media(id, audio, video, screen, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }

    fn raise_hand(&mut self, id: ParticipantId, raised: bool) -> Result<(), RoomError> {
        let Some(room_name) = self.member_room(id, "raise_hand")? else {
            return Ok(());
        };
        let (room, out) = self.live_room(&room_name);
        let was_there = room.raise_hand(id, raised, out);
        debug_assert!(was_there, "location and room membership agree");
        Ok(())
    }
}
