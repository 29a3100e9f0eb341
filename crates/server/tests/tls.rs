//! Built-in HTTPS: a self-signed certificate is generated into the state directory, kept, and
//! served; a rustls client that trusts exactly that certificate talks HTTPS and upgrades the
//! signaling WebSocket over it; plain HTTP on the TLS port gets nowhere.

use moot_server::config::Config;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("moot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_kept_and_served_over_https() {
    let state = temp_dir("tls-state");
    // Beyond loopback with no certificate: a self-signed one is generated and kept.
    let mut public = Config::default();
    public.http.listen = "0.0.0.0:0".parse().expect("addr");
    public.state_dir = state.clone();
    public.validate().expect("valid");
    let generated = moot_server::tls::certificate(&public)
        .expect("generates")
        .expect("HTTPS beyond loopback");
    assert!(generated.newly_generated);
    let again = moot_server::tls::certificate(&public)
        .expect("loads")
        .expect("HTTPS");
    assert!(!again.newly_generated, "kept across restarts");
    assert_eq!(again.fingerprint, generated.fingerprint);

    // Serve it on loopback (tests never listen beyond it) through the cert/key file keys.
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.media.port = 0;
    config.tls.cert_file = Some(state.join("self-signed-cert.pem"));
    config.tls.key_file = Some(state.join("self-signed-key.pem"));
    config.validate().expect("valid");
    let bound = moot_server::bind(config).await.expect("binds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (info, task) = bound
        .start(async move {
            let _ = stopped.await;
        })
        .expect("starts");
    assert!(
        info.url().starts_with("https://localhost:"),
        "{}",
        info.url()
    );
    assert_eq!(
        info.certificate.as_ref().expect("tls").fingerprint,
        generated.fingerprint
    );

    let mut roots = rustls::RootCertStore::empty();
    for cert in generated.chain() {
        roots.add(cert.clone()).expect("a valid certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let https = |request: String| {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(info.http_addr)
                .await
                .expect("connects");
            let name = ServerName::try_from("localhost").expect("name");
            let mut tls = connector
                .connect(name, tcp)
                .await
                .expect("the handshake verifies against the generated certificate");
            let presented = tls.get_ref().1.peer_certificates().expect("a certificate")[0].clone();
            tls.write_all(request.as_bytes()).await.expect("writes");
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = Vec::new();
            loop {
                let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
                    .await
                    .expect("answers")
                    .unwrap_or(0);
                got.extend_from_slice(&buf[..n]);
                if n == 0 || got.windows(4).any(|w| w == b"\r\n\r\n") && request.contains("Upgrade")
                {
                    break;
                }
            }
            (String::from_utf8_lossy(&got).into_owned(), presented)
        }
    };
    let (health, presented) =
        https("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned())
            .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");
    assert!(
        health.contains("content-security-policy: default-src 'self'"),
        "{health}"
    );
    assert_eq!(presented.as_ref(), generated.chain()[0].as_ref());

    let (upgrade, _) = https(
        "GET /api/ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_owned(),
    )
    .await;
    assert!(upgrade.starts_with("HTTP/1.1 101"), "{upgrade}");

    // Plain HTTP to the TLS port is not served.
    let mut plain = tokio::net::TcpStream::connect(info.http_addr)
        .await
        .expect("connects");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("ok\n"),
        "plain HTTP must not be answered"
    );

    stop.send(()).expect("running");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("task");
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test]
async fn loopback_stays_plain_http_and_writes_no_state() {
    let state = temp_dir("tls-none");
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.media.port = 0;
    config.state_dir = state.clone();
    let bound = moot_server::bind(config).await.expect("binds");
    let (info, _task) = bound.start(std::future::pending()).expect("starts");
    assert!(
        info.url().starts_with("http://localhost:"),
        "{}",
        info.url()
    );
    assert!(info.certificate.is_none());
    assert!(!state.exists(), "no state directory on loopback");
}
