//! Puts a track's packets back in sequence order. What reaches a recorder was already
//! repaired by the SFU where it could be (it NACKs publishers), so a packet still missing
//! after `window` is lost: the ones after it are released, marked as following a gap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Reorder<T> {
    window: Duration,
    waiting: BTreeMap<u64, (Instant, T)>,
    /// The sequence number due next (None before the first packet).
    next: Option<u64>,
}

impl<T> Reorder<T> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            waiting: BTreeMap::new(),
            next: None,
        }
    }

    /// A packet numbered `seq` (extended, never wrapping) arrived at `now`. One older than
    /// what was already released, or a duplicate, is dropped.
    pub fn push(&mut self, now: Instant, seq: u64, item: T) {
        if self.next.is_some_and(|next| seq < next) {
            return;
        }
        self.next.get_or_insert(seq);
        self.waiting.entry(seq).or_insert((now, item));
    }

    /// The next packet in order, if it is here, or if the one(s) before it have been missing
    /// for `window`; `true` with it when packets before it were skipped.
    pub fn pop(&mut self, now: Instant) -> Option<(u64, T, bool)> {
        let (&seq, &(arrived, _)) = self.waiting.first_key_value()?;
        let next = self.next?;
        let gap = seq != next;
        if gap && now.saturating_duration_since(arrived) < self.window {
            return None;
        }
        let (_, item) = self.waiting.remove(&seq)?;
        self.next = Some(seq + 1);
        Some((seq, item, gap))
    }

    /// Everything still waiting, in order, as if the window had passed (the track ends).
    pub fn drain(&mut self) -> Vec<(u64, T, bool)> {
        let mut out = Vec::new();
        while let Some((seq, (_, item))) = self.waiting.pop_first() {
            let gap = self.next.is_some_and(|next| seq != next);
            self.next = Some(seq + 1);
            out.push((seq, item, gap));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_packets_are_put_in_order_and_lost_ones_skipped_after_the_window() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut r = Reorder::new(Duration::from_millis(100));
        r.push(ms(0), 10, 'a');
        assert_eq!(r.pop(ms(0)), Some((10, 'a', false)));
        r.push(ms(1), 12, 'c');
        assert_eq!(r.pop(ms(1)), None, "11 may still come");
        r.push(ms(2), 11, 'b');
        assert_eq!(r.pop(ms(2)), Some((11, 'b', false)));
        assert_eq!(r.pop(ms(2)), Some((12, 'c', false)));
        r.push(ms(3), 14, 'e');
        assert_eq!(r.pop(ms(50)), None);
        assert_eq!(r.pop(ms(103)), Some((14, 'e', true)), "13 is lost");
        r.push(ms(104), 13, 'd');
        r.push(ms(104), 14, 'e');
        assert_eq!(r.pop(ms(104)), None, "too late, and a duplicate");
    }
}
