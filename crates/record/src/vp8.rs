//! VP8 over RTP (RFC 7741): the payload descriptor in front of each packet's share of a
//! frame, and what a frame's first bytes say (keyframe, picture size).

/// Where the VP8 data of an RTP payload starts, and whether the packet starts a frame
/// (S bit set, partition 0). None for a payload too short for its descriptor.
pub fn descriptor(payload: &[u8]) -> Option<(usize, bool)> {
    let first = *payload.first()?;
    let starts = first & 0x10 != 0 && first & 0x07 == 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        // X: an extension byte says which optional fields follow.
        let ext = *payload.get(at)?;
        at += 1;
        if ext & 0x80 != 0 {
            // I: PictureID, 7 or 15 bits (M bit).
            at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // T or K: TID/Y/KEYIDX
        }
    }
    (at <= payload.len()).then_some((at, starts))
}

/// Whether a whole VP8 frame is a keyframe (P bit of the frame tag clear).
pub fn is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 0x01 == 0)
}

/// The picture size a keyframe declares (after the 3-byte tag: start code 9d 01 2a, then
/// 14-bit width and height, little-endian).
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if !is_keyframe(frame) || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3FFF;
    let height = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3FFF;
    Some((width, height))
}

/// Joins the packets of a frame, in sequence order, into the frame.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    /// The frame being joined: its RTP timestamp and data so far.
    current: Option<(u32, Vec<u8>)>,
}

impl FrameAssembler {
    /// The next packet in sequence order; `gap`: packets before it were lost. Returns a
    /// frame when this packet completes one (its marker bit).
    pub fn push(
        &mut self,
        gap: bool,
        rtp_time: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<(u32, Vec<u8>)> {
        if gap {
            // A frame with a hole cannot be decoded: wait for the next frame's start.
            self.current = None;
        }
        let (at, starts) = descriptor(payload)?;
        if starts {
            self.current = Some((rtp_time, Vec::with_capacity(payload.len() * 4)));
        }
        let (time, data) = self.current.as_mut()?;
        if *time != rtp_time {
            // A frame whose last packet never came (its marker lost with it).
            self.current = None;
            return None;
        }
        data.extend_from_slice(&payload[at..]);
        if marker {
            return self.current.take();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_of_every_shape() {
        assert_eq!(descriptor(&[0x10, 0xAA]), Some((1, true)));
        assert_eq!(descriptor(&[0x00, 0xAA]), Some((1, false)));
        assert_eq!(descriptor(&[0x11, 0xAA]), Some((1, false)), "partition 1");
        // X with a 15-bit PictureID, TL0PICIDX and TID.
        assert_eq!(
            descriptor(&[0x90, 0xF0, 0x81, 0x02, 0x03, 0x04, 0xAA]),
            Some((6, true))
        );
        assert_eq!(
            descriptor(&[0x90, 0x80, 0x05, 0xAA]),
            Some((3, true)),
            "7-bit id"
        );
        assert_eq!(descriptor(&[0x90, 0x80]), None);
        assert_eq!(descriptor(&[]), None);
    }

    #[test]
    fn a_keyframe_says_its_size() {
        let frame = [
            0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0x00,
        ];
        assert!(is_keyframe(&frame));
        assert_eq!(keyframe_size(&frame), Some((320, 240)));
        assert_eq!(
            keyframe_size(&[0x51, 0, 0, 0x9d, 0x01, 0x2a, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn frames_are_joined_and_a_hole_drops_the_frame() {
        let mut frames = FrameAssembler::default();
        assert_eq!(frames.push(false, 1, false, &[0x10, 1, 2]), None);
        assert_eq!(
            frames.push(false, 1, true, &[0x00, 3]),
            Some((1, vec![1, 2, 3]))
        );
        assert_eq!(frames.push(false, 2, false, &[0x10, 4]), None);
        assert_eq!(
            frames.push(true, 2, true, &[0x00, 5]),
            None,
            "its middle was lost"
        );
        assert_eq!(frames.push(false, 3, true, &[0x10, 6]), Some((3, vec![6])));
    }
}
