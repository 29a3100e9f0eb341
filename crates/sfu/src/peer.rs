//! One participant's WebRTC session: a str0m `Rtc`, isolated so that a panic inside str0m
//! (it panics on internal bugs by design) fails only this peer, never the room or the server.

use crate::{GroupId, ReceiveVideo, Source, TrackKey};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;
use str0m::change::SdpPendingOffer;
use str0m::format::PayloadParams;
use str0m::media::{MediaKind, Mid, Pt, Rid};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Rtc, RtcError};

/// First sequence number of every outgoing stream (well clear of 0 so that reordered
/// packets just before the first one could be numbered in a later version).
const FIRST_SEQ: u64 = 1000;

/// What is known of one incoming SSRC.
#[derive(Debug, Clone, Copy)]
struct RxStream {
    mid: Mid,
    rid: Option<Rid>,
    params: Option<PayloadParams>,
    pt: Pt,
}

#[derive(Debug, Default)]
pub struct TxStream {
    pts: Vec<(Pt, Pt)>,
    /// Added to incoming sequence numbers (None before the first packet).
    seq_offset: Option<i64>,
    /// Added (wrapping) to incoming RTP timestamps.
    ts_offset: u32,
    /// Incoming sequence number where the current layer began: older packets are dropped.
    layer_start: u64,
    last_out_seq: u64,
    last_out_ts: u32,
    /// The simulcast layer this stream carries now (None: not simulcast, or none yet).
    pub layer: Option<Rid>,
    /// str0m's send stream for this mid, once found: looking it up by mid scans every send
    /// stream of the peer, by SSRC it is one hash lookup.
    ssrc: Option<Ssrc>,
}

/// How a forwarded packet follows the last one sent on its outgoing stream, which the
/// receiver must see as one gapless stream whose timestamps never go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// The next packet of the same source (a gap in its numbering is a real loss).
    Same,
    /// The same source after packets held back (a silent voice in a large room): numbering
    /// continues right after the last packet sent, timestamps keep telling the pause.
    Resume,
    /// A simulcast layer switch at this keyframe: numbering continues, timestamps step one
    /// video frame forward from the last packet sent.
    SwitchLayer(Rid),
    /// Another publisher on this stream (an audio slot changing hands): numbering continues,
    /// timestamps step forward by `timestamp_step` (the time since the last packet sent).
    NewSource { timestamp_step: u32 },
}

/// A mid the client offered to send on.
#[derive(Debug, Clone, Copy)]
pub struct Announced {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Its first packet arrived and it was published (or refused: a third track of a kind).
    pub tried: bool,
}

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

impl SubState {
    /// Winds down a subscription or audio slot: one not offered yet goes at once (false:
    /// drop it), an open one is stopped in the next offer, and one being negotiated is marked
    /// `gone` to be stopped once the answer is in.
    pub fn wind_down(&mut self, gone: &mut bool) -> bool {
        match *self {
            SubState::ToOpen => false,
            SubState::Open(mid) => {
                *self = SubState::ToStop(mid);
                true
            }
            SubState::Negotiating(_) => {
                *gone = true;
                true
            }
            _ => true,
        }
    }
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
    /// Every mid this peer's client offered to send on, in m-line order: a track is published
    /// (others subscribe) only once its first packet arrives, so a camera that is off, or a
    /// screen that is not shared, costs the others no m-line.
    pub announced: Vec<Announced>,
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
    /// Position in the group's speaker order (0: the dominant speaker).
    pub speaker_rank: usize,
    /// Incoming SSRC -> (mid, codec), learned from str0m once per stream, so the per-packet
    /// path needs no lookup inside str0m.
    rx_streams: FxHashMap<Ssrc, RxStream>,
    /// Per outgoing mid: the payload type map (publisher codec -> ours) and the sequence
    /// number rebase. Each subscriber stream starts at a small sequence number (ROC 0): passing
    /// the publisher's extended numbers on would need the ROC signalled out of band.
    tx_streams: FxHashMap<Mid, TxStream>,
    /// Queued for draining (avoids queueing twice).
    pub queued: bool,
    /// Packets were written to it since its last drain: str0m releases them only after a
    /// timeout pass, so the drain runs that pass first (see `Sfu::drain`).
    pub written: bool,
    pub fault: Option<PeerFault>,
    /// Simulcast layer choices for what this peer receives (adapt.rs).
    pub adapt: crate::adapt::SubscriberAdapt,
    /// The client can receive microphones on audio slots (slots.rs).
    pub audio_slots: bool,
    /// Its audio slots, in a large group (empty otherwise).
    pub slots: Vec<crate::slots::AudioSlot>,
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
            announced: Vec::new(),
            next_timeout: None,
            ice_lost_at: None,
            may_send_audio: true,
            may_send_video: true,
            declared_sources: HashMap::new(),
            receive_video: ReceiveVideo::All,
            speaker_rank: usize::MAX,
            rx_streams: FxHashMap::default(),
            tx_streams: FxHashMap::default(),
            queued: false,
            written: false,
            fault: None,
            adapt: crate::adapt::SubscriberAdapt::default(),
            audio_slots: false,
            slots: Vec::new(),
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

    /// The mid, simulcast layer and codec of an incoming packet on `ssrc` with type `pt`.
    pub fn incoming(&mut self, ssrc: Ssrc, pt: Pt) -> Option<(Mid, Option<Rid>, PayloadParams)> {
        if let Some(rx) = self.rx_streams.get(&ssrc) {
            if rx.pt == pt {
                return rx.params.map(|p| (rx.mid, rx.rid, p));
            }
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
        self.rx_streams.insert(ssrc, rx);
        rx.params.map(|p| (rx.mid, rx.rid, p))
    }

    /// The simulcast layer outgoing `mid` carries now.
    pub fn layer_of(&self, mid: Mid) -> Option<Rid> {
        self.tx_streams.get(&mid).and_then(|s| s.layer)
    }

    /// Outgoing `mid` stops carrying its layer: what comes next must start at a keyframe.
    pub fn pause_layer(&mut self, mid: Mid) {
        if let Some(stream) = self.tx_streams.get_mut(&mid) {
            stream.layer = None;
        }
    }

    /// Our payload type, sequence number and timestamp for a packet forwarded on outgoing
    /// `mid`; `continuity` says how it follows the last packet sent there.
    pub fn outgoing(
        &mut self,
        mid: Mid,
        params: PayloadParams,
        seq: SeqNo,
        timestamp: u32,
        continuity: Continuity,
    ) -> Option<(Pt, SeqNo, u32)> {
        let pt = self.payload_type(mid, params)?;
        let stream = self.tx_streams.entry(mid).or_default();
        let seq = *seq;
        let next = (stream.last_out_seq + 1) as i64 - seq as i64;
        match (stream.seq_offset, continuity) {
            (None, continuity) => {
                stream.seq_offset = Some(FIRST_SEQ as i64 - seq as i64);
                stream.ts_offset = 0;
                stream.layer_start = seq;
                if let Continuity::SwitchLayer(layer) = continuity {
                    stream.layer = Some(layer);
                }
            }
            (Some(_), Continuity::SwitchLayer(layer)) => {
                stream.seq_offset = Some(next);
                stream.ts_offset = stream
                    .last_out_ts
                    .wrapping_add(crate::simulcast::SWITCH_TIMESTAMP_STEP)
                    .wrapping_sub(timestamp);
                stream.layer_start = seq;
                stream.layer = Some(layer);
            }
            (Some(_), Continuity::NewSource { timestamp_step }) => {
                stream.seq_offset = Some(next);
                stream.ts_offset = stream
                    .last_out_ts
                    .wrapping_add(timestamp_step)
                    .wrapping_sub(timestamp);
                stream.layer_start = seq;
            }
            (Some(_), Continuity::Resume) => {
                stream.seq_offset = Some(next);
                stream.layer_start = seq;
            }
            (Some(_), Continuity::Same) => {}
        }
        // A packet from before the current layer (or source) began cannot be numbered: drop it.
        if seq < stream.layer_start {
            return None;
        }
        let out = u64::try_from(seq as i64 + stream.seq_offset?).ok()?;
        let out_ts = timestamp.wrapping_add(stream.ts_offset);
        if out > stream.last_out_seq {
            stream.last_out_seq = out;
            stream.last_out_ts = out_ts;
        }
        Some((pt, SeqNo::from(out), out_ts))
    }

    /// Runs str0m's timeout handling at `now` (its timers, and releasing written packets).
    pub fn timeout_pass(&mut self, now: Instant) -> Result<(), PeerFault> {
        self.with_rtc(|rtc| rtc.handle_input(str0m::Input::Timeout(now)))
    }

    /// Writes a forwarded packet to the send stream of `mid`; false when there is none (the
    /// mid is not negotiated yet, or stopped).
    pub fn write_rtp(&mut self, mid: Mid, write: RtpWrite) -> Result<bool, PeerFault> {
        let cached = self.tx_streams.get(&mid).and_then(|s| s.ssrc);
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
            self.tx_streams.entry(mid).or_default().ssrc = Some(ssrc);
        }
        Ok(written.is_some())
    }

    fn payload_type(&mut self, mid: Mid, params: PayloadParams) -> Option<Pt> {
        let stream = self.tx_streams.entry(mid).or_default();
        if let Some((_, to)) = stream.pts.iter().find(|(from, _)| *from == params.pt()) {
            return Some(*to);
        }
        let to = self
            .rtc
            .codec_config()
            .match_params(params)
            .map(|p| p.pt())?;
        let stream = self.tx_streams.entry(mid).or_default();
        stream.pts.push((params.pt(), to));
        Some(to)
    }

    /// Whether the next offer would change anything.
    pub fn wants_negotiation(&self) -> bool {
        self.ready
            && self.pending.is_none()
            && self
                .subscriptions
                .iter()
                .map(|s| s.state)
                .chain(self.slots.iter().map(|s| s.state))
                .any(|state| matches!(state, SubState::ToOpen | SubState::ToStop(_)))
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
