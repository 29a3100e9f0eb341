//! Sans-IO selective forwarding unit on str0m.
//!
//! The caller owns the sockets and the clock: it feeds datagrams (`handle_receive_batch` for
//! UDP, `handle_receive` for one packet over UDP or an ICE-TCP connection) and timeouts
//! (`handle_timeout` when `poll_timeout` says), calls the signaling entry points (`add_peer`,
//! `accept_offer`, `accept_answer`, `remove_peer`, ...) and the cluster ones for a group
//! spread over several SFUs (`cluster.rs`), and after each call drains `poll_output` until
//! `None`. Outputs are split by who consumes them: `Transmit` for the socket, `Signal` for
//! signaling, `Cluster` for the other SFUs. Nothing here knows about rooms: a *group* is just
//! a set of peers that forward to each other.
//!
//! Each peer has one str0m `Rtc`, ICE-lite, in RTP mode (peer.rs). Every call into an `Rtc`
//! is followed by draining it until it yields a timeout (str0m freezes otherwise); the
//! outbox's dirty queue makes sure a peer written to while forwarding is drained too, once
//! per call (`Sfu::settle`).
//!
//! Who owns what: `Sfu` holds the tables that connect peers (groups, tracks, timers) and
//! orchestrates; each concern with state of its own is a type of its own — `Peer` (one
//! session: its negotiation, `RtpRewrite`, `SlotPool`, `SubscriberAdapt`), `Ranking`
//! (speakers and ranks), `Cluster` (the other SFUs of spread groups), `Outbox` (what a call
//! leaves to do and say), `Demux` (which peer a datagram is for).

#![forbid(unsafe_code)]

mod adapt;
mod cluster;
mod demux;
mod drive;
mod forward;
mod loss_estimate;
mod negotiation;
mod outbox;
mod peer;
mod ranking;
mod rewrite;
mod simulcast;
mod slots;
mod speaker;
mod track;

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
pub use demux::{is_stun, stun_local_ufrag, Demux, Route, ADDRESSES_PER_PEER};
pub use forward::ForwardedPacket;
pub use outbox::{ClusterMessage, EndCause, SfuOutput, SfuStats, Signal};
pub use peer::PeerFault;
pub use slots::SLOT_COUNT;
pub use speaker::{SpeakerDetector, EVALUATE_EVERY};
pub use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
pub use str0m::net::{Protocol, Transmit};

use cluster::Cluster;
use negotiation::Subscription;
use outbox::Outbox;
use peer::Peer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ranking::Ranking;
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::CryptoProvider;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, Mid, Pt};
use str0m::net::{Receive, TcpType};
use str0m::{Candidate, IceCreds, Input, RtcConfig};
use track::Track;

/// Random characters after the peer number in a server-side ICE ufrag (`m<peer>x<random>`):
/// the peer number keeps ufrags unique, the random part unguessable.
const UFRAG_RANDOM_LEN: usize = 6;

/// How long a peer's ICE may stay disconnected before its session is given up.
pub const ICE_RECOVERY: Duration = Duration::from_secs(8);

/// At most one keyframe request per published track in this interval
/// (`SfuConfig::keyframe_request_interval`, what the server uses): a subscriber waits at most
/// this long for a picture, and many asking at once make no keyframe storm.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

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
    /// The "standard" quality: the cameras of the nine highest-ranked speakers (a 3×3 grid)
    /// and every screen.
    pub const STANDARD: Self = Self::TopSpeakers(9);
    /// The "low" quality: the dominant speaker's camera and every screen.
    pub const LOW: Self = Self::TopSpeakers(1);

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

/// Errors in signaling input; the peer and everyone else are unaffected (except after
/// `Negotiation` of an answer, which ends the peer's session: see `accept_answer`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    #[error("no such media peer")]
    UnknownPeer,
    #[error("media peer already exists")]
    PeerExists,
    #[error("the SDP could not be parsed: {0}")]
    BadSdp(#[from] str0m::error::SdpError),
    #[error("the SDP could not be negotiated: {0}")]
    Negotiation(#[source] PeerFault),
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

pub struct Sfu {
    config: SfuConfig,
    crypto: Arc<CryptoProvider>,
    /// Makes ICE credentials (seeded by the caller).
    rng: StdRng,
    // Looked up per forwarded packet: a fast hash (keys are chosen by us, not by clients).
    peers: FxHashMap<PeerId, Peer>,
    /// The peers of each group here, in join order.
    groups: HashMap<GroupId, Vec<PeerId>>,
    /// Every track forwarded here, published here or relayed from another SFU.
    tracks: FxHashMap<TrackKey, Track>,
    /// Per group, the peers here that receive microphones on audio slots (slots.rs).
    slot_subscribers: FxHashMap<GroupId, Vec<PeerId>>,
    ranking: Ranking,
    cluster: Cluster,
    outbox: Outbox,
    /// Every peer's next str0m timeout, ordered, so finding due peers needs no scan.
    timers: BTreeSet<(Instant, PeerId)>,
    /// When simulcast layer choices are next made (`adapt.rs`).
    next_adaptation: Option<Instant>,
    /// Peers whose ICE went `Disconnected`, to check again at the due time.
    ice_recovery_checks: Vec<(PeerId, Instant)>,
    /// Keyframe requests held back by the throttle, sent when it allows (due time).
    deferred_keyframes: Vec<(TrackKey, Instant)>,
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
            slot_subscribers: FxHashMap::default(),
            ranking: Ranking::default(),
            cluster: Cluster::default(),
            outbox: Outbox::default(),
            timers: BTreeSet::new(),
            next_adaptation: None,
            ice_recovery_checks: Vec::new(),
            deferred_keyframes: Vec::new(),
        }
    }

    pub fn stats(&self) -> SfuStats {
        self.outbox.stats
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Creates the media session of a peer in a group. The peer then sends its offer.
    /// Returns the session's server-side ICE ufrag: STUN messages naming it are this peer's,
    /// which is how the caller's routing table (`Demux`) learns where its packets go.
    pub fn add_peer(
        &mut self,
        now: Instant,
        id: PeerId,
        group: GroupId,
    ) -> Result<String, SfuError> {
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
        let loss_based = initial > 0
            && limit > 0
            && joining + self.cluster.remote_members(group).count() > limit;
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
        self.rerank(now, group);
        Ok(ufrag)
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
        let offer = SdpOffer::from_sdp_string(sdp)?;
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        if peer.ready {
            return Err(SfuError::AlreadyNegotiated);
        }
        peer.declared_sources = sources;
        let answer = match peer.with_rtc(|rtc| rtc.sdp_api().accept_offer(offer)) {
            Ok(answer) => answer,
            Err(fault @ PeerFault::Rtc(_)) => {
                // A refused offer is bad input, not a broken session: allow another try.
                peer.forgive();
                return Err(SfuError::Negotiation(fault));
            }
            Err(fault) => {
                self.outbox.faulted.push(id);
                self.settle(now);
                return Err(SfuError::Negotiation(fault));
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
        let slots = peer.audio_slots && self.ranking.is_selective(group);
        for (track, kind, source) in existing {
            if slots && source == Source::Microphone {
                continue;
            }
            peer.subscriptions
                .push(Subscription::new(track, source, kind));
        }
        self.sync_slots(group);
        self.mark_dirty(id);
        self.settle(now);
        Ok(answer.to_sdp_string())
    }

    /// Applies the client's answer to the last server offer.
    pub fn accept_answer(&mut self, now: Instant, id: PeerId, sdp: &str) -> Result<(), SfuError> {
        let answer = SdpAnswer::from_sdp_string(sdp)?;
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        let opened = match peer.accept_answer(answer) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Err(SfuError::NoOfferOutstanding),
            Err(fault) => {
                // The pending offer is consumed either way; the session cannot be trusted.
                self.outbox.faulted.push(id);
                self.settle(now);
                return Err(SfuError::Negotiation(fault));
            }
        };
        for (source, mid) in opened {
            if let Some(track) = self.tracks.get_mut(&source) {
                track.subscribers.push((id, mid));
            }
            // The new subscriber can decode nothing before a keyframe.
            self.request_keyframe(now, source, KeyframeRequestKind::Pli);
        }
        self.mark_dirty(id);
        self.settle(now);
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
        self.settle(now);
    }

    /// Removes a peer: its media stops being forwarded at once and the others renegotiate.
    pub fn remove_peer(&mut self, now: Instant, id: PeerId) {
        let group = self.peers.get(&id).map(|p| p.group);
        self.detach(id);
        if let Some(group) = group {
            self.rerank(now, group);
        }
        self.settle(now);
    }

    /// Feeds one packet of peer `id` received over `proto`: a UDP datagram, or the contents
    /// of one RFC 4571 frame from an ICE-TCP connection (`source` is the connection's remote
    /// address). `destination` is the local address it arrived on, as advertised in the
    /// candidates (for TCP, the candidate it was accepted on). The caller routed it to `id`
    /// (`Demux`); str0m still checks that it belongs to this session (ICE credentials, DTLS,
    /// SRTP) and drops it otherwise.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        id: PeerId,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        packet: &[u8],
    ) {
        self.receive(now, id, proto, source, destination, packet);
        self.settle(now);
    }

    /// Feeds several received UDP datagrams at once (what one `recvmmsg` read), each with the
    /// peer it was routed to. Each receiving peer is drained right away, so its packets are
    /// forwarded in arrival order, but the subscribers they were written to are drained once,
    /// after the last datagram: str0m's fixed work per poll (timers, ICE, RTCP, pacing) is
    /// then paid once per subscriber and batch instead of once per forwarded packet.
    pub fn handle_receive_batch<'a>(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        datagrams: impl IntoIterator<Item = (PeerId, SocketAddr, &'a [u8])>,
    ) {
        for (id, source, datagram) in datagrams {
            self.receive(now, id, Protocol::Udp, source, destination, datagram);
        }
        self.settle(now);
    }

    /// Hands one received packet to its peer's `Rtc` and drains that peer (forwarding what it
    /// yields); the subscribers written to wait in the outbox for `settle`.
    fn receive(
        &mut self,
        now: Instant,
        id: PeerId,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        packet: &[u8],
    ) {
        self.outbox.stats.datagrams_in += 1;
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
            self.outbox.faulted.push(id);
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
                    t.kind == MediaKind::Video
                        && receive.allows(t.source, self.ranking.rank_of(key.peer))
                })
            })
            .collect();
        for key in visible {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        self.settle(now);
    }

    /// The current dominant speaker of a group, if any.
    pub fn dominant_speaker(&self, group: GroupId) -> Option<PeerId> {
        self.ranking.dominant_speaker(group)
    }

    pub fn poll_output(&mut self) -> Option<SfuOutput> {
        self.outbox.pop()
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
        self.outbox.cluster(ClusterMessage::Published {
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
            if source == Source::Microphone && peer.slots.in_slot_mode() {
                continue;
            }
            if peer.ready {
                peer.subscriptions
                    .push(Subscription::new(key, source, kind));
                self.outbox.mark_dirty(other, peer);
            }
            // A peer not yet ready subscribes to everything when its offer is accepted.
        }
    }
}
