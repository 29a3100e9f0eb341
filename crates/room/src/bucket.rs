//! A token bucket for per-member rate limits (chat, reactions), driven by the caller's clock.
//!
//! Kept as the time at which the bucket would be full again rather than as a token count, so
//! that all arithmetic is on exact `Duration`s: the same inputs always give the same answers,
//! whatever the time between them.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// How many actions may come at once after a quiet period.
    burst: u32,
    /// One token comes back per `refill`.
    refill: Duration,
    /// When the bucket is full again; `None` (or a time already past) means full now.
    full_at: Option<Instant>,
}

impl Bucket {
    pub(crate) const fn new(burst: u32, refill: Duration) -> Self {
        Self {
            burst,
            refill,
            full_at: None,
        }
    }

    /// Takes a token if there is one; returns false (changing nothing) if the bucket is empty.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let base = self.full_at.filter(|&at| at > now).unwrap_or(now);
        let full_at = base + self.refill;
        // Holding `burst` tokens means being full again within `burst` refills.
        if full_at.saturating_duration_since(now) > self.refill * self.burst {
            return false;
        }
        self.full_at = Some(full_at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn allows_a_burst_then_one_per_refill() {
        let start = Instant::now();
        let mut bucket = Bucket::new(5, SECOND);
        assert!((0..5).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(!bucket.take(start + SECOND / 2));
        assert!(bucket.take(start + SECOND));
        assert!(!bucket.take(start + SECOND));
        assert!(bucket.take(start + 2 * SECOND));
    }

    #[test]
    fn refills_to_the_burst_and_no_further() {
        let start = Instant::now();
        let mut bucket = Bucket::new(3, SECOND);
        assert!((0..3).all(|_| bucket.take(start)));
        let later = start + 60 * SECOND;
        assert!((0..3).all(|_| bucket.take(later)));
        assert!(!bucket.take(later));
    }

    #[test]
    fn a_refused_take_costs_nothing() {
        let start = Instant::now();
        let mut bucket = Bucket::new(1, SECOND);
        assert!(bucket.take(start));
        for _ in 0..10 {
            assert!(!bucket.take(start + SECOND / 2));
        }
        assert!(bucket.take(start + SECOND));
    }
}
