//! Sending canned media as RTP. The simulated participant runs str0m in RTP mode (see
//! `client.rs` for why), so it does what a browser's packetizer does itself: one Opus frame
//! per packet, VP8 frames split per RFC 7741, its own sequence numbers per stream.

use std::time::Instant;
use str0m::format::Codec;
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::Rtc;

/// Most frame bytes one VP8 packet carries: with descriptor, RTP header, extensions and the
/// SRTP tag a packet stays under 1200 bytes, as browsers keep them. Keyframes (up to 3000
/// bytes) therefore span packets, as real ones do.
pub(crate) const MAX_VP8_CHUNK: usize = 1100;

/// The first sequence number of every stream. Below 65536, so the rollover counter starts at
/// 0 as the receiver assumes (anything else would need signalling).
const FIRST_SEQ: u64 = 1000;

/// One outgoing RTP stream: an m-line, or one simulcast layer (rid) of it.
pub(crate) struct OutgoingStream {
    mid: Mid,
    rid: Option<Rid>,
    pt: Pt,
    /// Extended: str0m derives the rollover counter from the upper bits.
    next_seq: u64,
    /// VP8 picture id (15 bits), one per frame, as browsers send it.
    picture_id: u16,
}

impl OutgoingStream {
    /// The stream `mid` (and `rid`) sending `codec` with this client's payload type for it.
    /// None when the codec is not configured.
    pub(crate) fn new(rtc: &Rtc, mid: Mid, rid: Option<Rid>, codec: Codec) -> Option<Self> {
        // We offer our own media, so the payload types in the SDP are our configuration's.
        let pt = rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == codec)?
            .pt();
        Some(Self {
            mid,
            rid,
            pt,
            next_seq: FIRST_SEQ,
            picture_id: 0,
        })
    }

    /// Sends one Opus frame in one packet with its RFC 6464 level (-127: silence, so no voice
    /// activity). Not retransmittable: audio is never NACKed.
    pub(crate) fn write_opus(&mut self, rtc: &mut Rtc, rtp_time: u32, frame: Vec<u8>, level: i8) {
        let ext = ExtensionValues {
            audio_level: Some(level),
            voice_activity: Some(level > crate::canned::SILENCE),
            ..ExtensionValues::default()
        };
        // Audio's marker bit means "start of a talkspurt"; a constant stream has none.
        self.write(rtc, [(frame, false)], rtp_time, ext, false);
    }

    /// Sends one VP8 frame, packetized per RFC 7741, marker bit on its last packet.
    pub(crate) fn write_vp8(&mut self, rtc: &mut Rtc, rtp_time: u32, frame: &[u8]) {
        let packets = vp8_packets(frame, self.picture_id);
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        let last = packets.len().saturating_sub(1);
        let packets = packets.into_iter().enumerate().map(|(i, p)| (p, i == last));
        self.write(rtc, packets, rtp_time, ExtensionValues::default(), true);
    }

    /// Writes packets (payload, marker) with consecutive sequence numbers. Nothing is sent
    /// (and no number used) while str0m has no send stream for this mid and rid yet: it makes
    /// them, with SSRC and RTX SSRC per rid, when the answer to our offer is applied.
    fn write(
        &mut self,
        rtc: &mut Rtc,
        packets: impl IntoIterator<Item = (Vec<u8>, bool)>,
        rtp_time: u32,
        ext: ExtensionValues,
        nackable: bool,
    ) {
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(self.mid, self.rid) else {
            return;
        };
        let now = Instant::now();
        for (payload, marker) in packets {
            let write = RtpWrite::new(self.pt, self.next_seq.into(), rtp_time, now, payload)
                .marker(marker)
                .ext_vals(ext.clone())
                .nackable(nackable);
            tx.write_rtp(write);
            self.next_seq += 1;
        }
    }
}

/// An RFC 7741 VP8 payload descriptor of 4 bytes, as browsers send: X=1, S on the frame's
/// first packet, partition 0; then I=1 and a 15-bit picture id (M=1).
fn vp8_descriptor(first: bool, picture_id: u16) -> [u8; 4] {
    let start = if first { 0x10 } else { 0 };
    [
        0x80 | start,
        0x80,
        0x80 | ((picture_id >> 8) as u8 & 0x7f),
        picture_id as u8,
    ]
}

/// A VP8 frame as RTP payloads: split into equal chunks of at most `MAX_VP8_CHUNK` bytes,
/// each behind a payload descriptor. Equal chunks keep the last one as large as the others,
/// so the 16-byte stamp at the end of a canned frame always sits in the last packet, where
/// the receiver reads it.
pub(crate) fn vp8_packets(frame: &[u8], picture_id: u16) -> Vec<Vec<u8>> {
    let count = frame.len().div_ceil(MAX_VP8_CHUNK).max(1);
    let chunk = frame.len().div_ceil(count).max(1);
    let mut packets = Vec::with_capacity(count);
    for (i, part) in frame.chunks(chunk).enumerate() {
        let mut payload = Vec::with_capacity(4 + part.len());
        payload.extend_from_slice(&vp8_descriptor(i == 0, picture_id));
        payload.extend_from_slice(part);
        packets.push(payload);
    }
    packets
}

/// Where the VP8 data starts in an RTP payload (the RFC 7741 descriptor's length), and
/// whether the payload starts a frame (S=1, partition 0). None when malformed.
pub(crate) fn vp8_payload_start(payload: &[u8]) -> Option<(usize, bool)> {
    let &first = payload.first()?;
    let starts_frame = first & 0x10 != 0 && first & 0x0f == 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        let &x = payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    (at <= payload.len()).then_some((at, starts_frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned;

    #[test]
    fn a_keyframe_spans_packets_and_reassembles() {
        let mut key = canned::vp8_frame(true, 3000);
        canned::stamp(&mut key, 7, 42);
        let packets = vp8_packets(&key, 300);
        assert_eq!(packets.len(), 3);
        let mut whole = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            assert!(p.len() <= MAX_VP8_CHUNK + 4);
            let (at, starts) = vp8_payload_start(p).expect("well formed");
            assert_eq!(at, 4);
            assert_eq!(starts, i == 0);
            whole.extend_from_slice(&p[at..]);
        }
        assert_eq!(whole, key);
        let (at, _) = vp8_payload_start(&packets[0]).expect("well formed");
        assert!(canned::vp8_is_keyframe(&packets[0][at..]));
        let (at, _) = vp8_payload_start(&packets[2]).expect("well formed");
        assert_eq!(canned::read_stamp(&packets[2][at..]), Some((7, 42)));
    }

    #[test]
    fn a_small_frame_is_one_packet_and_picture_ids_are_15_bits() {
        let packets = vp8_packets(&canned::vp8_frame(false, 900), 0x1234);
        assert_eq!(packets.len(), 1);
        assert_eq!(&packets[0][..4], &[0x90, 0x80, 0x92, 0x34]);
        assert_eq!(vp8_payload_start(&[0x10, 1, 2]), Some((1, true)));
        assert_eq!(vp8_payload_start(&[0x80]), None);
    }
}
