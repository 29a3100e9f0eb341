//! `[turn_server]`: the built-in TURN relay (crates/turn, I/O in turn_server/). Kept apart from
//! `[turn]`, which describes an external coturn: one section per relay, so it is clear which
//! keys belong to which.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A way browsers can reach the built-in relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnTransport {
    /// `turn:IP:port?transport=udp`
    Udp,
    /// `turn:IP:port?transport=tcp`, for networks that block UDP.
    Tcp,
    /// `turns:HOST:tls_port?transport=tcp`, for networks that allow only TLS; needs a
    /// certificate (Moot's own HTTPS one).
    Tls,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnServerConfig {
    /// Run the built-in relay. Off by default: on a reachable server media needs no relay.
    pub enabled: bool,
    /// Listeners to run and URLs to hand out; `tls` only takes effect when Moot has a
    /// certificate.
    pub transports: Vec<TurnTransport>,
    /// UDP and TCP port of `turn:` (0 picks a free one, for tests).
    pub port: u16,
    /// TCP port of `turns:` (0 picks a free one).
    pub tls_port: u16,
    /// Address the listeners and relay sockets bind to. Default: `media.bind`'s address.
    pub bind: Option<IpAddr>,
    /// Address put in the `turn:` URLs and relayed addresses. Default: the first
    /// advertised media address (`media.public_ips` or the detected one).
    pub public_ip: Option<IpAddr>,
    /// Host name in the `turns:` URL; the certificate must be valid for it. Default: the first
    /// `tls.acme_domains` name, else `public_ip`.
    pub host: Option<String>,
    /// UDP ports relay sockets are taken from (one per allocation); open them in firewalls.
    pub relay_port_min: u16,
    pub relay_port_max: u16,
    /// The realm of TURN's long-term credentials (any short string; browsers just echo it).
    pub realm: String,
    /// Allocations open at once, over all users (each browser makes one per transport).
    pub max_allocations: usize,
    /// Bandwidth one allocation may relay (both directions together), in kbit/s.
    pub max_kbps_per_allocation: u64,
}

impl Default for TurnServerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            transports: vec![TurnTransport::Udp, TurnTransport::Tcp, TurnTransport::Tls],
            port: 3478,
            tls_port: 5349,
            bind: None,
            public_ip: None,
            host: None,
            relay_port_min: 49152,
            relay_port_max: 65535,
            realm: "moot".into(),
            max_allocations: 1000,
            max_kbps_per_allocation: 20_000,
        }
    }
}

impl TurnServerConfig {
    pub fn has(&self, transport: TurnTransport) -> bool {
        self.transports.contains(&transport)
    }
}

/// What `[turn_server]` is checked against elsewhere in the configuration.
pub struct Surroundings {
    /// `turn.urls` names an external relay.
    pub external_relay: bool,
    /// `media.port`.
    pub media_port: u16,
    /// `turn.ttl_seconds`.
    pub ttl_seconds: u64,
}

impl TurnServerConfig {
    /// Checks `[turn_server]` (only when enabled: a disabled section may hold anything valid
    /// TOML); a problem is the key at fault and what is wrong with it.
    pub fn check(&self, around: &Surroundings) -> Result<(), (&'static str, String)> {
        let t = self;
        if !t.enabled {
            return Ok(());
        }
        let invalid = |key: &'static str, problem: String| Err((key, problem));
        if around.external_relay {
            return invalid(
            "turn_server.enabled",
            "cannot be used together with turn.urls: browsers are handed one relay, either the \
             built-in one or an external coturn; remove turn.urls or turn the built-in one off"
                .into(),
        );
        }
        if t.transports.is_empty() {
            return invalid(
                "turn_server.transports",
                "must list at least one of \"udp\", \"tcp\", \"tls\"".into(),
            );
        }
        if t.port != 0
            && t.port == t.tls_port
            && t.has(TurnTransport::Tcp)
            && t.has(TurnTransport::Tls)
        {
            return invalid(
                "turn_server.tls_port",
                format!(
                    "{} is also turn_server.port (both are TCP listeners)",
                    t.tls_port
                ),
            );
        }
        if t.port != 0 && t.port == around.media_port && t.has(TurnTransport::Udp) {
            return invalid(
                "turn_server.port",
                format!("{} is also media.port (both are UDP sockets)", t.port),
            );
        }
        if t.relay_port_min == 0 || t.relay_port_min > t.relay_port_max {
            return invalid(
                "turn_server.relay_port_min",
                format!(
                    "must be at least 1 and at most turn_server.relay_port_max ({})",
                    t.relay_port_max
                ),
            );
        }
        if let Some(ip) = t.public_ip.filter(IpAddr::is_unspecified) {
            return invalid(
                "turn_server.public_ip",
                format!("{ip} is not an address browsers can send to"),
            );
        }
        if let Some(host) = &t.host {
            let plain = !host.is_empty()
                && host.len() <= 253
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !plain {
                return invalid(
                    "turn_server.host",
                    format!("{host:?} must be a bare host name like \"meet.example.org\""),
                );
            }
        }
        if t.realm.is_empty()
            || t.realm.len() > 127
            || !t.realm.chars().all(|c| c.is_ascii_graphic())
        {
            return invalid(
                "turn_server.realm",
                "must be 1 to 127 printable ASCII characters without spaces".into(),
            );
        }
        if t.max_allocations == 0 {
            return invalid("turn_server.max_allocations", "must be at least 1".into());
        }
        if t.max_kbps_per_allocation < 100 {
            return invalid(
                "turn_server.max_kbps_per_allocation",
                "must be at least 100 (a video call needs 1000 or more)".into(),
            );
        }
        if around.ttl_seconds < 60 {
            return invalid(
                "turn.ttl_seconds",
                "must be at least 60 (it is also the lifetime of the built-in relay's credentials)"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn enabled() -> Config {
        let mut config = Config::default();
        config.turn_server.enabled = true;
        config
    }

    fn problem(config: &Config) -> String {
        config.validate().expect_err("invalid").to_string()
    }

    #[test]
    fn off_by_default_and_valid_when_enabled() {
        let config = Config::default();
        assert!(!config.turn_server.enabled);
        enabled().validate().expect("defaults are valid");
        let parsed = Config::from_toml(
            "[turn_server]\nenabled = true\ntransports = [\"tcp\"]\nport = 3479\n\
             public_ip = \"192.0.2.5\"\nhost = \"turn.example.org\"\n",
        )
        .expect("parses");
        parsed.validate().expect("valid");
        assert_eq!(parsed.turn_server.transports, vec![TurnTransport::Tcp]);
        assert_eq!(
            Config::from_toml(&parsed.to_toml()).expect("reads back"),
            parsed
        );
        let err = Config::from_toml("[turn_server]\ntransports = [\"quic\"]\n")
            .expect_err("unknown transport");
        assert!(err.contains("quic"), "{err}");
    }

    #[test]
    fn problems_name_their_key() {
        let mut c = enabled();
        c.turn.urls = vec!["turn:turn.example.org".into()];
        c.turn.shared_secret = Some("s".into());
        assert!(problem(&c).starts_with("turn_server.enabled"));
        type BreakIt = fn(&mut Config);
        let cases: Vec<(&str, BreakIt)> = vec![
            ("turn_server.transports", |c| {
                c.turn_server.transports.clear()
            }),
            ("turn_server.tls_port", |c| c.turn_server.tls_port = 3478),
            ("turn_server.port", |c| c.turn_server.port = 10000),
            ("turn_server.relay_port_min", |c| {
                c.turn_server.relay_port_min = 60000;
                c.turn_server.relay_port_max = 50000;
            }),
            ("turn_server.public_ip", |c| {
                c.turn_server.public_ip = Some("0.0.0.0".parse().expect("ip"))
            }),
            ("turn_server.host", |c| {
                c.turn_server.host = Some("https://x.org/".into())
            }),
            ("turn_server.realm", |c| c.turn_server.realm = "a b".into()),
            ("turn_server.max_allocations", |c| {
                c.turn_server.max_allocations = 0
            }),
            ("turn_server.max_kbps_per_allocation", |c| {
                c.turn_server.max_kbps_per_allocation = 5
            }),
            ("turn.ttl_seconds", |c| c.turn.ttl_seconds = 10),
        ];
        for (key, break_it) in cases {
            let mut c = enabled();
            break_it(&mut c);
            let err = problem(&c);
            assert!(err.starts_with(key), "{key}: {err}");
        }
    }
}
