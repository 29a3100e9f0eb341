//! Opus DTX through the real server: a simulated browser that honours `usedtx` sends its
//! silence as one frame every 400 ms when the server asks for it (`media.opus_dtx`, the
//! default), and as 50 frames a second when it does not; speech goes out whole either way,
//! and the frames DTX leaves out are not counted as lost.

use moot_protocol::TrackKind;
use moot_server::config::Config;
use moot_testkit::{spawn_server_with, SimOptions, SimParticipant};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(2);

/// Audio frames a listener gets in `WINDOW` from a silent and from a talking participant
/// (both honouring DTX), and the frames it counted lost from the silent one.
async fn frames_from_silence_and_speech(server_asks_for_dtx: bool) -> (u64, u64, u64) {
    let mut config = Config::default();
    config.media.opus_dtx = server_asks_for_dtx;
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let room = "quiet-please";
    let honours_dtx = SimOptions {
        video: false,
        opus_dtx: true,
        ..SimOptions::default()
    };
    let silent = SimParticipant::join(&url, room, "Silent", honours_dtx)
        .await
        .expect("joins");
    let talker = SimParticipant::join(
        &url,
        room,
        "Talker",
        SimOptions {
            audio_level: -30,
            ..honours_dtx
        },
    )
    .await
    .expect("joins");
    let listener = SimParticipant::join(&url, room, "Listener", honours_dtx)
        .await
        .expect("joins");
    for sender in [&silent, &talker] {
        assert!(
            listener
                .wait_until(WAIT, |l| l.received(sender.id, TrackKind::Audio).frames
                    >= 2)
                .await,
            "the listener gets {}'s audio",
            sender.id
        );
    }
    let (quiet, spoken) = tokio::join!(
        listener.frames_during(silent.id, TrackKind::Audio, WINDOW),
        listener.frames_during(talker.id, TrackKind::Audio, WINDOW),
    );
    let lost = listener.received(silent.id, TrackKind::Audio).lost;
    println!("opus_dtx = {server_asks_for_dtx}: in 2 s, {quiet} silent and {spoken} spoken frames, {lost} lost");
    (quiet, spoken, lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_sent_every_400_ms_when_the_server_asks_for_dtx() {
    let (quiet, spoken, lost) = frames_from_silence_and_speech(true).await;
    // 2 s of silence at one frame per 400 ms: 5, give or take the window's edges.
    assert!((3..=7).contains(&quiet), "silent frames in 2 s: {quiet}");
    assert!(spoken >= 90, "speech is sent whole: {spoken} frames in 2 s");
    assert_eq!(lost, 0, "frames DTX did not send are not lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_sent_like_sound_when_the_server_does_not_ask_for_dtx() {
    let (quiet, spoken, lost) = frames_from_silence_and_speech(false).await;
    assert!(quiet >= 90, "silent frames in 2 s: {quiet}");
    assert!(spoken >= 90, "speech frames in 2 s: {spoken}");
    assert_eq!(lost, 0);
}
