//! Simulcast: which layer each subscriber gets, and where a switch may happen.
//!
//! A publisher may send its camera in up to three layers (RIDs, lowest first by convention
//! "q", "h", "f"). Each subscriber receives exactly one of them as one continuous stream: the
//! SFU forwards the chosen layer and switches only at a keyframe of the new layer, rewriting
//! sequence numbers and timestamps so the receiver never sees a gap or a jump back.
//!
//! The choice per subscriber (see `adapt.rs` for when it is made) is, in order:
//! 1. the quality setting (`ReceiveVideo`) caps the layer;
//! 2. the size the subscriber shows the video at (`view_sizes`) picks the smallest layer that
//!    covers it;
//! 3. the subscriber's bandwidth estimate lowers the least important streams, then pauses
//!    them (`allocate`, `Budget`).
//!
//! Everything here is pure (no str0m, no clock) so it is unit-tested directly.

use crate::types::ReceiveVideo;
use std::time::{Duration, Instant};
use str0m::media::Rid;

/// A layer counts as available while it has sent within this time.
const LAYER_ALIVE: Duration = Duration::from_secs(1);
/// Timestamp step put between the last frame of the old layer and the first of the new
/// (one frame at 30 fps on the 90 kHz video clock).
pub const SWITCH_TIMESTAMP_STEP: u32 = 3000;
/// Bitrate windows: a layer's rate is re-measured this often (bytes over the window,
/// smoothed with the previous value so one keyframe does not look like a new rate).
const METER_WINDOW: Duration = Duration::from_millis(500);
/// Bytes counted per packet on top of the payload: RTP header with extensions, SRTP tag, UDP
/// and IP headers. The bandwidth estimate covers whole packets, so the rates must too.
const PACKET_OVERHEAD: u64 = 60;
/// Assumed rates of layers never measured yet (bits/s), lowest first: what Chromium sends for
/// 180p, 360p and 720p cameras. Measured rates replace them as soon as a layer flows.
const DEFAULT_LAYER_RATES: [u64; 3] = [150_000, 500_000, 1_500_000];
/// A layer may be shown up to this much larger than it is before the next one is wanted
/// (a 360-line layer still serves a 390-pixel-high tile).
const UPSCALE_TOLERANCE: f64 = 1.1;

/// Bitrate over sliding windows of `METER_WINDOW`.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    bytes: u64,
    since: Option<Instant>,
    /// Smoothed bits per second; None until one window has passed.
    rate: Option<u64>,
}

impl Meter {
    pub fn add(&mut self, now: Instant, payload: usize) {
        self.since.get_or_insert(now);
        self.bytes += payload as u64 + PACKET_OVERHEAD;
    }

    /// Closes the window if it is over. `flowing`: whether the stream sent during it; a
    /// stream that stopped (paused at the publisher) keeps its last rate, which is what it
    /// will cost again when it resumes.
    pub fn roll(&mut self, now: Instant, flowing: bool) {
        let Some(since) = self.since else {
            return;
        };
        let elapsed = now.saturating_duration_since(since);
        if elapsed < METER_WINDOW {
            return;
        }
        if flowing {
            let sample = (self.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
            self.rate = Some(match self.rate {
                Some(old) => (old + sample) / 2,
                None => sample,
            });
        }
        self.bytes = 0;
        self.since = Some(now);
    }

    pub fn rate(&self) -> Option<u64> {
        self.rate
    }
}

#[derive(Debug, Clone)]
struct Layer {
    rid: Rid,
    last_seen: Instant,
    /// Frame height from this layer's last VP8 keyframe (None: none seen, or not VP8).
    height: Option<u32>,
    meter: Meter,
}

/// Layers of one published video track: when each was last seen, its size and bitrate, and
/// which of them the publisher has been asked to encode.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    /// Kept sorted from the lowest to the highest layer.
    seen: Vec<Layer>,
    /// The rate of a track sent without simulcast.
    plain: Meter,
    /// What the publisher was last told to encode, and when each layer was last needed.
    pub active: ActiveLayers,
}

/// Orders RIDs from lowest to highest quality: q < h < f; other names keep arrival order
/// after those three.
fn rank(rid: &Rid) -> u8 {
    match &**rid {
        "q" | "l" | "0" => 0,
        "h" | "m" | "1" => 1,
        "f" | "2" => 2,
        _ => 3,
    }
}

impl Layers {
    /// A packet of `payload` bytes arrived on layer `rid` (None: the track is not simulcast);
    /// `height` when it starts a keyframe that says its size.
    pub fn saw(&mut self, rid: Option<Rid>, now: Instant, payload: usize, height: Option<u32>) {
        let Some(rid) = rid else {
            self.plain.add(now, payload);
            return;
        };
        let layer = match self.seen.iter().position(|l| l.rid == rid) {
            Some(i) => &mut self.seen[i],
            None => {
                self.seen.push(Layer {
                    rid,
                    last_seen: now,
                    height: None,
                    meter: Meter::default(),
                });
                self.seen.sort_by_key(|l| rank(&l.rid));
                let i = self
                    .seen
                    .iter()
                    .position(|l| l.rid == rid)
                    .expect("just inserted");
                &mut self.seen[i]
            }
        };
        layer.last_seen = now;
        layer.meter.add(now, payload);
        if height.is_some() {
            layer.height = height;
        }
    }

    /// Closes the bitrate windows that are over.
    pub fn roll(&mut self, now: Instant) {
        for layer in &mut self.seen {
            let flowing = now.saturating_duration_since(layer.last_seen) < METER_WINDOW;
            layer.meter.roll(now, flowing);
        }
        self.plain.roll(now, true);
    }

    /// Every layer seen, lowest first.
    pub fn rids(&self) -> impl Iterator<Item = Rid> + '_ {
        self.seen.iter().map(|l| l.rid)
    }

    pub fn is_simulcast(&self) -> bool {
        !self.seen.is_empty()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn rid_at(&self, index: usize) -> Option<Rid> {
        self.seen.get(index).map(|l| l.rid)
    }

    pub fn index_of(&self, rid: Rid) -> Option<usize> {
        self.seen.iter().position(|l| l.rid == rid)
    }

    fn alive(&self, layer: &Layer, now: Instant) -> bool {
        now.saturating_duration_since(layer.last_seen) < LAYER_ALIVE
    }

    /// The bitrate of each layer, lowest first: measured, else assumed by position.
    pub fn rates(&self) -> Vec<u64> {
        let n = self.seen.len();
        self.seen
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.meter.rate().unwrap_or_else(|| {
                    // The top layer is the full-size one, whatever the count.
                    DEFAULT_LAYER_RATES[DEFAULT_LAYER_RATES.len() - n.min(3) + i.min(2)]
                })
            })
            .collect()
    }

    /// The bitrate of a track sent without simulcast (None until measured).
    pub fn plain_rate(&self) -> Option<u64> {
        self.plain.rate()
    }

    /// The height of each layer, lowest first: learned from its keyframes, else derived from
    /// the nearest layer whose height is known (each layer is half the next one's size, as
    /// browsers send them: scaleResolutionDownBy 4, 2, 1). None when no height is known.
    pub fn heights(&self) -> Vec<Option<u32>> {
        let known: Vec<(usize, u32)> = self
            .seen
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.height.map(|h| (i, h)))
            .collect();
        (0..self.seen.len())
            .map(|i| {
                let (j, h) = known.iter().min_by_key(|(j, _)| j.abs_diff(i)).copied()?;
                Some(if i >= j {
                    h << (i - j).min(8)
                } else {
                    h >> (j - i).min(8)
                })
            })
            .collect()
    }

    /// The layer (index, lowest first) a subscriber wants with its quality setting and the
    /// height it shows this video at (`tile`, device pixels; None: not reported). None: it
    /// wants no video from this track (a hidden tile, or Audio only). Counts every layer
    /// seen, alive or not: a layer paused at the publisher is still a layer one may want.
    pub fn wanted(&self, receive: ReceiveVideo, tile: Option<u32>) -> Option<usize> {
        let n = self.seen.len();
        let by_quality = quality_cap(receive, n)?;
        match tile {
            Some(0) => None,
            Some(height) => Some(by_quality.min(layer_for_height(&self.heights(), height))),
            None => Some(by_quality),
        }
    }

    /// The layer to forward for a wanted one: itself if it is flowing, else the highest
    /// flowing layer below it, else the lowest flowing one (a paused layer is resuming).
    pub fn pick(&self, wanted: Option<Rid>, now: Instant) -> Option<Rid> {
        let wanted = rank(&wanted?);
        let mut best = None;
        for layer in self.seen.iter().filter(|l| self.alive(l, now)) {
            if best.is_none() || rank(&layer.rid) <= wanted {
                best = Some(layer.rid);
            }
        }
        best
    }

    /// The layer a subscriber with `receive` should get now, by quality alone (before the
    /// adaptation has decided for a new subscription).
    pub fn target(&self, receive: ReceiveVideo, now: Instant) -> Option<Rid> {
        let wanted = self.wanted(receive, None)?;
        self.pick(self.rid_at(wanted), now)
    }
}

/// The highest layer index a quality setting allows, of `n` layers (None: no video).
fn quality_cap(receive: ReceiveVideo, n: usize) -> Option<usize> {
    let top = n.checked_sub(1)?;
    match receive {
        ReceiveVideo::None => None,
        // "Low": only the speaker's small picture.
        ReceiveVideo::TopSpeakers(1) => Some(0),
        // "Standard": a middle layer when there is one.
        ReceiveVideo::TopSpeakers(_) => Some(top.min(1)),
        ReceiveVideo::All => Some(top),
    }
}

/// The smallest layer whose height covers `tile`; the top one when none does, or when no
/// height is known (then the size cannot be used, e.g. a codec whose frames we do not read).
pub fn layer_for_height(heights: &[Option<u32>], tile: u32) -> usize {
    let top = heights.len().saturating_sub(1);
    if heights.iter().all(Option::is_none) {
        return top;
    }
    heights
        .iter()
        .position(|h| h.is_some_and(|h| f64::from(h) * UPSCALE_TOLERANCE >= f64::from(tile)))
        .unwrap_or(top)
}

/// One video stream a subscriber receives, as the bandwidth allocation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Lower is more important: screen shares, then the dominant speaker's camera, then the
    /// other cameras by how recently they spoke.
    pub importance: usize,
    /// Bitrates of the layers it may get, lowest first, up to the one it wants (empty: none).
    pub rates: Vec<u64>,
}

fn cost(streams: &[Stream], levels: &[Option<usize>]) -> u64 {
    streams
        .iter()
        .zip(levels)
        .filter_map(|(s, l)| l.and_then(|l| s.rates.get(l)))
        .sum()
}

/// A layer (index) per stream so that the total fits `budget`: the least important stream
/// goes down one layer at a time to its lowest, then the next least important, and so on;
/// if even everyone's lowest layer does not fit, the least important streams are paused
/// (None) until it does. The most important stream keeps its lowest layer whatever the
/// budget: estimates undershoot after a loss burst, and a blank main picture is worse than
/// a little more delay (the lowest layer is the cheapest there is).
pub fn allocate(streams: &[Stream], budget: u64) -> Vec<Option<usize>> {
    let mut levels: Vec<Option<usize>> = streams
        .iter()
        .map(|s| s.rates.len().checked_sub(1))
        .collect();
    let mut order: Vec<usize> = (0..streams.len()).collect();
    // Least important first; among equals the later one gives way.
    order.sort_by_key(|&i| std::cmp::Reverse((streams[i].importance, i)));
    for &i in &order {
        while cost(streams, &levels) > budget {
            match levels[i] {
                Some(l) if l > 0 => levels[i] = Some(l - 1),
                _ => break,
            }
        }
    }
    for &i in order.iter().take(order.len().saturating_sub(1)) {
        if cost(streams, &levels) <= budget {
            break;
        }
        levels[i] = None;
    }
    levels
}

/// An estimate must exceed what a higher allocation costs by this factor (1 / 0.8 = 25%
/// headroom) before streams go up, so an estimate hovering near one layer's rate does not
/// switch back and forth.
const UP_HEADROOM: f64 = 0.8;
/// After the estimate forced a stream down, nothing goes up again for this long: the
/// estimate first has to prove itself (and each switch costs a keyframe).
pub const UP_HOLD: Duration = Duration::from_secs(3);

/// One subscriber's bandwidth adaptation over time: goes down at once when the estimate no
/// longer covers what it receives, up only with headroom and not soon after a cut.
#[derive(Debug, Default, Clone)]
pub struct Budget {
    /// When the estimate last forced a stream lower than it was.
    cut_at: Option<Instant>,
}

impl Budget {
    /// The layer per stream now. `previous[i]`: what stream i had (None: it is new);
    /// `estimate`: the bandwidth the subscriber's link allows for these streams (None:
    /// unknown, everyone gets what they want).
    pub fn decide(
        &mut self,
        now: Instant,
        streams: &[Stream],
        previous: &[Option<Option<usize>>],
        estimate: Option<u64>,
    ) -> Vec<Option<usize>> {
        let wanted: Vec<Option<usize>> = streams
            .iter()
            .map(|s| s.rates.len().checked_sub(1))
            .collect();
        let Some(estimate) = estimate else {
            return wanted;
        };
        let down = allocate(streams, estimate);
        // Never above what fits now, never above what was had (going up is decided below).
        let kept: Vec<Option<usize>> = previous
            .iter()
            .zip(&down)
            .map(|(p, d)| match p {
                Some(p) => (*p).min(*d),
                None => *d,
            })
            .collect();
        let cut = previous
            .iter()
            .zip(&kept)
            .zip(&wanted)
            .any(|((p, k), w)| p.is_some_and(|p| *k < p.min(*w)));
        if cut {
            self.cut_at = Some(now);
        }
        let may_rise = self
            .cut_at
            .is_none_or(|t| now.saturating_duration_since(t) >= UP_HOLD);
        if may_rise {
            let up = allocate(streams, (estimate as f64 * UP_HEADROOM) as u64);
            if up != kept && up.iter().zip(&kept).all(|(u, k)| u >= k) {
                return up;
            }
        }
        kept
    }
}

/// A layer nobody needed stays encoded this long, so a need that comes straight back (a
/// tile resized twice, an estimate that wobbles) does not toggle the publisher's encoder.
pub const LAYER_HOLD: Duration = Duration::from_secs(3);

/// Which layers of a track the publisher is asked to encode.
#[derive(Debug, Default, Clone)]
pub struct ActiveLayers {
    /// What the publisher was last told (None: nothing yet, so all: the browser's default).
    told: Option<Vec<Rid>>,
    /// When each layer was last needed by some subscriber.
    needed_at: Vec<(Rid, Instant)>,
}

impl ActiveLayers {
    /// `layers`: every layer of the track, lowest first; `needed[i]`: some subscriber needs
    /// layer i now. Returns the new set to tell the publisher when it changed. The lowest
    /// layer is always in it: pausing every layer would leave a new subscriber nothing to
    /// start from, and it is the cheapest to encode.
    pub fn update(&mut self, now: Instant, layers: &[Rid], needed: &[bool]) -> Option<Vec<Rid>> {
        for (rid, need) in layers.iter().zip(needed) {
            match self.needed_at.iter_mut().find(|(r, _)| r == rid) {
                Some(entry) if *need => entry.1 = now,
                Some(_) => {}
                // A layer just seen counts as needed now: it gets the hold time to be wanted.
                None => self.needed_at.push((*rid, now)),
            }
        }
        let active: Vec<Rid> = layers
            .iter()
            .enumerate()
            .filter(|(i, rid)| {
                *i == 0
                    || self
                        .needed_at
                        .iter()
                        .any(|(r, at)| r == *rid && now.saturating_duration_since(*at) < LAYER_HOLD)
            })
            .map(|(_, rid)| *rid)
            .collect();
        let current = self.told.clone().unwrap_or_else(|| layers.to_vec());
        if active == current {
            return None;
        }
        self.told = Some(active.clone());
        Some(active)
    }

    /// Whether the publisher was asked to encode `rid`.
    pub fn is_active(&self, rid: Rid) -> bool {
        self.told.as_ref().is_none_or(|t| t.contains(&rid))
    }
}

/// Where the VP8 frame starts in an RTP payload that begins a frame (RFC 7741 payload
/// descriptor: S=1 and partition 0), after the descriptor.
fn vp8_frame_start(payload: &[u8]) -> Option<usize> {
    let &first = payload.first()?;
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x0f;
    if !start_of_partition || partition_id != 0 {
        return None;
    }
    let mut at = 1;
    if extended {
        let &x = payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            let &pid = payload.get(at)?;
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    Some(at)
}

/// Whether an RTP payload starts a VP8 keyframe (the VP8 frame tag's lowest bit is 0 on
/// keyframes). With end-to-end encryption the first bytes of each frame stay in clear
/// precisely so this still works.
pub fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    vp8_frame_start(payload)
        .and_then(|at| payload.get(at))
        .is_some_and(|tag| tag & 0x01 == 0)
}

/// The frame height a VP8 keyframe declares (RFC 6386 9.1: frame tag, start code 9d 01 2a,
/// 14-bit width and height), from the first RTP packet of the frame. The ten bytes it needs
/// are the ones SFrame leaves in clear on keyframes (docs/e2ee.md), so this works encrypted.
pub fn vp8_keyframe_height(payload: &[u8]) -> Option<u32> {
    let at = vp8_frame_start(payload)?;
    let frame = payload.get(at..at + 10)?;
    if frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    (height > 0).then_some(height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(s: &str) -> Rid {
        Rid::from(s)
    }

    /// Three layers seen at `now`, with keyframe heights when given.
    fn three(now: Instant, heights: [Option<u32>; 3]) -> Layers {
        let mut layers = Layers::default();
        for (name, h) in ["f", "q", "h"]
            .into_iter()
            .zip([heights[2], heights[0], heights[1]])
        {
            layers.saw(Some(rid(name)), now, 100, h);
        }
        layers
    }

    #[test]
    fn finds_vp8_keyframes_behind_any_descriptor() {
        // S=1, PID=0, no extension; frame tag with P=0.
        assert!(vp8_starts_keyframe(&[0x10, 0x10, 0x02, 0x00]));
        assert!(
            !vp8_starts_keyframe(&[0x10, 0x11, 0x02, 0x00]),
            "P=1 is a delta frame"
        );
        assert!(
            !vp8_starts_keyframe(&[0x00, 0x10]),
            "not the start of a partition"
        );
        // X=1, I=1 with a 15-bit picture id, L=1, T=1.
        assert!(vp8_starts_keyframe(&[
            0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x10
        ]));
        assert!(!vp8_starts_keyframe(&[
            0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x11
        ]));
        assert!(!vp8_starts_keyframe(&[0x90, 0xE0]), "truncated");
    }

    #[test]
    fn reads_the_keyframe_height() {
        // Descriptor, frame tag (key), start code, width 1280, height 720 (+ scale bits).
        let mut p = vec![0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        p.extend_from_slice(&1280u16.to_le_bytes());
        p.extend_from_slice(&(720u16 | 0x4000).to_le_bytes());
        assert_eq!(vp8_keyframe_height(&p), Some(720));
        p[1] |= 1; // a delta frame has no size
        assert_eq!(vp8_keyframe_height(&p), None);
        assert_eq!(vp8_keyframe_height(&p[..8]), None, "truncated");
    }

    #[test]
    fn targets_follow_quality_and_what_is_alive() {
        let now = Instant::now();
        let mut layers = three(now, [None; 3]);
        assert_eq!(layers.target(ReceiveVideo::All, now), Some(rid("f")));
        assert_eq!(
            layers.target(ReceiveVideo::TopSpeakers(9), now),
            Some(rid("h"))
        );
        assert_eq!(
            layers.target(ReceiveVideo::TopSpeakers(1), now),
            Some(rid("q"))
        );
        assert_eq!(layers.target(ReceiveVideo::None, now), None);
        // The top layer stops (the browser dropped it, or it was paused): High falls back to
        // "h" while it is away, yet "f" is still what High wants.
        let later = now + Duration::from_secs(2);
        layers.saw(Some(rid("q")), later, 100, None);
        layers.saw(Some(rid("h")), later, 100, None);
        assert_eq!(layers.target(ReceiveVideo::All, later), Some(rid("h")));
        assert_eq!(layers.wanted(ReceiveVideo::All, None), Some(2));
        // Only the top one flows: a subscriber wanting "q" gets it until "q" resumes.
        let much_later = later + Duration::from_secs(2);
        layers.saw(Some(rid("f")), much_later, 100, None);
        assert_eq!(layers.pick(Some(rid("q")), much_later), Some(rid("f")));
    }

    #[test]
    fn the_tile_picks_the_smallest_layer_that_covers_it() {
        let now = Instant::now();
        let layers = three(now, [Some(180), Some(360), Some(720)]);
        let all = ReceiveVideo::All;
        assert_eq!(layers.wanted(all, Some(120)), Some(0));
        assert_eq!(layers.wanted(all, Some(180)), Some(0));
        assert_eq!(layers.wanted(all, Some(300)), Some(1));
        assert_eq!(
            layers.wanted(all, Some(390)),
            Some(1),
            "10% upscaling is fine"
        );
        assert_eq!(layers.wanted(all, Some(500)), Some(2));
        assert_eq!(
            layers.wanted(all, Some(2160)),
            Some(2),
            "the top is the most there is"
        );
        assert_eq!(
            layers.wanted(all, Some(0)),
            None,
            "a hidden tile wants nothing"
        );
        assert_eq!(
            layers.wanted(all, None),
            Some(2),
            "no report: quality alone"
        );
        // The quality setting still caps a large tile.
        assert_eq!(
            layers.wanted(ReceiveVideo::TopSpeakers(9), Some(1000)),
            Some(1)
        );
        assert_eq!(layers.wanted(ReceiveVideo::None, Some(1000)), None);
    }

    #[test]
    fn unknown_heights_come_from_the_nearest_known_layer() {
        let now = Instant::now();
        let layers = three(now, [None, None, Some(720)]);
        assert_eq!(layers.heights(), vec![Some(180), Some(360), Some(720)]);
        let layers = three(now, [Some(120), None, None]);
        assert_eq!(layers.heights(), vec![Some(120), Some(240), Some(480)]);
        // Nothing known (e.g. H.264, whose frames we do not read): the tile cannot decide.
        let layers = three(now, [None; 3]);
        assert_eq!(layers.wanted(ReceiveVideo::All, Some(100)), Some(2));
    }

    #[test]
    fn meters_measure_and_keep_the_rate_of_a_paused_layer() {
        let start = Instant::now();
        let mut layers = Layers::default();
        // 30 packets of 440 bytes (+60 overhead) per 500 ms: 240 kbit/s.
        for i in 0..30u32 {
            layers.saw(
                Some(rid("q")),
                start + Duration::from_millis(16 * u64::from(i)),
                440,
                None,
            );
        }
        assert_eq!(
            layers.rates(),
            vec![DEFAULT_LAYER_RATES[2]],
            "nothing measured yet"
        );
        layers.roll(start + Duration::from_millis(500));
        assert_eq!(layers.rates(), vec![240_000]);
        // Paused: nothing arrives for seconds; the rate it will cost again stays.
        layers.roll(start + Duration::from_secs(3));
        layers.roll(start + Duration::from_secs(4));
        assert_eq!(layers.rates(), vec![240_000]);
    }

    fn stream(importance: usize, rates: &[u64]) -> Stream {
        Stream {
            importance,
            rates: rates.to_vec(),
        }
    }

    #[test]
    fn allocation_lowers_the_least_important_first_then_pauses() {
        let streams = [
            stream(0, &[100, 300, 900]), // the speaker
            stream(5, &[100, 300, 900]), // someone quiet
        ];
        assert_eq!(allocate(&streams, 2000), vec![Some(2), Some(2)]);
        // 1200 does not fit 1800: the quiet one goes down, all the way, before the speaker.
        assert_eq!(allocate(&streams, 1200), vec![Some(2), Some(1)]);
        assert_eq!(allocate(&streams, 1000), vec![Some(2), Some(0)]);
        assert_eq!(allocate(&streams, 900), vec![Some(1), Some(0)]);
        assert_eq!(allocate(&streams, 200), vec![Some(0), Some(0)]);
        // Not even both lowest layers: the quiet one is paused; the speaker keeps the lowest.
        assert_eq!(allocate(&streams, 150), vec![Some(0), None]);
        assert_eq!(allocate(&streams, 50), vec![Some(0), None]);
        // A stream that wants nothing costs nothing.
        assert_eq!(
            allocate(&[stream(0, &[]), stream(1, &[100])], 100),
            vec![None, Some(0)]
        );
    }

    #[test]
    fn the_budget_goes_down_at_once_and_up_with_headroom_after_a_hold() {
        let t0 = Instant::now();
        let streams = [stream(0, &[100, 300, 900])];
        let mut budget = Budget::default();
        let mut level = budget.decide(t0, &streams, &[None], Some(2000));
        assert_eq!(level, vec![Some(2)]);
        // The link shrinks: down at once.
        level = budget.decide(t0, &streams, &[Some(level[0])], Some(500));
        assert_eq!(level, vec![Some(1)]);
        // It grows back: nothing moves during the hold...
        let t1 = t0 + Duration::from_secs(1);
        level = budget.decide(t1, &streams, &[Some(level[0])], Some(5000));
        assert_eq!(level, vec![Some(1)]);
        // ...then up, but only where the estimate has 25% headroom over the new total.
        let t2 = t0 + UP_HOLD;
        level = budget.decide(t2, &streams, &[Some(level[0])], Some(1000));
        assert_eq!(level, vec![Some(1)], "900 does not fit 80% of 1000");
        level = budget.decide(t2, &streams, &[Some(level[0])], Some(1200));
        assert_eq!(level, vec![Some(2)]);
        // An estimate wobbling around 900 does not flap: 1000 keeps 900, it only goes down
        // below 900.
        for estimate in [1000, 950, 1100, 1000] {
            level = budget.decide(t2, &streams, &[Some(level[0])], Some(estimate));
            assert_eq!(level, vec![Some(2)], "{estimate}");
        }
        // Without an estimate everyone gets what they want.
        assert_eq!(
            Budget::default().decide(t0, &streams, &[Some(Some(0))], None),
            vec![Some(2)]
        );
    }

    #[test]
    fn a_bigger_wish_goes_up_at_once_when_the_link_allows() {
        let t0 = Instant::now();
        let mut budget = Budget::default();
        // The tile was small (wants q), becomes large (wants f): no cut happened, no hold.
        let small = [stream(0, &[100])];
        let level = budget.decide(t0, &small, &[None], Some(5000));
        let large = [stream(0, &[100, 300, 900])];
        assert_eq!(
            budget.decide(t0, &large, &[Some(level[0])], Some(5000)),
            vec![Some(2)]
        );
    }

    #[test]
    fn unneeded_layers_pause_after_a_hold_and_resume_at_once() {
        let t0 = Instant::now();
        let rids = [rid("q"), rid("h"), rid("f")];
        let mut active = ActiveLayers::default();
        // Everyone needs only "q": nothing changes during the hold, then "h" and "f" pause.
        assert_eq!(active.update(t0, &rids, &[true, false, false]), None);
        assert_eq!(
            active.update(t0 + LAYER_HOLD, &rids, &[true, false, false]),
            Some(vec![rid("q")])
        );
        assert!(!active.is_active(rid("f")));
        // Someone needs "f": it resumes at once.
        let t1 = t0 + LAYER_HOLD * 2;
        assert_eq!(
            active.update(t1, &rids, &[false, false, true]),
            Some(vec![rid("q"), rid("f")])
        );
        // The lowest layer is never paused, even when nobody needs it.
        assert_eq!(
            active.update(t1 + LAYER_HOLD, &rids, &[false, false, true]),
            None
        );
        assert!(active.is_active(rid("q")));
    }
}
