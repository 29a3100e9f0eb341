//! Roles and moderator actions: who may act, remove and ban, mute and unmute, succession.

mod common;
use common::*;

fn every_action() -> Vec<Action> {
    vec![
        Action::SetLobby(true),
        Action::SetPassword {
            password: "secret".into(),
            salt: [1; 16],
            hashed: None,
        },
        Action::RemovePassword,
        Action::SetLock(true),
        Action::SetAllowUnmute(false),
        Action::Admit(pid(4)),
        Action::Reject(pid(4)),
        Action::Remove(pid(1)),
        Action::Mute(pid(1), TrackKind::Audio),
        Action::MuteAll(TrackKind::Video),
        Action::AllowUnmute(pid(3)),
        Action::MakeModerator(pid(2)),
        Action::SetChatHistory(true),
    ]
}

#[test]
fn non_moderators_can_do_nothing_and_are_told_so() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    h.act(1, Action::Mute(pid(3), TrackKind::Audio));
    h.act(1, Action::SetLobby(true));
    h.join(4, "alpha");
    h.act(1, Action::SetLobby(false));
    h.act(1, Action::SetLobby(true));
    h.join(5, "alpha"); // waiting, for admit/reject
    let before = h.participants("alpha");
    for action in every_action() {
        let wire = action.wire_name();
        let (to, code, message) = error(&h.act(2, action));
        assert_eq!((to, code), (pid(2), ErrorCode::NotAllowed), "{wire}");
        assert!(
            message.contains("moderator") && message.contains(wire),
            "{message}"
        );
    }
    assert_eq!(h.participants("alpha"), before);
    assert_eq!(h.rooms.waiting_count(), 1);
    // The room still has no password and is not locked: a newcomer only waits.
    assert_eq!(h.join(6, "alpha")[0], send(6, ServerMessage::Waiting {}));
}

#[test]
fn actions_on_someone_not_in_the_room_are_unknown_participant() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.join(9, "beta");
    for action in [
        Action::Remove(pid(9)),
        Action::Mute(pid(9), TrackKind::Audio),
        Action::AllowUnmute(pid(9)),
        Action::MakeModerator(pid(9)),
        Action::Remove(pid(77)),
    ] {
        let (to, code, _) = error(&h.act(1, action));
        assert_eq!((to, code), (pid(1), ErrorCode::UnknownParticipant));
    }
    assert_eq!(h.participants("beta"), [moderator(9)]);
}

#[test]
fn set_password_checks_its_length() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for bad in [String::new(), "é".repeat(129)] {
        let action = Action::SetPassword {
            password: bad,
            salt: [0; 16],
            hashed: None,
        };
        let (_, code, message) = error(&h.act(1, action));
        assert_eq!(code, ErrorCode::BadPassword);
        assert!(message.contains("128"), "{message}");
    }
    assert!(h
        .join(3, "alpha")
        .iter()
        .any(|o| matches!(o, Output::Joined { .. })));
    let with_password = RoomSettings {
        password: true,
        ..INITIAL
    };
    let settings = ServerMessage::Settings {
        settings: with_password,
    };
    let out = h.set_password(1, &"é".repeat(128));
    assert_eq!(
        out,
        [
            send(1, settings.clone()),
            send(2, settings.clone()),
            send(3, settings)
        ]
    );
    // Never sent anywhere: no output mentions it (the settings only say one is set).
    let removed = ServerMessage::Settings { settings: INITIAL };
    assert_eq!(h.act(1, Action::RemovePassword)[0], send(1, removed));
    assert_eq!(h.act(1, Action::RemovePassword), [], "nothing to remove");
}

#[test]
fn every_setting_change_reaches_everyone() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let locked = RoomSettings {
        locked: true,
        ..INITIAL
    };
    let message = ServerMessage::Settings { settings: locked };
    assert_eq!(
        h.act(1, Action::SetLock(true)),
        [send(1, message.clone()), send(2, message)]
    );
    let strict = RoomSettings {
        allow_unmute: false,
        ..locked
    };
    let message = ServerMessage::Settings { settings: strict };
    assert_eq!(
        h.act(1, Action::SetAllowUnmute(false)),
        [send(1, message.clone()), send(2, message)]
    );
    assert_eq!(h.act(1, Action::SetAllowUnmute(false)), []);
    // Newcomers see the settings in their welcome (here via the host key, past the lock).
    let key = JoinRequest {
        host_key: Some(host_key(1)),
        ..request(3)
    };
    let out = h.join_with(3, "alpha", key);
    assert!(
        matches!(&out[1], Output::Send { message: ServerMessage::Welcome { settings, .. }, .. } if *settings == strict)
    );
}

#[test]
fn remove_stops_media_first_refuses_the_target_tells_the_others_and_bans() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let out = h.act(1, Action::Remove(pid(2)));
    let left = ServerMessage::ParticipantLeft {
        id: pid(2),
        reason: LeaveReason::Removed,
    };
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(
        out[0],
        Output::Left {
            id: pid(2),
            instance: RoomInstanceId(1)
        }
    );
    let (id, code, _) = refusal(&out[1..2]);
    assert_eq!((id, code), (pid(2), ErrorCode::Removed));
    assert_eq!(out[2..], [send(1, left.clone()), send(3, left)]);
    assert_eq!(h.participants("alpha"), [moderator(1), person(3)]);
    assert_eq!(h.rooms.room_of(pid(2)), None);
    // The same browser cannot come back, under a new connection id.
    let back = JoinRequest {
        identity: Some(identity(2)),
        ..request(20)
    };
    assert_eq!(
        refusal(&h.join_with(20, "alpha", back)).1,
        ErrorCode::Removed
    );
}

#[test]
fn nobody_can_remove_themselves() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let (_, code, message) = error(&h.act(1, Action::Remove(pid(1))));
    assert_eq!(code, ErrorCode::NotAllowed);
    assert!(message.contains("yourself"), "{message}");
    assert_eq!(h.participants("alpha").len(), 2);
}

#[test]
fn mute_blocks_the_media_at_the_sfu_and_tells_everyone() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    h.media(2, true, true);
    let out = h.act(1, Action::Mute(pid(2), TrackKind::Audio));
    let muted = Participant {
        video: true,
        audio_blocked: true,
        ..person(2)
    };
    assert_eq!(
        out,
        [
            Output::Permissions {
                id: pid(2),
                audio: false,
                video: true
            },
            send(
                2,
                ServerMessage::Muted {
                    kind: TrackKind::Audio
                }
            ),
            send(1, updated(muted.clone())),
            send(2, updated(muted.clone())),
            send(3, updated(muted.clone())),
        ]
    );
    assert_eq!(h.participants("alpha")[1], muted);
    assert_eq!(
        h.act(1, Action::Mute(pid(2), TrackKind::Audio)),
        [],
        "already muted"
    );
}

#[test]
fn mute_all_mutes_everyone_but_the_actor() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let out = h.act(1, Action::MuteAll(TrackKind::Video));
    let permissions: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Output::Permissions { .. }))
        .cloned()
        .collect();
    assert_eq!(
        permissions,
        [2, 3].map(|n| Output::Permissions {
            id: pid(n),
            audio: true,
            video: false
        })
    );
    assert!(out.contains(&send(
        2,
        ServerMessage::Muted {
            kind: TrackKind::Video
        }
    )));
    assert!(out.contains(&send(
        3,
        ServerMessage::Muted {
            kind: TrackKind::Video
        }
    )));
    let people = h.participants("alpha");
    assert!(!people[0].video_blocked);
    assert!(people[1].video_blocked && people[2].video_blocked);
}

#[test]
fn muted_people_may_unmute_themselves_while_allowed() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::Mute(pid(2), TrackKind::Audio));
    let out = h.media(2, true, false);
    let on = Participant {
        audio: true,
        ..person(2)
    };
    assert_eq!(
        out,
        [
            Output::Permissions {
                id: pid(2),
                audio: true,
                video: true
            },
            send(1, updated(on.clone())),
        ]
    );
    assert_eq!(h.participants("alpha")[1], on);
}

#[test]
fn without_allow_unmute_turning_blocked_media_on_is_refused_but_off_is_fine() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.media(2, true, true);
    h.act(1, Action::SetAllowUnmute(false));
    h.act(1, Action::Mute(pid(2), TrackKind::Video));
    let before = h.participants("alpha");
    let (to, code, message) = error(&h.media(2, true, true));
    assert_eq!((to, code), (pid(2), ErrorCode::NotAllowed));
    assert!(message.contains("raise your hand"), "{message}");
    assert_eq!(h.participants("alpha"), before);
    // Turning the unblocked audio off is fine.
    let out = h.media(2, false, false);
    assert_eq!(out.len(), 1);
    assert!(!h.participants("alpha")[1].audio);
    // Hand up, moderator allows: both blocks lifted, hand lowered, SFU told.
    h.hand(2, true);
    let out = h.act(1, Action::AllowUnmute(pid(2)));
    let allowed = person(2);
    assert_eq!(
        out,
        [
            Output::Permissions {
                id: pid(2),
                audio: true,
                video: true
            },
            send(1, updated(allowed.clone())),
            send(2, updated(allowed.clone())),
        ]
    );
    assert_eq!(h.media(2, true, true).len(), 1);
    assert_eq!(
        h.act(1, Action::AllowUnmute(pid(2))),
        [],
        "nothing to allow"
    );
}

#[test]
fn allow_unmute_lowers_a_hand_even_without_a_block() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.hand(2, true);
    let out = h.act(1, Action::AllowUnmute(pid(2)));
    assert_eq!(
        out,
        [send(1, updated(person(2))), send(2, updated(person(2)))]
    );
}

#[test]
fn moderators_can_make_moderators_who_can_then_act() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let out = h.act(1, Action::MakeModerator(pid(2)));
    let message = updated(moderator(2));
    assert_eq!(
        out,
        [
            send(1, message.clone()),
            send(2, message.clone()),
            send(3, message)
        ]
    );
    assert_eq!(h.act(1, Action::MakeModerator(pid(2))), [], "already one");
    assert_eq!(h.act(2, Action::SetLock(true)).len(), 3);
    // Moderators can remove each other (not themselves).
    assert!(matches!(
        h.act(2, Action::Remove(pid(1)))[0],
        Output::Left { .. }
    ));
}

#[test]
fn the_member_present_longest_succeeds_the_last_moderator() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2, 3]);
    h.act(1, Action::MakeModerator(pid(3)));
    // Another moderator remains: no succession.
    let out = h.leave(1);
    assert_eq!(out.len(), 3, "{out:?}");
    // The last moderator goes: 2 (present longest) takes over, everyone is told.
    h.join(4, "alpha");
    let out = h.leave_because(3, LeaveReason::Disconnected);
    let message = updated(moderator(2));
    assert_eq!(out[3..], [send(2, message.clone()), send(4, message)]);
    assert_eq!(h.participants("alpha"), [moderator(2), person(4)]);
}

#[test]
fn succession_after_a_removal_is_not_needed_since_the_remover_stays() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2, 3]);
    h.act(1, Action::MakeModerator(pid(2)));
    h.act(2, Action::Remove(pid(1)));
    assert_eq!(h.participants("alpha"), [moderator(2), person(3)]);
}

#[test]
fn only_a_moderators_valid_password_is_hashed_outside_the_rooms() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    assert!(h.rooms.password_to_hash(pid(1), "secret"));
    // A participant who is no moderator, someone unknown, and bad lengths: the server runs
    // no Argon2 for them (the room then answers as it always did).
    assert!(!h.rooms.password_to_hash(pid(2), "secret"));
    assert!(!h.rooms.password_to_hash(pid(9), "secret"));
    assert!(!h.rooms.password_to_hash(pid(1), ""));
    assert!(!h.rooms.password_to_hash(pid(1), &"é".repeat(129)));
    let (_, code, _) = error(&h.act(
        2,
        Action::SetPassword {
            password: "secret".into(),
            salt: [3; 16],
            hashed: Some(moot_room::hash_password("secret", &[3; 16])),
        },
    ));
    assert_eq!(code, ErrorCode::NotAllowed);
}

#[test]
fn a_hash_made_outside_the_rooms_is_the_one_a_join_is_checked_against() {
    let mut h = Harness::default();
    h.fill("alpha", [1]);
    h.act(
        1,
        Action::SetPassword {
            password: "secret".into(),
            salt: [3; 16],
            hashed: Some(moot_room::hash_password("secret", &[3; 16])),
        },
    );
    let refused = h.join_password(2, "alpha", "wrong");
    assert!(
        !refused.iter().any(|o| matches!(o, Output::Joined { .. })),
        "{refused:?}"
    );
    let joined = h.join_password(3, "alpha", "secret");
    assert!(
        joined.iter().any(|o| matches!(o, Output::Joined { .. })),
        "{joined:?}"
    );
}
