//! The simulated network between a simulated participant and the server: deterministic
//! packet loss in either direction and a slow downlink. Only RTP/RTCP is affected, so tests of
//! loss recovery and congestion control do not also test connection setup.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Deterministic loss: a small xorshift generator, so a failing run can be reproduced.
pub(crate) struct Loss {
    fraction: f64,
    state: u64,
}

impl Loss {
    pub(crate) fn new(fraction: f64, seed: u64) -> Self {
        Self {
            fraction,
            state: seed | 1,
        }
    }

    /// Whether to drop this datagram. Only RTP/RTCP (first byte 128..=191) is ever dropped:
    /// losing ICE or DTLS would test connection setup, not NACK/RTX.
    pub(crate) fn drops(&mut self, datagram: &[u8]) -> bool {
        if self.fraction <= 0.0 || !matches!(datagram.first(), Some(128..=191)) {
            return false;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % 10_000) as f64 / 10_000.0 < self.fraction
    }
}

/// A simulated bottleneck on the way in: a link of `rate` bits per second in front of this
/// client. What it cannot carry at once waits in its queue (so delay grows, as on a real
/// slow link, which is what congestion control measures); what would wait longer than
/// `LINK_QUEUE` is dropped. Only RTP/RTCP is shaped: ICE and DTLS are not the test's subject.
pub(crate) struct Link {
    /// Bits per second; None: no limit (shared with the handle, changeable at any time).
    rate: Arc<Mutex<Option<u64>>>,
    queue: VecDeque<(Instant, SocketAddr, Vec<u8>)>,
    /// When the link has sent everything queued so far.
    free_at: Instant,
}

/// The most a packet waits in the simulated link's queue before being dropped instead.
const LINK_QUEUE: Duration = Duration::from_millis(300);

impl Link {
    /// A link whose rate the participant's handle can change at any time (None: unlimited).
    pub(crate) fn new(rate: Arc<Mutex<Option<u64>>>, now: Instant) -> Self {
        Self {
            rate,
            queue: VecDeque::new(),
            free_at: now,
        }
    }

    /// Takes an arriving datagram: true when it goes through at once (the caller passes it
    /// on from its own buffer: no copy on the common, unlimited path), false when it queued
    /// (or was dropped).
    pub(crate) fn admit(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) -> bool {
        let rate = *self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let shaped = matches!(datagram.first(), Some(128..=191));
        match rate {
            Some(rate) if shaped && rate > 0 => {
                let start = self.free_at.max(now);
                if start.saturating_duration_since(now) > LINK_QUEUE {
                    return false;
                }
                let bits = (datagram.len() as u64 + 28) * 8;
                self.free_at = start + Duration::from_secs_f64(bits as f64 / rate as f64);
                self.queue
                    .push_back((self.free_at, source, datagram.to_vec()));
                false
            }
            _ if self.queue.is_empty() => true,
            // Unlimited again, but keep the order behind what is still queued.
            _ => {
                self.queue.push_back((now, source, datagram.to_vec()));
                false
            }
        }
    }

    /// When the next queued datagram is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _, _)| *at)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if self.next_due()? > now {
            return None;
        }
        self.queue.pop_front().map(|(_, s, d)| (s, d))
    }
}
