//! Receive accounting from RTP packets, for `Received`: per incoming stream, which sequence
//! numbers never arrived (gaps) and which frames arrived whole. The simulated participant
//! receives in str0m's RTP mode (see `client.rs`), so it reassembles frames itself, but only
//! their sizes and the few bytes it reads: nothing is copied.

use crate::canned;
use crate::rtp_out::vp8_payload_start;
use crate::shared::Received;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use str0m::media::Mid;
use str0m::rtp::{RtpPacket, Ssrc};

/// What the accounting reads of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketView<'a> {
    /// Extended (no wrap).
    pub seq: u64,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

impl<'a> From<&'a RtpPacket> for PacketView<'a> {
    fn from(packet: &'a RtpPacket) -> Self {
        Self {
            seq: *packet.seq_no,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload: &packet.payload,
        }
    }
}

/// How long a skipped sequence number may take to arrive (NACK/RTX) before it counts as a
/// gap. str0m NACKs a packet up to 5 times, 33 ms apart at least, so on loopback a repair
/// takes tens of milliseconds; 300 ms is also about how long str0m's frame mode waited
/// before giving a frame up (3 × its default RTT).
const REPAIR_WINDOW: Duration = Duration::from_millis(300);

/// A jump further ahead than this is not tracked number by number: it is one gap at once.
const MAX_TRACKED_JUMP: u64 = 1000;

/// Frames kept waiting for their missing packets (half a second of video); older ones are
/// given up, and the stamps' frame counter then counts them as lost.
const MAX_PENDING_FRAMES: usize = 16;

/// Which sequence numbers of one stream arrived.
#[derive(Debug, Default)]
struct Sequence {
    highest: Option<u64>,
    /// Numbers skipped and not arrived yet, ascending, with when the skip was seen.
    missing: VecDeque<(u64, Instant)>,
    /// The last number given up: a run of consecutive lost numbers is one gap.
    last_lost: Option<u64>,
    /// Numbers given up so far (lost packets), and numbers that arrived.
    lost_packets: u64,
    packets: u64,
}

impl Sequence {
    /// Takes an arriving (extended) sequence number: whether it is new (not a duplicate or
    /// too late), and the gaps that a jump made certain at once.
    fn arrive(&mut self, seq: u64, now: Instant) -> (bool, u64) {
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            self.packets += 1;
            return (true, 0);
        };
        if seq > highest {
            self.highest = Some(seq);
            self.packets += 1;
            if seq - highest > MAX_TRACKED_JUMP {
                self.last_lost = Some(seq - 1);
                self.lost_packets += seq - highest - 1;
                return (true, 1);
            }
            self.missing.extend((highest + 1..seq).map(|s| (s, now)));
            return (true, 0);
        }
        match self.missing.binary_search_by_key(&seq, |(s, _)| *s) {
            Ok(i) => {
                self.missing.remove(i);
                self.packets += 1;
                (true, 0)
            }
            Err(_) => (false, 0),
        }
    }

    /// Gives up the numbers missing for longer than `REPAIR_WINDOW`; returns the gaps.
    fn expire(&mut self, now: Instant) -> u64 {
        let mut gaps = 0;
        while let Some(&(seq, noticed)) = self.missing.front() {
            if now.saturating_duration_since(noticed) < REPAIR_WINDOW {
                break;
            }
            self.missing.pop_front();
            self.lost_packets += 1;
            if self.last_lost != Some(seq - 1) {
                gaps += 1;
            }
            self.last_lost = Some(seq);
        }
        gaps
    }
}

/// A VP8 frame whose packets are still arriving.
#[derive(Debug)]
struct PendingFrame {
    timestamp: u32,
    /// The packet with the descriptor's S bit.
    first_seq: Option<u64>,
    /// The packet with the marker bit.
    last_seq: Option<u64>,
    packets: u64,
    size: usize,
    keyframe: bool,
    stamp: Option<(u64, u64)>,
}

/// A frame that arrived whole: its size without RTP and VP8 descriptors, and what it says.
#[derive(Debug, PartialEq)]
pub(crate) struct Frame {
    pub size: usize,
    pub keyframe: bool,
    /// The stamp at the end of a canned frame (counter, send time).
    pub stamp: Option<(u64, u64)>,
}

/// What one packet changed.
#[derive(Debug, Default)]
pub(crate) struct Arrival {
    pub gaps: u64,
    pub frame: Option<Frame>,
    /// Packets counted as arrived (0 or 1) and given up as lost, with this one.
    pub packets: u64,
    pub lost_packets: u64,
}

/// A stream's packet counts, for taking the change since the last look.
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    packets: u64,
    lost_packets: u64,
}

/// One incoming stream (one SSRC).
#[derive(Debug)]
pub(crate) struct StreamReception {
    pub mid: Mid,
    sequence: Sequence,
    /// The sequence's counts as last reported.
    reported: Counted,
    /// By RTP timestamp, oldest first (packets of a frame share its timestamp).
    pending: VecDeque<PendingFrame>,
}

impl StreamReception {
    fn new(mid: Mid) -> Self {
        Self {
            mid,
            sequence: Sequence::default(),
            reported: Counted::default(),
            pending: VecDeque::new(),
        }
    }

    /// Accounts one packet. Audio frames are one packet each; VP8 frames are complete when
    /// every packet from the one starting the frame to the one with the marker arrived, in
    /// whatever order (retransmissions come late).
    pub(crate) fn on_packet(&mut self, now: Instant, packet: PacketView, video: bool) -> Arrival {
        let (new, jumped) = self.sequence.arrive(packet.seq, now);
        let gaps = jumped + self.sequence.expire(now);
        let (packets, lost_packets) = self.counted();
        // Padding carries no media.
        if !new || packet.payload.is_empty() {
            return Arrival {
                gaps,
                frame: None,
                packets,
                lost_packets,
            };
        }
        let frame = if video {
            self.assemble(packet)
        } else {
            Some(Frame {
                size: packet.payload.len(),
                keyframe: false,
                stamp: canned::read_stamp(packet.payload),
            })
        };
        Arrival {
            gaps,
            frame,
            packets,
            lost_packets,
        }
    }

    /// Packets arrived and lost since the last call.
    fn counted(&mut self) -> (u64, u64) {
        let now = Counted {
            packets: self.sequence.packets,
            lost_packets: self.sequence.lost_packets,
        };
        let before = std::mem::replace(&mut self.reported, now);
        (
            now.packets - before.packets,
            now.lost_packets - before.lost_packets,
        )
    }

    fn assemble(&mut self, packet: PacketView) -> Option<Frame> {
        let (at, starts_frame) = vp8_payload_start(packet.payload)?;
        let data = &packet.payload[at..];
        let (seq, timestamp) = (packet.seq, packet.timestamp);
        let i = match self.pending.iter().position(|f| f.timestamp == timestamp) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING_FRAMES {
                    self.pending.pop_front();
                }
                self.pending.push_back(PendingFrame {
                    timestamp,
                    first_seq: None,
                    last_seq: None,
                    packets: 0,
                    size: 0,
                    keyframe: false,
                    stamp: None,
                });
                self.pending.len() - 1
            }
        };
        let frame = &mut self.pending[i];
        frame.packets += 1;
        frame.size += data.len();
        if starts_frame {
            frame.first_seq = Some(seq);
            frame.keyframe = canned::vp8_is_keyframe(data);
        }
        if packet.marker {
            frame.last_seq = Some(seq);
            frame.stamp = canned::read_stamp(data);
        }
        let (Some(first), Some(last)) = (frame.first_seq, frame.last_seq) else {
            return None;
        };
        if last < first || last - first + 1 != frame.packets {
            return None;
        }
        let frame = self.pending.remove(i)?;
        Some(Frame {
            size: frame.size,
            keyframe: frame.keyframe,
            stamp: frame.stamp,
        })
    }
}

/// Every incoming stream, by SSRC.
#[derive(Debug, Default)]
pub(crate) struct Reception {
    streams: HashMap<Ssrc, StreamReception>,
}

impl Reception {
    /// The stream `ssrc`; `mid_of` names its mid when it is new (None: unknown, ignore it).
    pub(crate) fn stream(
        &mut self,
        ssrc: Ssrc,
        mid_of: impl FnOnce() -> Option<Mid>,
    ) -> Option<&mut StreamReception> {
        use std::collections::hash_map::Entry;
        match self.streams.entry(ssrc) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(e) => Some(e.insert(StreamReception::new(mid_of()?))),
        }
    }

    /// Gives up what waited too long on every stream: (mid, new gaps, packets given up)
    /// where there are any. A stream that stopped (a paused layer, a hidden tile) gets no
    /// packet to notice its gaps by, hence this sweep.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Mid, u64, u64)> {
        self.streams
            .values_mut()
            .filter_map(|s| {
                let gaps = s.sequence.expire(now);
                let (_, lost) = s.counted();
                (gaps > 0 || lost > 0).then_some((s.mid, gaps, lost))
            })
            .collect()
    }

    /// Forgets the streams of mids no longer received (the sender left).
    pub(crate) fn retain_mids(&mut self, keep: impl Fn(&Mid) -> bool) {
        self.streams.retain(|_, s| keep(&s.mid));
    }
}

impl Received {
    /// Counts a frame that arrived whole; returns its one-way latency in microseconds when
    /// it carries a stamp.
    pub(crate) fn count_frame(&mut self, frame: &Frame) -> Option<u32> {
        self.frames += 1;
        self.bytes += frame.size as u64;
        self.last_size = frame.size;
        if frame.keyframe {
            self.keyframes += 1;
        }
        self.last = Some(Instant::now());
        let (counter, sent) = frame.stamp?;
        if self.last_counter > 0 && counter > self.last_counter {
            self.lost += counter - self.last_counter - 1;
        } else if counter < self.last_counter {
            // Completed late (a retransmission): it was counted lost when skipped. Each
            // frame completes once, so this is no duplicate.
            self.lost = self.lost.saturating_sub(1);
        }
        self.last_counter = self.last_counter.max(counter);
        let latency = canned::unix_nanos().saturating_sub(sent) / 1000;
        Some(latency.min(u64::from(u32::MAX)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repaired_numbers_are_no_gap_and_a_lost_run_is_one() {
        let start = Instant::now();
        let mut seq = Sequence::default();
        assert_eq!(seq.arrive(10, start), (true, 0));
        // 11..=13 skipped; 12 repaired in time, 11 and 13 never.
        assert_eq!(seq.arrive(14, start), (true, 0));
        assert_eq!(seq.arrive(12, start), (true, 0));
        assert_eq!(seq.arrive(12, start), (false, 0), "duplicate");
        assert_eq!(seq.expire(start + REPAIR_WINDOW / 2), 0);
        // 15..=16 skipped later.
        assert_eq!(seq.arrive(17, start), (true, 0));
        assert_eq!(
            seq.expire(start + REPAIR_WINDOW),
            3,
            "11, 13 and the run 15-16"
        );
        assert_eq!(
            seq.arrive(13, start + REPAIR_WINDOW),
            (false, 0),
            "too late"
        );
        assert_eq!(seq.arrive(18, start + REPAIR_WINDOW), (true, 0));
        assert_eq!(seq.expire(start + REPAIR_WINDOW * 3), 0);
        // Packets: 10, 14, 12, 17, 18 arrived; 11, 13, 15, 16 lost.
        assert_eq!((seq.packets, seq.lost_packets), (5, 4));
        assert_eq!(seq.arrive(5000, start), (true, 1), "a jump is one gap");
        assert_eq!((seq.packets, seq.lost_packets), (6, 4 + 4981));
    }

    #[test]
    fn frames_reassemble_in_any_order_and_incomplete_ones_do_not_count() {
        use crate::rtp_out::vp8_packets;
        let now = Instant::now();
        let mut stream = StreamReception::new(Mid::from("1"));
        let mut key = canned::vp8_frame(true, 3000);
        canned::stamp(&mut key, 1, 99);
        let packets = vp8_packets(&key, 0);
        let view = |i: usize, timestamp: u32| PacketView {
            seq: 100 + i as u64,
            timestamp,
            marker: i == packets.len() - 1,
            payload: &packets[i],
        };
        // The middle packet comes last, as a retransmission would.
        assert!(stream.on_packet(now, view(0, 3000), true).frame.is_none());
        assert!(stream.on_packet(now, view(2, 3000), true).frame.is_none());
        let arrival = stream.on_packet(now, view(1, 3000), true);
        assert_eq!(
            arrival.frame,
            Some(Frame {
                size: 3000,
                keyframe: true,
                stamp: Some((1, 99))
            })
        );
        assert!(
            stream.on_packet(now, view(1, 3000), true).frame.is_none(),
            "duplicate"
        );
        // A frame missing its middle never completes, and the hole is one gap in time.
        let delta = vp8_packets(&canned::vp8_frame(false, 2000), 1);
        let seq = |i: u64| 103 + i;
        for i in [0, 1] {
            let packet = PacketView {
                seq: seq(i * 2),
                timestamp: 6000,
                marker: i == 1,
                payload: &delta[i as usize],
            };
            assert!(stream.on_packet(now, packet, true).frame.is_none());
        }
        assert_eq!(stream.sequence.expire(now + REPAIR_WINDOW), 1);
    }
}
