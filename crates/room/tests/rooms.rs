//! The room registry: joining, leaving, media state, capacity, isolation between rooms.

mod common;
use common::*;

fn creator_welcome(n: u64, room_name: &str) -> ServerMessage {
    welcome_with(moderator(n), room_name, vec![], INITIAL, Some(host_key(n)))
}

#[test]
fn first_join_creates_the_room_and_welcomes_the_creator_as_moderator_with_the_host_key() {
    let mut h = Harness::default();
    let out = h.join(1, "alpha");
    let instance = RoomInstanceId(1);
    assert_eq!(
        out,
        [
            Output::RoomCreated {
                instance,
                room: room("alpha")
            },
            Output::Joined {
                id: pid(1),
                instance
            },
            send(1, creator_welcome(1, "alpha")),
        ]
    );
    assert_eq!(h.rooms.room_count(), 1);
    assert_eq!(h.rooms.participant_count(), 1);
    assert_eq!(h.rooms.waiting_count(), 0);
    assert_eq!(h.rooms.instance_of(&room("alpha")), Some(instance));
    assert_eq!(h.rooms.room_of(pid(1)), Some(&room("alpha")));
    assert_eq!(h.participants("alpha"), [moderator(1)]);
}

#[test]
fn later_joiner_is_welcomed_with_everyone_else_without_host_key_and_the_others_are_told() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let out = h.join(3, "alpha");
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
                welcome(person(3), "alpha", vec![moderator(1), person(2)])
            ),
            send(1, joined.clone()),
            send(2, joined),
        ]
    );
    assert_eq!(
        h.participants("alpha"),
        [moderator(1), person(2), person(3)]
    );
    assert_eq!(h.rooms.participant_count(), 3);
}

#[test]
fn join_order_survives_someone_leaving_from_the_middle() {
    let mut h = Harness::default();
    h.fill("alpha", [5, 2, 9]);
    h.leave(2);
    let out = h.join(1, "alpha");
    assert_eq!(
        out[1],
        send(
            1,
            welcome(person(1), "alpha", vec![moderator(5), person(9)])
        )
    );
    assert_eq!(
        h.participants("alpha"),
        [moderator(5), person(9), person(1)]
    );
}

#[test]
fn leaving_stops_media_first_then_tells_only_the_others_with_the_reason() {
    for reason in [LeaveReason::Left, LeaveReason::Disconnected] {
        let mut h = Harness::default();
        h.fill("alpha", 1..=3);
        let out = h.leave_because(2, reason);
        let left = ServerMessage::ParticipantLeft { id: pid(2), reason };
        assert_eq!(
            out,
            [
                Output::Left {
                    id: pid(2),
                    instance: RoomInstanceId(1)
                },
                send(1, left.clone()),
                send(3, left),
            ]
        );
        assert_eq!(h.participants("alpha"), [moderator(1), person(3)]);
        assert_eq!(h.rooms.room_of(pid(2)), None);
        assert_eq!(h.rooms.participant_count(), 2);
    }
}

#[test]
fn last_leave_destroys_the_room() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.leave(1);
    let out = h.leave(2);
    let instance = RoomInstanceId(1);
    assert_eq!(
        out,
        [
            Output::Left {
                id: pid(2),
                instance
            },
            Output::RoomDestroyed {
                instance,
                room: room("alpha")
            },
        ]
    );
    assert_eq!(h.rooms.room_count(), 0);
    assert_eq!(h.rooms.participant_count(), 0);
    assert!(h.participants("alpha").is_empty());
    assert_eq!(h.rooms.instance_of(&room("alpha")), None);
}

#[test]
fn a_recreated_room_is_a_new_instance_with_no_trace_of_the_old_one() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.media(1, true, true);
    h.act(1, Action::SetLock(true));
    h.leave(1);
    h.join(2, "beta"); // instance 2
    let out = h.join(3, "alpha");
    let instance = RoomInstanceId(3);
    assert_eq!(
        out,
        [
            Output::RoomCreated {
                instance,
                room: room("alpha")
            },
            Output::Joined {
                id: pid(3),
                instance
            },
            send(3, creator_welcome(3, "alpha")),
        ]
    );
    assert_eq!(h.participants("alpha"), [moderator(3)]);
    let stale = Input::Leave {
        id: pid(1),
        reason: LeaveReason::Left,
    };
    assert_eq!(
        h.rooms.handle(h.now, stale),
        Err(RoomError::UnknownParticipant(pid(1)))
    );
}

#[test]
fn room_names_match_case_insensitively() {
    let mut h = Harness::default();
    h.join(1, "Team-Sync");
    let out = h.join(2, "team-SYNC");
    assert!(matches!(out[0], Output::Joined { instance, .. } if instance == RoomInstanceId(1)));
    assert_eq!(h.rooms.room_count(), 1);
    assert_eq!(h.participants("TEAM-sync").len(), 2);
}

#[test]
fn media_state_is_recorded_and_sent_to_everyone_but_the_sender() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let out = h.media(2, true, false);
    let on = Participant {
        audio: true,
        ..person(2)
    };
    assert_eq!(
        out,
        [send(1, updated(on.clone())), send(3, updated(on.clone()))]
    );
    assert_eq!(
        h.participants("alpha"),
        [moderator(1), on.clone(), person(3)]
    );
    let out = h.join(4, "alpha");
    assert_eq!(
        out[1],
        send(
            4,
            welcome(person(4), "alpha", vec![moderator(1), on, person(3)])
        )
    );
}

#[test]
fn unchanged_media_state_says_nothing() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    assert_eq!(h.media(2, false, false), []);
    assert_eq!(h.media(2, false, true).len(), 1);
    assert_eq!(h.media(2, false, true), []);
}

#[test]
fn media_state_of_someone_alone_reaches_nobody() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    assert_eq!(h.media(1, true, true), []);
    assert!(h.participants("alpha")[0].video);
}

#[test]
fn raising_a_hand_is_told_to_everyone_including_the_sender() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let raised = Participant {
        hand_raised: true,
        hand_seq: Some(1),
        ..person(2)
    };
    let message = updated(raised.clone());
    assert_eq!(
        h.hand(2, true),
        [
            send(1, message.clone()),
            send(2, message.clone()),
            send(3, message)
        ]
    );
    assert_eq!(h.participants("alpha")[1], raised);
    assert_eq!(h.hand(2, true), [], "unchanged says nothing");
    assert_eq!(h.hand(2, false).len(), 3);
    assert!(!h.participants("alpha")[1].hand_raised);
}

#[test]
fn a_full_room_refuses_and_nothing_else_changes() {
    let mut h = Harness::with_limit(2);
    h.fill("alpha", [1, 2]);
    let out = h.join(3, "alpha");
    let (id, code, message) = refusal(&out);
    assert_eq!((id, code), (pid(3), ErrorCode::RoomFull));
    assert!(
        message.contains("full") && message.contains("alpha"),
        "{message}"
    );
    assert_eq!(h.participants("alpha"), [moderator(1), person(2)]);
    assert_eq!(h.rooms.room_of(pid(3)), None);
    let stale = Input::Leave {
        id: pid(3),
        reason: LeaveReason::Left,
    };
    assert_eq!(
        h.rooms.handle(h.now, stale),
        Err(RoomError::UnknownParticipant(pid(3)))
    );
    assert!(matches!(h.join(4, "beta")[0], Output::RoomCreated { .. }));
    h.leave(1);
    assert!(matches!(h.join(3, "alpha")[0], Output::Joined { .. }));
}

#[test]
fn the_default_limit_is_one_hundred() {
    let mut h = Harness::default();
    h.fill("big", 1..=100);
    let (_, code, _) = refusal(&h.join(101, "big"));
    assert_eq!(code, ErrorCode::RoomFull);
    assert_eq!(h.rooms.participant_count(), 100);
}

#[test]
fn a_limit_of_zero_never_creates_a_room() {
    let mut h = Harness::with_limit(0);
    let (_, code, _) = refusal(&h.join(1, "alpha"));
    assert_eq!(code, ErrorCode::RoomFull);
    assert_eq!(h.rooms.room_count(), 0);
}

#[test]
fn joining_twice_is_an_error_and_changes_nothing() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for target in ["alpha", "beta"] {
        let again = Input::Join {
            id: pid(1),
            room: room(target),
            name: DisplayName::parse("Someone Else").expect("valid"),
            request: request(1),
        };
        assert_eq!(
            h.rooms.handle(h.now, again),
            Err(RoomError::AlreadyJoined {
                id: pid(1),
                room: room("alpha")
            })
        );
        assert_eq!(h.rooms.poll_output(), None);
    }
    assert_eq!(h.rooms.room_count(), 1);
    assert_eq!(h.participants("alpha"), [moderator(1), person(2)]);
}

#[test]
fn unknown_participants_are_errors_and_change_nothing() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    let inputs = [
        Input::Leave {
            id: pid(9),
            reason: LeaveReason::Left,
        },
        Input::MediaState {
            id: pid(9),
            audio: true,
            video: true,
            screen: false,
        },
        Input::RaiseHand {
            id: pid(9),
            raised: true,
        },
        Input::Moderate {
            id: pid(9),
            action: Action::SetLock(true),
        },
    ];
    for input in inputs {
        assert_eq!(
            h.rooms.handle(h.now, input),
            Err(RoomError::UnknownParticipant(pid(9)))
        );
        assert_eq!(h.rooms.poll_output(), None);
    }
    h.leave(1);
    let again = Input::Leave {
        id: pid(1),
        reason: LeaveReason::Left,
    };
    assert_eq!(
        h.rooms.handle(h.now, again),
        Err(RoomError::UnknownParticipant(pid(1)))
    );
    assert_eq!(h.rooms.poll_output(), None);
    assert_eq!(h.rooms.room_count(), 0);
}

#[test]
fn two_rooms_never_hear_about_each_other() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.join(2, "beta");
    let mut out = h.join(3, "alpha");
    out.extend(h.join(4, "beta"));
    out.extend(h.media(3, true, true));
    out.extend(h.media(4, true, false));
    out.extend(h.act(2, Action::MuteAll(TrackKind::Audio)));
    out.extend(h.leave(1));
    out.extend(h.leave(2));

    let in_alpha = [pid(1), pid(3)];
    for output in &out {
        if let Output::Send { to, message } = output {
            let about = match message {
                ServerMessage::Welcome { you, room: r, .. } => {
                    assert_eq!(*r == room("alpha"), in_alpha.contains(to));
                    you.id
                }
                ServerMessage::ParticipantJoined { participant }
                | ServerMessage::ParticipantUpdated { participant } => participant.id,
                ServerMessage::ParticipantLeft { id, .. } => *id,
                ServerMessage::Muted { .. } => *to,
                other => panic!("unexpected message {other:?}"),
            };
            assert_eq!(
                in_alpha.contains(to),
                in_alpha.contains(&about),
                "{output:?}"
            );
        }
    }
    assert_eq!(h.participants("alpha").len(), 1);
    assert_eq!(h.participants("beta").len(), 1);
    assert_eq!(h.rooms.instance_of(&room("alpha")), Some(RoomInstanceId(1)));
    assert_eq!(h.rooms.instance_of(&room("beta")), Some(RoomInstanceId(2)));
}

#[test]
fn unknown_rooms_have_no_participants() {
    let h = Harness::default();
    assert!(h.participants("nobody-here").is_empty());
    assert_eq!(h.rooms.room_count(), 0);
    assert_eq!(h.rooms.participant_count(), 0);
}
