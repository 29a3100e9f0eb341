//! Privacy guarantees of the real binary, run the way an operator runs it (default log level):
//! during a meeting with media, plus a client sending bad input, the server
//!   - logs no client address, display name or room name (stderr and stdout are grepped), and
//!   - writes nothing to disk: its working directory, HOME, TMPDIR and XDG directories are fresh
//!     empty directories and stay empty, and, when strace is installed, no file is opened for
//!     writing, created, renamed or removed anywhere (except /dev, /proc, /sys).
//!
//! It ends on SIGTERM, telling the clients, and exits cleanly.

use futures_util::{SinkExt, StreamExt};
use moot_protocol::TrackKind;
use moot_testkit::{SimOptions, SimParticipant};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "flamingo-tuba-quokka-lantern";
const NAMES: [&str; 3] = ["Zebediah Quux", "Philippa Wren", "Ottoline Marsh"];
const BAD_ROOM: &str = "mallory room marker!";
const BAD_NAME_ROOM: &str = "mallory-second-marker-room";
const SDP_MARKER: &str = "mallorysdpmarker";

fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("creates a temp dir");
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect()
}

/// Writes that strace saw outside /dev, /proc and /sys (successful calls only).
fn disk_writes(trace: &str) -> Vec<String> {
    const WRITE_FLAGS: [&str; 4] = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"];
    const MUTATING: [&str; 12] = [
        "creat(",
        "mkdir(",
        "mkdirat(",
        "rename(",
        "renameat(",
        "renameat2(",
        "link(",
        "linkat(",
        "symlink(",
        "symlinkat(",
        "unlink(",
        "unlinkat(",
    ];
    trace
        .lines()
        .filter(|line| !line.contains("= -1 "))
        .filter(|line| {
            let opens =
                (line.contains("open(") || line.contains("openat(") || line.contains("openat2("))
                    && WRITE_FLAGS.iter().any(|f| line.contains(f));
            opens || MUTATING.iter().any(|m| line.contains(m)) || line.contains("truncate(")
        })
        .filter(|line| {
            let path = line.split('"').nth(1).unwrap_or("");
            !(path.starts_with("/dev/") || path.starts_with("/proc/") || path.starts_with("/sys/"))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_meeting_leaves_no_names_or_addresses_in_logs_and_nothing_on_disk() {
    let root = std::env::temp_dir().join(format!("moot-privacy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let watched: Vec<PathBuf> = [
        "cwd", "home", "tmp", "state", "cache", "data", "config", "run",
    ]
    .iter()
    .map(|d| fresh_dir(&root, d))
    .collect();
    let trace_file = root.join("strace.txt");
    let strace = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let binary = env!("CARGO_BIN_EXE_moot");
    let mut command = if strace {
        let mut c = Command::new("strace");
        c.args(["-f", "-qq", "-e", "trace=%file", "-o"])
            .arg(&trace_file)
            .arg(binary);
        c
    } else {
        eprintln!("strace not installed: checking only that the directories stay empty");
        Command::new(binary)
    };
    command
        .args(["--listen", "127.0.0.1:0", "--media-port", "0"])
        .current_dir(&watched[0])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &watched[1])
        .env("TMPDIR", &watched[2])
        .env("XDG_STATE_HOME", &watched[3])
        .env("XDG_CACHE_HOME", &watched[4])
        .env("XDG_DATA_HOME", &watched[5])
        .env("XDG_CONFIG_HOME", &watched[6])
        .env("XDG_RUNTIME_DIR", &watched[7])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("starts moot");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("reads stdout") > 0,
            "moot exited early: {printed}"
        );
        printed.push_str(&line);
        if let Some(url) = line.strip_prefix("Moot is running at ") {
            break url.trim().to_owned();
        }
    };
    let ws_url = format!("{}api/ws", url.replace("http://", "ws://"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut people = Vec::new();
        for name in NAMES {
            people.push(
                SimParticipant::join(&ws_url, ROOM, name, SimOptions::default())
                    .await
                    .expect("joins"),
            );
        }
        let (a, b) = (&people[0], &people[1]);
        assert!(
            a.wait_until(Duration::from_secs(15), |p| p
                .received(b.id, TrackKind::Video)
                .frames
                >= 30)
                .await,
            "media flows: {:?}",
            a.received(b.id, TrackKind::Video)
        );
        // A client sending bad input of every kind that carries names or text.
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .expect("connects");
        for text in [
            "not json at all mallory".to_owned(),
            format!(r#"{{"type":"hello","version":1,"room":"{BAD_ROOM}","name":"Mallory"}}"#),
        ] {
            ws.send(Message::Text(text.into())).await.expect("sends");
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .expect("connects");
        let hello = format!(
            r#"{{"type":"hello","version":1,"room":"{BAD_NAME_ROOM}","name":"Mallory Moriarty"}}"#
        );
        let offer = format!(r#"{{"type":"offer","sdp":"v=0\r\no={SDP_MARKER}\r\n"}}"#);
        for text in [hello, offer, r#"{"type":"answer","sdp":"x"}"#.to_owned()] {
            ws.send(Message::Text(text.into())).await.expect("sends");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
        drop(ws);
        let last = people.pop().expect("three");
        last.vanish(); // drops off without saying goodbye
        for p in people {
            p.leave().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    });

    // SIGTERM to moot itself (under strace, it is strace's child).
    let moot_pid = if strace {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
            .expect("strace's children");
        children
            .split_whitespace()
            .next()
            .expect("moot runs")
            .to_owned()
    } else {
        child.id().to_string()
    };
    let killed = Command::new("kill")
        .args(["-TERM", &moot_pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "moot did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = stdout.read_to_string(&mut printed);
    let logs = stderr_reader.join().expect("stderr reader");
    assert!(
        status.success(),
        "moot exits cleanly on SIGTERM: {status}\n{logs}"
    );
    assert!(printed.contains("Moot stopped"), "{printed}");
    assert!(
        logs.contains("shutting down"),
        "the log capture works at the default level: {logs}"
    );

    // Nothing that identifies anyone, in the logs or in anything printed after startup.
    let after_banner: String = printed
        .lines()
        .filter(|l| !l.starts_with("Moot is running at ") && !l.starts_with("Media on UDP"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut forbidden: Vec<String> = vec![
        "127.0.0.1".into(),
        "::1".into(),
        "localhost".into(),
        ROOM.into(),
        BAD_ROOM.into(),
        BAD_NAME_ROOM.into(),
        "mallory".into(),
        SDP_MARKER.into(),
    ];
    for name in NAMES {
        forbidden.extend(name.split(' ').map(str::to_owned));
    }
    for (what, text) in [("logs", &logs), ("stdout", &after_banner)] {
        let lower = text.to_lowercase();
        for word in &forbidden {
            assert!(
                !lower.contains(&word.to_lowercase()),
                "{what} contain {word:?}:\n{text}"
            );
        }
    }

    // Nothing on disk.
    for dir in &watched {
        assert!(
            entries(dir).is_empty(),
            "{} got {:?}",
            dir.display(),
            entries(dir)
        );
    }
    if strace {
        let trace = std::fs::read_to_string(&trace_file).expect("strace output");
        assert!(
            trace.contains("openat("),
            "strace traced file calls: {trace}"
        );
        let writes = disk_writes(&trace);
        assert!(
            writes.is_empty(),
            "moot touched the disk:\n{}",
            writes.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_write_detector_sees_writes() {
    let trace = "123 openat(AT_FDCWD, \"/etc/ssl/cert.pem\", O_RDONLY|O_CLOEXEC) = 3\n\
                 123 openat(AT_FDCWD, \"/dev/urandom\", O_RDWR) = 4\n\
                 124 openat(AT_FDCWD, \"moot-state/x.pem\", O_WRONLY|O_CREAT|O_TRUNC, 0600) = 5\n\
                 124 mkdir(\"moot-state\", 0777) = 0\n\
                 124 mkdir(\"nope\", 0777) = -1 EEXIST (File exists)\n";
    let writes = disk_writes(trace);
    assert_eq!(writes.len(), 2, "{writes:?}");
}
