//! End-to-end encryption, the server's part (docs/e2ee.md): the `e2ee` room setting, who may
//! enter an encrypted meeting, and the opaque relay of key exchange messages. The server never
//! sees a key; these tests check that it passes payloads on unchanged, only to the one
//! recipient, only within a room, and refuses clients that cannot encrypt.

use moot_protocol::ErrorCode;
use moot_server::config::Config;
use moot_testkit::{spawn_server, spawn_server_with, Hello, SimOptions, SimParticipant};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn capable(key: &str) -> Hello {
    Hello {
        e2ee: true,
        e2ee_public_key: Some(key.into()),
        ..Hello::default()
    }
}

async fn join(url: &str, room: &str, name: &str, hello: Hello) -> SimParticipant {
    SimParticipant::try_join(url, room, name, SimOptions::default(), hello)
        .await
        .expect("connects")
        .expect("joins")
}

async fn refusal(url: &str, room: &str, hello: Hello) -> (ErrorCode, String) {
    match SimParticipant::try_join(url, room, "Plain", SimOptions::default(), hello)
        .await
        .expect("connects")
    {
        Ok(_) => panic!("expected a refusal"),
        Err(refusal) => refusal,
    }
}

fn has_error(p: &SimParticipant, code: ErrorCode) -> bool {
    p.errors().iter().any(|(c, _)| *c == code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_meeting_refuses_clients_that_cannot_encrypt() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let host = join(&url, "secret-talk", "Host", capable("QUFBQQ==")).await;
    let plain = join(&url, "secret-talk", "Plain", Hello::default()).await;
    // Turning it on while someone cannot do it is refused, naming them; nothing changes.
    host.send(json!({"type": "set_e2ee", "enabled": true}));
    assert!(
        host.wait_until(WAIT, |h| has_error(h, ErrorCode::E2eeUnsupported))
            .await
    );
    assert!(!host.settings().e2ee);
    let message = host.errors().last().expect("an error").1.clone();
    assert!(message.contains("Plain"), "{message}");
    plain.leave().await;
    // A non-moderator may not turn it on.
    let guest = join(&url, "secret-talk", "Guest", capable("QkJCQg==")).await;
    guest.send(json!({"type": "set_e2ee", "enabled": true}));
    assert!(
        guest
            .wait_until(WAIT, |g| has_error(g, ErrorCode::NotAllowed))
            .await
    );
    host.send(json!({"type": "set_e2ee", "enabled": true}));
    assert!(guest.wait_until(WAIT, |g| g.settings().e2ee).await);
    assert!(host.wait_until(WAIT, |h| h.settings().e2ee).await);
    // The public keys travel in the participant objects.
    assert_eq!(
        guest
            .participant(host.id)
            .and_then(|p| p.e2ee_public_key)
            .as_deref(),
        Some("QUFBQQ==")
    );
    // Nobody gets in unencrypted: not without the capability, not with it but without a
    // key, not even with the host key.
    let (code, message) = refusal(&url, "secret-talk", Hello::default()).await;
    assert_eq!(code, ErrorCode::E2eeUnsupported);
    assert!(message.contains("end-to-end encrypted"), "{message}");
    let no_key = Hello {
        e2ee: true,
        ..Hello::default()
    };
    assert_eq!(
        refusal(&url, "secret-talk", no_key).await.0,
        ErrorCode::E2eeUnsupported
    );
    let host_key = Hello {
        host_key: host.host_key(),
        ..Hello::default()
    };
    assert_eq!(
        refusal(&url, "secret-talk", host_key).await.0,
        ErrorCode::E2eeUnsupported
    );
    // Once on, it stays on.
    host.send(json!({"type": "set_e2ee", "enabled": false}));
    assert!(
        host.wait_until(WAIT, |h| has_error(h, ErrorCode::NotAllowed))
            .await
    );
    assert!(host.settings().e2ee && guest.settings().e2ee);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_exchange_messages_reach_only_their_recipient_unchanged() {
    let server = spawn_server().await.expect("server");
    let url = server.ws_url();
    let a = join(&url, "relay-room", "A", capable("QUFBQQ==")).await;
    let b = join(&url, "relay-room", "B", capable("QkJCQg==")).await;
    let c = join(&url, "relay-room", "C", capable("Q0NDQw==")).await;
    let elsewhere = join(&url, "other-room", "D", capable("RERERA==")).await;
    let payload = "c2VjcmV0IGtleSBtYXRlcmlhbA+/=";
    a.send(json!({"type": "e2ee", "to": b.id.to_string(), "payload": payload}));
    assert!(b.wait_until(WAIT, |b| !b.e2ee_messages().is_empty()).await);
    assert_eq!(b.e2ee_messages(), vec![(a.id, payload.to_string())]);
    // Not to another room, not to yourself; nothing bigger than 8 KiB (MAX_E2EE_PAYLOAD), nothing but base64.
    a.send(json!({"type": "e2ee", "to": elsewhere.id.to_string(), "payload": "QQ=="}));
    a.send(json!({"type": "e2ee", "to": a.id.to_string(), "payload": "QQ=="}));
    let big = "A".repeat(8192 + 4);
    a.send(json!({"type": "e2ee", "to": b.id.to_string(), "payload": big}));
    a.send(json!({"type": "e2ee", "to": b.id.to_string(), "payload": "<not base64>"}));
    assert!(
        a.wait_until(WAIT, |a| {
            let e = a.errors();
            e.iter()
                .filter(|(c, _)| *c == ErrorCode::UnknownParticipant)
                .count()
                == 2
                && e.iter().filter(|(c, _)| *c == ErrorCode::BadE2ee).count() == 2
        })
        .await,
        "{:?}",
        a.errors()
    );
    // A marker after the refused ones: once it is there, nothing else was delivered.
    a.send(json!({"type": "e2ee", "to": b.id.to_string(), "payload": "ZW5k"}));
    assert!(b.wait_until(WAIT, |b| b.e2ee_messages().len() == 2).await);
    assert_eq!(b.e2ee_messages()[1], (a.id, "ZW5k".to_string()));
    assert!(c.e2ee_messages().is_empty() && elsewhere.e2ee_messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_can_start_encrypted() {
    let mut config = Config::default();
    config.rooms.e2ee_by_default = true;
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let (code, _) = refusal(&url, "born-secret", Hello::default()).await;
    assert_eq!(code, ErrorCode::E2eeUnsupported, "even creating it");
    let host = join(&url, "born-secret", "Host", capable("QUFBQQ==")).await;
    assert!(host.settings().e2ee);
}
