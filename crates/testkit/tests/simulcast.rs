//! Simulcast: a subscriber gets one layer chosen for it, switches layers only at keyframes, and
//! sees one continuous stream (no sequence gaps) across switches.

use moot_protocol::TrackKind;
use moot_testkit::{spawn_server, SimOptions, SimParticipant, SIMULCAST_SIZES};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The layer (index into SIMULCAST_SIZES) of a received frame size.
fn layer_of(size: usize) -> Option<usize> {
    SIMULCAST_SIZES
        .iter()
        .position(|s| size == *s || size == s * 3)
}

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
    let layer = |p: &SimParticipant| layer_of(p.received(publisher.id, TrackKind::Video).last_size);
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
    let before = high.received(publisher.id, TrackKind::Video).frames;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_second = high.received(publisher.id, TrackKind::Video).frames - before;
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
