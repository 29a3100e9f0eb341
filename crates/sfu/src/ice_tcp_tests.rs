//! ICE-TCP through the SFU, sans-IO: two str0m clients that only have TCP candidates meet
//! through an `Sfu` advertising a passive TCP candidate. The "network" in between moves
//! transmits by hand, so this checks what str0m and the SFU do with `Protocol::Tcp`
//! (answer SDP, ICE-lite checks, DTLS, media both ways) without sockets or framing.

use crate::test_net::prelude::*;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaTime};
use str0m::{Event, Rtc};

const SERVER_UDP: &str = "192.0.2.1:10000";
const SERVER_TCP: &str = "192.0.2.1:10000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

struct Client {
    id: PeerId,
    rtc: Rtc,
    /// The client end of its TCP connection (what the server sees as the source).
    addr: SocketAddr,
    audio_mid: Mid,
    pending: Option<str0m::change::SdpPendingOffer>,
    connected: bool,
    /// Audio frames received from the other client.
    received: usize,
}

struct Net {
    now: Instant,
    sfu: Sfu,
    /// The SFU's routing table, as its caller keeps one.
    demux: Demux,
    clients: Vec<Client>,
    /// Every server transmit's protocol.
    server_protos: Vec<Protocol>,
    /// A client transmit that was not TCP (there must be none).
    client_udp: usize,
}

impl Net {
    /// Moves packets and time until nothing is due, then by up to 10 ms.
    fn step(&mut self) {
        for i in 0..self.clients.len() {
            loop {
                let output = self.clients[i].rtc.poll_output().expect("client rtc");
                match output {
                    str0m::Output::Timeout(_) => break,
                    str0m::Output::Transmit(t) => {
                        if t.proto != Protocol::Tcp {
                            self.client_udp += 1;
                            continue;
                        }
                        // The SFU sees the connection's remote end as the source.
                        let source = self.clients[i].addr;
                        let Some(id) = self.demux.route(Protocol::Tcp, source, &t.contents) else {
                            continue;
                        };
                        self.sfu.handle_receive(
                            self.now,
                            id,
                            Protocol::Tcp,
                            source,
                            t.destination,
                            &t.contents,
                        );
                    }
                    str0m::Output::Event(Event::Connected) => self.clients[i].connected = true,
                    str0m::Output::Event(Event::MediaData(_)) => self.clients[i].received += 1,
                    str0m::Output::Event(_) => {}
                }
            }
        }
        while let Some(output) = self.sfu.poll_output() {
            match output {
                SfuOutput::Transmit(t) => {
                    self.server_protos.push(t.proto);
                    let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) else {
                        continue;
                    };
                    let receive = Receive::new(t.proto, t.source, c.addr, &t.contents)
                        .expect("server sends valid packets");
                    c.rtc
                        .handle_input(Input::Receive(self.now, receive))
                        .expect("client accepts input");
                }
                SfuOutput::Signal(Signal::Offer { peer, sdp, .. }) => {
                    let c = self
                        .clients
                        .iter_mut()
                        .find(|c| c.id == peer)
                        .expect("offer for a client");
                    let offer = SdpOffer::from_sdp_string(&sdp).expect("server offer parses");
                    let answer = c.rtc.sdp_api().accept_offer(offer).expect("client answers");
                    self.sfu
                        .accept_answer(self.now, peer, &answer.to_sdp_string())
                        .expect("server takes the answer");
                }
                SfuOutput::Signal(Signal::PeerGone { peer, cause }) => {
                    panic!("{peer:?} gone: {cause}")
                }
                _ => {}
            }
        }
        let mut next = self.now + Duration::from_millis(10);
        if let Some(t) = self.sfu.poll_timeout() {
            next = next.min(t);
        }
        self.now = next.max(self.now);
        self.sfu.handle_timeout(self.now);
        for c in &mut self.clients {
            c.rtc
                .handle_input(Input::Timeout(self.now))
                .expect("client timeout");
        }
    }
}

#[test]
fn clients_with_only_tcp_candidates_connect_and_exchange_media_over_tcp() {
    let now = Instant::now();
    let sfu = Sfu::new(SfuConfig {
        candidates: vec![addr(SERVER_UDP)],
        tcp_candidates: vec![addr(SERVER_TCP)],
        keyframe_request_interval: Duration::from_millis(500),
        initial_bandwidth_bps: crate::DEFAULT_INITIAL_BANDWIDTH_BPS,
        seed: 7,
        selective_audio_after: 0,
        loss_based_estimation_after: 0,
        opus_dtx: true,
    });
    let mut clients = Vec::new();
    let mut offers = Vec::new();
    for (id, a) in [(1, "198.51.100.1:50001"), (2, "198.51.100.2:50002")] {
        let (c, offer) = client_with_offer(now, id, addr(a));
        clients.push(c);
        offers.push(offer);
    }
    let mut net = Net {
        now,
        sfu,
        demux: Demux::default(),
        clients,
        server_protos: Vec::new(),
        client_udp: 0,
    };
    for (i, offer) in offers.into_iter().enumerate() {
        let id = net.clients[i].id;
        let ufrag = net.sfu.add_peer(now, id, GroupId(1)).expect("new peer");
        net.demux.insert_peer(id, ufrag);
        let answer = net
            .sfu
            .accept_offer(now, id, &offer, HashMap::new())
            .expect("server answers");
        assert!(
            answer.contains(" tcp ") && answer.contains("tcptype passive"),
            "the answer offers a passive TCP candidate:\n{answer}"
        );
        let pending = net.clients[i].pending.take().expect("pending offer");
        net.clients[i]
            .rtc
            .sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("answer"),
            )
            .expect("client takes the answer");
    }
    let mut frame = 0u64;
    for _ in 0..2000 {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            frame += 1;
            for c in &mut net.clients {
                write_audio(&mut c.rtc, c.audio_mid, net.now, frame);
            }
        }
        if net.clients.iter().all(|c| c.received >= 20) {
            break;
        }
    }
    assert!(
        net.clients.iter().all(|c| c.connected),
        "ICE and DTLS completed over TCP"
    );
    for c in &net.clients {
        assert!(
            c.received >= 20,
            "{:?} received {} frames",
            c.id,
            c.received
        );
    }
    assert_eq!(net.client_udp, 0, "clients had no UDP candidate to use");
    assert!(!net.server_protos.is_empty());
    assert!(
        net.server_protos.iter().all(|p| *p == Protocol::Tcp),
        "every server transmit went over TCP"
    );
}

/// Writes audio frame number `frame` (20 ms of Opus, as far as the SFU can tell) on `mid`,
/// once the client's media is ready. Shared by the SFU's client-driven tests.
pub(crate) fn write_audio(rtc: &mut Rtc, mid: Mid, now: Instant, frame: u64) {
    let Some(writer) = rtc.writer(mid) else {
        return;
    };
    let pt = writer.payload_params().next().expect("opus").pt();
    writer
        .write(
            pt,
            now,
            MediaTime::new(frame * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
            vec![frame as u8; 60],
        )
        .expect("write audio");
}

fn client_with_offer(now: Instant, id: u64, addr: SocketAddr) -> (Client, String) {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .build(now);
    let candidate = Candidate::builder()
        .tcp()
        .host(addr)
        .tcptype(TcpType::Active)
        .build()
        .expect("valid TCP candidate");
    rtc.add_local_candidate(candidate);
    let mut api = rtc.sdp_api();
    let audio_mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("a fresh Rtc has changes to offer");
    let client = Client {
        id: PeerId(id),
        rtc,
        addr,
        audio_mid,
        pending: Some(pending),
        connected: false,
        received: 0,
    };
    (client, offer.to_sdp_string())
}
