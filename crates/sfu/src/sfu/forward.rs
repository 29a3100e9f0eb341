//! The packet path, in the order a packet takes it (this file reads top to bottom):
//!
//! 1. `handle_receive_batch` (or `handle_receive` for one packet, ICE-TCP too) gets packets
//!    the caller already routed to their peer (`Demux`);
//! 2. `receive` hands each to its peer's `Rtc` and `drain`s that peer: str0m decrypts, and
//!    `on_event` acts on what it yields;
//! 3. an RTP packet goes to `forward` (which track? may its sender send it?), which makes one
//!    `ForwardedPacket` (one shared payload) and
//! 4. `fan_out`s it: per subscriber of the track, which simulcast layer, then
//!    `ForwardedPacket::copy_for` rewrites the header (`RtpRewrite`) and `Outbox::write` hands
//!    the copy to the subscriber's `Rtc`; microphones in a large group also go to the audio
//!    slots (`fan_out_to_slots`);
//! 5. back in step 1, `settle` drains every subscriber written to: str0m encrypts, and the
//!    datagrams wait in the outbox as `SfuOutput::Transmit` for the caller's `sendmmsg`.
//!
//! A packet relayed from another SFU of the group enters at step 4 (`Sfu::relay_in`).
//! Keyframe requests go the other way (`request_keyframe`).

use super::Sfu;
use crate::outbox::{ClusterMessage, EndCause, Signal};
use crate::packet::ForwardedPacket;
use crate::peer::Announced;
use crate::rewrite::Continuity;
use crate::simulcast::{vp8_keyframe_height, vp8_starts_keyframe};
use crate::track::Track;
use crate::types::{GroupId, PeerId, Source, TrackKey, ICE_RECOVERY};
use std::net::SocketAddr;
use std::time::Instant;
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket};
use str0m::{Event, IceConnectionState, Input, Output};

impl Sfu {
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

    /// Polls one peer until str0m yields a timeout, acting on its events.
    pub(crate) fn drain(&mut self, now: Instant, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            // Written packets wait in str0m's send queue until a timeout pass (its pacer's
            // queue state), and after a write str0m asks for one at once. Running it here,
            // before polling, saves the poll that would only say so and a turn of the worker's
            // loop, and the packets leave in this turn's sendmmsg.
            if std::mem::take(&mut peer.written) && peer.timeout_pass(now).is_err() {
                self.outbox.faulted.push(id);
                return;
            }
        }
        loop {
            self.negotiate_if_wanted(id);
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            match peer.with_rtc(|rtc| rtc.poll_output()) {
                Ok(Output::Timeout(t)) => {
                    if let Some(old) = peer.next_timeout.replace(t) {
                        self.timers.remove(&(old, id));
                    }
                    self.timers.insert((t, id));
                    return;
                }
                Ok(Output::Transmit(t)) => self.outbox.transmit(t),
                Ok(Output::Event(event)) => self.on_event(now, id, event),
                Err(_) => {
                    self.outbox.faulted.push(id);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, id: PeerId, event: Event) {
        match event {
            Event::MediaAdded(added) if added.direction.is_receiving() => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.announced.push(Announced {
                        mid: added.mid,
                        kind: added.kind,
                        tried: false,
                    });
                }
            }
            Event::RtpPacket(packet) => self.forward(now, id, packet),
            Event::EgressBitrateEstimate(kind) => self.on_estimate(id, kind),
            Event::PeerStats(stats) => self.on_link_report(now, id, &stats),
            Event::KeyframeRequest(req) => {
                let source = self.peers[&id]
                    .negotiation
                    .subscription_on_mid(req.mid)
                    .map(|s| s.track);
                if let Some(source) = source {
                    self.request_keyframe(now, source, req.kind);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Often transient (a busy or briefly offline client): browsers resume their
                // checks and the connection recovers. Give up only after ICE_RECOVERY.
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.ice_lost_at.get_or_insert(now);
                }
                self.ice_recovery_checks.push((id, now + ICE_RECOVERY));
            }
            Event::IceConnectionStateChange(_) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.ice_lost_at = None;
                }
            }
            Event::Closed => self.outbox.faulted.push(id),
            Event::Connected => tracing::debug!(peer = id.0, "media connected"),
            _ => {}
        }
    }

    /// Forwards one RTP packet (RTX already unwrapped by str0m) from publisher `id` to every
    /// subscriber of its track: no depacketizing, one shared payload, per subscriber only a
    /// header rewrite and SRTP. Per packet this costs O(subscribers of the track) and no
    /// allocation beyond str0m's.
    pub(crate) fn forward(&mut self, now: Instant, id: PeerId, packet: RtpPacket) {
        let ssrc = packet.header.ssrc;
        let Some(publisher) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((mid, rid, params)) = publisher.rx_lookup(ssrc, packet.header.payload_type) else {
            return;
        };
        let key = TrackKey { peer: id, mid };
        let Some(track) = self.tracks.get(&key) else {
            // The first packet on this mid: publish it (subscribers open it by renegotiating
            // and then ask for a keyframe, so nothing is forwarded before that).
            self.publish(id, mid);
            return;
        };
        if !publisher.may_send(track.kind) {
            self.outbox.stats.packets_blocked += 1;
            return;
        }
        let group = publisher.group;
        let ext = &packet.header.ext_vals;
        let forwarded = ForwardedPacket {
            track: key,
            rid,
            params,
            seq_no: packet.seq_no,
            rtp_time: packet.header.timestamp,
            marker: packet.header.marker,
            arrival: packet.timestamp,
            audio_level: ext.audio_level,
            voice_activity: ext.voice_activity,
            video_orientation: ext.video_orientation,
            payload: packet.payload,
        };
        self.fan_out(now, group, &forwarded);
        // Subscribers on other SFUs (a room spread over workers) get it through the caller,
        // and so does a recording of the room.
        let taps = self.cluster.taps(group);
        if taps.record {
            let packet = forwarded.clone(); // the payload is shared, not copied
            self.outbox
                .cluster(ClusterMessage::Record { group, packet });
        }
        if taps.relay {
            self.outbox.stats.packets_relayed += 1;
            self.outbox.cluster(ClusterMessage::Relay {
                group,
                packet: forwarded,
            });
        }
    }

    /// Forwards one packet of `packet.track` (published here or relayed from another SFU) to
    /// this SFU's subscribers of that track.
    pub(crate) fn fan_out(&mut self, now: Instant, group: GroupId, packet: &ForwardedPacket) {
        let key = packet.track;
        let rid = packet.rid;
        let rank = self.ranking.rank_of(key.peer);
        let Some(track) = self.tracks.get_mut(&key) else {
            return;
        };
        // Only VP8's keyframes are recognised in RTP; other codecs keep their first layer.
        let vp8 = packet.params.spec().codec == Codec::Vp8;
        let keyframe = rid.is_some() && vp8 && vp8_starts_keyframe(&packet.payload);
        let height = keyframe.then(|| vp8_keyframe_height(&packet.payload));
        track
            .layers
            .saw(rid, now, packet.payload.len(), height.flatten());
        let source = track.source;
        let mut resume = false;
        if source == Source::Microphone {
            if let Some(level) = packet.audio_level {
                // A large room forwards only who speaks (`SfuConfig::selective_audio_after`).
                if !self.ranking.on_level(now, group, key.peer, level) {
                    track.audio_held = true;
                    return;
                }
                resume = std::mem::take(&mut track.audio_held);
            }
        }
        let track: &Track = track;
        let out_ext = packet.out_ext();
        let nackable = track.kind == MediaKind::Video;
        let mut wants_keyframe = false;
        for &(sub_id, sub_mid) in &track.subscribers {
            let Some(sub) = self.peers.get_mut(&sub_id) else {
                continue;
            };
            if !sub.receive_video.allows(source, rank) {
                continue;
            }
            // Simulcast: forward only this subscriber's layer; switch only on a keyframe.
            let mut switch_to = None;
            if let Some(rid) = rid {
                // The adaptation's choice (adapt.rs); quality alone until it has decided.
                let target = match sub.adapt.target(sub_mid) {
                    Some(decided) => track.layers.pick(decided, now),
                    None => track.layers.target(sub.receive_video, now),
                };
                let current = sub.layer_of(sub_mid);
                if target.is_none() {
                    // Nothing for this subscriber now (hidden tile, no bandwidth): resuming
                    // then waits for a keyframe and continues the numbering.
                    sub.pause_layer(sub_mid);
                    continue;
                }
                wants_keyframe |= target != current;
                if current != Some(rid) {
                    let may_switch = keyframe || (!vp8 && current.is_none());
                    if target != Some(rid) || !may_switch {
                        continue;
                    }
                    switch_to = Some(rid);
                }
            }
            let continuity = match switch_to {
                Some(layer) => Continuity::SwitchLayer(layer),
                None if resume => Continuity::Resume,
                None => Continuity::Same,
            };
            let Some(write) = packet.copy_for(sub, sub_mid, &out_ext, continuity, nackable) else {
                continue;
            };
            let bytes = packet.payload.len();
            self.outbox.write(sub_id, sub, sub_mid, write, bytes);
        }
        if wants_keyframe {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        if source == Source::Microphone {
            self.fan_out_to_slots(now, group, packet, &out_ext, resume);
        }
    }

    /// Forwards one heard microphone packet to the group's slot subscribers (slots.rs). Per
    /// packet O(slot subscribers × SLOT_COUNT), like a track's own subscriber list.
    fn fan_out_to_slots(
        &mut self,
        now: Instant,
        group: GroupId,
        packet: &ForwardedPacket,
        out_ext: &ExtensionValues,
        resume: bool,
    ) {
        let Some(subscribers) = self.slot_subscribers.get(&group) else {
            return;
        };
        let key = packet.track;
        let voice = packet
            .audio_level
            .is_some_and(|level| level >= crate::speaker::VOICE_DBOV);
        for &sub_id in subscribers {
            if sub_id == key.peer {
                continue;
            }
            let Some(sub) = self.peers.get_mut(&sub_id) else {
                continue;
            };
            let Some((mid, continuity)) = sub.negotiation.slots.slot_for(now, key, voice) else {
                continue;
            };
            if matches!(continuity, Continuity::NewSource { .. }) {
                self.outbox.signal(crate::outbox::Signal::SlotOwner {
                    peer: sub_id,
                    mid,
                    publisher: key.peer,
                });
            }
            let continuity = match continuity {
                Continuity::Same if resume => Continuity::Resume,
                other => other,
            };
            let Some(write) = packet.copy_for(sub, mid, out_ext, continuity, false) else {
                continue;
            };
            let bytes = packet.payload.len();
            self.outbox.write(sub_id, sub, mid, write, bytes);
        }
    }

    /// Asks the publisher of `source` for a keyframe (every layer), at most once per
    /// `keyframe_request_interval`: a request inside it is deferred, not dropped.
    pub(crate) fn request_keyframe(
        &mut self,
        now: Instant,
        source: TrackKey,
        kind: KeyframeRequestKind,
    ) {
        let Some(track) = self.tracks.get_mut(&source) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        if let Some(last) = track.last_keyframe_request {
            let due = last + self.config.keyframe_request_interval;
            if now < due {
                // Throttled, not dropped: the subscriber asking now still needs its keyframe.
                if !self
                    .deferred_keyframes
                    .iter()
                    .any(|(key, _)| *key == source)
                {
                    self.deferred_keyframes.push((source, due));
                }
                return;
            }
        }
        track.last_keyframe_request = Some(now);
        if track.remote {
            // Published on another SFU: its owner asks the publisher (and throttles too).
            self.outbox.cluster(ClusterMessage::KeyframeWanted {
                track: source,
                kind,
            });
            return;
        }
        let Some(peer) = self.peers.get_mut(&source.peer) else {
            return;
        };
        let rids: Vec<Option<Rid>> = std::iter::once(None)
            .chain(track.layers.rids().map(Some))
            .collect();
        if peer.request_keyframe(source.mid, &rids, kind).is_err() {
            self.outbox.faulted.push(source.peer);
        }
        self.outbox.stats.keyframe_requests_sent += 1;
        self.outbox.mark_dirty(source.peer, peer);
    }

    pub(crate) fn mark_dirty(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            self.outbox.mark_dirty(id, peer);
        }
    }

    /// Finishes a call: drains every dirty peer (forwarding can dirty more), then removes
    /// faulted peers, until nothing is left to do.
    pub(crate) fn settle(&mut self, now: Instant) {
        loop {
            while let Some(id) = self.outbox.next_dirty() {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.queued = false;
                    self.drain(now, id);
                }
            }
            if self.outbox.faulted.is_empty() {
                break;
            }
            for id in std::mem::take(&mut self.outbox.faulted) {
                let Some(peer) = self.peers.get(&id) else {
                    continue;
                };
                let cause = match peer.fault() {
                    Some(fault) => {
                        tracing::info!(peer = id.0, %fault, "media peer failed");
                        EndCause::Fault(fault.clone())
                    }
                    None => EndCause::ConnectionLost,
                };
                tracing::info!(peer = id.0, %cause, "media peer gone");
                self.detach(id);
                self.outbox.signal(Signal::PeerGone { peer: id, cause });
            }
        }
    }
}
