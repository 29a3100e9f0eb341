//! The TURN server state machine: feed it what arrived (from clients, from peers at a relay,
//! relay sockets opened, connections closed, timeouts), then drain [`Server::poll_output`].

use crate::allocation::{AllocationId, Bucket, ChannelConflict, FiveTuple, NewAllocation, Table};
use crate::auth::Auth;
use crate::message::{
    attr, decode_channel_data, decode_xor_address, encode_channel_data, looks_like_stun, Builder,
    Class, Message, Method,
};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// RFC 8656: permissions last 300 s, channel bindings 600 s.
const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// How often expired allocations, permissions and channels are swept away.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// REQUESTED-TRANSPORT's protocol number for UDP, the only relay transport here.
const PROTOCOL_UDP: u8 = 17;

/// Settings of a [`Server`]; secrets come in here because the crate has no RNG.
#[derive(Clone)]
pub struct Config {
    pub realm: String,
    /// The REST shared secret: passwords are base64(HMAC-SHA1(secret, username)).
    pub secret: Vec<u8>,
    /// Key for the nonces' HMAC; random per process.
    pub nonce_key: [u8; 32],
    /// The only peers allocations may talk to (Moot's own media addresses). Everything else
    /// is 403 Forbidden, so this relay never reaches into the operator's network.
    pub allowed_peers: Vec<SocketAddr>,
    /// The address relays are advertised at (XOR-RELAYED-ADDRESS is this IP and the port the
    /// I/O layer bound).
    pub relay_ip: IpAddr,
    pub max_allocations: usize,
    pub max_allocations_per_username: usize,
    /// Bytes per second each allocation may relay (both directions together), and its burst.
    pub bytes_per_second: u64,
    pub burst_bytes: u64,
    pub nonce_lifetime: Duration,
    pub default_lifetime: Duration,
    pub max_lifetime: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("realm", &self.realm)
            .field("allowed_peers", &self.allowed_peers)
            .field("relay_ip", &self.relay_ip)
            .field("max_allocations", &self.max_allocations)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for everything but the secrets, the realm and the addresses.
    pub fn new(secret: Vec<u8>, nonce_key: [u8; 32], relay_ip: IpAddr) -> Self {
        Self {
            realm: "moot".into(),
            secret,
            nonce_key,
            allowed_peers: Vec::new(),
            relay_ip,
            max_allocations: 1000,
            // A browser makes one per TURN URL (UDP, TCP, TLS) and more on ICE restarts.
            max_allocations_per_username: 10,
            // 20 Mbit/s: several simulcast layers plus a screen share, with headroom.
            bytes_per_second: 2_500_000,
            burst_bytes: 2_500_000,
            nonce_lifetime: Duration::from_secs(600),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
        }
    }
}

/// What the I/O layer has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send to a client over the connection or socket of this 5-tuple.
    Transmit { to: FiveTuple, bytes: Vec<u8> },
    /// Send from the allocation's relay socket to a peer.
    Relay {
        allocation: AllocationId,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Bind a UDP relay socket for this allocation, then call [`Server::relay_opened`].
    OpenRelay { allocation: AllocationId },
    /// The allocation is gone: close its relay socket.
    CloseRelay { allocation: AllocationId },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub allocations: usize,
    /// Payload bytes relayed from clients to peers and from peers to clients.
    pub bytes_to_peers: u64,
    pub bytes_to_clients: u64,
    /// Packets dropped: no permission, no channel, over the bandwidth bucket.
    pub packets_dropped: u64,
}

pub struct Server {
    config: Config,
    auth: Auth,
    table: Table,
    out: VecDeque<Output>,
    started: Instant,
    unix_at_start: u64,
    next_sweep: Instant,
    stats: Stats,
    /// Data indications sent, for their transaction ids.
    data_sent: u64,
}

/// An error response's code and reason phrase.
type Refusal = (u16, &'static str);
const BAD_REQUEST: Refusal = (400, "Bad Request");
const UNAUTHENTICATED: Refusal = (401, "Unauthenticated");
const FORBIDDEN: Refusal = (403, "Forbidden");
const ALLOCATION_MISMATCH: Refusal = (437, "Allocation Mismatch");
const STALE_NONCE: Refusal = (438, "Stale Nonce");
const FAMILY_NOT_SUPPORTED: Refusal = (440, "Address Family not Supported");
const WRONG_CREDENTIALS: Refusal = (441, "Wrong Credentials");
const UNSUPPORTED_TRANSPORT: Refusal = (442, "Unsupported Transport Protocol");
const PEER_FAMILY_MISMATCH: Refusal = (443, "Peer Address Family Mismatch");
const QUOTA_REACHED: Refusal = (486, "Allocation Quota Reached");
const INSUFFICIENT_CAPACITY: Refusal = (508, "Insufficient Capacity");

/// A request that passed the long-term credential check.
struct Authenticated<'a> {
    username: &'a str,
    key: [u8; 16],
}

impl Server {
    /// `unix_now` is the wall-clock time at `now`, in seconds since 1970: usernames carry
    /// their expiry as a Unix time; everything else runs on `Instant`s.
    pub fn new(config: Config, now: Instant, unix_now: u64) -> Self {
        let auth = Auth::new(
            &config.secret,
            &config.nonce_key,
            &config.realm,
            config.nonce_lifetime,
        );
        Self {
            config,
            auth,
            table: Table::default(),
            out: VecDeque::new(),
            started: now,
            unix_at_start: unix_now,
            next_sweep: now + SWEEP_INTERVAL,
            stats: Stats::default(),
            data_sent: 0,
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            allocations: self.table.len(),
            ..self.stats
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Server::handle_timeout`] is next due (None: nothing to expire).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.table.len() > 0).then_some(self.next_sweep)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_INTERVAL;
        for gone in self.table.sweep(now) {
            self.out.push_back(Output::CloseRelay {
                allocation: gone.id,
            });
        }
    }

    /// A datagram (UDP) or a whole frame (TCP/TLS, see `stream_frame_len`) from a client.
    pub fn handle_client(&mut self, now: Instant, from: FiveTuple, bytes: &[u8]) {
        if let Some((channel, data)) = decode_channel_data(bytes) {
            self.channel_data_from_client(now, from, channel, data);
            return;
        }
        if !looks_like_stun(bytes) {
            return;
        }
        // Undecodable STUN gets no answer: a reply could not be matched to anything useful
        // and would only help reflection.
        let Ok(message) = Message::decode(bytes) else {
            return;
        };
        match (message.class, message.method) {
            (Class::Request, Method::Binding) => self.binding(from, &message),
            (Class::Request, Method::Allocate) => self.allocate(now, from, &message),
            (Class::Request, Method::Refresh) => self.refresh(now, from, &message),
            (Class::Request, Method::CreatePermission) => {
                self.create_permission(now, from, &message)
            }
            (Class::Request, Method::ChannelBind) => self.channel_bind(now, from, &message),
            (Class::Indication, Method::Send) => self.send_indication(now, from, &message),
            (Class::Request, _) => self.refuse(from, &message, BAD_REQUEST, None),
            // Responses and other indications are not for a server.
            _ => {}
        }
    }

    /// A datagram that arrived at an allocation's relay socket from `peer`.
    pub fn handle_peer(
        &mut self,
        now: Instant,
        allocation: AllocationId,
        peer: SocketAddr,
        bytes: &[u8],
    ) {
        let allowed = self.config.allowed_peers.contains(&peer);
        let Some(a) = self.table.get(allocation, now) else {
            return;
        };
        if !allowed || !a.has_permission(peer.ip(), now) || !a.bucket.take(now, bytes.len()) {
            self.stats.packets_dropped += 1;
            return;
        }
        let to = a.tuple;
        let message = match a.channel_of(peer, now) {
            Some(channel) => encode_channel_data(channel, bytes, to.transport.is_stream()),
            None => Builder::new(
                Class::Indication,
                Method::Data,
                data_tid(&mut self.data_sent),
            )
            .xor_address(attr::XOR_PEER_ADDRESS, peer)
            .bytes(attr::DATA, bytes)
            .finish(),
        };
        self.stats.bytes_to_clients += bytes.len() as u64;
        self.out.push_back(Output::Transmit { to, bytes: message });
    }

    /// The I/O layer bound (Some(port)) or failed to bind (None) the relay of `allocation`.
    pub fn relay_opened(&mut self, now: Instant, allocation: AllocationId, port: Option<u16>) {
        let Some(a) = self.table.get(allocation, now) else {
            // Deleted meanwhile (connection closed): the socket is not needed.
            if port.is_some() {
                self.out.push_back(Output::CloseRelay { allocation });
            }
            return;
        };
        let (tuple, key, tid) = (a.tuple, a.key, a.transaction_id);
        let Some(port) = port else {
            self.table.remove(allocation);
            let (code, reason) = INSUFFICIENT_CAPACITY;
            let bytes = Builder::new(Class::Error, Method::Allocate, tid)
                .error_code(code, reason)
                .finish_integrity(&key);
            self.out.push_back(Output::Transmit { to: tuple, bytes });
            return;
        };
        a.relay = Some(SocketAddr::new(self.config.relay_ip, port));
        a.expires = now + a.lifetime;
        let bytes = allocate_success(a.relay, a.lifetime, &tuple, tid, &key);
        self.out.push_back(Output::Transmit { to: tuple, bytes });
    }

    /// A TCP or TLS connection closed: its allocation goes with it (RFC 8656 3.1).
    pub fn transport_closed(&mut self, now: Instant, tuple: FiveTuple) {
        if let Some(id) = self.table.by_tuple(&tuple, now).map(|a| a.id) {
            self.table.remove(id);
            self.out.push_back(Output::CloseRelay { allocation: id });
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn unix_now(&self, now: Instant) -> u64 {
        self.unix_at_start + self.elapsed(now).as_secs()
    }

    fn binding(&mut self, from: FiveTuple, request: &Message<'_>) {
        let bytes = Builder::new(Class::Success, Method::Binding, request.transaction_id)
            .xor_address(attr::XOR_MAPPED_ADDRESS, from.client)
            .finish_fingerprint();
        self.out.push_back(Output::Transmit { to: from, bytes });
    }

    /// An error response; signed with `key` once the request has been authenticated.
    fn refuse(
        &mut self,
        to: FiveTuple,
        request: &Message<'_>,
        (code, reason): Refusal,
        key: Option<&[u8; 16]>,
    ) {
        let builder = Builder::new(Class::Error, request.method, request.transaction_id)
            .error_code(code, reason);
        let bytes = match key {
            Some(key) => builder.finish_integrity(key),
            None => builder.finish_fingerprint(),
        };
        self.out.push_back(Output::Transmit { to, bytes });
    }

    /// 401 or 438 with a fresh REALM and NONCE for the client to retry with.
    fn challenge(&mut self, now: Instant, to: FiveTuple, request: &Message<'_>, refusal: Refusal) {
        let nonce = self.auth.nonce(to.client, self.elapsed(now));
        let bytes = Builder::new(Class::Error, request.method, request.transaction_id)
            .error_code(refusal.0, refusal.1)
            .bytes(attr::REALM, self.auth.realm().as_bytes())
            .bytes(attr::NONCE, nonce.as_bytes())
            .finish_fingerprint();
        self.out.push_back(Output::Transmit { to, bytes });
    }

    /// The long-term credential check (RFC 8489 9.2.4), then the unknown-attribute check.
    /// On failure the answer is queued and None returned.
    fn authenticate<'m>(
        &mut self,
        now: Instant,
        from: FiveTuple,
        request: &Message<'m>,
    ) -> Option<Authenticated<'m>> {
        if !request.has_integrity() {
            self.challenge(now, from, request, UNAUTHENTICATED);
            return None;
        }
        let (Some(username), Some(realm), Some(nonce)) = (
            request.string(attr::USERNAME),
            request.string(attr::REALM),
            request.string(attr::NONCE),
        ) else {
            self.refuse(from, request, BAD_REQUEST, None);
            return None;
        };
        if !self
            .auth
            .nonce_is_fresh(nonce, from.client, self.elapsed(now))
        {
            self.challenge(now, from, request, STALE_NONCE);
            return None;
        }
        if realm != self.auth.realm()
            || self
                .auth
                .check_username(username, self.unix_now(now))
                .is_err()
        {
            self.challenge(now, from, request, UNAUTHENTICATED);
            return None;
        }
        let key = self.auth.key(username);
        if !request.check_integrity(&key) {
            self.challenge(now, from, request, UNAUTHENTICATED);
            return None;
        }
        let unknown = request.unknown_required();
        if !unknown.is_empty() {
            let list: Vec<u8> = unknown.iter().flat_map(|t| t.to_be_bytes()).collect();
            let bytes = Builder::new(Class::Error, request.method, request.transaction_id)
                .error_code(420, "Unknown Attribute")
                .bytes(attr::UNKNOWN_ATTRIBUTES, &list)
                .finish_integrity(&key);
            self.out.push_back(Output::Transmit { to: from, bytes });
            return None;
        }
        Some(Authenticated { username, key })
    }

    fn lifetime(&self, request: &Message<'_>) -> Duration {
        request
            .u32(attr::LIFETIME)
            .map(|secs| Duration::from_secs(u64::from(secs)))
            .unwrap_or(self.config.default_lifetime)
            .min(self.config.max_lifetime)
    }

    fn allocate(&mut self, now: Instant, from: FiveTuple, request: &Message<'_>) {
        let Some(user) = self.authenticate(now, from, request) else {
            return;
        };
        if let Some(existing) = self.table.by_tuple(&from, now) {
            if existing.transaction_id != request.transaction_id {
                self.refuse(from, request, ALLOCATION_MISMATCH, Some(&user.key));
            } else if existing.relay.is_some() {
                // A retransmission whose success response was lost: send it again.
                let remaining = existing.expires.saturating_duration_since(now);
                let bytes = allocate_success(
                    existing.relay,
                    remaining,
                    &from,
                    request.transaction_id,
                    &existing.key,
                );
                self.out.push_back(Output::Transmit { to: from, bytes });
            }
            // Else the relay is still being opened; the answer comes when it is.
            return;
        }
        match request.get(attr::REQUESTED_TRANSPORT) {
            None => return self.refuse(from, request, BAD_REQUEST, Some(&user.key)),
            Some(value) if value.first() != Some(&PROTOCOL_UDP) => {
                return self.refuse(from, request, UNSUPPORTED_TRANSPORT, Some(&user.key))
            }
            Some(_) => {}
        }
        if let Some(family) = request.get(attr::REQUESTED_ADDRESS_FAMILY) {
            let wanted_v6 = family.first() == Some(&0x02);
            if wanted_v6 != self.config.relay_ip.is_ipv6() {
                return self.refuse(from, request, FAMILY_NOT_SUPPORTED, Some(&user.key));
            }
        }
        if self.table.count_for(user.username) >= self.config.max_allocations_per_username {
            return self.refuse(from, request, QUOTA_REACHED, Some(&user.key));
        }
        if self.table.len() >= self.config.max_allocations {
            return self.refuse(from, request, INSUFFICIENT_CAPACITY, Some(&user.key));
        }
        let allocation = self.table.insert(
            NewAllocation {
                tuple: from,
                username: user.username.to_owned(),
                key: user.key,
                transaction_id: request.transaction_id,
                lifetime: self.lifetime(request).max(Duration::from_secs(1)),
                bucket: Bucket::new(self.config.bytes_per_second, self.config.burst_bytes, now),
            },
            now,
        );
        self.out.push_back(Output::OpenRelay { allocation });
    }

    /// The caller's live, opened allocation, checked to belong to the authenticated user;
    /// refuses (437 / 441) and returns None otherwise.
    fn own_allocation(
        &mut self,
        now: Instant,
        from: FiveTuple,
        request: &Message<'_>,
        user: &Authenticated<'_>,
    ) -> Option<AllocationId> {
        let found = self
            .table
            .by_tuple(&from, now)
            .filter(|a| a.relay.is_some())
            .map(|a| (a.id, a.username == user.username));
        match found {
            None => {
                self.refuse(from, request, ALLOCATION_MISMATCH, Some(&user.key));
                None
            }
            Some((_, false)) => {
                self.refuse(from, request, WRONG_CREDENTIALS, Some(&user.key));
                None
            }
            Some((id, true)) => Some(id),
        }
    }

    fn refresh(&mut self, now: Instant, from: FiveTuple, request: &Message<'_>) {
        let Some(user) = self.authenticate(now, from, request) else {
            return;
        };
        let Some(id) = self.own_allocation(now, from, request, &user) else {
            return;
        };
        let lifetime = self.lifetime(request);
        if lifetime.is_zero() {
            self.table.remove(id);
            self.out.push_back(Output::CloseRelay { allocation: id });
        } else if let Some(a) = self.table.get(id, now) {
            a.expires = now + lifetime;
        }
        let bytes = Builder::new(Class::Success, Method::Refresh, request.transaction_id)
            .u32(attr::LIFETIME, lifetime.as_secs() as u32)
            .finish_integrity(&user.key);
        self.out.push_back(Output::Transmit { to: from, bytes });
    }

    /// Checks one XOR-PEER-ADDRESS: decodable (400), the relay's family (443), and one of
    /// the allowed peers (403).
    fn check_peer(&self, value: Option<SocketAddr>) -> Result<SocketAddr, Refusal> {
        let peer = value.ok_or(BAD_REQUEST)?;
        if peer.is_ipv6() != self.config.relay_ip.is_ipv6() {
            return Err(PEER_FAMILY_MISMATCH);
        }
        if !self.config.allowed_peers.contains(&peer) {
            return Err(FORBIDDEN);
        }
        Ok(peer)
    }

    fn create_permission(&mut self, now: Instant, from: FiveTuple, request: &Message<'_>) {
        let Some(user) = self.authenticate(now, from, request) else {
            return;
        };
        let Some(id) = self.own_allocation(now, from, request, &user) else {
            return;
        };
        let tid = request.transaction_id;
        let peers: Result<Vec<SocketAddr>, Refusal> = request
            .get_all(attr::XOR_PEER_ADDRESS)
            .map(|value| self.check_peer(decode_xor_address(value, &tid)))
            .collect();
        let peers = match peers {
            Ok(peers) if !peers.is_empty() => peers,
            Ok(_) => return self.refuse(from, request, BAD_REQUEST, Some(&user.key)),
            Err(refusal) => return self.refuse(from, request, refusal, Some(&user.key)),
        };
        if let Some(a) = self.table.get(id, now) {
            for peer in peers {
                a.permit(peer.ip(), now + PERMISSION_LIFETIME);
            }
        }
        let bytes =
            Builder::new(Class::Success, Method::CreatePermission, tid).finish_integrity(&user.key);
        self.out.push_back(Output::Transmit { to: from, bytes });
    }

    fn channel_bind(&mut self, now: Instant, from: FiveTuple, request: &Message<'_>) {
        let Some(user) = self.authenticate(now, from, request) else {
            return;
        };
        let Some(id) = self.own_allocation(now, from, request, &user) else {
            return;
        };
        let channel = request
            .u32(attr::CHANNEL_NUMBER)
            .map(|v| (v >> 16) as u16)
            .filter(|c| (0x4000..=0x4FFF).contains(c));
        let Some(channel) = channel else {
            return self.refuse(from, request, BAD_REQUEST, Some(&user.key));
        };
        let peer = match self.check_peer(request.xor_address(attr::XOR_PEER_ADDRESS)) {
            Ok(peer) => peer,
            Err(refusal) => return self.refuse(from, request, refusal, Some(&user.key)),
        };
        let Some(a) = self.table.get(id, now) else {
            return;
        };
        match a.bind_channel(channel, peer, now + CHANNEL_LIFETIME, now) {
            Err(ChannelConflict::ChannelHasOtherPeer | ChannelConflict::PeerHasOtherChannel) => {
                return self.refuse(from, request, BAD_REQUEST, Some(&user.key))
            }
            Ok(()) => a.permit(peer.ip(), now + PERMISSION_LIFETIME),
        }
        let bytes = Builder::new(Class::Success, Method::ChannelBind, request.transaction_id)
            .finish_integrity(&user.key);
        self.out.push_back(Output::Transmit { to: from, bytes });
    }

    /// Send indications are not authenticated (RFC 8656 10.2): the 5-tuple, the permission
    /// and the allowed-peer list are what make them safe.
    fn send_indication(&mut self, now: Instant, from: FiveTuple, indication: &Message<'_>) {
        let (Some(peer), Some(data)) = (
            indication.xor_address(attr::XOR_PEER_ADDRESS),
            indication.get(attr::DATA),
        ) else {
            return;
        };
        self.relay_to_peer(now, from, peer, data);
    }

    fn channel_data_from_client(
        &mut self,
        now: Instant,
        from: FiveTuple,
        channel: u16,
        data: &[u8],
    ) {
        let Some(peer) = self
            .table
            .by_tuple(&from, now)
            .and_then(|a| a.channel_peer(channel, now))
        else {
            self.stats.packets_dropped += 1;
            return;
        };
        self.relay_to_peer(now, from, peer, data);
    }

    fn relay_to_peer(&mut self, now: Instant, from: FiveTuple, peer: SocketAddr, data: &[u8]) {
        let allowed = self.config.allowed_peers.contains(&peer);
        let Some(a) = self
            .table
            .by_tuple(&from, now)
            .filter(|a| a.relay.is_some())
        else {
            return;
        };
        if !allowed || !a.has_permission(peer.ip(), now) || !a.bucket.take(now, data.len()) {
            self.stats.packets_dropped += 1;
            return;
        }
        let allocation = a.id;
        self.stats.bytes_to_peers += data.len() as u64;
        self.out.push_back(Output::Relay {
            allocation,
            to: peer,
            bytes: data.to_vec(),
        });
    }
}

fn allocate_success(
    relay: Option<SocketAddr>,
    lifetime: Duration,
    tuple: &FiveTuple,
    tid: [u8; 12],
    key: &[u8; 16],
) -> Vec<u8> {
    let mut builder = Builder::new(Class::Success, Method::Allocate, tid);
    if let Some(relay) = relay {
        builder = builder.xor_address(attr::XOR_RELAYED_ADDRESS, relay);
    }
    builder
        .u32(attr::LIFETIME, lifetime.as_secs() as u32)
        .xor_address(attr::XOR_MAPPED_ADDRESS, tuple.client)
        .finish_integrity(key)
}

/// Data indications need a transaction id but nobody answers them (RFC 8656 11.5): it only has
/// to differ between messages, so a counter does (the crate has no RNG).
fn data_tid(counter: &mut u64) -> [u8; 12] {
    *counter += 1;
    let mut tid = [0u8; 12];
    tid[4..].copy_from_slice(&counter.to_be_bytes());
    tid
}
