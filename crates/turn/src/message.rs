//! STUN message codec (RFC 8489) with the TURN attributes (RFC 8656): parsing borrows the
//! input, building writes one `Vec`. MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT (CRC-32)
//! are computed over the message with its length field adjusted as the RFC requires.

use aws_lc_rs::hmac;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Every STUN message since RFC 5389 carries this after the length.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
pub const HEADER_LEN: usize = 20;
/// XORed into the CRC-32 so a STUN FINGERPRINT never matches another protocol's CRC.
const FINGERPRINT_XOR: u32 = 0x5354_554E;
const INTEGRITY_LEN: usize = 20;

/// Methods this server speaks (RFC 8489 Binding, RFC 8656 the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Binding,
    Allocate,
    Refresh,
    Send,
    Data,
    CreatePermission,
    ChannelBind,
    /// Anything else; answered with 400 when it is a request.
    Other(u16),
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Method::Binding => 0x001,
            Method::Allocate => 0x003,
            Method::Refresh => 0x004,
            Method::Send => 0x006,
            Method::Data => 0x007,
            Method::CreatePermission => 0x008,
            Method::ChannelBind => 0x009,
            Method::Other(code) => code,
        }
    }

    fn from_code(code: u16) -> Self {
        match code {
            0x001 => Method::Binding,
            0x003 => Method::Allocate,
            0x004 => Method::Refresh,
            0x006 => Method::Send,
            0x007 => Method::Data,
            0x008 => Method::CreatePermission,
            0x009 => Method::ChannelBind,
            other => Method::Other(other),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// Attribute types used here (RFC 8489 18.3, RFC 8656 18).
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    pub const LIFETIME: u16 = 0x000D;
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    pub const DATA: u16 = 0x0013;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;

    /// Comprehension-required attributes this server understands; any other type below
    /// 0x8000 in a request is answered with 420 Unknown Attribute (RFC 8489 6.3.1).
    /// DONT-FRAGMENT, EVEN-PORT and RESERVATION-TOKEN are deliberately absent: they are not
    /// supported, and 420 is how a client learns that.
    pub const UNDERSTOOD: &[u16] = &[
        MAPPED_ADDRESS,
        USERNAME,
        MESSAGE_INTEGRITY,
        ERROR_CODE,
        UNKNOWN_ATTRIBUTES,
        CHANNEL_NUMBER,
        LIFETIME,
        XOR_PEER_ADDRESS,
        DATA,
        REALM,
        NONCE,
        XOR_RELAYED_ADDRESS,
        REQUESTED_ADDRESS_FAMILY,
        REQUESTED_TRANSPORT,
        XOR_MAPPED_ADDRESS,
    ];
}

/// Why bytes are not a STUN message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("shorter than its header or length says")]
    Truncated,
    #[error("not a STUN message (first bits or magic cookie)")]
    NotStun,
    #[error("length not a multiple of 4")]
    BadLength,
    #[error("an attribute runs past the end")]
    BadAttribute,
    #[error("FINGERPRINT does not match")]
    BadFingerprint,
}

/// A parsed STUN message borrowing the datagram it came from.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub method: Method,
    pub class: Class,
    pub transaction_id: [u8; 12],
    raw: &'a [u8],
    /// (type, byte range of the value within `raw`), in order, up to MESSAGE-INTEGRITY
    /// (attributes after it other than FINGERPRINT are ignored, RFC 8489 14.5).
    attributes: Vec<(u16, std::ops::Range<usize>)>,
    /// Offset of the MESSAGE-INTEGRITY attribute header, when present.
    integrity_at: Option<usize>,
}

/// True when `bytes` starts like a STUN message (first two bits zero, magic cookie).
pub fn looks_like_stun(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN
        && bytes[0] & 0xC0 == 0
        && u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) == MAGIC_COOKIE
}

impl<'a> Message<'a> {
    pub fn decode(raw: &'a [u8]) -> Result<Self, DecodeError> {
        if raw.len() < HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        if !looks_like_stun(raw) {
            return Err(DecodeError::NotStun);
        }
        let length = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
        if length % 4 != 0 {
            return Err(DecodeError::BadLength);
        }
        if raw.len() < HEADER_LEN + length {
            return Err(DecodeError::Truncated);
        }
        let raw = &raw[..HEADER_LEN + length];
        let message_type = u16::from_be_bytes([raw[0], raw[1]]);
        let class = match ((message_type >> 7) & 0b10) | ((message_type >> 4) & 0b1) {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        };
        let method = Method::from_code(
            (message_type & 0x000F)
                | ((message_type >> 1) & 0x0070)
                | ((message_type >> 2) & 0x0F80),
        );
        let mut transaction_id = [0u8; 12];
        transaction_id.copy_from_slice(&raw[8..20]);
        let mut attributes = Vec::new();
        let mut integrity_at = None;
        let mut at = HEADER_LEN;
        while at < raw.len() {
            if at + 4 > raw.len() {
                return Err(DecodeError::BadAttribute);
            }
            let kind = u16::from_be_bytes([raw[at], raw[at + 1]]);
            let len = usize::from(u16::from_be_bytes([raw[at + 2], raw[at + 3]]));
            let value = at + 4..at + 4 + len;
            let next = at + 4 + len.div_ceil(4) * 4;
            if next > raw.len() {
                return Err(DecodeError::BadAttribute);
            }
            if kind == attr::FINGERPRINT {
                if len != 4 || next != raw.len() {
                    return Err(DecodeError::BadAttribute);
                }
                let expected = fingerprint(raw, at);
                let got = u32::from_be_bytes([
                    raw[value.start],
                    raw[value.start + 1],
                    raw[value.start + 2],
                    raw[value.start + 3],
                ]);
                if expected != got {
                    return Err(DecodeError::BadFingerprint);
                }
            } else if integrity_at.is_none() {
                if kind == attr::MESSAGE_INTEGRITY {
                    if len != INTEGRITY_LEN {
                        return Err(DecodeError::BadAttribute);
                    }
                    integrity_at = Some(at);
                }
                attributes.push((kind, value));
            }
            at = next;
        }
        Ok(Self {
            method,
            class,
            transaction_id,
            raw,
            attributes,
            integrity_at,
        })
    }

    /// The value of the first attribute of this type.
    pub fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, range)| &self.raw[range.clone()])
    }

    /// Every value of this type, in order (CreatePermission may carry several peers).
    pub fn get_all(&self, kind: u16) -> impl Iterator<Item = &'a [u8]> + '_ {
        let raw = self.raw;
        self.attributes
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(move |(_, range)| &raw[range.clone()])
    }

    /// Comprehension-required attribute types this server does not understand.
    pub fn unknown_required(&self) -> Vec<u16> {
        let mut unknown: Vec<u16> = self
            .attributes
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| *k < 0x8000 && !attr::UNDERSTOOD.contains(k))
            .collect();
        unknown.dedup();
        unknown
    }

    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }

    /// Whether MESSAGE-INTEGRITY is present and correct for `key`.
    pub fn check_integrity(&self, key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else {
            return false;
        };
        let expected = integrity(self.raw, at, key);
        let got = &self.raw[at + 4..at + 4 + INTEGRITY_LEN];
        // Constant time: the tag must not leak through timing how many bytes matched.
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected, got).is_ok()
    }

    pub fn string(&self, kind: u16) -> Option<&'a str> {
        self.get(kind).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn u32(&self, kind: u16) -> Option<u32> {
        let v = self.get(kind)?;
        (v.len() == 4).then(|| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }

    pub fn xor_address(&self, kind: u16) -> Option<SocketAddr> {
        decode_xor_address(self.get(kind)?, &self.transaction_id)
    }
}

/// HMAC-SHA1 over `raw[..at]` with the length field counting up to the end of the
/// MESSAGE-INTEGRITY attribute that starts at `at`.
fn integrity(raw: &[u8], at: usize, key: &[u8]) -> [u8; INTEGRITY_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&raw[..HEADER_LEN]);
    let length = (at + 4 + INTEGRITY_LEN - HEADER_LEN) as u16;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(&header);
    ctx.update(&raw[HEADER_LEN..at]);
    let tag = ctx.sign();
    let mut out = [0u8; INTEGRITY_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

/// CRC-32 over `raw[..at]` with the length field counting the FINGERPRINT at `at`.
fn fingerprint(raw: &[u8], at: usize) -> u32 {
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&raw[..HEADER_LEN]);
    let length = (at + 8 - HEADER_LEN) as u16;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    crc.update(&raw[HEADER_LEN..at]);
    crc.finalize() ^ FINGERPRINT_XOR
}

pub fn decode_xor_address(value: &[u8], transaction_id: &[u8; 12]) -> Option<SocketAddr> {
    if value.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([value[2], value[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    match (value[1], value.len()) {
        (0x01, 8) => {
            let mut ip = [0u8; 4];
            for (i, b) in ip.iter_mut().enumerate() {
                *b = value[4 + i] ^ cookie[i];
            }
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        (0x02, 20) => {
            let mut ip = [0u8; 16];
            for (i, b) in ip.iter_mut().enumerate() {
                let mask = if i < 4 {
                    cookie[i]
                } else {
                    transaction_id[i - 4]
                };
                *b = value[4 + i] ^ mask;
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

fn encode_xor_address(addr: SocketAddr, transaction_id: &[u8; 12]) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let mut out = Vec::with_capacity(20);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.extend_from_slice(&[0, 0x01]);
            out.extend_from_slice(&port.to_be_bytes());
            for (i, b) in ip.octets().iter().enumerate() {
                out.push(b ^ cookie[i]);
            }
        }
        IpAddr::V6(ip) => {
            out.extend_from_slice(&[0, 0x02]);
            out.extend_from_slice(&port.to_be_bytes());
            for (i, b) in ip.octets().iter().enumerate() {
                let mask = if i < 4 {
                    cookie[i]
                } else {
                    transaction_id[i - 4]
                };
                out.push(b ^ mask);
            }
        }
    }
    out
}

/// Writes one STUN message; `finish*` sets the length and appends the trailing attributes.
#[derive(Debug)]
pub struct Builder {
    buf: Vec<u8>,
    transaction_id: [u8; 12],
}

impl Builder {
    pub fn new(class: Class, method: Method, transaction_id: [u8; 12]) -> Self {
        let m = method.code();
        let c = match class {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        };
        let message_type = (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((c & 0b01) << 4)
            | ((c & 0b10) << 7);
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&transaction_id);
        Self {
            buf,
            transaction_id,
        }
    }

    pub fn bytes(mut self, kind: u16, value: &[u8]) -> Self {
        self.put(kind, value);
        self
    }

    fn put(&mut self, kind: u16, value: &[u8]) {
        self.buf.extend_from_slice(&kind.to_be_bytes());
        // Values here are at most one datagram, which a 16-bit length always covers; the
        // caller never passes more (DATA comes from a datagram of at most 64 KiB minus headers).
        self.buf
            .extend_from_slice(&(value.len().min(0xFFFF) as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        let pad = (4 - value.len() % 4) % 4;
        self.buf.extend(std::iter::repeat_n(0, pad));
        self.set_length();
    }

    pub fn u32(self, kind: u16, value: u32) -> Self {
        self.bytes(kind, &value.to_be_bytes())
    }

    pub fn xor_address(self, kind: u16, addr: SocketAddr) -> Self {
        let value = encode_xor_address(addr, &self.transaction_id);
        self.bytes(kind, &value)
    }

    pub fn error_code(self, code: u16, reason: &str) -> Self {
        let mut value = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        value.extend_from_slice(reason.as_bytes());
        self.bytes(attr::ERROR_CODE, &value)
    }

    fn set_length(&mut self) {
        let length = (self.buf.len() - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&length.to_be_bytes());
    }

    /// The message as it is (used for indications, which carry no integrity).
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Appends FINGERPRINT only (unauthenticated answers: 401, 438, Binding).
    pub fn finish_fingerprint(mut self) -> Vec<u8> {
        let at = self.buf.len();
        self.put(attr::FINGERPRINT, &[0; 4]);
        let crc = fingerprint(&self.buf, at);
        self.buf[at + 4..at + 8].copy_from_slice(&crc.to_be_bytes());
        self.buf
    }

    /// Appends MESSAGE-INTEGRITY with `key`, then FINGERPRINT.
    pub fn finish_integrity(mut self, key: &[u8]) -> Vec<u8> {
        let at = self.buf.len();
        self.put(attr::MESSAGE_INTEGRITY, &[0; INTEGRITY_LEN]);
        let tag = integrity(&self.buf, at, key);
        self.buf[at + 4..at + 4 + INTEGRITY_LEN].copy_from_slice(&tag);
        self.finish_fingerprint()
    }
}

/// ChannelData (RFC 8656 12.4): channel number, length, data; padded to 4 bytes when sent on a
/// stream transport (the padding is not counted in the length).
pub fn encode_channel_data(channel: u16, data: &[u8], pad: bool) -> Vec<u8> {
    let padding = if pad { (4 - data.len() % 4) % 4 } else { 0 };
    let mut out = Vec::with_capacity(4 + data.len() + padding);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    out.extend(std::iter::repeat_n(0, padding));
    out
}

/// (channel, data) of a ChannelData message; None when it is not one or is truncated.
pub fn decode_channel_data(bytes: &[u8]) -> Option<(u16, &[u8])> {
    if bytes.len() < 4 || !(0x40..=0x4F).contains(&bytes[0]) {
        return None;
    }
    let channel = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    bytes.get(4..4 + len).map(|data| (channel, data))
}

/// Splits a byte stream (TURN over TCP or TLS) into STUN messages and ChannelData frames.
///
/// Returns the length of the first whole frame in `buf` (including ChannelData padding), Ok(None)
/// when more bytes are needed, or Err when the stream carries neither (the connection should be
/// closed: there is no way to find the next frame boundary).
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    let total = match buf[0] {
        0x00..=0x3F => HEADER_LEN + len,
        0x40..=0x4F => 4 + len.div_ceil(4) * 4,
        _ => return Err(DecodeError::NotStun),
    };
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 2.1: sample request with software, priority, ice-controlled and username,
    /// short-term password "VOkJxbRl1RmTxUk/WvJxBt".
    const RFC5769_REQUEST: &[u8] = &[
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
        0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
        0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
        0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
        0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
        0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
        0x7a, 0x3b, 0xcf,
    ];

    #[test]
    fn decodes_the_rfc5769_sample_and_checks_integrity_and_fingerprint() {
        let m = Message::decode(RFC5769_REQUEST).expect("valid sample");
        assert_eq!(m.method, Method::Binding);
        assert_eq!(m.class, Class::Request);
        assert_eq!(m.string(attr::USERNAME), Some("evtj:h6vY"));
        assert_eq!(m.string(attr::SOFTWARE), Some("STUN test client"));
        assert!(m.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBt"));
        assert!(!m.check_integrity(b"wrong"));
        assert_eq!(
            m.unknown_required(),
            vec![0x0024],
            "PRIORITY is ICE, not ours"
        );
        let mut broken = RFC5769_REQUEST.to_vec();
        broken[30] ^= 1;
        assert_eq!(
            Message::decode(&broken).expect_err("crc"),
            DecodeError::BadFingerprint
        );
    }

    #[test]
    fn builds_what_it_parses_with_integrity() {
        let tid = [7u8; 12];
        let peer: SocketAddr = "192.0.2.1:32853".parse().expect("addr");
        let peer6: SocketAddr = "[2001:db8::1]:4000".parse().expect("addr");
        let bytes = Builder::new(Class::Success, Method::Allocate, tid)
            .xor_address(attr::XOR_RELAYED_ADDRESS, peer)
            .xor_address(attr::XOR_PEER_ADDRESS, peer6)
            .u32(attr::LIFETIME, 600)
            .bytes(attr::REALM, b"moot")
            .finish_integrity(b"key");
        let m = Message::decode(&bytes).expect("parses");
        assert_eq!((m.class, m.method), (Class::Success, Method::Allocate));
        assert_eq!(m.transaction_id, tid);
        assert_eq!(m.xor_address(attr::XOR_RELAYED_ADDRESS), Some(peer));
        assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(peer6));
        assert_eq!(m.u32(attr::LIFETIME), Some(600));
        assert_eq!(m.string(attr::REALM), Some("moot"), "padding stripped");
        assert!(m.check_integrity(b"key"));
        assert!(!m.check_integrity(b"other"));
    }

    #[test]
    fn every_class_and_method_survives_a_round_trip() {
        for class in [
            Class::Request,
            Class::Indication,
            Class::Success,
            Class::Error,
        ] {
            for method in [
                Method::Binding,
                Method::Allocate,
                Method::Refresh,
                Method::Send,
                Method::Data,
                Method::CreatePermission,
                Method::ChannelBind,
                Method::Other(0xABC),
            ] {
                let bytes = Builder::new(class, method, [1; 12]).finish_fingerprint();
                let m = Message::decode(&bytes).expect("parses");
                assert_eq!((m.class, m.method), (class, method));
            }
        }
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert_eq!(
            Message::decode(&[0; 10]).expect_err("short"),
            DecodeError::Truncated
        );
        let ok = Builder::new(Class::Request, Method::Binding, [0; 12])
            .bytes(attr::SOFTWARE, b"x")
            .finish();
        assert_eq!(
            Message::decode(&ok[..ok.len() - 4]).expect_err("cut"),
            DecodeError::Truncated
        );
        let mut no_cookie = ok.clone();
        no_cookie[4] = 0;
        assert_eq!(
            Message::decode(&no_cookie).expect_err("cookie"),
            DecodeError::NotStun
        );
        let mut long_attr = ok.clone();
        long_attr[23] = 200;
        assert_eq!(
            Message::decode(&long_attr).expect_err("attr"),
            DecodeError::BadAttribute
        );
    }

    #[test]
    fn channel_data_round_trip_and_stream_framing() {
        let plain = encode_channel_data(0x4001, b"hello", false);
        assert_eq!(plain.len(), 9);
        assert_eq!(decode_channel_data(&plain), Some((0x4001, &b"hello"[..])));
        let padded = encode_channel_data(0x4001, b"hello", true);
        assert_eq!(padded.len(), 12, "padded to 4 bytes on streams");
        assert_eq!(decode_channel_data(&padded), Some((0x4001, &b"hello"[..])));
        assert_eq!(decode_channel_data(&plain[..6]), None, "truncated");
        assert_eq!(decode_channel_data(b"\x80\x00\x00\x00"), None);

        let stun = Builder::new(Class::Request, Method::Binding, [0; 12]).finish_fingerprint();
        let mut stream = padded.clone();
        stream.extend_from_slice(&stun);
        assert_eq!(stream_frame_len(&stream), Ok(Some(12)));
        assert_eq!(stream_frame_len(&stream[12..]), Ok(Some(stun.len())));
        assert_eq!(stream_frame_len(&stream[12..20]), Ok(None), "needs more");
        assert_eq!(stream_frame_len(&stream[..2]), Ok(None));
        assert!(stream_frame_len(b"\xFF\xFF\x00\x00").is_err());
    }
}
