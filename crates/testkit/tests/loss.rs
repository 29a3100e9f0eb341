//! NACK/RTX on both legs: with 10% of RTP lost on the publisher's uplink and another 10% on a
//! subscriber's downlink, nearly every frame still arrives whole.

use moot_protocol::TrackKind;
use moot_testkit::{spawn_server, SimOptions, SimParticipant};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmissions_repair_loss_on_both_legs() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let lossy_sender = SimOptions {
        send_loss: 0.10,
        audio: false,
        ..SimOptions::default()
    };
    let lossy_receiver = SimOptions {
        receive_loss: 0.10,
        audio: false,
        video: false,
        ..SimOptions::default()
    };
    let clean_receiver = SimOptions {
        audio: false,
        video: false,
        ..SimOptions::default()
    };
    let sender = SimParticipant::join(&url, "lossy", "S", lossy_sender)
        .await
        .expect("join");
    let rx_lossy = SimParticipant::join(&url, "lossy", "L", lossy_receiver)
        .await
        .expect("join");
    let rx_clean = SimParticipant::join(&url, "lossy", "C", clean_receiver)
        .await
        .expect("join");
    for rx in [&rx_lossy, &rx_clean] {
        assert!(
            rx.wait_until(Duration::from_secs(10), |r| r
                .received(sender.id, TrackKind::Video)
                .frames
                > 0)
                .await
        );
    }
    let start = [&rx_lossy, &rx_clean].map(|r| r.received(sender.id, TrackKind::Video));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let end = [&rx_lossy, &rx_clean].map(|r| r.received(sender.id, TrackKind::Video));
    // 30 frames/s for 6 s is 180 frames; a frame lost for good would also show as a gap.
    for (label, (s, e)) in ["lossy downlink", "clean downlink"]
        .iter()
        .zip(start.iter().zip(end.iter()))
    {
        let frames = e.frames - s.frames;
        let gaps = e.gaps - s.gaps;
        assert!(
            frames >= 165,
            "{label}: only {frames} of ~180 frames arrived"
        );
        assert!(
            gaps * 20 <= frames,
            "{label}: {gaps} unrepaired gaps in {frames} frames"
        );
    }
}
