//! Gateway secrets: random, shown once, stored only as SHA-256 plus a short hint.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const SECRET_PREFIX: &str = "tg-";

/// The SHA-256 of a secret, the only form in which secrets are stored or cached.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// Constant-time comparison, so the time of a failed check says nothing of the secret.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// A new secret: `tg-` + 32 random bytes, URL-safe base64.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Length of an issued secret: the prefix and 32 bytes in unpadded base64url.
const SECRET_LEN: usize = SECRET_PREFIX.len() + 43;

/// Whether `secret` has the shape of one Tollgate issues: anything else is
/// refused without a lookup.
pub fn looks_issued(secret: &str) -> bool {
    secret.len() == SECRET_LEN
        && secret.starts_with(SECRET_PREFIX)
        && secret[SECRET_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the owner sees of a stored secret: its prefix and last four characters.
pub fn hint(secret: &str) -> String {
    format!("{SECRET_PREFIX}…{}", tail(secret, 4))
}

/// Last four characters of a provider key, for logs and events.
pub fn key_hint(key: &str) -> String {
    format!("…{}", tail(key, 4))
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.char_indices().rev().nth(n - 1).map_or(0, |(i, _)| i);
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hinted_by_their_tail() {
        let a = generate();
        let b = generate();
        assert!(a.starts_with("tg-") && a.len() == 3 + 43);
        assert!(looks_issued(&a) && looks_issued(&b));
        for other in ["sk-not-ours", "tg-short", &format!("{a}x"), &a.replace("tg-", "tx-"), &format!("{}+", &a[..45])]
        {
            assert!(!looks_issued(other), "{other}");
        }
        assert_ne!(a, b);
        assert_eq!(hint("tg-abcdefgh1234"), "tg-…1234");
        assert_eq!(key_hint("sk-live-9876"), "…9876");
    }

    #[test]
    fn hashes_compare_equal_only_for_the_same_secret() {
        let a = SecretHash::of("tg-one");
        assert!(a.matches(&SecretHash::of("tg-one")));
        assert!(!a.matches(&SecretHash::of("tg-two")));
        assert_eq!(SecretHash::from_hex(&a.to_hex()), Some(a));
    }
}
