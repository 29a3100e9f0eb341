//! Secrets: room passwords (kept only as Argon2id PHC strings) and the constant-time
//! comparison of host keys and resume tokens.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost: 19 MiB of memory, 2 passes, 1 lane. This is the OWASP password storage
/// recommendation for Argon2id: tens of milliseconds per check on one core, so an offline attack
/// on a leaked hash is expensive while the server (which checks one password at a time, and
/// only outside throttle waits) stays responsive. One lane because the check runs on the
/// caller's thread; more lanes would only help an attacker with parallel hardware less.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// Compares secrets in time that depends only on their lengths, so that a wrong host key
/// reveals nothing about how much of it was right.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("the Argon2 parameters are constants within the allowed ranges");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The Argon2id PHC string of `password` with `salt` (e.g. `$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str, salt: &[u8; 16]) -> String {
    let salt = SaltString::encode_b64(salt).expect("16 bytes is a valid salt length");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters and salt cannot fail")
        .to_string()
}

/// Whether `password` matches the PHC string `phc` (parameters are read from `phc`). Costs
/// tens of milliseconds and 19 MiB by design: call it outside any lock shared by rooms.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "a"));
    }

    #[test]
    fn passwords_are_stored_as_argon2id_phc_strings_with_the_documented_cost() {
        let phc = hash_password("correct horse", &[1; 16]);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(phc, hash_password("correct horse", &[2; 16]), "salted");
    }
}
