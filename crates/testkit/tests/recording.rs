//! Recording on the server, through the real server and simulated participants: a moderator
//! starts it, everyone is told, each published track gets a file of its own (mode 0600) in
//! the recording's folder, and stopping finishes them and writes `recording.json`. A server
//! without `recording.directory` says it does not record; a non-moderator is refused.
//! (Simulated media is canned, not decodable: the browser test decodes real recordings.)

use moot_protocol::{ErrorCode, TrackKind};
use moot_server::config::Config;
use moot_testkit::{spawn_server, spawn_server_with, SimOptions, SimParticipant};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn has_error(p: &SimParticipant, code: ErrorCode) -> bool {
    p.errors().iter().any(|(c, _)| *c == code)
}

/// A scratch recording directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_in(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_records_every_track_into_files_only_the_server_can_read() {
    let scratch = Scratch(std::env::temp_dir().join(format!("moot-rec-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let mut config = Config::default();
    config.recording.directory = Some(scratch.0.clone());
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let options = SimOptions::default();
    let ana = SimParticipant::join(&url, "recorded-talk", "Ana", options)
        .await
        .expect("Ana");
    let ben = SimParticipant::join(&url, "recorded-talk", "Ben", options)
        .await
        .expect("Ben");
    let flowing = |p: &SimParticipant, from| {
        p.received(from, TrackKind::Audio).frames > 10
            && p.received(from, TrackKind::Video).frames > 5
    };
    assert!(
        ben.wait_until(WAIT, |b| flowing(b, ana.id)).await,
        "media flows"
    );
    assert!(
        files_in(&scratch.0).is_empty(),
        "nothing on disk before anyone records"
    );
    // Ben is no moderator.
    ben.send(json!({"type": "set_recording", "enabled": true}));
    assert!(
        ben.wait_until(WAIT, |b| has_error(b, ErrorCode::NotAllowed))
            .await
    );
    assert!(!ana.settings().recording);
    ana.send(json!({"type": "set_recording", "enabled": true}));
    assert!(
        ben.wait_until(WAIT, |b| b.settings().recording).await,
        "everyone is told"
    );
    // Two seconds of both people's microphones and cameras.
    let before = ben.received(ana.id, TrackKind::Video).frames;
    assert!(
        ben.wait_until(WAIT, |b| b.received(ana.id, TrackKind::Video).frames
            > before + 50)
            .await
    );
    ana.send(json!({"type": "set_recording", "enabled": false}));
    assert!(ben.wait_until(WAIT, |b| !b.settings().recording).await);
    let sidecar = |dir: &Path| {
        files_in(dir)
            .into_iter()
            .find(|f| f.ends_with("recording.json"))
    };
    let found = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(found) = sidecar(&scratch.0) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("recording.json is written when the recording stops");
    let folder = found
        .parent()
        .expect("in the recording's folder")
        .to_path_buf();
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700, "the folder is the server's only");
    let files = files_in(&folder);
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for who in [ana.id.0, ben.id.0] {
        for source in ["microphone", "camera"] {
            assert!(
                names.iter().any(|n| n == &format!("{who}-{source}.webm")),
                "{who}'s {source} is recorded: {names:?}"
            );
        }
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} is the server's only", file.display());
        let bytes = std::fs::read(file).expect("readable");
        if file.extension().is_some_and(|e| e == "webm") {
            // A finished WebM: EBML header, and the Segment's size written in.
            assert_eq!(&bytes[..4], [0x1A, 0x45, 0xDF, 0xA3]);
            let segment = bytes
                .windows(4)
                .position(|w| w == [0x18, 0x53, 0x80, 0x67])
                .expect("a Segment");
            assert_ne!(
                bytes[segment + 4..segment + 12],
                [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                "finished"
            );
            assert!(
                bytes.len() > 2000,
                "{} holds media: {} bytes",
                file.display(),
                bytes.len()
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&found).expect("readable")).expect("JSON");
    let tracks = json["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 4, "{json}");
    assert!(tracks
        .iter()
        .all(|t| t["starts_ms"].as_u64().is_some() && t["participant"].as_u64().is_some()));
    ana.leave().await;
    ben.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_recording_directory_says_it_does_not_record() {
    let server = spawn_server().await.expect("server");
    let ana = SimParticipant::join(&server.ws_url(), "plain-talk", "Ana", SimOptions::default())
        .await
        .expect("Ana");
    ana.send(json!({"type": "set_recording", "enabled": true}));
    assert!(
        ana.wait_until(WAIT, |a| has_error(a, ErrorCode::RecordingUnavailable))
            .await
    );
    assert!(!ana.settings().recording);
    ana.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_stops_by_itself_when_the_disk_is_nearly_full_and_moderators_are_told() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("moot-rec-full-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let mut config = Config::default();
    config.recording.directory = Some(scratch.0.clone());
    // More free space asked for than any disk has: the floor is reached at the first check.
    config.recording.min_free_mb = u64::MAX >> 20;
    let server = spawn_server_with(config).await.expect("server");
    let url = server.ws_url();
    let options = SimOptions::default();
    let ana = SimParticipant::join(&url, "full-disk", "Ana", options)
        .await
        .expect("Ana");
    let ben = SimParticipant::join(&url, "full-disk", "Ben", options)
        .await
        .expect("Ben");
    ana.send(json!({"type": "set_recording", "enabled": true}));
    assert!(
        ana.wait_until(WAIT, |a| has_error(a, ErrorCode::RecordingStopped))
            .await,
        "the moderator is told it stopped"
    );
    let message = ana
        .errors()
        .into_iter()
        .find(|(c, _)| *c == ErrorCode::RecordingStopped)
        .expect("the error")
        .1;
    assert!(message.contains("disk is nearly full"), "{message}");
    assert!(
        ben.wait_until(WAIT, |b| !b.settings().recording).await,
        "everyone sees it stopped"
    );
    assert!(
        !has_error(&ben, ErrorCode::RecordingStopped),
        "only moderators get the why"
    );
    ana.leave().await;
    ben.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_older_than_keep_days_are_deleted_when_the_server_starts() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("moot-rec-old-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    // A recording from 2001 and a folder that is not Moot's (recent recordings are kept: the
    // unit test in media/recording.rs checks both sides of the age).
    let old = scratch.0.join("20010101T000000Z-room4");
    let other = scratch.0.join("notes");
    for dir in [&old, &other] {
        std::fs::create_dir_all(dir).expect("made");
        std::fs::write(dir.join("1-microphone.webm"), b"x").expect("written");
    }
    let mut config = Config::default();
    config.recording.directory = Some(scratch.0.clone());
    config.recording.keep_days = 7;
    let _server = spawn_server_with(config).await.expect("server");
    let gone = tokio::time::timeout(WAIT, async {
        while old.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the 2001 recording was deleted at start");
    assert!(other.exists(), "what is not a recording is left alone");
}
