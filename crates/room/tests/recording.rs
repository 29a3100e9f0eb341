//! Recording on the server (docs/protocol.md, "Recording"): moderators only, on a server
//! that records, never in an encrypted meeting, and everyone told before it starts.

mod common;

use common::*;
use moot_protocol::{ErrorCode, RoomSettings, ServerMessage};
use moot_room::{Action, Output, RoomInstanceId, RoomsConfig};

const INSTANCE: RoomInstanceId = RoomInstanceId(1);

fn recording_server() -> Harness {
    Harness::new(RoomsConfig {
        recording_available: true,
        ..RoomsConfig::default()
    })
}

fn settings(recording: bool, e2ee: bool) -> ServerMessage {
    ServerMessage::Settings {
        settings: RoomSettings {
            recording,
            e2ee,
            ..INITIAL
        },
    }
}

/// An E2EE-capable join request (a valid-looking identity key).
fn capable(n: u64) -> moot_room::JoinRequest {
    let mut request = request(n);
    request.e2ee = true;
    request.e2ee_public_key = Some("BP3xQUJDREVGR0g=".into());
    request
}

#[test]
fn a_moderator_starts_it_after_everyone_is_told_and_stops_it_before() {
    let mut h = recording_server();
    h.join(1, "alpha");
    h.join(2, "alpha");
    let (to, code, _) = error(&h.act(2, Action::SetRecording(true)));
    assert_eq!(
        (to, code),
        (pid(2), ErrorCode::NotAllowed),
        "not a moderator"
    );
    let out = h.act(1, Action::SetRecording(true));
    assert_eq!(
        out,
        [
            send(1, settings(true, false)),
            send(2, settings(true, false)),
            Output::Recording {
                instance: INSTANCE,
                enabled: true
            }
        ],
        "told first, recorded after"
    );
    // A newcomer learns it in its welcome, before it sends or receives any media.
    let joined = h.join(3, "alpha");
    let welcome = joined
        .iter()
        .find_map(|o| match o {
            Output::Send {
                message: ServerMessage::Welcome { settings, .. },
                ..
            } => Some(*settings),
            _ => None,
        })
        .expect("a welcome");
    assert!(welcome.recording);
    let out = h.act(1, Action::SetRecording(false));
    assert_eq!(
        out,
        [
            Output::Recording {
                instance: INSTANCE,
                enabled: false
            },
            send(1, settings(false, false)),
            send(2, settings(false, false)),
            send(3, settings(false, false)),
        ],
        "stopped first, told after"
    );
}

#[test]
fn starting_twice_or_stopping_what_is_not_running_is_a_clear_error_and_changes_nothing() {
    let mut h = recording_server();
    h.join(1, "alpha");
    let (_, code, message) = error(&h.act(1, Action::SetRecording(false)));
    assert_eq!(code, ErrorCode::OutOfOrder);
    assert!(message.contains("not being recorded"), "{message}");
    h.act(1, Action::SetRecording(true));
    let (_, code, message) = error(&h.act(1, Action::SetRecording(true)));
    assert_eq!(code, ErrorCode::OutOfOrder);
    assert!(message.contains("already"), "{message}");
}

#[test]
fn a_server_that_does_not_record_says_so() {
    let mut h = Harness::default();
    h.join(1, "alpha");
    let (to, code, message) = error(&h.act(1, Action::SetRecording(true)));
    assert_eq!((to, code), (pid(1), ErrorCode::RecordingUnavailable));
    assert!(message.contains("does not record"), "{message}");
    assert!(h.drain().is_empty(), "nothing else happens");
}

#[test]
fn an_encrypted_meeting_is_never_recorded_and_encryption_stops_a_recording() {
    let mut h = recording_server();
    h.join_with(1, "alpha", capable(1));
    h.join_with(2, "alpha", capable(2));
    h.act(1, Action::SetRecording(true));
    let out = h.act(1, Action::SetE2ee(true));
    assert_eq!(
        out,
        [
            Output::Recording {
                instance: INSTANCE,
                enabled: false
            },
            send(1, settings(false, true)),
            send(2, settings(false, true)),
        ],
        "the server stops keeping what it can no longer see, then everyone is told"
    );
    let (_, code, message) = error(&h.act(1, Action::SetRecording(true)));
    assert_eq!(code, ErrorCode::RecordingEncrypted);
    assert!(message.contains("own device"), "{message}");
}

#[test]
fn a_recording_the_server_stopped_tells_everyone_and_its_moderators_why() {
    let mut h = recording_server();
    h.join(1, "alpha");
    h.join(2, "alpha");
    h.act(1, Action::SetRecording(true));
    let ended = || moot_room::Input::RecordingEnded {
        instance: INSTANCE,
        reason: "the disk is nearly full".into(),
    };
    let out = h.input(ended());
    assert_eq!(
        out,
        [
            Output::Recording {
                instance: INSTANCE,
                enabled: false
            },
            send(1, settings(false, false)),
            send(2, settings(false, false)),
            send(
                1,
                ServerMessage::error(
                    ErrorCode::RecordingStopped,
                    "the recording stopped: the disk is nearly full"
                )
            ),
        ],
        "stopped everywhere, then everyone is told, the moderator why"
    );
    assert!(
        h.input(ended()).is_empty(),
        "a second report changes nothing"
    );
    // It can be started again.
    assert!(h
        .act(1, Action::SetRecording(true))
        .contains(&Output::Recording {
            instance: INSTANCE,
            enabled: true
        }));
}

#[test]
fn a_recording_ends_with_its_room() {
    let mut h = recording_server();
    h.join(1, "alpha");
    h.act(1, Action::SetRecording(true));
    let out = h.leave(1);
    let recording_off = out.iter().position(|o| {
        *o == Output::Recording {
            instance: INSTANCE,
            enabled: false,
        }
    });
    let destroyed = out
        .iter()
        .position(|o| matches!(o, Output::RoomDestroyed { .. }));
    assert!(
        recording_off.is_some() && recording_off < destroyed,
        "stopped, then the room is gone: {out:?}"
    );
    // A room that was not recording ends without a word about recording.
    h.join(2, "beta");
    let out = h.leave(2);
    assert!(
        !out.iter().any(|o| matches!(o, Output::Recording { .. })),
        "{out:?}"
    );
}
