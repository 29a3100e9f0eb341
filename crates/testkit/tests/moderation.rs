//! Security and moderation against a hostile client speaking the protocol by hand: every
//! moderator action from a non-moderator is refused with `not_allowed` and changes nothing;
//! the lobby cannot be skipped; password guessing is throttled; a removed identity cannot come
//! back; media from someone a moderator muted reaches nobody, whatever their client does.

use moot_protocol::{ErrorCode, LeaveReason, ParticipantId, TrackKind};
use moot_testkit::{spawn_server, Hello, SimOptions, SimParticipant};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn join(url: &str, room: &str, name: &str) -> SimParticipant {
    SimParticipant::join(url, room, name, SimOptions::default())
        .await
        .expect("joins")
}

async fn refused(url: &str, room: &str, hello: Hello) -> ErrorCode {
    match SimParticipant::try_join(url, room, "Mallory", SimOptions::default(), hello)
        .await
        .expect("connects")
    {
        Ok(_) => panic!("expected a refusal"),
        Err((code, _)) => code,
    }
}

fn identity(n: u8) -> Option<String> {
    Some(format!("browser-identity-{n:02}"))
}

fn count_errors(p: &SimParticipant, code: ErrorCode) -> usize {
    p.errors().iter().filter(|(c, _)| *c == code).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_moderators_can_do_no_moderator_action() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "guarded", "Host").await;
    assert!(host.me().moderator, "the creator is moderator");
    assert!(host.host_key().is_some(), "the creator gets a host key");
    let guest = join(&url, "guarded", "Guest").await;
    let mallory = join(&url, "guarded", "Mallory").await;
    assert!(!mallory.me().moderator && mallory.host_key().is_none());
    let (h, g) = (host.id.to_string(), guest.id.to_string());
    let actions = [
        json!({"type": "set_lobby", "enabled": true}),
        json!({"type": "set_password", "password": "hunter2"}),
        json!({"type": "remove_password"}),
        json!({"type": "set_lock", "locked": true}),
        json!({"type": "set_allow_unmute", "allowed": false}),
        json!({"type": "admit", "id": g}),
        json!({"type": "reject", "id": g}),
        json!({"type": "remove", "id": h}),
        json!({"type": "mute", "id": h, "kind": "audio"}),
        json!({"type": "mute", "id": g, "kind": "video"}),
        json!({"type": "mute_all", "kind": "audio"}),
        json!({"type": "mute_all", "kind": "video"}),
        json!({"type": "allow_unmute", "id": g}),
        json!({"type": "make_moderator", "id": mallory.id.to_string()}),
    ];
    for action in &actions {
        mallory.send(action.clone());
    }
    let n = actions.len();
    assert!(
        mallory
            .wait_until(WAIT, |m| count_errors(m, ErrorCode::NotAllowed) == n)
            .await,
        "every action refused: {:?}",
        mallory.errors()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nothing happened.
    assert_eq!(host.settings(), guest.settings());
    let s = host.settings();
    assert!(
        !s.lobby && !s.locked && !s.password && s.allow_unmute,
        "{s:?}"
    );
    assert!(host.muted().is_empty() && guest.muted().is_empty());
    assert!(!mallory.me().moderator);
    assert!(host.ended().is_none() && guest.ended().is_none());
    assert!(guest.knows(host.id));
    // Media still flows from everyone to everyone.
    let before = guest.received(host.id, TrackKind::Audio).frames;
    assert!(
        guest
            .wait_until(WAIT, |g| g.received(host.id, TrackKind::Audio).frames
                > before + 10)
            .await
    );
    // And a moderator *can*: lock, then nobody new gets in.
    host.send(json!({"type": "set_lock", "locked": true}));
    assert!(guest.wait_until(WAIT, |g| g.settings().locked).await);
    assert_eq!(
        refused(&url, "guarded", Hello::default()).await,
        ErrorCode::RoomLocked
    );
    // Even with the right password: lock comes first.
    host.send(json!({"type": "set_password", "password": "correct horse"}));
    assert!(guest.wait_until(WAIT, |g| g.settings().password).await);
    let with_password = Hello {
        password: Some("correct horse".into()),
        ..Hello::default()
    };
    assert_eq!(
        refused(&url, "guarded", with_password).await,
        ErrorCode::RoomLocked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_cannot_be_skipped() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "lobbied", "Host").await;
    host.send(json!({"type": "set_lobby", "enabled": true}));
    assert!(host.wait_until(WAIT, |h| h.settings().lobby).await);

    // A hand-written client knocks, then tries everything while waiting.
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let hello = json!({"type": "hello", "version": 1, "room": "lobbied", "name": "Knocker", "knock": "it's me"});
    ws.send(Message::Text(hello.to_string().into()))
        .await
        .expect("sends");
    for attempt in [
        json!({"type": "offer", "sdp": "v=0"}),
        json!({"type": "media_state", "audio": true, "video": true}),
        json!({"type": "raise_hand", "raised": true}),
        json!({"type": "set_lobby", "enabled": false}),
        json!({"type": "admit", "id": "p999"}),
    ] {
        ws.send(Message::Text(attempt.to_string().into()))
            .await
            .expect("sends");
    }
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = frame {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
            seen.push(v["type"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(
        seen.first().map(String::as_str),
        Some("waiting"),
        "{seen:?}"
    );
    for forbidden in [
        "welcome",
        "participant_joined",
        "participant_updated",
        "offer",
        "answer",
        "settings",
        "lobby",
    ] {
        assert!(
            !seen.iter().any(|t| t == forbidden),
            "a waiting client got {forbidden}: {seen:?}"
        );
    }
    // The moderator sees the knock; nobody else learns anything; the lobby is still on.
    assert!(host.wait_until(WAIT, |h| h.lobby().len() == 1).await);
    let entry = host.lobby()[0].clone();
    assert_eq!(
        (entry.name.as_str(), entry.knock.as_deref()),
        ("Knocker", Some("it's me"))
    );
    assert!(host.settings().lobby);
    assert_eq!(server.info.room_counts(), (1, 1));
    // Rejected: told "declined", and closed.
    host.send(json!({"type": "reject", "id": entry.id.to_string()}));
    let mut declined = false;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Message::Text(t) = frame {
            declined |= t.as_str().contains("\"declined\"");
        }
    }
    assert!(declined);
    assert!(host.wait_until(WAIT, |h| h.lobby().is_empty()).await);

    // An admitted guest gets in and gets media.
    let guest_url = url.clone();
    let knocking = tokio::spawn(async move {
        SimParticipant::try_join(
            &guest_url,
            "lobbied",
            "Guest",
            SimOptions::default(),
            Hello::default(),
        )
        .await
    });
    assert!(host.wait_until(WAIT, |h| h.lobby().len() == 1).await);
    let guest_id: ParticipantId = host.lobby()[0].id;
    host.send(json!({"type": "admit", "id": guest_id.to_string()}));
    let guest = knocking
        .await
        .expect("task")
        .expect("connects")
        .expect("admitted");
    assert!(
        guest
            .wait_until(WAIT, |g| g.received(host.id, TrackKind::Video).frames > 10)
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_throttled() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "secret-room", "Host").await;
    host.send(json!({"type": "set_password", "password": "correct horse battery"}));
    assert!(host.wait_until(WAIT, |h| h.settings().password).await);
    assert_eq!(
        refused(&url, "secret-room", Hello::default()).await,
        ErrorCode::PasswordRequired
    );
    let guess = |p: &str| Hello {
        password: Some(p.into()),
        ..Hello::default()
    };
    for attempt in ["123456", "password", "letmein"] {
        assert_eq!(
            refused(&url, "secret-room", guess(attempt)).await,
            ErrorCode::WrongPassword
        );
    }
    // The fourth failure in a row must wait; even the right password is not checked meanwhile.
    assert_eq!(
        refused(&url, "secret-room", guess("qwerty")).await,
        ErrorCode::WrongPassword
    );
    assert_eq!(
        refused(&url, "secret-room", guess("correct horse battery")).await,
        ErrorCode::TooManyAttempts
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ok = SimParticipant::try_join(
        &url,
        "secret-room",
        "Friend",
        SimOptions::default(),
        guess("correct horse battery"),
    )
    .await
    .expect("connects");
    assert!(
        ok.is_ok(),
        "after the wait the right password works: {:?}",
        ok.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_bans_and_mute_is_enforced_by_the_server() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "enforced", "Host").await;
    let listener = join(&url, "enforced", "Listener").await;
    let hello = Hello {
        identity: identity(7),
        ..Hello::default()
    };
    let mallory = SimParticipant::try_join(
        &url,
        "enforced",
        "Mallory",
        SimOptions::default(),
        hello.clone(),
    )
    .await
    .expect("connects")
    .expect("joins");
    assert!(
        listener
            .wait_until(WAIT, |l| l.received(mallory.id, TrackKind::Audio).frames
                > 10)
            .await
    );

    // Mute Mallory's audio with unmuting disallowed; her client ignores it and keeps sending.
    host.send(json!({"type": "set_allow_unmute", "allowed": false}));
    host.send(json!({"type": "mute", "id": mallory.id.to_string(), "kind": "audio"}));
    assert!(
        mallory
            .wait_until(WAIT, |m| m.muted() == vec![TrackKind::Audio])
            .await
    );
    assert!(
        listener
            .wait_until(WAIT, |l| l
                .participant(mallory.id)
                .is_some_and(|p| p.audio_blocked))
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frozen = listener.received(mallory.id, TrackKind::Audio).frames;
    mallory.send(json!({"type": "media_state", "audio": true, "video": true}));
    assert!(
        mallory
            .wait_until(WAIT, |m| count_errors(m, ErrorCode::NotAllowed) == 1)
            .await
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        listener.received(mallory.id, TrackKind::Audio).frames,
        frozen,
        "muted audio was forwarded"
    );
    let video = listener.received(mallory.id, TrackKind::Video).frames;
    assert!(
        listener
            .wait_until(WAIT, |l| l.received(mallory.id, TrackKind::Video).frames
                > video + 10)
            .await,
        "video is not muted"
    );

    // Remove her: told so, gone for the others at once, banned for this room's life.
    host.send(json!({"type": "remove", "id": mallory.id.to_string()}));
    assert!(
        listener
            .wait_until(WAIT, |l| l.left_reason(mallory.id)
                == Some(LeaveReason::Removed))
            .await
    );
    assert!(mallory.wait_until(WAIT, |m| m.ended().is_some()).await);
    assert!(mallory
        .errors()
        .iter()
        .any(|(c, _)| *c == ErrorCode::Removed));
    let video = listener.received(mallory.id, TrackKind::Video).frames;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        listener.received(mallory.id, TrackKind::Video).frames,
        video
    );
    assert_eq!(refused(&url, "enforced", hello).await, ErrorCode::Removed);
    // The host key makes its holder moderator again, past the lock.
    let key = host.host_key().expect("creator has a key");
    host.send(json!({"type": "set_lock", "locked": true}));
    assert!(listener.wait_until(WAIT, |l| l.settings().locked).await);
    let again = Hello {
        host_key: Some(key),
        ..Hello::default()
    };
    let host2 =
        SimParticipant::try_join(&url, "enforced", "Host again", SimOptions::default(), again)
            .await
            .expect("connects")
            .expect("the host key passes the lock");
    assert!(host2.me().moderator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_longest_present_becomes_moderator_when_the_last_one_leaves() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "succession", "Host").await;
    let second = join(&url, "succession", "Second").await;
    let third = join(&url, "succession", "Third").await;
    host.leave().await;
    assert!(
        third
            .wait_until(WAIT, |t| t
                .participant(second.id)
                .is_some_and(|p| p.moderator))
            .await
    );
    assert!(second.wait_until(WAIT, |s| s.me().moderator).await);
    assert!(!third.me().moderator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_can_refuse_guessable_room_names() {
    let mut config = moot_server::config::Config::default();
    config.rooms.require_unguessable_room_names = true;
    let server = moot_testkit::spawn_server_with(config)
        .await
        .expect("server");
    let url = server.ws_url();
    for name in ["test", "meeting1", "team-sync-2024"] {
        assert_eq!(
            refused(&url, name, Hello::default()).await,
            ErrorCode::GuessableRoomName,
            "{name}"
        );
    }
    let _host = join(&url, "bafok-tisul-moraz-punek", "Host").await;
    assert_eq!(server.info.room_counts(), (1, 1));
}
