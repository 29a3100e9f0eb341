//! TURN over TLS (`turns:`) on the built-in relay: the TLS listener serves Moot's HTTPS
//! certificate, and behind it the same checks run as on UDP and TCP (401 without credentials,
//! an allocation with them, 403 for a peer that is not the media address).

use base64::Engine;
use moot_server::config::Config;
use moot_turn::message::{attr, Builder, Class, Message, Method};
use moot_turn::{long_term_key, stream_frame_len};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "turn-tls-test-secret";

/// A TCP port free right now on loopback.
fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    listener.local_addr().expect("addr").port()
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn ask(tls: &mut Tls, pending: &mut Vec<u8>, request: &[u8]) -> Vec<u8> {
    tls.write_all(request).await.expect("writes");
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Some(len)) = stream_frame_len(pending) {
                let frame: Vec<u8> = pending.drain(..len).collect();
                if frame[8..20] == request[8..20] {
                    return frame;
                }
                continue;
            }
            let n = tls.read_buf(pending).await.expect("reads");
            assert!(n > 0, "the relay closed the connection");
        }
    })
    .await
    .expect("an answer within 5 s")
}

fn error_code(bytes: &[u8]) -> Option<u16> {
    let m = Message::decode(bytes).expect("STUN");
    let v = m.get(attr::ERROR_CODE)?;
    Some(u16::from(v[2]) * 100 + u16::from(v[3]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_serves_the_https_certificate_and_authenticates() {
    let state = std::env::temp_dir().join(format!("moot-turn-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let mut generate = Config::default();
    generate.http.listen = "0.0.0.0:0".parse().expect("addr");
    generate.state_dir = state.clone();
    let certificate = moot_server::tls::certificate(&generate)
        .expect("generates")
        .expect("HTTPS beyond loopback");

    let tls_port = free_tcp_port();
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.media.port = 0;
    config.tls.cert_file = Some(state.join("self-signed-cert.pem"));
    config.tls.key_file = Some(state.join("self-signed-key.pem"));
    config.turn_server.enabled = true;
    config.turn_server.port = 0;
    config.turn_server.tls_port = tls_port;
    config.turn.shared_secret = Some(SECRET.into());
    config.validate().expect("valid");
    let bound = moot_server::bind(config).await.expect("binds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (info, task) = bound
        .start(async move {
            let _ = stopped.await;
        })
        .expect("starts");

    let mut roots = rustls::RootCertStore::empty();
    for cert in certificate.chain() {
        roots.add(cert.clone()).expect("a valid certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .expect("connects");
    let mut tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("the handshake verifies against Moot's certificate");
    let mut pending = Vec::new();

    let allocate = |n: u8| {
        Builder::new(Class::Request, Method::Allocate, [n; 12])
            .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
    };
    let challenge = ask(&mut tls, &mut pending, &allocate(1).finish()).await;
    assert_eq!(error_code(&challenge), Some(401));
    let m = Message::decode(&challenge).expect("STUN");
    let realm = m.string(attr::REALM).expect("realm").to_owned();
    let nonce = m.string(attr::NONCE).expect("nonce").to_owned();

    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 600;
    let username = format!("{expiry}:tls-client");
    let hmac_key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        SECRET.as_bytes(),
    );
    let password = base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::hmac::sign(&hmac_key, username.as_bytes()));
    let key = long_term_key(&username, &realm, &password);
    let sign = |builder: Builder| {
        builder
            .bytes(attr::USERNAME, username.as_bytes())
            .bytes(attr::REALM, realm.as_bytes())
            .bytes(attr::NONCE, nonce.as_bytes())
            .finish_integrity(&key)
    };
    let response = ask(&mut tls, &mut pending, &sign(allocate(2))).await;
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(m.class, Class::Success, "{:?}", error_code(&response));
    assert!(m.check_integrity(&key));
    assert!(m.xor_address(attr::XOR_RELAYED_ADDRESS).is_some());

    let media = info.candidates[0];
    let permit = |n: u8, peer: SocketAddr| {
        sign(
            Builder::new(Class::Request, Method::CreatePermission, [n; 12])
                .xor_address(attr::XOR_PEER_ADDRESS, peer),
        )
    };
    let response = ask(&mut tls, &mut pending, &permit(3, media)).await;
    assert_eq!(error_code(&response), None, "the media address is allowed");
    let elsewhere = SocketAddr::new(media.ip(), info.http_addr.port());
    let response = ask(&mut tls, &mut pending, &permit(4, elsewhere)).await;
    assert_eq!(error_code(&response), Some(403), "Moot's HTTPS port is not");

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    let _ = std::fs::remove_dir_all(&state);
}
