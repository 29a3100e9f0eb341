//! End-to-end encryption, the server's side of it (docs/e2ee.md): the limits, what a valid
//! identity key is, and who may enter an encrypted room. The `Rooms` side (the setting, the
//! relay of key exchange messages between two members) is `e2ee_relay.rs`.
//!
//! The server never sees a key: each client publishes an ECDH identity public key (carried
//! in its participant object) and sends its media keys to each other member in `e2ee`
//! messages, encrypted for that member. This crate checks only the envelope (size, alphabet,
//! both in the same room, rate) and never looks inside the payload.

use crate::types::JoinRequest;
use moot_protocol::ErrorCode;
use std::time::Duration;

/// Longest `e2ee.payload`, in bytes (base64 text).
pub const MAX_E2EE_PAYLOAD: usize = 8192;
/// Longest `hello.e2ee_public_key`, in bytes (a base64 P-256 or X25519 public key is 44–88).
pub const MAX_E2EE_PUBLIC_KEY: usize = 256;
/// Key exchange messages a member may send in a row (a key rotation in a room of n people
/// sends n − 1 at once)…
pub const E2EE_BURST: u32 = 250;
/// …after which one more is allowed per this much time.
pub const E2EE_REFILL: Duration = Duration::from_millis(10);
/// Key exchange messages held for an away member (docs/protocol.md, "Reconnecting"), at most
/// this many from each sender; a sender's oldest is dropped first. Each is at most
/// [`MAX_E2EE_PAYLOAD`] bytes, so an away member holds at most this × that × (room size − 1),
/// for at most the resume grace.
pub const MAX_HELD_E2EE_PER_SENDER: usize = 4;

/// Standard base64 (with or without padding), as the payloads and keys are sent.
pub(crate) fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether `key` has the shape of a public key: 1–256 characters of base64.
pub fn valid_e2ee_public_key(key: &str) -> bool {
    (1..=MAX_E2EE_PUBLIC_KEY).contains(&key.len()) && is_base64(key)
}

/// The E2EE identity key the joining participant will show the others: `Some` only when the
/// client said it can do end-to-end encryption and gave a valid key.
pub(crate) fn e2ee_key(request: &JoinRequest) -> Option<String> {
    request
        .e2ee_public_key
        .clone()
        .filter(|key| request.e2ee && valid_e2ee_public_key(key))
}

/// The fatal refusal of someone whose client cannot do end-to-end encryption.
pub(crate) fn unsupported_refusal() -> (ErrorCode, String) {
    (
        ErrorCode::E2eeUnsupported,
        "this meeting is end-to-end encrypted and your browser cannot encrypt its media end \
         to end, so it cannot join: use a browser that can (Moot's web client does it in \
         current Chromium, Chrome and Edge)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_shapes() {
        assert!(is_base64("QUJD"));
        assert!(is_base64("QUI="));
        assert!(is_base64("a+/9"));
        assert!(!is_base64("QU==="));
        assert!(!is_base64("QU I="));
        assert!(!is_base64("<script>"));
        assert!(valid_e2ee_public_key("BP3x"));
        assert!(!valid_e2ee_public_key(""));
        assert!(!valid_e2ee_public_key(&"A".repeat(MAX_E2EE_PUBLIC_KEY + 1)));
    }
}
