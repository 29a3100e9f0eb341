//! Signaling wire types of Moot (docs/protocol.md is the normative text; these types follow it).
//!
//! This crate depends on nothing internal: the room logic, the server and the test clients all
//! speak through it.

mod messages;
mod names;

pub use messages::{
    decode_client_message, ChatMessage, ClientMessage, DecodeError, ErrorCode, IceServer,
    LeaveReason, LobbyEntry, Participant, Quality, RoomSettings, ServerMessage, TrackInfo,
    TrackKind, TrackSource, MAX_VIEW_HEIGHT, MAX_VIEW_SIZES, REACTIONS,
};
pub use names::{DisplayName, NameError, ParticipantId, RoomName};

/// The protocol version this build speaks; `hello.version` must equal it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest accepted signaling message, in bytes (a 50-track SDP is about 30 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
