//! Who gets in: ban > host key > lock > password > lobby, the guessable-name rule, and the
//! password throttle (docs/protocol.md, "Entering a room: who gets in").

mod common;
use common::*;
use moot_room::{verify_password, PasswordCheck};
use std::net::{IpAddr, Ipv4Addr};

fn code_of(out: &[Output]) -> ErrorCode {
    refusal(out).1
}

fn with(n: u64, change: impl FnOnce(&mut JoinRequest)) -> JoinRequest {
    let mut request = request(n);
    change(&mut request);
    request
}

fn entered(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Joined { .. }))
}

fn waiting(out: &[Output], n: u64) -> bool {
    out.first() == Some(&send(n, ServerMessage::Waiting {}))
}

/// Room "alpha" made by 1, then 2 removed from it (banning identity(2)).
fn room_with_ban() -> Harness {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::Remove(pid(2)));
    h
}

#[test]
fn a_removed_identity_is_refused_but_the_same_person_without_identity_is_a_new_browser() {
    let mut h = room_with_ban();
    let out = h.join(3, "alpha");
    assert!(entered(&out), "others still get in");
    let again = with(4, |r| r.identity = Some(identity(2)));
    let out = h.join_with(4, "alpha", again);
    let (id, code, message) = refusal(&out);
    assert_eq!((id, code), (pid(4), ErrorCode::Removed));
    assert!(message.contains("removed"), "{message}");
    let anonymous = with(5, |r| r.identity = None);
    assert!(entered(&h.join_with(5, "alpha", anonymous)));
}

#[test]
fn a_malformed_identity_is_treated_as_none_and_so_is_never_banned() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    let short = with(2, |r| r.identity = Some("short".into()));
    h.join_with(2, "alpha", short.clone());
    h.act(1, Action::Remove(pid(2)));
    assert!(entered(&h.join_with(3, "alpha", short)));
}

#[test]
fn a_ban_lasts_for_the_room_instance_only() {
    let mut h = room_with_ban();
    h.leave(1);
    assert_eq!(h.rooms.room_count(), 0);
    assert!(entered(&h.join(2, "alpha")), "a new instance has no bans");
}

#[test]
fn a_ban_beats_the_host_key() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::MakeModerator(pid(2)));
    // 2 removes the creator, who then comes back with the host key and the same identity.
    h.act(2, Action::Remove(pid(1)));
    let back = with(1, |r| r.host_key = Some(host_key(1)));
    assert_eq!(code_of(&h.join_with(1, "alpha", back)), ErrorCode::Removed);
}

#[test]
fn the_host_key_makes_a_moderator_and_skips_lock_password_and_lobby() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::SetLock(true));
    h.set_password(1, "secret");
    h.act(1, Action::SetLobby(true));
    h.leave(1);
    assert_eq!(h.participants("alpha"), [moderator(2)], "2 took over");
    let settings = RoomSettings {
        lobby: true,
        locked: true,
        password: true,
        allow_unmute: true,
        chat_history: false,
        e2ee: false,
        recording: false,
    };
    let back = with(3, |r| r.host_key = Some(host_key(1)));
    let out = h.join_with(3, "alpha", back);
    assert_eq!(
        out[1],
        send(
            3,
            welcome_with(moderator(3), "alpha", vec![moderator(2)], settings, None)
        ),
        "moderator again, and the key is not sent back"
    );
    // A wrong key is just no key: locked out.
    let wrong = with(4, |r| r.host_key = Some(host_key(2)));
    assert_eq!(
        code_of(&h.join_with(4, "alpha", wrong)),
        ErrorCode::RoomLocked
    );
}

#[test]
fn the_host_key_of_one_room_means_nothing_in_another() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.join(2, "beta");
    h.act(2, Action::SetLock(true));
    let other = with(3, |r| r.host_key = Some(host_key(1)));
    assert_eq!(
        code_of(&h.join_with(3, "beta", other)),
        ErrorCode::RoomLocked
    );
}

#[test]
fn a_new_host_key_is_used_only_when_creating_the_room() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLock(true));
    // 2 offered its own new key while joining; it must not have become the room's.
    h.act(1, Action::SetLock(false));
    h.join(2, "alpha");
    h.act(1, Action::SetLock(true));
    let key_of_2 = with(3, |r| r.host_key = Some(host_key(2)));
    assert_eq!(
        code_of(&h.join_with(3, "alpha", key_of_2)),
        ErrorCode::RoomLocked
    );
}

#[test]
fn a_locked_room_refuses_even_with_the_right_password_and_before_the_lobby() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.set_password(1, "secret");
    h.act(1, Action::SetLobby(true));
    h.act(1, Action::SetLock(true));
    let out = h.join_password(2, "alpha", "secret");
    let (_, code, message) = refusal(&out);
    assert_eq!(code, ErrorCode::RoomLocked);
    assert!(message.contains("locked"), "{message}");
    assert_eq!(code_of(&h.join(3, "alpha")), ErrorCode::RoomLocked);
    h.act(1, Action::SetLock(false));
    assert!(waiting(&h.join_password(4, "alpha", "secret"), 4));
}

#[test]
fn a_password_is_required_then_checked() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.set_password(1, "secret");
    let out = h.join(2, "alpha");
    let (_, code, message) = refusal(&out);
    assert_eq!(code, ErrorCode::PasswordRequired);
    assert!(message.contains("password"), "{message}");
    assert_eq!(
        code_of(&h.join_password(3, "alpha", "Secret")),
        ErrorCode::WrongPassword
    );
    assert_eq!(
        code_of(&h.join_password(4, "alpha", "")),
        ErrorCode::WrongPassword
    );
    assert_eq!(
        code_of(&h.join_password(5, "alpha", &"s".repeat(129))),
        ErrorCode::WrongPassword
    );
    assert!(entered(&h.join_password(6, "alpha", "secret")));
    assert_eq!(h.participants("alpha").len(), 2);
}

#[test]
fn the_password_applies_only_to_later_joins_and_can_be_removed() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.set_password(1, "secret");
    assert_eq!(
        h.participants("alpha").len(),
        2,
        "nobody already in is affected"
    );
    h.act(1, Action::RemovePassword);
    assert!(entered(&h.join(3, "alpha")));
}

#[test]
fn the_password_is_checked_before_the_lobby() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.set_password(1, "secret");
    h.act(1, Action::SetLobby(true));
    assert_eq!(
        code_of(&h.join_password(2, "alpha", "guess")),
        ErrorCode::WrongPassword
    );
    assert_eq!(h.rooms.waiting_count(), 0);
    assert!(waiting(&h.join_password(3, "alpha", "secret"), 3));
}

#[test]
fn a_guessable_name_cannot_create_a_room_when_the_server_requires_it() {
    let mut h = Harness::new(RoomsConfig {
        require_unguessable_names: true,
        ..RoomsConfig::default()
    });
    let (_, code, message) = refusal(&h.join(1, "team-meeting"));
    assert_eq!(code, ErrorCode::GuessableRoomName);
    assert!(message.contains("guess"), "{message}");
    assert_eq!(h.rooms.room_count(), 0);
    assert!(entered(&h.join(2, "bafok-tisul-moraz-punek")));
}

#[test]
fn guessable_names_are_fine_by_default_and_only_creating_is_checked() {
    let mut h = Harness::default();
    assert!(entered(&h.join(1, "team-meeting")));
    let mut strict = Harness::new(RoomsConfig {
        require_unguessable_names: true,
        ..RoomsConfig::default()
    });
    strict.join(1, "bafok-tisul-moraz-punek");
    assert!(entered(&strict.join(2, "bafok-tisul-moraz-punek")));
}

#[test]
fn capacity_is_checked_for_host_key_holders_too() {
    let mut h = Harness::with_limit(2);
    h.fill("alpha", [1, 2]);
    let key = with(3, |r| r.host_key = Some(host_key(1)));
    assert_eq!(code_of(&h.join_with(3, "alpha", key)), ErrorCode::RoomFull);
}

// --- the password throttle ---

fn room_with_password() -> Harness {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.set_password(1, "secret");
    h
}

fn from(n: u64, client: IpAddr, password: &str) -> JoinRequest {
    with(n, |r| {
        r.client = client;
        r.password = Some(password.into());
    })
}

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));

#[test]
fn each_address_gets_three_free_failures_then_doubling_waits() {
    let mut h = room_with_password();
    let mut n = 100;
    let mut attempt = |h: &mut Harness, password: &str| {
        n += 1;
        let out = h.join_with(n, "alpha", from(n, ATTACKER, password));
        refusal(&out)
    };
    for _ in 0..4 {
        assert_eq!(attempt(&mut h, "guess").1, ErrorCode::WrongPassword);
    }
    // After the 4th failure: 1 s. Even the right password is not checked meanwhile.
    let (_, code, message) = attempt(&mut h, "secret");
    assert_eq!(code, ErrorCode::TooManyAttempts);
    assert!(message.contains("wait 1 second "), "{message}");
    h.advance(1.0);
    assert_eq!(attempt(&mut h, "guess").1, ErrorCode::WrongPassword);
    // After the 5th: 2 s.
    h.advance(1.5);
    let (_, code, message) = attempt(&mut h, "guess");
    assert_eq!(code, ErrorCode::TooManyAttempts);
    assert!(message.contains("wait 1 second "), "rounded up: {message}");
    h.advance(0.5);
    assert_eq!(attempt(&mut h, "guess").1, ErrorCode::WrongPassword);
    // After the 6th: 4 s.
    let (_, _, message) = attempt(&mut h, "guess");
    assert!(message.contains("wait 4 seconds"), "{message}");
    // Another address is not affected, and the right password gets in.
    let out = h.join_with(500, "alpha", from(500, address(500), "secret"));
    assert!(matches!(out[0], Output::Joined { .. }));
    // Waiting it out lets the attacker in with the right password.
    h.advance(4.0);
    let out = h.join_with(501, "alpha", from(501, ATTACKER, "secret"));
    assert!(matches!(out[0], Output::Joined { .. }));
}

#[test]
fn waits_are_capped_at_five_minutes_and_failures_expire_after_fifteen() {
    let mut h = room_with_password();
    let mut n = 100;
    // 13 failures: waits 1, 2, 4 … 256 after the 4th to 12th, then 300 after the 13th.
    for failure in 1..=13u32 {
        n += 1;
        let out = h.join_with(n, "alpha", from(n, ATTACKER, "guess"));
        assert_eq!(
            refusal(&out).1,
            ErrorCode::WrongPassword,
            "failure {failure}"
        );
        if failure >= 4 {
            h.advance(f64::from(2u32.pow(failure - 4).min(300)));
        }
    }
    // The room throttle (20 free) is not involved yet. The last wait was 300 s, now over.
    n += 1;
    let out = h.join_with(n, "alpha", from(n, ATTACKER, "guess"));
    assert_eq!(refusal(&out).1, ErrorCode::WrongPassword);
    n += 1;
    let (_, code, message) = refusal(&h.join_with(n, "alpha", from(n, ATTACKER, "guess")));
    assert_eq!(code, ErrorCode::TooManyAttempts);
    assert!(message.contains("wait 300 seconds"), "{message}");
    assert_eq!(h.rooms.throttled_address_count(), 1);
    // 15 minutes after the last failure, nothing about the address is remembered.
    h.advance(15.0 * 60.0);
    h.hand(1, true); // any input prunes
    assert_eq!(h.rooms.throttled_address_count(), 0);
    n += 1;
    let out = h.join_with(n, "alpha", from(n, ATTACKER, "guess"));
    assert_eq!(refusal(&out).1, ErrorCode::WrongPassword);
}

#[test]
fn a_missing_password_is_not_a_failed_attempt() {
    let mut h = room_with_password();
    for n in 100..110 {
        let no_password = with(n, |r| r.client = ATTACKER);
        assert_eq!(
            code_of(&h.join_with(n, "alpha", no_password)),
            ErrorCode::PasswordRequired
        );
    }
    assert_eq!(h.rooms.throttled_address_count(), 0);
}

#[test]
fn each_room_allows_twenty_failures_from_all_addresses_then_doubling_waits() {
    let mut h = room_with_password();
    h.join(2, "beta");
    h.set_password(2, "other");
    for n in 100..121 {
        let out = h.join_with(n, "alpha", from(n, address(n), "guess"));
        assert_eq!(refusal(&out).1, ErrorCode::WrongPassword, "attempt {n}");
    }
    // 21 failures: the room waits 1 s, for everyone, whatever they send.
    let fresh = from(300, address(300), "secret");
    let (_, code, message) = refusal(&h.join_with(300, "alpha", fresh));
    assert_eq!(code, ErrorCode::TooManyAttempts);
    assert!(message.contains("this meeting"), "{message}");
    // Another room is not affected.
    let out = h.join_with(301, "beta", from(301, address(301), "other"));
    assert!(matches!(out[0], Output::Joined { .. }));
    h.advance(1.0);
    assert_eq!(
        refusal(&h.join_with(302, "alpha", from(302, address(302), "guess"))).1,
        ErrorCode::WrongPassword
    );
    let (_, code, message) = refusal(&h.join_with(303, "alpha", from(303, address(303), "x")));
    assert_eq!(code, ErrorCode::TooManyAttempts);
    assert!(message.contains("wait 2 seconds"), "{message}");
    h.advance(2.0);
    let out = h.join_with(304, "alpha", from(304, address(304), "secret"));
    assert!(matches!(out[0], Output::Joined { .. }));
}

#[test]
fn failures_from_one_address_count_across_rooms() {
    let mut h = room_with_password();
    h.join(2, "beta");
    h.set_password(2, "other");
    for n in 100..104 {
        let target = if n % 2 == 0 { "alpha" } else { "beta" };
        let out = h.join_with(n, target, from(n, ATTACKER, "guess"));
        assert_eq!(refusal(&out).1, ErrorCode::WrongPassword);
    }
    let out = h.join_with(200, "beta", from(200, ATTACKER, "other"));
    assert_eq!(refusal(&out).1, ErrorCode::TooManyAttempts);
}

// --- passwords checked before the join, outside the rooms' lock ---

#[test]
fn the_hash_to_check_is_given_only_when_the_room_would_check_now() {
    let mut h = room_with_password();
    let now = h.now;
    let phc = h
        .rooms
        .password_to_check(now, &room("alpha"), ATTACKER, "secret")
        .expect("a password room, a plausible password, no wait");
    assert!(verify_password(&phc, "secret") && !verify_password(&phc, "guess"));
    assert_eq!(
        h.rooms
            .password_to_check(now, &room("nowhere"), ATTACKER, "x"),
        None
    );
    let long = "x".repeat(129);
    assert_eq!(
        h.rooms
            .password_to_check(now, &room("alpha"), ATTACKER, &long),
        None
    );
    let mut open = Harness::default();
    open.join(1, "beta");
    assert_eq!(
        open.rooms
            .password_to_check(now, &room("beta"), ATTACKER, "x"),
        None
    );
    // An address that must wait gets nothing hashed for it.
    for n in 100..104 {
        h.join_with(n, "alpha", from(n, ATTACKER, "guess"));
    }
    let now = h.now;
    assert_eq!(
        h.rooms
            .password_to_check(now, &room("alpha"), ATTACKER, "secret"),
        None
    );
}

#[test]
fn a_check_made_beforehand_decides_only_against_the_current_hash() {
    let mut h = room_with_password();
    let phc = h
        .rooms
        .password_to_check(h.now, &room("alpha"), address(2), "secret")
        .expect("checkable");
    let checked = |n: u64, password: &str, phc: &str| {
        with(n, |r| {
            r.password = Some(password.into());
            r.password_check = Some(PasswordCheck {
                phc: phc.to_owned(),
                matches: verify_password(phc, password),
            });
        })
    };
    assert!(entered(&h.join_with(
        2,
        "alpha",
        checked(2, "secret", &phc)
    )));
    assert_eq!(
        code_of(&h.join_with(3, "alpha", checked(3, "guess", &phc))),
        ErrorCode::WrongPassword
    );
    // The password changes after the check: the old result is ignored and the room checks
    // the password against the new hash itself.
    h.set_password(1, "another");
    assert_eq!(
        code_of(&h.join_with(4, "alpha", checked(4, "secret", &phc))),
        ErrorCode::WrongPassword
    );
    assert!(entered(&h.join_with(
        5,
        "alpha",
        checked(5, "another", &phc)
    )));
}
