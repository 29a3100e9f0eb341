//! Small spine benchmark (not a test): runs the real `moot` binary as its own process and
//! drives it with simulated participants from this process. Prints, as medians of several runs:
//! server RSS idle and with 3 participants, and server CPU per forwarded datagram with 10
//! participants all sending audio and video.
//!
//! `cargo build --release -p moot-server -p moot-testkit && target/release/moot-bench`

use anyhow::{bail, Context};
use moot_testkit::{SimOptions, SimParticipant};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 3;
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

fn start_server() -> anyhow::Result<Server> {
    let exe = std::env::current_exe()?;
    let moot = exe.with_file_name("moot");
    let mut child = Command::new(&moot)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--log-level",
            "warn",
        ])
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

async fn join_many(server: &Server, room: &str, n: usize) -> anyhow::Result<Vec<SimParticipant>> {
    let mut all = Vec::new();
    for i in 0..n {
        all.push(
            SimParticipant::join(
                &server.ws_url(),
                room,
                &format!("sim{i}"),
                SimOptions::default(),
            )
            .await?,
        );
    }
    Ok(all)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (mut idle, mut three, mut per_packet, mut rate) = (vec![], vec![], vec![], vec![]);
    for run in 0..RUNS {
        let server = start_server()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        idle.push(server.rss_kib()? as f64);

        let trio = join_many(&server, &format!("rss-{run}"), 3).await?;
        tokio::time::sleep(WARMUP).await;
        three.push(server.rss_kib()? as f64);
        for p in trio {
            p.leave().await;
        }

        let ten = join_many(&server, &format!("cpu-{run}"), 10).await?;
        tokio::time::sleep(WARMUP).await;
        let (cpu0, sent0, t0) = (
            server.cpu_seconds()?,
            server.metric("moot_media_datagrams_sent_total")?,
            Instant::now(),
        );
        tokio::time::sleep(WINDOW).await;
        let (cpu1, sent1, t1) = (
            server.cpu_seconds()?,
            server.metric("moot_media_datagrams_sent_total")?,
            Instant::now(),
        );
        let cpu = cpu1 - cpu0;
        let sent = (sent1 - sent0) as f64;
        per_packet.push(cpu / sent * 1e6);
        rate.push(sent / cpu);
        eprintln!(
            "run {}: {:.0} datagrams/s sent, server CPU {:.2} s over {:.1} s",
            run + 1,
            sent / (t1 - t0).as_secs_f64(),
            cpu,
            (t1 - t0).as_secs_f64()
        );
        for p in ten {
            p.leave().await;
        }
    }
    println!("Moot spine benchmark, median of {RUNS} runs (loopback, release build)");
    println!(
        "  server RSS idle:                      {:>8.1} MiB",
        median(idle) / 1024.0
    );
    println!(
        "  server RSS with 3 participants:       {:>8.1} MiB",
        median(three) / 1024.0
    );
    println!(
        "  server CPU per datagram sent (10 p.): {:>8.2} µs",
        median(per_packet)
    );
    println!(
        "  datagrams sent per server CPU-second: {:>8.0}",
        median(rate)
    );
    Ok(())
}
