//! The server driven through its public API by a hand-written client: every method, every
//! error code, and data both ways.

use crate::message::{attr, decode_channel_data, Builder, Class, Message, Method};
use crate::{long_term_key, AllocationId, Config, FiveTuple, Output, Server, Transport};
use aws_lc_rs::hmac;
use base64::Engine;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"moot-test-secret";
const REALM: &str = "moot.test";
/// 2023-11-14; usernames below expire relative to this.
const UNIX_START: u64 = 1_700_000_000;

fn media() -> SocketAddr {
    "198.51.100.7:10000".parse().expect("addr")
}

fn client_tuple(port: u16, transport: Transport) -> FiveTuple {
    FiveTuple {
        client: SocketAddr::from(([192, 0, 2, 1], port)),
        server: SocketAddr::from(([198, 51, 100, 7], 3478)),
        transport,
    }
}

fn config() -> Config {
    let mut config = Config::new(
        SECRET.to_vec(),
        [3; 32],
        "198.51.100.7".parse().expect("ip"),
    );
    config.realm = REALM.into();
    config.allowed_peers = vec![media()];
    config
}

fn password(username: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET);
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, username.as_bytes()))
}

/// A TURN client as hostile as a test needs: it signs whatever it is told to.
struct Client {
    tuple: FiveTuple,
    username: String,
    password: String,
    nonce: Option<String>,
    next_tid: u8,
}

impl Client {
    fn new(port: u16) -> Self {
        let username = format!("{}:alice", UNIX_START + 3600);
        Self {
            tuple: client_tuple(port, Transport::Udp),
            password: password(&username),
            username,
            nonce: None,
            next_tid: 0,
        }
    }

    fn tid(&mut self) -> [u8; 12] {
        self.next_tid += 1;
        [self.next_tid; 12]
    }

    fn key(&self) -> [u8; 16] {
        long_term_key(&self.username, REALM, &self.password)
    }

    /// A request carrying USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
    fn signed(&self, builder: Builder) -> Vec<u8> {
        builder
            .bytes(attr::USERNAME, self.username.as_bytes())
            .bytes(attr::REALM, REALM.as_bytes())
            .bytes(
                attr::NONCE,
                self.nonce.as_deref().unwrap_or("none").as_bytes(),
            )
            .finish_integrity(&self.key())
    }

    fn allocate_request(&mut self) -> Vec<u8> {
        let tid = self.tid();
        self.signed(
            Builder::new(Class::Request, Method::Allocate, tid)
                .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0]),
        )
    }
}

struct Harness {
    server: Server,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with(config())
    }

    fn with(config: Config) -> Self {
        let now = Instant::now();
        Self {
            server: Server::new(config, now, UNIX_START),
            now,
        }
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.server.poll_output()).collect()
    }

    /// Sends and returns the one response the client got (panics on anything else).
    fn request(&mut self, tuple: FiveTuple, bytes: &[u8]) -> Vec<u8> {
        self.server.handle_client(self.now, tuple, bytes);
        match self.outputs().as_slice() {
            [Output::Transmit { to, bytes }] if *to == tuple => bytes.clone(),
            other => panic!("expected one response, got {other:?}"),
        }
    }

    /// Fetches a nonce with an unauthenticated Allocate (the 401 dance).
    fn learn_nonce(&mut self, client: &mut Client) {
        let tid = client.tid();
        let request = Builder::new(Class::Request, Method::Allocate, tid)
            .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .finish();
        let response = self.request(client.tuple, &request);
        let m = Message::decode(&response).expect("STUN");
        assert_eq!(error_code(&m), Some(401));
        client.nonce = m.string(attr::NONCE).map(str::to_owned);
    }

    /// A full allocation with relay port `port`; returns its id.
    fn allocate(&mut self, client: &mut Client, port: u16) -> AllocationId {
        self.learn_nonce(client);
        let request = client.allocate_request();
        self.server.handle_client(self.now, client.tuple, &request);
        let allocation = match self.outputs().as_slice() {
            [Output::OpenRelay { allocation }] => *allocation,
            other => panic!("expected OpenRelay, got {other:?}"),
        };
        self.server.relay_opened(self.now, allocation, Some(port));
        let response = match self.outputs().as_slice() {
            [Output::Transmit { bytes, .. }] => bytes.clone(),
            other => panic!("expected the success response, got {other:?}"),
        };
        let m = Message::decode(&response).expect("STUN");
        assert_eq!(m.class, Class::Success, "{:?}", error_code(&m));
        assert!(m.check_integrity(&client.key()));
        allocation
    }

    fn permit(&mut self, client: &mut Client, peer: SocketAddr) -> Message<'static> {
        let tid = client.tid();
        let request = client.signed(
            Builder::new(Class::Request, Method::CreatePermission, tid)
                .xor_address(attr::XOR_PEER_ADDRESS, peer),
        );
        let response = self.request(client.tuple, &request);
        Message::decode(Box::leak(response.into_boxed_slice())).expect("STUN")
    }

    fn channel_bind(&mut self, client: &mut Client, channel: u16, peer: SocketAddr) -> Option<u16> {
        let tid = client.tid();
        let request = client.signed(
            Builder::new(Class::Request, Method::ChannelBind, tid)
                .u32(attr::CHANNEL_NUMBER, u32::from(channel) << 16)
                .xor_address(attr::XOR_PEER_ADDRESS, peer),
        );
        let response = self.request(client.tuple, &request);
        error_code(&Message::decode(&response).expect("STUN"))
    }
}

fn error_code(m: &Message<'_>) -> Option<u16> {
    if m.class != Class::Error {
        return None;
    }
    let v = m.get(attr::ERROR_CODE)?;
    Some(u16::from(v[2]) * 100 + u16::from(v[3]))
}

fn response_code(bytes: &[u8]) -> Option<u16> {
    error_code(&Message::decode(bytes).expect("STUN"))
}

#[test]
fn binding_reflects_the_client_address() {
    let mut h = Harness::new();
    let tuple = client_tuple(5000, Transport::Udp);
    let request = Builder::new(Class::Request, Method::Binding, [1; 12]).finish_fingerprint();
    let response = h.request(tuple, &request);
    let m = Message::decode(&response).expect("STUN");
    assert_eq!((m.class, m.method), (Class::Success, Method::Binding));
    assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS), Some(tuple.client));
}

#[test]
fn unauthenticated_allocate_gets_401_with_realm_and_nonce() {
    let mut h = Harness::new();
    let request = Builder::new(Class::Request, Method::Allocate, [1; 12])
        .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .finish();
    let response = h.request(client_tuple(5000, Transport::Udp), &request);
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(error_code(&m), Some(401));
    assert_eq!(m.string(attr::REALM), Some(REALM));
    assert!(m.string(attr::NONCE).is_some_and(|n| !n.is_empty()));
    assert!(!m.has_integrity(), "nothing to sign with yet");
}

#[test]
fn wrong_password_expired_or_malformed_username_and_wrong_realm_get_401() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);

    client.password = "not-the-password".into();
    let request = client.allocate_request();
    assert_eq!(response_code(&h.request(client.tuple, &request)), Some(401));

    client.username = format!("{}:alice", UNIX_START - 1);
    client.password = password(&client.username);
    let request = client.allocate_request();
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(401),
        "expired"
    );

    client.username = "alice".into();
    client.password = password("alice");
    let request = client.allocate_request();
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(401),
        "no expiry"
    );

    let mut client = Client::new(5001);
    h.learn_nonce(&mut client);
    let tid = client.tid();
    let request = Builder::new(Class::Request, Method::Allocate, tid)
        .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .bytes(attr::USERNAME, client.username.as_bytes())
        .bytes(attr::REALM, b"other.realm")
        .bytes(attr::NONCE, client.nonce.clone().expect("nonce").as_bytes())
        .finish_integrity(&long_term_key(
            &client.username,
            "other.realm",
            &client.password,
        ));
    assert_eq!(response_code(&h.request(client.tuple, &request)), Some(401));
}

#[test]
fn integrity_without_username_realm_or_nonce_is_400() {
    let mut h = Harness::new();
    let client = Client::new(5000);
    let request = Builder::new(Class::Request, Method::Allocate, [1; 12])
        .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .bytes(attr::USERNAME, client.username.as_bytes())
        .finish_integrity(&client.key());
    assert_eq!(response_code(&h.request(client.tuple, &request)), Some(400));
}

#[test]
fn stale_or_forged_nonce_gets_438_with_a_fresh_one_that_works() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);
    h.now += Duration::from_secs(601);
    let request = client.allocate_request();
    let response = h.request(client.tuple, &request);
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(error_code(&m), Some(438));
    let fresh = m.string(attr::NONCE).expect("new nonce").to_owned();
    assert_ne!(Some(&fresh), client.nonce.as_ref());

    client.nonce = Some("0000000000000000deadbeefdeadbeef".into());
    let request = client.allocate_request();
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(438),
        "forged"
    );

    client.nonce = Some(fresh);
    let request = client.allocate_request();
    h.server.handle_client(h.now, client.tuple, &request);
    assert!(matches!(h.outputs().as_slice(), [Output::OpenRelay { .. }]));
}

#[test]
fn allocate_answers_relay_lifetime_and_mapped_address_and_retransmits() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);
    let request = client.allocate_request();
    h.server.handle_client(h.now, client.tuple, &request);
    let [Output::OpenRelay { allocation }] = h.outputs()[..] else {
        panic!("expected OpenRelay");
    };
    h.server.handle_client(h.now, client.tuple, &request);
    assert!(
        h.outputs().is_empty(),
        "a retransmission while the relay opens waits"
    );
    h.server.relay_opened(h.now, allocation, Some(50000));
    let outputs = h.outputs();
    let [Output::Transmit { bytes, .. }] = &outputs[..] else {
        panic!("expected the response");
    };
    let m = Message::decode(bytes).expect("STUN");
    assert_eq!(m.class, Class::Success);
    assert_eq!(
        m.xor_address(attr::XOR_RELAYED_ADDRESS),
        Some("198.51.100.7:50000".parse().expect("addr"))
    );
    assert_eq!(m.u32(attr::LIFETIME), Some(600));
    assert_eq!(
        m.xor_address(attr::XOR_MAPPED_ADDRESS),
        Some(client.tuple.client)
    );
    assert!(m.check_integrity(&client.key()));
    assert_eq!(h.server.stats().allocations, 1);

    let again = h.request(client.tuple, &request);
    assert_eq!(
        Message::decode(&again).expect("STUN").class,
        Class::Success,
        "lost response resent"
    );
    let other = client.allocate_request();
    assert_eq!(
        response_code(&h.request(client.tuple, &other)),
        Some(437),
        "second allocation on one 5-tuple"
    );
}

#[test]
fn allocate_refusals_400_442_440_420() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);
    let mut ask = |h: &mut Harness, build: fn(Builder) -> Builder| {
        let tid = client.tid();
        let request = client.signed(build(Builder::new(Class::Request, Method::Allocate, tid)));
        response_code(&h.request(client.tuple, &request))
    };
    assert_eq!(ask(&mut h, |b| b), Some(400), "no REQUESTED-TRANSPORT");
    assert_eq!(
        ask(&mut h, |b| b
            .bytes(attr::REQUESTED_TRANSPORT, &[6, 0, 0, 0])),
        Some(442),
        "TCP relay"
    );
    assert_eq!(
        ask(&mut h, |b| b
            .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .bytes(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0])),
        Some(440),
        "IPv6 relay from an IPv4 server"
    );
    assert_eq!(
        ask(&mut h, |b| b
            .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .bytes(0x001A, &[])),
        Some(420),
        "DONT-FRAGMENT is not supported"
    );
}

#[test]
fn unknown_attribute_answer_lists_the_attribute() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);
    let tid = client.tid();
    let request = client.signed(
        Builder::new(Class::Request, Method::Allocate, tid)
            .bytes(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .bytes(0x0018, &[0x80]),
    );
    let response = h.request(client.tuple, &request);
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(error_code(&m), Some(420));
    assert_eq!(m.get(attr::UNKNOWN_ATTRIBUTES), Some(&[0x00, 0x18][..]));
    assert!(
        m.check_integrity(&client.key()),
        "authenticated errors are signed"
    );
}

#[test]
fn quotas_give_486_per_username_and_508_in_total_and_failed_relays_508() {
    let mut config = config();
    config.max_allocations_per_username = 2;
    config.max_allocations = 3;
    let mut h = Harness::with(config);
    let mut clients: Vec<Client> = (0..4).map(|i| Client::new(6000 + i)).collect();
    h.allocate(&mut clients[0], 50000);
    h.allocate(&mut clients[1], 50001);
    h.learn_nonce(&mut clients[2]);
    let request = clients[2].allocate_request();
    assert_eq!(
        response_code(&h.request(clients[2].tuple, &request)),
        Some(486)
    );
    clients[2].username = format!("{}:bob", UNIX_START + 3600);
    clients[2].password = password(&clients[2].username);
    h.allocate(&mut clients[2], 50002);
    clients[3].username = format!("{}:carol", UNIX_START + 3600);
    clients[3].password = password(&clients[3].username);
    h.learn_nonce(&mut clients[3]);
    let request = clients[3].allocate_request();
    assert_eq!(
        response_code(&h.request(clients[3].tuple, &request)),
        Some(508)
    );

    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.learn_nonce(&mut client);
    let request = client.allocate_request();
    h.server.handle_client(h.now, client.tuple, &request);
    let [Output::OpenRelay { allocation }] = h.outputs()[..] else {
        panic!("expected OpenRelay");
    };
    h.server.relay_opened(h.now, allocation, None);
    let outputs = h.outputs();
    let [Output::Transmit { bytes, .. }] = &outputs[..] else {
        panic!("expected the error");
    };
    assert_eq!(response_code(bytes), Some(508));
    assert_eq!(h.server.stats().allocations, 0);
}

#[test]
fn refresh_extends_deletes_and_checks_owner() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    let refresh = |client: &mut Client, lifetime: Option<u32>| {
        let tid = client.tid();
        let mut b = Builder::new(Class::Request, Method::Refresh, tid);
        if let Some(l) = lifetime {
            b = b.u32(attr::LIFETIME, l);
        }
        client.signed(b)
    };
    h.learn_nonce(&mut client);
    let request = refresh(&mut client, Some(600));
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(437),
        "no allocation"
    );

    let allocation = h.allocate(&mut client, 50000);
    let request = refresh(&mut client, Some(99_999));
    let response = h.request(client.tuple, &request);
    let m = Message::decode(&response).expect("STUN");
    assert_eq!(m.class, Class::Success);
    assert_eq!(m.u32(attr::LIFETIME), Some(3600), "capped at the maximum");
    assert!(m.check_integrity(&client.key()));
    h.now += Duration::from_secs(3000);
    h.server.handle_timeout(h.now);
    assert!(h.outputs().is_empty(), "refreshed: still alive after 600 s");

    let mut mallory = Client::new(5000);
    mallory.username = format!("{}:mallory", UNIX_START + 9999);
    mallory.password = password(&mallory.username);
    h.learn_nonce(&mut mallory);
    client.nonce = mallory.nonce.clone();
    let request = refresh(&mut mallory, Some(0));
    assert_eq!(
        response_code(&h.request(mallory.tuple, &request)),
        Some(441),
        "another user's allocation"
    );

    let request = refresh(&mut client, Some(0));
    h.server.handle_client(h.now, client.tuple, &request);
    let outputs = h.outputs();
    assert_eq!(outputs[0], Output::CloseRelay { allocation });
    let Output::Transmit { bytes, .. } = &outputs[1] else {
        panic!("expected the response");
    };
    let m = Message::decode(bytes).expect("STUN");
    assert_eq!((m.class, m.u32(attr::LIFETIME)), (Class::Success, Some(0)));
    assert_eq!(h.server.stats().allocations, 0);
}

#[test]
fn allocations_expire_and_close_their_relay() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    let allocation = h.allocate(&mut client, 50000);
    assert!(h.server.poll_timeout().is_some());
    h.now += Duration::from_secs(599);
    h.server.handle_timeout(h.now);
    assert!(h.outputs().is_empty());
    h.now += Duration::from_secs(2);
    h.server.handle_timeout(h.now);
    assert_eq!(h.outputs(), vec![Output::CloseRelay { allocation }]);
    assert_eq!(h.server.poll_timeout(), None, "nothing left to expire");
}

#[test]
fn closing_a_stream_connection_deletes_its_allocation() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    client.tuple.transport = Transport::Tcp;
    let allocation = h.allocate(&mut client, 50000);
    h.server.transport_closed(h.now, client.tuple);
    assert_eq!(h.outputs(), vec![Output::CloseRelay { allocation }]);
    assert_eq!(h.server.stats().allocations, 0);
}

#[test]
fn create_permission_only_for_the_media_address() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    let m = h.permit(&mut client, media());
    assert_eq!(error_code(&m), Some(438), "a nonce this server never made");
    h.learn_nonce(&mut client);
    let m = h.permit(&mut client, media());
    assert_eq!(error_code(&m), Some(437), "no allocation yet");
    h.allocate(&mut client, 50000);

    let m = h.permit(&mut client, media());
    assert_eq!(m.class, Class::Success);
    assert!(m.check_integrity(&client.key()));
    let other_port = SocketAddr::new(media().ip(), 22);
    assert_eq!(error_code(&h.permit(&mut client, other_port)), Some(403));
    let lan: SocketAddr = "10.0.0.1:10000".parse().expect("addr");
    assert_eq!(error_code(&h.permit(&mut client, lan)), Some(403));
    let loopback: SocketAddr = "127.0.0.1:10000".parse().expect("addr");
    assert_eq!(error_code(&h.permit(&mut client, loopback)), Some(403));
    let v6: SocketAddr = "[2001:db8::1]:10000".parse().expect("addr");
    assert_eq!(error_code(&h.permit(&mut client, v6)), Some(443));

    let tid = client.tid();
    let request = client.signed(Builder::new(Class::Request, Method::CreatePermission, tid));
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(400),
        "no peer"
    );
    let tid = client.tid();
    let request = client.signed(
        Builder::new(Class::Request, Method::CreatePermission, tid)
            .xor_address(attr::XOR_PEER_ADDRESS, media())
            .xor_address(attr::XOR_PEER_ADDRESS, other_port),
    );
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(403),
        "one bad peer spoils the request"
    );
}

#[test]
fn channel_bind_numbers_peers_and_conflicts() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    h.allocate(&mut client, 50000);
    assert_eq!(h.channel_bind(&mut client, 0x3FFF, media()), Some(400));
    assert_eq!(h.channel_bind(&mut client, 0x5000, media()), Some(400));
    let other_port = SocketAddr::new(media().ip(), 10001);
    assert_eq!(h.channel_bind(&mut client, 0x4000, other_port), Some(403));
    assert_eq!(h.channel_bind(&mut client, 0x4000, media()), None);
    assert_eq!(
        h.channel_bind(&mut client, 0x4000, media()),
        None,
        "refresh"
    );
    assert_eq!(
        h.channel_bind(&mut client, 0x4FFF, media()),
        Some(400),
        "peer already has a channel"
    );
    let tid = client.tid();
    let request = client.signed(
        Builder::new(Class::Request, Method::ChannelBind, tid)
            .xor_address(attr::XOR_PEER_ADDRESS, media()),
    );
    assert_eq!(
        response_code(&h.request(client.tuple, &request)),
        Some(400),
        "no channel number"
    );
}

#[test]
fn send_and_data_indications_relay_only_with_permission() {
    let mut h = Harness::new();
    let mut client = Client::new(5000);
    let allocation = h.allocate(&mut client, 50000);
    let send = |peer: SocketAddr| {
        Builder::new(Class::Indication, Method::Send, [9; 12])
            .xor_address(attr::XOR_PEER_ADDRESS, peer)
            .bytes(attr::DATA, b"ping")
            .finish()
    };
    h.server.handle_client(h.now, client.tuple, &send(media()));
    assert!(h.outputs().is_empty(), "no permission yet");
    h.server.handle_peer(h.now, allocation, media(), b"early");
    assert!(h.outputs().is_empty(), "peers cannot reach in without one");

    h.permit(&mut client, media());
    h.server.handle_client(h.now, client.tuple, &send(media()));
    assert_eq!(
        h.outputs(),
        vec![Output::Relay {
            allocation,
            to: media(),
            bytes: b"ping".to_vec()
        }]
    );
    h.server.handle_peer(h.now, allocation, media(), b"pong");
    let outputs = h.outputs();
    let [Output::Transmit { to, bytes }] = &outputs[..] else {
        panic!("expected a Data indication, got {outputs:?}");
    };
    assert_eq!(*to, client.tuple);
    let m = Message::decode(bytes).expect("STUN");
    assert_eq!((m.class, m.method), (Class::Indication, Method::Data));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(media()));
    assert_eq!(m.get(attr::DATA), Some(&b"pong"[..]));

    let same_ip_other_port = SocketAddr::new(media().ip(), 10001);
    h.server
        .handle_client(h.now, client.tuple, &send(same_ip_other_port));
    h.server
        .handle_peer(h.now, allocation, same_ip_other_port, b"sneak");
    assert!(h.outputs().is_empty(), "only the media address itself");
    assert_eq!(h.server.stats().packets_dropped, 4);

    h.now += Duration::from_secs(301);
    h.server.handle_client(h.now, client.tuple, &send(media()));
    assert!(h.outputs().is_empty(), "permission expired after 300 s");
}

#[test]
fn channel_data_round_trip_on_udp_and_padded_on_tcp() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut h = Harness::new();
        let mut client = Client::new(5000);
        client.tuple.transport = transport;
        let allocation = h.allocate(&mut client, 50000);
        let data = crate::message::encode_channel_data(0x4001, b"hello", transport.is_stream());
        h.server.handle_client(h.now, client.tuple, &data);
        assert!(h.outputs().is_empty(), "unbound channel");
        assert_eq!(h.channel_bind(&mut client, 0x4001, media()), None);
        h.server.handle_client(h.now, client.tuple, &data);
        assert_eq!(
            h.outputs(),
            vec![Output::Relay {
                allocation,
                to: media(),
                bytes: b"hello".to_vec()
            }]
        );
        h.server.handle_peer(h.now, allocation, media(), b"world");
        let outputs = h.outputs();
        let [Output::Transmit { bytes, .. }] = &outputs[..] else {
            panic!("expected ChannelData");
        };
        assert_eq!(decode_channel_data(bytes), Some((0x4001, &b"world"[..])));
        let expected_len = if transport.is_stream() { 12 } else { 9 };
        assert_eq!(bytes.len(), expected_len, "{transport:?}");
        let stats = h.server.stats();
        assert_eq!((stats.bytes_to_peers, stats.bytes_to_clients), (5, 5));
    }
}

#[test]
fn the_bucket_limits_each_allocation() {
    let mut config = config();
    config.bytes_per_second = 1000;
    config.burst_bytes = 1000;
    let mut h = Harness::with(config);
    let mut client = Client::new(5000);
    let allocation = h.allocate(&mut client, 50000);
    assert_eq!(h.channel_bind(&mut client, 0x4000, media()), None);
    let data = crate::message::encode_channel_data(0x4000, &[0; 600], false);
    h.server.handle_client(h.now, client.tuple, &data);
    h.server.handle_client(h.now, client.tuple, &data);
    h.server.handle_peer(h.now, allocation, media(), &[0; 600]);
    assert_eq!(h.outputs().len(), 1, "1000 bytes of burst: one of three");
    h.now += Duration::from_secs(1);
    h.server.handle_client(h.now, client.tuple, &data);
    assert_eq!(h.outputs().len(), 1, "refilled");
}

#[test]
fn other_requests_get_400_and_garbage_nothing() {
    let mut h = Harness::new();
    let tuple = client_tuple(5000, Transport::Udp);
    let request = Builder::new(Class::Request, Method::Other(0x00A), [1; 12]).finish();
    assert_eq!(response_code(&h.request(tuple, &request)), Some(400));
    for garbage in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0u8; 3], &[0x40, 0, 0, 9]] {
        h.server.handle_client(h.now, tuple, garbage);
    }
    let response = Builder::new(Class::Success, Method::Binding, [1; 12]).finish();
    h.server.handle_client(h.now, tuple, &response);
    assert!(h.outputs().is_empty());
}
