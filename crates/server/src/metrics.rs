//! `/metrics` in the Prometheus text format. Counts and rates only: no room names, no display
//! names, no addresses (a test checks the page never contains a room's name).

use crate::hub::Hub;
use crate::limits::Limits;
use crate::limits::{code_name, LIMIT_CODES};
use crate::turn_server::TurnStats;
use moot_sfu::SfuStats;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the media counters are sampled for the per-second rates.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Per-second media rates over the last sampling interval (updated by [`Rates::sample`]).
#[derive(Default)]
pub struct Rates {
    inner: Mutex<RatesInner>,
}

#[derive(Default)]
struct RatesInner {
    last: Option<(Instant, SfuStats)>,
    datagrams_in: f64,
    datagrams_out: f64,
    packets_forwarded: f64,
}

impl Rates {
    /// Takes a sample of the media counters; rates are the change since the previous one.
    pub fn sample(&self, now: Instant, stats: SfuStats) {
        let mut inner = crate::sync::lock(&self.inner);
        if let Some((then, prev)) = inner.last {
            let secs = now.saturating_duration_since(then).as_secs_f64();
            if secs > 0.0 {
                let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
                inner.datagrams_in = rate(stats.datagrams_in, prev.datagrams_in);
                inner.datagrams_out = rate(stats.datagrams_out, prev.datagrams_out);
                inner.packets_forwarded = rate(stats.packets_forwarded, prev.packets_forwarded);
            }
        }
        inner.last = Some((now, stats));
    }

    fn get(&self) -> (f64, f64, f64) {
        let inner = crate::sync::lock(&self.inner);
        (
            inner.datagrams_in,
            inner.datagrams_out,
            inner.packets_forwarded,
        )
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// The Prometheus text of the server's counters: rooms and people (`hub`), connections and
/// refusals (`limits`), media counters and their recent `rates`, and the built-in TURN
/// relay's counters when it runs.
pub fn render(hub: &Hub, limits: &Limits, rates: &Rates, turn: Option<&TurnStats>) -> String {
    let mut out = String::with_capacity(4096);
    let (rooms, participants) = hub.room_counts();
    let waiting = hub.waiting_count();
    let media = hub.media().stats();
    let m = &limits.metrics;
    metric(&mut out, "moot_rooms", "gauge", "Rooms in memory.", rooms);
    metric(
        &mut out,
        "moot_participants",
        "gauge",
        "Participants in rooms.",
        participants,
    );
    metric(
        &mut out,
        "moot_lobby_waiting",
        "gauge",
        "People waiting in lobbies.",
        waiting,
    );
    metric(
        &mut out,
        "moot_connections_open",
        "gauge",
        "Signaling WebSocket connections open.",
        m.connections_open.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "moot_connections_total",
        "counter",
        "Signaling WebSocket connections opened, including refused ones.",
        m.connections_total.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "moot_draining",
        "gauge",
        "1 while the server is shutting down.",
        u8::from(limits.is_draining()),
    );
    metric(
        &mut out,
        "moot_media_datagrams_received_total",
        "counter",
        "Media packets received for a known peer (UDP datagrams and ICE-TCP frames; what \
         belongs to nobody is dropped uncounted).",
        media.datagrams_in,
    );
    metric(
        &mut out,
        "moot_media_datagrams_sent_total",
        "counter",
        "UDP datagrams sent from the media port.",
        media.datagrams_out,
    );
    metric(
        &mut out,
        "moot_media_packets_forwarded_total",
        "counter",
        "Media frames written to subscribers.",
        media.packets_forwarded,
    );
    metric(
        &mut out,
        "moot_media_packets_relayed_total",
        "counter",
        "RTP packets of a large room passed from the worker holding their publisher to the other workers holding part of the room (once per packet, whatever the number of workers).",
        media.packets_relayed,
    );
    metric(
        &mut out,
        "moot_media_packets_blocked_total",
        "counter",
        "Media frames dropped because a moderator muted their sender.",
        media.packets_blocked,
    );
    metric(
        &mut out,
        "moot_media_keyframe_requests_total",
        "counter",
        "Keyframe requests sent to publishers.",
        media.keyframe_requests_sent,
    );
    let (dg_in, dg_out, frames) = rates.get();
    let window = SAMPLE_INTERVAL.as_secs();
    metric(
        &mut out,
        "moot_media_datagrams_received_per_second",
        "gauge",
        &format!("Media packets received per second over the last {window} s."),
        format!("{dg_in:.1}"),
    );
    metric(
        &mut out,
        "moot_media_datagrams_sent_per_second",
        "gauge",
        &format!("UDP datagrams sent per second over the last {window} s."),
        format!("{dg_out:.1}"),
    );
    metric(
        &mut out,
        "moot_media_packets_forwarded_per_second",
        "gauge",
        &format!("Media frames forwarded per second over the last {window} s."),
        format!("{frames:.1}"),
    );
    turn_metrics(&mut out, turn);
    let errors = m.errors_sent();
    out.push_str(
        "# HELP moot_errors_sent_total Error messages sent to clients, by code.\n\
         # TYPE moot_errors_sent_total counter\n",
    );
    for (code, count) in &errors {
        let _ = writeln!(out, "moot_errors_sent_total{{code=\"{code}\"}} {count}");
    }
    out.push_str(
        "# HELP moot_limit_hits_total Requests refused by an abuse limit, by limit.\n\
         # TYPE moot_limit_hits_total counter\n",
    );
    for (limit, code) in LIMIT_CODES {
        let count = errors.get(&code_name(code)).copied().unwrap_or(0);
        let _ = writeln!(out, "moot_limit_hits_total{{limit=\"{limit}\"}} {count}");
    }
    out
}

/// The built-in TURN relay (zeros when it does not run, so dashboards need no special case).
fn turn_metrics(out: &mut String, turn: Option<&crate::turn_server::TurnStats>) {
    let get = |read: fn(&crate::turn_server::TurnStats) -> u64| turn.map_or(0, read);
    metric(
        out,
        "moot_turn_allocations",
        "gauge",
        "Allocations open on the built-in TURN relay.",
        get(|t| t.allocations.load(Ordering::Relaxed)),
    );
    let _ = write!(
        out,
        "# HELP moot_turn_relayed_bytes_total Payload bytes the built-in TURN relay forwarded, \
         by direction.\n# TYPE moot_turn_relayed_bytes_total counter\n\
         moot_turn_relayed_bytes_total{{direction=\"to_peer\"}} {}\n\
         moot_turn_relayed_bytes_total{{direction=\"to_client\"}} {}\n",
        get(|t| t.bytes_to_peers.load(Ordering::Relaxed)),
        get(|t| t.bytes_to_clients.load(Ordering::Relaxed)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_change_per_second_between_samples() {
        let rates = Rates::default();
        let start = Instant::now();
        rates.sample(
            start,
            SfuStats {
                datagrams_out: 100,
                ..SfuStats::default()
            },
        );
        assert_eq!(rates.get(), (0.0, 0.0, 0.0), "one sample gives no rate");
        rates.sample(
            start + Duration::from_secs(2),
            SfuStats {
                datagrams_out: 700,
                packets_forwarded: 60,
                ..SfuStats::default()
            },
        );
        assert_eq!(rates.get(), (0.0, 300.0, 30.0));
    }
}
