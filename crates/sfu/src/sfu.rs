//! The SFU: the tables that connect peers (groups, tracks, timers), the signaling entry
//! points, and what ties the concerns together. Each concern with state of its own is its
//! own type (peer.rs, ranking.rs, cluster.rs, outbox.rs, demux.rs, ...); this file and its two
//! children are the only `impl Sfu`: `forward.rs` is the packet path (a received packet to
//! every subscriber, and out), `adaptation.rs` the simulcast adaptation round.

mod adaptation;
mod forward;

use crate::adapt;
use crate::cluster::Cluster;
use crate::loss_estimate;
use crate::mline::Keep;
use crate::negotiation::Subscription;
use crate::outbox::{ClusterMessage, Outbox, SfuOutput, SfuStats, Signal};
use crate::packet::ForwardedPacket;
use crate::peer::Peer;
use crate::ranking::Ranking;
use crate::track::Track;
use crate::types::{
    GroupId, PeerFault, PeerId, ReceiveVideo, SfuConfig, SfuError, Source, TrackKey, ICE_RECOVERY,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::CryptoProvider;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::net::TcpType;
use str0m::{Candidate, IceCreds, RtcConfig};

/// Random characters after the peer number in a server-side ICE ufrag (`m<peer>x<random>`):
/// the peer number keeps ufrags unique, the random part unguessable.
const UFRAG_RANDOM_LEN: usize = 6;

/// The payload type of Opus in the SDP the SFU writes (str0m's and browsers' usual one).
const OPUS_PT: Pt = Pt::new_with_value(111);

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
    /// When simulcast layer choices are next made (`adaptation.rs`).
    next_adaptation: Option<Instant>,
    /// Peers whose ICE went `Disconnected`, to check again at the due time.
    ice_recovery_checks: Vec<(PeerId, Instant)>,
    /// Keyframe requests held back by the throttle, sent when it allows (due time).
    deferred_keyframes: Vec<(TrackKey, Instant)>,
}

impl Sfu {
    // ---- Construction and the caller's loop

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

    pub fn poll_output(&mut self) -> Option<SfuOutput> {
        self.outbox.pop()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deferred = self.deferred_keyframes.iter().map(|(_, due)| *due);
        self.timers
            .first()
            .map(|(at, _)| *at)
            .into_iter()
            .chain(deferred)
            .chain(self.ranking.poll_timeout())
            .chain(self.next_adaptation)
            .chain(self.ice_recovery_checks.iter().map(|(_, due)| *due))
            .min()
    }

    /// Drives every peer whose timer is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for id in take_due(&mut self.ice_recovery_checks, now) {
            let lost = self.peers.get(&id).and_then(|p| p.ice_lost_at);
            if lost.is_some_and(|t| now.saturating_duration_since(t) >= ICE_RECOVERY) {
                self.outbox.faulted.push(id);
            }
        }
        if self.ranking.poll_timeout().is_some_and(|t| t <= now) {
            self.evaluate_speakers(now);
        }
        if self.next_adaptation.is_some_and(|t| t <= now) {
            self.adapt(now);
        }
        for key in take_due(&mut self.deferred_keyframes, now) {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        // Only the peers whose timers are due: O(due · log peers), never a scan of all peers.
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            due.push(id);
        }
        for id in due {
            if let Some(peer) = self.peers.get_mut(&id) {
                if peer.timeout_pass(now).is_err() {
                    self.outbox.faulted.push(id);
                }
                self.outbox.mark_dirty(id, peer);
            }
        }
        self.settle(now);
    }

    // ---- Signaling: peers, offers and answers, permissions

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
        if peer.negotiation.ready {
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
        peer.negotiation.ready = true;
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
            peer.negotiation
                .subscriptions
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

    /// Whether peer `id` can receive microphones on audio slots (its client said so in its
    /// offer). Set before `accept_offer`; in a small group it changes nothing.
    pub fn set_audio_slots(&mut self, id: PeerId, can: bool) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.audio_slots = can;
        }
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

    /// Removes a peer: its media stops being forwarded at once and the others renegotiate.
    pub fn remove_peer(&mut self, now: Instant, id: PeerId) {
        let group = self.peers.get(&id).map(|p| p.group);
        self.detach(id);
        if let Some(group) = group {
            self.rerank(now, group);
        }
        self.settle(now);
    }

    /// The current dominant speaker of a group, if any.
    pub fn dominant_speaker(&self, group: GroupId) -> Option<PeerId> {
        self.ranking.dominant_speaker(group)
    }

    fn random_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    // ---- Membership: who publishes what, and who receives it

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

    /// What the publisher's announced `mid` carries: as declared in its offer, else by
    /// m-line order among the announced mids of its kind (first: camera or microphone; second:
    /// screen or its sound), whichever of them sends first.
    pub(crate) fn source_of(&self, id: PeerId, mid: Mid) -> Option<Source> {
        let peer = self.peers.get(&id)?;
        if let Some(source) = peer.declared_sources.get(&mid.to_string()) {
            return Some(*source);
        }
        let kind = peer.announced.iter().find(|a| a.mid == mid)?.kind;
        let earlier = peer
            .announced
            .iter()
            .take_while(|a| a.mid != mid)
            .filter(|a| a.kind == kind)
            .count();
        match (kind, earlier) {
            (MediaKind::Audio, 0) => Some(Source::Microphone),
            (MediaKind::Audio, 1) => Some(Source::ScreenAudio),
            (MediaKind::Video, 0) => Some(Source::Camera),
            (MediaKind::Video, 1) => Some(Source::Screen),
            _ => None,
        }
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
            if source == Source::Microphone && peer.negotiation.slots.in_slot_mode() {
                continue;
            }
            if peer.negotiation.ready {
                peer.negotiation
                    .subscriptions
                    .push(Subscription::new(key, source, kind));
                self.outbox.mark_dirty(other, peer);
            }
            // A peer not yet ready subscribes to everything when its offer is accepted.
        }
    }

    /// The group's peers here stop receiving `publisher`'s tracks (it left): open ones are
    /// stopped in the next offer.
    pub(crate) fn unsubscribe_group(&mut self, group: GroupId, publisher: PeerId) {
        self.free_slots_of(group, publisher);
        let members: Vec<PeerId> = self.groups.get(&group).cloned().unwrap_or_default();
        for other in members {
            let Some(other_peer) = self.peers.get_mut(&other) else {
                continue;
            };
            let mut changed = false;
            other_peer.negotiation.subscriptions.retain_mut(|sub| {
                if sub.track.peer != publisher {
                    return true;
                }
                changed = true;
                sub.line.wind_down() == Keep::Yes
            });
            if changed {
                self.outbox.mark_dirty(other, other_peer);
            }
        }
    }

    /// Every track of `group` not published by `except`: local members' first (in join
    /// order), then those relayed from other SFUs (by publisher).
    pub(crate) fn group_tracks(&self, group: GroupId, except: PeerId) -> Vec<TrackKey> {
        let local = self
            .groups
            .get(&group)
            .into_iter()
            .flatten()
            .filter(|p| **p != except)
            .flat_map(|p| {
                self.peers[p].published.iter().map(|mid| TrackKey {
                    peer: *p,
                    mid: *mid,
                })
            });
        local.chain(self.cluster.remote_tracks(group)).collect()
    }

    /// The tracks `peer` publishes (local or remote).
    pub(crate) fn published_by(&self, peer: PeerId) -> Vec<Mid> {
        match self.peers.get(&peer) {
            Some(p) => p.published.clone(),
            None => self.cluster.remote_mids(peer),
        }
    }

    /// Makes an offer for pending m-line changes, if the peer may renegotiate now.
    pub(crate) fn negotiate_if_wanted(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        match peer.make_offer() {
            Ok(Some(offer)) => {
                tracing::debug!(
                    peer = id.0,
                    tracks = offer.tracks.len(),
                    slots = offer.slots.len(),
                    "offer"
                );
                self.outbox.signal(Signal::Offer {
                    peer: id,
                    sdp: offer.sdp,
                    tracks: offer.tracks,
                    slots: offer.slots,
                });
            }
            Ok(None) => {}
            Err(_) => self.outbox.faulted.push(id),
        }
    }

    /// Takes a peer out of every table and tells its subscribers' sessions to stop its tracks.
    pub(crate) fn detach(&mut self, id: PeerId) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        if let Some(subscribers) = self.slot_subscribers.get_mut(&peer.group) {
            subscribers.retain(|p| *p != id);
            if subscribers.is_empty() {
                self.slot_subscribers.remove(&peer.group);
            }
        }
        // Not just `next_timeout`: the entry made when the peer was added may still be there.
        self.timers.retain(|(_, p)| *p != id);
        if let Some(members) = self.groups.get_mut(&peer.group) {
            members.retain(|p| *p != id);
            if members.is_empty() {
                self.groups.remove(&peer.group);
            }
        }
        // Stop receiving from this peer.
        for sub in &peer.negotiation.subscriptions {
            if let Some(mid) = sub.line.open_mid() {
                if let Some(track) = self.tracks.get_mut(&sub.track) {
                    track.subscribers.retain(|s| *s != (id, mid));
                }
            }
        }
        // Stop sending this peer's tracks to anyone.
        for mid in &peer.published {
            let key = TrackKey {
                peer: id,
                mid: *mid,
            };
            self.tracks.remove(&key);
            self.cluster.track_ended(key);
        }
        self.ranking.remove_peer(peer.group, id);
        if !self.groups.contains_key(&peer.group) {
            self.ranking.forget_group(peer.group);
        }
        self.unsubscribe_group(peer.group, id);
    }

    // ---- Audio slots (slots.rs)

    /// Puts every ready, capable peer of `group` in or out of slot mode, as the group's
    /// selective audio says. Called whenever membership changes (`rerank`); does nothing for
    /// peers already where they should be.
    pub(crate) fn sync_slots(&mut self, group: GroupId) {
        let wanted = self.ranking.is_selective(group);
        let members: Vec<PeerId> = self.groups.get(&group).cloned().unwrap_or_default();
        for id in members {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            if !peer.audio_slots
                || !peer.negotiation.ready
                || peer.negotiation.slots.in_slot_mode() == wanted
            {
                continue;
            }
            if wanted {
                self.enter_slot_mode(group, id);
            } else {
                self.leave_slot_mode(group, id);
            }
        }
    }

    /// Stops `id`'s microphone subscriptions and asks for its slots in the next offer.
    fn enter_slot_mode(&mut self, group: GroupId, id: PeerId) {
        let peer = self.peers.get_mut(&id).expect("caller checked");
        let mut stopped = Vec::new();
        peer.negotiation.subscriptions.retain_mut(|sub| {
            if sub.source != Source::Microphone {
                return true;
            }
            if let Some(mid) = sub.line.open_mid() {
                stopped.push((sub.track, mid));
            }
            sub.line.wind_down() == Keep::Yes
        });
        peer.negotiation.slots.open();
        for (source, mid) in stopped {
            if let Some(track) = self.tracks.get_mut(&source) {
                track.subscribers.retain(|s| *s != (id, mid));
            }
        }
        let subscribers = self.slot_subscribers.entry(group).or_default();
        if !subscribers.contains(&id) {
            subscribers.push(id);
        }
        self.outbox
            .mark_dirty(id, self.peers.get_mut(&id).expect("caller checked"));
    }

    /// Stops `id`'s slots and subscribes it to every microphone of the group again.
    fn leave_slot_mode(&mut self, group: GroupId, id: PeerId) {
        if let Some(subscribers) = self.slot_subscribers.get_mut(&group) {
            subscribers.retain(|p| *p != id);
            if subscribers.is_empty() {
                self.slot_subscribers.remove(&group);
            }
        }
        let microphones: Vec<TrackKey> = self
            .group_tracks(group, id)
            .into_iter()
            .filter(|key| {
                self.tracks
                    .get(key)
                    .is_some_and(|t| t.source == Source::Microphone)
            })
            .collect();
        let peer = self.peers.get_mut(&id).expect("caller checked");
        peer.negotiation.slots.close();
        for track in microphones {
            let sub = Subscription::new(track, Source::Microphone, MediaKind::Audio);
            peer.negotiation.subscriptions.push(sub);
        }
        self.outbox.mark_dirty(id, peer);
    }

    /// A publisher left: the slots it held are free (their next owner is announced as usual).
    pub(crate) fn free_slots_of(&mut self, group: GroupId, publisher: PeerId) {
        let Some(subscribers) = self.slot_subscribers.get(&group) else {
            return;
        };
        for id in subscribers {
            if let Some(peer) = self.peers.get_mut(id) {
                peer.negotiation.slots.free_owner(publisher);
            }
        }
    }

    // ---- Speaker ranking (ranking.rs)

    pub(crate) fn evaluate_speakers(&mut self, now: Instant) {
        for (group, peer) in self.ranking.evaluate(now) {
            self.outbox.signal(Signal::DominantSpeaker { group, peer });
            self.rerank(now, group);
        }
    }

    /// Re-orders a group's peers (`Ranking::rerank`) after a speaker or membership change;
    /// a camera that becomes visible to someone gets a keyframe request.
    pub(crate) fn rerank(&mut self, now: Instant, group: GroupId) {
        let Some(local) = self.groups.get(&group) else {
            self.ranking.forget_group(group);
            return;
        };
        // Local and remote members in one order: by peer number, which is join order, so
        // every SFU of the group ranks alike.
        let mut members: Vec<PeerId> = local
            .iter()
            .copied()
            .chain(self.cluster.remote_members(group))
            .collect();
        members.sort_unstable();
        let limit = self.config.selective_audio_after;
        for id in self.ranking.rerank(group, &members, limit) {
            for mid in self.published_by(id) {
                self.request_keyframe(now, TrackKey { peer: id, mid }, KeyframeRequestKind::Pli);
            }
        }
        self.sync_slots(group);
    }

    // ---- A group spread over several SFUs (cluster.rs)

    /// Whether `group` also has peers on other SFUs: from now on every packet published here
    /// in it is also output as `Relay`.
    pub fn set_spread(&mut self, group: GroupId, spread: bool) {
        self.cluster.set_spread(group, spread);
    }

    /// Whether `group` is being recorded. From now on every packet published here in it is
    /// also output as `ClusterMessage::Record` (every layer of a simulcast track: the
    /// recorder keeps one), the top layer of each simulcast track is kept encoded even when
    /// nobody watches it at that size, and when recording starts every video track is asked
    /// for a keyframe, so its file starts at once. Tracks published later come as
    /// `ClusterMessage::Published` like any other.
    pub fn set_recorded(&mut self, now: Instant, group: GroupId, recorded: bool) {
        let started = recorded && !self.cluster.is_recorded(group);
        self.cluster.set_recorded(group, recorded);
        if started {
            for (track, _, _) in self.published_here(group) {
                self.request_keyframe(now, track, KeyframeRequestKind::Pli);
            }
        }
        self.settle(now);
    }

    /// The tracks this SFU's peers of `group` publish, with what they carry: what a recording
    /// of the group here starts with.
    pub fn published_here(&self, group: GroupId) -> Vec<(TrackKey, MediaKind, Source)> {
        let members = self.groups.get(&group).into_iter().flatten();
        members
            .flat_map(|id| {
                self.peers[id].published.iter().map(move |mid| TrackKey {
                    peer: *id,
                    mid: *mid,
                })
            })
            .filter_map(|key| self.tracks.get(&key).map(|t| (key, t.kind, t.source)))
            .collect()
    }

    /// A peer of `group` on another SFU publishes `track` (its `Published` output there): this
    /// SFU's peers of the group subscribe, and its packets come in through `relay_in`.
    pub fn add_remote_track(
        &mut self,
        now: Instant,
        group: GroupId,
        track: TrackKey,
        kind: MediaKind,
        source: Source,
    ) {
        if self.tracks.contains_key(&track) || self.peers.contains_key(&track.peer) {
            return;
        }
        self.tracks
            .insert(track, Track::new(kind, source, group, true));
        self.cluster.add_remote_track(group, track);
        self.subscribe_group(group, track, kind, source);
        self.rerank(now, group);
        self.settle(now);
    }

    /// A peer on another SFU left: its tracks stop here as they would for a local peer.
    pub fn remove_remote_peer(&mut self, now: Instant, peer: PeerId) {
        let Some((group, mids)) = self.cluster.remove_remote_peer(peer) else {
            return;
        };
        for mid in mids {
            self.tracks.remove(&TrackKey { peer, mid });
        }
        self.ranking.remove_peer(group, peer);
        self.unsubscribe_group(group, peer);
        self.rerank(now, group);
        self.settle(now);
    }

    /// This SFU holds none of `group` any more: forget what it relayed of it.
    pub fn forget_remote_group(&mut self, now: Instant, group: GroupId) {
        self.cluster.set_spread(group, false);
        let gone: Vec<PeerId> = self.cluster.remote_members(group).collect();
        for peer in gone {
            self.remove_remote_peer(now, peer);
        }
    }

    /// Forwards packets relayed from the SFUs owning their tracks to the subscribers here.
    pub fn relay_in(&mut self, now: Instant, packets: impl IntoIterator<Item = ForwardedPacket>) {
        for packet in packets {
            let Some(group) = self.tracks.get(&packet.track).map(|t| t.group) else {
                continue;
            };
            self.fan_out(now, group, &packet);
        }
        self.settle(now);
    }

    /// Another SFU's subscriber needs a keyframe of `track`, published here.
    pub fn relay_keyframe_request(
        &mut self,
        now: Instant,
        track: TrackKey,
        kind: KeyframeRequestKind,
    ) {
        if self.tracks.get(&track).is_some_and(|t| !t.remote) {
            self.request_keyframe(now, track, kind);
            self.settle(now);
        }
    }

    /// The SFU `from` (any number the caller tells the SFUs apart by) needs these layers of
    /// tracks published here (its `LayersWanted` output). Replaces what it said before.
    pub fn set_remote_layer_needs(
        &mut self,
        now: Instant,
        from: u64,
        needs: impl IntoIterator<Item = (TrackKey, Vec<Rid>)>,
    ) {
        for (track, rids) in needs {
            if self.tracks.get(&track).is_none_or(|t| t.remote) {
                continue;
            }
            self.cluster.set_needs(now, from, track, rids);
        }
    }
}

/// Removes the entries of `list` due at `now` and returns them, in order. (These lists are
/// short: a peer's ICE check after a disconnect, a throttled keyframe request.)
fn take_due<T>(list: &mut Vec<(T, Instant)>, now: Instant) -> Vec<T> {
    if list.iter().all(|(_, due)| *due > now) {
        return Vec::new();
    }
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(list)
        .into_iter()
        .partition(|(_, due)| *due <= now);
    *list = later;
    due.into_iter().map(|(item, _)| item).collect()
}

/// What the SFU's tests look at or set beyond the public API.
#[cfg(test)]
impl Sfu {
    pub(crate) fn set_selective_audio_after(&mut self, after: usize) {
        self.config.selective_audio_after = after;
    }

    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(&id)
    }

    /// Publishers on other SFUs known here.
    pub(crate) fn remote_publishers(&self) -> usize {
        self.cluster.remote_members_all().count()
    }

    /// Tracks of `publisher` forwarded here.
    pub(crate) fn tracks_of(&self, publisher: PeerId) -> usize {
        self.tracks.keys().filter(|k| k.peer == publisher).count()
    }

    /// Subscriptions open on `publisher`'s tracks, over every peer here.
    pub(crate) fn open_subscriptions_to(&self, publisher: PeerId) -> usize {
        self.peers
            .values()
            .flat_map(|p| &p.negotiation.subscriptions)
            .filter(|s| s.track.peer == publisher && s.line.open_mid().is_some())
            .count()
    }
}
