//! Sans-IO TURN server (RFC 8656 over RFC 8489 STUN) for Moot's built-in relay.
//!
//! Feed a [`Server`] what arrived — client datagrams or stream frames with their [`FiveTuple`],
//! datagrams from peers at a relay, relay sockets opened, connections closed, timeouts — and
//! drain [`Server::poll_output`] for what to send and which relay sockets to open or close.
//! No sockets, clocks or RNGs in here: time comes in as `Instant`s, secrets in the [`Config`].
//!
//! Credentials are the REST shared-secret scheme (username `<unix expiry>:<anything>`, password
//! base64(HMAC-SHA1(secret, username))) checked with the long-term credential mechanism. Peers
//! are restricted to a configured list (Moot's own media addresses), so the relay cannot be
//! used to reach anything else.

#![forbid(unsafe_code)]

mod allocation;
mod auth;
pub mod message;
mod server;

pub use allocation::{AllocationId, FiveTuple, Transport};
pub use auth::{long_term_key, rest_password};
pub use message::stream_frame_len;
pub use server::{Config, Output, Server, Stats};

#[cfg(test)]
mod tests;
