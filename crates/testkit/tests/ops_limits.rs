//! Abuse limits (rooms per server, connections per address, message rate), the metrics that
//! count them, and graceful shutdown: each limit gives the client its documented error code
//! and shows up in /metrics; /metrics never names a room or a person.

use futures_util::SinkExt;
use moot_protocol::{ErrorCode, ServerMessage};
use moot_server::config::Config;
use moot_testkit::{spawn_server_with, Hello, SimOptions, SimParticipant};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use moot_testkit::raw::{connect, next, Ws};

async fn expect_error(ws: &mut Ws, code: ErrorCode, fatal: bool) {
    match next(ws).await {
        Some(ServerMessage::Error {
            code: got,
            fatal: got_fatal,
            message,
        }) => assert_eq!((got, got_fatal), (code, fatal), "{message}"),
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

/// GET over plain HTTP/1.1; returns (status line, body).
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("writes");
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_string(&mut response))
        .await
        .expect("answers")
        .expect("reads");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_room_beyond_max_rooms_is_refused_and_counted() {
    let mut config = Config::default();
    config.rooms.max_rooms = 1;
    let server = spawn_server_with(config).await.expect("server starts");
    let url = server.ws_url();
    let opts = SimOptions {
        audio: false,
        video: false,
        ..SimOptions::default()
    };
    let alice = SimParticipant::join(&url, "kestrel-quartz-lantern", "Alice Ambrose", opts)
        .await
        .expect("the first room is created");
    let refused = SimParticipant::try_join(
        &url,
        "walrus-ember-pavilion",
        "Bob Bellweather",
        opts,
        Hello::default(),
    )
    .await
    .expect("connects");
    match refused {
        Err((code, message)) => {
            assert_eq!(code, ErrorCode::TooManyRooms, "{message}");
            assert!(message.contains("limit"), "{message}");
        }
        Ok(_) => panic!("a second room must be refused"),
    }
    let carol = SimParticipant::join(&url, "kestrel-quartz-lantern", "Carol Crane", opts)
        .await
        .expect("joining the existing room is not affected");
    let (status, text) = get(server.info.http_addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(metric(&text, "moot_rooms "), 1);
    assert_eq!(metric(&text, "moot_participants "), 2);
    assert_eq!(metric(&text, "moot_limit_hits_total{limit=\"rooms\"}"), 1);
    assert_eq!(
        metric(&text, "moot_errors_sent_total{code=\"too_many_rooms\"}"),
        1
    );
    assert_eq!(
        metric(
            &text,
            "moot_limit_hits_total{limit=\"participants_per_room\"}"
        ),
        0
    );
    for private in ["kestrel", "walrus", "Alice", "Bob", "Carol", "127.0.0.1"] {
        assert!(
            !text.to_lowercase().contains(&private.to_lowercase()),
            "/metrics names {private}"
        );
    }
    alice.leave().await;
    carol.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped_and_places_come_back() {
    let mut config = Config::default();
    config.limits.connections_per_address = 2;
    let server = spawn_server_with(config).await.expect("server starts");
    let url = server.ws_url();
    let mut first = connect(&url).await;
    let mut second = connect(&url).await;
    let mut third = connect(&url).await;
    expect_error(&mut third, ErrorCode::TooManyConnections, true).await;
    assert!(next(&mut third).await.is_none(), "closed after the error");
    // The two within the limit work normally.
    for ws in [&mut first, &mut second] {
        ws.send(Message::Text("{\"type\":\"nope\"}".into()))
            .await
            .expect("sends");
        expect_error(ws, ErrorCode::UnknownType, false).await;
    }
    first.close(None).await.expect("closes");
    drop(first);
    // The place is given back once the server has seen the close.
    let mut again = None;
    for _ in 0..50 {
        let mut ws = connect(&url).await;
        ws.send(Message::Text("{\"type\":\"nope\"}".into()))
            .await
            .expect("sends");
        match next(&mut ws).await {
            Some(ServerMessage::Error {
                code: ErrorCode::UnknownType,
                ..
            }) => {
                again = Some(ws);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(again.is_some(), "a closed connection gives its place back");
    let (_, text) = get(server.info.http_addr, "/metrics").await;
    assert!(
        metric(
            &text,
            "moot_limit_hits_total{limit=\"connections_per_address\"}"
        ) >= 1
    );
    assert_eq!(metric(&text, "moot_connections_open "), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_rate_comes_from_the_config() {
    let mut config = Config::default();
    config.limits.messages_per_second = 0.5;
    config.limits.message_burst = 3.0;
    let server = spawn_server_with(config).await.expect("server starts");
    let mut ws = connect(&server.ws_url()).await;
    for _ in 0..3 {
        ws.send(Message::Text("{\"type\":\"nope\"}".into()))
            .await
            .expect("sends");
        expect_error(&mut ws, ErrorCode::UnknownType, false).await;
    }
    ws.send(Message::Text("{\"type\":\"nope\"}".into()))
        .await
        .expect("sends");
    expect_error(&mut ws, ErrorCode::RateLimited, false).await;
    let (_, text) = get(server.info.http_addr, "/metrics").await;
    assert_eq!(
        metric(&text, "moot_limit_hits_total{limit=\"message_rate\"}"),
        1
    );
    assert_eq!(
        metric(&text, "moot_errors_sent_total{code=\"unknown_type\"}"),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_everyone_and_drains_within_the_bound() {
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.media.port = 0;
    config.http.shutdown_grace_seconds = 5;
    let bound = moot_server::bind(config).await.expect("binds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (info, task) = bound
        .start(async move {
            let _ = stopped.await;
        })
        .expect("starts");
    let url = format!("ws://{}/api/ws", info.http_addr);
    let mut in_room = connect(&url).await;
    in_room
        .send(Message::Text(
            r#"{"type":"hello","version":1,"room":"heron-mosaic-tundra","name":"Dana"}"#.into(),
        ))
        .await
        .expect("sends");
    assert!(matches!(
        next(&mut in_room).await,
        Some(ServerMessage::Welcome { .. })
    ));
    let mut before_hello = connect(&url).await;
    let (status, body) = get(info.http_addr, "/healthz").await;
    assert!(
        status.contains("200") && body.contains("ok"),
        "{status} {body}"
    );

    let started = std::time::Instant::now();
    stop.send(()).expect("server is running");
    expect_error(&mut in_room, ErrorCode::ServerShutdown, true).await;
    expect_error(&mut before_hello, ErrorCode::ServerShutdown, true).await;
    assert!(
        next(&mut in_room).await.is_none(),
        "closed after the notice"
    );
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server stops within the grace period")
        .expect("server task");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "clients closed at once, so draining took {:?}",
        started.elapsed()
    );
    assert!(
        tokio::net::TcpStream::connect(info.http_addr)
            .await
            .is_err(),
        "nothing listens after shutdown"
    );
}
