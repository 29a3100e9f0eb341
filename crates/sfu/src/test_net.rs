//! A sans-IO network for tests: str0m clients (audio only) and two SFUs on a virtual clock.
//! `Net::step` moves datagrams between the clients and the SFUs, answers the SFUs' offers,
//! and moves the relay outputs (`Published`, `Relay`, `KeyframeWanted`, `LayersWanted`)
//! between the SFUs the way the server's media workers do.

use prelude::*;

/// What the SFU's test files use: the public API and the usual std and str0m names.
pub(crate) mod prelude {
    pub(crate) use crate::*;
    pub(crate) use std::collections::HashMap;
    pub(crate) use std::net::SocketAddr;
    pub(crate) use std::time::{Duration, Instant};
    pub(crate) use str0m::change::SdpOffer;
    pub(crate) use str0m::media::Mid;
    pub(crate) use str0m::net::{Receive, TcpType};
    pub(crate) use str0m::{Candidate, Input};
}
use str0m::change::SdpAnswer;
use str0m::media::Direction;
use str0m::{Event, Rtc};

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

pub(crate) struct Client {
    pub(crate) id: PeerId,
    /// Which SFU (0: A, 1: B) holds it.
    pub(crate) sfu: usize,
    pub(crate) rtc: Rtc,
    pub(crate) addr: SocketAddr,
    /// Its audio m-lines, in offer order.
    pub(crate) audio_mids: Vec<Mid>,
    pub(crate) connected: bool,
    /// Audio frames received, by the mid they came on.
    pub(crate) received: HashMap<Mid, usize>,
    /// Publisher of each mid the server offered.
    pub(crate) offered: HashMap<Mid, PeerId>,
    /// Every track of every offer the server made, in order.
    pub(crate) offers: Vec<Vec<OfferedTrack>>,
    /// The audio slots' mids of each offer, in order.
    pub(crate) slot_offers: Vec<Vec<Mid>>,
    /// `SlotOwner` messages received.
    pub(crate) slot_messages: usize,
    /// Audio frames received, by the publisher whose track (or slot owner) it was on arrival.
    pub(crate) received_by: HashMap<PeerId, usize>,
    /// Per receiving mid: each frame's RTP sequence numbers and timestamp, in arrival order.
    pub(crate) frames: HashMap<Mid, Vec<(u64, u64, u64)>>,
}

pub(crate) struct Net {
    pub(crate) now: Instant,
    pub(crate) sfus: [Sfu; 2],
    /// Each SFU's routing table, as its caller keeps one (the server's media workers do).
    pub(crate) demux: [Demux; 2],
    pub(crate) clients: Vec<Client>,
    pub(crate) relayed: usize,
    /// Packets each SFU output for a recording (`ClusterMessage::Record`): (SFU, publisher).
    pub(crate) recorded: Vec<(usize, PeerId)>,
    /// Clients joining from now on say they can receive microphones on audio slots.
    pub(crate) audio_slots: bool,
    /// Each talking client's RFC 6464 level (-dBov) for the frames it writes.
    pub(crate) levels: HashMap<PeerId, i8>,
}

impl Net {
    pub(crate) fn step(&mut self) {
        for c in &mut self.clients {
            loop {
                match c.rtc.poll_output().expect("client rtc") {
                    str0m::Output::Timeout(_) => break,
                    str0m::Output::Transmit(t) => {
                        let sfu = &mut self.sfus[c.sfu];
                        let demux = &mut self.demux[c.sfu];
                        let now = self.now;
                        in_sfu(|| {
                            // Routing counts as the SFU's work, as when the SFU routed itself.
                            let Some(id) = demux.route(Protocol::Udp, c.addr, &t.contents) else {
                                return;
                            };
                            let (source, destination) = (c.addr, t.destination);
                            sfu.handle_receive(
                                now,
                                id,
                                Protocol::Udp,
                                source,
                                destination,
                                &t.contents,
                            )
                        })
                    }
                    str0m::Output::Event(Event::Connected) => c.connected = true,
                    str0m::Output::Event(Event::MediaData(data)) => {
                        *c.received.entry(data.mid).or_default() += 1;
                        if let Some(publisher) = c.offered.get(&data.mid) {
                            *c.received_by.entry(*publisher).or_default() += 1;
                        }
                        c.frames.entry(data.mid).or_default().push((
                            **data.seq_range.start(),
                            **data.seq_range.end(),
                            data.time.numer(),
                        ));
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
                        let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination)
                        else {
                            continue; // to a client the test took away
                        };
                        let receive = Receive::new(t.proto, t.source, c.addr, &t.contents)
                            .expect("valid datagram");
                        c.rtc
                            .handle_input(Input::Receive(self.now, receive))
                            .expect("client input");
                    }
                    SfuOutput::Signal(Signal::Offer {
                        peer,
                        sdp,
                        tracks,
                        slots,
                    }) => {
                        // A client the test took away may still have outputs queued.
                        let Some(c) = client_mut(&mut self.clients, peer) else {
                            continue;
                        };
                        for t in &tracks {
                            c.offered.insert(Mid::from(t.mid.as_str()), t.publisher);
                        }
                        c.offers.push(tracks);
                        c.slot_offers
                            .push(slots.iter().map(|m| Mid::from(m.as_str())).collect());
                        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer parses");
                        let answer = c.rtc.sdp_api().accept_offer(offer).expect("answers");
                        let sfu = &mut self.sfus[from];
                        in_sfu(|| sfu.accept_answer(self.now, peer, &answer.to_sdp_string()))
                            .expect("answer taken");
                    }
                    SfuOutput::Cluster(ClusterMessage::Published {
                        group,
                        track,
                        kind,
                        source,
                    }) => self.sfus[to].add_remote_track(self.now, group, track, kind, source),
                    SfuOutput::Cluster(ClusterMessage::Record { packet, .. }) => {
                        self.recorded.push((from, packet.track.peer));
                    }
                    SfuOutput::Cluster(ClusterMessage::Relay { packet, .. }) => {
                        self.relayed += 1;
                        self.sfus[to].relay_in(self.now, [packet]);
                    }
                    SfuOutput::Cluster(ClusterMessage::KeyframeWanted { track, kind }) => {
                        self.sfus[to].relay_keyframe_request(self.now, track, kind)
                    }
                    SfuOutput::Cluster(ClusterMessage::LayersWanted { needs }) => {
                        self.sfus[to].set_remote_layer_needs(self.now, from as u64, needs)
                    }
                    SfuOutput::Signal(Signal::PeerGone { peer, cause }) => {
                        panic!("{peer:?} gone: {cause}")
                    }
                    SfuOutput::Signal(Signal::SlotOwner {
                        peer,
                        mid,
                        publisher,
                    }) => {
                        // A client the test took away may still have outputs queued.
                        let Some(c) = client_mut(&mut self.clients, peer) else {
                            continue;
                        };
                        c.offered.insert(mid, publisher);
                        c.slot_messages += 1;
                    }
                    SfuOutput::Signal(Signal::DominantSpeaker { .. } | Signal::Layers { .. }) => {}
                }
            }
        }
        let mut next = self.now + Duration::from_millis(10);
        for sfu in &self.sfus {
            if let Some(t) = sfu.poll_timeout() {
                next = next.min(t);
            }
        }
        self.now = next.max(self.now);
        for sfu in &mut self.sfus {
            in_sfu(|| sfu.handle_timeout(self.now));
        }
        for c in &mut self.clients {
            c.rtc
                .handle_input(Input::Timeout(self.now))
                .expect("client timeout");
        }
    }

    pub(crate) fn received_from(&self, client: usize, publisher: PeerId) -> usize {
        self.clients[client]
            .received_by
            .get(&publisher)
            .copied()
            .unwrap_or(0)
    }

    /// Every client writes one 20 ms audio frame `frame` on its first audio mid, with its
    /// level from `levels` (silence, -127 dBov, when it has none), if `sends` says so.
    pub(crate) fn write_frame(&mut self, frame: u64, sends: impl Fn(PeerId) -> bool) {
        let now = self.now;
        for c in &mut self.clients {
            if !sends(c.id) {
                continue;
            }
            let level = self.levels.get(&c.id).copied().unwrap_or(-127);
            let mid = c.audio_mids[0];
            let Some(writer) = c.rtc.writer(mid) else {
                continue;
            };
            let pt = writer.payload_params().next().expect("opus").pt();
            writer
                .audio_level(level, level > -60)
                .write(
                    pt,
                    now,
                    str0m::media::MediaTime::new(
                        frame * 960,
                        str0m::media::Frequency::FORTY_EIGHT_KHZ,
                    ),
                    vec![frame as u8; 60],
                )
                .expect("write audio");
        }
    }
}

fn client_mut(clients: &mut [Client], id: PeerId) -> Option<&mut Client> {
    clients.iter_mut().find(|c| c.id == id)
}

/// The SFU calls a room on one SFU makes once joined (datagrams in, answers, timeouts) go
/// through here, so that callgrind can count the SFU's instructions apart from the clients'
/// (`--toggle-collect='*in_sfu*'`, see cost_tests.rs). Joins and the relay between the two
/// SFUs are not counted.
#[inline(never)]
pub(crate) fn in_sfu<R>(f: impl FnOnce() -> R) -> R {
    f()
}

pub(crate) fn sfu(address: SocketAddr, seed: u64) -> Sfu {
    Sfu::new(sfu_config(address, seed))
}

pub(crate) fn sfu_config(address: SocketAddr, seed: u64) -> SfuConfig {
    SfuConfig {
        candidates: vec![address],
        tcp_candidates: Vec::new(),
        keyframe_request_interval: Duration::from_millis(500),
        initial_bandwidth_bps: 0,
        seed,
        selective_audio_after: 0,
        loss_based_estimation_after: 0,
        opus_dtx: true,
    }
}

impl Net {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            now,
            sfus: [
                sfu(addr("192.0.2.1:10000"), 1),
                sfu(addr("192.0.2.2:10000"), 2),
            ],
            demux: [Demux::default(), Demux::default()],
            clients: Vec::new(),
            relayed: 0,
            recorded: Vec::new(),
            audio_slots: false,
            levels: HashMap::new(),
        }
    }

    /// A client at address `a` joins `group` on SFU `on` with `audio_lines` send-only audio
    /// m-lines.
    pub(crate) fn join(&mut self, id: u64, on: usize, a: &str, group: GroupId, audio_lines: usize) {
        let now = self.now;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr(a), "udp").expect("host candidate"));
        let mut api = rtc.sdp_api();
        let audio_mids = (0..audio_lines)
            .map(|_| api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None))
            .collect();
        let (offer, pending) = api.apply().expect("changes to offer");
        let ufrag = self.sfus[on]
            .add_peer(now, PeerId(id), group)
            .expect("new peer");
        self.demux[on].insert_peer(PeerId(id), ufrag);
        self.sfus[on].set_audio_slots(PeerId(id), self.audio_slots);
        let answer = self.sfus[on]
            .accept_offer(now, PeerId(id), &offer.to_sdp_string(), HashMap::new())
            .expect("answered");
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("answer"),
            )
            .expect("answer taken");
        self.clients.push(Client {
            id: PeerId(id),
            sfu: on,
            rtc,
            addr: addr(a),
            audio_mids,
            connected: false,
            received: HashMap::new(),
            offered: HashMap::new(),
            offers: Vec::new(),
            slot_offers: Vec::new(),
            slot_messages: 0,
            received_by: HashMap::new(),
            frames: HashMap::new(),
        });
    }
}
