//! Recording forwarded media to files: each published track's RTP packets, as the SFU
//! forwards them (one copy of every packet, with the publisher's numbering), put back in
//! order, joined into frames (VP8 per RFC 7741; an Opus packet is a frame), and written to
//! a WebM file of its own as they come (`TrackRecorder`). No decoding, no transcoding.
//!
//! Crash-safe by construction: the file's header and tracks are written first, then one
//! cluster of about a second at a time, each in one write; the Segment's size and the
//! Duration are patched in at the end (`WebmWriter::finish`). A file cut short (the server
//! killed mid-recording) plays up to its last written cluster.
//!
//! Knows nothing of rooms, peers or sockets: the server feeds it packets and gives it the
//! file to write to.

#![forbid(unsafe_code)]

mod ebml;
mod reorder;
mod track;
mod vp8;
mod webm;

pub use track::{RtpPacket, TrackKind, TrackRecorder};
pub use webm::{Codec, TrackSpec, WebmWriter, CLUSTER_SPAN_MS};
