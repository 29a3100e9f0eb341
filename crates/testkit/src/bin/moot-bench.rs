//! The benchmark (not a test): runs the real `moot` binary as its own process and drives it
//! with simulated participants (str0m clients, canned Opus and VP8 with three simulcast layers)
//! from this process, the load generator. Prints, in one run: (a) a baseline secure relay's
//! packets per CPU-second, measured here and now (before the cases and after each; the
//! median); (b) Moot's forwarded packets per server
//! CPU-second for rooms of 10, 25 and 50 (half sending video), its ratio to (a), packet loss
//! (holes in the subscribers' streams) and frames not received (lost or withheld by the
//! adaptation),
//! one-way latency from the frame stamps, and server memory per participant.
//!
//! Each room size, and several small rooms at once (which the server spreads over its
//! workers), is measured with 1 and 2 media worker threads (a room of more than 10 spreads
//! over both once its worker uses half a core), with bandwidth estimation on (from the default 1 Mbit/s) and off, and with
//! the audio of rooms over 20 forwarded selectively (the default: who speaks) and not
//! (everyone's). Everyone's microphone is on; two people talk. Environment:
//! `MOOT_BENCH_SIZES=10,25,50`, `MOOT_BENCH_SMALL_ROOMS=4x6` (4 rooms of 6; `none` for none),
//! `MOOT_BENCH_THREADS=1,2`, `MOOT_BENCH_INITIAL_BANDWIDTH_KBPS=1000,0` (the server's
//! `--initial-bandwidth-kbps`), `MOOT_BENCH_SELECTIVE_AUDIO_AFTER=20,0` (the server's
//! `media.selective_audio_after`; 0: everyone's audio), `MOOT_BENCH_AUDIO_SLOTS=1` (in rooms
//! with selective audio, whether the simulated participants receive the microphones on audio
//! slots, as the web client does; `1,0` measures both), `MOOT_BENCH_OPUS_DTX=1` (the server's
//! `media.opus_dtx`; the participants, like browsers, send silence as one frame every 400 ms
//! when it asks; `1,0` measures both), `MOOT_BENCH_SERVER_LOG` (the server's
//! log filter, default "warn"; its log goes to this process's standard error),
//! `MOOT_BENCH_DETAIL` (set: print where each window's frame loss was),
//! `MOOT_BENCH_WARMUP_SECS` (from the last join to the window, default 4). Any other server
//! setting passes through as `MOOT__<SECTION>__<KEY>` (the server inherits the environment).
//! With bandwidth estimation on, rooms past `media.loss_based_estimation_after` (default 10)
//! estimate newcomers from loss reports (docs/config.md).
//!
//! `cargo build --release -p moot-server -p moot-testkit && target/release/moot-bench`

use anyhow::{bail, Context};
use moot_protocol::{ParticipantId, TrackKind};
use moot_testkit::{baseline, Received, SimOptions, SimParticipant};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 3;
/// Participants who talk in every room (the others are silent).
const TALKERS: usize = 2;
/// From the last join to the window (`MOOT_BENCH_WARMUP_SECS` to change).
const WARMUP: Duration = Duration::from_secs(4);
const WINDOW: Duration = Duration::from_secs(8);

struct Server {
    child: Child,
    http: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's settings in one case.
#[derive(Debug, Clone, Copy)]
struct Setup {
    threads: usize,
    /// Where bandwidth estimates start (kbit/s); 0: bandwidth estimation off.
    initial_kbps: u64,
    /// `media.selective_audio_after`; 0: everyone's audio.
    selective_audio_after: usize,
    /// The participants receive microphones on audio slots (in a selective-audio room).
    audio_slots: bool,
    /// `media.opus_dtx`: the server asks for Opus DTX, and the participants (like browsers)
    /// then send silence as one frame every 400 ms.
    opus_dtx: bool,
}

fn start_server(setup: Setup) -> anyhow::Result<Server> {
    let Setup {
        threads,
        initial_kbps,
        selective_audio_after,
        audio_slots: _,
        opus_dtx,
    } = setup;
    let exe = std::env::current_exe()?;
    let moot = exe.with_file_name("moot");
    let mut child = Command::new(&moot)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--log-level",
            &std::env::var("MOOT_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            "--media-threads",
            &threads.to_string(),
            "--initial-bandwidth-kbps",
            &initial_kbps.to_string(),
        ])
        .env(
            "MOOT__MEDIA__SELECTIVE_AUDIO_AFTER",
            selective_audio_after.to_string(),
        )
        .env("MOOT__MEDIA__OPUS_DTX", opus_dtx.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", moot.display()))?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("moot exited before printing its URL")
        };
        let line = line?;
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let http = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    Ok(Server { child, http })
}

impl Server {
    fn ws_url(&self) -> String {
        format!("ws://{}/api/ws", self.http)
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("VmRSS")?;
        Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
    }

    /// utime + stime of the server process, in seconds.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let after_name = &stat[stat.rfind(')').context("stat format")? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        Ok(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
    }

    fn metric(&self, name: &str) -> anyhow::Result<u64> {
        let mut stream = TcpStream::connect(&self.http)?;
        write!(
            stream,
            "GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.http
        )?;
        let mut body = String::new();
        stream.read_to_string(&mut body)?;
        let line = body
            .lines()
            .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
            .with_context(|| format!("metric {name}"))?;
        Ok(line[name.len() + 1..].trim().parse()?)
    }
}

async fn join_many(
    server: &Server,
    room: &str,
    n: usize,
    video_senders: usize,
    audio_slots: bool,
) -> anyhow::Result<Vec<SimParticipant>> {
    let mut all = Vec::new();
    for i in 0..n {
        // Cameras in three simulcast layers, as browsers send them at 540p and above; two
        // people talk, the others' microphones are on but silent.
        let options = SimOptions {
            video: i < video_senders,
            simulcast: i < video_senders,
            audio_level: if i < TALKERS { -30 } else { -127 },
            audio_slots,
            // As browsers: DTX when the server's SDP asks for it.
            opus_dtx: true,
            ..SimOptions::default()
        };
        all.push(SimParticipant::join(&server.ws_url(), room, &format!("sim{i}"), options).await?);
    }
    Ok(all)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

/// What each participant (in `sims` order) has received from whom, at one moment.
type Snapshot = Vec<HashMap<(ParticipantId, TrackKind), Received>>;

fn snapshot(sims: &[SimParticipant]) -> Snapshot {
    sims.iter()
        .map(|s| s.received_all().into_iter().collect())
        .collect()
}

/// Frames received and lost over all (receiver, sender) pairs, of one kind or of both.
fn totals(snapshot: &Snapshot, kind: Option<TrackKind>) -> (u64, u64) {
    snapshot
        .iter()
        .flatten()
        .filter(|((_, k), _)| kind.is_none_or(|kind| *k == kind))
        .fold((0, 0), |(f, l), (_, r)| (f + r.frames, l + r.lost))
}

/// RTP packets arrived and given up as lost over all (receiver, sender) pairs.
fn packet_totals(snapshot: &Snapshot) -> (u64, u64) {
    snapshot
        .iter()
        .flatten()
        .fold((0, 0), |(p, l), (_, r)| (p + r.packets, l + r.lost_packets))
}

/// Datagrams the kernel dropped so far because a UDP socket's receive buffer was full (all
/// sockets of the machine: the server's and the load generator's). Growing during a window
/// means some process did not keep up.
fn udp_receive_drops() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// Lost frames as a share of all frames (or lost packets of all packets), between two
/// `totals` (`packet_totals`) readings.
fn loss_share((frames0, lost0): (u64, u64), (frames1, lost1): (u64, u64)) -> f64 {
    let frames = frames1.saturating_sub(frames0);
    // A frame that completes late is taken back off the loss count, so the count can fall
    // between readings: that is no loss, not a wrap-around.
    let lost = lost1.saturating_sub(lost0);
    if frames + lost == 0 {
        0.0
    } else {
        lost as f64 / (frames + lost) as f64
    }
}

struct RoomFigures {
    rooms: usize,
    size: usize,
    setup: Setup,
    forwarded_per_second: f64,
    /// Every datagram the server received (media, RTCP, STUN).
    received_per_second: f64,
    /// Packets handed from one media worker to another (a room spread over both).
    relayed_per_second: f64,
    /// Every datagram the server sent (forwarded media, padding and probes, RTCP, STUN).
    sent_per_second: f64,
    per_cpu_second: f64,
    cpu_share: f64,
    /// Packets lost (missing from the subscribers' rewritten streams after NACK and RTX).
    packet_loss: f64,
    /// Frames a subscriber did not get, of all, of audio, of video: lost, or withheld by
    /// the adaptation (a layer paused for bandwidth, frames before a layer's keyframe).
    loss: f64,
    audio_loss: f64,
    video_loss: f64,
    /// Datagrams the kernel dropped per second for full receive buffers (any socket).
    udp_drops_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_per_participant_kib: f64,
    /// CPU used by this process (the load generator), in cores.
    loadgen_cpu_share: f64,
}

/// Where the window's frame loss was (`MOOT_BENCH_DETAIL`): per kind, lost frames and
/// how many (receiver, sender) pairs lost any, and the worst pairs.
fn print_loss_detail(before: &Snapshot, after: &Snapshot) {
    let mut pairs = Vec::new();
    for (i, (before, after)) in before.iter().zip(after).enumerate() {
        for (key, now) in after {
            let was = before.get(key);
            // A late frame is taken back off the loss count: it can fall in the window.
            let lost = now.lost as i64 - was.map_or(0, |r| r.lost) as i64;
            let frames = now.frames - was.map_or(0, |r| r.frames);
            pairs.push((lost, frames, i, *key));
        }
    }
    for kind in [TrackKind::Audio, TrackKind::Video] {
        let of_kind: Vec<_> = pairs.iter().filter(|p| p.3 .1 == kind).collect();
        let lost: i64 = of_kind.iter().map(|p| p.0).sum();
        let frames: u64 = of_kind.iter().map(|p| p.1).sum();
        let lossy = of_kind.iter().filter(|p| p.0 > 0).count();
        eprintln!(
            "  {kind:?}: {lost} lost, {frames} received, {lossy} of {} pairs lost some",
            of_kind.len()
        );
    }
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0));
    for (lost, frames, receiver, (sender, kind)) in pairs.iter().take(8) {
        eprintln!(
            "    receiver #{receiver} from {sender:?} {kind:?}: {lost} lost, {frames} received"
        );
    }
}

/// CPU seconds used so far by this whole process (all threads).
fn own_cpu_seconds() -> f64 {
    baseline::proc_cpu_seconds("/proc/self/stat")
}

/// `rooms` rooms of `size` participants each (half sending video), on a server with
/// `threads` media workers.
async fn measure_rooms(rooms: usize, size: usize, setup: Setup) -> anyhow::Result<RoomFigures> {
    let server = start_server(setup)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = server.rss_kib()? as f64;
    let warmup = env_list::<u64>("MOOT_BENCH_WARMUP_SECS", "")
        .first()
        .map_or(WARMUP, |s| Duration::from_secs(*s));
    let mut sims = Vec::new();
    for room in 0..rooms {
        let name = format!("bench-{size}-{room}");
        sims.extend(join_many(&server, &name, size, size / 2, setup.audio_slots).await?);
    }
    tokio::time::sleep(warmup).await;
    for s in &sims {
        s.take_latencies();
    }
    let received0 = snapshot(&sims);
    let drops0 = udp_receive_drops();
    let own0 = own_cpu_seconds();
    let (cpu0, fwd0, t0) = (
        server.cpu_seconds()?,
        server.metric("moot_media_packets_forwarded_total")?,
        Instant::now(),
    );
    let sent0 = server.metric("moot_media_datagrams_sent_total")?;
    let in0 = server.metric("moot_media_datagrams_received_total")?;
    let relayed0 = server.metric("moot_media_packets_relayed_total")?;
    tokio::time::sleep(WINDOW).await;
    let sent1 = server.metric("moot_media_datagrams_sent_total")?;
    let in1 = server.metric("moot_media_datagrams_received_total")?;
    let relayed1 = server.metric("moot_media_packets_relayed_total")?;
    let (cpu1, fwd1, t1) = (
        server.cpu_seconds()?,
        server.metric("moot_media_packets_forwarded_total")?,
        Instant::now(),
    );
    let received1 = snapshot(&sims);
    let drops1 = udp_receive_drops();
    if std::env::var_os("MOOT_BENCH_DETAIL").is_some() {
        print_loss_detail(&received0, &received1);
    }
    let own1 = own_cpu_seconds();
    let rss = server.rss_kib()? as f64;
    let mut latencies: Vec<u32> = sims.iter().flat_map(|s| s.take_latencies()).collect();
    latencies.sort_unstable();
    for s in sims {
        s.leave().await;
    }
    let wall = (t1 - t0).as_secs_f64();
    let loss_of = |kind| loss_share(totals(&received0, kind), totals(&received1, kind));
    let forwarded = (fwd1 - fwd0) as f64;
    Ok(RoomFigures {
        rooms,
        size,
        setup,
        forwarded_per_second: forwarded / wall,
        received_per_second: in1.saturating_sub(in0) as f64 / wall,
        relayed_per_second: relayed1.saturating_sub(relayed0) as f64 / wall,
        sent_per_second: sent1.saturating_sub(sent0) as f64 / wall,
        per_cpu_second: forwarded / (cpu1 - cpu0).max(1e-9),
        cpu_share: (cpu1 - cpu0) / wall,
        packet_loss: loss_share(packet_totals(&received0), packet_totals(&received1)),
        loss: loss_of(None),
        audio_loss: loss_of(Some(TrackKind::Audio)),
        video_loss: loss_of(Some(TrackKind::Video)),
        udp_drops_per_second: drops1.saturating_sub(drops0) as f64 / wall,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        rss_per_participant_kib: (rss - idle) / (rooms * size) as f64,
        loadgen_cpu_share: (own1 - own0) / wall,
    })
}

/// The comma-separated numbers in environment variable `name`, or in `default`.
fn env_list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// One measurement of the baseline relay (3 s), in packets per CPU-second.
async fn measure_baseline() -> anyhow::Result<f64> {
    let result = tokio::task::spawn_blocking(|| baseline::run(Duration::from_secs(3), 9)).await??;
    Ok(result.packets_per_cpu_second())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = env_list("MOOT_BENCH_SIZES", "10,25,50");
    let threads: Vec<usize> = env_list("MOOT_BENCH_THREADS", "1,2");
    // Bandwidth estimation on (the default start, 1 Mbit/s) and off (0).
    let estimates: Vec<u64> = env_list("MOOT_BENCH_INITIAL_BANDWIDTH_KBPS", "1000,0");
    let selective: Vec<usize> = env_list("MOOT_BENCH_SELECTIVE_AUDIO_AFTER", "20,0");
    let slot_modes: Vec<u8> = env_list("MOOT_BENCH_AUDIO_SLOTS", "1");
    let dtx_modes: Vec<u8> = env_list("MOOT_BENCH_OPUS_DTX", "1");
    let small_rooms: Option<(usize, usize)> = std::env::var("MOOT_BENCH_SMALL_ROOMS")
        .unwrap_or_else(|_| "4x6".into())
        .split_once('x')
        .and_then(|(r, s)| Some((r.trim().parse().ok()?, s.trim().parse().ok()?)));
    // (a) the yardstick, in this run, on this machine: measured now and again after every
    // case, and the median taken. One measurement moved by ±17% between runs on these VMs
    // (more than Moot's own figures did), and the machine's speed drifts within a run.
    let mut baselines = vec![measure_baseline().await?];

    // (b) spine figures: memory idle and with three, median of RUNS.
    let (mut idle, mut three) = (vec![], vec![]);
    for run in 0..RUNS {
        let server = start_server(Setup {
            threads: 1,
            initial_kbps: 1000,
            selective_audio_after: 0,
            audio_slots: true,
            opus_dtx: true,
        })?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        idle.push(server.rss_kib()? as f64);
        let trio = join_many(&server, &format!("rss-{run}"), 3, 3, true).await?;
        tokio::time::sleep(WARMUP).await;
        three.push(server.rss_kib()? as f64);
        for p in trio {
            p.leave().await;
        }
    }

    // (c) rooms of each size, half the participants sending video, everyone audio; then
    // several small rooms at once; each with every worker count asked for.
    let mut cases: Vec<(usize, usize)> = sizes.iter().map(|size| (1, *size)).collect();
    cases.extend(small_rooms);
    let mut rooms = Vec::new();
    for (count, size) in cases {
        // A limit at or above the room's size forwards everyone's audio, as 0 does: measured
        // once, not twice.
        let mut audio_modes: Vec<usize> = selective
            .iter()
            .map(|&after| if after >= size { 0 } else { after })
            .collect();
        audio_modes.dedup();
        for &selective_audio_after in &audio_modes {
            // Slots exist only with selective audio: without it, measured once.
            let slot_modes: &[u8] = if selective_audio_after == 0 {
                &[1]
            } else {
                &slot_modes
            };
            for &slots in slot_modes {
                for &dtx in &dtx_modes {
                    for &initial_kbps in &estimates {
                        for &threads in &threads {
                            let setup = Setup {
                                threads,
                                initial_kbps,
                                selective_audio_after,
                                audio_slots: slots == 1,
                                opus_dtx: dtx == 1,
                            };
                            let figures = measure_rooms(count, size, setup).await?;
                            eprintln!("{count} room(s) of {size}, {setup:?}: done");
                            rooms.push(figures);
                            baselines.push(measure_baseline().await?);
                        }
                    }
                }
            }
        }
    }

    println!(
        "Moot benchmark (loopback, release build; server and load generator share this machine)"
    );
    let (lowest, highest) = baselines
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), b| (lo.min(*b), hi.max(*b)));
    let measurements = baselines.len();
    let base_rate = median(baselines);
    println!(
        "  baseline relay (1 thread, AES-128-GCM open + 9 seals + 9 sendto per packet): {base_rate:.0} packets/s per CPU-second (median of {measurements}, one before the cases and one after each; {lowest:.0} to {highest:.0})"
    );
    println!(
        "  server RSS idle {:.1} MiB, with 3 participants {:.1} MiB",
        median(idle) / 1024.0,
        median(three) / 1024.0
    );
    println!();
    println!("  | rooms × participants | audio forwarded | Opus DTX | media threads | bandwidth estimation | forwarded pkt/s | datagrams received/s | datagrams sent/s | relayed between workers/s | pkt per server CPU-s | ratio to baseline | server CPU (cores) | load generator CPU (cores) | packet loss | frames not received (audio / video) | kernel UDP drops/s | latency p50 / p99 (ms) | RSS per participant |");
    println!("  |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rooms {
        println!(
            "  | {} × {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2}% | {:.2}% ({:.2}% / {:.2}%) | {:.0} | {:.1} / {:.1} | {:.0} KiB |",
            r.rooms,
            r.size,
            match (r.setup.selective_audio_after, r.setup.audio_slots) {
                (0, _) => "everyone's",
                (_, true) => "who speaks, on 5 slots",
                (_, false) => "who speaks, a stream per microphone",
            },
            if r.setup.opus_dtx { "on" } else { "off" },
            r.setup.threads,
            if r.setup.initial_kbps == 0 {
                "off".to_owned()
            } else {
                format!("from {} kbit/s", r.setup.initial_kbps)
            },
            r.forwarded_per_second,
            r.received_per_second,
            r.sent_per_second,
            r.relayed_per_second,
            r.per_cpu_second,
            r.per_cpu_second / base_rate,
            r.cpu_share,
            r.loadgen_cpu_share,
            r.packet_loss * 100.0,
            r.loss * 100.0,
            r.audio_loss * 100.0,
            r.video_loss * 100.0,
            r.udp_drops_per_second,
            r.p50_ms,
            r.p99_ms,
            r.rss_per_participant_kib
        );
    }
    Ok(())
}
