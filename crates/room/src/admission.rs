//! Who gets into a room (docs/protocol.md, "Entering a room: who gets in"): normalising the
//! `hello` fields, the host key comparison, the password hash and the failed-password throttle.

use crate::room::Room;
use crate::JoinRequest;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use moot_protocol::ErrorCode;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed passwords count for this long (a sliding window).
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed passwords from one client address (in all rooms) that cost no wait, per window.
pub const ADDRESS_FREE_FAILURES: usize = 3;
/// Failed passwords for one room (from all addresses together) that cost no wait, per window.
pub const ROOM_FREE_FAILURES: usize = 20;
/// The wait after the first failure beyond the free ones; each further failure doubles it.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Failure times kept per address or room. Once past the free failures the 10th doubling
/// already reaches `MAX_WAIT`, so older entries beyond this many could never change a wait.
const MAX_KEPT_FAILURES: usize = 64;

/// Argon2id cost: 19 MiB of memory, 2 passes, 1 lane. This is the OWASP password storage
/// recommendation for Argon2id: tens of milliseconds per check on one core, so an offline attack
/// on a leaked hash is expensive while the server (which checks one password at a time, and
/// only outside throttle waits) stays responsive. One lane because the check runs on the
/// caller's thread; more lanes would only help an attacker with parallel hardware less.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

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

/// Compares secrets in time that depends only on their lengths, so that a wrong host key
/// reveals nothing about how much of it was right.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("the Argon2 parameters are constants within the allowed ranges");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The Argon2id PHC string of `password` with `salt` (e.g. `$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str, salt: &[u8; 16]) -> String {
    let salt = SaltString::encode_b64(salt).expect("16 bytes is a valid salt length");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters and salt cannot fail")
        .to_string()
}

/// Whether `password` matches the PHC string `phc` (parameters are read from `phc`). Costs
/// tens of milliseconds and 19 MiB by design: call it outside any lock shared by rooms.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// How long one must wait after the `failures`-th failure in the window when `free` cost
/// nothing: 0 up to `free`, then 1 s, 2 s, 4 s … at most 300 s.
pub(crate) fn wait_after(failures: usize, free: usize) -> Duration {
    if failures <= free {
        return Duration::ZERO;
    }
    // 2^9 s already exceeds MAX_WAIT; capping the exponent avoids overflow.
    let doublings = (failures - free - 1).min(9) as u32;
    (FIRST_WAIT * 2u32.pow(doublings)).min(MAX_WAIT)
}

/// Recent failed passwords of one address or one room, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    times: VecDeque<Instant>,
}

impl Failures {
    fn prune(&mut self, now: Instant) {
        while let Some(&oldest) = self.times.front() {
            if now.saturating_duration_since(oldest) < FAILURE_WINDOW {
                break;
            }
            self.times.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// How much longer an attempt must wait, if it must.
    pub(crate) fn wait_left(&mut self, now: Instant, free: usize) -> Option<Duration> {
        self.prune(now);
        let last = *self.times.back()?;
        let until = last + wait_after(self.times.len(), free);
        (now < until).then(|| until - now)
    }

    pub(crate) fn record(&mut self, now: Instant) {
        self.times.push_back(now);
        if self.times.len() > MAX_KEPT_FAILURES {
            self.times.pop_front();
        }
    }
}

/// The throttle key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64
/// prefix, because one host or home network usually holds a whole /64 and could otherwise
/// rotate through addresses for free attempts.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// Failed passwords per client address, across all rooms. Entries are dropped once their last
/// failure is older than the window: `expiry` lists every recorded failure in time order, so
/// pruning costs amortised O(1) per failure and the map never outgrows the failures of the last
/// 15 minutes.
#[derive(Debug, Default)]
pub(crate) struct AddressThrottle {
    by_address: HashMap<IpAddr, Failures>,
    expiry: VecDeque<(Instant, IpAddr)>,
}

impl AddressThrottle {
    /// Forgets failures older than the window (and addresses with none left).
    pub(crate) fn prune(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.expiry.front() {
            if now.saturating_duration_since(at) < FAILURE_WINDOW {
                break;
            }
            self.expiry.pop_front();
            if let Some(failures) = self.by_address.get_mut(&key) {
                failures.prune(now);
                if failures.is_empty() {
                    self.by_address.remove(&key);
                }
            }
        }
    }

    pub(crate) fn wait_left(&mut self, now: Instant, address: IpAddr) -> Option<Duration> {
        self.by_address
            .get_mut(&address_key(address))?
            .wait_left(now, ADDRESS_FREE_FAILURES)
    }

    pub(crate) fn record(&mut self, now: Instant, address: IpAddr) {
        let key = address_key(address);
        self.expiry.push_back((now, key));
        self.by_address.entry(key).or_default().record(now);
    }

    /// Addresses currently remembered (for tests of the pruning).
    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }
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
    if room.settings().e2ee && request.e2ee_key().is_none() {
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
