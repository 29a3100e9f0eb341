//! One m-line the SFU sends on (a track of another peer, or an audio slot) and where it
//! stands in the peer's negotiation. One state type for both kinds, so the open and stop
//! transitions are written once.

use str0m::media::Mid;

/// Where one m-line the SFU sends on stands in the peer's negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    /// Wanted; goes into the next offer.
    ToOpen,
    /// In an offer awaiting the answer.
    Negotiating(Mid),
    /// Negotiated: media is forwarded on this mid.
    Open(Mid),
    /// No longer wanted; the next offer stops this mid.
    ToStop(Mid),
    /// In an offer that stops it; forgotten when answered.
    NegotiatingStop(Mid),
}

/// Whether a wound-down m-line is kept (to be stopped by an offer) or dropped at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Yes,
    No,
}

/// What an offer does to one m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add a send-only m-line.
    Open,
    /// Stop this one.
    Stop(Mid),
}

/// One m-line the SFU sends on: a subscription or an audio slot.
#[derive(Debug, Clone, Copy)]
pub struct MLine {
    pub state: LineState,
    /// No longer wanted while it was being negotiated: stop it once the answer is in.
    stop_after_answer: bool,
}

impl MLine {
    pub fn new() -> Self {
        Self {
            state: LineState::ToOpen,
            stop_after_answer: false,
        }
    }

    /// The mid media is forwarded on, once negotiated.
    pub fn open_mid(&self) -> Option<Mid> {
        match self.state {
            LineState::Open(mid) => Some(mid),
            _ => None,
        }
    }

    /// Whether the next offer would change it.
    pub fn wants_offer(&self) -> bool {
        matches!(self.state, LineState::ToOpen | LineState::ToStop(_))
    }

    /// The mid to list in an offer as carrying media (negotiating or open, still wanted).
    pub fn offered_mid(&self) -> Option<Mid> {
        match self.state {
            LineState::Negotiating(mid) | LineState::Open(mid) if !self.stop_after_answer => {
                Some(mid)
            }
            _ => None,
        }
    }

    /// Whether it is wanted: about to be offered, being negotiated or open (not stopping).
    pub fn is_wanted(&self) -> bool {
        !self.stop_after_answer
            && matches!(
                self.state,
                LineState::ToOpen | LineState::Negotiating(_) | LineState::Open(_)
            )
    }

    /// No longer wanted: one not offered yet goes at once, an open one is stopped in the next
    /// offer, and one being negotiated is stopped once the answer is in.
    pub fn wind_down(&mut self) -> Keep {
        match self.state {
            LineState::ToOpen => return Keep::No,
            LineState::Open(mid) => self.state = LineState::ToStop(mid),
            LineState::Negotiating(_) => self.stop_after_answer = true,
            LineState::ToStop(_) | LineState::NegotiatingStop(_) => {}
        }
        Keep::Yes
    }

    /// Puts this m-line's change, if any, into an offer being made: `apply` opens a new
    /// send-only mid (and returns it) or stops one.
    pub fn offer(&mut self, apply: impl FnOnce(Change) -> Option<Mid>) {
        match self.state {
            LineState::ToOpen => {
                if let Some(mid) = apply(Change::Open) {
                    self.state = LineState::Negotiating(mid);
                }
            }
            LineState::ToStop(mid) => {
                apply(Change::Stop(mid));
                self.state = LineState::NegotiatingStop(mid);
            }
            _ => {}
        }
    }

    /// The answer to the offer it was in came: returns the mid that opened, if one did, and
    /// whether the m-line is kept (a stopped one is forgotten).
    pub fn answered(&mut self) -> (Option<Mid>, Keep) {
        match self.state {
            LineState::Negotiating(mid) if self.stop_after_answer => {
                self.state = LineState::ToStop(mid);
                (None, Keep::Yes)
            }
            LineState::Negotiating(mid) => {
                self.state = LineState::Open(mid);
                (Some(mid), Keep::Yes)
            }
            LineState::NegotiatingStop(_) => (None, Keep::No),
            _ => (None, Keep::Yes),
        }
    }
}
