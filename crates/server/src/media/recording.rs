//! A media worker's recordings: for each recorded group (room instance), the tracks its own
//! peers publish, each written to a WebM file of its own by `moot_record` as its packets come
//! out of the SFU (`ClusterMessage::Record`). Files are only ever created here, only while a
//! moderator records, with mode 0600 and never over an existing file.
//!
//! A recording is a folder `<recording.directory>/<UTC start>-room<instance>`, made by the
//! first worker that needs it (a room spread over workers shares it), holding
//! `<participant>-<source>[-<layer>].webm` per track and, when the recording stops,
//! `recording.json`: whose each file is and when, in ms from the recording's start, it
//! begins. Each layer of a simulcast camera gets its own file (composing picks the best).

use moot_record::{RtpPacket, TrackKind, TrackRecorder};
use moot_sfu::{Codec, ForwardedPacket, GroupId, MediaKind, Rid, Source, TrackKey};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the limits are checked (the free disk space is a `statvfs` call).
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// When a recording stops by itself.
#[derive(Debug, Clone, Copy)]
pub struct RecordingLimits {
    /// `recording.max_minutes`.
    pub longest: Duration,
    /// `recording.min_free_mb`, in bytes.
    pub min_free_bytes: u64,
}

/// Every recording of one worker.
pub struct Recordings {
    /// `recording.directory`; None: this server does not record.
    dir: Option<PathBuf>,
    limits: RecordingLimits,
    groups: HashMap<GroupId, GroupRecording>,
    /// When the limits were last checked.
    checked: Option<Instant>,
}

/// What `Recordings::poll` found.
#[derive(Debug, Default)]
pub struct Polled {
    /// Tracks whose recording waits for a keyframe: ask their publishers.
    pub keyframes: Vec<TrackKey>,
    /// Recordings stopped here by a limit or a failure, with why (for the moderators).
    pub stopped: Vec<(GroupId, String)>,
}

struct GroupRecording {
    folder: PathBuf,
    started: Instant,
    /// A file could not be written: the recording stops at the next poll, with this.
    failed: Option<String>,
    /// What each track carries (its `Published` or `published_here`).
    sources: HashMap<TrackKey, (MediaKind, Source)>,
    files: HashMap<(TrackKey, Option<Rid>), TrackFile>,
}

struct TrackFile {
    recorder: TrackRecorder<File>,
    name: String,
    track: TrackKey,
    source: Source,
    /// When its first packet came, in ms from the recording's start.
    starts_ms: u64,
}

impl Recordings {
    pub fn new(dir: Option<PathBuf>, limits: RecordingLimits) -> Self {
        Self {
            dir,
            limits,
            groups: HashMap::new(),
            checked: None,
        }
    }

    /// Starts recording `group` here (`started_at`: the wall-clock start every worker of the
    /// room names the folder by), with the tracks its peers here publish now. Nothing is
    /// created before a track's first packet: a worker holding nobody of the room writes
    /// nothing.
    pub fn start(
        &mut self,
        now: Instant,
        group: GroupId,
        started_at: SystemTime,
        tracks: Vec<(TrackKey, MediaKind, Source)>,
    ) {
        let Some(dir) = &self.dir else {
            return; // the room refuses to record on such a server; nothing to do
        };
        if self.groups.contains_key(&group) {
            return;
        }
        let folder = recording_folder(dir, group, started_at);
        let sources = tracks.into_iter().map(|(t, k, s)| (t, (k, s))).collect();
        let recording = GroupRecording {
            folder,
            started: now,
            failed: None,
            sources,
            files: HashMap::new(),
        };
        self.groups.insert(group, recording);
    }

    /// A track published in `group` after the recording started.
    pub fn published(&mut self, group: GroupId, track: TrackKey, kind: MediaKind, source: Source) {
        if let Some(recording) = self.groups.get_mut(&group) {
            recording.sources.insert(track, (kind, source));
        }
    }

    /// A packet of a recorded group's track; its file is made with its first packet.
    pub fn packet(&mut self, now: Instant, group: GroupId, packet: &ForwardedPacket) {
        let Some(recording) = self.groups.get_mut(&group) else {
            return;
        };
        let key = (packet.track, packet.rid);
        if !recording.files.contains_key(&key) {
            let Some(&(kind, source)) = recording.sources.get(&packet.track) else {
                return;
            };
            // What moot-record writes: VP8 and Opus, as browsers send them.
            let codec = packet.params.spec().codec;
            let kind = match (kind, codec) {
                (MediaKind::Audio, Codec::Opus) => TrackKind::Audio,
                (MediaKind::Video, Codec::Vp8) => TrackKind::Video,
                _ => return,
            };
            let name = file_name(packet.track, source, packet.rid);
            let created = make_folder(&recording.folder)
                .and_then(|()| create_private(&recording.folder.join(&name)));
            let file = match created {
                Ok(file) => file,
                Err(e) => {
                    tracing::warn!(group = group.0, "cannot create a recording file: {e}");
                    recording.failed = Some(format!("a file could not be created ({e})"));
                    return;
                }
            };
            let starts_ms = now.saturating_duration_since(recording.started).as_millis() as u64;
            let track = TrackFile {
                recorder: TrackRecorder::new(kind, recording.started, file),
                name,
                track: packet.track,
                source,
                starts_ms,
            };
            recording.files.insert(key, track);
        }
        let Some(file) = recording.files.get_mut(&key) else {
            return;
        };
        let rtp = RtpPacket {
            seq: packet.seq(),
            rtp_time: packet.rtp_time(),
            marker: packet.marker(),
            payload: packet.payload(),
        };
        if let Err(e) = file.recorder.push(now, rtp) {
            tracing::warn!(group = group.0, "a recording file failed: {e}");
            recording.failed = Some(format!("a file could not be written ({e})"));
        }
    }

    /// Writes what is due, asks for keyframes, and stops (here) what reached a limit or
    /// failed: at most once a second for the limits.
    pub fn poll(&mut self, now: Instant) -> Polled {
        let mut polled = Polled::default();
        if self.groups.is_empty() {
            return polled;
        }
        for recording in self.groups.values_mut() {
            for file in recording.files.values_mut() {
                if file.recorder.take_keyframe_request() {
                    polled.keyframes.push(file.track);
                }
                if let Err(e) = file.recorder.poll(now) {
                    recording.failed = Some(format!("a file could not be written ({e})"));
                }
            }
        }
        let due = self
            .checked
            .is_none_or(|at| now.saturating_duration_since(at) >= CHECK_EVERY);
        let mut stop = Vec::new();
        for (group, recording) in &self.groups {
            let reason = if let Some(failed) = &recording.failed {
                Some(failed.clone())
            } else if !due {
                None
            } else if now.saturating_duration_since(recording.started) >= self.limits.longest {
                let minutes = self.limits.longest.as_secs() / 60;
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                Some(format!(
                    "it reached this server's limit of {minutes} {unit}"
                ))
            } else {
                free_bytes(&recording.folder)
                    .filter(|free| *free < self.limits.min_free_bytes)
                    .map(|free| {
                        format!(
                            "the server's disk is nearly full ({} MiB left)",
                            free / (1 << 20)
                        )
                    })
            };
            if let Some(reason) = reason {
                stop.push((*group, reason));
            }
        }
        if due {
            self.checked = Some(now);
        }
        for (group, reason) in stop {
            tracing::info!(group = group.0, %reason, "recording stopped by the server");
            self.stop(group);
            polled.stopped.push((group, reason));
        }
        polled
    }

    /// Stops recording `group` here: every file is finished (its duration written) and
    /// `recording.json` describes them.
    pub fn stop(&mut self, group: GroupId) {
        let Some(recording) = self.groups.remove(&group) else {
            return;
        };
        if recording.files.is_empty() {
            return; // nothing was recorded here
        }
        let mut tracks = Vec::new();
        for (_, file) in recording.files {
            let path = recording.folder.join(&file.name);
            match file.recorder.finish() {
                Ok((_, true)) => tracks.push(serde_json::json!({
                    "file": file.name,
                    "participant": file.track.peer.0,
                    "source": source_name(file.source),
                    "starts_ms": file.starts_ms,
                })),
                // A video track that never got a keyframe: nothing in it.
                Ok((_, false)) => {
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => tracing::warn!(group = group.0, "finishing a recording file: {e}"),
            }
        }
        tracks.sort_by(|a, b| a["file"].as_str().cmp(&b["file"].as_str()));
        let sidecar = format!("{}\n", serde_json::json!({ "tracks": tracks }));
        // Each worker of a spread room writes its own; the first keeps the name.
        let name = (0..)
            .map(|i| match i {
                0 => "recording.json".to_owned(),
                i => format!("recording-{i}.json"),
            })
            .find(|n| !recording.folder.join(n).exists())
            .expect("some name is free");
        let written = create_private(&recording.folder.join(name))
            .and_then(|mut f| io::Write::write_all(&mut f, sidecar.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(group = group.0, "cannot write recording.json: {e}");
        }
    }

    /// Stops every recording (the worker is stopping).
    pub fn stop_all(&mut self) {
        let groups: Vec<GroupId> = self.groups.keys().copied().collect();
        for group in groups {
            self.stop(group);
        }
    }
}

/// The space free for this user on the disk holding `folder` (or the recording directory,
/// before the folder exists). None when it cannot be told.
// fsblkcnt_t and the fragment size are u64 here, narrower on some platforms.
#[allow(clippy::useless_conversion)]
fn free_bytes(folder: &Path) -> Option<u64> {
    let existing = folder.ancestors().find(|p| p.exists())?;
    let stats = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size())))
}

/// `<participant>-<source>[-<layer>].webm`
fn file_name(track: TrackKey, source: Source, rid: Option<Rid>) -> String {
    let layer = rid
        .map(|r| format!("-{}", sanitize(&r)))
        .unwrap_or_default();
    format!("{}-{}{layer}.webm", track.peer.0, source_name(source))
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Microphone => "microphone",
        Source::Camera => "camera",
        Source::Screen => "screen",
        Source::ScreenAudio => "screen-audio",
    }
}

/// A layer name as it may appear in a file name (letters and digits only).
fn sanitize(rid: &str) -> String {
    rid.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect()
}

/// A new file only this user can read; never an existing one.
fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// The recording's folder, `<dir>/<UTC start>-room<instance>`.
fn recording_folder(dir: &Path, group: GroupId, started_at: SystemTime) -> PathBuf {
    let secs = started_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    dir.join(format!("{}-room{}", utc_stamp(secs), group.0))
}

/// Makes `folder` (and the recording directory) with mode 0700, unless it exists: another
/// worker of a spread room, or an earlier track, made it.
fn make_folder(folder: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
}

/// Deletes the recordings in `dir` that started more than `keep` before `now`: only folders
/// named as `recording_folder` names them; anything else there is left alone. Returns how
/// many were deleted.
pub fn delete_expired(dir: &Path, now: SystemTime, keep: Duration) -> io::Result<usize> {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut deleted = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(started) = name.to_str().and_then(folder_start) else {
            continue;
        };
        if entry.file_type()?.is_dir() && now.saturating_sub(started) > keep.as_secs() {
            std::fs::remove_dir_all(entry.path())?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// When a recording folder's recording started (seconds since 1970), from its name
/// `YYYYMMDDTHHMMSSZ-room<n>`; None for any other name.
fn folder_start(name: &str) -> Option<u64> {
    let (stamp, room) = name.split_once("-room")?;
    if room.is_empty() || !room.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = stamp.get(range)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm, the inverse of `utc_stamp`'s).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// `YYYYMMDDTHHMMSSZ` for seconds since 1970 (civil date from days: H. Hinnant's algorithm).
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_are_civil_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_796_693_045), "20261208T012405Z");
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("moot-recs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_recording_stops_by_itself_at_the_time_limit_and_on_a_full_disk() {
        let dir = scratch("limits");
        let start = Instant::now();
        let limits = RecordingLimits {
            longest: Duration::from_secs(60),
            min_free_bytes: 0,
        };
        let mut recordings = Recordings::new(Some(dir.clone()), limits);
        let group = GroupId(3);
        recordings.start(start, group, SystemTime::now(), Vec::new());
        assert!(recordings
            .poll(start + Duration::from_secs(59))
            .stopped
            .is_empty());
        let polled = recordings.poll(start + Duration::from_secs(60));
        assert_eq!(
            polled.stopped,
            [(
                group,
                "it reached this server's limit of 1 minute".to_owned()
            )]
        );
        assert!(
            recordings
                .poll(start + Duration::from_secs(61))
                .stopped
                .is_empty(),
            "once"
        );
        // A floor above any disk's free space: stopped at the first check.
        let limits = RecordingLimits {
            longest: Duration::from_secs(3600),
            min_free_bytes: u64::MAX,
        };
        let mut recordings = Recordings::new(Some(dir.clone()), limits);
        recordings.start(start, group, SystemTime::now(), Vec::new());
        let polled = recordings.poll(start);
        assert_eq!(polled.stopped.len(), 1);
        assert!(
            polled.stopped[0].1.contains("disk is nearly full"),
            "{:?}",
            polled.stopped
        );
        assert!(
            !dir.exists(),
            "nothing was recorded, so nothing was written"
        );
    }

    #[test]
    fn old_recordings_are_deleted_and_nothing_else() {
        let dir = scratch("expiry");
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let folder = |age: Duration| recording_folder(&dir, GroupId(1), now - age);
        let (old, recent) = (folder(8 * day), folder(day));
        for f in [&old, &recent] {
            make_folder(f).expect("made");
            std::fs::write(f.join("1-microphone.webm"), b"x").expect("written");
        }
        // Not Moot's: a folder of another name, and a file with a recording's name.
        let other = dir.join("holiday-videos");
        make_folder(&other).expect("made");
        let file = dir
            .join(old.file_name().expect("a name"))
            .with_extension("txt");
        std::fs::write(&file, b"notes").expect("written");
        assert_eq!(delete_expired(&dir, now, 7 * day).expect("swept"), 1);
        assert!(!old.exists(), "8 days old: deleted");
        assert!(
            recent.exists() && other.exists() && file.exists(),
            "the rest is left alone"
        );
        assert_eq!(
            delete_expired(&dir.join("missing"), now, day).expect("nothing"),
            0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn folder_names_read_back_as_their_start_and_nothing_else_does() {
        for secs in [0, 951_782_400, 1_796_693_045, 4_102_444_799] {
            assert_eq!(
                folder_start(&format!("{}-room7", utc_stamp(secs))),
                Some(secs)
            );
        }
        for name in [
            "20261208T012405Z-room",
            "20261208T012405Z-roomx",
            "20261308T012405Z-room1",
            "2026120T8012405Z-room1",
            "notes",
            "20261208T012405Z",
        ] {
            assert_eq!(folder_start(name), None, "{name}");
        }
    }

    #[test]
    fn names_are_made_of_numbers_and_known_words() {
        let track = TrackKey {
            peer: moot_sfu::PeerId(7),
            mid: "1".into(),
        };
        let rid = Some(Rid::from("f/../x"));
        assert_eq!(file_name(track, Source::Camera, rid), "7-camera-fx.webm");
        assert_eq!(
            file_name(track, Source::Microphone, None),
            "7-microphone.webm"
        );
    }
}
