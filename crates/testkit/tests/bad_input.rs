//! A hostile client speaking the protocol by hand gets a clear error for every bad input, the
//! server keeps running, and the people already meeting notice nothing.

use futures_util::SinkExt;
use moot_protocol::{ErrorCode, ServerMessage, TrackKind};
use moot_testkit::{spawn_server, SimOptions, SimParticipant};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use moot_testkit::raw::{connect, next, Ws};

async fn expect_error(ws: &mut Ws, code: ErrorCode, fatal: bool) -> String {
    match next(ws).await {
        Some(ServerMessage::Error {
            code: got,
            message,
            fatal: got_fatal,
        }) => {
            assert_eq!((got, got_fatal), (code, fatal), "{message}");
            assert!(!message.is_empty());
            message
        }
        other => panic!("expected {code:?} error, got {other:?}"),
    }
}

async fn text(ws: &mut Ws, body: impl Into<String>) {
    ws.send(Message::Text(body.into().into()))
        .await
        .expect("sends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_error_and_harms_nobody() {
    let server = spawn_server().await.expect("server starts");
    let url = server.ws_url();
    let a = SimParticipant::join(&url, "target-room", "A", SimOptions::default())
        .await
        .expect("join");
    let b = SimParticipant::join(&url, "target-room", "B", SimOptions::default())
        .await
        .expect("join");
    assert!(
        a.wait_until(Duration::from_secs(10), |a| a
            .received(b.id, TrackKind::Video)
            .frames
            > 10)
            .await
    );

    // Before hello: garbage is answered, anything but hello is fatal.
    let mut ws = connect(&url).await;
    text(&mut ws, "{not json").await;
    expect_error(&mut ws, ErrorCode::InvalidJson, false).await;
    text(&mut ws, r#"{"type":"launch_missiles"}"#).await;
    let msg = expect_error(&mut ws, ErrorCode::UnknownType, false).await;
    assert!(msg.contains("launch_missiles"), "{msg}");
    text(&mut ws, r#"{"type":"hello","version":"one"}"#).await;
    expect_error(&mut ws, ErrorCode::BadMessage, false).await;
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("sends");
    expect_error(&mut ws, ErrorCode::BadFrame, false).await;
    text(
        &mut ws,
        format!(r#"{{"type":"offer","sdp":"{}"}}"#, "x".repeat(300 * 1024)),
    )
    .await;
    expect_error(&mut ws, ErrorCode::TooLarge, false).await;
    text(&mut ws, r#"{"type":"answer","sdp":"v=0"}"#).await;
    expect_error(&mut ws, ErrorCode::OutOfOrder, true).await;
    assert!(next(&mut ws).await.is_none(), "closed after a fatal error");

    // Bad hellos.
    for (hello, code) in [
        (
            r#"{"type":"hello","version":99,"room":"target-room","name":"X"}"#,
            ErrorCode::VersionMismatch,
        ),
        (
            r#"{"type":"hello","version":1,"room":"../etc","name":"X"}"#,
            ErrorCode::BadRoomName,
        ),
        (
            r#"{"type":"hello","version":1,"room":"target-room","name":"   "}"#,
            ErrorCode::BadDisplayName,
        ),
    ] {
        let mut ws = connect(&url).await;
        text(&mut ws, hello).await;
        expect_error(&mut ws, code, true).await;
        assert!(next(&mut ws).await.is_none());
    }

    // Inside the room: out-of-order and broken SDP are refused without harm.
    let mut ws = connect(&url).await;
    text(
        &mut ws,
        r#"{"type":"hello","version":1,"room":"target-room","name":"Mallory <b>"}"#,
    )
    .await;
    let Some(ServerMessage::Welcome {
        you, participants, ..
    }) = next(&mut ws).await
    else {
        panic!("welcome expected");
    };
    assert_eq!(
        you.name.as_str(),
        "Mallory <b>",
        "names are data, kept verbatim"
    );
    assert_eq!(participants.len(), 2);
    text(
        &mut ws,
        r#"{"type":"hello","version":1,"room":"target-room","name":"again"}"#,
    )
    .await;
    expect_error(&mut ws, ErrorCode::OutOfOrder, false).await;
    text(&mut ws, r#"{"type":"answer","sdp":"v=0"}"#).await;
    expect_error(&mut ws, ErrorCode::BadSdp, false).await;
    text(&mut ws, r#"{"type":"offer","sdp":"this is not sdp"}"#).await;
    expect_error(&mut ws, ErrorCode::BadSdp, false).await;
    // Tile sizes: numbers are checked, the map is bounded; ids of nobody are harmless (the
    // good message gets no answer, so the next answer is the bad one's error).
    text(&mut ws, r#"{"type":"view_sizes","sizes":{"p999999":360}}"#).await;
    for bad in [
        r#"{"type":"view_sizes","sizes":{"p1":-5}}"#,
        r#"{"type":"view_sizes","sizes":{"p1":1e9}}"#,
        r#"{"type":"view_sizes","sizes":{"p1":"big"}}"#,
        r#"{"type":"view_sizes","sizes":{"p1":99999}}"#,
    ] {
        text(&mut ws, bad).await;
        expect_error(&mut ws, ErrorCode::BadMessage, false).await;
    }
    let many: serde_json::Map<String, serde_json::Value> =
        (0..300).map(|i| (format!("p{i}"), 100.into())).collect();
    text(
        &mut ws,
        serde_json::json!({"type": "view_sizes", "sizes": many}).to_string(),
    )
    .await;
    let msg = expect_error(&mut ws, ErrorCode::BadMessage, false).await;
    assert!(msg.contains("256"), "{msg}");
    // Flooding is rate limited.
    let mut limited = false;
    for _ in 0..150 {
        text(
            &mut ws,
            r#"{"type":"media_state","audio":true,"video":false}"#,
        )
        .await;
    }
    for _ in 0..150 {
        match next(&mut ws).await {
            Some(ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            }) => {
                limited = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(limited, "150 messages at once must hit the rate limit");
    drop(ws);

    // A and B never noticed.
    let before = b.received(a.id, TrackKind::Video).frames;
    assert!(
        b.wait_until(Duration::from_secs(10), |b| b
            .received(a.id, TrackKind::Video)
            .frames
            > before + 10)
            .await
    );
    assert!(a.errors().is_empty() && b.errors().is_empty());
    assert!(a.ended().is_none() && b.ended().is_none());
}
