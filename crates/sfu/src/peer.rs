//! One participant's WebRTC session: a str0m `Rtc`, isolated so that a panic inside str0m
//! (it panics on internal bugs by design) fails only this peer, never the room or the server
//! (`isolated_rtc.rs`), with the state the SFU keeps beside it: what the peer publishes, what
//! it receives and where that stands in negotiation (`negotiation.rs`), how forwarded packets
//! are rewritten for it (`rewrite.rs`), and its layer choices (`adapt.rs`).
//!
//! Every call into the `Rtc` goes through `with_rtc`.

use crate::adapt::SubscriberAdapt;
use crate::isolated_rtc::IsolatedRtc;
use crate::negotiation::{Negotiation, Offer};
use crate::rewrite::{Continuity, RtpRewrite, RxStream};
use crate::types::{GroupId, PeerFault, ReceiveVideo, Source, TrackKey};
use std::collections::HashMap;
use std::time::Instant;
use str0m::change::SdpAnswer;
use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Rtc, RtcError};

/// A mid the client offered to send on.
#[derive(Debug, Clone, Copy)]
pub struct Announced {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Its first packet arrived and it was published (or refused: a third track of a kind).
    pub tried: bool,
}

pub struct Peer {
    pub group: GroupId,
    /// Its str0m session; every call goes through `with_rtc`.
    rtc: IsolatedRtc,
    /// What it receives (subscriptions, audio slots) and where their m-lines stand.
    pub negotiation: Negotiation,
    /// Mids on which this peer's client sends media to us.
    pub published: Vec<Mid>,
    /// Every mid this peer's client offered to send on, in m-line order: a track is published
    /// (others subscribe) only once its first packet arrives, so a camera that is off, or a
    /// screen that is not shared, costs the others no m-line.
    pub announced: Vec<Announced>,
    /// Its entry in the SFU's timer set.
    pub next_timeout: Option<Instant>,
    /// When ICE went `Disconnected` (None while connected).
    pub ice_lost_at: Option<Instant>,
    /// Whether this peer's audio / video may be forwarded (a moderator mute clears them).
    /// Enforced here so it never depends on the client's cooperation.
    pub may_send_audio: bool,
    pub may_send_video: bool,
    /// What the client said each of its mids carries (`offer.sources`).
    pub declared_sources: HashMap<String, Source>,
    /// Which video this peer receives (its quality setting).
    pub receive_video: ReceiveVideo,
    /// How forwarded packets are rewritten for this peer.
    rewrite: RtpRewrite,
    /// Queued for draining (avoids queueing twice; `Outbox::mark_dirty`).
    pub queued: bool,
    /// Packets were written to it since its last drain: str0m releases them only after a
    /// timeout pass, so the drain runs that pass first (see `Sfu::drain`).
    pub written: bool,
    /// Simulcast layer choices for what this peer receives (adapt.rs).
    pub adapt: SubscriberAdapt,
    /// The client can receive microphones on audio slots (slots.rs).
    pub audio_slots: bool,
}

impl Peer {
    pub fn new(group: GroupId, rtc: Rtc) -> Self {
        Self {
            group,
            rtc: IsolatedRtc::new(rtc),
            negotiation: Negotiation::default(),
            published: Vec::new(),
            announced: Vec::new(),
            next_timeout: None,
            ice_lost_at: None,
            may_send_audio: true,
            may_send_video: true,
            declared_sources: HashMap::new(),
            receive_video: ReceiveVideo::All,
            rewrite: RtpRewrite::default(),
            queued: false,
            written: false,
            adapt: SubscriberAdapt::default(),
            audio_slots: false,
        }
    }

    /// Runs `f` on this peer's `Rtc` (`IsolatedRtc::with_rtc`: errors and panics become a
    /// fault that sticks).
    #[inline]
    pub fn with_rtc<T>(
        &mut self,
        f: impl FnOnce(&mut Rtc) -> Result<T, RtcError>,
    ) -> Result<T, PeerFault> {
        self.rtc.with_rtc(f)
    }

    /// The failure that ended this session, if any.
    pub fn fault(&self) -> Option<&PeerFault> {
        self.rtc.fault()
    }

    /// Forgets a failure that did not break the session (a refused offer), so the client
    /// may try again.
    pub fn forgive(&mut self) {
        self.rtc.forgive();
    }

    /// Runs str0m's timeout handling at `now` (its timers, and releasing written packets).
    pub fn timeout_pass(&mut self, now: Instant) -> Result<(), PeerFault> {
        self.with_rtc(|rtc| rtc.handle_input(str0m::Input::Timeout(now)))
    }

    /// Whether media of `kind` from this peer may be forwarded.
    #[inline]
    pub fn may_send(&self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Audio => self.may_send_audio,
            MediaKind::Video => self.may_send_video,
        }
    }

    /// The mid, simulcast layer and codec of an incoming packet on `ssrc` with type `pt`
    /// (asked of str0m once per stream, then cached).
    #[inline]
    pub fn rx_lookup(&mut self, ssrc: Ssrc, pt: Pt) -> Option<(Mid, Option<Rid>, PayloadParams)> {
        if let Some(rx) = self.rewrite.rx(ssrc, pt) {
            return rx.params.map(|p| (rx.mid, rx.rid, p));
        }
        let rx = self
            .with_rtc(|rtc| {
                let stream = rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()));
                let params = rtc
                    .codec_config()
                    .params()
                    .iter()
                    .find(|p| p.pt() == pt)
                    .copied();
                Ok(stream.map(|(mid, rid)| RxStream {
                    mid,
                    rid,
                    params,
                    pt,
                }))
            })
            .ok()
            .flatten()?;
        self.rewrite.learn_rx(ssrc, rx);
        rx.params.map(|p| (rx.mid, rx.rid, p))
    }

    /// The simulcast layer outgoing `mid` carries now.
    #[inline]
    pub fn layer_of(&self, mid: Mid) -> Option<Rid> {
        self.rewrite.layer_of(mid)
    }

    /// Outgoing `mid` stops carrying its layer: what comes next must start at a keyframe.
    #[inline]
    pub fn pause_layer(&mut self, mid: Mid) {
        self.rewrite.pause_layer(mid);
    }

    /// Our payload type, sequence number and timestamp for a packet forwarded on outgoing
    /// `mid`; `continuity` says how it follows the last packet sent there.
    #[inline]
    pub fn rewrite(
        &mut self,
        mid: Mid,
        params: PayloadParams,
        seq: SeqNo,
        timestamp: u32,
        continuity: Continuity,
    ) -> Option<(Pt, SeqNo, u32)> {
        let pt = self.payload_type(mid, params)?;
        let (seq, timestamp) = self.rewrite.rewrite(mid, seq, timestamp, continuity)?;
        Some((pt, seq, timestamp))
    }

    #[inline]
    fn payload_type(&mut self, mid: Mid, params: PayloadParams) -> Option<Pt> {
        if let Some(to) = self.rewrite.pt(mid, params.pt()) {
            return Some(to);
        }
        let to = self
            .with_rtc(|rtc| Ok(rtc.codec_config().match_params(params).map(|p| p.pt())))
            .ok()
            .flatten()?;
        self.rewrite.learn_pt(mid, params.pt(), to);
        Some(to)
    }

    /// Writes a forwarded packet to the send stream of `mid`; false when there is none (the
    /// mid is not negotiated yet, or stopped).
    #[inline]
    pub fn write_rtp(&mut self, mid: Mid, write: RtpWrite) -> Result<bool, PeerFault> {
        let cached = self.rewrite.ssrc(mid);
        let written = self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            let ssrc = match cached {
                Some(ssrc) if api.stream_tx(&ssrc).is_some_and(|tx| tx.mid() == mid) => ssrc,
                _ => match api.stream_tx_by_mid(mid, None) {
                    Some(tx) => tx.ssrc(),
                    None => return Ok(None),
                },
            };
            match api.stream_tx(&ssrc) {
                Some(tx) => {
                    tx.write_rtp(write);
                    Ok(Some(ssrc))
                }
                None => Ok(None),
            }
        })?;
        if let Some(ssrc) = written {
            self.rewrite.learn_ssrc(mid, ssrc);
        }
        Ok(written.is_some())
    }

    /// Asks this publisher for a keyframe of its track on `mid`, for each of `rids`. No
    /// receive stream yet (nothing arrived) only means "not possible now".
    pub fn request_keyframe(
        &mut self,
        mid: Mid,
        rids: &[Option<Rid>],
        kind: KeyframeRequestKind,
    ) -> Result<(), PeerFault> {
        self.with_rtc(|rtc| {
            for rid in rids {
                if let Some(rx) = rtc.direct_api().stream_rx_by_mid(mid, *rid) {
                    rx.request_keyframe(kind);
                }
            }
            Ok(())
        })
    }

    /// Makes an offer opening and stopping what changed, if the peer may renegotiate now.
    pub fn make_offer(&mut self) -> Result<Option<Offer>, PeerFault> {
        if !self.negotiation.wants_offer() {
            return Ok(None);
        }
        let negotiation = &mut self.negotiation;
        self.rtc.with_rtc(|rtc| Ok(negotiation.make_offer(rtc)))
    }

    /// Applies the client's answer to the outstanding offer; returns the subscriptions it
    /// opened (publisher track, our mid). `Ok(None)`: no offer is outstanding.
    pub fn accept_answer(
        &mut self,
        answer: SdpAnswer,
    ) -> Result<Option<Vec<(TrackKey, Mid)>>, PeerFault> {
        let Some(pending) = self.negotiation.take_pending() else {
            return Ok(None);
        };
        // The pending offer is consumed either way; after an error the session cannot be
        // trusted.
        let negotiation = &mut self.negotiation;
        let opened = self
            .rtc
            .with_rtc(|rtc| negotiation.accept_answer(rtc, pending, answer))?;
        Ok(Some(opened))
    }
}
