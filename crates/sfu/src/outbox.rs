//! What a call into the SFU leaves behind: outputs for the caller, peers written to that
//! still need draining, peers whose session failed, and the counters. Every entry point
//! ends by settling it (`Sfu::settle`): dirty peers drained, faulted ones removed.

use crate::packet::ForwardedPacket;
use crate::peer::Peer;
use crate::types::{GroupId, OfferedTrack, PeerFault, PeerId, Source, TrackKey};
use std::collections::VecDeque;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Rid};
use str0m::net::Transmit;
use str0m::rtp::RtpWrite;

/// What the SFU asks of its caller, by who consumes it.
#[derive(Debug)]
pub enum SfuOutput {
    /// Send this datagram (over UDP, or as a frame on its ICE-TCP connection).
    Transmit(Transmit),
    /// Tell signaling: a participant's client, or its room.
    Signal(Signal),
    /// Hand to the other SFUs of a group spread over several (`cluster.rs`).
    Cluster(ClusterMessage),
}

/// What signaling must hear from the SFU.
#[derive(Debug)]
pub enum Signal {
    /// Send this offer to the peer's client; it must answer with `accept_answer`.
    Offer {
        peer: PeerId,
        sdp: String,
        tracks: Vec<OfferedTrack>,
        /// The mids of the peer's audio slots (slots.rs); empty when it has none.
        slots: Vec<String>,
    },
    /// Tell the peer's client that its audio slot `mid` now carries `publisher`'s microphone
    /// (output before the first such packet is written).
    SlotOwner {
        peer: PeerId,
        mid: Mid,
        publisher: PeerId,
    },
    /// The publisher `peer` should encode only these simulcast layers of its track on `mid`
    /// (the others nobody needs now); sent when the set changes.
    Layers {
        peer: PeerId,
        mid: Mid,
        active: Vec<Rid>,
    },
    /// The peer's media session ended (ICE lost, str0m error or panic); it has been removed.
    PeerGone { peer: PeerId, cause: EndCause },
    /// The dominant speaker of a group changed.
    DominantSpeaker { group: GroupId, peer: PeerId },
}

/// What goes between the SFUs holding parts of one group (`cluster.rs`).
#[derive(Debug)]
pub enum ClusterMessage {
    /// A peer here published a track: SFUs holding other peers of its group add it with
    /// `add_remote_track`.
    Published {
        group: GroupId,
        track: TrackKey,
        kind: MediaKind,
        source: Source,
    },
    /// A packet of a track published here, for the other SFUs of a spread group
    /// (`set_spread`): they forward it with `relay_in`.
    Relay {
        group: GroupId,
        packet: ForwardedPacket,
    },
    /// A packet of a track published here, in a group being recorded (`Sfu::set_recorded`):
    /// for the recorder. Every layer of a simulcast track comes; the recorder keeps one.
    Record {
        group: GroupId,
        packet: ForwardedPacket,
    },
    /// A subscriber here needs a keyframe of a track published on another SFU: its owner
    /// takes it with `relay_keyframe_request`.
    KeyframeWanted {
        track: TrackKey,
        kind: KeyframeRequestKind,
    },
    /// Which simulcast layers of tracks published elsewhere this SFU's subscribers need now
    /// (every adaptation round while it has any): the owners take it with
    /// `set_remote_layer_needs`, so a layer is not paused while another SFU uses it.
    LayersWanted { needs: Vec<(TrackKey, Vec<Rid>)> },
}

/// Why a peer's media session ended. What a client may be told is its `Display`: a fixed
/// text per kind; str0m's own error stays in the fault, for the log.
#[derive(Debug, Clone)]
pub enum EndCause {
    /// ICE stayed disconnected past `ICE_RECOVERY`, or the peer connection closed.
    ConnectionLost,
    /// str0m returned an error or panicked.
    Fault(PeerFault),
}

impl std::fmt::Display for EndCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ConnectionLost => "media connection lost",
            Self::Fault(PeerFault::Panicked) => "internal media error",
            Self::Fault(PeerFault::Rtc(_)) => "media error",
        })
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuStats {
    /// Packets fed to the SFU (routed to one of its peers by the caller).
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// RTP packets written to subscribers.
    pub packets_forwarded: u64,
    /// Payload bytes of those packets.
    pub bytes_forwarded: u64,
    /// Packets dropped because their sender may not send that media (moderator mute).
    pub packets_blocked: u64,
    /// Packets output as `Relay` for the other SFUs of a spread group.
    pub packets_relayed: u64,
    pub keyframe_requests_sent: u64,
}

impl std::ops::AddAssign for SfuStats {
    fn add_assign(&mut self, other: Self) {
        self.datagrams_in += other.datagrams_in;
        self.datagrams_out += other.datagrams_out;
        self.packets_forwarded += other.packets_forwarded;
        self.bytes_forwarded += other.bytes_forwarded;
        self.packets_blocked += other.packets_blocked;
        self.packets_relayed += other.packets_relayed;
        self.keyframe_requests_sent += other.keyframe_requests_sent;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    outputs: VecDeque<SfuOutput>,
    /// Peers to drain before the call returns, each once (`Peer::queued` says it is here).
    dirty: VecDeque<PeerId>,
    /// Peers whose session failed; removed when the call settles.
    pub faulted: Vec<PeerId>,
    pub stats: SfuStats,
}

impl Outbox {
    #[inline]
    pub fn signal(&mut self, signal: Signal) {
        self.outputs.push_back(SfuOutput::Signal(signal));
    }

    #[inline]
    pub fn cluster(&mut self, message: ClusterMessage) {
        self.outputs.push_back(SfuOutput::Cluster(message));
    }

    #[inline]
    pub fn transmit(&mut self, transmit: Transmit) {
        self.stats.datagrams_out += 1;
        self.outputs.push_back(SfuOutput::Transmit(transmit));
    }

    pub fn pop(&mut self) -> Option<SfuOutput> {
        self.outputs.pop_front()
    }

    /// Queues `peer` for draining, once until it is drained.
    #[inline]
    pub fn mark_dirty(&mut self, id: PeerId, peer: &mut Peer) {
        if !peer.queued {
            peer.queued = true;
            self.dirty.push_back(id);
        }
    }

    #[inline]
    pub fn next_dirty(&mut self) -> Option<PeerId> {
        self.dirty.pop_front()
    }

    /// Writes one forwarded packet to subscriber `sub` on its outgoing `mid`, counts it, and
    /// queues the subscriber for draining (once per batch: str0m releases the packet then).
    #[inline]
    pub fn write(&mut self, id: PeerId, sub: &mut Peer, mid: Mid, write: RtpWrite, bytes: usize) {
        match sub.write_rtp(mid, write) {
            Ok(true) => {
                sub.written = true;
                self.stats.packets_forwarded += 1;
                self.stats.bytes_forwarded += bytes as u64;
            }
            Ok(false) => {}
            Err(_) => self.faulted.push(id),
        }
        self.mark_dirty(id, sub);
    }
}
