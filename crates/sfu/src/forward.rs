//! The forwarding path: one received RTP packet to every subscriber of its track, and
//! keyframe requests back to publishers. Methods of `Sfu` like the rest of the crate.

use crate::peer::{Continuity, Peer};
use crate::relay::RelayedPacket;
use crate::simulcast::{vp8_keyframe_height, vp8_starts_keyframe};
use crate::{
    GroupId, MediaKind, PeerId, Sfu, SfuOutput, SfuStats, Source, Track, TrackKey, EVALUATE_EVERY,
};
use std::collections::VecDeque;
use std::time::Instant;
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, Mid, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};

/// The subscriber's copy of `packet` for its outgoing `mid`: payload type, numbering and
/// timestamp rewritten; None when it cannot be sent there (no matching codec, or from before
/// the stream's current start).
pub(crate) fn prepare_write(
    sub: &mut Peer,
    mid: Mid,
    packet: &RelayedPacket,
    out_ext: &ExtensionValues,
    continuity: Continuity,
    nackable: bool,
) -> Option<RtpWrite> {
    let (pt, seq_no, timestamp) = sub.outgoing(
        mid,
        packet.params,
        packet.seq_no,
        packet.rtp_time,
        continuity,
    )?;
    Some(
        RtpWrite::new(
            pt,
            seq_no,
            timestamp,
            packet.arrival,
            packet.payload.clone(),
        )
        .marker(packet.marker)
        .ext_vals(out_ext.clone())
        .nackable(nackable),
    )
}

/// Writes one prepared packet to a subscriber, counts it, and queues the subscriber for
/// draining (once per batch).
pub(crate) fn write_to(
    sub: &mut Peer,
    (sub_id, mid): (PeerId, Mid),
    write: RtpWrite,
    bytes: usize,
    stats: &mut SfuStats,
    dirty: &mut VecDeque<PeerId>,
    faulted: &mut Vec<PeerId>,
) {
    match sub.write_rtp(mid, write) {
        Ok(true) => {
            sub.written = true;
            stats.packets_forwarded += 1;
            stats.bytes_forwarded += bytes as u64;
        }
        Ok(false) => {}
        Err(_) => faulted.push(sub_id),
    }
    if !sub.queued {
        sub.queued = true;
        dirty.push_back(sub_id);
    }
}

impl Sfu {
    /// Forwards one RTP packet (RTX already unwrapped by str0m) to every subscriber of its
    /// track: no depacketizing, one shared payload, per subscriber only a header rewrite and
    /// SRTP. Per packet this costs O(subscribers of the track) and no allocation beyond str0m's.
    pub(crate) fn forward(&mut self, now: Instant, id: PeerId, packet: RtpPacket) {
        let ssrc = packet.header.ssrc;
        let Some(publisher) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((mid, rid, params)) = publisher.incoming(ssrc, packet.header.payload_type) else {
            return;
        };
        let key = TrackKey { peer: id, mid };
        let Some(track) = self.tracks.get(&key) else {
            // The first packet on this mid: publish it (subscribers open it by renegotiating
            // and then ask for a keyframe, so nothing is forwarded before that).
            self.publish(id, mid);
            return;
        };
        let allowed = match track.kind {
            MediaKind::Audio => publisher.may_send_audio,
            MediaKind::Video => publisher.may_send_video,
        };
        if !allowed {
            self.stats.packets_blocked += 1;
            return;
        }
        let group = publisher.group;
        let ext = &packet.header.ext_vals;
        let relayed = RelayedPacket {
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
        self.fan_out(now, group, &relayed);
        // Subscribers on other SFUs (a room spread over workers) get it through the caller.
        if self.spread_groups.contains(&group) {
            self.stats.packets_relayed += 1;
            self.outputs.push_back(SfuOutput::Relay {
                group,
                packet: relayed,
            });
        }
    }

    /// Forwards one packet of `packet.track` (published here or relayed from another SFU) to
    /// this SFU's subscribers of that track.
    pub(crate) fn fan_out(&mut self, now: Instant, group: GroupId, packet: &RelayedPacket) {
        let key = packet.track;
        let rid = packet.rid;
        let params = packet.params;
        let rank = self.rank_of(key.peer);
        let Some(track) = self.tracks.get_mut(&key) else {
            return;
        };
        // Only VP8's keyframes are recognised in RTP; other codecs keep their first layer.
        let vp8 = params.spec().codec == Codec::Vp8;
        let keyframe = rid.is_some() && vp8 && vp8_starts_keyframe(&packet.payload);
        let height = keyframe.then(|| vp8_keyframe_height(&packet.payload));
        track
            .layers
            .saw(rid, now, packet.payload.len(), height.flatten());
        let source = track.source;
        let mut resume = false;
        if source == Source::Microphone {
            if let Some(level) = packet.audio_level {
                let detector = self.speakers.entry(group).or_default();
                detector.on_level(now, key.peer, level);
                if self.next_speaker_evaluation.is_none() {
                    self.next_speaker_evaluation = Some(now + EVALUATE_EVERY);
                }
                // A large room forwards only who speaks (`SfuConfig::selective_audio_after`).
                if self.selective_audio.contains(&group) && !detector.heard(now, key.peer) {
                    track.audio_held = true;
                    return;
                }
                resume = std::mem::take(&mut track.audio_held);
            }
        }
        let track: &Track = track;
        // Only what the receiver's decoder or player uses; str0m adds mid and the transport
        // extensions itself.
        let out_ext = ExtensionValues {
            audio_level: packet.audio_level,
            voice_activity: packet.voice_activity,
            video_orientation: packet.video_orientation,
            ..ExtensionValues::default()
        };
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
            let Some(write) = prepare_write(sub, sub_mid, packet, &out_ext, continuity, nackable)
            else {
                continue;
            };
            write_to(
                sub,
                (sub_id, sub_mid),
                write,
                packet.payload.len(),
                &mut self.stats,
                &mut self.dirty,
                &mut self.faulted,
            );
        }
        if wants_keyframe {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        if source == Source::Microphone {
            self.fan_out_to_slots(now, group, packet, &out_ext, resume);
        }
    }

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
            self.outputs.push_back(SfuOutput::KeyframeWanted {
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
        let sent = peer.with_rtc(|rtc| {
            // Every layer: the one a subscriber waits for may be any of them. No receive
            // stream yet (nothing arrived) only means "not possible now".
            for rid in rids {
                if let Some(rx) = rtc.direct_api().stream_rx_by_mid(source.mid, rid) {
                    rx.request_keyframe(kind);
                }
            }
            Ok(())
        });
        if sent.is_err() {
            self.faulted.push(source.peer);
        }
        self.stats.keyframe_requests_sent += 1;
        self.mark_dirty(source.peer);
    }
}
