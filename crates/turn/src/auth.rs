//! The long-term credential mechanism (RFC 8489 9.2) with REST-style credentials: the username
//! is `<unix expiry>:<anything>` and its password base64(HMAC-SHA1(secret, username)), the same
//! scheme the signaling server hands out for coturn. Nothing per user is stored.
//!
//! Nonces are stateless too: `<issued-at, hex>` + a truncated HMAC of that time and the client's
//! address under a key the server was given at start. A forged nonce, or one used from another
//! address, fails the HMAC; an old one is stale (438) and the client retries with a fresh one.

use aws_lc_rs::hmac;
use base64::Engine;
use md5::{Digest, Md5};
use std::net::SocketAddr;
use std::time::Duration;

/// Hex digits of the truncated HMAC in a nonce (64 bits: guessing one is hopeless).
const NONCE_TAG_HEX: usize = 16;

/// Why a username cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameProblem {
    /// Not `<unix expiry>:<anything>`.
    Malformed,
    /// Its expiry time has passed.
    Expired,
}

/// Checks REST credentials and makes the long-term keys and nonces.
pub struct Auth {
    secret: hmac::Key,
    nonce_key: hmac::Key,
    realm: String,
    nonce_lifetime: Duration,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key material in logs.
        f.debug_struct("Auth")
            .field("realm", &self.realm)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(secret: &[u8], nonce_key: &[u8], realm: &str, nonce_lifetime: Duration) -> Self {
        Self {
            secret: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret),
            nonce_key: hmac::Key::new(hmac::HMAC_SHA256, nonce_key),
            realm: realm.to_owned(),
            nonce_lifetime,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether `username` may be used at `unix_now` (seconds since 1970).
    pub fn check_username(&self, username: &str, unix_now: u64) -> Result<(), UsernameProblem> {
        let (expiry, _) = username.split_once(':').ok_or(UsernameProblem::Malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| UsernameProblem::Malformed)?;
        if expiry <= unix_now {
            return Err(UsernameProblem::Expired);
        }
        Ok(())
    }

    /// The password that belongs to `username` under the shared secret.
    pub fn password(&self, username: &str) -> String {
        rest_password(&self.secret, username)
    }

    /// The MESSAGE-INTEGRITY key: MD5(username ":" realm ":" password).
    pub fn key(&self, username: &str) -> [u8; 16] {
        long_term_key(username, &self.realm, &self.password(username))
    }

    /// A nonce for `client`, issued at `elapsed` (time since the server started).
    pub fn nonce(&self, client: SocketAddr, elapsed: Duration) -> String {
        let issued = elapsed.as_secs();
        format!("{issued:016x}{}", self.nonce_tag(client, issued))
    }

    /// Whether `nonce` was made by this server for `client` and is still fresh at `elapsed`.
    pub fn nonce_is_fresh(&self, nonce: &str, client: SocketAddr, elapsed: Duration) -> bool {
        if nonce.len() != 16 + NONCE_TAG_HEX || !nonce.is_ascii() {
            return false;
        }
        let (issued_hex, tag) = nonce.split_at(16);
        let Ok(issued) = u64::from_str_radix(issued_hex, 16) else {
            return false;
        };
        let expected = self.nonce_tag(client, issued);
        if aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), tag.as_bytes())
            .is_err()
        {
            return false;
        }
        elapsed.as_secs() < issued.saturating_add(self.nonce_lifetime.as_secs())
    }

    fn nonce_tag(&self, client: SocketAddr, issued: u64) -> String {
        let mut ctx = hmac::Context::with_key(&self.nonce_key);
        ctx.update(&issued.to_be_bytes());
        ctx.update(client.to_string().as_bytes());
        let tag = ctx.sign();
        tag.as_ref()[..NONCE_TAG_HEX / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The TURN REST API password of `username`: base64(HMAC-SHA1(secret, username)), what
/// coturn's `use-auth-secret` and this crate check, and what Moot hands out
/// (`secret` made with `hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY`).
pub fn rest_password(secret: &hmac::Key, username: &str) -> String {
    let tag = hmac::sign(secret, username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// MD5(username ":" realm ":" password), RFC 8489 9.2.2 (no SASLprep: REST usernames and
/// base64 passwords are ASCII).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(username.as_bytes());
    md5.update(b":");
    md5.update(realm.as_bytes());
    md5.update(b":");
    md5.update(password.as_bytes());
    md5.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(
            b"moot-test-secret",
            &[9; 32],
            "moot.test",
            Duration::from_secs(600),
        )
    }

    /// The same vector as crates/server/src/turn_credentials.rs (computed with openssl there).
    #[test]
    fn password_is_the_rest_hmac() {
        assert_eq!(
            auth().password("1700000000:abcdEFGH12345678"),
            "lSihvyXt3siFStvoRO71KatR7yY="
        );
    }

    #[test]
    fn long_term_key_is_md5_of_user_realm_password() {
        let key = long_term_key("user", "realm", "pass");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        // printf 'user:realm:pass' | md5sum
        assert_eq!(hex, "8493fbc53ba582fb4c044c456bdc40eb");
    }

    #[test]
    fn usernames_carry_their_expiry() {
        let a = auth();
        assert_eq!(a.check_username("1700000100:x", 1_700_000_000), Ok(()));
        assert_eq!(
            a.check_username("1700000000:x", 1_700_000_000),
            Err(UsernameProblem::Expired)
        );
        assert_eq!(
            a.check_username("alice", 1_700_000_000),
            Err(UsernameProblem::Malformed)
        );
        assert_eq!(
            a.check_username("soon:x", 1_700_000_000),
            Err(UsernameProblem::Malformed)
        );
    }

    #[test]
    fn nonces_expire_and_are_bound_to_the_client() {
        let a = auth();
        let client: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        let other: SocketAddr = "192.0.2.1:5001".parse().expect("addr");
        let nonce = a.nonce(client, Duration::from_secs(100));
        assert!(a.nonce_is_fresh(&nonce, client, Duration::from_secs(100)));
        assert!(a.nonce_is_fresh(&nonce, client, Duration::from_secs(699)));
        assert!(
            !a.nonce_is_fresh(&nonce, client, Duration::from_secs(700)),
            "stale"
        );
        assert!(!a.nonce_is_fresh(&nonce, other, Duration::from_secs(100)));
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).expect("ascii");
        assert!(!a.nonce_is_fresh(&forged, client, Duration::from_secs(100)));
        assert!(!a.nonce_is_fresh("short", client, Duration::from_secs(100)));
    }
}
