//! The APIv3 key: the 32-character secret set in the merchant platform, used as the raw 32-byte
//! AES-256-GCM key that seals notification resources (and `/v3/certificates` entries).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::fmt;

/// Why an APIv3 key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiV3KeyError {
    /// WeChat's keys are 32 ASCII characters; any other length is a configuration mistake
    /// (the usual "invalid key size" / "message authentication failed" reports).
    #[error("the APIv3 key must be exactly 32 bytes, got {0}")]
    WrongLength(usize),
}

/// Why a sealed resource could not be opened. Deliberately one case: GCM cannot tell a wrong key
/// from altered ciphertext or associated data, and callers must not either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AES-256-GCM decryption failed (wrong APIv3 key, nonce, associated data or ciphertext)")]
pub struct DecryptError;

/// The APIv3 key, expanded once into the AES key schedule. `Debug` never shows it.
pub struct ApiV3Key {
    key: LessSafeKey,
}

impl ApiV3Key {
    pub fn new(secret: &str) -> Result<Self, ApiV3KeyError> {
        let bytes = secret.as_bytes();
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| ApiV3KeyError::WrongLength(bytes.len()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Opens `base64(ciphertext ‖ 16-byte tag)` sealed under `nonce` (12 bytes of text, used as
    /// the IV as-is) and `associated_data`.
    pub fn decrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        ciphertext_base64: &str,
    ) -> Result<Vec<u8>, DecryptError> {
        let nonce = nonce_of(nonce)?;
        let mut sealed = STANDARD
            .decode(ciphertext_base64)
            .map_err(|_| DecryptError)?;
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut sealed)
            .map_err(|_| DecryptError)?
            .len();
        sealed.truncate(plaintext_len);
        Ok(sealed)
    }

    /// Seals `plaintext` the way WeChat Pay seals a notification resource; returns the base64
    /// `ciphertext` field. `nonce` (the resource's `nonce` text) must never repeat under one key.
    pub fn encrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        associated_data: &str,
        plaintext: &[u8],
    ) -> String {
        let mut buffer = Vec::with_capacity(plaintext.len() + AES_256_GCM.tag_len());
        buffer.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(associated_data.as_bytes()),
                &mut buffer,
            )
            // ring refuses only inputs beyond GCM's 64 GiB limit, far above any resource.
            .expect("AES-GCM input within limits");
        STANDARD.encode(buffer)
    }
}

fn nonce_of(text: &str) -> Result<Nonce, DecryptError> {
    let bytes: [u8; NONCE_LEN] = text.as_bytes().try_into().map_err(|_| DecryptError)?;
    Ok(Nonce::assume_unique_for_key(bytes))
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_KEY: &str = "dev-only-apiv3-key-0123456789abc";
    const NONCE: &str = "fdasflkja484";
    const PLAINTEXT: &str =
        r#"{"out_trade_no":"0192f0c0a0b07c3d8e9f0a1b2c3d4e5f","trade_state":"SUCCESS"}"#;
    /// `PLAINTEXT` sealed with the dev key, `NONCE` and associated data `transaction` (the same
    /// bytes as Python `cryptography`'s AESGCM gives).
    const SEALED: &str = "XtCPul43oaHDcQGwu3VMtd/0dl5EQ3aCr674tWUiyDDmcjdt6rK05kHU1pLDffNU0MoVqjb0KSLhjoyaEF9H/7UzBpz3+v/2JHVmh6RsMWtT+N8G9BlLtzQ3Ng==";

    fn key() -> ApiV3Key {
        ApiV3Key::new(DEV_KEY).unwrap()
    }

    #[test]
    fn decrypts_the_known_answer() {
        let plaintext = key().decrypt(NONCE, "transaction", SEALED).unwrap();
        assert_eq!(plaintext, PLAINTEXT.as_bytes());
    }

    #[test]
    fn encryption_is_the_inverse_and_matches_the_known_answer() {
        assert_eq!(
            key().encrypt(b"fdasflkja484", "transaction", PLAINTEXT.as_bytes()),
            SEALED
        );
    }

    #[test]
    fn any_change_fails_authentication() {
        let wrong_key = ApiV3Key::new("dev-only-apiv3-key-0123456789abd").unwrap();
        assert_eq!(
            wrong_key.decrypt(NONCE, "transaction", SEALED),
            Err(DecryptError)
        );
        assert_eq!(key().decrypt(NONCE, "refund", SEALED), Err(DecryptError));
        assert_eq!(key().decrypt(NONCE, "", SEALED), Err(DecryptError));
        assert_eq!(
            key().decrypt("fdasflkja485", "transaction", SEALED),
            Err(DecryptError)
        );
        let mut tampered = STANDARD.decode(SEALED).unwrap();
        tampered[0] ^= 1;
        assert_eq!(
            key().decrypt(NONCE, "transaction", &STANDARD.encode(&tampered)),
            Err(DecryptError)
        );
        let truncated = STANDARD.encode(&STANDARD.decode(SEALED).unwrap()[..10]);
        assert_eq!(
            key().decrypt(NONCE, "transaction", &truncated),
            Err(DecryptError)
        );
        assert_eq!(
            key().decrypt(NONCE, "transaction", "not base64!"),
            Err(DecryptError)
        );
        assert_eq!(
            key().decrypt("short", "transaction", SEALED),
            Err(DecryptError)
        );
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        assert_eq!(
            ApiV3Key::new("too-short").unwrap_err(),
            ApiV3KeyError::WrongLength(9)
        );
        assert_eq!(
            ApiV3Key::new(&"k".repeat(33)).unwrap_err(),
            ApiV3KeyError::WrongLength(33)
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "ApiV3Key(redacted)");
    }
}
