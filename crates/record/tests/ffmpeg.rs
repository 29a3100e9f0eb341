//! Real codecs, real decoder: ffmpeg (Debian's, as the project's test command installs it)
//! encodes a test picture as VP8 and a 440 Hz tone as Opus; the frames are packetized as a
//! browser does (RFC 7741, one Opus frame per packet), recorded, and ffmpeg decodes the files.

use moot_record::{RtpPacket, TrackKind, TrackRecorder};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("moot-record-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a program of ffmpeg's, returning (success, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (apt-get install ffmpeg): {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn encode(args: &[&str]) {
    let (ok, _, err) = run("ffmpeg", args);
    assert!(ok, "ffmpeg failed: {err}");
}

/// VP8 frames of `seconds` of ffmpeg's test picture at 30 fps, a keyframe every 30 frames.
fn vp8_frames(scratch: &Scratch, seconds: u32) -> Vec<Vec<u8>> {
    let ivf = scratch.path("in.ivf");
    let input = "testsrc2=size=320x240:rate=30";
    let t = seconds.to_string();
    encode(&[
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        input,
        "-t",
        &t,
        "-c:v",
        "libvpx",
        "-g",
        "30",
        "-b:v",
        "400k",
        "-f",
        "ivf",
        ivf.to_str().expect("utf-8"),
    ]);
    // IVF: a 32-byte header, then per frame a 4-byte size, an 8-byte timestamp, the frame.
    let bytes = std::fs::read(&ivf).expect("ivf written");
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 12 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        frames.push(bytes[at + 12..at + 12 + size].to_vec());
        at += 12 + size;
    }
    frames
}

/// Opus packets (20 ms each) of `seconds` of a 440 Hz tone.
fn opus_packets(scratch: &Scratch, seconds: u32) -> Vec<Vec<u8>> {
    let ogg = scratch.path("in.ogg");
    let input = format!("sine=frequency=440:duration={seconds}");
    encode(&[
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        &input,
        "-ac",
        "2",
        "-c:a",
        "libopus",
        "-b:a",
        "48k",
        "-frame_duration",
        "20",
        "-f",
        "ogg",
        ogg.to_str().expect("utf-8"),
    ]);
    // Ogg pages: "OggS", then 26 header bytes whose last is the segment count, the segment
    // table, the segments; a packet ends at a segment shorter than 255.
    let bytes = std::fs::read(&ogg).expect("ogg written");
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    let mut at = 0;
    while at + 27 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"OggS");
        let count = bytes[at + 26] as usize;
        let table = &bytes[at + 27..at + 27 + count];
        let mut data = at + 27 + count;
        for &len in table {
            packet.extend_from_slice(&bytes[data..data + len as usize]);
            data += len as usize;
            if len < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        at = data;
    }
    // The first two are the OpusHead and OpusTags headers.
    packets.split_off(2)
}

/// A frame's RTP packets as a browser sends VP8: payloads of at most 1100 bytes, each with a
/// one-byte descriptor (S on the first), the marker bit on the last.
fn packetize_vp8(frame: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let chunks: Vec<&[u8]> = frame.chunks(1100).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            (i == last, payload)
        })
        .collect()
}

/// A packet as the recorder gets it, with when it arrives.
struct Sent {
    at: Instant,
    seq: u64,
    rtp_time: u32,
    marker: bool,
    payload: Vec<u8>,
}

fn video_packets(start: Instant, frames: &[Vec<u8>]) -> Vec<Sent> {
    let mut out = Vec::new();
    let mut seq = 5000;
    for (i, frame) in frames.iter().enumerate() {
        let at = start + Duration::from_millis(i as u64 * 1000 / 30);
        // A timestamp near the 32-bit wrap: the recording must not jump back.
        let rtp_time = (u32::MAX - 30_000).wrapping_add(i as u32 * 3000);
        for (marker, payload) in packetize_vp8(frame) {
            out.push(Sent {
                at,
                seq,
                rtp_time,
                marker,
                payload,
            });
            seq += 1;
        }
    }
    out
}

fn audio_packets(start: Instant, packets: &[Vec<u8>]) -> Vec<Sent> {
    packets
        .iter()
        .enumerate()
        .map(|(i, payload)| Sent {
            at: start + Duration::from_millis(i as u64 * 20),
            seq: 100 + i as u64,
            rtp_time: 7_000 + i as u32 * 960,
            marker: false,
            payload: payload.clone(),
        })
        .collect()
}

fn feed(track: &mut TrackRecorder<File>, packets: &[Sent]) {
    for p in packets {
        let packet = RtpPacket {
            seq: p.seq,
            rtp_time: p.rtp_time,
            marker: p.marker,
            payload: &p.payload,
        };
        track.push(p.at, packet).expect("written");
    }
}

fn record(kind: TrackKind, start: Instant, file: &Path, packets: &[Sent]) -> u64 {
    let mut track = TrackRecorder::new(kind, start, File::create(file).expect("file"));
    feed(&mut track, packets);
    let frames = track.frames_written();
    let (_, recorded) = track.finish().expect("finished");
    assert!(recorded, "something was recorded");
    frames
}

/// ffprobe's duration of `file`, in seconds.
fn duration(file: &Path) -> f64 {
    let (ok, out, err) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            file.to_str().expect("utf-8"),
        ],
    );
    assert!(ok, "ffprobe: {err}");
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("a duration, not {out:?}"))
}

/// Frames ffmpeg decodes from `file`'s first stream, and what it said about errors.
fn decode(file: &Path) -> (u64, String) {
    let (ok, out, err) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "0",
            "-show_entries",
            "stream=nb_read_frames,codec_name",
            "-of",
            "csv=p=0",
            file.to_str().expect("utf-8"),
        ],
    );
    assert!(ok, "ffprobe: {err}");
    let frames = out
        .trim()
        .rsplit(',')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a frame count, not {out:?}"));
    (frames, err)
}

#[test]
fn recorded_vp8_and_opus_decode_whole_at_the_right_duration() {
    let scratch = Scratch::new("whole");
    let start = Instant::now();
    let video = scratch.path("camera.webm");
    let frames = vp8_frames(&scratch, 3);
    assert_eq!(frames.len(), 90);
    assert_eq!(
        record(
            TrackKind::Video,
            start,
            &video,
            &video_packets(start, &frames)
        ),
        90
    );
    let (decoded, errors) = decode(&video);
    assert_eq!((decoded, errors.as_str()), (90, ""), "every frame decodes");
    let d = duration(&video);
    assert!((2.9..=3.2).contains(&d), "video duration {d}");
    let (ok, _, err) = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            video.to_str().expect("utf-8"),
            "-f",
            "null",
            "-",
        ],
    );
    assert!(
        ok && err.is_empty(),
        "ffmpeg decodes the video cleanly: {err}"
    );

    let audio = scratch.path("microphone.webm");
    let packets = opus_packets(&scratch, 3);
    assert!(
        (149..=151).contains(&packets.len()),
        "{} packets",
        packets.len()
    );
    record(
        TrackKind::Audio,
        start,
        &audio,
        &audio_packets(start, &packets),
    );
    let d = duration(&audio);
    assert!((2.9..=3.1).contains(&d), "audio duration {d}");
    // The tone is there: loud, and at 440 Hz (ffmpeg's astats on a band-pass around it).
    let (ok, _, err) = run(
        "ffmpeg",
        &[
            "-v",
            "info",
            "-i",
            audio.to_str().expect("utf-8"),
            "-af",
            "bandpass=f=440:width_type=h:w=40,volumedetect",
            "-f",
            "null",
            "-",
        ],
    );
    assert!(ok, "{err}");
    let mean: f64 = err
        .lines()
        .find_map(|l| l.split("mean_volume: ").nth(1))
        .and_then(|v| v.trim_end_matches(" dB").trim().parse().ok())
        .unwrap_or_else(|| panic!("volumedetect says the mean volume: {err}"));
    assert!(
        mean > -30.0,
        "the 440 Hz tone is in the recording: {mean} dB"
    );
}

#[test]
fn reordered_packets_are_put_back_and_a_lost_one_costs_frames_until_the_next_keyframe() {
    let scratch = Scratch::new("loss");
    let start = Instant::now();
    let frames = vp8_frames(&scratch, 3);
    let mut packets = video_packets(start, &frames);
    // Swap neighbours all along (late packets), and lose one packet of frame 40.
    for i in (1..packets.len() - 1).step_by(7) {
        packets.swap(i, i + 1);
    }
    let lost_frame_time = (u32::MAX - 30_000).wrapping_add(40 * 3000);
    let lost = packets
        .iter()
        .position(|p| p.rtp_time == lost_frame_time)
        .expect("frame 40 was sent");
    packets.remove(lost);
    let file = scratch.path("camera.webm");
    let mut track = TrackRecorder::new(TrackKind::Video, start, File::create(&file).expect("file"));
    let mut asked = false;
    for p in &packets {
        let packet = RtpPacket {
            seq: p.seq,
            rtp_time: p.rtp_time,
            marker: p.marker,
            payload: &p.payload,
        };
        // Arrival times move on with the frames: the lost packet is given up once the
        // ones after it have waited for the reorder window.
        track.push(p.at, packet).expect("written");
        asked |= track.take_keyframe_request();
    }
    let written = track.frames_written();
    track.finish().expect("finished");
    assert!(asked, "a keyframe was asked for after the loss");
    // Frames 0-39 whole; 40-59 wait for the keyframe at 60; 60-89 whole.
    assert_eq!(written, 70, "frames written");
    let (decoded, errors) = decode(&file);
    assert_eq!(
        (decoded, errors.as_str()),
        (70, ""),
        "what was written decodes cleanly"
    );
}

#[test]
fn a_recording_cut_short_by_a_crash_plays_up_to_its_last_cluster() {
    let scratch = Scratch::new("crash");
    let start = Instant::now();
    let frames = vp8_frames(&scratch, 4);
    let file = scratch.path("camera.webm");
    let mut track = TrackRecorder::new(TrackKind::Video, start, File::create(&file).expect("file"));
    // 3.5 s of the 4 go in; then the process "dies": no finish, nothing more written.
    let packets = video_packets(start, &frames);
    let cut = packets
        .iter()
        .position(|p| p.at >= start + Duration::from_millis(3500))
        .expect("4 s were made");
    feed(&mut track, &packets[..cut]);
    std::mem::forget(track);
    let written = std::fs::read(&file).expect("what reached the file");
    let (decoded, errors) = decode(&file);
    assert!(errors.is_empty(), "whole clusters decode cleanly: {errors}");
    assert!(
        (89..=105).contains(&decoded),
        "about 3 s of the 3.5 decode (the last second's cluster was not written yet): {decoded}"
    );
    // Killed in the middle of writing a cluster: the part before it still plays.
    let torn = scratch.path("torn.webm");
    std::fs::write(&torn, &written[..written.len() - 2000]).expect("torn copy");
    let (ok, _, err) = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            torn.to_str().expect("utf-8"),
            "-f",
            "null",
            "-",
        ],
    );
    assert!(ok, "ffmpeg reads the torn file: {err}");
    let (decoded, _) = decode(&torn);
    assert!(
        decoded >= 60,
        "at least the first two seconds decode: {decoded}"
    );
}
