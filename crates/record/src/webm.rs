//! A WebM file written as it goes: header and tracks first, then one cluster (about a second
//! of frames) at a time, each written whole with its size. The Segment is started with an
//! unknown size, so a file cut short by a crash is a valid stream up to its last written
//! cluster; `finish` then patches in the Segment's size and the Duration.

use crate::ebml::{self, id, UNKNOWN_SIZE};
use std::io::{self, Seek, SeekFrom, Write};

/// Frames gathered before a cluster is written: what a crash can lose.
pub const CLUSTER_SPAN_MS: u64 = 1000;

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// VP8 at the picture size of its first keyframe.
    Vp8 { width: u16, height: u16 },
    /// Opus at 48 kHz.
    Opus { channels: u8 },
}

/// One track of the file; numbers start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSpec {
    pub number: u8,
    pub codec: Codec,
}

pub struct WebmWriter<W: Write + Seek> {
    out: W,
    /// Where the Segment's 8-byte size is, and where its data starts.
    segment_size_at: u64,
    segment_data_at: u64,
    /// Where the Void that `finish` replaces with the Duration is.
    duration_at: u64,
    /// The cluster being gathered: its timestamp and its blocks so far.
    cluster: Option<(u64, Vec<u8>)>,
    /// The last frame's timestamp, and the frame length that follows it in the Duration.
    last_ms: Option<u64>,
    frame_ms: u64,
}

/// Duration element: 2 bytes of ID, 1 of size, an 8-byte float.
const DURATION_LEN: usize = 11;

impl<W: Write + Seek> WebmWriter<W> {
    /// Writes the header and the tracks to `out` (at its current position).
    pub fn new(mut out: W, tracks: &[TrackSpec]) -> io::Result<Self> {
        let mut head = Vec::new();
        ebml::put_master(&mut head, id::EBML, |e| {
            ebml::put_uint(e, id::EBML_VERSION, 1);
            ebml::put_uint(e, id::EBML_READ_VERSION, 1);
            ebml::put_uint(e, id::EBML_MAX_ID_LENGTH, 4);
            ebml::put_uint(e, id::EBML_MAX_SIZE_LENGTH, 8);
            ebml::put_str(e, id::DOC_TYPE, "webm");
            ebml::put_uint(e, id::DOC_TYPE_VERSION, 4);
            ebml::put_uint(e, id::DOC_TYPE_READ_VERSION, 2);
        });
        let start = out.stream_position()?;
        ebml::put_id(&mut head, id::SEGMENT);
        let segment_size_at = start + head.len() as u64;
        head.extend_from_slice(&UNKNOWN_SIZE);
        let segment_data_at = start + head.len() as u64;
        // Info, with room for the Duration known only at the end.
        let mut info = Vec::new();
        ebml::put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000); // 1 ms
        ebml::put_str(&mut info, id::MUXING_APP, "moot");
        ebml::put_str(&mut info, id::WRITING_APP, "moot");
        let void_at_in_info = info.len();
        ebml::put_element(&mut info, id::VOID, &[0; DURATION_LEN - 2]);
        ebml::put_id(&mut head, id::INFO);
        ebml::put_size(&mut head, info.len() as u64);
        let duration_at = start + (head.len() + void_at_in_info) as u64;
        head.extend_from_slice(&info);
        ebml::put_master(&mut head, id::TRACKS, |t| {
            for track in tracks {
                ebml::put_master(t, id::TRACK_ENTRY, |e| put_track(e, track));
            }
        });
        out.write_all(&head)?;
        let frame_ms = if tracks.iter().any(|t| matches!(t.codec, Codec::Vp8 { .. })) {
            33
        } else {
            20
        };
        Ok(Self {
            out,
            segment_size_at,
            segment_data_at,
            duration_at,
            cluster: None,
            last_ms: None,
            frame_ms,
        })
    }

    /// Adds one frame of `track` at `timestamp_ms` (never earlier than the last frame added:
    /// an earlier one is written at the last one's time). A cluster full for
    /// `CLUSTER_SPAN_MS` is written out first.
    pub fn add_frame(
        &mut self,
        track: u8,
        timestamp_ms: u64,
        keyframe: bool,
        data: &[u8],
    ) -> io::Result<()> {
        let at = self
            .last_ms
            .map_or(timestamp_ms, |last| timestamp_ms.max(last));
        self.last_ms = Some(at);
        let full = self
            .cluster
            .as_ref()
            .is_some_and(|(start, _)| at - start >= CLUSTER_SPAN_MS);
        if full {
            self.flush()?;
        }
        let (start, blocks) = self.cluster.get_or_insert_with(|| (at, Vec::new()));
        // A SimpleBlock: track number (an EBML size), timestamp relative to the cluster
        // (signed 16 bits: clusters span far less than 32 s), flags, the frame.
        let relative = i16::try_from(at - *start).expect("a cluster spans about a second");
        let mut block = Vec::with_capacity(data.len() + 4);
        ebml::put_size(&mut block, u64::from(track));
        block.extend_from_slice(&relative.to_be_bytes());
        block.push(if keyframe { 0x80 } else { 0x00 });
        block.extend_from_slice(data);
        ebml::put_element(blocks, id::SIMPLE_BLOCK, &block);
        Ok(())
    }

    /// Writes the cluster gathered so far (if any) to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some((start, blocks)) = self.cluster.take() else {
            return Ok(());
        };
        let mut body = Vec::with_capacity(blocks.len() + 8);
        ebml::put_uint(&mut body, id::TIMESTAMP, start);
        body.extend_from_slice(&blocks);
        let mut cluster = Vec::with_capacity(body.len() + 12);
        ebml::put_element(&mut cluster, id::CLUSTER, &body);
        // One write per cluster: a crash leaves whole clusters, or a cut one at the end.
        self.out.write_all(&cluster)?;
        self.out.flush()
    }

    /// The time of the last frame added, in ms from the file's start.
    pub fn last_timestamp(&self) -> Option<u64> {
        self.last_ms
    }

    /// Writes what is left, then the Duration and the Segment's size; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        let end = self.out.stream_position()?;
        let duration = self.last_ms.map_or(0, |last| last + self.frame_ms);
        let mut element = Vec::with_capacity(DURATION_LEN);
        ebml::put_float(&mut element, id::DURATION, duration as f64);
        debug_assert_eq!(element.len(), DURATION_LEN);
        self.out.seek(SeekFrom::Start(self.duration_at))?;
        self.out.write_all(&element)?;
        // The Segment's size in the 8-byte form its unknown size took.
        let size = end - self.segment_data_at;
        let mut sized = size.to_be_bytes();
        sized[0] = 0x01;
        self.out.seek(SeekFrom::Start(self.segment_size_at))?;
        self.out.write_all(&sized)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put_track(e: &mut Vec<u8>, track: &TrackSpec) {
    ebml::put_uint(e, id::TRACK_NUMBER, u64::from(track.number));
    ebml::put_uint(e, id::TRACK_UID, u64::from(track.number));
    ebml::put_uint(e, id::FLAG_LACING, 0);
    match track.codec {
        Codec::Vp8 { width, height } => {
            ebml::put_uint(e, id::TRACK_TYPE, 1);
            ebml::put_str(e, id::CODEC_ID, "V_VP8");
            ebml::put_master(e, id::VIDEO, |v| {
                ebml::put_uint(v, id::PIXEL_WIDTH, u64::from(width));
                ebml::put_uint(v, id::PIXEL_HEIGHT, u64::from(height));
            });
        }
        Codec::Opus { channels } => {
            ebml::put_uint(e, id::TRACK_TYPE, 2);
            ebml::put_str(e, id::CODEC_ID, "A_OPUS");
            ebml::put_element(e, id::CODEC_PRIVATE, &opus_head(channels));
            // RFC 7845: 3840 samples (80 ms) of pre-skip are usual; WebRTC's Opus has none
            // to skip, so no CodecDelay. SeekPreRoll: 80 ms, as the Matroska Opus mapping says.
            ebml::put_uint(e, id::SEEK_PRE_ROLL, 80_000_000);
            ebml::put_master(e, id::AUDIO, |a| {
                ebml::put_float(a, id::SAMPLING_FREQUENCY, 48_000.0);
                ebml::put_uint(a, id::CHANNELS, u64::from(channels));
            });
        }
    }
}

/// The OpusHead identification header (RFC 7845 §5.1) Matroska carries as CodecPrivate.
fn opus_head(channels: u8) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&0u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes()); // input sample rate
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family 0: mono or stereo
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn the_segment_size_and_duration_are_patched_in_at_the_end() {
        let tracks = [TrackSpec {
            number: 1,
            codec: Codec::Opus { channels: 2 },
        }];
        let mut writer = WebmWriter::new(Cursor::new(Vec::new()), &tracks).expect("header");
        for i in 0..100u64 {
            writer
                .add_frame(1, i * 20, true, &[0xFC, 0xFF, 0xFE])
                .expect("frame");
        }
        let bytes = writer.finish().expect("finish").into_inner();
        let segment = bytes
            .windows(4)
            .position(|w| w == [0x18, 0x53, 0x80, 0x67])
            .expect("a Segment");
        let size = u64::from_be_bytes(bytes[segment + 4..segment + 12].try_into().expect("8"));
        assert_eq!(size & !(0xFF << 56), (bytes.len() - segment - 12) as u64);
        let duration = bytes
            .windows(3)
            .position(|w| w == [0x44, 0x89, 0x88])
            .expect("a Duration");
        let value = f64::from_be_bytes(bytes[duration + 3..duration + 11].try_into().expect("8"));
        assert_eq!(value, 99.0 * 20.0 + 20.0);
        // Two seconds of frames: two clusters.
        let clusters = bytes
            .windows(4)
            .filter(|w| *w == [0x1F, 0x43, 0xB6, 0x75])
            .count();
        assert_eq!(clusters, 2);
    }
}
