//! Short-lived TURN credentials with coturn's shared-secret scheme ("TURN REST API", coturn's
//! `use-auth-secret` + `static-auth-secret`), for an external coturn or the built-in relay
//! (turn_server/, which checks them with crates/turn).
//!
//! For each `welcome` the server makes a username `<unix expiry>:<random>` and the credential
//! base64(HMAC-SHA1(secret, username)). coturn recomputes the same HMAC from its copy of the
//! secret and refuses the username once its expiry time has passed. Nothing is stored: a
//! credential is valid because of how it was made, so any number of Moot and coturn processes
//! can share one secret.

use crate::config::TurnConfig;
use aws_lc_rs::hmac;
use moot_protocol::IceServer;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Characters of the random part of a username (coturn accepts any; this one is URL-safe).
const RANDOM_LEN: usize = 16;

/// Makes TURN credentials from the configured relay and secret.
pub struct TurnCredentials {
    urls: Vec<String>,
    key: hmac::Key,
    ttl: Duration,
}

impl TurnCredentials {
    /// None when no TURN relay is configured (then `welcome.ice_servers` stays empty).
    pub fn from_config(config: &TurnConfig) -> Option<Self> {
        if config.urls.is_empty() {
            return None;
        }
        // Validation makes a secret mandatory with urls; without one, hand out nothing.
        let secret = config.shared_secret.as_deref()?;
        Some(Self::new(
            config.urls.clone(),
            secret.as_bytes(),
            Duration::from_secs(config.ttl_seconds),
        ))
    }

    /// Credentials for any relay that checks this scheme with `secret` (the built-in one
    /// passes its in-memory secret here).
    pub fn new(urls: Vec<String>, secret: &[u8], ttl: Duration) -> Self {
        Self {
            urls,
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret),
            ttl,
        }
    }

    /// Fresh credentials valid for the configured time from `now`.
    pub fn issue(&self, now: SystemTime) -> IceServer {
        let expiry = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(self.ttl)
            .as_secs();
        let username = format!("{expiry}:{}", random_part());
        let credential = self.credential(&username);
        IceServer {
            urls: self.urls.clone(),
            username,
            credential,
        }
    }

    /// base64(HMAC-SHA1(secret, username)), what coturn expects as the password.
    fn credential(&self, username: &str) -> String {
        moot_turn::rest_password(&self.key, username)
    }
}

fn random_part() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: &str, ttl_seconds: u64) -> TurnConfig {
        TurnConfig {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            shared_secret: Some(secret.into()),
            ttl_seconds,
        }
    }

    /// Vectors computed independently of this code, with
    /// `printf '%s' USERNAME | openssl dgst -sha1 -hmac SECRET -binary | base64`.
    #[test]
    fn credential_matches_openssl() {
        let turn = TurnCredentials::from_config(&config("moot-test-secret", 3600)).expect("urls");
        assert_eq!(
            turn.credential("1700000000:abcdEFGH12345678"),
            "lSihvyXt3siFStvoRO71KatR7yY="
        );
        let turn = TurnCredentials::from_config(&config("S", 3600)).expect("urls");
        assert_eq!(
            turn.credential("1700043200:0123456789abcdef"),
            "BkO8dKDDtcUNdh8Wiaop2tQFmbc="
        );
    }

    #[test]
    fn username_carries_expiry_and_credential_signs_it() {
        let turn = TurnCredentials::from_config(&config("S", 43200)).expect("urls");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let server = turn.issue(now);
        assert_eq!(server.urls, ["turn:127.0.0.1:3478?transport=udp"]);
        let (expiry, random) = server.username.split_once(':').expect("expiry:random");
        assert_eq!(expiry, "1700043200");
        assert_eq!(random.len(), RANDOM_LEN);
        assert_eq!(server.credential, turn.credential(&server.username));
        let again = turn.issue(now);
        assert_ne!(again.username, server.username, "each welcome gets its own");
    }

    #[test]
    fn nothing_without_urls() {
        assert!(TurnCredentials::from_config(&TurnConfig::default()).is_none());
    }
}
