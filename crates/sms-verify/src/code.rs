//! The code itself: what it is for, how it is drawn, and the keyed digest that is all we store.

use ring::hmac;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Digits in a code.
pub const CODE_LEN: usize = 6;

/// Digits in a mainland mobile number as the caller hands it to us (booking-core's
/// `MobileNumber` has already normalised it: no `+86`, no spaces).
pub const PHONE_LEN: usize = 11;

/// What a code may be used for. Part of the key and of the digest, so a code sent for one
/// purpose never verifies for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    BindPhone,
    Login,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::BindPhone => "bind_phone",
            Purpose::Login => "login",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SMS code purpose {0:?} (expected bind_phone or login)")]
pub struct UnknownPurpose(pub String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bind_phone" => Ok(Purpose::BindPhone),
            "login" => Ok(Purpose::Login),
            other => Err(UnknownPurpose(other.to_owned())),
        }
    }
}

/// How long a code lives and how many wrong guesses kill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    pub ttl: Duration,
    pub max_attempts: u32,
}

impl Default for CodePolicy {
    /// 5 minutes and 5 wrong attempts: 5 guesses out of 10^6 keep a brute force hopeless,
    /// while a patient who mistypes twice is not punished.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(5 * 60),
            max_attempts: 5,
        }
    }
}

/// Exactly six ASCII digits. Anything else is refused before it reaches the store, so it
/// cannot use up an attempt.
pub fn is_well_formed_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| b.is_ascii_digit())
}

/// Exactly eleven ASCII digits. Checked here too (not only by the caller's type) because the
/// phone becomes part of store keys and of the digest input.
pub fn is_plain_phone(phone: &str) -> bool {
    phone.len() == PHONE_LEN && phone.bytes().all(|b| b.is_ascii_digit())
}

/// The system random source failed; ring reports nothing more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomUnavailable;

/// Draws a uniformly distributed six-digit code (leading zeros included).
///
/// A random `u32` reduced modulo 10^6 would favour the low codes slightly, because 2^32 is
/// not a multiple of 10^6; draws at or above the largest multiple are thrown away instead
/// (fewer than 0.03% of them).
pub fn generate_code(rng: &dyn SecureRandom) -> Result<String, RandomUnavailable> {
    loop {
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes).map_err(|_| RandomUnavailable)?;
        if let Some(code) = code_from_draw(u32::from_be_bytes(bytes)) {
            return Ok(code);
        }
    }
}

/// The code for one random draw, or `None` for a draw in the biased tail.
fn code_from_draw(draw: u32) -> Option<String> {
    const SPAN: u32 = 1_000_000;
    const ACCEPT_BELOW: u32 = u32::MAX / SPAN * SPAN;
    (draw < ACCEPT_BELOW).then(|| format!("{:06}", draw % SPAN))
}

/// HMAC-SHA256 of a code under the server's key: what the store keeps instead of the code.
///
/// A dump of Redis therefore reveals no codes (10^6 candidates are nothing to a plain hash,
/// but the key is not in Redis), and because purpose and phone are hashed in, a digest copied
/// to another phone's key, or another purpose, does not verify there.
#[derive(Clone, Copy)]
pub struct CodeDigest([u8; 32]);

impl CodeDigest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Equality that takes the same time wherever the first difference is.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_slice().ct_eq(other).into()
    }
}

impl fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell digests apart in a test failure.
        write!(f, "CodeDigest({}…)", hex::encode(&self.0[..4]))
    }
}

/// Computes [`CodeDigest`]s under one server key.
#[derive(Clone)]
pub struct CodeHasher {
    key: hmac::Key,
}

impl CodeHasher {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The message is `purpose NUL phone NUL code`: the separator cannot occur in any part,
    /// so two different triples never produce the same message.
    pub fn digest(&self, purpose: Purpose, phone: &str, code: &str) -> CodeDigest {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.as_str().as_bytes());
        ctx.update(b"\0");
        ctx.update(phone.as_bytes());
        ctx.update(b"\0");
        ctx.update(code.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        CodeDigest(out)
    }
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher(<key>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn purposes_round_trip_through_their_names() {
        for purpose in [Purpose::BindPhone, Purpose::Login] {
            assert_eq!(purpose.as_str().parse::<Purpose>(), Ok(purpose));
            assert_eq!(purpose.to_string(), purpose.as_str());
            let json = serde_json::to_string(&purpose).unwrap();
            assert_eq!(json, format!("\"{}\"", purpose.as_str()));
        }
        assert_eq!(
            "register".parse::<Purpose>(),
            Err(UnknownPurpose("register".into()))
        );
    }

    #[test]
    fn generated_codes_are_six_digits_spread_over_every_digit() {
        let rng = SystemRandom::new();
        let mut per_position = [[0u32; 10]; CODE_LEN];
        let draws = 20_000;
        for _ in 0..draws {
            let code = generate_code(&rng).unwrap();
            assert!(is_well_formed_code(&code), "{code:?}");
            for (position, digit) in code.bytes().enumerate() {
                per_position[position][usize::from(digit - b'0')] += 1;
            }
        }
        // Each digit is expected 2000 times per position (σ ≈ 42); ±300 is over 7σ.
        for counts in per_position {
            for count in counts {
                assert!((1700..=2300).contains(&count), "{per_position:?}");
            }
        }
    }

    #[test]
    fn draws_in_the_biased_tail_are_rejected_and_leading_zeros_kept() {
        assert_eq!(code_from_draw(42).as_deref(), Some("000042"));
        assert_eq!(code_from_draw(4_293_999_999).as_deref(), Some("999999"));
        assert_eq!(code_from_draw(4_294_000_000), None);
        assert_eq!(code_from_draw(u32::MAX), None);
    }

    #[test]
    fn well_formed_codes_and_phones() {
        assert!(is_well_formed_code("012345"));
        for bad in ["12345", "1234567", "12345a", "12 345", "１２３４５６", ""] {
            assert!(!is_well_formed_code(bad), "{bad:?}");
        }
        assert!(is_plain_phone("13800138000"));
        for bad in [
            "+8613800138000",
            "1380013800",
            "1380013800a",
            "138-0013-8000",
        ] {
            assert!(!is_plain_phone(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_digest_binds_purpose_phone_and_code() {
        let hasher = CodeHasher::new(b"server key");
        let base = hasher.digest(Purpose::Login, "13800138000", "123456");
        assert!(
            base.ct_eq(
                hasher
                    .digest(Purpose::Login, "13800138000", "123456")
                    .as_bytes()
            )
        );
        for other in [
            hasher.digest(Purpose::BindPhone, "13800138000", "123456"),
            hasher.digest(Purpose::Login, "13800138001", "123456"),
            hasher.digest(Purpose::Login, "13800138000", "123457"),
            CodeHasher::new(b"other key").digest(Purpose::Login, "13800138000", "123456"),
        ] {
            assert!(!base.ct_eq(other.as_bytes()));
        }
        assert!(!base.ct_eq(&base.as_bytes()[..31]), "length differs");
    }

    #[test]
    fn the_digest_is_hmac_sha256_of_the_separated_fields() {
        // Computed independently:
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"server key",
        //   b"login\x0013800138000\x00123456", hashlib.sha256).hexdigest())'
        let digest = CodeHasher::new(b"server key").digest(Purpose::Login, "13800138000", "123456");
        assert_eq!(
            hex::encode(digest.as_bytes()),
            "88e25142b055e8c46ec510d5869dd36d10a61f4ec098330e2da0e3a426ce2de8"
        );
    }
}
