//! Several media worker threads: rooms are spread over them, datagrams that the kernel hands
//! to the wrong worker are passed on, and every room still works as on one thread.

use moot_protocol::TrackKind;
use moot_server::config::Config;
use moot_testkit::{assert_receives_media, spawn_server_with, SimOptions, SimParticipant};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn config(threads: usize) -> Config {
    let mut config = Config::default();
    config.media.threads = threads;
    config
}

async fn join_room(url: &str, room: &str, count: usize) -> Vec<SimParticipant> {
    let mut people = Vec::new();
    for i in 0..count {
        let p = SimParticipant::join(url, room, &format!("P{i}"), SimOptions::default())
            .await
            .expect("joins");
        people.push(p);
    }
    people
}

/// Everyone in `room` receives audio and video from everyone else in it.
async fn assert_meeting_works(room: &[SimParticipant]) {
    for receiver in room {
        for sender in room.iter().filter(|s| s.id != receiver.id) {
            assert_receives_media(receiver, sender, 20, WAIT).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_spread_over_two_workers_and_each_works() {
    let server = spawn_server_with(config(2)).await.expect("server starts");
    let url = server.ws_url();
    let first = join_room(&url, "workers-room-one", 4).await;
    let second = join_room(&url, "workers-room-two", 4).await;
    assert_eq!(
        server.info.media_worker_load(),
        vec![4, 4],
        "each room on its own worker"
    );
    assert_meeting_works(&first).await;
    assert_meeting_works(&second).await;
    // Nothing crosses between rooms.
    for a in &first {
        for b in &second {
            assert_eq!(a.received(b.id, TrackKind::Video).frames, 0);
            assert_eq!(b.received(a.id, TrackKind::Audio).frames, 0);
        }
    }
    // The kernel spreads the 8 clients' datagrams over both sockets by address; the share
    // that landed on the other room's worker was passed on (printed, since the hash decides).
    eprintln!(
        "datagrams passed between workers: {}",
        server.info.media_datagrams_passed_on()
    );
    for p in first.iter().chain(&second) {
        assert!(p.errors().is_empty(), "{:?}", p.errors());
    }
    // A room that empties frees its worker: the next new room goes there.
    for p in first {
        p.leave().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.info.media_worker_load(), vec![0, 4]);
    let third = join_room(&url, "workers-room-three", 2).await;
    assert_eq!(server.info.media_worker_load(), vec![2, 4]);
    assert_meeting_works(&third).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_serves_everything() {
    let server = spawn_server_with(config(1)).await.expect("server starts");
    let url = server.ws_url();
    let first = join_room(&url, "one-worker-a", 2).await;
    let second = join_room(&url, "one-worker-b", 2).await;
    assert_eq!(server.info.media_worker_load(), vec![4]);
    assert_meeting_works(&first).await;
    assert_meeting_works(&second).await;
    assert_eq!(server.info.media_datagrams_passed_on(), 0);
}
