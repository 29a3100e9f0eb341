//! A large room spread over media workers (`media.spread_room_after`): its participants sit
//! on different workers, each published packet is relayed once to the other worker, and the
//! meeting works as on one worker: everyone gets everyone's media, moderator mutes hold,
//! simulcast layers follow subscribers on either worker, the dominant speaker is found
//! whichever worker they are on, and leaving and joining keep it all consistent.

use moot_protocol::TrackKind;
use moot_server::config::Config;
use moot_testkit::{
    assert_receives_media, simulcast_layer_of, spawn_server_with, SimOptions, SimParticipant,
};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Two workers; rooms of more than two spread, however idle their worker.
fn spread_config() -> Config {
    let mut config = Config::default();
    config.media.threads = 2;
    config.media.spread_room_after = 2;
    config.media.spread_when_busy_percent = 0;
    config
}

async fn join(url: &str, room: &str, name: &str, options: SimOptions) -> SimParticipant {
    SimParticipant::join(url, room, name, options)
        .await
        .expect("joins")
}

async fn assert_meeting_works(people: &[&SimParticipant]) {
    for receiver in people {
        for sender in people.iter().filter(|s| s.id != receiver.id) {
            assert_receives_media(receiver, sender, 20, WAIT).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_room_stays_on_one_worker_while_that_worker_is_not_busy() {
    let config = Config {
        media: moot_server::config::MediaConfig {
            // Spread only once the room's worker uses most of a core, which six people
            // sending audio do not make it do, even in a debug build.
            spread_when_busy_percent: 90,
            ..spread_config().media
        },
        ..Config::default()
    };
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let mut people = Vec::new();
    for i in 0..6 {
        let audio_only = SimOptions {
            video: false,
            ..SimOptions::default()
        };
        people.push(join(&url, "calm-room", &format!("P{i}"), audio_only).await);
        // A report from each worker about how busy it is lands between joins.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for receiver in &people {
        for sender in people.iter().filter(|s| s.id != receiver.id) {
            assert!(
                receiver
                    .wait_until(WAIT, |r| r.received(sender.id, TrackKind::Audio).frames
                        >= 20)
                    .await,
                "{} hears {}",
                receiver.id,
                sender.id
            );
        }
    }
    assert_eq!(
        server.info.media_worker_load(),
        vec![6, 0],
        "all on one worker"
    );
    assert_eq!(
        server.info.media_stats().packets_relayed,
        0,
        "nothing relayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_room_spreads_over_workers_and_works_as_one() {
    let server = spawn_server_with(spread_config()).await.expect("server");
    let url = server.ws_url();
    let mut people = Vec::new();
    for i in 0..6 {
        people.push(join(&url, "big-room", &format!("P{i}"), SimOptions::default()).await);
    }
    assert_eq!(
        server.info.media_worker_load(),
        vec![3, 3],
        "the first two together, then spread evenly"
    );
    assert_meeting_works(&people.iter().collect::<Vec<_>>()).await;
    let relayed = server.info.media_stats().packets_relayed;
    assert!(relayed > 0, "packets went between workers");
    for p in &people {
        assert!(p.errors().is_empty(), "{:?}", p.errors());
    }
    // The first worker's people leave (P0, P1 and P4 were placed there): the others go on
    // alone, no longer relaying, and their streams from the leavers stop.
    let stayers: Vec<SimParticipant> = {
        let mut stay = Vec::new();
        for (i, p) in people.into_iter().enumerate() {
            if [0, 1, 4].contains(&i) {
                p.leave().await;
            } else {
                stay.push(p);
            }
        }
        stay
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.info.media_worker_load(), vec![0, 3]);
    let relayed_after_leave = server.info.media_stats().packets_relayed;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server.info.media_stats().packets_relayed,
        relayed_after_leave,
        "a room back on one worker relays nothing"
    );
    // A newcomer lands on the emptied worker (the room is still large): the room spreads
    // again, and the newcomer gets everything published before it came.
    let newcomer = join(&url, "big-room", "New", SimOptions::default()).await;
    assert_eq!(server.info.media_worker_load(), vec![1, 3]);
    let mut all: Vec<&SimParticipant> = stayers.iter().collect();
    all.push(&newcomer);
    assert_meeting_works(&all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_holds_across_workers() {
    let server = spawn_server_with(spread_config()).await.expect("server");
    let url = server.ws_url();
    // Host and Mallory on the first worker; Watcher spread to the second.
    let host = join(&url, "mute-room", "Host", SimOptions::default()).await;
    let mallory = join(&url, "mute-room", "Mallory", SimOptions::default()).await;
    let watcher = join(&url, "mute-room", "Watcher", SimOptions::default()).await;
    assert_eq!(server.info.media_worker_load(), vec![2, 1]);
    assert_receives_media(&watcher, &mallory, 20, WAIT).await;
    host.send(json!({"type": "set_allow_unmute", "allowed": false}));
    host.send(json!({"type": "mute", "id": mallory.id.to_string(), "kind": "audio"}));
    assert!(
        mallory
            .wait_until(WAIT, |m| m.muted() == vec![TrackKind::Audio])
            .await
    );
    // Mallory's client ignores the mute and keeps sending; nothing reaches the other worker.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        watcher
            .frames_during(mallory.id, TrackKind::Audio, Duration::from_secs(1))
            .await,
        0,
        "muted audio was relayed"
    );
    assert_receives_media(&watcher, &host, 20, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_and_the_speaker_follow_subscribers_on_either_worker() {
    let server = spawn_server_with(spread_config()).await.expect("server");
    let url = server.ws_url();
    let listener = SimOptions {
        video: false,
        ..SimOptions::default()
    };
    // Publisher and Near on the first worker, Far on the second.
    let publisher = join(
        &url,
        "layer-room",
        "Pub",
        SimOptions {
            simulcast: true,
            ..SimOptions::default()
        },
    )
    .await;
    let near = join(&url, "layer-room", "Near", listener).await;
    let far = join(&url, "layer-room", "Far", listener).await;
    assert_eq!(server.info.media_worker_load(), vec![2, 1]);
    let layer = |p: &SimParticipant| {
        simulcast_layer_of(p.received(publisher.id, TrackKind::Video).last_size)
    };
    let pid = publisher.id.to_string();
    // Near shows a small tile, Far a large one: each gets its own layer.
    near.send(json!({"type": "view_sizes", "sizes": {pid.clone(): 100}}));
    far.send(json!({"type": "view_sizes", "sizes": {pid.clone(): 1080}}));
    assert!(
        near.wait_until(WAIT, |p| layer(p) == Some(0)).await,
        "near: {:?}",
        near.received(publisher.id, TrackKind::Video)
    );
    assert!(
        far.wait_until(WAIT, |p| layer(p) == Some(2)).await,
        "far: {:?}",
        far.received(publisher.id, TrackKind::Video)
    );
    // Only Far (on the other worker) needs "f": it must not be paused.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(layer(&far), Some(2), "far still gets the top layer");
    let told = publisher.layers_messages();
    assert!(
        told.last()
            .is_none_or(|(_, active)| active.iter().any(|rid| rid == "f")),
        "a layer only the other worker needs was paused: {told:?}"
    );
    // Now Far shrinks its tile too: nobody needs "h" and "f", and the publisher is told.
    far.send(json!({"type": "view_sizes", "sizes": {pid: 100}}));
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
    assert!(far.wait_until(WAIT, |p| layer(p) == Some(0)).await);
    for p in [&near, &far] {
        let r = p.received(publisher.id, TrackKind::Video);
        assert_eq!(r.gaps, 0, "layer switches left a gap: {r:?}");
    }
    // Far speaks: everyone, on both workers, hears that Far is the dominant speaker.
    far.set_audio_level(-25);
    for p in [&publisher, &near, &far] {
        assert!(
            p.wait_until(WAIT, |p| p.dominant_speaker() == Some(far.id))
                .await,
            "{:?} sees {:?}",
            p.me().name,
            p.dominant_speaker()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_room_forwards_the_voices_not_everyones_silence() {
    let mut config = spread_config();
    config.media.selective_audio_after = 3;
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let talker = join(
        &url,
        "quiet-room",
        "Talker",
        SimOptions {
            audio_level: -30,
            ..SimOptions::default()
        },
    )
    .await;
    let mut quiet = Vec::new();
    for i in 0..3 {
        quiet.push(
            join(
                &url,
                "quiet-room",
                &format!("Quiet{i}"),
                SimOptions::default(),
            )
            .await,
        );
    }
    // Everyone hears the talker and sees everyone; nobody gets the silent microphones.
    for p in &quiet {
        assert_receives_media(p, &talker, 20, WAIT).await;
    }
    // The room is large: everyone receives the microphones on audio slots (the talker on
    // one of them), and the room is spread over both workers, so some of it came relayed.
    for p in quiet.iter().chain([&talker]) {
        assert!(
            p.wait_until(WAIT, |p| p.audio_slots() == moot_sfu::SLOT_COUNT)
                .await,
            "{} has {} slots",
            p.me().name,
            p.audio_slots()
        );
    }
    for p in &quiet {
        assert!(
            p.slot_changes() >= 1,
            "{} was told who is on its slots",
            p.me().name
        );
    }
    let (listener, later) = (&quiet[0], &quiet[1]);
    // Until the fourth joined, the room was small and forwarded everything: count from now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let heard_before: Vec<u64> = [&talker, listener]
        .iter()
        .map(|p| p.received(later.id, TrackKind::Audio).frames)
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (p, before) in [&talker, listener].into_iter().zip(heard_before) {
        assert_eq!(
            p.received(later.id, TrackKind::Audio).frames,
            before,
            "silence was forwarded"
        );
        assert!(p.received(later.id, TrackKind::Video).frames > 0);
    }

    // Quiet1 starts to speak: heard at once, on a stream without sequence gaps.
    let silent: Vec<u64> = [&talker, listener]
        .iter()
        .map(|p| p.received(later.id, TrackKind::Audio).frames)
        .collect();
    later.set_audio_level(-30);
    for (p, before) in [&talker, listener].into_iter().zip(silent) {
        assert!(
            p.wait_until(Duration::from_secs(2), |p| p
                .received(later.id, TrackKind::Audio)
                .frames
                >= before + 25)
                .await,
            "a new voice is heard at once: {:?}",
            p.received(later.id, TrackKind::Audio)
        );
    }
    // It falls silent (held again after trailing off) and speaks once more: the stream goes
    // on where it stopped, without a gap in its numbering.
    later.set_audio_level(-127);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        listener
            .frames_during(later.id, TrackKind::Audio, Duration::from_millis(500))
            .await,
        0,
        "silent again: held"
    );
    let before = [&talker, listener].map(|p| p.received(later.id, TrackKind::Audio).frames);
    later.set_audio_level(-30);
    for (p, before) in [&talker, listener].into_iter().zip(before) {
        assert!(
            p.wait_until(Duration::from_secs(2), |p| p
                .received(later.id, TrackKind::Audio)
                .frames
                >= before + 25)
                .await
        );
        assert_eq!(p.received(later.id, TrackKind::Audio).gaps, 0);
    }
}
