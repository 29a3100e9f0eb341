//! The lobby: waiting, admit, reject, switching it off, and what waiting people never see.

mod common;
use common::*;

/// "alpha" made by 1 (moderator) with 2 in it, and the lobby on.
fn room_with_lobby() -> Harness {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::SetLobby(true));
    h
}

const LOBBY_ON: RoomSettings = RoomSettings {
    lobby: true,
    ..INITIAL
};

#[test]
fn turning_the_lobby_on_tells_everyone_the_settings() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let settings = ServerMessage::Settings { settings: LOBBY_ON };
    assert_eq!(
        h.act(1, Action::SetLobby(true)),
        [send(1, settings.clone()), send(2, settings)]
    );
    assert_eq!(
        h.act(1, Action::SetLobby(true)),
        [],
        "no change, no message"
    );
}

#[test]
fn a_newcomer_waits_and_only_moderators_hear_of_it() {
    let mut h = room_with_lobby();
    let knocking = JoinRequest {
        knock: Some("  it's Ana from accounting\u{7} ".into()),
        ..request(3)
    };
    let out = h.join_with(3, "alpha", knocking);
    let entry = LobbyEntry {
        id: pid(3),
        name: name(3),
        knock: Some("it's Ana from accounting".into()),
    };
    assert_eq!(
        out,
        [
            send(3, ServerMessage::Waiting {}),
            send(
                1,
                ServerMessage::Lobby {
                    waiting: vec![entry.clone()]
                }
            ),
        ]
    );
    assert_eq!(h.rooms.waiting_count(), 1);
    assert_eq!(h.rooms.participant_count(), 2);
    assert_eq!(h.rooms.room_of(pid(3)), None);
    // A second one: moderators get the full list.
    let out = h.join(4, "alpha");
    let second = LobbyEntry {
        id: pid(4),
        name: name(4),
        knock: None,
    };
    assert_eq!(
        out[1],
        send(
            1,
            ServerMessage::Lobby {
                waiting: vec![entry, second]
            }
        )
    );
}

#[test]
fn admitting_joins_normally_and_updates_the_list() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    h.join(4, "alpha");
    let out = h.act(1, Action::Admit(pid(3)));
    let joined = ServerMessage::ParticipantJoined {
        participant: person(3),
    };
    assert_eq!(
        out,
        [
            Output::Joined {
                id: pid(3),
                instance: RoomInstanceId(1)
            },
            send(
                3,
                welcome_with(
                    person(3),
                    "alpha",
                    vec![moderator(1), person(2)],
                    LOBBY_ON,
                    None
                )
            ),
            send(1, joined.clone()),
            send(2, joined),
            send(1, lobby(&[4])),
        ]
    );
    assert_eq!(h.rooms.waiting_count(), 1);
    assert_eq!(h.rooms.room_of(pid(3)), Some(&room("alpha")));
}

#[test]
fn rejecting_turns_the_person_away() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let out = h.act(1, Action::Reject(pid(3)));
    assert_eq!(out.len(), 2, "{out:?}");
    let (id, code, _) = refusal(&out[..1]);
    assert_eq!((id, code), (pid(3), ErrorCode::Declined));
    assert_eq!(out[1], send(1, lobby(&[])));
    assert_eq!(h.rooms.waiting_count(), 0);
    let stale = Input::Leave {
        id: pid(3),
        reason: LeaveReason::Left,
    };
    assert_eq!(
        h.rooms.handle(h.now, stale),
        Err(RoomError::UnknownParticipant(pid(3)))
    );
}

#[test]
fn admit_and_reject_need_someone_waiting() {
    let mut h = room_with_lobby();
    for action in [
        Action::Admit(pid(2)),
        Action::Reject(pid(9)),
        Action::Admit(pid(9)),
    ] {
        let (to, code, message) = error(&h.act(1, action));
        assert_eq!((to, code), (pid(1), ErrorCode::UnknownParticipant));
        assert!(message.contains("waiting"), "{message}");
    }
}

#[test]
fn someone_waiting_who_leaves_vanishes_from_the_list() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    h.join(4, "alpha");
    assert_eq!(
        h.leave_because(3, LeaveReason::Disconnected),
        [send(1, lobby(&[4]))]
    );
    assert_eq!(h.rooms.waiting_count(), 1);
}

#[test]
fn turning_the_lobby_off_admits_everyone_waiting_in_order() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    h.join(4, "alpha");
    let out = h.act(1, Action::SetLobby(false));
    let settings = ServerMessage::Settings { settings: INITIAL };
    assert_eq!(out[..2], [send(1, settings.clone()), send(2, settings)]);
    let joined: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Joined { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(joined, [pid(3), pid(4)]);
    assert_eq!(out.last(), Some(&send(1, lobby(&[]))));
    assert_eq!(h.participants("alpha").len(), 4);
    assert_eq!(h.rooms.waiting_count(), 0);
}

#[test]
fn waiting_people_hear_nothing_about_the_room() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let mut out = h.join(4, "alpha");
    out.extend(h.media(2, true, true));
    out.extend(h.hand(2, true));
    out.extend(h.act(1, Action::SetLock(true)));
    out.extend(h.act(1, Action::MuteAll(TrackKind::Audio)));
    out.extend(h.act(1, Action::Admit(pid(4))));
    out.extend(h.leave(2));
    for output in &out {
        if let Output::Send { to, .. } = output {
            assert_ne!(*to, pid(3), "{output:?}");
        }
    }
    // Nor can they act or speak in it.
    let (to, code, _) = error(&h.act(3, Action::SetLobby(false)));
    assert_eq!((to, code), (pid(3), ErrorCode::NotAllowed));
    assert_eq!(error(&h.media(3, true, true)).1, ErrorCode::OutOfOrder);
    assert_eq!(error(&h.hand(3, true)).1, ErrorCode::OutOfOrder);
    assert_eq!(h.rooms.waiting_count(), 1);
}

#[test]
fn a_second_hello_while_waiting_is_a_double_join() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let again = Input::Join {
        id: pid(3),
        room: room("beta"),
        name: name(3),
        request: request(3),
    };
    assert_eq!(
        h.rooms.handle(h.now, again),
        Err(RoomError::AlreadyJoined {
            id: pid(3),
            room: room("alpha")
        })
    );
}

#[test]
fn when_the_room_ends_everyone_waiting_is_declined() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    h.join(4, "alpha");
    h.leave(2);
    let out = h.leave(1);
    assert!(matches!(out[0], Output::Left { .. }));
    for (output, n) in out[1..3].iter().zip([3, 4]) {
        let (id, code, message) = refusal(std::slice::from_ref(output));
        assert_eq!((id, code), (pid(n), ErrorCode::Declined));
        assert!(message.contains("ended"), "{message}");
    }
    assert!(matches!(out[3], Output::RoomDestroyed { .. }));
    assert_eq!(out.len(), 4);
    assert_eq!(h.rooms.waiting_count(), 0);
}

#[test]
fn a_new_moderator_gets_the_lobby_list() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let out = h.act(1, Action::MakeModerator(pid(2)));
    let message = updated(moderator(2));
    assert_eq!(
        out,
        [
            send(1, message.clone()),
            send(2, message),
            send(2, lobby(&[3]))
        ]
    );
    // From now on both moderators get every change.
    let out = h.join(4, "alpha");
    assert_eq!(out[1..], [send(1, lobby(&[3, 4])), send(2, lobby(&[3, 4]))]);
}

#[test]
fn a_successor_moderator_gets_the_lobby_list() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let out = h.leave(1);
    let message = updated(moderator(2));
    assert_eq!(
        out[1..],
        [
            send(
                2,
                ServerMessage::ParticipantLeft {
                    id: pid(1),
                    reason: LeaveReason::Left
                }
            ),
            send(2, message),
            send(2, lobby(&[3])),
        ]
    );
}

#[test]
fn capacity_applies_in_the_lobby_and_at_admission() {
    let mut h = Harness::with_limit(3);
    h.fill("alpha", [1, 2]);
    h.act(1, Action::SetLobby(true));
    h.join(3, "alpha");
    h.join(4, "alpha");
    h.act(1, Action::Admit(pid(3)));
    // The room is full now: admitting 4 turns them away with room_full.
    let out = h.act(1, Action::Admit(pid(4)));
    let (id, code, _) = refusal(&out[..1]);
    assert_eq!((id, code), (pid(4), ErrorCode::RoomFull));
    assert_eq!(out[1..], [send(1, lobby(&[]))]);
    // A full room refuses at hello even with the lobby on.
    assert_eq!(refusal(&h.join(5, "alpha")).1, ErrorCode::RoomFull);
    assert_eq!(h.rooms.waiting_count(), 0);
}

#[test]
fn the_lobby_holds_at_most_as_many_people_as_the_room() {
    let mut h = Harness::with_limit(2);
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.join(2, "alpha");
    h.join(3, "alpha");
    let (_, code, message) = refusal(&h.join(4, "alpha"));
    assert_eq!(code, ErrorCode::RoomFull);
    assert!(message.contains("lobby"), "{message}");
    // Switching the lobby off admits while there is space; the rest get room_full.
    let out = h.act(1, Action::SetLobby(false));
    let refused: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Refused { id, code, .. } => Some((*id, *code)),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [(pid(3), ErrorCode::RoomFull)]);
    assert_eq!(h.participants("alpha").len(), 2);
}

#[test]
fn a_host_key_holder_skips_the_lobby_and_sees_who_waits() {
    let mut h = room_with_lobby();
    h.join(3, "alpha");
    let key = JoinRequest {
        host_key: Some(host_key(1)),
        ..request(4)
    };
    let out = h.join_with(4, "alpha", key);
    assert!(matches!(out[0], Output::Joined { .. }));
    assert_eq!(out.last(), Some(&send(4, lobby(&[3]))));
    assert_eq!(h.rooms.waiting_count(), 1);
}
