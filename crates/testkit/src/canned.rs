//! Canned media: payloads that are valid enough for an SFU to route, without an encoder.

/// The TOC byte of every canned Opus frame (config 15: SILK-only wideband 20 ms, mono, one
/// frame).
const OPUS_TOC: u8 = 0x78;

/// The RFC 6464 level of silence (-dBov): what DTX leaves out.
pub const SILENCE: i8 = -127;

/// One 20 ms Opus packet: the TOC byte followed by filler; the SFU never decodes audio.
pub fn opus_frame(seq: u64) -> Vec<u8> {
    let mut frame = vec![OPUS_TOC];
    frame.extend((0..80).map(|i| (seq as u8).wrapping_add(i)));
    frame
}

/// An Opus frame sent during DTX (silence): the TOC byte and room for the stamp only.
pub fn opus_dtx_frame() -> Vec<u8> {
    let mut frame = vec![OPUS_TOC];
    frame.resize(1 + STAMP_LEN, 0);
    frame
}

/// Whether an SDP asks its receiver to send Opus with DTX: the `a=fmtp` line of the payload
/// type that `a=rtpmap` names opus says `usedtx=1` (RFC 7587; a browser honours the other
/// side's description).
pub fn sdp_asks_for_opus_dtx(sdp: &str) -> bool {
    let opus_pts: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, codec)| codec.to_ascii_lowercase().starts_with("opus/"))
        .map(|(pt, _)| pt)
        .collect();
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=fmtp:"))
        .filter_map(|l| l.split_once(' '))
        .any(|(pt, params)| {
            opus_pts.contains(&pt) && params.split(';').any(|p| p.trim() == "usedtx=1")
        })
}

/// A VP8 frame of about `size` bytes. Keyframes carry the 3-byte frame tag with the P bit
/// clear, the start code 9d 01 2a and a 640x480 size; interframes set the P bit.
pub fn vp8_frame(keyframe: bool, size: usize) -> Vec<u8> {
    vp8_frame_sized(keyframe, size, 640, 480)
}

/// `vp8_frame` whose keyframes declare `width` x `height` (simulcast layers differ).
pub fn vp8_frame_sized(keyframe: bool, size: usize, width: u16, height: u16) -> Vec<u8> {
    let first_partition: u32 = 16;
    // Frame tag: bit 0 = P (0 for key), bits 1-3 version 0, bit 4 show_frame, 19 bits size.
    let tag: u32 = u32::from(!keyframe) | (1 << 4) | (first_partition << 5);
    let mut frame = vec![tag as u8, (tag >> 8) as u8, (tag >> 16) as u8];
    if keyframe {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&width.to_le_bytes());
        frame.extend_from_slice(&height.to_le_bytes());
    }
    frame.resize(size.max(frame.len()), 0x5a);
    frame
}

/// Length of the stamp at the end of every canned frame.
pub const STAMP_LEN: usize = 16;

/// Writes the frame's number and its send time (Unix nanoseconds, comparable between
/// processes on one host) into the last 16 bytes, for loss and one-way latency measurement.
pub fn stamp(frame: &mut [u8], counter: u64, unix_nanos: u64) {
    let at = frame.len().saturating_sub(STAMP_LEN);
    if frame.len() >= STAMP_LEN {
        frame[at..at + 8].copy_from_slice(&counter.to_le_bytes());
        frame[at + 8..].copy_from_slice(&unix_nanos.to_le_bytes());
    }
}

/// Reads back `stamp`: (counter, send time in Unix nanoseconds).
pub fn read_stamp(frame: &[u8]) -> Option<(u64, u64)> {
    let at = frame.len().checked_sub(STAMP_LEN)?;
    let counter = u64::from_le_bytes(frame[at..at + 8].try_into().ok()?);
    let nanos = u64::from_le_bytes(frame[at + 8..].try_into().ok()?);
    Some((counter, nanos))
}

/// Now as Unix nanoseconds.
pub fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Whether a VP8 payload is a keyframe (P bit clear).
pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_frames_have_the_right_tag() {
        let key = vp8_frame(true, 900);
        assert_eq!(key.len(), 900);
        assert!(vp8_is_keyframe(&key));
        assert_eq!(&key[3..6], &[0x9d, 0x01, 0x2a]);
        assert!(!vp8_is_keyframe(&vp8_frame(false, 900)));
    }

    #[test]
    fn opus_dtx_is_read_from_the_opus_fmtp_line_only() {
        let with =
            "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n";
        assert!(sdp_asks_for_opus_dtx(with));
        let without = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n";
        assert!(!sdp_asks_for_opus_dtx(without));
        let off = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=0\r\n";
        assert!(!sdp_asks_for_opus_dtx(off));
        // usedtx on another codec's line is not Opus's.
        let other = "a=rtpmap:111 opus/48000/2\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 usedtx=1\r\n";
        assert!(!sdp_asks_for_opus_dtx(other));
        let mut dtx = opus_dtx_frame();
        stamp(&mut dtx, 7, 9);
        assert_eq!(read_stamp(&dtx), Some((7, 9)));
    }

    #[test]
    fn stamps_round_trip_and_keep_the_frame_tag() {
        let mut key = vp8_frame(true, 900);
        stamp(&mut key, 42, 1_700_000_000_123_456_789);
        assert_eq!(read_stamp(&key), Some((42, 1_700_000_000_123_456_789)));
        assert!(vp8_is_keyframe(&key));
        assert_eq!(read_stamp(&[1, 2, 3]), None);
    }
}
