//! The SFU's plain value types: ids, what a track carries, what a subscriber receives, the
//! configuration and the errors. Every module names them from here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use str0m::media::{MediaKind, Mid};
use str0m::RtcError;

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

    pub(crate) fn allows(self, source: Source, publisher_rank: usize) -> bool {
        match (self, source) {
            (_, Source::Microphone | Source::ScreenAudio) => true,
            (Self::None, _) => false,
            (Self::All, _) => true,
            (Self::TopSpeakers(_), Source::Screen) => true,
            (Self::TopSpeakers(n), Source::Camera) => publisher_rank < n,
        }
    }
}

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
    /// `handle_receive` with `Protocol::Tcp`; transmits for these carry `Protocol::Tcp`.
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

/// Why a peer's media session failed. The session cannot go on either way.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerFault {
    /// str0m returned an error.
    #[error("str0m: {0}")]
    Rtc(Arc<RtcError>),
    /// str0m panicked; the `Rtc` is in an unknown state and is dropped.
    #[error("str0m panicked")]
    Panicked,
}
