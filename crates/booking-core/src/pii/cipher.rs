//! AES-256-GCM for PII columns, and a keyed hash to find a value again without decrypting.
//!
//! A sealed value is `key_id (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`. The key
//! id lets keys rotate: new values are sealed with the current key while old ones still open with
//! the key they name. The nonce is 96 random bits per value, which is safe for about 2^32 values
//! per key. The caller's `context` (for example `b"patients.id_number"`) is the AAD, so a
//! ciphertext copied into another column no longer opens.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};

/// Id of the key configured as `pii.encryption_key`; it is the first byte of every blob.
const CURRENT_KEY_ID: u8 = 1;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// HKDF `info` that turns the configured key into the keyed-hash key. A new label means new
/// hashes, so it carries a version.
const HASH_KEY_INFO: &[u8] = b"guahao pii keyed hash v1";

/// What can go wrong with keys and sealed values. The messages never contain key material or
/// plaintext, so they may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("pii.encryption_key must be exactly 64 hexadecimal characters (a 256-bit key)")]
    BadKey,
    #[error("the sealed value is too short to hold a key id, a nonce and a tag")]
    Malformed,
    #[error(
        "the sealed value does not open: unknown key id, another column's value, or altered bytes"
    )]
    Undecryptable,
}

/// One AES-256-GCM key and the id written in front of what it seals.
struct DataKey {
    id: u8,
    aead: LessSafeKey,
}

/// Seals and opens PII columns and computes their keyed hashes, all from the one configured key.
///
/// The AES key is the configured key itself; the HMAC key is derived from it with HKDF-SHA256
/// (empty salt, `info` = `"guahao pii keyed hash v1"`), so one secret in the configuration gives
/// two independent keys.
///
/// Rotation: keep the retired keys beside `current` and let [`PiiCipher::key_for`] search them;
/// `encrypt` keeps using `current`. The hash key must stay derived from the key the stored
/// hashes were made with (or every hash be recomputed), because lookups compare hashes.
pub struct PiiCipher {
    current: DataKey,
    hash_key: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiCipher")
            .field("key_id", &self.current.id)
            .finish_non_exhaustive()
    }
}

impl PiiCipher {
    /// Builds the cipher from `pii.encryption_key`: 64 hex characters (surrounding whitespace,
    /// such as a newline from a secrets file, is ignored).
    pub fn from_hex_key(key_hex: &str) -> Result<Self, PiiError> {
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(key_hex.trim(), &mut key).map_err(|_| PiiError::BadKey)?;
        Self::from_key(CURRENT_KEY_ID, &key)
    }

    fn from_key(id: u8, key: &[u8; KEY_LEN]) -> Result<Self, PiiError> {
        let aead = UnboundKey::new(&AES_256_GCM, key).map_err(|_| PiiError::BadKey)?;
        let hash_key = hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(key)
            .expand(&[HASH_KEY_INFO], hmac::HMAC_SHA256)
            .map_err(|_| PiiError::BadKey)?
            .into();
        Ok(Self {
            current: DataKey {
                id,
                aead: LessSafeKey::new(aead),
            },
            hash_key,
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plaintext` with the current key and a fresh random nonce, binding `context` as AAD.
    ///
    /// # Panics
    /// If the operating system's random generator fails: sealing PII under a nonce that may
    /// repeat would be worse than stopping.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the operating system's random generator failed; PII was not sealed");
        self.encrypt_with_nonce(nonce, plaintext, context)
    }

    /// The sealing step with the nonce given, so a known-answer test can fix it. Private: outside
    /// tests a nonce must never be chosen by hand.
    fn encrypt_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        context: &[u8],
    ) -> Vec<u8> {
        let header_len = 1 + NONCE_LEN;
        let mut blob = Vec::with_capacity(header_len + plaintext.len() + TAG_LEN);
        blob.push(self.current.id);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(plaintext);
        let tag = self
            .current
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut blob[header_len..],
            )
            // AES-GCM refuses only inputs longer than about 64 GiB.
            .expect("a PII value is far below the AES-GCM input limit");
        blob.extend_from_slice(tag.as_ref());
        blob
    }

    /// Opens a value sealed by [`PiiCipher::encrypt`] under the same `context`.
    pub fn decrypt(&self, blob: &[u8], context: &[u8]) -> Result<Vec<u8>, PiiError> {
        let (&key_id, rest) = blob.split_first().ok_or(PiiError::Malformed)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(PiiError::Malformed);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| PiiError::Malformed)?;
        let key = self.key_for(key_id).ok_or(PiiError::Undecryptable)?;
        let mut buf = sealed.to_vec();
        let plain_len = key
            .aead
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| PiiError::Undecryptable)?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }

    /// The key a blob names. Only the current key exists until the first rotation, which adds
    /// the retired keys to this search.
    fn key_for(&self, id: u8) -> Option<&DataKey> {
        (self.current.id == id).then_some(&self.current)
    }

    /// `hex(HMAC-SHA256(hash_key, domain ‖ 0x00 ‖ normalized_value))`: the same value in the
    /// same domain always gives the same 64 hex characters, so a unique index can hold it, while
    /// a different domain (say `"phone"` against `"id_document"`) gives an unrelated hash.
    ///
    /// Callers pass a normalised value (the `number()` of a parsed document) so spelling
    /// variants hash alike, and a constant `domain` without NUL bytes so the separator is
    /// unambiguous. Without the key, the hash cannot be brute-forced from the small space of
    /// valid ID numbers, which a plain SHA-256 would allow.
    pub fn keyed_hash(&self, domain: &str, normalized_value: &str) -> String {
        debug_assert!(!domain.contains('\0'), "a hash domain must not contain NUL");
        let mut mac = hmac::Context::with_key(&self.hash_key);
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(normalized_value.as_bytes());
        hex::encode(mac.sign().as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of the known-answer vectors: bytes 0x00..=0x1f.
    const KAT_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn kat_cipher() -> PiiCipher {
        PiiCipher::from_hex_key(KAT_KEY).expect("valid key")
    }

    fn hex_bytes(text: &str) -> Vec<u8> {
        hex::decode(text).expect("valid hex in test")
    }

    /// Test case 14 of McGrew & Viega, "The Galois/Counter Mode of Operation" (the GCM spec):
    /// AES-256, zero key, zero nonce, 16 zero bytes, no AAD. Recomputed with Python's
    /// `cryptography` 48.0.0:
    /// `AESGCM(bytes(32)).encrypt(bytes(12), bytes(16), None).hex()`.
    #[test]
    fn aes_gcm_matches_the_published_gcm_vector() {
        let cipher = PiiCipher::from_hex_key(&"00".repeat(32)).expect("valid key");
        let blob = cipher.encrypt_with_nonce([0; NONCE_LEN], &[0; 16], b"");
        let expected = hex_bytes(concat!(
            "01",                               // key id
            "000000000000000000000000",         // nonce
            "cea7403d4d606b6e074ec5d3baf39d18", // ciphertext
            "d0d1c8a799996bf0265b98b5d48ab919", // tag
        ));
        assert_eq!(blob, expected);
        assert_eq!(cipher.decrypt(&blob, b""), Ok(vec![0; 16]));
    }

    /// Our own layout with AAD, computed independently in Python (`cryptography` 48.0.0):
    /// ```text
    /// from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    /// key = bytes(range(32)); nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    /// ct = AESGCM(key).encrypt(nonce, b"11010519491231002X", b"patients.id_number")
    /// print((b"\x01" + nonce + ct).hex())
    /// ```
    #[test]
    fn aes_gcm_matches_an_independent_vector_with_aad() {
        let nonce: [u8; NONCE_LEN] = hex_bytes("cafebabefacedbaddecaf888")
            .try_into()
            .expect("12 bytes");
        let blob =
            kat_cipher().encrypt_with_nonce(nonce, b"11010519491231002X", b"patients.id_number");
        let expected = hex_bytes(concat!(
            "01",
            "cafebabefacedbaddecaf888",
            "bb9290179a4f7e2272326cef482cb90f3f78",
            "a67302fb9fca4688e25cc29772a54491",
        ));
        assert_eq!(blob, expected);
        assert_eq!(
            kat_cipher().decrypt(&expected, b"patients.id_number"),
            Ok(b"11010519491231002X".to_vec())
        );
    }

    /// HKDF-SHA256 then HMAC-SHA256, computed independently in Python (`cryptography` 48.0.0
    /// for HKDF, the standard library for HMAC):
    /// ```text
    /// from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    /// from cryptography.hazmat.primitives import hashes; import hmac, hashlib
    /// okm = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
    ///            info=b"guahao pii keyed hash v1").derive(bytes(range(32)))
    /// # okm = f0c68e681aeecd1f7c5af53c19e625cbc381eadd5a24edb3bc7eec66c003ea5a
    /// hmac.new(okm, b"patients.id_number\x00" + b"11010519491231002X", hashlib.sha256).hexdigest()
    /// hmac.new(okm, b"patients.phone\x00" + b"13800138000", hashlib.sha256).hexdigest()
    /// ```
    /// (`salt=None` is HashLen zero bytes, the same HMAC key as ring's empty salt.)
    #[test]
    fn keyed_hash_matches_an_independent_vector() {
        let cipher = kat_cipher();
        assert_eq!(
            cipher.keyed_hash("patients.id_number", "11010519491231002X"),
            "c2fbc5d24ce73ef1e94253d5f3b6caaa5e8b97497e6ef31d26902063dad23031"
        );
        assert_eq!(
            cipher.keyed_hash("patients.phone", "13800138000"),
            "2d907cb6cae3b443eacb3ff6053b0996266746c9c015f609c843976e5d5971a5"
        );
    }

    #[test]
    fn round_trip() {
        let cipher = kat_cipher();
        for plain in [&b""[..], b"E12345678", "张三丰".as_bytes()] {
            let blob = cipher.encrypt(plain, b"patients.id_number");
            assert_eq!(blob.len(), 1 + NONCE_LEN + plain.len() + TAG_LEN);
            assert_eq!(blob[0], CURRENT_KEY_ID);
            assert_eq!(
                cipher.decrypt(&blob, b"patients.id_number"),
                Ok(plain.to_vec())
            );
        }
    }

    #[test]
    fn another_context_does_not_open() {
        let cipher = kat_cipher();
        let blob = cipher.encrypt(b"13800138000", b"patients.phone");
        assert_eq!(
            cipher.decrypt(&blob, b"patients.id_number"),
            Err(PiiError::Undecryptable)
        );
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let cipher = kat_cipher();
        let blob = cipher.encrypt(b"11010519491231002X", b"ctx");
        for i in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                cipher.decrypt(&tampered, b"ctx"),
                Err(PiiError::Undecryptable),
                "byte {i}"
            );
        }
    }

    #[test]
    fn unknown_key_id_is_refused() {
        let cipher = kat_cipher();
        let mut blob = cipher.encrypt(b"secret", b"ctx");
        blob[0] = 2;
        assert_eq!(cipher.decrypt(&blob, b"ctx"), Err(PiiError::Undecryptable));
    }

    #[test]
    fn a_key_with_another_id_opens_only_its_own_values() {
        let key = [7u8; KEY_LEN];
        let old = PiiCipher::from_key(1, &key).expect("key");
        let new = PiiCipher::from_key(2, &key).expect("key");
        let blob = old.encrypt(b"secret", b"ctx");
        assert_eq!(new.decrypt(&blob, b"ctx"), Err(PiiError::Undecryptable));
        assert_eq!(old.decrypt(&blob, b"ctx"), Ok(b"secret".to_vec()));
    }

    #[test]
    fn truncated_values_are_malformed() {
        let cipher = kat_cipher();
        let blob = cipher.encrypt(b"", b"ctx");
        assert_eq!(blob.len(), 1 + NONCE_LEN + TAG_LEN);
        for len in 0..blob.len() {
            assert_eq!(
                cipher.decrypt(&blob[..len], b"ctx"),
                Err(PiiError::Malformed)
            );
        }
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        let cipher = kat_cipher();
        let a = cipher.encrypt(b"11010519491231002X", b"ctx");
        let b = cipher.encrypt(b"11010519491231002X", b"ctx");
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn keyed_hash_is_stable_and_separated_by_domain_and_key() {
        let cipher = kat_cipher();
        let h = cipher.keyed_hash("id_document", "11010519491231002X");
        assert_eq!(h.len(), 64);
        assert_eq!(h, cipher.keyed_hash("id_document", "11010519491231002X"));
        assert_eq!(
            h,
            kat_cipher().keyed_hash("id_document", "11010519491231002X")
        );
        assert_ne!(h, cipher.keyed_hash("phone", "11010519491231002X"));
        assert_ne!(h, cipher.keyed_hash("id_document", "11010519491231002x"));
        // The separator keeps the domain/value boundary: "ab"+"c" is not "a"+"bc".
        assert_ne!(cipher.keyed_hash("ab", "c"), cipher.keyed_hash("a", "bc"));
        let other = PiiCipher::from_hex_key(&"11".repeat(32)).expect("valid key");
        assert_ne!(h, other.keyed_hash("id_document", "11010519491231002X"));
    }

    #[test]
    fn bad_key_configuration_is_refused() {
        for key in [
            "",
            "00",
            &KAT_KEY[..62],
            &format!("{KAT_KEY}00"),
            &format!("{}zz", &KAT_KEY[..62]),
            &format!("{}  ", &KAT_KEY[..62]),
            &"g".repeat(64),
        ] {
            assert_eq!(
                PiiCipher::from_hex_key(key).map(|_| ()),
                Err(PiiError::BadKey),
                "{key:?}"
            );
        }
        assert!(PiiCipher::from_hex_key(&format!("{}\n", KAT_KEY.to_uppercase())).is_ok());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let shown = format!("{:?}", kat_cipher());
        assert_eq!(shown, "PiiCipher { key_id: 1, .. }");
    }
}
