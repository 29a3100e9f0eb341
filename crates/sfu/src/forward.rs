//! The forwarding path: one received RTP packet to every subscriber of its track (on their
//! own mids, or on their audio slots), and keyframe requests back to publishers.
//!
//! The chain, for a packet published here: `Sfu::drain` polls the publisher's `Rtc` →
//! `forward` (which track? may it be sent?) → `fan_out` (per subscriber: which layer, then
//! `ForwardedPacket::copy_for` rewrites the header and `Outbox::write` hands it to the
//! subscriber's `Rtc`) → `fan_out_to_slots` for microphones in a large group → back in the
//! caller, `Sfu::settle` drains every subscriber written to, and their datagrams leave.
//! A packet relayed from another SFU enters at `fan_out` (`Sfu::relay_in`).

use crate::outbox::ClusterMessage;
use crate::peer::Peer;
use crate::rewrite::Continuity;
use crate::simulcast::{vp8_keyframe_height, vp8_starts_keyframe};
use crate::track::Track;
use crate::{GroupId, MediaKind, PeerId, Sfu, Source, TrackKey};
use std::sync::Arc;
use std::time::Instant;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{KeyframeRequestKind, Mid, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo, VideoOrientation};

/// One RTP packet of a track, as forwarded: what every subscriber's copy is made from, here
/// or on another SFU of the group (`ClusterMessage::Relay`).
#[derive(Debug, Clone)]
pub struct ForwardedPacket {
    pub track: TrackKey,
    /// The simulcast layer it belongs to.
    pub rid: Option<Rid>,
    /// The publisher's codec for its payload type.
    pub params: PayloadParams,
    pub(crate) seq_no: SeqNo,
    pub(crate) rtp_time: u32,
    pub(crate) marker: bool,
    /// When the publisher's packet arrived.
    pub(crate) arrival: Instant,
    pub(crate) audio_level: Option<i8>,
    pub(crate) voice_activity: Option<bool>,
    pub(crate) video_orientation: Option<VideoOrientation>,
    /// Shared by every copy, never copied.
    pub(crate) payload: Arc<[u8]>,
}

impl ForwardedPacket {
    /// The extensions a subscriber's copy carries: only what its decoder or player uses;
    /// str0m adds mid and the transport extensions itself.
    #[inline]
    fn out_ext(&self) -> ExtensionValues {
        ExtensionValues {
            audio_level: self.audio_level,
            voice_activity: self.voice_activity,
            video_orientation: self.video_orientation,
            ..ExtensionValues::default()
        }
    }

    /// The subscriber's copy for its outgoing `mid`: payload type, numbering and timestamp
    /// rewritten; None when it cannot be sent there (no matching codec, or from before the
    /// stream's current start).
    #[inline]
    fn copy_for(
        &self,
        sub: &mut Peer,
        mid: Mid,
        ext: &ExtensionValues,
        continuity: Continuity,
        nackable: bool,
    ) -> Option<RtpWrite> {
        let (pt, seq_no, timestamp) =
            sub.rewrite(mid, self.params, self.seq_no, self.rtp_time, continuity)?;
        let write = RtpWrite::new(pt, seq_no, timestamp, self.arrival, self.payload.clone())
            .marker(self.marker)
            .ext_vals(ext.clone())
            .nackable(nackable);
        Some(write)
    }
}

impl Sfu {
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
        // Subscribers on other SFUs (a room spread over workers) get it through the caller.
        if self.cluster.is_spread(group) {
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
            let Some((mid, continuity)) = sub.slots.slot_for(now, key, voice) else {
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
}
