//! In-process meetings: a real server on port 0 and simulated str0m participants.

use moot_protocol::TrackKind;
use moot_testkit::{spawn_server, SimOptions, SimParticipant};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn receives_from(p: &SimParticipant, other: &SimParticipant, kind: TrackKind, frames: u64) -> bool {
    p.received(other.id, kind).frames >= frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_receive_each_others_audio_and_video() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "sim-room-one", "Alice", SimOptions::default())
        .await
        .expect("a joins");
    let b = SimParticipant::join(&url, "sim-room-one", "Bob", SimOptions::default())
        .await
        .expect("b joins");
    let c = SimParticipant::join(&url, "SIM-Room-One", "Carol", SimOptions::default())
        .await
        .expect("c joins (case-insensitive name)");
    let all = [&a, &b, &c];
    for receiver in all {
        for sender in all {
            if receiver.id == sender.id {
                continue;
            }
            for kind in [TrackKind::Audio, TrackKind::Video] {
                assert!(
                    receiver
                        .wait_until(WAIT, |r| receives_from(r, sender, kind, 20))
                        .await,
                    "{} got only {:?} of {kind:?} from {}",
                    receiver.id,
                    receiver.received(sender.id, kind),
                    sender.id
                );
            }
            assert!(
                receiver.received(sender.id, TrackKind::Video).keyframes >= 1,
                "a keyframe arrives first: kf requests at sender {}, server stats {:?}",
                sender.keyframe_requests(),
                server.info.media_stats()
            );
        }
    }
    assert_eq!(server.info.room_counts(), (1, 3));
    for p in all {
        assert!(p.errors().is_empty(), "{:?}", p.errors());
    }
    // Carol leaves: within 2 s her media stops reaching the others, and they are told.
    let carol = c.id;
    c.leave().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let frozen = a.received(carol, TrackKind::Video).frames;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        a.received(carol, TrackKind::Video).frames,
        frozen,
        "media of a departed participant still flows"
    );
    assert!(!a.knows(carol) && !b.knows(carol));
    // Alice and Bob carry on.
    let before = b.received(a.id, TrackKind::Video).frames;
    assert!(
        b.wait_until(WAIT, |b| b.received(a.id, TrackKind::Video).frames
            > before + 10)
            .await
    );
    assert_eq!(
        (a.ended(), b.ended()),
        (None, None),
        "sessions still running"
    );
    a.leave().await;
    b.leave().await;
    // The room is gone from memory with its last participant.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while server.info.room_counts() != (0, 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.info.room_counts(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_isolated_and_audio_only_works() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "room-a", "A", SimOptions::default())
        .await
        .expect("join");
    let b = SimParticipant::join(
        &url,
        "room-a",
        "B",
        SimOptions {
            video: false,
            ..SimOptions::default()
        },
    )
    .await
    .expect("join");
    let x = SimParticipant::join(&url, "room-x", "X", SimOptions::default())
        .await
        .expect("join");
    assert!(
        a.wait_until(WAIT, |a| receives_from(a, &b, TrackKind::Audio, 20))
            .await
    );
    assert!(
        b.wait_until(WAIT, |b| receives_from(b, &a, TrackKind::Video, 20))
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        a.received(b.id, TrackKind::Video).frames,
        0,
        "b sends no video"
    );
    for (p, q) in [(&a, &x), (&x, &a), (&x, &b)] {
        assert_eq!(
            p.received(q.id, TrackKind::Audio).frames,
            0,
            "media crossed rooms"
        );
        assert!(!p.knows(q.id), "participants crossed rooms");
    }
    assert_eq!(server.info.room_counts(), (2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_participant_is_removed_by_the_server() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "vanish", "A", SimOptions::default())
        .await
        .expect("join");
    let b = SimParticipant::join(&url, "vanish", "B", SimOptions::default())
        .await
        .expect("join");
    assert!(
        a.wait_until(WAIT, |a| receives_from(a, &b, TrackKind::Video, 10))
            .await
    );
    let gone = b.id;
    b.vanish();
    // The WebSocket is dropped with the task, so the server sees the close and removes B.
    assert!(
        a.wait_until(Duration::from_secs(20), |a| !a.knows(gone))
            .await
    );
    assert_eq!(server.info.room_counts(), (1, 1));
}
