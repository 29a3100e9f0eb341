//! Server-driven renegotiation, per peer: what it receives (tracks of other peers, each on
//! an m-line of its own, and its audio slots), where each m-line stands (`mline.rs`), and the
//! offer that carries the changes. Only the server offers after the client's first offer
//! (no glare): `make_offer` when something changed, `accept_answer` when the client answers.

use crate::mline::{Change, Keep, MLine};
use crate::slots::SlotPool;
use crate::types::{OfferedTrack, Source, TrackKey};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Rtc, RtcError};

/// An offer the SFU made to a peer's client.
pub struct Offer {
    pub sdp: String,
    pub tracks: Vec<OfferedTrack>,
    pub slots: Vec<String>,
}

/// One peer's negotiation state.
#[derive(Default)]
pub struct Negotiation {
    /// The client's initial offer has been accepted; renegotiation may start.
    pub ready: bool,
    /// The SFU's offer awaiting the client's answer.
    pending: Option<SdpPendingOffer>,
    /// Tracks of other peers this peer receives, each on an m-line of its own.
    pub subscriptions: Vec<Subscription>,
    /// Its audio slots, in a large group (slots.rs).
    pub slots: SlotPool,
}

impl Negotiation {
    /// Whether the next offer would change anything.
    pub fn wants_offer(&self) -> bool {
        self.ready
            && self.pending.is_none()
            && self
                .subscriptions
                .iter()
                .map(|s| &s.line)
                .chain(self.slots.lines())
                .any(|line| line.wants_offer())
    }

    /// The subscription forwarded on outgoing `mid`.
    pub fn subscription_on_mid(&self, mid: Mid) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.line.open_mid() == Some(mid))
    }

    /// Makes an offer opening and stopping what changed (None: nothing to offer); call it
    /// only when `wants_offer`.
    pub fn make_offer(&mut self, rtc: &mut Rtc) -> Option<Offer> {
        let applied = {
            let mut api = rtc.sdp_api();
            let mut apply = |change, kind, stream: &dyn Fn() -> String| match change {
                Change::Open => {
                    let stream = Some(stream());
                    Some(api.add_media(kind, Direction::SendOnly, stream, None, None))
                }
                Change::Stop(mid) => {
                    api.stop_media(mid);
                    None
                }
            };
            for line in self.slots.lines_mut() {
                line.offer(|change| apply(change, MediaKind::Audio, &|| "slots".to_string()));
            }
            for sub in &mut self.subscriptions {
                let publisher = sub.track.peer.0;
                sub.line
                    .offer(|change| apply(change, sub.kind, &|| format!("p{publisher}")));
            }
            api.apply()
        };
        let (offer, pending) = applied?;
        self.pending = Some(pending);
        let tracks = self
            .subscriptions
            .iter()
            .filter_map(|s| {
                s.line.offered_mid().map(|mid| OfferedTrack {
                    mid: mid.to_string(),
                    publisher: s.track.peer,
                    kind: s.kind,
                    source: s.source,
                })
            })
            .collect();
        let slots = self
            .slots
            .lines()
            .filter_map(|l| l.offered_mid().map(|mid| mid.to_string()))
            .collect();
        let sdp = offer.to_sdp_string();
        Some(Offer { sdp, tracks, slots })
    }

    /// Takes the outstanding offer, to apply an answer to (None: there is none).
    pub fn take_pending(&mut self) -> Option<SdpPendingOffer> {
        self.pending.take()
    }

    /// Applies the client's answer to `pending`; returns the subscriptions it opened
    /// (publisher track, our mid).
    pub fn accept_answer(
        &mut self,
        rtc: &mut Rtc,
        pending: SdpPendingOffer,
        answer: SdpAnswer,
    ) -> Result<Vec<(TrackKey, Mid)>, RtcError> {
        rtc.sdp_api().accept_answer(pending, answer)?;
        let mut opened = Vec::new();
        self.subscriptions.retain_mut(|sub| {
            let (open, keep) = sub.line.answered();
            if let Some(mid) = open {
                opened.push((sub.track, mid));
            }
            keep == Keep::Yes
        });
        self.slots.answered();
        Ok(opened)
    }
}

/// A track of another peer that this peer receives, on an m-line of its own.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The publisher's track.
    pub track: TrackKey,
    /// What it carries (camera, screen, ...).
    pub source: Source,
    pub kind: MediaKind,
    pub line: MLine,
}

impl Subscription {
    pub fn new(track: TrackKey, source: Source, kind: MediaKind) -> Self {
        Self {
            track,
            source,
            kind,
            line: MLine::new(),
        }
    }
}
