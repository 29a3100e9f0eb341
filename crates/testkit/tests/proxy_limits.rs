//! Reverse-proxy mode against a real loopback server: `X-Forwarded-For` decides the client
//! address only when the TCP peer is a trusted proxy, so a client talking to Moot directly
//! cannot escape the per-address connection limit by inventing addresses, while people behind
//! a trusted proxy each get their own limit.

use futures_util::SinkExt;
use moot_protocol::{ErrorCode, ServerMessage};
use moot_server::config::Config;
use moot_testkit::raw::{next, Ws};
use moot_testkit::spawn_server_with;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// Opens a signaling WebSocket carrying `forwarded_for` as `X-Forwarded-For`.
async fn connect_as(url: &str, forwarded_for: Option<&[u8]>) -> Ws {
    let mut request = url.into_client_request().expect("valid url");
    if let Some(value) = forwarded_for {
        request.headers_mut().insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(value).expect("a header value"),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connects")
        .0
}

/// Whether the server kept this connection (true) or refused it with `too_many_connections`.
async fn admitted(ws: &mut Ws) -> bool {
    // A refused connection has its error queued already; an admitted one answers this.
    let _ = ws.send(Message::Text("{\"type\":\"nope\"}".into())).await;
    match next(ws).await {
        Some(ServerMessage::Error {
            code: ErrorCode::UnknownType,
            ..
        }) => true,
        Some(ServerMessage::Error {
            code: ErrorCode::TooManyConnections,
            fatal: true,
            ..
        }) => false,
        other => panic!("expected admission or refusal, got {other:?}"),
    }
}

/// Connects as `forwarded_for` and keeps the connection open in `open`; returns admission.
async fn try_as(url: &str, forwarded_for: Option<&[u8]>, open: &mut Vec<Ws>) -> bool {
    let mut ws = connect_as(url, forwarded_for).await;
    let ok = admitted(&mut ws).await;
    open.push(ws);
    ok
}

fn config(limit: usize, trusted: &[&str]) -> Config {
    let mut config = Config::default();
    config.limits.connections_per_address = limit;
    config.http.trusted_proxies = trusted
        .iter()
        .map(|c| c.parse().expect("a valid range"))
        .collect();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_is_not_a_trusted_proxy_cannot_invent_addresses() {
    // Once with no proxies configured, once with proxies that do not include the client.
    for trusted in [&[][..], &["10.0.0.0/8", "::1/128"][..]] {
        let server = spawn_server_with(config(2, trusted))
            .await
            .expect("server starts");
        let url = server.ws_url();
        let mut open = Vec::new();
        let mut admissions = Vec::new();
        for i in 0..4 {
            let forged = format!("1.2.3.{i}");
            admissions.push(try_as(&url, Some(forged.as_bytes()), &mut open).await);
        }
        assert_eq!(
            admissions,
            [true, true, false, false],
            "a new X-Forwarded-For on every connection still counts as one address ({trusted:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let server = spawn_server_with(config(2, &["127.0.0.1/32"]))
        .await
        .expect("server starts");
    let url = server.ws_url();
    let mut open = Vec::new();
    // The proxy appends the real address; what the client wrote on the left is ignored.
    let alice: &[u8] = b"6.6.6.6, 198.51.100.1";
    let bob: &[u8] = b"198.51.100.2";
    assert!(try_as(&url, Some(alice), &mut open).await);
    assert!(try_as(&url, Some(alice), &mut open).await);
    assert!(
        !try_as(&url, Some(b"7.7.7.7, 198.51.100.1"), &mut open).await,
        "a third connection for the same client is refused"
    );
    assert!(try_as(&url, Some(bob), &mut open).await, "another client");
    assert!(try_as(&url, Some(bob), &mut open).await);
    assert!(!try_as(&url, Some(bob), &mut open).await);
    // An IPv6 /64 is still one address behind a proxy.
    assert!(try_as(&url, Some(b"2001:db8:1:2::a"), &mut open).await);
    assert!(try_as(&url, Some(b"2001:db8:1:2::b"), &mut open).await);
    assert!(!try_as(&url, Some(b"2001:db8:1:2::c"), &mut open).await);
    // Requests with no header are the proxy's own, with their own budget.
    assert!(try_as(&url, None, &mut open).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_from_a_trusted_proxy_counts_as_the_proxy() {
    let server = spawn_server_with(config(2, &["127.0.0.1/32"]))
        .await
        .expect("server starts");
    let url = server.ws_url();
    let mut open = Vec::new();
    // (A header that is not text at all is covered by client_ip.rs's unit tests: the WebSocket
    // client here refuses to send one.)
    let malformed: [&[u8]; 4] = [
        b"unknown",
        b"198.51.100.9, garbage",
        b"198.51.100.1:notaport",
        b" , ",
    ];
    let mut admissions = Vec::new();
    for value in malformed {
        admissions.push(try_as(&url, Some(value), &mut open).await);
    }
    assert_eq!(
        admissions,
        [true, true, false, false],
        "all of them fall back to the proxy's address, 127.0.0.1"
    );
    assert!(
        !try_as(&url, None, &mut open).await,
        "which is the same budget as requests with no header"
    );
    // Nothing else is affected: well-formed addresses still get in, the server still serves.
    assert!(try_as(&url, Some(b"198.51.100.9"), &mut open).await);
    let health = tokio::net::TcpStream::connect(server.info.http_addr).await;
    assert!(health.is_ok(), "still accepting connections");
}
