//! Everyday features through the real protocol: chat (group and private), reactions, the
//! server's dominant-speaker detection, quality settings changing what is forwarded, and
//! resuming a dropped connection without anyone seeing a leave.

use moot_protocol::{ErrorCode, Participant, TrackKind};
use moot_testkit::{spawn_server, Hello, SimOptions, SimParticipant};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// Says hello with a resume token; the inner result is the server's answer.
async fn with_token(
    url: &str,
    room: &str,
    name: &str,
    token: String,
) -> Result<SimParticipant, (moot_protocol::ErrorCode, String)> {
    let hello = Hello {
        resume: Some(token),
        ..Hello::default()
    };
    SimParticipant::try_join(url, room, name, SimOptions::default(), hello)
        .await
        .expect("connects")
}

async fn join(url: &str, room: &str, name: &str, options: SimOptions) -> SimParticipant {
    SimParticipant::join(url, room, name, options)
        .await
        .expect("joins")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_goes_to_everyone_or_to_one_person_only() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let a = join(&url, "chatty", "Ann", SimOptions::default()).await;
    let b = join(&url, "chatty", "Bob", SimOptions::default()).await;
    let c = join(&url, "chatty", "Cid", SimOptions::default()).await;
    a.send(json!({"type": "chat", "text": "  hello <b>all</b>  "}));
    for p in [&a, &b, &c] {
        assert!(p.wait_until(WAIT, |p| p.chat().len() == 1).await);
        let m = &p.chat()[0];
        assert_eq!(
            (m.text.as_str(), m.from, m.to, m.seq),
            ("hello <b>all</b>", a.id, None, 1)
        );
        assert_eq!(m.name.as_str(), "Ann");
    }
    a.send(json!({"type": "chat", "text": "psst, Bob", "to": b.id.to_string()}));
    assert!(b.wait_until(WAIT, |b| b.chat().len() == 2).await);
    assert!(a.wait_until(WAIT, |a| a.chat().len() == 2).await);
    assert_eq!(b.chat()[1].to, Some(b.id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.chat().len(),
        1,
        "a third person never gets a private message"
    );
    // Bad chat: empty, too long, control characters, to nobody.
    for bad in [
        json!({"type": "chat", "text": "   "}),
        json!({"type": "chat", "text": "x".repeat(2001)}),
        json!({"type": "chat", "text": "a\u{7}b"}),
    ] {
        c.send(bad);
    }
    c.send(json!({"type": "chat", "text": "hi", "to": "p999"}));
    assert!(
        c.wait_until(WAIT, |c| c.errors().len() == 4).await,
        "{:?}",
        c.errors()
    );
    let codes: Vec<ErrorCode> = c.errors().iter().map(|e| e.0).collect();
    assert_eq!(
        codes,
        vec![
            ErrorCode::BadChat,
            ErrorCode::BadChat,
            ErrorCode::BadChat,
            ErrorCode::UnknownParticipant
        ]
    );
    // Flooding is limited.
    for i in 0..12 {
        b.send(json!({"type": "chat", "text": format!("spam {i}")}));
    }
    assert!(
        b.wait_until(WAIT, |b| b
            .errors()
            .iter()
            .any(|e| e.0 == ErrorCode::RateLimited))
            .await
    );
    // A newcomer sees no history, unless a moderator turns it on.
    let d = join(&url, "chatty", "Dee", SimOptions::default()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(d.chat_history().is_none());
    b.send(json!({"type": "set_chat_history", "enabled": true}));
    assert!(
        b.wait_until(WAIT, |b| b
            .errors()
            .iter()
            .any(|e| e.0 == ErrorCode::NotAllowed))
            .await
    );
    a.send(json!({"type": "set_chat_history", "enabled": true}));
    assert!(a.wait_until(WAIT, |a| a.settings().chat_history).await);
    let e = join(&url, "chatty", "Eve", SimOptions::default()).await;
    assert!(
        e.wait_until(WAIT, |e| e.chat_history().is_some()).await,
        "history sent"
    );
    let history = e.chat_history().expect("checked");
    assert!(
        history.iter().all(|m| m.to.is_none()),
        "no private message in history"
    );
    assert!(history.iter().any(|m| m.text == "hello <b>all</b>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_and_names() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let a = join(&url, "reacting", "Ann", SimOptions::default()).await;
    let b = join(&url, "reacting", "Bob", SimOptions::default()).await;
    a.send(json!({"type": "react", "emoji": "🎉"}));
    a.send(json!({"type": "react", "emoji": "<script>"}));
    assert!(
        b.wait_until(WAIT, |b| b.reactions() == vec![(a.id, "🎉".to_owned())])
            .await
    );
    assert!(
        a.wait_until(WAIT, |a| a
            .errors()
            .iter()
            .any(|e| e.0 == ErrorCode::BadReaction))
            .await
    );
    a.send(json!({"type": "set_name", "name": "  Annie  "}));
    let renamed = |p: Option<Participant>| p.is_some_and(|p| p.name.as_str() == "Annie");
    assert!(b.wait_until(WAIT, |b| renamed(b.participant(a.id))).await);
    a.send(json!({"type": "set_name", "name": ""}));
    assert!(
        a.wait_until(WAIT, |a| a
            .errors()
            .iter()
            .any(|e| e.0 == ErrorCode::BadDisplayName))
            .await
    );
    assert!(a.ended().is_none(), "a bad new name is not fatal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_finds_the_speaker_and_quality_limits_video() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let speaking = SimOptions {
        audio_level: -25,
        ..SimOptions::default()
    };
    let quiet = SimOptions::default();
    let talker = join(&url, "speakers", "Talker", speaking).await;
    let other = join(&url, "speakers", "Other", quiet).await;
    let viewer = join(&url, "speakers", "Viewer", quiet).await;
    assert!(
        viewer
            .wait_until(WAIT, |v| v.dominant_speaker() == Some(talker.id))
            .await,
        "talker detected"
    );
    // Low: only the dominant speaker's video.
    viewer.send(json!({"type": "set_quality", "quality": "low"}));
    // What was already on its way (queued in a busy machine's socket buffers) arrives first:
    // wait for a quiet half second of the other's video, at most WAIT.
    let settled = Instant::now();
    while viewer
        .frames_during(other.id, TrackKind::Video, Duration::from_millis(500))
        .await
        > 0
    {
        assert!(
            settled.elapsed() < WAIT,
            "others' video never stopped at low"
        );
    }
    let (t0, o0) = (
        viewer.received(talker.id, TrackKind::Video).frames,
        viewer.received(other.id, TrackKind::Video).frames,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        viewer.received(talker.id, TrackKind::Video).frames > t0 + 10,
        "speaker's video flows"
    );
    assert_eq!(
        viewer.received(other.id, TrackKind::Video).frames,
        o0,
        "others' video is not forwarded at low"
    );
    assert!(
        viewer.received(other.id, TrackKind::Audio).frames > 0,
        "audio from everyone"
    );
    // The other starts talking and the talker stops: the big tile follows, and so does video.
    talker.set_audio_level(-127);
    other.set_audio_level(-25);
    assert!(
        viewer
            .wait_until(WAIT, |v| v.dominant_speaker() == Some(other.id))
            .await,
        "speaker switch"
    );
    let o1 = viewer.received(other.id, TrackKind::Video).frames;
    assert!(
        viewer
            .wait_until(WAIT, |v| v.received(other.id, TrackKind::Video).frames
                > o1 + 10)
            .await
    );
    // Audio only: no video at all.
    viewer.send(json!({"type": "set_quality", "quality": "audio_only"}));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let frozen = [talker.id, other.id].map(|p| viewer.received(p, TrackKind::Video).frames);
    let audio = viewer.received(other.id, TrackKind::Audio).frames;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        [talker.id, other.id].map(|p| viewer.received(p, TrackKind::Video).frames),
        frozen
    );
    assert!(viewer.received(other.id, TrackKind::Audio).frames > audio + 20);
    // High again: everyone's video.
    viewer.send(json!({"type": "set_quality", "quality": "high"}));
    let t2 = viewer.received(talker.id, TrackKind::Video).frames;
    assert!(
        viewer
            .wait_until(WAIT, |v| v.received(talker.id, TrackKind::Video).frames
                > t2 + 10)
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_resumes_without_a_leave() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "resumable", "Host", SimOptions::default()).await;
    let watcher = join(&url, "resumable", "Watcher", SimOptions::default()).await;
    let token = host.resume_token().expect("welcome has a token");
    let host_id = host.id;
    assert!(host.me().moderator);
    host.vanish();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        watcher.knows(host_id),
        "no leave within the grace period: {:?} {:?}",
        watcher.left_reason(host_id),
        watcher.ended()
    );
    let back = with_token(&url, "resumable", "Host", token.clone())
        .await
        .expect("resumes");
    assert_eq!(back.id, host_id, "same participant");
    assert!(back.me().moderator, "same role");
    assert!(watcher.left_reason(host_id).is_none());
    let before = watcher.received(host_id, TrackKind::Video).frames;
    assert!(
        watcher
            .wait_until(WAIT, |w| w.received(host_id, TrackKind::Video).frames
                > before + 10)
            .await,
        "media again"
    );
    // The old token is spent; a stale one makes a new person.
    let stranger = with_token(&url, "resumable", "Stranger", token)
        .await
        .expect("joins as new");
    assert_ne!(stranger.id, host_id);
    // Past the grace period a drop is a leave.
    let gone = back.id;
    back.vanish();
    assert!(
        watcher
            .wait_until(Duration::from_secs(15), |w| w.left_reason(gone).is_some())
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_takes_over_before_the_old_one_is_noticed_dead() {
    // A phone moving from Wi-Fi to mobile data: the old connection is not closed (the server
    // would only notice after its ping timeout) when the client comes back with its token.
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "roaming", "Host", SimOptions::default()).await;
    let watcher = join(&url, "roaming", "Watcher", SimOptions::default()).await;
    let token = host.resume_token().expect("welcome has a token");
    let back = with_token(&url, "roaming", "Host", token)
        .await
        .expect("resumes");
    assert_eq!(back.id, host.id, "same participant");
    assert!(back.me().moderator, "same role");
    assert!(
        host.wait_until(WAIT, |h| h.ended().is_some()).await,
        "the old connection is closed"
    );
    let before = watcher.received(host.id, TrackKind::Video).frames;
    assert!(
        watcher
            .wait_until(WAIT, |w| w.received(host.id, TrackKind::Video).frames
                > before + 10)
            .await,
        "media flows from the new connection: connected {} ended {:?} errors {:?} watcher {:?}",
        back.is_connected(),
        back.ended(),
        back.errors(),
        watcher.received(host.id, TrackKind::Video)
    );
    assert!(
        watcher.left_reason(host.id).is_none() && watcher.knows(host.id),
        "no leave seen"
    );
    assert_eq!(server.info.room_counts(), (1, 2));
}
