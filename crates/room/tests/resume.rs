//! Reconnection: the grace period after a dropped connection, resuming with the token, and the
//! leave once the grace period ends.

mod common;
use common::*;

const INSTANCE: RoomInstanceId = RoomInstanceId(1);

fn resumed_welcome(
    you: Participant,
    participants: Vec<Participant>,
    settings: RoomSettings,
    connection: u64,
) -> ServerMessage {
    ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        you,
        room: room("alpha"),
        participants,
        settings,
        host_key: None,
        resume_token: resume_token(connection),
        resumed: true,
        ice_servers: Vec::new(),
    }
}

fn left(n: u64, reason: LeaveReason) -> ServerMessage {
    ServerMessage::ParticipantLeft { id: pid(n), reason }
}

/// 1 creates alpha, 2 and 3 join, 2's connection drops.
fn two_away() -> Harness {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    assert_eq!(h.disconnect(2), []);
    h
}

#[test]
fn every_welcome_carries_a_fresh_resume_token() {
    let mut h = Harness::default();
    let out = h.join(1, "alpha");
    let Output::Send {
        message:
            ServerMessage::Welcome {
                resume_token: token,
                resumed,
                ..
            },
        ..
    } = &out[2]
    else {
        panic!("welcome: {out:?}")
    };
    assert_eq!(
        (token.as_str(), *resumed),
        (resume_token(1).as_str(), false)
    );
}

#[test]
fn a_dropped_connection_stays_in_the_room_silently_for_the_grace_period() {
    let h = two_away();
    assert_eq!(
        h.participants("alpha"),
        [moderator(1), person(2), person(3)]
    );
    assert_eq!(h.rooms.participant_count(), 3);
    assert_eq!(h.rooms.away_count(), 1);
    assert_eq!(h.rooms.poll_timeout(), Some(h.now + RESUME_GRACE));
}

#[test]
fn resuming_in_time_continues_the_session_and_nobody_else_hears_of_it() {
    let mut h = two_away();
    h.advance(9.9);
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(
        out,
        [
            Output::Resumed {
                connection: pid(12),
                participant: pid(2)
            },
            Output::Joined {
                id: pid(2),
                instance: INSTANCE
            },
            send(
                2,
                resumed_welcome(person(2), vec![moderator(1), person(3)], INITIAL, 12)
            ),
        ]
    );
    assert_eq!(
        h.participants("alpha"),
        [moderator(1), person(2), person(3)]
    );
    assert_eq!(h.rooms.away_count(), 0);
    assert_eq!(h.rooms.poll_timeout(), None);
    h.advance(60.0);
    assert_eq!(h.timeout(), []);
    // The connection id was never recorded: the server forgets it.
    assert_eq!(h.rooms.room_of(pid(12)), None);
    assert_eq!(
        h.rooms.handle(
            h.now,
            Input::Leave {
                id: pid(12),
                reason: LeaveReason::Left
            }
        ),
        Err(RoomError::UnknownParticipant(pid(12)))
    );
    assert_eq!(h.drain(), []);
    assert_eq!(h.rooms.participant_count(), 3);
}

#[test]
fn the_state_survives_a_resume() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.media(2, true, true);
    h.hand(2, true);
    h.act(1, Action::Mute(pid(2), TrackKind::Video));
    h.input(Input::SetQuality {
        id: pid(2),
        quality: Quality::AudioOnly,
    });
    h.act(1, Action::SetChatHistory(true));
    h.chat(1, "welcome back", None);
    h.disconnect(2);
    let you = Participant {
        audio: true,
        hand_raised: true,
        hand_seq: Some(1),
        video_blocked: true,
        ..person(2)
    };
    let settings = RoomSettings {
        chat_history: true,
        ..INITIAL
    };
    assert_eq!(
        h.resume(12, "alpha", &resume_token(2)),
        [
            Output::Resumed {
                connection: pid(12),
                participant: pid(2)
            },
            Output::Joined {
                id: pid(2),
                instance: INSTANCE
            },
            Output::Permissions {
                id: pid(2),
                audio: true,
                video: false
            },
            send(2, resumed_welcome(you, vec![moderator(1)], settings, 12)),
            send(
                2,
                ServerMessage::ChatHistory {
                    messages: vec![chat_message(1, 1, "welcome back", None)]
                }
            ),
            Output::Quality {
                id: pid(2),
                quality: Quality::AudioOnly
            },
        ]
    );
}

#[test]
fn a_resumed_moderator_sees_the_lobby_again() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.disconnect(1);
    // Nobody is told about the waiting person while the only moderator is away.
    assert_eq!(h.join(2, "alpha"), [send(2, ServerMessage::Waiting {})]);
    let out = h.resume(11, "alpha", &resume_token(1));
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[3], send(1, lobby(&[2])));
}

#[test]
fn the_old_token_is_used_up_and_the_new_one_works() {
    let mut h = two_away();
    h.resume(12, "alpha", &resume_token(2));
    h.disconnect(2);
    // The old token is ignored: 13 is a new person.
    let out = h.resume(13, "alpha", &resume_token(2));
    assert_eq!(
        out[0],
        Output::Joined {
            id: pid(13),
            instance: INSTANCE
        }
    );
    assert!(h.participants("alpha").iter().any(|p| p.id == pid(13)));
    let out = h.resume(14, "alpha", &resume_token(12));
    assert_eq!(
        out[0],
        Output::Resumed {
            connection: pid(14),
            participant: pid(2)
        }
    );
}

#[test]
fn a_wrong_token_or_another_room_is_a_normal_join() {
    let mut h = two_away();
    h.join(7, "beta");
    for (connection, room_name, token) in [
        (12, "alpha", "not-the-token"),
        (13, "alpha", ""),
        (14, "beta", resume_token(2).as_str()),
        (15, "gamma", resume_token(2).as_str()),
    ] {
        let out = h.resume(connection, room_name, token);
        assert!(
            out.iter().any(|o| *o
                == Output::Send {
                    to: pid(connection),
                    message: welcome_with(
                        person(connection),
                        room_name,
                        h.participants(room_name)
                            .into_iter()
                            .filter(|p| p.id != pid(connection))
                            .collect(),
                        INITIAL,
                        None
                    )
                }
                || matches!(o, Output::RoomCreated { .. })),
            "{out:?}"
        );
        assert!(!out.iter().any(|o| matches!(o, Output::Resumed { .. })));
    }
    assert_eq!(h.rooms.away_count(), 1);
}

#[test]
fn an_empty_token_never_resumes() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    let empty = JoinRequest {
        new_resume_token: String::new(),
        ..request(2)
    };
    h.join_with(2, "alpha", empty);
    h.disconnect(2);
    let out = h.resume(12, "alpha", "");
    assert!(!out.iter().any(|o| matches!(o, Output::Resumed { .. })));
    assert_eq!(h.rooms.away_count(), 1);
}

#[test]
fn lock_password_and_lobby_are_not_checked_again_but_bans_are() {
    let mut h = two_away();
    h.set_password(1, "sesame");
    h.act(1, Action::SetLock(true));
    h.act(1, Action::SetLobby(true));
    h.act(1, Action::Remove(pid(3)));
    // Someone banned (3's identity) with 2's token is refused as banned.
    let stolen = JoinRequest {
        resume: Some(resume_token(2)),
        ..request(3)
    };
    let refused = h.join_with(13, "alpha", stolen);
    assert_eq!(refusal(&refused).1, ErrorCode::Removed);
    assert_eq!(h.rooms.away_count(), 1);
    // 2 itself comes back past lock, password and lobby.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert!(matches!(out[0], Output::Resumed { .. }), "{out:?}");
}

#[test]
fn after_the_grace_period_it_is_a_disconnected_leave() {
    let mut h = two_away();
    h.advance(9.0);
    assert_eq!(h.timeout(), []);
    h.advance(1.0);
    assert_eq!(
        h.timeout(),
        [
            Output::Left {
                id: pid(2),
                instance: INSTANCE
            },
            send(1, left(2, LeaveReason::Disconnected)),
            send(3, left(2, LeaveReason::Disconnected)),
        ]
    );
    assert_eq!(h.participants("alpha"), [moderator(1), person(3)]);
    assert_eq!(h.rooms.poll_timeout(), None);
    // Too late to resume: a new person.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert!(!out.iter().any(|o| matches!(o, Output::Resumed { .. })));
}

#[test]
fn expiries_come_in_deadline_order_with_succession_and_the_room_ends() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.disconnect(1);
    h.advance(2.0);
    h.disconnect(2);
    assert_eq!(
        h.rooms.poll_timeout(),
        Some(h.now + RESUME_GRACE - 2 * std::time::Duration::from_secs(1))
    );
    h.advance(8.0);
    // 1 (the moderator) leaves; 2, still away, succeeds but is told nothing.
    assert_eq!(
        h.timeout(),
        [Output::Left {
            id: pid(1),
            instance: INSTANCE
        }]
    );
    assert_eq!(h.participants("alpha"), [moderator(2)]);
    assert_eq!(
        h.rooms.poll_timeout(),
        Some(h.now + 2 * std::time::Duration::from_secs(1))
    );
    h.advance(5.0);
    assert_eq!(
        h.timeout(),
        [
            Output::Left {
                id: pid(2),
                instance: INSTANCE
            },
            Output::RoomDestroyed {
                instance: INSTANCE,
                room: room("alpha")
            },
        ]
    );
    assert_eq!(h.rooms.room_count(), 0);
}

#[test]
fn an_away_member_counts_for_capacity_and_misses_broadcasts() {
    let mut h = Harness::with_limit(3);
    h.fill("alpha", [1, 2]);
    h.disconnect(2);
    let out = h.join(3, "alpha");
    let joined = ServerMessage::ParticipantJoined {
        participant: person(3),
    };
    assert_eq!(out[2], send(1, joined));
    assert_eq!(out.len(), 3, "nothing to the away member: {out:?}");
    assert_eq!(refusal(&h.join(4, "alpha")).1, ErrorCode::RoomFull);
    // Back, 2 sees 3 in its welcome.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(
        out[2],
        send(
            2,
            resumed_welcome(person(2), vec![moderator(1), person(3)], INITIAL, 12)
        )
    );
}

#[test]
fn leave_and_remove_of_an_away_member_work_as_usual() {
    let mut h = two_away();
    assert_eq!(
        h.leave_because(2, LeaveReason::Disconnected),
        [
            Output::Left {
                id: pid(2),
                instance: INSTANCE
            },
            send(1, left(2, LeaveReason::Disconnected)),
            send(3, left(2, LeaveReason::Disconnected)),
        ]
    );
    assert_eq!(h.rooms.poll_timeout(), None);
    h.disconnect(3);
    let out = h.act(1, Action::Remove(pid(3)));
    assert_eq!(
        out[0],
        Output::Left {
            id: pid(3),
            instance: INSTANCE
        }
    );
    assert_eq!(h.rooms.away_count(), 0);
    assert_eq!(h.rooms.poll_timeout(), None);
    assert_eq!(h.participants("alpha"), [moderator(1)]);
}

#[test]
fn a_second_disconnect_keeps_the_first_deadline() {
    let mut h = two_away();
    let deadline = h.rooms.poll_timeout();
    h.advance(5.0);
    assert_eq!(h.disconnect(2), []);
    assert_eq!(h.rooms.poll_timeout(), deadline);
}

#[test]
fn a_disconnect_in_the_lobby_just_leaves_it() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.join(2, "alpha");
    assert_eq!(h.disconnect(2), [send(1, lobby(&[]))]);
    assert_eq!(h.rooms.waiting_count(), 0);
    assert_eq!(h.rooms.away_count(), 0);
}

#[test]
fn a_disconnect_of_an_unknown_id_is_an_error_without_effect() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    assert_eq!(
        h.rooms.handle(h.now, Input::Disconnect { id: pid(9) }),
        Err(RoomError::UnknownParticipant(pid(9)))
    );
    assert_eq!(h.drain(), []);
    assert_eq!(h.rooms.poll_timeout(), None);
}

#[test]
fn a_join_from_a_connection_already_in_a_room_is_still_a_double_join() {
    let mut h = two_away();
    let again = JoinRequest {
        resume: Some(resume_token(2)),
        ..request(3)
    };
    let result = h.rooms.handle(
        h.now,
        Input::Join {
            id: pid(3),
            room: room("alpha"),
            name: name(3),
            request: again,
        },
    );
    assert!(matches!(result, Err(RoomError::AlreadyJoined { .. })));
    assert_eq!(h.drain(), []);
    assert_eq!(h.rooms.away_count(), 1);
}

#[test]
fn the_resume_secret_stays_out_of_debug_output() {
    let request = JoinRequest {
        resume: Some("resume-secret-value".into()),
        ..request(1)
    };
    let shown = format!("{request:?}");
    assert!(!shown.contains("resume-secret-value"), "{shown}");
    assert!(!shown.contains(&resume_token(1)), "{shown}");
    let mut h = two_away();
    h.resume(12, "alpha", &resume_token(2));
    let shown = format!("{:?}", h.rooms);
    assert!(!shown.contains("resume-token"), "{shown}");
}

#[test]
fn a_new_connection_takes_over_a_member_whose_old_one_is_not_yet_noticed_dead() {
    // 2's network changed: it comes back with its token while its old connection still
    // counts as present. The new connection resumes; nobody else is told anything.
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(
        out[0],
        Output::Resumed {
            connection: pid(12),
            participant: pid(2)
        }
    );
    assert_eq!(
        out[1],
        Output::Joined {
            id: pid(2),
            instance: INSTANCE
        }
    );
    assert!(
        out.iter()
            .all(|o| !matches!(o, Output::Send { to, .. } if *to != pid(2))),
        "nobody else hears of it: {out:?}"
    );
    assert_eq!(h.participants("alpha").len(), 3);
}

// Key exchange messages (`e2ee`) to an away member: held, and delivered right after the
// resumed `welcome` (docs/protocol.md, "Reconnecting"; docs/e2ee.md, "Reconnection").

/// An opaque key exchange payload (base64 alphabet), numbered so that the tests can tell them
/// apart.
fn key_payload(from: u64, i: u64) -> String {
    format!("key{i}from{from}")
}

fn e2ee(h: &mut Harness, from: u64, to: u64, i: u64) -> Vec<Output> {
    h.input(Input::E2ee {
        id: pid(from),
        to: pid(to),
        payload: key_payload(from, i),
    })
}

fn relayed(to: u64, from: u64, i: u64) -> Output {
    send(
        to,
        ServerMessage::E2ee {
            from: pid(from),
            payload: key_payload(from, i),
        },
    )
}

/// The `e2ee` messages in `out`, in order.
fn keys_in(out: &[Output]) -> Vec<Output> {
    out.iter()
        .filter(|o| {
            matches!(
                o,
                Output::Send {
                    message: ServerMessage::E2ee { .. },
                    ..
                }
            )
        })
        .cloned()
        .collect()
}

#[test]
fn key_messages_to_an_away_member_are_delivered_right_after_the_resumed_welcome() {
    let mut h = two_away();
    // A newcomer's key and a fresh key after a leave, while 2 is away: nothing goes out.
    h.join(4, "alpha");
    assert_eq!(e2ee(&mut h, 4, 2, 1), []);
    assert_eq!(e2ee(&mut h, 1, 2, 1), []);
    // To someone present, as always, at once.
    assert_eq!(e2ee(&mut h, 4, 3, 1), [relayed(3, 4, 1)]);
    h.advance(5.0);
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(
        out,
        [
            Output::Resumed {
                connection: pid(12),
                participant: pid(2)
            },
            Output::Joined {
                id: pid(2),
                instance: INSTANCE
            },
            send(
                2,
                resumed_welcome(
                    person(2),
                    vec![moderator(1), person(3), person(4)],
                    INITIAL,
                    12
                )
            ),
            relayed(2, 4, 1),
            relayed(2, 1, 1),
        ]
    );
    // Delivered once: a second drop and resume brings nothing old back.
    h.disconnect(2);
    assert_eq!(keys_in(&h.resume(13, "alpha", &resume_token(12))), []);
}

#[test]
fn at_most_four_messages_from_each_sender_are_held_and_nobody_crowds_out_another() {
    assert_eq!(MAX_HELD_E2EE_PER_SENDER, 4);
    let mut h = two_away();
    e2ee(&mut h, 1, 2, 0);
    // A hostile (or very busy) sender: only its last four are kept…
    for i in 1..=50 {
        assert_eq!(e2ee(&mut h, 3, 2, i), []);
    }
    // …and the other sender's message, older than all of them, is still there.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(
        keys_in(&out),
        [
            relayed(2, 1, 0),
            relayed(2, 3, 47),
            relayed(2, 3, 48),
            relayed(2, 3, 49),
            relayed(2, 3, 50),
        ]
    );
}

#[test]
fn held_keys_go_with_a_sender_who_leaves() {
    let mut h = two_away();
    h.join(4, "alpha");
    e2ee(&mut h, 4, 2, 1);
    e2ee(&mut h, 3, 2, 1);
    h.leave(4);
    // 4's id would be unknown to the resumed client, and its key useless.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(keys_in(&out), [relayed(2, 3, 1)]);
}

#[test]
fn held_keys_go_with_the_away_member_when_the_grace_ends() {
    let mut h = two_away();
    e2ee(&mut h, 3, 2, 1);
    h.advance(RESUME_GRACE.as_secs_f64());
    let out = h.timeout();
    assert_eq!(keys_in(&out), []);
    assert_eq!(
        out,
        [
            Output::Left {
                id: pid(2),
                instance: INSTANCE
            },
            send(1, left(2, LeaveReason::Disconnected)),
            send(3, left(2, LeaveReason::Disconnected)),
        ]
    );
    // Nobody can collect them: the token now makes a new person, who gets no keys.
    let out = h.resume(12, "alpha", &resume_token(2));
    assert_eq!(keys_in(&out), []);
    assert!(!matches!(out[0], Output::Resumed { .. }), "{out:?}");
    // And sending to the one who left is an error, as for anyone unknown.
    let out = e2ee(&mut h, 3, 2, 2);
    assert_eq!(error(&out).1, ErrorCode::UnknownParticipant);
}
