//! One forwarded RTP packet: what every subscriber's copy is made from, here or on another
//! SFU of the group, and how a copy is made.

use crate::peer::Peer;
use crate::rewrite::Continuity;
use crate::types::TrackKey;
use std::sync::Arc;
use std::time::Instant;
use str0m::format::PayloadParams;
use str0m::media::{Mid, Rid};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo, VideoOrientation};

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
    /// The publisher's sequence number, extended (it never wraps).
    pub fn seq(&self) -> u64 {
        *self.seq_no
    }

    /// The publisher's RTP timestamp.
    pub fn rtp_time(&self) -> u32 {
        self.rtp_time
    }

    /// The RTP marker bit (the last packet of a video frame).
    pub fn marker(&self) -> bool {
        self.marker
    }

    /// The payload as the publisher sent it (encrypted frames stay encrypted).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The extensions a subscriber's copy carries: only what its decoder or player uses;
    /// str0m adds mid and the transport extensions itself.
    #[inline]
    pub(crate) fn out_ext(&self) -> ExtensionValues {
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
    pub(crate) fn copy_for(
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
