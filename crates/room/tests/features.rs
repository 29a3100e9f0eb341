//! Names, the raised-hand queue, screen sharing, receive quality and the dominant speaker.

mod common;
use common::*;

fn everyone(ids: &[u64], message: ServerMessage) -> Vec<Output> {
    ids.iter().map(|&n| send(n, message.clone())).collect()
}

fn display(text: &str) -> DisplayName {
    DisplayName::parse(text).expect("valid display name")
}

fn rename(h: &mut Harness, n: u64, text: &str) -> Vec<Output> {
    h.input(Input::SetName {
        id: pid(n),
        name: display(text),
    })
}

fn speaker(h: &mut Harness, id: Option<u64>, room_of: u64) -> Vec<Output> {
    h.input(Input::DominantSpeaker {
        id: id.map(pid),
        room_of: pid(room_of),
    })
}

fn speaking(id: Option<u64>) -> ServerMessage {
    ServerMessage::DominantSpeaker { id: id.map(pid) }
}

fn quality(h: &mut Harness, n: u64, quality: Quality) -> Vec<Output> {
    h.input(Input::SetQuality {
        id: pid(n),
        quality,
    })
}

#[test]
fn a_new_name_is_told_to_everyone_including_the_sender() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    let renamed = Participant {
        name: display("Ada"),
        ..person(2)
    };
    assert_eq!(
        rename(&mut h, 2, "Ada"),
        everyone(&[1, 2, 3], updated(renamed.clone()))
    );
    assert_eq!(h.participants("alpha")[1], renamed);
    assert_eq!(rename(&mut h, 2, "Ada"), [], "unchanged says nothing");
    let out = h.join(4, "alpha");
    assert_eq!(
        out[1],
        send(
            4,
            welcome(person(4), "alpha", vec![moderator(1), renamed, person(3)])
        )
    );
}

#[test]
fn someone_in_the_lobby_cannot_rename_or_set_quality() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.join(2, "alpha");
    assert_eq!(error(&rename(&mut h, 2, "Sneaky")).1, ErrorCode::OutOfOrder);
    assert_eq!(
        error(&quality(&mut h, 2, Quality::Low)).1,
        ErrorCode::OutOfOrder
    );
    // The lobby entry keeps the name given in hello.
    h.act(1, Action::Admit(pid(2)));
    assert_eq!(h.participants("alpha")[1].name, name(2));
}

#[test]
fn raised_hands_are_numbered_in_raise_order() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=4);
    h.hand(3, true);
    h.hand(2, true);
    let seqs = |h: &Harness| -> Vec<Option<u64>> {
        h.participants("alpha").iter().map(|p| p.hand_seq).collect()
    };
    assert_eq!(seqs(&h), [None, Some(2), Some(1), None]);
    // A repeated raise keeps its place and says nothing.
    assert_eq!(h.hand(3, true), []);
    assert_eq!(seqs(&h), [None, Some(2), Some(1), None]);
    // Lowering clears it; raising again goes to the back of the queue.
    let lowered = h.hand(3, false);
    assert_eq!(lowered.len(), 4);
    assert_eq!(seqs(&h), [None, Some(2), None, None]);
    h.hand(4, true);
    h.hand(3, true);
    assert_eq!(seqs(&h), [None, Some(2), Some(4), Some(3)]);
    let raised = Participant {
        hand_raised: true,
        hand_seq: Some(4),
        ..person(3)
    };
    assert_eq!(h.participants("alpha")[2], raised);
}

#[test]
fn allow_unmute_lowering_a_hand_clears_its_place() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    h.hand(2, true);
    let out = h.act(1, Action::AllowUnmute(pid(2)));
    assert_eq!(out, everyone(&[1, 2], updated(person(2))));
    assert_eq!(h.participants("alpha")[1].hand_seq, None);
}

#[test]
fn screen_sharing_is_recorded_and_told_to_the_others() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    h.media(2, true, false);
    let sharing = Participant {
        audio: true,
        screen: true,
        ..person(2)
    };
    assert_eq!(
        h.screen(2, true),
        everyone(&[1, 3], updated(sharing.clone()))
    );
    assert_eq!(h.participants("alpha")[1], sharing);
    assert_eq!(h.screen(2, true), [], "unchanged says nothing");
    // A media_state without `screen` (default false) stops the share.
    assert_eq!(h.media(2, true, false).len(), 2);
    assert!(!h.participants("alpha")[1].screen);
}

#[test]
fn quality_goes_to_the_sfu_and_to_nobody_else() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    for q in [
        Quality::AudioOnly,
        Quality::Low,
        Quality::Standard,
        Quality::High,
    ] {
        assert_eq!(
            quality(&mut h, 2, q),
            [Output::Quality {
                id: pid(2),
                quality: q
            }]
        );
    }
    let unknown = h.rooms.handle(
        h.now,
        Input::SetQuality {
            id: pid(9),
            quality: Quality::Low,
        },
    );
    assert_eq!(unknown, Err(RoomError::UnknownParticipant(pid(9))));
}

#[test]
fn the_dominant_speaker_is_broadcast_only_when_it_changes() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    h.join(7, "beta");
    assert_eq!(
        speaker(&mut h, Some(2), 3),
        everyone(&[1, 2, 3], speaking(Some(2)))
    );
    assert_eq!(speaker(&mut h, Some(2), 1), [], "unchanged");
    assert_eq!(
        speaker(&mut h, Some(3), 2),
        everyone(&[1, 2, 3], speaking(Some(3)))
    );
    assert_eq!(
        speaker(&mut h, None, 2),
        everyone(&[1, 2, 3], speaking(None))
    );
    assert_eq!(speaker(&mut h, None, 2), []);
    // Someone from another room (or gone) is ignored; the other room is unaffected.
    assert_eq!(speaker(&mut h, Some(7), 1), []);
    assert_eq!(speaker(&mut h, Some(42), 1), []);
    assert_eq!(speaker(&mut h, Some(7), 7), [send(7, speaking(Some(7)))]);
}

#[test]
fn the_dominant_speaker_input_needs_a_member_for_its_room() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    h.act(1, Action::SetLobby(true));
    h.join(2, "alpha");
    for room_of in [2, 9] {
        let result = h.rooms.handle(
            h.now,
            Input::DominantSpeaker {
                id: Some(pid(1)),
                room_of: pid(room_of),
            },
        );
        assert_eq!(result, Err(RoomError::UnknownParticipant(pid(room_of))));
        assert_eq!(h.drain(), []);
    }
}

#[test]
fn when_the_speaker_leaves_nobody_speaks() {
    let mut h = Harness::default();
    h.fill("alpha", 1..=3);
    speaker(&mut h, Some(2), 1);
    let out = h.leave(2);
    assert_eq!(
        out[1..],
        [
            send(
                1,
                ServerMessage::ParticipantLeft {
                    id: pid(2),
                    reason: LeaveReason::Left
                }
            ),
            send(
                3,
                ServerMessage::ParticipantLeft {
                    id: pid(2),
                    reason: LeaveReason::Left
                }
            ),
            send(1, speaking(None)),
            send(3, speaking(None)),
        ]
    );
    // Someone else leaving says nothing about speakers.
    speaker(&mut h, Some(1), 1);
    assert_eq!(h.leave(3).len(), 2);
}

#[test]
fn a_newcomer_learns_who_speaks_after_the_welcome() {
    let mut h = Harness::default();
    h.fill("alpha", [1, 2]);
    speaker(&mut h, Some(1), 1);
    let out = h.join(3, "alpha");
    assert_eq!(out[2], send(3, speaking(Some(1))));
}
