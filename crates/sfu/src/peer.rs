//! One participant's WebRTC session: a str0m `Rtc`, isolated so that a panic inside str0m
//! (it panics on internal bugs by design) fails only this peer, never the room or the server.

use crate::{GroupId, ReceiveVideo, Source, TrackKey};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;
use str0m::change::SdpPendingOffer;
use str0m::media::{MediaKind, Mid};
use str0m::{Rtc, RtcError};

/// Why a peer's media session ended abnormally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerFault {
    /// str0m returned an error: the session cannot go on.
    Rtc(String),
    /// str0m panicked; the `Rtc` is in an unknown state and is dropped.
    Panicked,
}

/// Where one forwarded track stands in this peer's negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// Wanted; goes into the next offer.
    ToOpen,
    /// In an offer awaiting the answer.
    Negotiating(Mid),
    /// Negotiated: media is forwarded on this mid.
    Open(Mid),
    /// The source went away; the next offer stops this mid.
    ToStop(Mid),
    /// In an offer that stops it; forgotten when answered.
    NegotiatingStop(Mid),
}

/// A track of another peer that this peer receives.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub source: TrackKey,
    /// What the source track carries (camera, screen, ...).
    pub label: Source,
    pub kind: MediaKind,
    pub state: SubState,
    /// The source left while this was being negotiated: stop it once the answer is in.
    pub source_gone: bool,
}

pub struct Peer {
    pub group: GroupId,
    rtc: Rtc,
    /// The client's initial offer has been accepted; renegotiation may start.
    pub ready: bool,
    pub pending: Option<SdpPendingOffer>,
    pub subscriptions: Vec<Subscription>,
    /// Mids on which this peer's client sends media to us.
    pub published: Vec<Mid>,
    pub next_timeout: Option<Instant>,
    /// Whether this peer's audio / video may be forwarded (a moderator mute clears them).
    /// Enforced here so it never depends on the client's cooperation.
    pub may_send_audio: bool,
    pub may_send_video: bool,
    /// What the client said each of its mids carries (`offer.sources`).
    pub declared_sources: HashMap<String, Source>,
    /// Which video this peer receives (its quality setting).
    pub receive_video: ReceiveVideo,
    /// Position in the group's speaker order (0: the dominant speaker).
    pub speaker_rank: usize,
    /// Queued for draining (avoids queueing twice).
    pub queued: bool,
    pub fault: Option<PeerFault>,
}

impl Peer {
    pub fn new(group: GroupId, rtc: Rtc) -> Self {
        Self {
            group,
            rtc,
            ready: false,
            pending: None,
            subscriptions: Vec::new(),
            published: Vec::new(),
            next_timeout: None,
            may_send_audio: true,
            may_send_video: true,
            declared_sources: HashMap::new(),
            receive_video: ReceiveVideo::All,
            speaker_rank: usize::MAX,
            queued: false,
            fault: None,
        }
    }

    /// Runs `f` on this peer's `Rtc`, turning str0m errors and panics into a recorded fault.
    /// After a fault the peer is never touched again (every later call returns the fault).
    pub fn with_rtc<T>(
        &mut self,
        f: impl FnOnce(&mut Rtc) -> Result<T, RtcError>,
    ) -> Result<T, PeerFault> {
        if let Some(fault) = &self.fault {
            return Err(fault.clone());
        }
        let rtc = &mut self.rtc;
        let fault = match catch_unwind(AssertUnwindSafe(|| f(rtc))) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => PeerFault::Rtc(e.to_string()),
            Err(_) => PeerFault::Panicked,
        };
        self.fault = Some(fault.clone());
        Err(fault)
    }

    /// Whether the next offer would change anything.
    pub fn wants_negotiation(&self) -> bool {
        self.ready
            && self.pending.is_none()
            && self
                .subscriptions
                .iter()
                .any(|s| matches!(s.state, SubState::ToOpen | SubState::ToStop(_)))
    }

    pub fn subscription_on_mid(&self, mid: Mid) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.state == SubState::Open(mid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_str0m_is_contained_and_sticks() {
        let mut peer = Peer::new(GroupId(1), Rtc::builder().build(Instant::now()));
        let result: Result<(), _> = peer.with_rtc(|_| panic!("simulated str0m bug"));
        assert_eq!(result, Err(PeerFault::Panicked));
        assert_eq!(peer.with_rtc(|_| Ok(1)), Err(PeerFault::Panicked));
    }
}
