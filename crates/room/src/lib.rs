//! Meeting rooms as a sans-IO state machine.
//!
//! This crate decides who is in which room, who may enter, who may moderate and who must be
//! told what; it never touches a socket, a clock or a random number generator. The server feeds
//! it [`Input`]s (with the current time, which the password throttle needs) and drains
//! [`Output`]s after every input. Keeping the rules here, away from I/O, is what lets every one
//! of them be unit tested deterministically. Time only passes when the server says so: besides
//! the `now` of every input, it calls [`Rooms::handle_timeout`] once [`Rooms::poll_timeout`]
//! is reached (the reconnection grace period ends there).
//!
//! Layout:
//! - `rooms.rs`: the registry of live rooms keyed by canonical [`RoomName`], the index of who is
//!   where (in a room or waiting in its lobby), and the join flow.
//! - `admission.rs`: the entry rules of docs/protocol.md ("Entering a room: who gets in"):
//!   ban > host key > lock > password > lobby; `secrets.rs` the password hash and the
//!   constant-time comparisons, `throttle.rs` the failed-password waits.
//! - `moderation.rs`: the moderator actions.
//! - `e2ee.rs`: end-to-end encryption's limits and who may enter an encrypted room;
//!   `e2ee_relay.rs` the setting and the relay of opaque key exchange messages (docs/e2ee.md).
//! - `chat.rs`: chat messages, reactions, names, receive quality and the dominant speaker.
//! - `resume.rs`: the reconnection grace period (docs/protocol.md, "Reconnecting").
//! - `room.rs`: one room: members in join order, lobby, settings, and the notifications it sends;
//!   `room/chat.rs`, `room/state.rs` and `room/away.rs` hold the room side of the features above.
//! - `bucket.rs`: the token bucket behind the chat and reaction rate limits.
//! - `guessable.rs`: the room name strength estimate shared with the browser.
//! - `types.rs`: [`Input`], [`Output`], [`JoinRequest`], [`Action`], [`RoomsConfig`], [`RoomError`].
//!
//! Security notes: passwords are kept only as Argon2id PHC strings, never logged (no `Debug`
//! output contains them) and never output. Resume tokens, like host keys, are compared in
//! constant time and never appear in `Debug` output. Client addresses are used only by the
//! throttle and forgotten 15 minutes after their last failed password.

#![forbid(unsafe_code)]

mod admission;
mod bucket;
mod chat;
mod e2ee;
mod e2ee_relay;
pub mod guessable;
mod moderation;
mod recording;
mod resume;
mod room;
mod rooms;
mod secrets;
mod throttle;
mod types;

pub use chat::{
    CHAT_BURST, CHAT_HISTORY_LEN, CHAT_REFILL, MAX_CHAT_CHARS, REACTION_BURST, REACTION_REFILL,
};
pub use e2ee::{
    valid_e2ee_public_key, E2EE_BURST, E2EE_REFILL, MAX_E2EE_PAYLOAD, MAX_E2EE_PUBLIC_KEY,
    MAX_HELD_E2EE_PER_SENDER,
};
pub use resume::RESUME_GRACE;
pub use rooms::Rooms;
pub use secrets::{hash_password, verify_password};
pub use throttle::{
    ADDRESS_FREE_FAILURES, FAILURE_WINDOW, FIRST_WAIT, MAX_WAIT, ROOM_FREE_FAILURES,
};
pub use types::{
    Action, Input, JoinRequest, Output, PasswordCheck, RoomError, RoomInstanceId, RoomsConfig,
};
