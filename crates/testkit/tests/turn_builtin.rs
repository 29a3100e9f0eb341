//! The built-in TURN relay over real loopback sockets, driven by a hand-written hostile client:
//! refusals (401 unauthenticated, wrong password, expired username; 403 for a peer that is not
//! the media address) and a legitimate allocation that carries an ICE connectivity check to
//! the SFU's media port and its answer back, over UDP and over TCP.

use futures_util::SinkExt;
use moot_protocol::{IceServer, ServerMessage};
use moot_server::config::Config;
use moot_testkit::{spawn_server_with, TestServer};
use moot_turn::message::{attr, decode_channel_data, Builder, Class, Message, Method};
use moot_turn::{long_term_key, stream_frame_len};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Known so the test can make an expired but correctly signed username.
const SECRET: &str = "turn-builtin-test-secret";

async fn server() -> TestServer {
    let mut config = Config::default();
    config.turn_server.enabled = true;
    config.turn_server.port = 0;
    config.turn.shared_secret = Some(SECRET.into());
    spawn_server_with(config).await.expect("server starts")
}

/// A signaling session that has joined a room and sent an SDP offer: returns the welcome's
/// ICE server, the answer's ICE ufrag and password, and our own ufrag (for ICE checks).
struct Joined {
    ice: IceServer,
    server_ufrag: String,
    server_pwd: String,
    client_ufrag: String,
    _ws: moot_testkit::raw::Ws,
}

async fn join(server: &TestServer) -> Joined {
    let mut ws = moot_testkit::raw::connect(&server.ws_url()).await;
    let hello = serde_json::json!({"type": "hello", "version": 1,
        "room": "turn-builtin-room-7q2x", "name": "Ann"});
    moot_testkit::raw::text(&mut ws, hello.to_string()).await;
    let ice = loop {
        match moot_testkit::raw::next(&mut ws).await.expect("open") {
            ServerMessage::Welcome { ice_servers, .. } => break ice_servers,
            _ => continue,
        }
    };
    assert_eq!(ice.len(), 1, "the built-in relay: {ice:?}");
    let now = std::time::Instant::now();
    let mut rtc = Rtc::builder().build(now);
    let local: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, _pending) = api.apply().expect("an offer");
    let offer = offer.to_sdp_string();
    let offer_msg = serde_json::json!({"type": "offer", "sdp": offer});
    ws.send(WsMessage::Text(offer_msg.to_string().into()))
        .await
        .expect("sends offer");
    let answer = loop {
        match moot_testkit::raw::next(&mut ws).await.expect("open") {
            ServerMessage::Answer { sdp } => break sdp,
            _ => continue,
        }
    };
    Joined {
        ice: ice.into_iter().next().expect("one"),
        server_ufrag: sdp_value(&answer, "a=ice-ufrag:"),
        server_pwd: sdp_value(&answer, "a=ice-pwd:"),
        client_ufrag: sdp_value(&offer, "a=ice-ufrag:"),
        _ws: ws,
    }
}

fn sdp_value(sdp: &str, prefix: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("{prefix} in {sdp}"))
        .trim()
        .to_owned()
}

/// "turn:127.0.0.1:PORT?transport=udp" → 127.0.0.1:PORT
fn url_addr(ice: &IceServer, transport: &str) -> SocketAddr {
    let url = ice
        .urls
        .iter()
        .find(|u| u.ends_with(&format!("?transport={transport}")))
        .unwrap_or_else(|| panic!("a {transport} url in {:?}", ice.urls));
    let host_port = url
        .strip_prefix("turn:")
        .and_then(|r| r.split('?').next())
        .expect("turn:HOST:PORT?...");
    host_port.parse().expect("IP:port")
}

/// One TURN connection, UDP or TCP (framed).
enum Conn {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, Vec<u8>),
}

impl Conn {
    async fn open(ice: &IceServer, transport: &str) -> Self {
        let server = url_addr(ice, transport);
        match transport {
            "udp" => {
                let socket = UdpSocket::bind("127.0.0.1:0").await.expect("binds");
                Conn::Udp(socket, server)
            }
            _ => Conn::Tcp(
                TcpStream::connect(server).await.expect("connects"),
                Vec::new(),
            ),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        match self {
            Conn::Udp(socket, server) => {
                socket.send_to(bytes, *server).await.expect("sends");
            }
            Conn::Tcp(stream, _) => stream.write_all(bytes).await.expect("writes"),
        }
    }

    /// The next datagram or frame; None after 2 s of silence.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(Duration::from_secs(2), async {
            match self {
                Conn::Udp(socket, _) => {
                    let mut buf = vec![0u8; 65_536];
                    let (n, _) = socket.recv_from(&mut buf).await.expect("receives");
                    buf.truncate(n);
                    buf
                }
                Conn::Tcp(stream, pending) => loop {
                    if let Ok(Some(len)) = stream_frame_len(pending) {
                        return pending.drain(..len).collect();
                    }
                    let n = stream.read_buf(pending).await.expect("reads");
                    assert!(n > 0, "server closed the connection");
                },
            }
        })
        .await
        .ok()
    }

    /// Sends a request and returns the response with its transaction id.
    async fn ask(&mut self, request: &[u8]) -> Vec<u8> {
        self.send(request).await;
        loop {
            let bytes = self.recv().await.expect("a response within 2 s");
            if bytes[8..20] == request[8..20] {
                return bytes;
            }
        }
    }
}

fn error_code(bytes: &[u8]) -> Option<u16> {
    let m = Message::decode(bytes).expect("STUN");
    let v = m.get(attr::ERROR_CODE)?;
    Some(u16::from(v[2]) * 100 + u16::from(v[3]))
}

fn tid(n: u8) -> [u8; 12] {
    [n, 0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
}

/// The client side of the long-term credential mechanism.
struct Creds {
    username: String,
    password: String,
    realm: String,
    nonce: String,
}

impl Creds {
    fn sign(&self, builder: Builder) -> Vec<u8> {
        builder
            .bytes(attr::USERNAME, self.username.as_bytes())
            .bytes(attr::REALM, self.realm.as_bytes())
            .bytes(attr::NONCE, self.nonce.as_bytes())
            .finish_integrity(&long_term_key(&self.username, &self.realm, &self.password))
    }
}

fn allocate(n: u8) -> Builder {
    Builder::new(Class::Request, Method::Allocate, tid(n))
        .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
}

/// Sends an unauthenticated Allocate and returns the 401's realm and nonce.
async fn challenge(conn: &mut Conn) -> (String, String) {
    let response = conn.ask(&allocate(1).finish()).await;
    assert_eq!(error_code(&response), Some(401), "unauthenticated Allocate");
    let m = Message::decode(&response).expect("STUN");
    (
        m.string(attr::REALM).expect("REALM").to_owned(),
        m.string(attr::NONCE).expect("NONCE").to_owned(),
    )
}

fn rest_password(username: &str) -> String {
    use base64::Engine;
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        SECRET.as_bytes(),
    );
    base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::hmac::sign(&key, username.as_bytes()))
}

#[tokio::test]
async fn hostile_requests_are_refused() {
    let server = server().await;
    let joined = join(&server).await;
    assert_eq!(
        joined.ice.urls,
        [
            format!("turn:{}?transport=udp", url_addr(&joined.ice, "udp")),
            format!("turn:{}?transport=tcp", url_addr(&joined.ice, "tcp")),
        ],
        "UDP and TCP on one port, no turns: without a certificate"
    );
    let mut conn = Conn::open(&joined.ice, "udp").await;
    let (realm, nonce) = challenge(&mut conn).await;
    assert_eq!(realm, "moot");

    let wrong = Creds {
        username: joined.ice.username.clone(),
        password: "guessed".into(),
        realm: realm.clone(),
        nonce: nonce.clone(),
    };
    let response = conn.ask(&wrong.sign(allocate(2))).await;
    assert_eq!(error_code(&response), Some(401), "wrong password");

    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        - 10;
    let expired_name = format!("{past}:mallory");
    let expired = Creds {
        password: rest_password(&expired_name),
        username: expired_name,
        realm: realm.clone(),
        nonce: nonce.clone(),
    };
    let response = conn.ask(&expired.sign(allocate(3))).await;
    assert_eq!(
        error_code(&response),
        Some(401),
        "expired username, correctly signed"
    );

    let good = Creds {
        username: joined.ice.username.clone(),
        password: joined.ice.credential.clone(),
        realm,
        nonce,
    };
    let response = conn.ask(&good.sign(allocate(4))).await;
    assert_eq!(error_code(&response), None, "the real credentials work");
    let media = server.info.candidates[0];
    let elsewhere = [
        SocketAddr::new(media.ip(), server.info.http_addr.port()),
        SocketAddr::new(media.ip(), 22),
        "10.0.0.1:10000".parse().expect("addr"),
    ];
    for (i, peer) in elsewhere.into_iter().enumerate() {
        let request = good.sign(
            Builder::new(Class::Request, Method::CreatePermission, tid(10 + i as u8))
                .xor_address(attr::XOR_PEER_ADDRESS, peer),
        );
        let response = conn.ask(&request).await;
        assert_eq!(error_code(&response), Some(403), "permission to {peer}");
        let request = good.sign(
            Builder::new(Class::Request, Method::ChannelBind, tid(20 + i as u8))
                .u32(attr::CHANNEL_NUMBER, 0x4000 << 16)
                .xor_address(attr::XOR_PEER_ADDRESS, peer),
        );
        let response = conn.ask(&request).await;
        assert_eq!(error_code(&response), Some(403), "channel to {peer}");
    }
}

/// Allocates, binds a channel to the SFU's media address, and sends an ICE Binding request
/// (signed with the answer's ice-pwd) through it; the SFU's success answer must come back.
async fn relay_an_ice_check(transport: &str) {
    let server = server().await;
    let joined = join(&server).await;
    let mut conn = Conn::open(&joined.ice, transport).await;
    let (realm, nonce) = challenge(&mut conn).await;
    let creds = Creds {
        username: joined.ice.username.clone(),
        password: joined.ice.credential.clone(),
        realm,
        nonce,
    };
    let response = conn.ask(&creds.sign(allocate(2))).await;
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(m.class, Class::Success, "{:?}", error_code(&response));
    let relay = m
        .xor_address(attr::XOR_RELAYED_ADDRESS)
        .expect("relayed address");
    assert_eq!(relay.ip(), server.info.candidates[0].ip());
    assert_eq!(m.u32(attr::LIFETIME), Some(600));

    let media = server.info.candidates[0];
    let request = creds.sign(
        Builder::new(Class::Request, Method::ChannelBind, tid(3))
            .u32(attr::CHANNEL_NUMBER, 0x4001 << 16)
            .xor_address(attr::XOR_PEER_ADDRESS, media),
    );
    assert_eq!(error_code(&conn.ask(&request).await), None, "ChannelBind");

    let check_tid = tid(99);
    let check = Builder::new(Class::Request, Method::Binding, check_tid)
        .bytes(
            attr::USERNAME,
            format!("{}:{}", joined.server_ufrag, joined.client_ufrag).as_bytes(),
        )
        .u32(0x0024, 0x6e00_01ff) // PRIORITY
        .bytes(0x802A, &[1, 2, 3, 4, 5, 6, 7, 8]) // ICE-CONTROLLING
        .finish_integrity(joined.server_pwd.as_bytes());
    let framed = moot_turn::message::encode_channel_data(0x4001, &check, transport == "tcp");
    let mut answer = None;
    for _ in 0..5 {
        conn.send(&framed).await;
        while let Some(bytes) = conn.recv().await {
            if let Some((0x4001, data)) = decode_channel_data(&bytes) {
                answer = Some(data.to_vec());
                break;
            }
        }
        if answer.is_some() {
            break;
        }
    }
    let answer = answer.expect("the SFU's answer came back through the relay");
    let m = Message::decode(&answer).expect("STUN from the SFU");
    assert_eq!((m.class, m.method), (Class::Success, Method::Binding));
    assert_eq!(m.transaction_id, check_tid);
    assert_eq!(
        m.xor_address(attr::XOR_MAPPED_ADDRESS),
        Some(relay),
        "the SFU saw the check come from the relay"
    );
    assert!(m.check_integrity(joined.server_pwd.as_bytes()));

    let metrics = http_get(&server, "/metrics").await;
    assert!(
        metrics.contains("moot_turn_allocations 1"),
        "{}",
        metrics_lines(&metrics)
    );
    assert!(
        !metrics.contains("moot_turn_relayed_bytes_total{direction=\"to_client\"} 0"),
        "{}",
        metrics_lines(&metrics)
    );
}

#[tokio::test]
async fn an_allocation_relays_an_ice_check_to_the_sfu_and_back_over_udp() {
    relay_an_ice_check("udp").await;
}

#[tokio::test]
async fn an_allocation_relays_an_ice_check_to_the_sfu_and_back_over_tcp() {
    relay_an_ice_check("tcp").await;
}

async fn http_get(server: &TestServer, path: &str) -> String {
    let mut stream = TcpStream::connect(server.info.http_addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("reads");
    body
}

fn metrics_lines(page: &str) -> String {
    page.lines()
        .filter(|l| l.starts_with("moot_turn"))
        .collect::<Vec<_>>()
        .join("\n")
}
