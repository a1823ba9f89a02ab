//! restic's sealed form for everything it encrypts (lock files, blobs in packs): `IV(16) ||
//! AES-256-CTR ciphertext || Poly1305-AES MAC(16)` under the repository's master key. The one
//! place the cipher crate is used.

use aes256ctr_poly1305aes::aead::Aead;
use aes256ctr_poly1305aes::{Aes256CtrPoly1305Aes, Key, Nonce};
use anyhow::{anyhow, bail, Result};

/// Bytes a sealed message adds to its plaintext: the IV in front, the MAC behind.
pub const OVERHEAD: usize = 32;

/// The repository's master key in the form the cipher takes: `encrypt(32) || k(16) || r(16)`.
#[derive(Clone)]
pub struct RepoKey(Key);

impl RepoKey {
    pub fn from_master(key: &rustic_core::repofile::MasterKey) -> Result<Self> {
        if key.encrypt.len() != 32 || key.mac.k.len() != 16 || key.mac.r.len() != 16 {
            bail!("the repository key has an unexpected shape; it is not a restic master key");
        }
        let mut bytes = Key::default();
        bytes[..32].copy_from_slice(&key.encrypt);
        bytes[32..48].copy_from_slice(&key.mac.k);
        bytes[48..].copy_from_slice(&key.mac.r);
        Ok(RepoKey(bytes))
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        RepoKey(Key::from_slice(&bytes).to_owned())
    }

    fn cipher(&self) -> Aes256CtrPoly1305Aes {
        Aes256CtrPoly1305Aes::new(&self.0)
    }

    /// `plain` sealed under a fresh random IV.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = Nonce::default();
        getrandom::fill(&mut nonce).map_err(|e| anyhow!("no random numbers for an IV: {e}"))?;
        let sealed = self
            .cipher()
            .encrypt(&nonce, plain)
            .map_err(|_| anyhow!("cannot encrypt"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// The plaintext of `stored`, or `None` when it is too short or its MAC does not match this
    /// key (tampered, truncated, or another repository's).
    pub fn open(&self, stored: &[u8]) -> Option<Vec<u8>> {
        if stored.len() < OVERHEAD {
            return None;
        }
        let (nonce, sealed) = stored.split_at(16);
        self.cipher().decrypt(Nonce::from_slice(nonce), sealed).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_their_key_and_unchanged() {
        let key = RepoKey::from_bytes([7u8; 64]);
        let stored = key.seal(b"pack blob").unwrap();
        assert_eq!(stored.len(), b"pack blob".len() + OVERHEAD);
        assert_eq!(key.open(&stored).as_deref(), Some(&b"pack blob"[..]));
        assert_eq!(
            RepoKey::from_bytes([8u8; 64]).open(&stored),
            None,
            "another repository's key"
        );
        let mut flipped = stored.clone();
        flipped[20] ^= 1;
        assert_eq!(key.open(&flipped), None, "a changed byte fails the MAC");
        assert_eq!(key.open(&stored[..31]), None, "shorter than IV and MAC");
    }
}
