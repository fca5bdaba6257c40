//! Provider keys at rest: AES-256-GCM under `MASTER_KEY`, a random 96-bit nonce per
//! key, and the key's id bound as associated data, so a sealed key copied onto
//! another row does not open. Stored as `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

use crate::ids::ProviderKeyId;

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("the sealed key is not in a format this version reads")]
    Format,
    /// A wrong `MASTER_KEY`, a key sealed for another id, or a changed row.
    #[error("the sealed key does not open under this MASTER_KEY")]
    Open,
}

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(***)")
    }
}

impl Vault {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(master_key.into()) }
    }

    pub fn seal(&self, id: ProviderKeyId, api_key: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: api_key.as_bytes(), aad: id.0.as_bytes() })
            .expect("AES-GCM encrypts any key of this size");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(stored))
    }

    pub fn open(&self, id: ProviderKeyId, stored: &str) -> Result<String, VaultError> {
        let encoded = stored.strip_prefix(VERSION).ok_or(VaultError::Format)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| VaultError::Format)?;
        if bytes.len() <= NONCE_LEN {
            return Err(VaultError::Format);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: id.0.as_bytes() })
            .map_err(|_| VaultError::Open)?;
        String::from_utf8(plain).map_err(|_| VaultError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_under_its_master_key_and_for_its_id() {
        let vault = Vault::new(&[1; 32]);
        let id = ProviderKeyId::new();
        let sealed = vault.seal(id, "sk-live-secret-1234");
        assert!(!sealed.contains("secret"), "{sealed}");
        assert_eq!(vault.open(id, &sealed).unwrap(), "sk-live-secret-1234");
        assert_eq!(Vault::new(&[2; 32]).open(id, &sealed), Err(VaultError::Open), "another master key");
        assert_eq!(vault.open(ProviderKeyId::new(), &sealed), Err(VaultError::Open), "moved to another row");
        assert_eq!(vault.open(id, "plain"), Err(VaultError::Format));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let vault = Vault::new(&[1; 32]);
        let id = ProviderKeyId::new();
        assert_ne!(vault.seal(id, "sk-same"), vault.seal(id, "sk-same"));
    }

    #[test]
    fn a_changed_byte_is_refused() {
        let vault = Vault::new(&[1; 32]);
        let id = ProviderKeyId::new();
        let sealed = vault.seal(id, "sk-key");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[VERSION.len()..]).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let tampered = format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(vault.open(id, &tampered), Err(VaultError::Open));
    }
}
