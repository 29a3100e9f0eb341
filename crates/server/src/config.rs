//! Configuration: defaults, then a TOML file, then environment and CLI flags (clap merges
//! those two), then `validate()`. Unknown keys in the file are errors, so a typo is never
//! silently ignored. Every key is documented in docs/config.md.

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub media: MediaConfig,
    pub rooms: RoomsConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port of the web page and signaling WebSocket.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The one UDP port all media uses (0 picks a free port).
    pub port: u16,
    /// Address the UDP socket binds to; by default the HTTP listen address's IP.
    pub bind: Option<IpAddr>,
    /// Addresses browsers should send media to. By default: the bind address, or, when bound
    /// to all interfaces, every non-loopback interface address.
    pub public_ips: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    pub max_participants: usize,
    /// Refuse to create rooms whose names are guessable (docs/protocol.md has the rule).
    pub require_unguessable_room_names: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: "info", "debug", "moot_server=debug,str0m=warn", ...
    pub level: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            port: 10000,
            bind: None,
            public_ips: Vec::new(),
        }
    }
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            max_participants: 100,
            require_unguessable_room_names: false,
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
        if self.rooms.max_participants == 0 {
            return Err(ConfigError::Invalid {
                key: "rooms.max_participants",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(ip) = self.media.public_ips.iter().find(|ip| ip.is_unspecified()) {
            return Err(ConfigError::Invalid {
                key: "media.public_ips",
                problem: format!("{ip} is not an address browsers can send to"),
            });
        }
        if self.log.level.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "log.level",
                problem: "must not be empty (try \"info\")".into(),
            });
        }
        Ok(())
    }

    /// The IP the media socket binds to.
    pub fn media_bind_ip(&self) -> IpAddr {
        self.media.bind.unwrap_or(self.http.listen.ip())
    }
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
    fn validation_names_the_key() {
        let mut cfg = Config::default();
        cfg.rooms.max_participants = 0;
        let err = cfg.validate().expect_err("zero is invalid").to_string();
        assert!(err.starts_with("rooms.max_participants"), "{err}");
    }
}
