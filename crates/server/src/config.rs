//! Configuration: defaults, then a TOML file, then `MOOT__SECTION__KEY` environment variables
//! (config/env.rs), then the flags and their own variables (clap merges those two), then
//! `validate()`. Unknown keys in the file are errors, so a typo is never
//! silently ignored. Every key is documented in docs/config.md.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[cfg(test)]
mod doc_tests;
pub mod env;
mod turn_server;
pub use turn_server::{TurnServerConfig, TurnTransport};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the server keeps what must survive a restart: only a generated self-signed
    /// certificate, and only when one is needed. Default: `$XDG_STATE_HOME/moot`, else
    /// `./moot-state`. Nothing is created there on loopback or with configured certificates.
    pub state_dir: PathBuf,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub media: MediaConfig,
    pub rooms: RoomsConfig,
    pub limits: LimitsConfig,
    pub turn: TurnConfig,
    /// The built-in TURN relay (config/turn_server.rs).
    pub turn_server: TurnServerConfig,
    pub privacy: PrivacyConfig,
    /// Recording meetings on the server (off unless a directory is named).
    pub recording: RecordingConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Where recordings are written, a folder per recording. None (the default): this
    /// server does not record, and nothing about a meeting is ever written to disk.
    pub directory: Option<PathBuf>,
    /// A recording stops by itself after this long (moderators are told).
    pub max_minutes: u64,
    /// A recording stops by itself when the disk holding it has less free space than this.
    pub min_free_mb: u64,
    /// Recordings older than this many days are deleted (checked at start and every hour);
    /// 0 keeps them until the operator deletes them.
    pub keep_days: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            directory: None,
            max_minutes: 240,
            min_free_mb: 1024,
            keep_days: 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port of the web page and signaling WebSocket.
    pub listen: SocketAddr,
    /// Serve plain HTTP on an address beyond loopback (behind a TLS reverse proxy). Without
    /// it, such an address gets HTTPS (configured or self-signed certificate).
    pub allow_plain_http: bool,
    /// On SIGTERM/SIGINT, clients are told `server_shutdown`; the server waits at most this
    /// many seconds for their connections to close before it exits.
    pub shutdown_grace_seconds: u64,
    /// Reverse proxies (address ranges) whose client-address header is believed (client_ip.rs).
    /// Empty: the TCP peer is always the client.
    pub trusted_proxies: Vec<crate::client_ip::Cidr>,
    /// The header those proxies put the client address in.
    pub trusted_proxy_header: crate::client_ip::ProxyHeader,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Set together with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// With no certificate configured on an address beyond loopback, generate a self-signed
    /// one (kept in `state_dir`). Off: such a setup is a configuration error instead.
    pub self_signed: bool,
    /// Get certificates for these names from an ACME CA (acme.rs), validated on the HTTPS
    /// port itself (TLS-ALPN-01). Exclusive with `cert_file`/`key_file`.
    pub acme_domains: Vec<String>,
    /// Contact for the CA's account, e.g. "mailto:ops@example.org".
    pub acme_contact: Option<String>,
    /// The CA's directory URL.
    pub acme_directory: String,
    /// A PEM certificate to trust for the CA's own HTTPS (a test CA such as Pebble); by
    /// default the system's roots.
    pub acme_ca_roots: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            self_signed: true,
            acme_domains: Vec::new(),
            acme_contact: None,
            acme_directory: crate::acme::LETS_ENCRYPT.to_owned(),
            acme_ca_roots: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Signaling connections open at once from one address (an IPv6 /64 counts as one).
    pub connections_per_address: usize,
    /// Sustained signaling messages per second per connection.
    pub messages_per_second: f64,
    /// Messages a connection may send at once before the rate applies.
    pub message_burst: f64,
}

#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// TURN server URLs handed to browsers, e.g. "turn:turn.example.org:3478?transport=udp",
    /// "turns:turn.example.org:5349?transport=tcp". Empty: no TURN.
    pub urls: Vec<String>,
    /// The secret shared with coturn (`static-auth-secret`); required when `urls` is set.
    pub shared_secret: Option<String>,
    /// How long handed-out credentials stay valid, in seconds.
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Who runs this instance and how to reach them (shown on /privacy), e.g.
    /// "Example e.V., privacy@example.org".
    pub operator_contact: String,
}

/// More media threads than this is a typo, not a machine.
const MAX_MEDIA_THREADS: usize = 256;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The one UDP port all media uses (0 picks a free port).
    pub port: u16,
    /// Address the UDP socket binds to; by default the HTTP listen address's IP.
    pub bind: Option<IpAddr>,
    /// Addresses browsers should send media to. By default: the bind address, or, when bound
    /// to all interfaces, every non-loopback interface address.
    pub public_ips: Vec<IpAddr>,
    /// Media worker threads (0: one per core). Rooms are spread over them; a small room's
    /// media is forwarded by one of them.
    pub threads: usize,
    /// A room with more participants than this spreads over the media workers: newcomers go
    /// to the least loaded worker and each packet is relayed once to every other worker
    /// holding some of the room, so one large meeting uses every core. 0: never spread.
    pub spread_room_after: usize,
    /// …but only once its worker is this busy (percent of one core, over the last second):
    /// relaying costs, so a room one core carries is forwarded more cheaply by one worker.
    /// A room spread once keeps spreading. 0: spread as soon as it is large.
    pub spread_when_busy_percent: u32,
    /// A room with more participants than this forwards only the audio of people speaking
    /// now and of the three most recent dominant speakers, not everyone's silence to
    /// everyone. 0: always everyone's audio.
    pub selective_audio_after: usize,
    /// In a room with more participants than this, a newcomer's bandwidth estimate comes
    /// from loss and round-trip reports instead of str0m's delay-based estimator, whose pacer
    /// costs a pass over all of the receiver's streams per packet (docs/performance.md).
    /// 0: the delay-based estimator for everyone.
    pub loss_based_estimation_after: usize,
    /// TCP port for ICE-TCP (media for browsers whose network blocks UDP). Unset: the same
    /// number as `port`, so one number is opened for UDP and TCP; 0: no ICE-TCP.
    pub tcp_port: Option<u16>,
    /// Where each subscriber's bandwidth estimate starts before the browser's first feedback,
    /// in kbit/s. Simulcast layers are chosen to fit the estimate, and it grows slowly.
    /// 0: no bandwidth estimation (layers follow tile size and quality only; nothing paced).
    pub initial_bandwidth_kbps: u64,
    /// Ask browsers to send Opus with DTX: a silent or muted microphone sends a packet every
    /// 400 ms instead of every 20 ms (less upload for everyone, far fewer packets for the
    /// server in a large meeting). Off: silence is sent as sound.
    pub opus_dtx: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    pub max_participants: usize,
    /// Rooms in memory at once; creating one more is refused with `too_many_rooms`.
    pub max_rooms: usize,
    /// Refuse to create rooms whose names are guessable (docs/protocol.md has the rule).
    pub require_unguessable_room_names: bool,
    /// New rooms start with end-to-end encryption on (docs/e2ee.md); browsers that cannot
    /// do it cannot create or join them.
    pub e2ee_by_default: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: "info", "debug", "moot_server=debug,str0m=warn", ...
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            media: MediaConfig::default(),
            rooms: RoomsConfig::default(),
            limits: LimitsConfig::default(),
            turn: TurnConfig::default(),
            turn_server: TurnServerConfig::default(),
            privacy: PrivacyConfig::default(),
            recording: RecordingConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// `$XDG_STATE_HOME/moot` when that is set to an absolute path, else `./moot-state`.
fn default_state_dir() -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("moot"),
        _ => PathBuf::from("moot-state"),
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            allow_plain_http: false,
            shutdown_grace_seconds: 10,
            trusted_proxies: Vec::new(),
            trusted_proxy_header: crate::client_ip::ProxyHeader::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            connections_per_address: 50,
            messages_per_second: 50.0,
            message_burst: 100.0,
        }
    }
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            shared_secret: None,
            ttl_seconds: 12 * 3600,
        }
    }
}

/// Written by hand so the shared secret never reaches a log or `check-config` by accident.
impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            port: 10000,
            bind: None,
            public_ips: Vec::new(),
            threads: 0,
            spread_room_after: 10,
            spread_when_busy_percent: 50,
            selective_audio_after: 20,
            loss_based_estimation_after: 10,
            tcp_port: None,
            initial_bandwidth_kbps: moot_sfu::DEFAULT_INITIAL_BANDWIDTH_BPS / 1000,
            opus_dtx: true,
        }
    }
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            max_participants: 100,
            max_rooms: 1000,
            require_unguessable_room_names: false,
            e2ee_by_default: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {0}")]
    Environment(String),
    #[error("{key}: {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: &str| {
            Err(ConfigError::Invalid {
                key,
                problem: problem.to_owned(),
            })
        };
        if self.recording.max_minutes == 0 {
            return invalid("recording.max_minutes", "must be at least 1");
        }
        if self.rooms.max_participants == 0 {
            return invalid("rooms.max_participants", "must be at least 1");
        }
        if self.rooms.max_rooms == 0 {
            return invalid("rooms.max_rooms", "must be at least 1");
        }
        if self.limits.connections_per_address == 0 {
            return invalid("limits.connections_per_address", "must be at least 1");
        }
        if !(self.limits.messages_per_second.is_finite() && self.limits.messages_per_second > 0.0) {
            return invalid("limits.messages_per_second", "must be a number above 0");
        }
        if !(self.limits.message_burst.is_finite() && self.limits.message_burst >= 1.0) {
            return invalid("limits.message_burst", "must be at least 1");
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) => return invalid("tls.key_file", "must be set with tls.cert_file"),
            (None, Some(_)) => return invalid("tls.cert_file", "must be set with tls.key_file"),
            _ => {}
        }
        self.validate_acme()?;
        if self.uses_tls()
            && self.tls.cert_file.is_none()
            && self.tls.acme_domains.is_empty()
            && !self.tls.self_signed
        {
            return invalid(
                "http.allow_plain_http",
                &format!(
                    "{} is not a loopback address, no certificate is configured \
                     (tls.cert_file) and tls.self_signed is off: set tls.cert_file and \
                     tls.key_file, turn tls.self_signed on, or set http.allow_plain_http = true \
                     behind a TLS reverse proxy",
                    self.http.listen
                ),
            );
        }
        if !self.turn.urls.is_empty() {
            if self.turn.shared_secret.as_deref().is_none_or(str::is_empty) {
                return invalid(
                    "turn.shared_secret",
                    "must be set when turn.urls is (the static-auth-secret of coturn)",
                );
            }
            if let Some(url) = self
                .turn
                .urls
                .iter()
                .find(|u| !(u.starts_with("turn:") || u.starts_with("turns:")))
            {
                return invalid(
                    "turn.urls",
                    &format!("{url:?} must start with turn: or turns:"),
                );
            }
            if self.turn.ttl_seconds < 60 {
                return invalid("turn.ttl_seconds", "must be at least 60");
            }
        }
        let around = turn_server::Surroundings {
            external_relay: !self.turn.urls.is_empty(),
            media_port: self.media.port,
            ttl_seconds: self.turn.ttl_seconds,
        };
        if let Err((key, problem)) = self.turn_server.check(&around) {
            return Err(ConfigError::Invalid { key, problem });
        }
        if let Some(ip) = self.media.public_ips.iter().find(|ip| ip.is_unspecified()) {
            return Err(ConfigError::Invalid {
                key: "media.public_ips",
                problem: format!("{ip} is not an address browsers can send to"),
            });
        }
        let kbps = self.media.initial_bandwidth_kbps;
        if kbps != 0 && !(100..=10_000_000).contains(&kbps) {
            return invalid(
                "media.initial_bandwidth_kbps",
                "must be 0 (off) or between 100 and 10000000 (kbit/s)",
            );
        }
        if self.media.spread_when_busy_percent > 100 {
            return invalid(
                "media.spread_when_busy_percent",
                "must be at most 100 (percent of one core; 0 spreads large rooms at once)",
            );
        }
        if self.media.threads > MAX_MEDIA_THREADS {
            return invalid(
                "media.threads",
                &format!("must be at most {MAX_MEDIA_THREADS} (0 means one per core)"),
            );
        }
        if self.log.level.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "log.level",
                problem: "must not be empty (try \"info\")".into(),
            });
        }
        Ok(())
    }

    /// `tls.acme_*`: the CA must be able to reach us and we must be the ones serving TLS.
    fn validate_acme(&self) -> Result<(), ConfigError> {
        let tls = &self.tls;
        let invalid =
            |key: &'static str, problem: String| Err(ConfigError::Invalid { key, problem });
        if tls.acme_domains.is_empty() {
            return Ok(());
        }
        if tls.cert_file.is_some() || tls.key_file.is_some() {
            return invalid(
                "tls.acme_domains",
                "cannot be used with tls.cert_file/tls.key_file: either Moot gets its \
                 certificates by ACME, or you give it one"
                    .into(),
            );
        }
        if self.http.allow_plain_http {
            return invalid(
                "tls.acme_domains",
                "cannot be used with http.allow_plain_http: ACME certificates are for Moot's \
                 own HTTPS (behind a TLS proxy, let the proxy get them)"
                    .into(),
            );
        }
        if self.http.listen.ip().is_loopback() {
            return invalid(
                "tls.acme_domains",
                format!(
                    "http.listen is {}, a loopback address the CA cannot reach: listen on a \
                     public address (e.g. \"0.0.0.0:443\"), whose port the names point to",
                    self.http.listen
                ),
            );
        }
        if let Some(bad) = tls.acme_domains.iter().find(|d| !is_dns_name(d)) {
            return invalid(
                "tls.acme_domains",
                format!(
                    "{bad:?} is not a DNS name like \"meet.example.org\" (no scheme, port, \
                     address or wildcard: TLS-ALPN-01 cannot validate wildcards)"
                ),
            );
        }
        if !tls.acme_directory.starts_with("https://") {
            return invalid(
                "tls.acme_directory",
                format!("{:?} must be an https:// URL", tls.acme_directory),
            );
        }
        if let Some(contact) = tls.acme_contact.as_deref() {
            if !contact.starts_with("mailto:") || contact.len() <= "mailto:".len() {
                return invalid(
                    "tls.acme_contact",
                    format!("{contact:?} must look like \"mailto:ops@example.org\""),
                );
            }
        }
        Ok(())
    }

    /// Plain HTTP is served only on loopback unless `http.allow_plain_http`; elsewhere HTTPS.
    pub fn uses_tls(&self) -> bool {
        self.tls.cert_file.is_some()
            || !(self.http.listen.ip().is_loopback() || self.http.allow_plain_http)
    }

    /// The effective configuration as TOML (secrets replaced), for `moot check-config`.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.turn.shared_secret.is_some() {
            shown.turn.shared_secret = Some("<redacted>".to_owned());
        }
        // Serialising plain structs of strings, numbers and lists cannot fail.
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }

    /// Media worker threads: `media.threads`, or one per core when that is 0.
    pub fn media_threads(&self) -> usize {
        match self.media.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }

    /// The IP the media socket binds to.
    pub fn media_bind_ip(&self) -> IpAddr {
        self.media.bind.unwrap_or(self.http.listen.ip())
    }
}

/// A host name with at least two labels of letters, digits and inner hyphens.
fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && name.parse::<IpAddr>().is_err()
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(
            Config::from_toml("").expect("empty is valid"),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = Config::from_toml("[http]\nlisten = \"127.0.0.1:9\"\nlistne = 1\n")
            .expect_err("typo must fail");
        assert!(err.contains("listne"), "{err}");
        let err = Config::from_toml("[mediaa]\n").expect_err("unknown table must fail");
        assert!(err.contains("mediaa"), "{err}");
    }

    #[test]
    fn file_values_apply() {
        let cfg = Config::from_toml(
            "[http]\nlisten = \"0.0.0.0:80\"\n[media]\nport = 3478\npublic_ips = [\"192.0.2.7\"]\n",
        )
        .expect("valid");
        assert_eq!(cfg.http.listen.port(), 80);
        assert_eq!(cfg.media.port, 3478);
        assert_eq!(
            cfg.media.public_ips,
            vec!["192.0.2.7".parse::<IpAddr>().expect("ip")]
        );
        cfg.validate().expect("valid");
    }

    #[test]
    fn ice_tcp_follows_the_media_port_unless_set_or_turned_off() {
        let cfg = Config::from_toml("[media]\nport = 3478\n").expect("valid");
        assert_eq!(cfg.media.tcp_port, None, "unset: the UDP port's number");
        let off = Config::from_toml("[media]\ntcp_port = 0\n").expect("valid");
        assert_eq!(off.media.tcp_port, Some(0));
        let own = Config::from_toml("[media]\ntcp_port = 443\n").expect("valid");
        assert_eq!(own.media.tcp_port, Some(443));
        assert_eq!(Config::from_toml(&own.to_toml()).expect("round trip"), own);
    }

    #[test]
    fn plain_http_beyond_loopback_needs_the_key_or_a_certificate() {
        let mut cfg = Config::default();
        assert!(!cfg.uses_tls(), "loopback is plain HTTP");
        cfg.http.listen = "0.0.0.0:8080".parse().expect("addr");
        assert!(cfg.uses_tls(), "beyond loopback: HTTPS (self-signed)");
        cfg.validate().expect("self-signed fallback is valid");
        cfg.tls.self_signed = false;
        let err = cfg.validate().expect_err("no way to serve").to_string();
        assert!(err.starts_with("http.allow_plain_http"), "{err}");
        cfg.http.allow_plain_http = true;
        cfg.validate().expect("explicit plain HTTP");
        assert!(!cfg.uses_tls());
        cfg.tls.cert_file = Some("c.pem".into());
        let err = cfg.validate().expect_err("key missing").to_string();
        assert!(err.starts_with("tls.key_file"), "{err}");
    }

    #[test]
    fn media_threads_and_initial_bandwidth_are_checked() {
        let mut cfg = Config::default();
        assert!(cfg.media_threads() >= 1, "0 means one per core");
        cfg.media.threads = 3;
        assert_eq!(cfg.media_threads(), 3);
        cfg.media.threads = 100_000;
        let err = cfg.validate().expect_err("absurd").to_string();
        assert!(err.starts_with("media.threads"), "{err}");
        cfg.media.threads = 2;
        cfg.media.initial_bandwidth_kbps = 0;
        cfg.validate().expect("0 turns estimation off");
        cfg.media.initial_bandwidth_kbps = 50;
        let err = cfg.validate().expect_err("too low").to_string();
        assert!(err.starts_with("media.initial_bandwidth_kbps"), "{err}");
        cfg.media.initial_bandwidth_kbps = 1000;
        cfg.media.spread_when_busy_percent = 101;
        let err = cfg.validate().expect_err("over a core").to_string();
        assert!(err.starts_with("media.spread_when_busy_percent"), "{err}");
        cfg.media.spread_when_busy_percent = 0;
        cfg.validate().expect("0 spreads at once");
        let parsed = Config::from_toml("[media]\nthreads = 2\ninitial_bandwidth_kbps = 3000\n")
            .expect("valid");
        assert_eq!(
            (parsed.media.threads, parsed.media.initial_bandwidth_kbps),
            (2, 3000)
        );
    }

    #[test]
    fn turn_needs_a_secret_and_turn_urls_and_never_prints_it() {
        let mut cfg = Config::default();
        cfg.turn.urls = vec!["turn:127.0.0.1:3478".into()];
        let err = cfg.validate().expect_err("no secret").to_string();
        assert!(err.starts_with("turn.shared_secret"), "{err}");
        cfg.turn.shared_secret = Some("s3cr3t-value".into());
        cfg.validate().expect("valid");
        assert!(!format!("{cfg:?}").contains("s3cr3t-value"));
        assert!(!cfg.to_toml().contains("s3cr3t-value"));
        cfg.turn.urls = vec!["stun:127.0.0.1".into()];
        let err = cfg.validate().expect_err("not turn").to_string();
        assert!(err.starts_with("turn.urls"), "{err}");
    }

    #[test]
    fn check_config_output_is_toml_that_reads_back_the_same() {
        let mut cfg = Config::from_toml(
            "state_dir = \"/var/lib/moot\"\n[rooms]\nmax_rooms = 7\n[limits]\nmessages_per_second = 2.5\n\
             [privacy]\noperator_contact = \"ops@example.org\"\n[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n",
        )
        .expect("valid");
        cfg.media.public_ips = vec!["192.0.2.1".parse().expect("ip")];
        let text = cfg.to_toml();
        assert_eq!(Config::from_toml(&text).expect("reads back"), cfg, "{text}");
        assert!(text.contains("max_rooms = 7"), "{text}");
    }

    #[test]
    fn validation_names_the_key() {
        let mut cfg = Config::default();
        cfg.rooms.max_participants = 0;
        let err = cfg.validate().expect_err("zero is invalid").to_string();
        assert!(err.starts_with("rooms.max_participants"), "{err}");
    }

    #[test]
    fn acme_needs_a_public_listener_and_no_certificate_files() {
        let mut cfg = Config::from_toml(
            "[http]\nlisten = \"0.0.0.0:443\"\n[tls]\nacme_domains = [\"meet.example.org\"]\n\
             acme_contact = \"mailto:ops@example.org\"\n",
        )
        .expect("parses");
        cfg.validate().expect("valid");
        assert!(cfg.uses_tls());
        assert_eq!(cfg.tls.acme_directory, crate::acme::LETS_ENCRYPT);
        assert_eq!(Config::from_toml(&cfg.to_toml()).expect("reads back"), cfg);
        let error = |cfg: &Config| cfg.validate().expect_err("invalid").to_string();

        let mut c = cfg.clone();
        c.http.listen = "127.0.0.1:8443".parse().expect("addr");
        let err = error(&c);
        assert!(
            err.starts_with("tls.acme_domains") && err.contains("loopback"),
            "{err}"
        );
        let mut c = cfg.clone();
        c.tls.cert_file = Some("c.pem".into());
        c.tls.key_file = Some("k.pem".into());
        let err = error(&c);
        assert!(
            err.starts_with("tls.acme_domains") && err.contains("tls.cert_file"),
            "{err}"
        );
        let mut c = cfg.clone();
        c.http.allow_plain_http = true;
        assert!(error(&c).contains("http.allow_plain_http"));
        for bad in [
            "*.example.org",
            "https://meet.example.org",
            "192.0.2.1",
            "meet",
            "a..b",
        ] {
            let mut c = cfg.clone();
            c.tls.acme_domains = vec![bad.into()];
            assert!(error(&c).starts_with("tls.acme_domains"), "{bad}");
        }
        let mut c = cfg.clone();
        c.tls.acme_contact = Some("ops@example.org".into());
        assert!(error(&c).starts_with("tls.acme_contact"));
        c = cfg.clone();
        c.tls.acme_directory = "http://localhost/dir".into();
        assert!(error(&c).starts_with("tls.acme_directory"));
        // With self-signed off, ACME is still a way to serve HTTPS.
        cfg.tls.self_signed = false;
        cfg.validate().expect("valid");
    }

    #[test]
    fn trusted_proxies_parse_and_bad_ranges_name_the_value() {
        let cfg = Config::from_toml(
            "[http]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\", \"10.0.0.0/8\"]\n\
             trusted_proxy_header = \"forwarded\"\n",
        )
        .expect("parses");
        assert_eq!(cfg.http.trusted_proxies.len(), 3);
        assert_eq!(
            cfg.http.trusted_proxy_header,
            crate::client_ip::ProxyHeader::Forwarded
        );
        assert_eq!(Config::from_toml(&cfg.to_toml()).expect("reads back"), cfg);
        let err = Config::from_toml("[http]\ntrusted_proxies = [\"10.0.0.1/8\"]\n")
            .expect_err("host bits");
        assert!(
            err.contains("trusted_proxies") && err.contains("10.0.0.1/8"),
            "{err}"
        );
    }
}
