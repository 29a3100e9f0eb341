//! Sans-IO selective forwarding unit on str0m.
//!
//! The caller owns the sockets and the clock: it feeds datagrams (`handle_receive_batch`,
//! `handle_receive`, `handle_receive_over` for ICE-TCP) and timeouts (`handle_timeout`),
//! calls the signaling entry points (`add_peer`, `accept_offer`, `accept_answer`,
//! `remove_peer`, ...), and after each call drains `poll_output` until `None`, sending every
//! `Transmit` and delivering every other output. Nothing here knows about rooms: a *group* is
//! just a set of peers that forward to each other.
//!
//! Each peer has one str0m `Rtc`, ICE-lite, in RTP mode (forward.rs). Every call into an `Rtc`
//! is followed by draining it until it yields a timeout (str0m freezes otherwise); the `dirty`
//! queue makes sure a peer written to while forwarding is drained too, once per batch.

#![forbid(unsafe_code)]

mod adapt;
mod demux;
mod drive;
mod forward;
mod loss_estimate;
mod negotiation;
mod peer;
mod relay;
mod routing;
mod simulcast;
mod slots;
mod speaker;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod ice_tcp_tests;
#[cfg(test)]
mod publish_tests;
#[cfg(test)]
mod relay_tests;
#[cfg(test)]
mod slot_tests;
#[cfg(test)]
mod test_net;

pub use adapt::DEFAULT_INITIAL_BANDWIDTH_BPS;
pub use demux::{is_stun, stun_local_ufrag};
pub use peer::PeerFault;
pub use relay::RelayedPacket;
pub use slots::SLOT_COUNT;
pub use speaker::{SpeakerDetector, EVALUATE_EVERY};
pub use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
pub use str0m::net::{Protocol, Transmit};

use demux::Demux;
use peer::{Announced, Peer, SubState, Subscription};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustc_hash::{FxHashMap, FxHashSet};
use simulcast::Layers;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::CryptoProvider;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, Mid, Pt};
use str0m::net::{Receive, TcpType};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, RtcConfig};

/// Random characters after the peer number in a server-side ICE ufrag (`m<peer>x<random>`).
const UFRAG_RANDOM_LEN: usize = 6;

/// The peer a server-side ICE ufrag was made for (`m<peer>x<random>`), so a datagram can be
/// routed to the thread owning its peer before any peer state is looked at. Only a routing
/// hint: the owning `Sfu` still checks the whole ufrag and the STUN message's integrity.
pub fn peer_of_ufrag(ufrag: &str) -> Option<PeerId> {
    let rest = ufrag.strip_prefix('m')?;
    let (number, random) = rest.split_once('x')?;
    if random.len() != UFRAG_RANDOM_LEN {
        return None;
    }
    number.parse().ok().map(PeerId)
}

/// How long a peer's ICE may stay disconnected before its session is given up.
pub const ICE_RECOVERY: Duration = Duration::from_secs(8);

/// A peer (one participant's media session). The server uses the participant's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Peers in one group forward their media to each other (one room instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u64);

/// What a track carries on its sender's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Microphone,
    Camera,
    Screen,
    ScreenAudio,
}

/// Which video a subscriber receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReceiveVideo {
    /// Everyone's camera and screen.
    #[default]
    All,
    /// Cameras of the `n` highest-ranked peers (most recent dominant speakers first, then the
    /// rest in join order), and every screen share.
    TopSpeakers(usize),
    /// No video at all.
    None,
}

impl ReceiveVideo {
    fn allows(self, source: Source, publisher_rank: usize) -> bool {
        match (self, source) {
            (_, Source::Microphone | Source::ScreenAudio) => true,
            (Self::None, _) => false,
            (Self::All, _) => true,
            (Self::TopSpeakers(_), Source::Screen) => true,
            (Self::TopSpeakers(n), Source::Camera) => publisher_rank < n,
        }
    }
}

/// The payload type of Opus in the SDP the SFU writes (str0m's and browsers' usual one).
const OPUS_PT: Pt = Pt::new_with_value(111);

/// One published track: the publishing peer and the mid it sends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackKey {
    pub peer: PeerId,
    pub mid: Mid,
}

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Addresses advertised as ICE host candidates (the UDP socket's public addresses).
    pub candidates: Vec<SocketAddr>,
    /// Addresses advertised as passive ICE-TCP host candidates (RFC 6544), for networks that
    /// block UDP; empty for none. The caller frames TCP (RFC 4571) and feeds what arrives with
    /// `handle_receive_over`; transmits for these carry `Protocol::Tcp`.
    pub tcp_candidates: Vec<SocketAddr>,
    /// At most one keyframe request per published track in this interval: many subscribers
    /// asking at once must not make the publisher send a keyframe storm.
    pub keyframe_request_interval: Duration,
    /// Where each subscriber's bandwidth estimate starts, in bits/s, before any feedback;
    /// 0 turns bandwidth estimation off (layers then follow tile sizes and quality only, and
    /// nothing is paced). str0m paces video to the estimate and it grows only a few percent
    /// a second without successful probes, so too low a start holds video back in a large
    /// meeting; too high a start loses packets on a slow link until feedback cuts it.
    pub initial_bandwidth_bps: u64,
    /// Seed for ICE credentials. The server passes a fresh random seed; tests a fixed one.
    pub seed: u64,
    /// In a group of more than this many peers (publishers elsewhere included), only the
    /// audio of people speaking now and of the most recent dominant speakers is forwarded
    /// (`SpeakerDetector::heard`): everyone else's silence is not sent to everyone. 0: all
    /// audio always.
    pub selective_audio_after: usize,
    /// A peer joining a group of more than this many peers (itself and publishers elsewhere
    /// included) gets a loss-based estimate (`loss_estimate.rs`) instead of str0m's
    /// delay-based one, whose pacer costs a pass over all of the peer's streams per packet.
    /// 0: str0m's estimator for everyone. No effect when `initial_bandwidth_bps` is 0.
    pub loss_based_estimation_after: usize,
    /// Ask browsers for Opus DTX (`usedtx=1` in every SDP the SFU writes, which is how a
    /// receiver states it): a silent or muted microphone then sends a packet every 400 ms
    /// instead of every 20 ms. In a large meeting most microphones are silent, and each of
    /// their packets costs the SFU about as much as forwarding one (performance.md).
    pub opus_dtx: bool,
}

/// Errors in signaling input; the peer and everyone else are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    #[error("no such media peer")]
    UnknownPeer,
    #[error("media peer already exists")]
    PeerExists,
    #[error("the SDP could not be parsed: {0}")]
    BadSdp(String),
    #[error("the SDP could not be negotiated: {0}")]
    Negotiation(String),
    #[error("the initial offer was already accepted")]
    AlreadyNegotiated,
    #[error("no offer is outstanding")]
    NoOfferOutstanding,
}

/// A remote track as listed in an offer to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedTrack {
    pub mid: String,
    pub publisher: PeerId,
    pub kind: MediaKind,
    pub source: Source,
}

#[derive(Debug)]
pub enum SfuOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Send this offer to the peer's client; it must answer with `accept_answer`.
    Offer {
        peer: PeerId,
        sdp: String,
        tracks: Vec<OfferedTrack>,
        /// The mids of the peer's audio slots (slots.rs); empty when it has none.
        slots: Vec<String>,
    },
    /// Tell the peer's client that its audio slot `mid` now carries `publisher`'s microphone
    /// (output before the first such packet is written).
    SlotOwner {
        peer: PeerId,
        mid: Mid,
        publisher: PeerId,
    },
    /// The peer's media session ended (ICE lost, str0m error or panic); it has been removed.
    PeerGone { peer: PeerId, reason: String },
    /// The dominant speaker of a group changed.
    DominantSpeaker { group: GroupId, peer: PeerId },
    /// The publisher `peer` should encode only these simulcast layers of its track on `mid`
    /// (the others nobody needs now); sent when the set changes.
    Layers {
        peer: PeerId,
        mid: Mid,
        active: Vec<Rid>,
    },
    /// A peer here published a track: SFUs holding other peers of its group (a room spread
    /// over workers) add it with `add_remote_track`.
    Published {
        group: GroupId,
        track: TrackKey,
        kind: MediaKind,
        source: Source,
    },
    /// A packet of a track published here, for the other SFUs of a spread group
    /// (`set_spread`): they forward it with `relay_in`.
    Relay {
        group: GroupId,
        packet: RelayedPacket,
    },
    /// A subscriber here needs a keyframe of a track published on another SFU: its owner
    /// takes it with `relay_keyframe_request`.
    KeyframeWanted {
        track: TrackKey,
        kind: KeyframeRequestKind,
    },
    /// Which simulcast layers of tracks published elsewhere this SFU's subscribers need now
    /// (every adaptation round while it has any): the owners take it with
    /// `set_remote_layer_needs`, so a layer is not paused while another worker uses it.
    LayersWanted { needs: Vec<(TrackKey, Vec<Rid>)> },
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuStats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// RTP packets written to subscribers.
    pub packets_forwarded: u64,
    /// Payload bytes of those packets.
    pub bytes_forwarded: u64,
    /// Packets dropped because their sender may not send that media (moderator mute).
    pub packets_blocked: u64,
    /// Packets output as `Relay` for the other SFUs of a spread group.
    pub packets_relayed: u64,
    pub keyframe_requests_sent: u64,
}

impl std::ops::AddAssign for SfuStats {
    fn add_assign(&mut self, other: Self) {
        self.datagrams_in += other.datagrams_in;
        self.datagrams_out += other.datagrams_out;
        self.packets_forwarded += other.packets_forwarded;
        self.bytes_forwarded += other.bytes_forwarded;
        self.packets_blocked += other.packets_blocked;
        self.packets_relayed += other.packets_relayed;
        self.keyframe_requests_sent += other.keyframe_requests_sent;
    }
}

/// A published track's routing entry.
struct Track {
    kind: MediaKind,
    source: Source,
    /// Where this track goes: subscriber peer and the mid it is sent on there.
    subscribers: Vec<(PeerId, Mid)>,
    last_keyframe_request: Option<Instant>,
    /// Simulcast layers seen on this track (empty when it is not simulcast).
    layers: Layers,
    group: GroupId,
    /// Published on another SFU and relayed here (`add_remote_track`).
    remote: bool,
    /// A microphone whose last packets were held back (silent, in a large room): the next
    /// one forwarded continues each subscriber's numbering without a gap.
    audio_held: bool,
}

pub struct Sfu {
    config: SfuConfig,
    crypto: Arc<CryptoProvider>,
    rng: StdRng,
    // Looked up per forwarded packet: a fast hash (keys are chosen by us, not by clients).
    peers: FxHashMap<PeerId, Peer>,
    groups: HashMap<GroupId, Vec<PeerId>>,
    tracks: FxHashMap<TrackKey, Track>,
    speakers: HashMap<GroupId, SpeakerDetector>,
    next_speaker_evaluation: Option<Instant>,
    /// When simulcast layer choices are next made (`adapt.rs`).
    next_adaptation: Option<Instant>,
    demux: Demux,
    dirty: VecDeque<PeerId>,
    /// Every peer's next str0m timeout, ordered, so finding due peers needs no scan.
    timers: BTreeSet<(Instant, PeerId)>,
    /// Peers whose ICE went `Disconnected`, to check again at the due time.
    ice_recovery_checks: Vec<(PeerId, Instant)>,
    /// Keyframe requests held back by the throttle, sent when it allows (due time).
    deferred_keyframes: Vec<(TrackKey, Instant)>,
    faulted: Vec<PeerId>,
    outputs: VecDeque<SfuOutput>,
    stats: SfuStats,
    /// Groups with peers on other SFUs too: their packets are also output as `Relay`.
    spread_groups: FxHashSet<GroupId>,
    /// Groups large enough to forward only who speaks (`SfuConfig::selective_audio_after`).
    selective_audio: FxHashSet<GroupId>,
    /// Per group, the peers here that receive microphones on audio slots (slots.rs).
    slot_subscribers: FxHashMap<GroupId, Vec<PeerId>>,
    /// Publishers on other SFUs whose tracks are relayed here.
    remote_peers: FxHashMap<PeerId, relay::RemotePeer>,
    /// Layers other SFUs need of tracks published here, by SFU (`set_remote_layer_needs`).
    remote_needs: HashMap<TrackKey, Vec<relay::RemoteNeed>>,
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
            peers: FxHashMap::default(),
            groups: HashMap::new(),
            tracks: FxHashMap::default(),
            speakers: HashMap::new(),
            next_speaker_evaluation: None,
            next_adaptation: None,
            demux: Demux::default(),
            dirty: VecDeque::new(),
            deferred_keyframes: Vec::new(),
            ice_recovery_checks: Vec::new(),
            timers: BTreeSet::new(),
            faulted: Vec::new(),
            outputs: VecDeque::new(),
            stats: SfuStats::default(),
            spread_groups: FxHashSet::default(),
            selective_audio: FxHashSet::default(),
            slot_subscribers: FxHashMap::default(),
            remote_peers: FxHashMap::default(),
            remote_needs: HashMap::new(),
        }
    }

    pub fn stats(&self) -> SfuStats {
        self.stats
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Creates the media session of a peer in a group. The peer then sends its offer.
    pub fn add_peer(&mut self, now: Instant, id: PeerId, group: GroupId) -> Result<(), SfuError> {
        if self.peers.contains_key(&id) {
            return Err(SfuError::PeerExists);
        }
        let creds = IceCreds {
            // The peer id in the ufrag keeps ufrags unique; the random part and the password
            // keep them unguessable (the password authenticates every STUN check).
            ufrag: format!("m{}x{}", id.0, self.random_token(UFRAG_RANDOM_LEN)),
            pass: self.random_token(24),
        };
        let ufrag = creds.ufrag.clone();
        let initial = self.config.initial_bandwidth_bps;
        let joining = self.groups.get(&group).map_or(0, Vec::len) + 1;
        let limit = self.config.loss_based_estimation_after;
        let loss_based =
            initial > 0 && limit > 0 && joining + self.remote_members(group).count() > limit;
        let mut rtc_config = RtcConfig::new()
            .set_crypto_provider(self.crypto.clone())
            .set_ice_lite(true)
            // Forward RTP as is: no depacketizing and repacketizing per subscriber.
            .set_rtp_mode(true)
            // Bandwidth estimation from transport-wide feedback: simulcast layers per
            // subscriber follow it (adapt.rs). In a large group from loss reports instead,
            // without str0m's estimator and its pacer.
            .enable_bwe((initial > 0 && !loss_based).then(|| str0m::bwe::Bitrate::bps(initial)))
            .set_stats_interval(loss_based.then_some(loss_estimate::REPORT_EVERY))
            .set_local_ice_credentials(creds)
            .clear_codecs();
        // As str0m's own Opus line, plus DTX when configured.
        let opus = FormatParams {
            min_p_time: Some(10),
            use_inband_fec: Some(true),
            use_dtx: self.config.opus_dtx.then_some(true),
            ..FormatParams::default()
        };
        let (clock, channels) = (Frequency::FORTY_EIGHT_KHZ, Some(2));
        rtc_config
            .codec_config()
            .add_config(OPUS_PT, None, Codec::Opus, clock, channels, opus);
        let mut rtc = rtc_config
            .enable_vp8(true)
            .enable_vp9(true)
            .enable_h264(true)
            .build(now);
        for addr in &self.config.candidates {
            match Candidate::host(*addr, "udp") {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(e) => tracing::warn!(%addr, "unusable media candidate address: {e}"),
            }
        }
        for addr in &self.config.tcp_candidates {
            // Passive: browsers connect to us (ICE-lite never connects out). str0m ranks TCP
            // host candidates below UDP ones, so browsers use UDP where it works.
            let candidate = Candidate::builder()
                .tcp()
                .host(*addr)
                .tcptype(TcpType::Passive)
                .build();
            match candidate {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(e) => tracing::warn!(%addr, "unusable media TCP candidate address: {e}"),
            }
        }
        let mut peer = Peer::new(group, rtc);
        if loss_based {
            peer.adapt.use_loss_based(initial);
        }
        self.peers.insert(id, peer);
        // Due at once: a new Rtc wants its first poll.
        self.timers.insert((now, id));
        self.next_adaptation.get_or_insert(now + adapt::ADAPT_EVERY);
        self.groups.entry(group).or_default().push(id);
        self.demux.insert_peer(id, ufrag);
        self.rerank(now, group);
        Ok(())
    }

    /// Accepts the client's initial offer and returns the answer. Remote tracks already in
    /// the group follow in a server offer (see `poll_output`).
    /// `sources` names what each of the client's mids carries; mids it does not name follow
    /// the m-line order rule (first audio microphone, first video camera, second video screen,
    /// second audio screen audio).
    pub fn accept_offer(
        &mut self,
        now: Instant,
        id: PeerId,
        sdp: &str,
        sources: HashMap<String, Source>,
    ) -> Result<String, SfuError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        if peer.ready {
            return Err(SfuError::AlreadyNegotiated);
        }
        peer.declared_sources = sources;
        let answer = match peer.with_rtc(|rtc| rtc.sdp_api().accept_offer(offer)) {
            Ok(answer) => answer,
            Err(peer::PeerFault::Rtc(e)) => {
                // A refused offer is bad input, not a broken session: allow another try.
                peer.fault = None;
                return Err(SfuError::Negotiation(e));
            }
            Err(fault) => {
                self.faulted.push(id);
                self.run(now);
                return Err(SfuError::Negotiation(format!("{fault:?}")));
            }
        };
        peer.ready = true;
        let group = peer.group;
        // Subscribe the newcomer to everything already published in the group.
        let existing: Vec<(TrackKey, MediaKind, Source)> = self
            .group_tracks(group, id)
            .into_iter()
            .filter_map(|key| self.tracks.get(&key).map(|t| (key, t.kind, t.source)))
            .collect();
        let peer = self.peers.get_mut(&id).expect("looked up above");
        // A capable peer in a large group gets the microphones on slots (`sync_slots`).
        let slots = peer.audio_slots && self.selective_audio.contains(&group);
        for (source, kind, label) in existing {
            if slots && label == Source::Microphone {
                continue;
            }
            peer.subscriptions.push(Subscription {
                source,
                label,
                kind,
                state: SubState::ToOpen,
                source_gone: false,
            });
        }
        self.sync_slots(group);
        self.mark_dirty(id);
        self.run(now);
        Ok(answer.to_sdp_string())
    }

    /// Applies the client's answer to the last server offer.
    pub fn accept_answer(&mut self, now: Instant, id: PeerId, sdp: &str) -> Result<(), SfuError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        let pending = peer.pending.take().ok_or(SfuError::NoOfferOutstanding)?;
        if let Err(fault) = peer.with_rtc(|rtc| rtc.sdp_api().accept_answer(pending, answer)) {
            // The pending offer is consumed either way; the session cannot be trusted.
            self.faulted.push(id);
            self.run(now);
            return Err(SfuError::Negotiation(format!("{fault:?}")));
        }
        let mut opened = Vec::new();
        for sub in &mut peer.subscriptions {
            match sub.state {
                SubState::Negotiating(mid) if sub.source_gone => sub.state = SubState::ToStop(mid),
                SubState::Negotiating(mid) => {
                    sub.state = SubState::Open(mid);
                    opened.push((sub.source, mid));
                }
                _ => {}
            }
        }
        peer.subscriptions
            .retain(|s| !matches!(s.state, SubState::NegotiatingStop(_)));
        for slot in &mut peer.slots {
            match slot.state {
                SubState::Negotiating(mid) if slot.gone => slot.state = SubState::ToStop(mid),
                SubState::Negotiating(mid) => slot.state = SubState::Open(mid),
                _ => {}
            }
        }
        peer.slots
            .retain(|s| !matches!(s.state, SubState::NegotiatingStop(_)));
        for (source, mid) in opened {
            if let Some(track) = self.tracks.get_mut(&source) {
                track.subscribers.push((id, mid));
            }
            // The new subscriber can decode nothing before a keyframe.
            self.request_keyframe(now, source, KeyframeRequestKind::Pli);
        }
        self.mark_dirty(id);
        self.run(now);
        Ok(())
    }

    /// Sets which media of this peer may be forwarded; what is not allowed is dropped on
    /// arrival from the next frame on. A newly allowed video track gets a keyframe request so
    /// subscribers see a picture at once.
    pub fn set_permissions(&mut self, now: Instant, id: PeerId, audio: bool, video: bool) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let video_reopened = video && !peer.may_send_video;
        peer.may_send_audio = audio;
        peer.may_send_video = video;
        if video_reopened {
            let mids = peer.published.clone();
            for mid in mids {
                self.request_keyframe(now, TrackKey { peer: id, mid }, KeyframeRequestKind::Pli);
            }
        }
        self.run(now);
    }

    /// Removes a peer: its media stops being forwarded at once and the others renegotiate.
    pub fn remove_peer(&mut self, now: Instant, id: PeerId) {
        let group = self.peers.get(&id).map(|p| p.group);
        self.detach(id);
        if let Some(group) = group {
            self.rerank(now, group);
        }
        self.run(now);
    }

    /// Feeds one packet received over `proto`: a UDP datagram, or the contents of one RFC 4571
    /// frame from an ICE-TCP connection (`source` is the connection's remote address, which
    /// routes on its own; `destination` the advertised TCP candidate it was accepted on).
    pub fn handle_receive_over(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        packet: &[u8],
    ) {
        self.feed(now, proto, source, destination, packet);
        self.run(now);
    }

    /// Feeds one received datagram. `destination` is the local address it arrived on, as
    /// advertised in the candidates.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.handle_receive_batch(now, destination, [(source, datagram)]);
    }

    /// Feeds several received datagrams at once (what one `recvmmsg` read). Each receiving
    /// peer is drained right away, so its packets are forwarded in arrival order, but the
    /// subscribers they were written to are drained once, after the last datagram: str0m's
    /// fixed work per poll (timers, ICE, RTCP, pacing) is then paid once per subscriber and
    /// batch instead of once per forwarded packet.
    pub fn handle_receive_batch<'a>(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        datagrams: impl IntoIterator<Item = (SocketAddr, &'a [u8])>,
    ) {
        for (source, datagram) in datagrams {
            self.feed(now, Protocol::Udp, source, destination, datagram);
        }
        self.run(now);
    }

    /// Hands one received packet to its peer's `Rtc` and drains that peer (forwarding what it
    /// yields); the subscribers written to wait in the dirty queue for `run`.
    fn feed(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        packet: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        let Some(id) = self.demux.route_over(proto, source, packet) else {
            return;
        };
        let Ok(receive) = Receive::new(proto, source, destination, packet) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if peer
            .with_rtc(|rtc| rtc.handle_input(Input::Receive(now, receive)))
            .is_err()
        {
            self.faulted.push(id);
        }
        self.drain(now, id);
    }

    /// Sets which video `id` receives (its quality setting).
    pub fn set_receive_video(&mut self, now: Instant, id: PeerId, receive: ReceiveVideo) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if peer.receive_video == receive {
            return;
        }
        peer.receive_video = receive;
        // Tracks this subscriber starts receiving need a keyframe to show anything.
        let group = peer.group;
        let visible: Vec<TrackKey> = self
            .group_tracks(group, id)
            .into_iter()
            .filter(|key| {
                self.tracks.get(key).is_some_and(|t| {
                    t.kind == MediaKind::Video && receive.allows(t.source, self.rank_of(key.peer))
                })
            })
            .collect();
        for key in visible {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        self.run(now);
    }

    /// The current dominant speaker of a group, if any.
    pub fn dominant_speaker(&self, group: GroupId) -> Option<PeerId> {
        self.speakers.get(&group).and_then(SpeakerDetector::current)
    }

    pub fn poll_output(&mut self) -> Option<SfuOutput> {
        self.outputs.pop_front()
    }

    fn random_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    /// The first packet on announced `mid` arrived: everyone else in its group subscribes.
    /// Acts once per announced mid, whatever the outcome.
    pub(crate) fn publish(&mut self, id: PeerId, mid: Mid) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(announced) = peer.announced.iter_mut().find(|a| a.mid == mid && !a.tried) else {
            return;
        };
        announced.tried = true;
        let kind = announced.kind;
        let source = self.source_of(id, mid);
        let key = TrackKey { peer: id, mid };
        let Some(source) = source else {
            tracing::debug!(peer = id.0, "ignoring a third track of one kind");
            return;
        };
        let group = self.peers[&id].group;
        self.tracks
            .insert(key, Track::new(kind, source, group, false));
        self.peers
            .get_mut(&id)
            .expect("publisher exists")
            .published
            .push(mid);
        self.outputs.push_back(SfuOutput::Published {
            group,
            track: key,
            kind,
            source,
        });
        self.subscribe_group(group, key, kind, source);
    }

    /// Every ready peer of `group` but the publisher subscribes to the track `key`.
    fn subscribe_group(&mut self, group: GroupId, key: TrackKey, kind: MediaKind, source: Source) {
        let others: Vec<PeerId> = self
            .groups
            .get(&group)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| *p != key.peer)
            .collect();
        for other in others {
            let peer = self.peers.get_mut(&other).expect("group members exist");
            // A peer on audio slots hears this microphone on them (slots.rs).
            if source == Source::Microphone && peer.in_slot_mode() {
                continue;
            }
            if peer.ready {
                peer.subscriptions.push(Subscription {
                    source: key,
                    label: source,
                    kind,
                    state: SubState::ToOpen,
                    source_gone: false,
                });
                self.mark_dirty(other);
            }
            // A peer not yet ready subscribes to everything when its offer is accepted.
        }
    }
}
