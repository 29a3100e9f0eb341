//! `welcome.ice_servers`: fresh TURN credentials for each person when `turn.*` is configured,
//! an empty array (no third party for the browser to contact) when it is not.
//! The HMAC itself is checked against openssl-made vectors in crates/server/src/turn_credentials.rs.

use futures_util::{SinkExt, StreamExt};
use moot_protocol::{IceServer, ServerMessage};
use moot_server::config::Config;
use moot_testkit::{spawn_server, spawn_server_with};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

/// Says hello and returns the welcome's raw JSON.
async fn welcome_json(url: &str, name: &str) -> serde_json::Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let hello = serde_json::json!({"type": "hello", "version": 1,
        "room": "turn-credentials-room", "name": name});
    ws.send(Message::Text(hello.to_string().into()))
        .await
        .expect("sends hello");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("server answers within 5 s")
            .expect("connection open")
            .expect("frame");
        if let Message::Text(text) = frame {
            let value: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            if value["type"] == "welcome" {
                return value;
            }
        }
    }
}

fn ice_servers(welcome: &serde_json::Value) -> Vec<IceServer> {
    match serde_json::from_value::<ServerMessage>(welcome.clone()).expect("a server message") {
        ServerMessage::Welcome { ice_servers, .. } => ice_servers,
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn no_turn_means_an_empty_ice_servers_array() {
    let server = spawn_server().await.expect("server starts");
    let welcome = welcome_json(&server.ws_url(), "Ann").await;
    assert_eq!(welcome["ice_servers"], serde_json::json!([]));
}

#[tokio::test]
async fn each_welcome_gets_fresh_credentials_valid_for_ttl() {
    let mut config = Config::default();
    config.turn.urls = vec![
        "turn:127.0.0.1:3478?transport=udp".into(),
        "turn:127.0.0.1:3478?transport=tcp".into(),
    ];
    config.turn.shared_secret = Some("a-shared-secret".into());
    config.turn.ttl_seconds = 600;
    let server = spawn_server_with(config).await.expect("server starts");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let ann = ice_servers(&welcome_json(&server.ws_url(), "Ann").await);
    let bob = ice_servers(&welcome_json(&server.ws_url(), "Bob").await);
    for servers in [&ann, &bob] {
        assert_eq!(servers.len(), 1, "{servers:?}");
        let s = &servers[0];
        assert_eq!(
            s.urls,
            [
                "turn:127.0.0.1:3478?transport=udp",
                "turn:127.0.0.1:3478?transport=tcp"
            ]
        );
        let (expiry, random) = s.username.split_once(':').expect("<expiry>:<random>");
        let expiry: u64 = expiry.parse().expect("unix time");
        assert!(
            (now + 590..=now + 610).contains(&expiry),
            "expiry {expiry} is now ({now}) + ttl_seconds"
        );
        assert!(random.len() >= 16, "enough randomness: {random}");
        // base64 of a 20-byte HMAC-SHA1.
        assert_eq!(s.credential.len(), 28, "{}", s.credential);
        assert!(s.credential.ends_with('='));
    }
    assert_ne!(ann[0].username, bob[0].username);
    assert_ne!(ann[0].credential, bob[0].credential);
}
