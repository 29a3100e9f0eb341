//! The failed-password throttle: per client address (across rooms) and per room, a few free
//! failures in a sliding window, then waits that double up to a limit.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed passwords count for this long (a sliding window).
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed passwords from one client address (in all rooms) that cost no wait, per window.
pub const ADDRESS_FREE_FAILURES: usize = 3;
/// Failed passwords for one room (from all addresses together) that cost no wait, per window.
pub const ROOM_FREE_FAILURES: usize = 20;
/// The wait after the first failure beyond the free ones; each further failure doubles it.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Failure times kept per address or room. Once past the free failures the 10th doubling
/// already reaches `MAX_WAIT`, so older entries beyond this many could never change a wait.
const MAX_KEPT_FAILURES: usize = 64;

/// How long one must wait after the `failures`-th failure in the window when `free` cost
/// nothing: 0 up to `free`, then 1 s, 2 s, 4 s … at most 300 s.
pub(crate) fn wait_after(failures: usize, free: usize) -> Duration {
    if failures <= free {
        return Duration::ZERO;
    }
    // 2^9 s already exceeds MAX_WAIT; capping the exponent avoids overflow.
    let doublings = (failures - free - 1).min(9) as u32;
    (FIRST_WAIT * 2u32.pow(doublings)).min(MAX_WAIT)
}

/// Recent failed passwords of one address or one room, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    times: VecDeque<Instant>,
}

impl Failures {
    fn prune(&mut self, now: Instant) {
        while let Some(&oldest) = self.times.front() {
            if now.saturating_duration_since(oldest) < FAILURE_WINDOW {
                break;
            }
            self.times.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// How much longer an attempt must wait, if it must.
    pub(crate) fn wait_left(&mut self, now: Instant, free: usize) -> Option<Duration> {
        self.prune(now);
        let last = *self.times.back()?;
        let until = last + wait_after(self.times.len(), free);
        (now < until).then(|| until - now)
    }

    pub(crate) fn record(&mut self, now: Instant) {
        self.times.push_back(now);
        if self.times.len() > MAX_KEPT_FAILURES {
            self.times.pop_front();
        }
    }
}

/// The throttle key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64
/// prefix, because one host or home network usually holds a whole /64 and could otherwise
/// rotate through addresses for free attempts.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// Failed passwords per client address, across all rooms. Entries are dropped once their last
/// failure is older than the window: `expiry` lists every recorded failure in time order, so
/// pruning costs amortised O(1) per failure and the map never outgrows the failures of the last
/// 15 minutes.
#[derive(Debug, Default)]
pub(crate) struct AddressThrottle {
    by_address: HashMap<IpAddr, Failures>,
    expiry: VecDeque<(Instant, IpAddr)>,
}

impl AddressThrottle {
    /// Forgets failures older than the window (and addresses with none left).
    pub(crate) fn prune(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.expiry.front() {
            if now.saturating_duration_since(at) < FAILURE_WINDOW {
                break;
            }
            self.expiry.pop_front();
            if let Some(failures) = self.by_address.get_mut(&key) {
                failures.prune(now);
                if failures.is_empty() {
                    self.by_address.remove(&key);
                }
            }
        }
    }

    pub(crate) fn wait_left(&mut self, now: Instant, address: IpAddr) -> Option<Duration> {
        self.by_address
            .get_mut(&address_key(address))?
            .wait_left(now, ADDRESS_FREE_FAILURES)
    }

    pub(crate) fn record(&mut self, now: Instant, address: IpAddr) {
        let key = address_key(address);
        self.expiry.push_back((now, key));
        self.by_address.entry(key).or_default().record(now);
    }

    /// Addresses currently remembered (for tests of the pruning).
    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
