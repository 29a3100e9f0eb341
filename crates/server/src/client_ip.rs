//! Reverse-proxy mode: which address a request comes from when Moot sits behind nginx or Caddy.
//!
//! Behind a proxy every TCP connection comes from the proxy, so the per-address connection
//! limit and the password-guess throttle would lump everyone together. When the TCP peer is in
//! `http.trusted_proxies`, the client address is read from the header the proxy sets
//! (`X-Forwarded-For`, or RFC 7239 `Forwarded` when `http.trusted_proxy_header = "forwarded"`).
//! From any other peer those headers are ignored: a client cannot pick its own address.
//!
//! Why one header chosen by config rather than "whichever is present": proxies append to the
//! header they manage and pass any other header through untouched, so a client could send a
//! made-up `Forwarded` through a proxy that only maintains `X-Forwarded-For`. Reading only the
//! header the operator's proxy writes leaves nothing for the client to forge.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address range such as `10.0.0.0/8` or `::1/128`; a bare address means just that address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    let host_bits = u32::from(bits - prefix);
    a.checked_shr(host_bits).unwrap_or(0) == b.checked_shr(host_bits).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address range like \"10.0.0.0/8\""))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        if network.to_canonical() != network {
            return Err(format!(
                "{text:?}: write IPv4-mapped addresses as plain IPv4 (they match either way)"
            ));
        }
        // "10.1.2.3/8" is almost certainly a typo for a single address or for 10.0.0.0/8;
        // refuse it rather than guess which one was meant.
        if host_part(network, prefix) != 0 {
            return Err(format!(
                "{text:?} has bits set after the prefix (did you mean {network}/{bits}?)"
            ));
        }
        Ok(Self { network, prefix })
    }
}

fn host_part(ip: IpAddr, prefix: u8) -> u128 {
    let (value, bits) = match ip {
        IpAddr::V4(ip) => (u128::from(u32::from(ip)), 32u32),
        IpAddr::V6(ip) => (u128::from(ip), 128u32),
    };
    let host_bits = bits - u32::from(prefix);
    if host_bits == 0 {
        0
    } else {
        value & (u128::MAX >> (128 - host_bits))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which header a trusted proxy puts the client address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, Caddy, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

/// The address a request is treated as coming from.
///
/// The proxy appends the address it saw to the right of the list, so the list is walked from
/// the right, skipping our own proxies; the first address that is not a trusted proxy is the
/// client (anything further left was written by the client and cannot be believed). When the
/// header is missing or an entry on that walk is not an address (`unknown`, an obfuscated
/// RFC 7239 name, garbage), the peer itself is used: such requests then share the proxy's
/// budget, which is safe, rather than landing on an address someone could choose.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[Cidr],
    which: ProxyHeader,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer;
    }
    let (name, parse): (&str, fn(&str) -> Option<IpAddr>) = match which {
        ProxyHeader::XForwardedFor => ("x-forwarded-for", parse_xff_entry),
        ProxyHeader::Forwarded => ("forwarded", parse_forwarded_element),
    };
    // Several header lines are one list, in order (RFC 9110, 5.3).
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all(name) {
        let Ok(value) = value.to_str() else {
            tracing::debug!("{name} is not text; using the proxy's address");
            return peer;
        };
        entries.extend(value.split(','));
    }
    let mut leftmost = None;
    for entry in entries.iter().rev() {
        let Some(ip) = parse(entry) else {
            tracing::debug!(
                "{name} has an entry that is not an address; using the proxy's address"
            );
            return peer;
        };
        if !trusted.iter().any(|c| c.contains(ip)) {
            return ip;
        }
        leftmost = Some(ip);
    }
    // Empty or absent: the proxy sent nothing usable. All trusted: the request started inside
    // our own proxy chain, so its first hop is the best answer.
    leftmost.unwrap_or(peer)
}

/// `192.0.2.1`, `2001:db8::1`, and the `192.0.2.1:443` / `[2001:db8::1]:443` forms some
/// load balancers write.
fn parse_xff_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        return inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// The `for=` parameter of one RFC 7239 element: `for=192.0.2.60;proto=http;by=203.0.113.43`.
fn parse_forwarded_element(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    })?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    parse_xff_entry(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter()
            .map(|c| c.parse().expect("valid cidr"))
            .collect()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(name, HeaderValue::from_str(v).expect("header value"));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_match() {
        let list = cidrs(&["10.0.0.0/8", "::1", "2001:db8::/32", "0.0.0.0/0"]);
        assert!(list[0].contains(ip("10.200.3.4")));
        assert!(!list[0].contains(ip("11.0.0.1")));
        assert!(
            list[0].contains(ip("::ffff:10.1.1.1")),
            "IPv4-mapped counts as IPv4"
        );
        assert!(list[1].contains(ip("::1")));
        assert!(!list[1].contains(ip("::2")));
        assert!(list[2].contains(ip("2001:db8:ffff::7")));
        assert!(!list[2].contains(ip("2001:db9::1")));
        assert!(list[3].contains(ip("203.0.113.9")));
        assert!(
            !list[3].contains(ip("::1")),
            "an IPv4 range never holds IPv6"
        );
        assert_eq!(list[1].to_string(), "::1/128");
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "nonsense",
            "10.0.0.0/",
            "::1/129",
        ] {
            let err = bad.parse::<Cidr>().expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers("x-forwarded-for", &["1.2.3.4"]);
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = ip("203.0.113.5");
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            peer
        );
        assert_eq!(client_ip(peer, &h, &[], ProxyHeader::XForwardedFor), peer);
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let trusted = cidrs(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        // The client forged "1.2.3.4"; nginx appended the real address; an inner proxy too.
        let h = headers("x-forwarded-for", &["1.2.3.4, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            ip("198.51.100.7")
        );
        let h = headers("x-forwarded-for", &["[2001:db8::5]:4711"]);
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            ip("2001:db8::5")
        );
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.1.1.1"]);
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            ip("10.9.9.9"),
            "all trusted: the first hop"
        );
    }

    #[test]
    fn malformed_or_missing_headers_fall_back_to_the_peer() {
        let trusted = cidrs(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        for bad in ["unknown", "1.2.3.4, not-an-ip", "", " , ", "1.2.3.4.5"] {
            let h = headers("x-forwarded-for", &[bad]);
            assert_eq!(
                client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
                peer,
                "{bad:?}"
            );
        }
        assert_eq!(
            client_ip(
                peer,
                &HeaderMap::new(),
                &trusted,
                ProxyHeader::XForwardedFor
            ),
            peer
        );
        let mut binary = HeaderMap::new();
        binary.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe").expect("obs-text is allowed"),
        );
        assert_eq!(
            client_ip(peer, &binary, &trusted, ProxyHeader::XForwardedFor),
            peer,
            "not text"
        );
        // Garbage to the left of the proxy's own entry is never reached.
        let h = headers("x-forwarded-for", &["garbage, 198.51.100.7"]);
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_only_when_configured() {
        let trusted = cidrs(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        let h = headers(
            "forwarded",
            &["for=1.2.3.4, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=127.0.0.1"],
        );
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::Forwarded),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::XForwardedFor),
            peer,
            "not the configured header"
        );
        let h = headers("forwarded", &["For=192.0.2.60;proto=http"]);
        assert_eq!(
            client_ip(peer, &h, &trusted, ProxyHeader::Forwarded),
            ip("192.0.2.60")
        );
        let h = headers("forwarded", &["for=_hidden", "proto=https"]);
        assert_eq!(client_ip(peer, &h, &trusted, ProxyHeader::Forwarded), peer);
    }
}
