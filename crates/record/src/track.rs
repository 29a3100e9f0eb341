//! One recorded track: its packets back in order, joined into frames, timed, and written to
//! a WebM file of its own. Video waits for a keyframe (its size goes into the file's header)
//! and, after a frame is lost, for the next one: the recording then shows a short freeze
//! rather than a smeared picture, and asks for the keyframe (`take_keyframe_request`).

use crate::reorder::Reorder;
use crate::vp8::{self, FrameAssembler};
use crate::webm::{Codec, TrackSpec, WebmWriter};
use std::io::{self, Seek, Write};
use std::time::{Duration, Instant};

/// How long a missing packet is waited for before the ones after it go on without it.
const AUDIO_WINDOW: Duration = Duration::from_millis(150);
const VIDEO_WINDOW: Duration = Duration::from_millis(300);

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// Opus, 48 kHz RTP clock, one frame per packet.
    Audio,
    /// VP8, 90 kHz RTP clock (RFC 7741).
    Video,
}

/// One received RTP packet of the track, as the SFU forwards it.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    /// Sequence number, extended (never wrapping).
    pub seq: u64,
    pub rtp_time: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

/// Where a track's RTP time stands against the recording's clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// The recording time (ms) of the track's first frame.
    offset_ms: u64,
    first: i64,
    last_rtp: u32,
    /// `last_rtp` extended past wraps.
    extended: i64,
}

impl Clock {
    fn ms(&mut self, rtp_time: u32, rate: u64) -> u64 {
        // Wrap-safe: a step is the signed difference of the 32-bit times.
        self.extended += i64::from(rtp_time.wrapping_sub(self.last_rtp) as i32);
        self.last_rtp = rtp_time;
        let ticks = (self.extended - self.first).max(0) as u64;
        self.offset_ms + ticks * 1000 / rate
    }
}

pub struct TrackRecorder<W: Write + Seek> {
    kind: TrackKind,
    /// The recording's start: frame times count from here.
    start: Instant,
    reorder: Reorder<(Instant, u32, bool, Vec<u8>)>,
    frames: FrameAssembler,
    clock: Option<Clock>,
    /// The file, until its header can be written (video: at the first keyframe).
    out: Option<W>,
    writer: Option<WebmWriter<W>>,
    /// Video frames are dropped until a keyframe (none yet, or one was lost).
    need_keyframe: bool,
    keyframe_request: bool,
    frames_written: u64,
}

impl<W: Write + Seek> TrackRecorder<W> {
    /// A track whose file is `out`, in a recording that started at `start`.
    pub fn new(kind: TrackKind, start: Instant, out: W) -> Self {
        let window = match kind {
            TrackKind::Audio => AUDIO_WINDOW,
            TrackKind::Video => VIDEO_WINDOW,
        };
        Self {
            kind,
            start,
            reorder: Reorder::new(window),
            frames: FrameAssembler::default(),
            clock: None,
            out: Some(out),
            writer: None,
            need_keyframe: kind == TrackKind::Video,
            keyframe_request: false,
            frames_written: 0,
        }
    }

    /// A packet of the track, arrived at `now`.
    pub fn push(&mut self, now: Instant, packet: RtpPacket<'_>) -> io::Result<()> {
        let item = (now, packet.rtp_time, packet.marker, packet.payload.to_vec());
        self.reorder.push(now, packet.seq, item);
        self.poll(now)
    }

    /// Writes what is due by `now` (packets waited for long enough); call it now and then
    /// while the track is silent.
    pub fn poll(&mut self, now: Instant) -> io::Result<()> {
        while let Some((_, (arrived, rtp_time, marker, payload), gap)) = self.reorder.pop(now) {
            self.packet(arrived, gap, rtp_time, marker, payload)?;
        }
        Ok(())
    }

    /// Whether a keyframe should be asked of the publisher (once per need).
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_request)
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Writes out what is gathered (the cluster in progress), so that a crash now loses
    /// nothing written before.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }

    /// Ends the track: what is still waiting is written, then the file is finished. Returns
    /// the file, and whether anything was recorded in it (a video track that never got a
    /// keyframe has no header and nothing in it).
    pub fn finish(mut self) -> io::Result<(W, bool)> {
        for (_, (arrived, rtp_time, marker, payload), gap) in self.reorder.drain() {
            self.packet(arrived, gap, rtp_time, marker, payload)?;
        }
        match (self.writer, self.out) {
            (Some(writer), _) => Ok((writer.finish()?, true)),
            (None, Some(out)) => Ok((out, false)),
            (None, None) => unreachable!("the file is either waiting or written to"),
        }
    }

    fn packet(
        &mut self,
        arrived: Instant,
        gap: bool,
        rtp_time: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> io::Result<()> {
        let (frame_time, frame) = match self.kind {
            // An Opus packet is a frame: the copy made on arrival is written as it is.
            TrackKind::Audio => (rtp_time, payload),
            TrackKind::Video => {
                if gap && !self.need_keyframe {
                    self.need_keyframe = true;
                    self.keyframe_request = true;
                }
                match self.frames.push(gap, rtp_time, marker, &payload) {
                    Some(frame) => frame,
                    None => return Ok(()),
                }
            }
        };
        let keyframe = self.kind == TrackKind::Audio || vp8::is_keyframe(&frame);
        if self.need_keyframe {
            if !keyframe {
                self.keyframe_request |= self.writer.is_none() && self.frames_written == 0;
                return Ok(());
            }
            self.need_keyframe = false;
        }
        if self.writer.is_none() {
            let codec = match self.kind {
                TrackKind::Audio => Codec::Opus { channels: 2 },
                TrackKind::Video => {
                    let (width, height) = vp8::keyframe_size(&frame).unwrap_or((0, 0));
                    Codec::Vp8 { width, height }
                }
            };
            let out = self
                .out
                .take()
                .expect("no writer yet, so the file is waiting");
            self.writer = Some(WebmWriter::new(out, &[TrackSpec { number: 1, codec }])?);
        }
        let rate = match self.kind {
            TrackKind::Audio => 48_000,
            TrackKind::Video => 90_000,
        };
        let start = self.start;
        let clock = self.clock.get_or_insert_with(|| Clock {
            offset_ms: arrived.saturating_duration_since(start).as_millis() as u64,
            first: i64::from(frame_time),
            last_rtp: frame_time,
            extended: i64::from(frame_time),
        });
        let at = clock.ms(frame_time, rate);
        let writer = self.writer.as_mut().expect("made above");
        writer.add_frame(1, at, keyframe, &frame)?;
        self.frames_written += 1;
        Ok(())
    }
}
