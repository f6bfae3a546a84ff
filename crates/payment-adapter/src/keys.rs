//! RSA keys for SHA256withRSA (PKCS#1 v1.5), the signature scheme of Alipay RSA2 and of WeChat
//! Pay API v3.
//!
//! Providers hand out keys in three shapes: PEM PKCS#8 private keys (`BEGIN PRIVATE KEY`), PEM
//! SubjectPublicKeyInfo public keys (`BEGIN PUBLIC KEY`), and — from the Alipay console — the same
//! DER as one bare base64 line. Private keys (signing, aws-lc-rs: see [`RsaPrivateKey`]) load
//! from PKCS#8 or PKCS#1 directly; ring verifies only with a PKCS#1 `RSAPublicKey`, so an SPKI
//! key is unwrapped here (see [`der`]). We walk the few DER bytes
//! ourselves instead of pulling in the `spki`/`pem` crates: the structure is fixed, the walk is
//! forty lines with tests, and ring already validates the numbers themselves.

mod der;
mod pem;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use std::fmt;
use std::path::Path;

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a PEM or base64 key: {0}")]
    Encoding(&'static str),
    #[error(
        "unsupported key type `{0}` (expected PRIVATE KEY, RSA PRIVATE KEY, PUBLIC KEY or RSA PUBLIC KEY)"
    )]
    UnsupportedLabel(String),
    #[error("malformed key DER: {0}")]
    Der(&'static str),
    #[error("not an RSA key")]
    NotRsa,
    #[error("RSA key rejected: {0}")]
    Rejected(String),
}

/// Why a signature could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("signing failed")]
    Signing,
    #[error("signature is not valid base64")]
    Encoding,
    #[error("signature does not verify")]
    Mismatch,
}

/// An RSA private key that signs SHA256withRSA. Its `Debug` never shows key material.
///
/// Signing is aws-lc-rs's (ring's API, AWS-LC's code) where everything else here is ring's: a
/// booking's provider order needs two RSA-2048 signatures, the largest part of its CPU, and
/// AWS-LC signs about 1.75 times as fast as ring on these machines (it uses AVX-512 IFMA where
/// the CPU has it; docs/decisions.md has the measurement).
pub struct RsaPrivateKey {
    pair: RsaKeyPair,
}

impl RsaPrivateKey {
    /// Loads a PEM (`PRIVATE KEY` = PKCS#8, `RSA PRIVATE KEY` = PKCS#1) or bare base64 DER key.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::decode(text)?;
        let pair = match block.label.as_deref() {
            Some("PRIVATE KEY") => RsaKeyPair::from_pkcs8(&block.der),
            Some("RSA PRIVATE KEY") => RsaKeyPair::from_der(&block.der),
            Some(other) => return Err(KeyError::UnsupportedLabel(other.to_owned())),
            // Bare base64 from a provider console: PKCS#8 (Java tools) or PKCS#1 (others).
            None => {
                RsaKeyPair::from_pkcs8(&block.der).or_else(|_| RsaKeyPair::from_der(&block.der))
            }
        }
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(Self { pair })
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        Self::from_pem(&read(path.as_ref())?)
    }

    /// SHA256withRSA over `message`, base64 (standard alphabet, no line breaks). PKCS#1 v1.5 is
    /// deterministic, so the same key and message always give the same text.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, SignatureError> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SignatureError::Signing)?;
        Ok(STANDARD.encode(signature))
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaPrivateKey({} bits, redacted)",
            self.pair.public_modulus_len() * 8
        )
    }
}

/// An RSA public key that verifies SHA256withRSA, held as the PKCS#1 DER ring wants.
#[derive(Clone)]
pub struct RsaPublicKey {
    pkcs1: Vec<u8>,
}

impl RsaPublicKey {
    /// Loads a PEM (`PUBLIC KEY` = SPKI, `RSA PUBLIC KEY` = PKCS#1) or bare base64 DER key.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::decode(text)?;
        let pkcs1 = match block.label.as_deref() {
            Some("PUBLIC KEY") => der::spki_to_pkcs1(&block.der)?,
            Some("RSA PUBLIC KEY") => der::check_pkcs1(&block.der)?,
            Some(other) => return Err(KeyError::UnsupportedLabel(other.to_owned())),
            None => der::any_public_to_pkcs1(&block.der)?,
        };
        Ok(Self {
            pkcs1: pkcs1.to_vec(),
        })
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        Self::from_pem(&read(path.as_ref())?)
    }

    /// Checks a base64 SHA256withRSA signature over `message`.
    pub fn verify_base64(&self, message: &[u8], signature: &str) -> Result<(), SignatureError> {
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::Encoding)?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey({} DER bytes)", self.pkcs1.len())
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_key(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/dev-keys/");
        std::fs::read_to_string(format!("{path}{name}")).expect("dev key")
    }

    #[test]
    fn dev_keys_sign_and_verify_as_pairs() {
        let private = RsaPrivateKey::from_pem(&dev_key("alipay_app_private.pem")).unwrap();
        let public = RsaPublicKey::from_pem(&dev_key("alipay_app_public.pem")).unwrap();
        let other = RsaPublicKey::from_pem(&dev_key("alipay_platform_public.pem")).unwrap();
        let signature = private.sign_base64(b"hello").unwrap();
        public.verify_base64(b"hello", &signature).unwrap();
        assert!(matches!(
            public.verify_base64(b"hellO", &signature),
            Err(SignatureError::Mismatch)
        ));
        assert!(matches!(
            other.verify_base64(b"hello", &signature),
            Err(SignatureError::Mismatch)
        ));
        assert!(matches!(
            public.verify_base64(b"hello", "not base64!"),
            Err(SignatureError::Encoding)
        ));
    }

    #[test]
    fn bare_base64_keys_as_the_alipay_console_gives_them_load() {
        let bare =
            |pem: &str| -> String { pem.lines().filter(|l| !l.starts_with("-----")).collect() };
        let private = RsaPrivateKey::from_pem(&bare(&dev_key("alipay_app_private.pem"))).unwrap();
        let public = RsaPublicKey::from_pem(&bare(&dev_key("alipay_app_public.pem"))).unwrap();
        let signature = private.sign_base64(b"m").unwrap();
        public.verify_base64(b"m", &signature).unwrap();
    }

    #[test]
    fn pkcs1_public_key_is_accepted_as_is() {
        let spki = pem::decode(&dev_key("alipay_app_public.pem")).unwrap().der;
        let pkcs1 = der::spki_to_pkcs1(&spki).unwrap();
        let text = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            STANDARD.encode(pkcs1)
        );
        let public = RsaPublicKey::from_pem(&text).unwrap();
        let private = RsaPrivateKey::from_pem(&dev_key("alipay_app_private.pem")).unwrap();
        public
            .verify_base64(b"x", &private.sign_base64(b"x").unwrap())
            .unwrap();
    }

    #[test]
    fn wrong_kinds_of_key_are_refused() {
        // A public key where a private key belongs, and the other way round.
        assert!(matches!(
            RsaPrivateKey::from_pem(&dev_key("alipay_app_public.pem")),
            Err(KeyError::UnsupportedLabel(label)) if label == "PUBLIC KEY"
        ));
        assert!(matches!(
            RsaPublicKey::from_pem(&dev_key("alipay_app_private.pem")),
            Err(KeyError::UnsupportedLabel(label)) if label == "PRIVATE KEY"
        ));
        // A PKCS#8 body under a PKCS#1 label.
        let relabelled =
            dev_key("alipay_app_private.pem").replace("PRIVATE KEY", "RSA PRIVATE KEY");
        assert!(matches!(
            RsaPrivateKey::from_pem(&relabelled),
            Err(KeyError::Rejected(_))
        ));
        assert!(matches!(
            RsaPrivateKey::from_file("/nonexistent/key.pem"),
            Err(KeyError::Read { .. })
        ));
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let private = RsaPrivateKey::from_pem(&dev_key("alipay_app_private.pem")).unwrap();
        assert_eq!(format!("{private:?}"), "RsaPrivateKey(2048 bits, redacted)");
    }
}
