//! Simulcast: a subscriber gets one layer chosen for it, switches layers only at keyframes, and
//! sees one continuous stream (no sequence gaps) across switches; the layer follows the tile
//! size it reports and its bandwidth; layers nobody needs are paused at the publisher.

use moot_protocol::TrackKind;
use moot_server::config::Config;
use moot_testkit::{
    simulcast_layer_of, spawn_server, spawn_server_with, SimOptions, SimParticipant,
};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
/// Congestion control needs a few seconds to notice a slow link and to trust a fast one again.
const ADAPT_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_its_layer_and_switches_cleanly() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let publisher = SimParticipant::join(
        &url,
        "layers",
        "Pub",
        SimOptions {
            simulcast: true,
            ..SimOptions::default()
        },
    )
    .await
    .expect("joins");
    let high = SimParticipant::join(
        &url,
        "layers",
        "High",
        SimOptions {
            video: false,
            ..SimOptions::default()
        },
    )
    .await
    .expect("joins");
    let low = SimParticipant::join(
        &url,
        "layers",
        "Low",
        SimOptions {
            video: false,
            ..SimOptions::default()
        },
    )
    .await
    .expect("joins");
    low.send(json!({"type": "set_quality", "quality": "low"}));
    let layer = |p: &SimParticipant| {
        simulcast_layer_of(p.received(publisher.id, TrackKind::Video).last_size)
    };
    assert!(
        high.wait_until(WAIT, |h| layer(h) == Some(2)).await,
        "high gets the top layer: {:?}",
        high.received(publisher.id, TrackKind::Video)
    );
    assert!(
        low.wait_until(WAIT, |l| layer(l) == Some(0)).await,
        "low gets the bottom layer: {:?}",
        low.received(publisher.id, TrackKind::Video)
    );
    // Each receives one stream at the publisher's frame rate, not three.
    let per_second = high
        .frames_during(publisher.id, TrackKind::Video, Duration::from_secs(1))
        .await;
    assert!(
        (20..=40).contains(&per_second),
        "{per_second} frames in a second"
    );
    // Switch low up and high down: both land on the new layer, without gaps.
    low.send(json!({"type": "set_quality", "quality": "high"}));
    high.send(json!({"type": "set_quality", "quality": "standard"}));
    assert!(
        low.wait_until(WAIT, |l| layer(l) == Some(2)).await,
        "low switched up"
    );
    assert!(
        high.wait_until(WAIT, |h| layer(h) == Some(1)).await,
        "high switched to the middle"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in [&high, &low] {
        let r = p.received(publisher.id, TrackKind::Video);
        assert_eq!(r.gaps, 0, "a switch left a gap: {r:?}");
        assert!(r.keyframes >= 2, "a switch lands on a keyframe: {r:?}");
    }
}

async fn publisher_and_viewer(url: &str, room: &str) -> (SimParticipant, SimParticipant) {
    let publisher = SimParticipant::join(
        url,
        room,
        "Pub",
        SimOptions {
            simulcast: true,
            ..SimOptions::default()
        },
    )
    .await
    .expect("joins");
    let viewer = SimParticipant::join(
        url,
        room,
        "Viewer",
        SimOptions {
            video: false,
            ..SimOptions::default()
        },
    )
    .await
    .expect("joins");
    (publisher, viewer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tile_size_picks_the_layer_and_unwanted_layers_pause_at_the_publisher() {
    let server = spawn_server().await.expect("server");
    let (publisher, viewer) = publisher_and_viewer(&server.ws_url(), "tiles").await;
    let layer = |p: &SimParticipant| {
        simulcast_layer_of(p.received(publisher.id, TrackKind::Video).last_size)
    };
    assert!(
        viewer.wait_until(WAIT, |v| layer(v) == Some(2)).await,
        "no tile reported: the top layer {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
    // Layers are 120, 240 and 480 lines high (their keyframes say so).
    let pid = publisher.id.to_string();
    viewer.send(json!({"type": "view_sizes", "sizes": {pid.clone(): 100}}));
    assert!(
        viewer.wait_until(WAIT, |v| layer(v) == Some(0)).await,
        "a 100-pixel tile gets the 120-line layer: {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
    // Nobody needs "h" and "f" any more: after the hold the publisher is told to stop them,
    // and stops (this simulated publisher obeys, as the browser does).
    assert!(
        publisher
            .wait_until(WAIT, |p| p
                .layers_messages()
                .last()
                .is_some_and(|(_, active)| active == &["q"]))
            .await,
        "publisher told to send only q: {:?}",
        publisher.layers_messages()
    );
    viewer.send(json!({"type": "view_sizes", "sizes": {pid.clone(): 200}}));
    assert!(
        viewer.wait_until(WAIT, |v| layer(v) == Some(1)).await,
        "a 200-pixel tile gets the 240-line layer again, resumed: {:?} {:?}",
        viewer.received(publisher.id, TrackKind::Video),
        publisher.layers_messages()
    );
    viewer.send(json!({"type": "view_sizes", "sizes": {pid.clone(): 1080}}));
    assert!(
        viewer.wait_until(WAIT, |v| layer(v) == Some(2)).await,
        "a large tile gets the top layer: {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
    let told = publisher.layers_messages();
    assert!(
        told.last()
            .is_some_and(|(_, active)| active.contains(&"f".to_owned())),
        "f resumed: {told:?}"
    );
    // A hidden tile (0) gets nothing at all; the lowest layer is still never paused.
    viewer.send(json!({"type": "view_sizes", "sizes": {pid: 0}}));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        viewer
            .frames_during(publisher.id, TrackKind::Video, Duration::from_secs(1))
            .await,
        0,
        "a hidden tile receives no video"
    );
    assert!(
        publisher
            .wait_until(WAIT, |p| p
                .layers_messages()
                .last()
                .is_some_and(|(_, active)| active == &["q"]))
            .await,
        "{:?}",
        publisher.layers_messages()
    );
    let r = viewer.received(publisher.id, TrackKind::Video);
    assert_eq!(r.gaps, 0, "switches and pauses left no gap: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_gets_the_low_layer_and_recovers_when_it_is_fast_again() {
    let server = spawn_server().await.expect("server");
    slow_link_then_fast_again(&server.ws_url()).await;
}

/// The same with the estimate of a large room: loss and round-trip reports instead of
/// str0m's delay-based estimator and pacer (here from the second participant on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_in_a_large_room_gets_the_low_layer_and_recovers_too() {
    let mut config = Config::default();
    config.media.loss_based_estimation_after = 1;
    let server = spawn_server_with(config).await.expect("server");
    slow_link_then_fast_again(&server.ws_url()).await;
}

async fn slow_link_then_fast_again(url: &str) {
    let (publisher, viewer) = publisher_and_viewer(url, "slow-link").await;
    let layer = |p: &SimParticipant| {
        simulcast_layer_of(p.received(publisher.id, TrackKind::Video).last_size)
    };
    assert!(
        viewer.wait_until(WAIT, |v| layer(v) == Some(2)).await,
        "the top layer while the link is fast: {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
    // About 290 kbit/s reach the viewer now (audio 56, "f" ~230 with headers). At 200 only
    // audio and "q" (~86) fit.
    viewer.set_receive_bandwidth(Some(200_000));
    assert!(
        viewer.wait_until(ADAPT_WAIT, |v| layer(v) == Some(0)).await,
        "a slow link gets the low layer: {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
    // Stays there while the link stays slow: no lasting climb into congestion. A probe
    // of the estimator may lift it to "h" for a moment before the feedback pulls it back
    // (seen once in about 20 runs on a loaded machine), so this checks what the 3 s carried:
    // mostly 300-byte "q" frames (500 for "h", keyframes three times as big).
    let before = viewer.received(publisher.id, TrackKind::Video);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = viewer.received(publisher.id, TrackKind::Video);
    let frames = after.frames - before.frames;
    assert!(
        frames > 45,
        "the low layer keeps flowing: {before:?} -> {after:?}"
    );
    let average = (after.bytes - before.bytes) / frames;
    assert!(
        average < 400,
        "mostly the low layer while slow ({average} bytes a frame): {before:?} -> {after:?}"
    );
    viewer.set_receive_bandwidth(None);
    assert!(
        viewer.wait_until(ADAPT_WAIT, |v| layer(v) == Some(2)).await,
        "back to the top layer once the link is fast again: {:?}",
        viewer.received(publisher.id, TrackKind::Video)
    );
}
