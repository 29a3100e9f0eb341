//! The allocation table: one allocation per client 5-tuple, each with its relay, lifetime,
//! permissions (by peer IP), channel bindings and a byte bucket. Lookups by 5-tuple, by id
//! (the relay socket the I/O layer holds) and per username are hash maps, never scans.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How a client reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// TCP and TLS carry a byte stream: ChannelData is padded to 4 bytes there.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// Client address, server address and transport: what identifies an allocation (RFC 8656 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: Transport,
}

/// Names an allocation (and so its relay socket) between this crate and the I/O layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllocationId(pub u64);

/// A token bucket in bytes: `rate` per second, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(bytes_per_second: u64, burst_bytes: u64, now: Instant) -> Self {
        Self {
            rate: bytes_per_second as f64,
            burst: burst_bytes as f64,
            tokens: burst_bytes as f64,
            last: now,
        }
    }

    /// Takes `bytes` if the bucket holds them; false means drop the packet.
    pub fn take(&mut self, now: Instant, bytes: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= bytes as f64 {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
pub struct Allocation {
    pub id: AllocationId,
    pub tuple: FiveTuple,
    pub username: String,
    /// The long-term key of `username`, to sign responses to this allocation's requests.
    pub key: [u8; 16],
    /// The Allocate request that made it: a retransmission gets the same answer (RFC 8656 7.2).
    pub transaction_id: [u8; 12],
    /// None until the I/O layer has bound the relay socket.
    pub relay: Option<SocketAddr>,
    pub expires: Instant,
    /// Lifetime granted by the Allocate, for the success response sent once the relay opens.
    pub lifetime: Duration,
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, (SocketAddr, Instant)>,
    channel_of_peer: HashMap<SocketAddr, u16>,
    pub bucket: Bucket,
}

/// Why a channel cannot be bound (both are 400 Bad Request, RFC 8656 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelConflict {
    ChannelHasOtherPeer,
    PeerHasOtherChannel,
}

impl Allocation {
    pub fn has_permission(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|until| *until > now)
    }

    pub fn permit(&mut self, ip: IpAddr, until: Instant) {
        self.permissions.insert(ip, until);
    }

    /// Binds (or refreshes) `channel` to `peer` until `until`.
    pub fn bind_channel(
        &mut self,
        channel: u16,
        peer: SocketAddr,
        until: Instant,
        now: Instant,
    ) -> Result<(), ChannelConflict> {
        if let Some((bound, expires)) = self.channels.get(&channel) {
            if *bound != peer && *expires > now {
                return Err(ChannelConflict::ChannelHasOtherPeer);
            }
        }
        if let Some(other) = self.channel_of_peer.get(&peer) {
            if *other != channel && self.channels.get(other).is_some_and(|(_, e)| *e > now) {
                return Err(ChannelConflict::PeerHasOtherChannel);
            }
        }
        if let Some((old_peer, _)) = self.channels.insert(channel, (peer, until)) {
            self.channel_of_peer.remove(&old_peer);
        }
        self.channel_of_peer.insert(peer, channel);
        Ok(())
    }

    /// The peer bound to `channel`, while the binding lasts.
    pub fn channel_peer(&self, channel: u16, now: Instant) -> Option<SocketAddr> {
        self.channels
            .get(&channel)
            .filter(|(_, until)| *until > now)
            .map(|(peer, _)| *peer)
    }

    /// The channel bound to `peer`, while the binding lasts.
    pub fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let channel = *self.channel_of_peer.get(&peer)?;
        self.channel_peer(channel, now).map(|_| channel)
    }

    /// Drops expired permissions and channel bindings.
    fn sweep(&mut self, now: Instant) {
        self.permissions.retain(|_, until| *until > now);
        let channels = &mut self.channels;
        channels.retain(|_, (_, until)| *until > now);
        self.channel_of_peer
            .retain(|_, channel| channels.contains_key(channel));
    }
}

/// What a new allocation starts with.
#[derive(Debug)]
pub struct NewAllocation {
    pub tuple: FiveTuple,
    pub username: String,
    pub key: [u8; 16],
    pub transaction_id: [u8; 12],
    pub lifetime: Duration,
    pub bucket: Bucket,
}

#[derive(Debug, Default)]
pub struct Table {
    by_id: HashMap<AllocationId, Allocation>,
    by_tuple: HashMap<FiveTuple, AllocationId>,
    per_username: HashMap<String, usize>,
    next_id: u64,
}

impl Table {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn count_for(&self, username: &str) -> usize {
        self.per_username.get(username).copied().unwrap_or(0)
    }

    pub fn insert(&mut self, new: NewAllocation, now: Instant) -> AllocationId {
        self.next_id += 1;
        let id = AllocationId(self.next_id);
        *self.per_username.entry(new.username.clone()).or_default() += 1;
        self.by_tuple.insert(new.tuple, id);
        self.by_id.insert(
            id,
            Allocation {
                id,
                tuple: new.tuple,
                username: new.username,
                key: new.key,
                transaction_id: new.transaction_id,
                relay: None,
                expires: now + new.lifetime,
                lifetime: new.lifetime,
                permissions: HashMap::new(),
                channels: HashMap::new(),
                channel_of_peer: HashMap::new(),
                bucket: new.bucket,
            },
        );
        id
    }

    /// The live allocation of this 5-tuple (an expired one awaiting the sweep counts as gone).
    pub fn by_tuple(&mut self, tuple: &FiveTuple, now: Instant) -> Option<&mut Allocation> {
        let id = self.by_tuple.get(tuple)?;
        self.by_id.get_mut(id).filter(|a| a.expires > now)
    }

    pub fn get(&mut self, id: AllocationId, now: Instant) -> Option<&mut Allocation> {
        self.by_id.get_mut(&id).filter(|a| a.expires > now)
    }

    pub fn remove(&mut self, id: AllocationId) -> Option<Allocation> {
        let allocation = self.by_id.remove(&id)?;
        self.by_tuple.remove(&allocation.tuple);
        if let Some(count) = self.per_username.get_mut(&allocation.username) {
            *count -= 1;
            if *count == 0 {
                self.per_username.remove(&allocation.username);
            }
        }
        Some(allocation)
    }

    /// Removes expired allocations (returned, so their relays can be closed) and expired
    /// permissions and channels of the others.
    pub fn sweep(&mut self, now: Instant) -> Vec<Allocation> {
        let expired: Vec<AllocationId> = self
            .by_id
            .values()
            .filter(|a| a.expires <= now)
            .map(|a| a.id)
            .collect();
        for allocation in self.by_id.values_mut() {
            allocation.sweep(now);
        }
        expired
            .into_iter()
            .filter_map(|id| self.remove(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(port: u16) -> FiveTuple {
        FiveTuple {
            client: SocketAddr::from(([192, 0, 2, 1], port)),
            server: SocketAddr::from(([198, 51, 100, 1], 3478)),
            transport: Transport::Udp,
        }
    }

    fn new(port: u16, user: &str, now: Instant) -> NewAllocation {
        NewAllocation {
            tuple: tuple(port),
            username: user.into(),
            key: [0; 16],
            transaction_id: [0; 12],
            lifetime: Duration::from_secs(600),
            bucket: Bucket::new(1000, 1000, now),
        }
    }

    #[test]
    fn bucket_refills_at_its_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(1000, 1500, t0);
        assert!(bucket.take(t0, 1500));
        assert!(!bucket.take(t0, 1), "empty");
        assert!(bucket.take(t0 + Duration::from_millis(500), 500));
        assert!(!bucket.take(t0 + Duration::from_millis(500), 1));
        assert!(bucket.take(t0 + Duration::from_secs(100), 1500), "capped");
        assert!(!bucket.take(t0 + Duration::from_secs(100), 1));
    }

    #[test]
    fn table_counts_per_username_and_expires() {
        let t0 = Instant::now();
        let mut table = Table::default();
        let a = table.insert(new(1, "u", t0), t0);
        let b = table.insert(new(2, "u", t0), t0);
        assert_eq!((table.len(), table.count_for("u")), (2, 2));
        assert!(table.by_tuple(&tuple(1), t0).is_some());
        assert!(table.remove(a).is_some());
        assert_eq!(table.count_for("u"), 1);
        assert!(table.by_tuple(&tuple(1), t0).is_none());
        let later = t0 + Duration::from_secs(600);
        assert!(table.get(b, later).is_none(), "expired counts as gone");
        let swept = table.sweep(later);
        assert_eq!(swept.len(), 1);
        assert_eq!((table.len(), table.count_for("u")), (0, 0));
    }

    #[test]
    fn permissions_and_channels_expire_and_conflicts_are_refused() {
        let t0 = Instant::now();
        let mut table = Table::default();
        let id = table.insert(new(1, "u", t0), t0);
        let a = table.get(id, t0).expect("live");
        let peer: SocketAddr = "203.0.113.5:10000".parse().expect("addr");
        let peer2: SocketAddr = "203.0.113.5:10001".parse().expect("addr");
        let until = t0 + Duration::from_secs(300);
        a.permit(peer.ip(), until);
        assert!(a.has_permission(peer.ip(), t0));
        assert!(!a.has_permission(peer.ip(), until));
        assert_eq!(a.bind_channel(0x4000, peer, until, t0), Ok(()));
        assert_eq!(a.bind_channel(0x4000, peer, until, t0), Ok(()), "refresh");
        assert_eq!(
            a.bind_channel(0x4000, peer2, until, t0),
            Err(ChannelConflict::ChannelHasOtherPeer)
        );
        assert_eq!(
            a.bind_channel(0x4001, peer, until, t0),
            Err(ChannelConflict::PeerHasOtherChannel)
        );
        assert_eq!(a.channel_peer(0x4000, t0), Some(peer));
        assert_eq!(a.channel_of(peer, t0), Some(0x4000));
        assert_eq!(a.channel_peer(0x4000, until), None, "expired");
        a.sweep(until);
        assert!(a.channels.is_empty() && a.channel_of_peer.is_empty());
        assert!(a.permissions.is_empty());
    }
}
