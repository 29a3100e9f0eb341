//! Sans-IO selective forwarding unit on str0m.
//!
//! The caller owns the sockets and the clock: it feeds datagrams (`handle_receive_batch` for
//! UDP, `handle_receive` for one packet over UDP or an ICE-TCP connection) and timeouts
//! (`handle_timeout` when `poll_timeout` says), calls the signaling entry points (`add_peer`,
//! `accept_offer`, `accept_answer`, `remove_peer`, ...) and the cluster ones for a group
//! spread over several SFUs (`cluster.rs`), and after each call drains `poll_output` until
//! `None`. Outputs are split by who consumes them: `Transmit` for the socket, `Signal` for
//! signaling, `Cluster` for the other SFUs. Nothing here knows about rooms: a *group* is just
//! a set of peers that forward to each other.
//!
//! Each peer has one str0m `Rtc`, ICE-lite, in RTP mode (peer.rs). Every call into an `Rtc`
//! is followed by draining it until it yields a timeout (str0m freezes otherwise); the
//! outbox's dirty queue makes sure a peer written to while forwarding is drained too, once
//! per call (`Sfu::settle`).
//!
//! Who owns what: `Sfu` (sfu.rs) holds the tables that connect peers (groups, tracks, timers)
//! and orchestrates; each concern with state of its own is a type of its own — `Peer` (one
//! session: its negotiation, `RtpRewrite`, `SlotPool`, `SubscriberAdapt`), `Ranking`
//! (speakers and ranks), `Cluster` (the other SFUs of spread groups), `Outbox` (what a call
//! leaves to do and say), `Demux` (which peer a datagram is for).

#![forbid(unsafe_code)]

mod adapt;
mod cluster;
mod demux;
mod isolated_rtc;
mod loss_estimate;
mod mline;
mod negotiation;
mod outbox;
mod packet;
mod peer;
mod ranking;
mod rewrite;
mod sfu;
mod simulcast;
mod slots;
mod speaker;
mod track;
mod types;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod ice_tcp_tests;
#[cfg(test)]
mod publish_tests;
#[cfg(test)]
mod record_tests;
#[cfg(test)]
mod relay_tests;
#[cfg(test)]
mod slot_tests;
#[cfg(test)]
mod test_net;

pub use adapt::DEFAULT_INITIAL_BANDWIDTH_BPS;
pub use demux::{is_stun, stun_local_ufrag, Demux, Route, ADDRESSES_PER_PEER};
pub use outbox::{ClusterMessage, EndCause, SfuOutput, SfuStats, Signal};
pub use packet::ForwardedPacket;
pub use sfu::Sfu;
pub use slots::SLOT_COUNT;
pub use speaker::{SpeakerDetector, EVALUATE_EVERY};
pub use str0m::format::Codec;
pub use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
pub use str0m::net::{Protocol, Transmit};
pub use types::{
    GroupId, OfferedTrack, PeerFault, PeerId, ReceiveVideo, SfuConfig, SfuError, Source, TrackKey,
    ICE_RECOVERY, KEYFRAME_REQUEST_INTERVAL,
};
