//! Tests of the room registry and of the messages rooms send (through the public API only).

use super::*;
use moot_protocol::{ServerMessage, PROTOCOL_VERSION};

fn pid(n: u64) -> ParticipantId {
    ParticipantId(n)
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("test room names are valid")
}

fn person(n: u64) -> Participant {
    Participant {
        id: pid(n),
        name: DisplayName::parse(&format!("Person {n}")).expect("valid display name"),
        audio: false,
        video: false,
        moderator: false,
        hand_raised: false,
        audio_blocked: false,
        video_blocked: false,
    }
}

fn now() -> Instant {
    Instant::now()
}

fn drain(rooms: &mut Rooms) -> Vec<Output> {
    std::iter::from_fn(|| rooms.poll_output()).collect()
}

/// Joins participant `n` (named "Person n") and returns what that produced.
fn join(rooms: &mut Rooms, n: u64, name: &str) -> Vec<Output> {
    let input = Input::Join {
        id: pid(n),
        room: room(name),
        name: person(n).name,
    };
    rooms.handle(now(), input).expect("join is valid input");
    drain(rooms)
}

fn leave(rooms: &mut Rooms, n: u64) -> Vec<Output> {
    rooms
        .handle(now(), Input::Leave { id: pid(n) })
        .expect("leave is valid input");
    drain(rooms)
}

fn media(rooms: &mut Rooms, n: u64, audio: bool, video: bool) -> Vec<Output> {
    let input = Input::MediaState {
        id: pid(n),
        audio,
        video,
    };
    rooms
        .handle(now(), input)
        .expect("media_state is valid input");
    drain(rooms)
}

fn send(to: u64, message: ServerMessage) -> Output {
    Output::Send {
        to: pid(to),
        message,
    }
}

fn welcome(you: Participant, name: &str, participants: Vec<Participant>) -> ServerMessage {
    ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        you,
        room: room(name),
        participants,
        settings: moot_protocol::RoomSettings::default(),
        host_key: None,
    }
}

fn rooms_with_limit(max: usize) -> Rooms {
    Rooms::new(RoomsConfig {
        max_participants_per_room: max,
    })
}

#[test]
fn first_join_creates_the_room_and_welcomes_alone() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    let out = join(&mut rooms, 1, "alpha");
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
            send(1, welcome(person(1), "alpha", vec![])),
        ]
    );
    assert_eq!(rooms.room_count(), 1);
    assert_eq!(rooms.participant_count(), 1);
    assert_eq!(rooms.instance_of(&room("alpha")), Some(instance));
    assert_eq!(rooms.room_of(pid(1)), Some(&room("alpha")));
    assert_eq!(rooms.participants_of(&room("alpha")), [person(1)]);
}

#[test]
fn later_joiner_is_welcomed_with_everyone_else_and_the_others_are_told() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "alpha");
    let out = join(&mut rooms, 3, "alpha");
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
            send(3, welcome(person(3), "alpha", vec![person(1), person(2)])),
            send(1, joined.clone()),
            send(2, joined),
        ]
    );
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(1), person(2), person(3)]
    );
    assert_eq!(rooms.room_count(), 1);
    assert_eq!(rooms.participant_count(), 3);
}

#[test]
fn join_order_survives_someone_leaving_from_the_middle() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    for n in [5, 2, 9] {
        join(&mut rooms, n, "alpha");
    }
    leave(&mut rooms, 2);
    let out = join(&mut rooms, 1, "alpha");
    assert_eq!(
        out[1],
        send(1, welcome(person(1), "alpha", vec![person(5), person(9)]))
    );
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(5), person(9), person(1)]
    );
}

#[test]
fn leaving_stops_media_first_then_tells_only_the_others() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    for n in 1..=3 {
        join(&mut rooms, n, "alpha");
    }
    let out = leave(&mut rooms, 2);
    let left = ServerMessage::ParticipantLeft {
        id: pid(2),
        reason: moot_protocol::LeaveReason::Left,
    };
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
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(1), person(3)]
    );
    assert_eq!(rooms.room_of(pid(2)), None);
    assert_eq!(rooms.participant_count(), 2);
    assert_eq!(rooms.room_count(), 1);
}

#[test]
fn last_leave_destroys_the_room() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "alpha");
    leave(&mut rooms, 1);
    let out = leave(&mut rooms, 2);
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
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.participant_count(), 0);
    assert!(rooms.participants_of(&room("alpha")).is_empty());
    assert_eq!(rooms.instance_of(&room("alpha")), None);
}

#[test]
fn a_recreated_room_is_a_new_instance_with_no_trace_of_the_old_one() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    media(&mut rooms, 1, true, true);
    leave(&mut rooms, 1);
    join(&mut rooms, 2, "beta"); // instance 2
    let out = join(&mut rooms, 3, "alpha");
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
            send(3, welcome(person(3), "alpha", vec![])),
        ]
    );
    assert_eq!(rooms.participants_of(&room("alpha")), [person(3)]);
    // The old participant is not silently still attached anywhere.
    assert_eq!(
        rooms.handle(now(), Input::Leave { id: pid(1) }),
        Err(RoomError::UnknownParticipant(pid(1)))
    );
}

#[test]
fn room_names_match_case_insensitively() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "Team-Sync");
    let out = join(&mut rooms, 2, "team-SYNC");
    assert!(matches!(out[0], Output::Joined { instance, .. } if instance == RoomInstanceId(1)));
    assert_eq!(rooms.room_count(), 1);
    assert_eq!(rooms.participants_of(&room("TEAM-sync")).len(), 2);
}

#[test]
fn media_state_is_recorded_and_sent_to_everyone_but_the_sender() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    for n in 1..=3 {
        join(&mut rooms, n, "alpha");
    }
    let out = media(&mut rooms, 2, true, false);
    let updated = Participant {
        audio: true,
        ..person(2)
    };
    let message = ServerMessage::ParticipantUpdated {
        participant: updated.clone(),
    };
    assert_eq!(out, [send(1, message.clone()), send(3, message)]);
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(1), updated.clone(), person(3)]
    );
    // A newcomer sees the current state in its welcome.
    let out = join(&mut rooms, 4, "alpha");
    assert_eq!(
        out[1],
        send(
            4,
            welcome(person(4), "alpha", vec![person(1), updated, person(3)])
        )
    );
}

#[test]
fn unchanged_media_state_says_nothing() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "alpha");
    assert_eq!(media(&mut rooms, 2, false, false), []);
    assert_eq!(media(&mut rooms, 2, false, true).len(), 1);
    assert_eq!(media(&mut rooms, 2, false, true), []);
}

#[test]
fn media_state_of_someone_alone_reaches_nobody() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    assert_eq!(media(&mut rooms, 1, true, true), []);
    assert!(rooms.participants_of(&room("alpha"))[0].video);
}

#[test]
fn a_full_room_refuses_and_nothing_else_changes() {
    let mut rooms = rooms_with_limit(2);
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "alpha");
    let out = join(&mut rooms, 3, "alpha");
    let [Output::Refused { id, code, message }] = out.as_slice() else {
        panic!("expected exactly one Refused, got {out:?}");
    };
    assert_eq!((*id, *code), (pid(3), ErrorCode::RoomFull));
    assert!(
        message.contains("full") && message.contains("alpha"),
        "{message}"
    );
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(1), person(2)]
    );
    assert_eq!(rooms.participant_count(), 2);
    assert_eq!(rooms.room_of(pid(3)), None);
    assert_eq!(
        rooms.handle(now(), Input::Leave { id: pid(3) }),
        Err(RoomError::UnknownParticipant(pid(3)))
    );
    // Other rooms are not affected by one being full, and space frees up on leave.
    assert!(matches!(
        join(&mut rooms, 4, "beta")[0],
        Output::RoomCreated { .. }
    ));
    leave(&mut rooms, 1);
    assert!(matches!(
        join(&mut rooms, 3, "alpha")[0],
        Output::Joined { .. }
    ));
}

#[test]
fn the_default_limit_is_one_hundred() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    for n in 1..=100 {
        join(&mut rooms, n, "big");
    }
    let out = join(&mut rooms, 101, "big");
    assert!(
        matches!(
            out.as_slice(),
            [Output::Refused {
                code: ErrorCode::RoomFull,
                ..
            }]
        ),
        "{out:?}"
    );
    assert_eq!(rooms.participant_count(), 100);
}

#[test]
fn a_limit_of_zero_never_creates_a_room() {
    let mut rooms = rooms_with_limit(0);
    let out = join(&mut rooms, 1, "alpha");
    assert!(
        matches!(out.as_slice(), [Output::Refused { .. }]),
        "{out:?}"
    );
    assert_eq!(rooms.room_count(), 0);
}

#[test]
fn joining_twice_is_an_error_and_changes_nothing() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "alpha");
    for target in ["alpha", "beta"] {
        let again = Input::Join {
            id: pid(1),
            room: room(target),
            name: DisplayName::parse("Someone Else").expect("valid"),
        };
        assert_eq!(
            rooms.handle(now(), again),
            Err(RoomError::AlreadyJoined {
                id: pid(1),
                room: room("alpha")
            })
        );
        assert_eq!(rooms.poll_output(), None);
    }
    assert_eq!(rooms.room_count(), 1);
    assert_eq!(
        rooms.participants_of(&room("alpha")),
        [person(1), person(2)]
    );
}

#[test]
fn unknown_participants_are_errors_and_change_nothing() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    let inputs = [
        Input::Leave { id: pid(9) },
        Input::MediaState {
            id: pid(9),
            audio: true,
            video: true,
        },
    ];
    for input in inputs {
        assert_eq!(
            rooms.handle(now(), input),
            Err(RoomError::UnknownParticipant(pid(9)))
        );
        assert_eq!(rooms.poll_output(), None);
    }
    // Leaving twice is the same mistake.
    leave(&mut rooms, 1);
    assert_eq!(
        rooms.handle(now(), Input::Leave { id: pid(1) }),
        Err(RoomError::UnknownParticipant(pid(1)))
    );
    assert_eq!(rooms.poll_output(), None);
    assert_eq!(rooms.room_count(), 0);
}

#[test]
fn two_rooms_never_hear_about_each_other() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    join(&mut rooms, 1, "alpha");
    join(&mut rooms, 2, "beta");
    let mut out = join(&mut rooms, 3, "alpha");
    out.extend(join(&mut rooms, 4, "beta"));
    out.extend(media(&mut rooms, 3, true, true));
    out.extend(media(&mut rooms, 4, true, false));
    out.extend(leave(&mut rooms, 1));
    out.extend(leave(&mut rooms, 2));

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
                other => panic!("unexpected message {other:?}"),
            };
            assert_eq!(
                in_alpha.contains(to),
                in_alpha.contains(&about),
                "{output:?}"
            );
        }
    }
    assert_eq!(rooms.participants_of(&room("alpha")).len(), 1);
    assert_eq!(rooms.participants_of(&room("beta")).len(), 1);
    assert_eq!(rooms.instance_of(&room("alpha")), Some(RoomInstanceId(1)));
    assert_eq!(rooms.instance_of(&room("beta")), Some(RoomInstanceId(2)));
}

#[test]
fn unknown_rooms_have_no_participants() {
    let rooms = Rooms::new(RoomsConfig::default());
    assert!(rooms.participants_of(&room("nobody-here")).is_empty());
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.participant_count(), 0);
}
