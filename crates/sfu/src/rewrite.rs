//! Per peer, what the forwarding path needs to know of its RTP streams without asking str0m:
//! which track each incoming SSRC carries, and for each outgoing mid how a forwarded packet's
//! header is rewritten (payload type, sequence number, timestamp) so the receiver sees one
//! gapless stream whatever the source, layer or slot owner behind it.

use rustc_hash::FxHashMap;
use str0m::format::PayloadParams;
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{SeqNo, Ssrc};

/// First sequence number of every outgoing stream (well clear of 0 so that reordered
/// packets just before the first one could be numbered in a later version).
const FIRST_SEQ: u64 = 1000;

/// What is known of one incoming SSRC.
#[derive(Debug, Clone, Copy)]
pub struct RxStream {
    pub mid: Mid,
    pub rid: Option<Rid>,
    pub params: Option<PayloadParams>,
    pub pt: Pt,
}

#[derive(Debug, Default)]
struct TxStream {
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
    layer: Option<Rid>,
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

/// One peer's incoming SSRC table and outgoing header rewrites.
#[derive(Debug, Default)]
pub struct RtpRewrite {
    /// Incoming SSRC -> (mid, codec), learned from str0m once per stream.
    rx: FxHashMap<Ssrc, RxStream>,
    /// Per outgoing mid: the payload type map (publisher codec -> ours) and the sequence
    /// number rebase. Each subscriber stream starts at a small sequence number (ROC 0): passing
    /// the publisher's extended numbers on would need the ROC signalled out of band.
    tx: FxHashMap<Mid, TxStream>,
}

impl RtpRewrite {
    /// What is known of incoming `ssrc` when its packets have payload type `pt`.
    #[inline]
    pub fn rx(&self, ssrc: Ssrc, pt: Pt) -> Option<&RxStream> {
        self.rx.get(&ssrc).filter(|rx| rx.pt == pt)
    }

    pub fn learn_rx(&mut self, ssrc: Ssrc, rx: RxStream) {
        self.rx.insert(ssrc, rx);
    }

    /// Our payload type on outgoing `mid` for the publisher's `from`, once learnt.
    #[inline]
    pub fn pt(&self, mid: Mid, from: Pt) -> Option<Pt> {
        let stream = self.tx.get(&mid)?;
        stream
            .pts
            .iter()
            .find(|(f, _)| *f == from)
            .map(|(_, to)| *to)
    }

    pub fn learn_pt(&mut self, mid: Mid, from: Pt, to: Pt) {
        self.tx.entry(mid).or_default().pts.push((from, to));
    }

    /// str0m's send stream for outgoing `mid`, once found.
    #[inline]
    pub fn ssrc(&self, mid: Mid) -> Option<Ssrc> {
        self.tx.get(&mid).and_then(|s| s.ssrc)
    }

    #[inline]
    pub fn learn_ssrc(&mut self, mid: Mid, ssrc: Ssrc) {
        self.tx.entry(mid).or_default().ssrc = Some(ssrc);
    }

    /// The simulcast layer outgoing `mid` carries now.
    #[inline]
    pub fn layer_of(&self, mid: Mid) -> Option<Rid> {
        self.tx.get(&mid).and_then(|s| s.layer)
    }

    /// Outgoing `mid` stops carrying its layer: what comes next must start at a keyframe.
    #[inline]
    pub fn pause_layer(&mut self, mid: Mid) {
        if let Some(stream) = self.tx.get_mut(&mid) {
            stream.layer = None;
        }
    }

    /// The sequence number and timestamp on outgoing `mid` of a packet numbered `seq` with
    /// `timestamp` at its source; `continuity` says how it follows the last packet sent
    /// there. None: from before the current layer (or source) began, so it cannot be numbered.
    #[inline]
    pub fn rewrite(
        &mut self,
        mid: Mid,
        seq: SeqNo,
        timestamp: u32,
        continuity: Continuity,
    ) -> Option<(SeqNo, u32)> {
        let stream = self.tx.entry(mid).or_default();
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
        if seq < stream.layer_start {
            return None;
        }
        let out = u64::try_from(seq as i64 + stream.seq_offset?).ok()?;
        let out_ts = timestamp.wrapping_add(stream.ts_offset);
        if out > stream.last_out_seq {
            stream.last_out_seq = out;
            stream.last_out_ts = out_ts;
        }
        Some((SeqNo::from(out), out_ts))
    }
}
