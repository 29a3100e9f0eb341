//! Meeting rooms as a sans-IO state machine.
//!
//! This crate decides who is in which room and who must be told what; it never touches a
//! socket, a clock or a random number generator. The server feeds it [`Input`]s (with the
//! current time, so that later features such as lobby timeouts stay testable) and drains
//! [`Output`]s after every input. Keeping the rules here, away from I/O, is what lets every one
//! of them be unit tested deterministically.
//!
//! Layout, chosen so later features slot in without reshaping it:
//! - `rooms.rs`: the registry of live rooms keyed by canonical [`RoomName`], and the index of
//!   which participant is where. Room-wide policy that needs the config (capacity, later bans or
//!   passwords) is checked there.
//! - `room.rs`: one room: its participants in join order and the notifications it sends.
//!   Per-room state (moderators, lock, lobby, chat history) belongs there.
//! - `guessable.rs`: the room name strength estimate shared with the browser.

#![forbid(unsafe_code)]

pub mod guessable;
mod room;
mod rooms;

pub use rooms::Rooms;

use moot_protocol::{DisplayName, ErrorCode, ParticipantId, RoomName, ServerMessage};

/// Limits for all rooms of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomsConfig {
    /// A join is refused with `room_full` once this many people are in the room.
    pub max_participants_per_room: usize,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        // The protocol documents 100 as the default limit (docs/protocol.md, "Errors").
        Self {
            max_participants_per_room: 100,
        }
    }
}

/// Distinguishes successive lives of a room with the same name: when a room empties and is
/// re-created later it gets a new instance id. Numbered from 1 in creation order.
///
/// The server keys media routing by instance rather than by name, so that nothing from a
/// destroyed room (a late packet, a stale track) can leak into a new room of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomInstanceId(pub u64);

/// Something that happened to a participant, as reported by the server.
///
/// Not `#[non_exhaustive]` on purpose: when a feature adds an input, the server should fail to
/// compile until it decides where that input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A connection said `hello` (already validated) and wants to enter `room`.
    Join {
        id: ParticipantId,
        room: RoomName,
        name: DisplayName,
    },
    /// The participant sent `leave`, closed its socket or timed out.
    Leave { id: ParticipantId },
    /// The participant's microphone or camera was turned on or off.
    MediaState {
        id: ParticipantId,
        audio: bool,
        video: bool,
    },
}

/// Something the server must do. Drain with [`Rooms::poll_output`] after every input, in order:
/// the order is meaningful (e.g. `Left` comes before anyone is told, so media stops first).
///
/// Not `#[non_exhaustive]` on purpose, for the same reason as [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver this message to that participant's connection.
    Send {
        to: ParticipantId,
        message: ServerMessage,
    },
    /// `id` is now in room instance `instance`: the server connects its media there.
    Joined {
        id: ParticipantId,
        instance: RoomInstanceId,
    },
    /// The join was refused (e.g. room full); the server sends the error and closes.
    Refused {
        id: ParticipantId,
        code: ErrorCode,
        message: String,
    },
    /// `id` left `instance` (its media must stop being forwarded at once).
    Left {
        id: ParticipantId,
        instance: RoomInstanceId,
    },
    /// The first participant is about to enter a new room (comes before its `Joined`).
    RoomCreated {
        instance: RoomInstanceId,
        room: RoomName,
    },
    /// Every trace of the room (participants, settings, later chat) is gone from memory.
    RoomDestroyed {
        instance: RoomInstanceId,
        room: RoomName,
    },
}

/// Bad input from the server: an input that does not fit the current state. Such an input
/// changes nothing and produces no output; it points at a bug in the caller, not at a client
/// misbehaving (clients are checked by the server before anything reaches this crate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    #[error("participant {0} is not in any room")]
    UnknownParticipant(ParticipantId),
    #[error("participant {id} is already in room {room}")]
    AlreadyJoined { id: ParticipantId, room: RoomName },
}
