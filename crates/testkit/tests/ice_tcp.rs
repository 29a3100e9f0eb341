//! ICE-TCP in process: participants whose only candidate is TCP meet through the server's
//! passive TCP candidate (RFC 6544, RFC 4571 framing), alone and beside UDP participants.

use moot_protocol::TrackKind;
use moot_testkit::{assert_receives_media, spawn_server, SimOptions, SimParticipant};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn tcp_only() -> SimOptions {
    SimOptions {
        tcp: true,
        ..SimOptions::default()
    }
}

async fn assert_receives(receiver: &SimParticipant, sender: &SimParticipant) {
    assert_receives_media(receiver, sender, 30, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_participants_meet_over_tcp_only() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "tcp-only-room", "Alice", tcp_only())
        .await
        .expect("a joins");
    let b = SimParticipant::join(&url, "tcp-only-room", "Bob", tcp_only())
        .await
        .expect("b joins");
    assert_receives(&a, &b).await;
    assert_receives(&b, &a).await;
    assert!(a.is_connected() && b.is_connected());
    for p in [&a, &b] {
        assert!(p.errors().is_empty(), "{:?}", p.errors());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_participant_and_a_udp_participant_share_a_room() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let tcp = SimParticipant::join(&url, "mixed-transport-room", "Tess", tcp_only())
        .await
        .expect("tcp joins");
    let udp = SimParticipant::join(&url, "mixed-transport-room", "Uma", SimOptions::default())
        .await
        .expect("udp joins");
    assert_receives(&tcp, &udp).await;
    assert_receives(&udp, &tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ice_tcp_off_a_tcp_only_participant_gets_no_media() {
    let mut config = moot_server::config::Config::default();
    config.media.tcp_port = Some(0);
    let server = moot_testkit::spawn_server_with(config)
        .await
        .expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "no-tcp-room", "Alice", tcp_only())
        .await
        .expect("a joins");
    let b = SimParticipant::join(&url, "no-tcp-room", "Bob", SimOptions::default())
        .await
        .expect("b joins");
    // Signaling works, media cannot: the server offers no TCP candidate to connect to.
    assert!(
        !a.wait_until(Duration::from_secs(3), |a| a.is_connected())
            .await
    );
    assert_eq!(b.received(a.id, TrackKind::Audio).frames, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_packets_reach_rooms_on_every_media_worker() {
    let mut config = moot_server::config::Config::default();
    config.media.threads = 2;
    let server = moot_testkit::spawn_server_with(config)
        .await
        .expect("server starts");
    let url = server.ws_url();
    let mut rooms = Vec::new();
    for room in ["tcp-worker-room-one", "tcp-worker-room-two"] {
        let a = SimParticipant::join(&url, room, "Alice", tcp_only())
            .await
            .expect("a joins");
        let b = SimParticipant::join(&url, room, "Bob", tcp_only())
            .await
            .expect("b joins");
        rooms.push((a, b));
    }
    assert_eq!(server.info.media_worker_load(), vec![2, 2], "one room each");
    for (a, b) in &rooms {
        assert_receives(a, b).await;
        assert_receives(b, a).await;
    }
}
