//! Abuse limits that live outside the rooms: signaling connections per client address and the
//! message rate of each connection, plus the counters `/metrics` shows for them and for every
//! error the server sends. (Rooms per server and participants per room are the room crate's
//! rules; they are counted here through the error codes they produce.)
//!
//! Addresses are used only as keys of an in-memory count while a connection is open; they are
//! never logged, and an address leaves the map when its last connection closes.

use crate::config::LimitsConfig;
use moot_protocol::{ErrorCode, ServerMessage};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The message rate a session enforces (token bucket).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

/// What a signaling session needs from the server besides the hub.
#[derive(Clone)]
pub struct SessionContext {
    pub rate: RateLimit,
    pub metrics: Arc<SignalingCounters>,
}

/// Server-wide signaling counters, shown on /metrics by metrics.rs (no names, no addresses).
#[derive(Default)]
pub struct SignalingCounters {
    /// WebSocket connections accepted (including those refused right after opening).
    pub connections_total: AtomicU64,
    /// WebSocket connections open now.
    pub connections_open: AtomicU64,
    /// `error` messages sent, by code.
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Which error code means which limit was hit, for `moot_limit_hits_total{limit=...}`.
pub const LIMIT_CODES: [(&str, ErrorCode); 4] = [
    ("rooms", ErrorCode::TooManyRooms),
    ("participants_per_room", ErrorCode::RoomFull),
    ("connections_per_address", ErrorCode::TooManyConnections),
    ("message_rate", ErrorCode::RateLimited),
];

impl SignalingCounters {
    /// Counts an outgoing message if it is an error. Every message a session sends passes here.
    pub fn count_sent(&self, message: &ServerMessage) {
        if let ServerMessage::Error { code, .. } = message {
            let mut errors = crate::sync::lock(&self.errors);
            *errors.entry(code_name(*code)).or_default() += 1;
        }
    }

    /// Errors sent so far, by code name (`room_full`, ...).
    pub fn errors_sent(&self) -> BTreeMap<String, u64> {
        crate::sync::lock(&self.errors).clone()
    }
}

/// The wire name of an error code (`"too_many_rooms"`).
pub fn code_name(code: ErrorCode) -> String {
    // Error codes serialise to plain strings.
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Connection counting per address, and whether the server is draining for shutdown.
pub struct Limits {
    config: LimitsConfig,
    per_address: Mutex<HashMap<AddressKey, usize>>,
    draining: AtomicBool,
    pub metrics: Arc<SignalingCounters>,
}

/// An IPv4 address, or the /64 prefix of an IPv6 one (one household or host usually has a
/// whole /64, so counting single IPv6 addresses would be no limit at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6Prefix(u64),
}

impl AddressKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// Why a new connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooManyConnections,
    ShuttingDown,
}

impl Refusal {
    pub fn message(self, limit: usize) -> ServerMessage {
        match self {
            Self::TooManyConnections => ServerMessage::fatal(
                ErrorCode::TooManyConnections,
                format!(
                    "your address already has {limit} connections to this server, the most it \
                     allows at once; close other meeting tabs and try again"
                ),
            ),
            Self::ShuttingDown => shutdown_message(),
        }
    }
}

/// What everyone connected is told when the server stops.
pub fn shutdown_message() -> ServerMessage {
    ServerMessage::fatal(
        ErrorCode::ServerShutdown,
        "the server is shutting down or restarting; rejoin in a moment",
    )
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            config,
            per_address: Mutex::new(HashMap::new()),
            draining: AtomicBool::new(false),
            metrics: Arc::new(SignalingCounters::default()),
        }
    }

    pub fn connections_per_address(&self) -> usize {
        self.config.connections_per_address
    }

    pub fn session_context(&self) -> SessionContext {
        SessionContext {
            rate: RateLimit {
                per_second: self.config.messages_per_second,
                burst: self.config.message_burst,
            },
            metrics: self.metrics.clone(),
        }
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Counts a new connection from `ip`. The slot must be kept as long as the connection is
    /// open; dropping it gives the place back. A refused connection holds no slot.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        self.metrics
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        if self.is_draining() {
            return Err(Refusal::ShuttingDown);
        }
        let key = AddressKey::of(ip);
        let mut map = crate::sync::lock(&self.per_address);
        let count = map.entry(key).or_default();
        if *count >= self.config.connections_per_address {
            return Err(Refusal::TooManyConnections);
        }
        *count += 1;
        self.metrics.connections_open.fetch_add(1, Ordering::SeqCst);
        Ok(ConnectionSlot {
            limits: self.clone(),
            key,
        })
    }

    /// Connections open now (counted by slots).
    pub fn open_connections(&self) -> u64 {
        self.metrics.connections_open.load(Ordering::SeqCst)
    }

    /// Distinct addresses (or /64s) with an open connection.
    #[cfg(test)]
    pub fn tracked_addresses(&self) -> usize {
        crate::sync::lock(&self.per_address).len()
    }
}

/// One open connection's place in its address's count.
pub struct ConnectionSlot {
    limits: Arc<Limits>,
    key: AddressKey,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = crate::sync::lock(&self.limits.per_address);
        if let Some(count) = map.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.key);
            }
        }
        self.limits
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> Arc<Limits> {
        Arc::new(Limits::new(LimitsConfig {
            connections_per_address: max,
            ..LimitsConfig::default()
        }))
    }

    #[test]
    fn counts_per_address_and_gives_places_back() {
        let limits = limits(2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limits.connect(a).expect("first");
        let _second = limits.connect(a).expect("second");
        assert_eq!(limits.connect(a).err(), Some(Refusal::TooManyConnections));
        let _other = limits.connect(b).expect("another address is separate");
        drop(first);
        let _again = limits.connect(a).expect("a place was given back");
        assert_eq!(limits.open_connections(), 3);
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_address_and_the_map_empties() {
        let limits = limits(1);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let slot = limits.connect(a).expect("first");
        assert!(limits.connect(same_64).is_err());
        let other = limits.connect(other_64).expect("other /64");
        drop((slot, other));
        assert_eq!(limits.tracked_addresses(), 0, "no address is kept");
    }

    #[test]
    fn draining_refuses_new_connections() {
        let limits = limits(5);
        limits.start_draining();
        assert_eq!(
            limits.connect("192.0.2.1".parse().expect("ip")).err(),
            Some(Refusal::ShuttingDown)
        );
    }

    #[test]
    fn errors_are_counted_by_wire_code() {
        let metrics = SignalingCounters::default();
        metrics.count_sent(&ServerMessage::error(ErrorCode::RateLimited, "x"));
        metrics.count_sent(&ServerMessage::error(ErrorCode::RateLimited, "x"));
        metrics.count_sent(&shutdown_message());
        let errors = metrics.errors_sent();
        assert_eq!(errors.get("rate_limited"), Some(&2));
        assert_eq!(errors.get("server_shutdown"), Some(&1));
    }
}
