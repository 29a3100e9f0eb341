//! Who gets into a room (docs/protocol.md, "Entering a room: who gets in"): normalising the
//! `hello` fields and the decision, in the order ban > host key > lock > password > lobby. The
//! secrets it compares are `secrets.rs`'s, the failed-password waits `throttle.rs`'s.

use crate::e2ee::e2ee_key;
use crate::room::Room;
use crate::secrets::verify_password;
use crate::throttle::{AddressThrottle, ROOM_FREE_FAILURES};
use crate::types::JoinRequest;
use moot_protocol::ErrorCode;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Longest room password, in characters (protocol: `set_password` takes 1–128).
pub(crate) const MAX_PASSWORD_CHARS: usize = 128;
/// Longest knock note, in characters.
const MAX_KNOCK_CHARS: usize = 200;

/// Whether a `hello` identity has the documented shape: 16–64 of `A–Z a–z 0–9 - _`.
pub(crate) fn valid_identity(identity: &str) -> bool {
    (16..=64).contains(&identity.len())
        && identity
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The knock note as moderators see it, or `None` if nothing is left of it.
pub(crate) fn clean_knock(raw: &str) -> Option<String> {
    let without_controls: String = raw.chars().filter(|c| !c.is_control()).collect();
    let cut: String = without_controls
        .trim()
        .chars()
        .take(MAX_KNOCK_CHARS)
        .collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

/// How an existing room answers a `hello` that got past nothing yet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Straight in, as a moderator (host key) or not.
    Enter { moderator: bool },
    /// Into the lobby.
    Wait,
    /// Refused with this fatal error.
    Refuse(ErrorCode, String),
}

/// Applies the entry rules in their documented order: ban > host key > lock > password > lobby;
/// capacity is checked last, for whoever would enter or wait.
pub(crate) fn decide(
    now: Instant,
    room: &mut Room,
    request: &JoinRequest,
    identity: Option<&str>,
    addresses: &mut AddressThrottle,
    max_participants: usize,
) -> Entry {
    if identity.is_some_and(|i| room.is_banned(i)) {
        return Entry::Refuse(
            ErrorCode::Removed,
            "a moderator removed you from this meeting; you cannot come back into it".into(),
        );
    }
    if room.settings().e2ee && e2ee_key(request).is_none() {
        // Before the host key: not even the room's creator may enter an encrypted meeting
        // unencrypted (docs/e2ee.md).
        let (code, message) = crate::e2ee::unsupported_refusal();
        return Entry::Refuse(code, message);
    }
    if request
        .host_key
        .as_deref()
        .is_some_and(|key| room.host_key_matches(key))
    {
        return match room_full(room, max_participants) {
            Some(refusal) => refusal,
            None => Entry::Enter { moderator: true },
        };
    }
    if room.settings().locked {
        return Entry::Refuse(
            ErrorCode::RoomLocked,
            "this meeting is locked: nobody new can join until a moderator unlocks it".into(),
        );
    }
    if let Some(refusal) = check_password(now, room, request, addresses) {
        return refusal;
    }
    if let Some(refusal) = room_full(room, max_participants) {
        return refusal;
    }
    if room.settings().lobby {
        if room.lobby_len() >= max_participants {
            return Entry::Refuse(
                ErrorCode::RoomFull,
                format!(
                    "the lobby of {} is full: {} people are already waiting",
                    room.name(),
                    room.lobby_len()
                ),
            );
        }
        return Entry::Wait;
    }
    Entry::Enter { moderator: false }
}

/// `room_full` if nobody else fits in `room`.
pub(crate) fn room_full(room: &Room, max_participants: usize) -> Option<Entry> {
    (room.len() >= max_participants).then(|| {
        Entry::Refuse(
            ErrorCode::RoomFull,
            format!(
                "the room {} is full: it already has {} participants, the most this server allows",
                room.name(),
                room.len()
            ),
        )
    })
}

fn check_password(
    now: Instant,
    room: &mut Room,
    request: &JoinRequest,
    addresses: &mut AddressThrottle,
) -> Option<Entry> {
    let phc = room.password_hash()?.to_owned();
    let Some(given) = request.password.as_deref() else {
        return Some(Entry::Refuse(
            ErrorCode::PasswordRequired,
            "this meeting needs a password: ask the person who invited you".into(),
        ));
    };
    // Throttled attempts are answered before any hashing, so they cost the server nothing.
    if let Some(wait) = addresses.wait_left(now, request.client) {
        return Some(too_many(wait, "from your network address"));
    }
    if let Some(wait) = room.failures.wait_left(now, ROOM_FREE_FAILURES) {
        return Some(too_many(wait, "for this meeting"));
    }
    let plausible = (1..=MAX_PASSWORD_CHARS).contains(&given.chars().count());
    let matches = || match &request.password_check {
        Some(check) if check.phc == phc => check.matches,
        // Not checked beforehand, or the password changed since: check here.
        _ => verify_password(&phc, given),
    };
    if plausible && matches() {
        // A right password clears nothing: the failures still count until they age out, which
        // keeps the rule simple and gives an attacker who also knows one password nothing.
        return None;
    }
    addresses.record(now, request.client);
    room.failures.record(now);
    Some(Entry::Refuse(
        ErrorCode::WrongPassword,
        "wrong password for this meeting".into(),
    ))
}

/// The room's password hash, when a join to `room` with `password` from `client` would be
/// checked against it now: the room has a password, one is given and plausible, and neither
/// the address nor the room is being made to wait. Otherwise `None` (nothing to hash).
pub(crate) fn password_to_check(
    now: Instant,
    room: &mut Room,
    client: IpAddr,
    password: &str,
    addresses: &mut AddressThrottle,
) -> Option<String> {
    let phc = room.password_hash()?.to_owned();
    let plausible = (1..=MAX_PASSWORD_CHARS).contains(&password.chars().count());
    let waiting = addresses.wait_left(now, client).is_some()
        || room.failures.wait_left(now, ROOM_FREE_FAILURES).is_some();
    (plausible && !waiting).then_some(phc)
}

fn too_many(wait: Duration, whom: &str) -> Entry {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Entry::Refuse(
        ErrorCode::TooManyAttempts,
        format!(
            "too many wrong passwords {whom}: wait {seconds} second{} before trying again",
            if seconds == 1 { "" } else { "s" }
        ),
    )
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
