//! One group over two SFUs, sans-IO: a publisher on SFU A, a listener on SFU B and one on A.
//! The test moves datagrams between str0m clients and the SFUs, and the relay outputs
//! (`Published`, `Relay`, `KeyframeWanted`, `LayersWanted`) between the SFUs, the way the
//! server's media workers do, on a virtual clock.

use super::*;
use crate::ice_tcp_tests::write_audio;
use str0m::change::SdpAnswer;
use str0m::media::Direction;
use str0m::Rtc;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

struct Client {
    id: PeerId,
    /// Which SFU (0: A, 1: B) holds it.
    sfu: usize,
    rtc: Rtc,
    addr: SocketAddr,
    audio_mid: Mid,
    connected: bool,
    /// Audio frames received, by the mid they came on.
    received: HashMap<Mid, usize>,
    /// Publisher of each mid the server offered.
    offered: HashMap<Mid, PeerId>,
}

struct Net {
    now: Instant,
    sfus: [Sfu; 2],
    clients: Vec<Client>,
    relayed: usize,
}

impl Net {
    fn step(&mut self) {
        for c in &mut self.clients {
            loop {
                match c.rtc.poll_output().expect("client rtc") {
                    str0m::Output::Timeout(_) => break,
                    str0m::Output::Transmit(t) => self.sfus[c.sfu].handle_receive(
                        self.now,
                        c.addr,
                        t.destination,
                        &t.contents,
                    ),
                    str0m::Output::Event(Event::Connected) => c.connected = true,
                    str0m::Output::Event(Event::MediaData(data)) => {
                        *c.received.entry(data.mid).or_default() += 1;
                    }
                    str0m::Output::Event(_) => {}
                }
            }
        }
        for from in 0..2 {
            let to = 1 - from;
            while let Some(output) = self.sfus[from].poll_output() {
                match output {
                    SfuOutput::Transmit(t) => {
                        let c = self
                            .clients
                            .iter_mut()
                            .find(|c| c.addr == t.destination)
                            .expect("transmit to a client");
                        let receive = Receive::new(t.proto, t.source, c.addr, &t.contents)
                            .expect("valid datagram");
                        c.rtc
                            .handle_input(Input::Receive(self.now, receive))
                            .expect("client input");
                    }
                    SfuOutput::Offer { peer, sdp, tracks } => {
                        let c = self
                            .clients
                            .iter_mut()
                            .find(|c| c.id == peer)
                            .expect("client");
                        for t in tracks {
                            c.offered.insert(Mid::from(t.mid.as_str()), t.publisher);
                        }
                        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer parses");
                        let answer = c.rtc.sdp_api().accept_offer(offer).expect("answers");
                        self.sfus[from]
                            .accept_answer(self.now, peer, &answer.to_sdp_string())
                            .expect("answer taken");
                    }
                    SfuOutput::Published {
                        group,
                        track,
                        kind,
                        source,
                    } => self.sfus[to].add_remote_track(self.now, group, track, kind, source),
                    SfuOutput::Relay { packet, .. } => {
                        self.relayed += 1;
                        self.sfus[to].relay_in(self.now, [packet]);
                    }
                    SfuOutput::KeyframeWanted { track, kind } => {
                        self.sfus[to].relay_keyframe_request(self.now, track, kind)
                    }
                    SfuOutput::LayersWanted { needs } => {
                        self.sfus[to].set_remote_layer_needs(self.now, from as u64, needs)
                    }
                    SfuOutput::PeerGone { peer, reason } => panic!("{peer:?} gone: {reason}"),
                    SfuOutput::DominantSpeaker { .. } | SfuOutput::Layers { .. } => {}
                }
            }
        }
        let mut next = self.now + Duration::from_millis(10);
        for sfu in &self.sfus {
            if let Some(t) = sfu.next_timeout() {
                next = next.min(t);
            }
        }
        self.now = next.max(self.now);
        for sfu in &mut self.sfus {
            sfu.handle_timeout(self.now);
        }
        for c in &mut self.clients {
            c.rtc
                .handle_input(Input::Timeout(self.now))
                .expect("client timeout");
        }
    }

    fn received_from(&self, client: usize, publisher: PeerId) -> usize {
        let c = &self.clients[client];
        c.received
            .iter()
            .filter(|(mid, _)| c.offered.get(*mid) == Some(&publisher))
            .map(|(_, n)| *n)
            .sum()
    }
}

fn sfu(address: SocketAddr, seed: u64) -> Sfu {
    Sfu::new(SfuConfig {
        candidates: vec![address],
        tcp_candidates: Vec::new(),
        keyframe_request_interval: Duration::from_millis(500),
        initial_bandwidth_bps: 0,
        seed,
        selective_audio_after: 0,
        loss_based_estimation_after: 0,
    })
}

#[test]
fn a_group_on_two_sfus_hears_everyone_through_the_relay() {
    let now = Instant::now();
    let server = [addr("192.0.2.1:10000"), addr("192.0.2.2:10000")];
    let mut net = Net {
        now,
        sfus: [sfu(server[0], 1), sfu(server[1], 2)],
        clients: Vec::new(),
        relayed: 0,
    };
    let group = GroupId(1);
    for sfu in &mut net.sfus {
        sfu.set_spread(group, true);
    }
    // Peer 1 publishes on A, peer 2 listens (and speaks) on B, peer 3 on A.
    for (id, on, a) in [
        (1, 0, "198.51.100.1:5001"),
        (2, 1, "198.51.100.2:5002"),
        (3, 0, "198.51.100.3:5003"),
    ] {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr(a), "udp").expect("host candidate"));
        let mut api = rtc.sdp_api();
        let audio_mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("changes to offer");
        net.sfus[on]
            .add_peer(now, PeerId(id), group)
            .expect("new peer");
        let answer = net.sfus[on]
            .accept_offer(now, PeerId(id), &offer.to_sdp_string(), HashMap::new())
            .expect("answered");
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("answer"),
            )
            .expect("answer taken");
        net.clients.push(Client {
            id: PeerId(id),
            sfu: on,
            rtc,
            addr: addr(a),
            audio_mid,
            connected: false,
            received: HashMap::new(),
            offered: HashMap::new(),
        });
    }
    let mut frame = 0u64;
    for _ in 0..3000 {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            frame += 1;
            for c in &mut net.clients {
                write_audio(&mut c.rtc, c.audio_mid, net.now, frame);
            }
        }
        let done = (0..3).all(|i| {
            (1..=3)
                .filter(|p| net.clients[i].id != PeerId(*p))
                .all(|p| net.received_from(i, PeerId(p)) >= 20)
        });
        if done {
            break;
        }
    }
    for i in 0..3 {
        for p in (1..=3).map(PeerId).filter(|p| *p != net.clients[i].id) {
            assert!(
                net.received_from(i, p) >= 20,
                "{:?} got {} frames from {p:?} (offered {:?})",
                net.clients[i].id,
                net.received_from(i, p),
                net.clients[i].offered
            );
        }
    }
    assert!(net.relayed > 0, "packets crossed between the SFUs");
    // The publisher on B leaves: its track stops on A too, and A's peers are offered the stop.
    net.sfus[1].remove_peer(net.now, PeerId(2));
    net.sfus[0].remove_remote_peer(net.now, PeerId(2));
    for _ in 0..50 {
        net.step();
    }
    let before = net.received_from(0, PeerId(2));
    for _ in 0..50 {
        net.step();
    }
    assert_eq!(
        net.received_from(0, PeerId(2)),
        before,
        "nothing more from 2"
    );
    let a = &net.sfus[0];
    assert!(a.remote_peers.is_empty(), "A forgot the remote publisher");
    assert!(!a.tracks.keys().any(|k| k.peer == PeerId(2)));
    assert!(
        a.peers.values().all(|p| p
            .subscriptions
            .iter()
            .all(|s| s.source.peer != PeerId(2) || !matches!(s.state, SubState::Open(_)))),
        "A's peers stop receiving 2's track"
    );
}
