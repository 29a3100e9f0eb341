//! Which peer does a datagram belong to? By ICE ufrag for STUN, then by source address.
//!
//! This is the one routing table: the SFU itself takes packets already routed to a peer
//! (`Sfu::handle_receive_batch`), and its caller keeps a `Demux` (the server's is shared by
//! its media workers, `server/src/media/routes.rs`, and says which worker owns the peer too),
//! fed with the ufrag `Sfu::add_peer` returns. Each packet is looked up once.
//!
//! Every peer's server-side ufrag is chosen by us and unique, so a STUN binding request
//! (whose USERNAME is "server_ufrag:client_ufrag") names its peer directly, and binds the
//! address it came from to that peer; DTLS, RTP and RTCP are then routed by a hash-map lookup,
//! never by scanning peers (str0m's `accepts()` scan breaks when client ports are reused and
//! costs O(peers) per packet). The binding happens before str0m checks the message's
//! integrity: a forged STUN message can move an address to another peer, whose `Rtc` then
//! drops what arrives (it is not that peer's DTLS or SRTP), never deliver it to the wrong
//! session.
//!
//! Addresses are keyed with their transport: an ICE-TCP connection's remote address is its own
//! route, apart from a UDP socket that happens to have the same address and port.

use crate::types::PeerId;
use std::collections::HashMap;
use std::net::SocketAddr;
use str0m::net::Protocol;

/// A remote transport address: where a client sends from, over which protocol.
type Address = (Protocol, SocketAddr);

/// Source addresses remembered per peer (a client changing networks, or trying several
/// candidates, has a few); the oldest is forgotten beyond this, so a flood of STUN messages
/// naming one peer cannot grow the table.
pub const ADDRESSES_PER_PEER: usize = 8;

/// What the table says of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// It belongs to this peer.
    Peer(PeerId),
    /// A STUN message naming this peer from an address not bound to it (yet): `bind`, then
    /// it is this peer's.
    Bind(PeerId),
    /// Nobody's: drop it.
    Unknown,
}

const STUN_HEADER_LEN: usize = 20;
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const STUN_ATTR_USERNAME: u16 = 0x0006;

/// True when the datagram looks like STUN (RFC 7983 demultiplexing: first byte 0..=3).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= STUN_HEADER_LEN && datagram[0] < 2 && datagram[4..8] == STUN_MAGIC_COOKIE
}

/// The server-side ufrag named by a STUN message's USERNAME attribute, if any.
pub fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let declared = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let end = (STUN_HEADER_LEN + declared).min(datagram.len());
    let mut at = STUN_HEADER_LEN;
    while at + 4 <= end {
        let kind = u16::from_be_bytes([datagram[at], datagram[at + 1]]);
        let len = u16::from_be_bytes([datagram[at + 2], datagram[at + 3]]) as usize;
        let value = datagram.get(at + 4..at + 4 + len)?;
        if kind == STUN_ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attributes are padded to a multiple of 4 bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// Routing tables from ufrag and from remote address to peer.
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<Address, PeerId>,
    /// Reverse index, oldest first: removing a peer is O(its addresses), not O(all
    /// addresses), and the cap per peer is kept without a scan.
    addrs_of: HashMap<PeerId, Vec<Address>>,
}

impl Demux {
    /// A peer's session now answers to the server-side `ufrag` (what `Sfu::add_peer`
    /// returned). A ufrag it had before (an earlier session of the same peer) is forgotten.
    pub fn insert_peer(&mut self, peer: PeerId, ufrag: String) {
        self.by_ufrag.retain(|_, p| *p != peer);
        self.by_ufrag.insert(ufrag, peer);
    }

    pub fn remove_peer(&mut self, peer: PeerId) {
        self.by_ufrag.retain(|_, p| *p != peer);
        for addr in self.addrs_of.remove(&peer).unwrap_or_default() {
            if self.by_addr.get(&addr) == Some(&peer) {
                self.by_addr.remove(&addr);
            }
        }
    }

    /// Where a packet from `source` over `proto` goes, without changing the table (so a
    /// shared table serves this under a read lock).
    pub fn lookup(&self, proto: Protocol, source: SocketAddr, packet: &[u8]) -> Route {
        let address = (proto, source);
        if let Some(ufrag) = stun_local_ufrag(packet) {
            return match self.by_ufrag.get(ufrag) {
                Some(&peer) if self.by_addr.get(&address) == Some(&peer) => Route::Peer(peer),
                Some(&peer) => Route::Bind(peer),
                None => Route::Unknown,
            };
        }
        match self.by_addr.get(&address) {
            Some(&peer) => Route::Peer(peer),
            None => Route::Unknown,
        }
    }

    /// Routes `source` over `proto` to `peer` from now on (after a STUN message named it),
    /// taking it from whoever had it; a peer's oldest address beyond `ADDRESSES_PER_PEER` is
    /// forgotten.
    pub fn bind(&mut self, proto: Protocol, source: SocketAddr, peer: PeerId) {
        let address = (proto, source);
        if let Some(previous) = self.by_addr.insert(address, peer) {
            if previous == peer {
                return;
            }
            if let Some(list) = self.addrs_of.get_mut(&previous) {
                list.retain(|a| *a != address);
            }
        }
        let list = self.addrs_of.entry(peer).or_default();
        list.push(address);
        if list.len() > ADDRESSES_PER_PEER {
            let oldest = list.remove(0);
            self.by_addr.remove(&oldest);
        }
    }

    /// `lookup`, then `bind` when it says so: the peer a packet belongs to, for a caller that
    /// owns its table alone. A STUN message with a known ufrag (re)binds its source to that
    /// peer, which is how a reused port moves to its new owner.
    pub fn route(&mut self, proto: Protocol, source: SocketAddr, packet: &[u8]) -> Option<PeerId> {
        match self.lookup(proto, source, packet) {
            Route::Peer(peer) => Some(peer),
            Route::Bind(peer) => {
                self.bind(proto, source, peer);
                Some(peer)
            }
            Route::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_with_username(username: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&STUN_ATTR_USERNAME.to_be_bytes());
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
        msg.extend_from_slice(&STUN_MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attr);
        msg
    }

    #[test]
    fn parses_the_server_ufrag() {
        let msg = stun_with_username("srvabc:cli1");
        assert_eq!(stun_local_ufrag(&msg), Some("srvabc"));
        assert_eq!(stun_local_ufrag(&msg[..10]), None);
        assert_eq!(stun_local_ufrag(&[0x80; 40]), None);
    }

    #[test]
    fn a_reused_port_moves_to_the_peer_that_proves_its_ufrag() {
        let mut demux = Demux::default();
        let (a, b) = (PeerId(1), PeerId(2));
        demux.insert_peer(a, "ua".into());
        demux.insert_peer(b, "ub".into());
        let addr: SocketAddr = "127.0.0.1:5000".parse().expect("literal");
        assert_eq!(demux.route(Protocol::Udp, addr, &[0x80, 0x60, 0, 0]), None);
        assert_eq!(
            demux.route(Protocol::Udp, addr, &stun_with_username("ua:x")),
            Some(a)
        );
        assert_eq!(
            demux.route(Protocol::Udp, addr, &[0x80, 0x60, 0, 0]),
            Some(a)
        );
        // Peer a leaves; its port is reused by peer b.
        demux.remove_peer(a);
        assert_eq!(demux.route(Protocol::Udp, addr, &[0x80, 0x60, 0, 0]), None);
        assert_eq!(
            demux.route(Protocol::Udp, addr, &stun_with_username("ub:y")),
            Some(b)
        );
        assert_eq!(
            demux.route(Protocol::Udp, addr, &[0x80, 0x60, 0, 0]),
            Some(b)
        );
        assert_eq!(
            demux.route(Protocol::Udp, addr, &stun_with_username("unknown:z")),
            None
        );
    }

    #[test]
    fn a_tcp_connection_is_its_own_route_apart_from_udp_with_the_same_address() {
        let mut demux = Demux::default();
        let (a, b) = (PeerId(1), PeerId(2));
        demux.insert_peer(a, "ua".into());
        demux.insert_peer(b, "ub".into());
        let addr: SocketAddr = "192.0.2.9:6000".parse().expect("literal");
        let rtp = [0x80, 0x60, 0, 0];
        let tcp = Protocol::Tcp;
        assert_eq!(
            demux.route(Protocol::Udp, addr, &stun_with_username("ua:x")),
            Some(a)
        );
        // The TCP connection from the same address and port is nobody's until it proves a
        // ufrag, and then it belongs to its own peer without taking UDP along.
        assert_eq!(demux.route(tcp, addr, &rtp), None);
        assert_eq!(demux.route(tcp, addr, &stun_with_username("ub:y")), Some(b));
        assert_eq!(demux.route(tcp, addr, &rtp), Some(b));
        assert_eq!(demux.route(Protocol::Udp, addr, &rtp), Some(a));
        demux.remove_peer(b);
        assert_eq!(demux.route(tcp, addr, &rtp), None);
        assert_eq!(demux.route(Protocol::Udp, addr, &rtp), Some(a));
    }

    #[test]
    fn a_flood_of_addresses_for_one_peer_is_bounded() {
        let mut demux = Demux::default();
        let peer = PeerId(1);
        demux.insert_peer(peer, "ua".into());
        let stun = stun_with_username("ua:x");
        for port in 0..1000 {
            let source = SocketAddr::from(([127, 0, 0, 1], port));
            assert_eq!(demux.route(Protocol::Udp, source, &stun), Some(peer));
        }
        assert_eq!(demux.by_addr.len(), ADDRESSES_PER_PEER);
        assert_eq!(demux.addrs_of[&peer].len(), ADDRESSES_PER_PEER);
        let rtp = [0x80u8, 96, 0, 1];
        let newest = SocketAddr::from(([127, 0, 0, 1], 999));
        let oldest = SocketAddr::from(([127, 0, 0, 1], 0));
        assert_eq!(demux.lookup(Protocol::Udp, newest, &rtp), Route::Peer(peer));
        assert_eq!(demux.lookup(Protocol::Udp, oldest, &rtp), Route::Unknown);
    }

    #[test]
    fn a_peer_s_new_session_takes_over_its_routes_with_a_new_ufrag() {
        let mut demux = Demux::default();
        let peer = PeerId(3);
        demux.insert_peer(peer, "old".into());
        demux.insert_peer(peer, "new".into());
        let source = SocketAddr::from(([127, 0, 0, 1], 4000));
        let udp = Protocol::Udp;
        assert_eq!(demux.route(udp, source, &stun_with_username("old:x")), None);
        assert_eq!(
            demux.lookup(udp, source, &stun_with_username("new:x")),
            Route::Bind(peer),
            "a lookup binds nothing"
        );
        assert_eq!(
            demux.route(udp, source, &stun_with_username("new:x")),
            Some(peer)
        );
        assert_eq!(
            demux.lookup(udp, source, &[0x80, 0x60, 0, 0]),
            Route::Peer(peer)
        );
    }
}
