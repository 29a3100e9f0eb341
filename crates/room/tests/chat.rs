//! Chat and reactions: delivery, private messages, checks, rate limits and the history option.

mod common;
use common::*;

fn everyone(ids: &[u64], message: ServerMessage) -> Vec<Output> {
    ids.iter().map(|&n| send(n, message.clone())).collect()
}

fn history_on(h: &mut Harness) {
    h.act(1, Action::SetChatHistory(true));
}

#[test]
fn a_group_message_reaches_everyone_including_the_sender_numbered_from_one() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let first = chat(chat_message(1, 2, "hello all", None));
    assert_eq!(
        h.chat(2, "  hello all \n", None),
        everyone(&[1, 2, 3], first)
    );
    let second = chat(chat_message(2, 3, "hi", None));
    assert_eq!(h.chat(3, "hi", None), everyone(&[1, 2, 3], second));
}

#[test]
fn a_private_message_reaches_only_the_sender_and_the_recipient() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let message = chat(chat_message(1, 1, "psst", Some(3)));
    assert_eq!(
        h.chat(1, "psst", Some(3)),
        [send(1, message.clone()), send(3, message)]
    );
    // A message to yourself arrives once.
    let to_self = chat(chat_message(2, 2, "note", Some(2)));
    assert_eq!(h.chat(2, "note", Some(2)), [send(2, to_self)]);
}

#[test]
fn a_private_message_to_someone_not_in_the_room_is_unknown_participant() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.act(1, Action::SetLobby(true));
    h.join(3, "alpha"); // waits in the lobby
    h.join(9, "beta"); // elsewhere
    for target in [3, 9, 42] {
        let (to, code, message) = error(&h.chat(2, "hi", Some(target)));
        assert_eq!((to, code), (pid(2), ErrorCode::UnknownParticipant));
        assert!(message.contains(&format!("p{target}")), "{message}");
    }
    // Nothing was numbered meanwhile.
    assert_eq!(
        h.chat(2, "x", None)[0],
        send(1, chat(chat_message(1, 2, "x", None)))
    );
}

#[test]
fn bad_text_is_bad_chat_to_the_sender_only() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let long = "a".repeat(MAX_CHAT_CHARS + 1);
    for text in [
        "",
        "   \n\t ",
        "bell\u{7}",
        "carriage\rreturn",
        "esc\u{1b}[31m",
        &long,
    ] {
        let (to, code, _) = error(&h.chat(2, text, None));
        assert_eq!((to, code), (pid(2), ErrorCode::BadChat), "{text:?}");
    }
    let longest = "ü".repeat(MAX_CHAT_CHARS);
    assert_eq!(h.chat(2, &longest, None).len(), 2);
    assert_eq!(
        h.chat(2, "line one\n\tline two", None)[0],
        send(1, chat(chat_message(2, 2, "line one\n\tline two", None)))
    );
}

#[test]
fn chat_text_is_passed_on_as_text_without_changes_but_trimming() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let xss = "<img src=x onerror=alert(1)> & <script>";
    assert_eq!(
        h.chat(1, xss, None)[1],
        send(2, chat(chat_message(1, 1, xss, None)))
    );
}

#[test]
fn chat_allows_five_in_a_row_then_one_per_second() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for _ in 0..5 {
        assert_eq!(h.chat(2, "spam", None).len(), 2);
    }
    let (to, code, message) = error(&h.chat(2, "spam", None));
    assert_eq!((to, code), (pid(2), ErrorCode::RateLimited));
    assert!(message.contains("too fast"), "{message}");
    // Others are not affected.
    assert_eq!(h.chat(1, "fine", None).len(), 2);
    h.advance(0.5);
    assert_eq!(error(&h.chat(2, "spam", None)).1, ErrorCode::RateLimited);
    h.advance(0.5);
    assert_eq!(h.chat(2, "spam", None).len(), 2);
    assert_eq!(error(&h.chat(2, "spam", None)).1, ErrorCode::RateLimited);
    h.advance(60.0);
    for _ in 0..5 {
        assert_eq!(h.chat(2, "again", None).len(), 2);
    }
    assert_eq!(error(&h.chat(2, "spam", None)).1, ErrorCode::RateLimited);
}

#[test]
fn refused_messages_cost_no_rate_and_no_number() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for _ in 0..10 {
        error(&h.chat(2, "", None));
        error(&h.chat(2, "x", Some(42)));
    }
    assert_eq!(
        h.chat(2, "ok", None)[0],
        send(1, chat(chat_message(1, 2, "ok", None)))
    );
}

#[test]
fn the_message_carries_the_current_name() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    let new_name = DisplayName::parse("Zoë").expect("valid display name");
    h.input(Input::SetName {
        id: pid(2),
        name: new_name.clone(),
    });
    let message = ChatMessage {
        name: new_name,
        ..chat_message(1, 2, "renamed", None)
    };
    assert_eq!(h.chat(2, "renamed", None)[0], send(1, chat(message)));
}

#[test]
fn someone_in_the_lobby_cannot_chat_or_react() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.join(2, "alpha");
    assert_eq!(
        error(&h.chat(2, "let me in", None)).1,
        ErrorCode::OutOfOrder
    );
    assert_eq!(error(&h.react(2, REACTIONS[0])).1, ErrorCode::OutOfOrder);
}

#[test]
fn unknown_senders_are_errors_without_effect() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    let chat = Input::Chat {
        id: pid(9),
        text: "x".into(),
        to: None,
    };
    let react = Input::React {
        id: pid(9),
        emoji: REACTIONS[0].into(),
    };
    for input in [chat, react] {
        assert_eq!(
            h.rooms.handle(h.now, input),
            Err(RoomError::UnknownParticipant(pid(9)))
        );
        assert_eq!(h.drain(), []);
    }
}

#[test]
fn newcomers_see_no_earlier_messages_by_default() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.chat(1, "before", None);
    let out = h.join(3, "alpha");
    assert!(
        !out.iter().any(|o| matches!(
            o,
            Output::Send {
                message: ServerMessage::ChatHistory { .. } | ServerMessage::Chat { .. },
                ..
            }
        )),
        "{out:?}"
    );
}

#[test]
fn with_history_on_newcomers_get_the_group_messages_right_after_welcome() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    // Said before the option was turned on: shared too (documented on the action).
    h.chat(1, "before", None);
    h.chat(1, "private", Some(2));
    history_on(&mut h);
    h.chat(2, "after", None);
    let out = h.join(3, "alpha");
    let settings = RoomSettings {
        chat_history: true,
        ..INITIAL
    };
    assert_eq!(
        out[..3],
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
                    settings,
                    None
                )
            ),
            send(
                3,
                ServerMessage::ChatHistory {
                    messages: vec![
                        chat_message(1, 1, "before", None),
                        chat_message(3, 2, "after", None)
                    ]
                }
            ),
        ]
    );
}

#[test]
fn history_keeps_the_last_hundred_group_messages() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    history_on(&mut h);
    for i in 1..=120 {
        h.advance(1.0);
        h.chat(1 + i % 2, &format!("m{i}"), None);
    }
    let out = h.join(3, "alpha");
    let Output::Send {
        message: ServerMessage::ChatHistory { messages },
        ..
    } = &out[2]
    else {
        panic!("history after welcome: {out:?}")
    };
    assert_eq!(messages.len(), CHAT_HISTORY_LEN);
    assert_eq!(messages[0].seq, 21);
    assert_eq!(messages[0].text, "m21");
    assert_eq!(messages[99].text, "m120");
}

#[test]
fn an_empty_history_is_still_sent_when_on() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    history_on(&mut h);
    let out = h.join(2, "alpha");
    assert_eq!(
        out[2],
        send(2, ServerMessage::ChatHistory { messages: vec![] })
    );
}

#[test]
fn history_is_gone_with_the_room() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    history_on(&mut h);
    h.chat(1, "secret plans", None);
    h.leave(1);
    h.join(2, "alpha");
    h.act(2, Action::SetChatHistory(true));
    let out = h.join(3, "alpha");
    assert_eq!(
        out[2],
        send(3, ServerMessage::ChatHistory { messages: vec![] })
    );
    // And numbering starts again.
    assert_eq!(
        h.chat(3, "new", None)[0],
        send(2, chat(chat_message(1, 3, "new", None)))
    );
}

#[test]
fn the_history_option_is_a_moderator_setting_broadcast_to_everyone() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let (to, code, _) = error(&h.act(2, Action::SetChatHistory(true)));
    assert_eq!((to, code), (pid(2), ErrorCode::NotAllowed));
    let on = ServerMessage::Settings {
        settings: RoomSettings {
            chat_history: true,
            ..INITIAL
        },
    };
    assert_eq!(
        h.act(1, Action::SetChatHistory(true)),
        everyone(&[1, 2, 3], on)
    );
    assert_eq!(h.act(1, Action::SetChatHistory(true)), [], "unchanged");
    assert_eq!(h.act(1, Action::SetChatHistory(false)).len(), 3);
}

#[test]
fn a_reaction_reaches_everyone_including_the_sender() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    for emoji in REACTIONS {
        h.advance(1.0);
        let reaction = ServerMessage::Reaction {
            id: pid(2),
            emoji: emoji.into(),
        };
        assert_eq!(h.react(2, emoji), everyone(&[1, 2, 3], reaction));
    }
}

#[test]
fn other_emoji_are_bad_reaction() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for emoji in ["", "💩", "👍👍", "<b>", "❤"] {
        let (to, code, _) = error(&h.react(2, emoji));
        assert_eq!((to, code), (pid(2), ErrorCode::BadReaction), "{emoji:?}");
    }
}

#[test]
fn reactions_allow_three_in_a_row_then_one_per_second() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for _ in 0..3 {
        assert_eq!(h.react(2, "🎉").len(), 2);
    }
    assert_eq!(error(&h.react(2, "🎉")).1, ErrorCode::RateLimited);
    // Chat has its own budget.
    assert_eq!(h.chat(2, "still fine", None).len(), 2);
    h.advance(1.0);
    assert_eq!(h.react(2, "🎉").len(), 2);
    assert_eq!(error(&h.react(2, "🎉")).1, ErrorCode::RateLimited);
}
