//! The benchmark's yardstick: the simplest possible secure relay on this machine, measured in
//! the same run as Moot. One thread receives 1200-byte packets, opens each with AES-128-GCM,
//! and for each of `fanout` receivers seals a copy and sends it with one `sendto` (as Moot does
//! today). Its forwarded packets per CPU-second of that thread is the baseline Moot's SFU is
//! compared with: real SRTP work and real syscalls, and nothing else (no RTP, no ICE, no NACK).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PACKET: usize = 1200;
const TAG: usize = 16;

#[derive(Debug, Clone, Copy)]
pub struct BaselineResult {
    pub packets_out: u64,
    /// CPU time of the relay thread (user + system).
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
}

impl BaselineResult {
    pub fn packets_per_cpu_second(&self) -> f64 {
        self.packets_out as f64 / self.cpu_seconds.max(1e-9)
    }
}

/// CPU seconds used so far by the calling thread.
pub fn thread_cpu_seconds() -> f64 {
    proc_cpu_seconds("/proc/thread-self/stat")
}

/// User + system CPU seconds from a `/proc/.../stat` file (0 if unreadable).
pub fn proc_cpu_seconds(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0 // USER_HZ
}

fn key() -> LessSafeKey {
    // A fixed key: this measures cost, not secrecy.
    let unbound = UnboundKey::new(&AES_128_GCM, &[7u8; 16]).expect("16 bytes is an AES-128 key");
    LessSafeKey::new(unbound)
}

fn nonce(counter: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// Runs the relay for `duration` with `fanout` receivers per incoming packet.
pub fn run(duration: Duration, fanout: usize) -> std::io::Result<BaselineResult> {
    let relay = UdpSocket::bind("127.0.0.1:0")?;
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let source = UdpSocket::bind("127.0.0.1:0")?;
    relay.set_read_timeout(Some(Duration::from_millis(50)))?;
    sink.set_read_timeout(Some(Duration::from_millis(50)))?;
    let relay_addr = relay.local_addr()?;
    let sink_addr = sink.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));

    // The sink drains so the kernel never drops for a full buffer on our account.
    let sink_stop = stop.clone();
    let sink_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !sink_stop.load(Ordering::Relaxed) {
            let _ = sink.recv(&mut buf);
        }
    });
    // The source sends sealed packets as fast as the relay takes them (paced by a small
    // sleep when the relay falls behind, so the measurement is the relay's work).
    let source_stop = stop.clone();
    let source_thread = std::thread::spawn(move || {
        let key = key();
        let mut packet = vec![0x5au8; PACKET];
        let tag = key
            .seal_in_place_separate_tag(nonce(0), Aad::empty(), &mut packet)
            .expect("sealing a buffer cannot fail");
        packet.extend_from_slice(tag.as_ref());
        let mut sent = 0u64;
        while !source_stop.load(Ordering::Relaxed) {
            if source.send_to(&packet, relay_addr).is_ok() {
                sent += 1;
            }
            if sent.is_multiple_of(64) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });

    let key = key();
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; PACKET + TAG];
    let mut packets_out = 0u64;
    let mut counter = 1u64;
    let cpu_start = thread_cpu_seconds();
    let started = Instant::now();
    while started.elapsed() < duration {
        let Ok(len) = relay.recv(&mut buf) else {
            continue;
        };
        let Ok(plain) = key.open_in_place(nonce(0), Aad::empty(), &mut buf[..len]) else {
            continue;
        };
        let plain_len = plain.len();
        for _ in 0..fanout {
            out[..plain_len].copy_from_slice(&buf[..plain_len]);
            counter += 1;
            let Ok(tag) =
                key.seal_in_place_separate_tag(nonce(counter), Aad::empty(), &mut out[..plain_len])
            else {
                continue;
            };
            out[plain_len..plain_len + TAG].copy_from_slice(tag.as_ref());
            if relay.send_to(&out[..plain_len + TAG], sink_addr).is_ok() {
                packets_out += 1;
            }
        }
    }
    let cpu_seconds = thread_cpu_seconds() - cpu_start;
    let wall_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = source_thread.join();
    let _ = sink_thread.join();
    Ok(BaselineResult {
        packets_out,
        cpu_seconds,
        wall_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_relays_and_measures_its_own_cpu() {
        let result = run(Duration::from_millis(400), 3).expect("loopback sockets");
        assert!(result.packets_out > 100, "{result:?}");
        assert!(result.cpu_seconds > 0.0, "{result:?}");
    }
}
