//! Operator usernames and passwords: the rules a new one must meet, and Argon2id hashing.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so each one carries
//! its own algorithm, parameters and salt, and a later change of parameters leaves existing
//! hashes verifiable.
//!
//! Parameters: the `argon2` crate's defaults, Argon2id with m = 19 MiB, t = 2, p = 1. That is
//! the first of OWASP's recommended Argon2id configurations (Password Storage Cheat Sheet) and
//! RFC 9106's memory-hard variant; it costs a few tens of milliseconds on one core, which is
//! nothing for an operator logging in a few times a day and a great deal for someone guessing
//! offline. Stronger settings would mostly cost memory per concurrent login on a small server;
//! concurrency is bounded by the service (see `Operators`).

use super::OperatorError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::fmt;
use std::sync::LazyLock;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Long enough for any passphrase or generated secret; short enough that no one can make us
/// hash a megabyte.
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// 3–64 characters of `[a-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, OperatorError> {
        let ok = (USERNAME_MIN..=USERNAME_MAX).contains(&text.len())
            && text.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(OperatorError::InvalidUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password chosen for a new account. Never printed.
pub struct NewPassword(String);

impl NewPassword {
    /// At least 12 characters (not bytes: `密码` counts as two), at most 1024 bytes.
    pub fn parse(text: &str) -> Result<Self, OperatorError> {
        if text.chars().count() < PASSWORD_MIN_CHARS {
            return Err(OperatorError::PasswordTooShort {
                min: PASSWORD_MIN_CHARS,
            });
        }
        if text.len() > PASSWORD_MAX_BYTES {
            return Err(OperatorError::PasswordTooLong {
                max_bytes: PASSWORD_MAX_BYTES,
            });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes with a fresh 128-bit salt from the operating system's generator. CPU-bound: call it
/// off the async threads.
pub fn hash_password(password: &str) -> Result<String, OperatorError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| OperatorError::Hashing("the system random generator failed".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| OperatorError::Hashing(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| OperatorError::Hashing(e.to_string()))
}

/// True when `password` matches the PHC string. A hash that cannot be parsed is an error, not a
/// mismatch: it means a corrupted row. CPU-bound, like [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> Result<bool, OperatorError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| OperatorError::Corrupted(format!("password hash: {e}")))?;
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(OperatorError::Hashing(e.to_string())),
    }
}

/// A hash of a random password with the current parameters. Logging in as someone who does not
/// exist verifies against it, so that an unknown username costs the same time as a wrong
/// password and the answer's timing does not tell which usernames exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut secret = [0u8; 32];
    // Even an all-zero "random" password would do: nobody is meant to match it, only to wait.
    let _ = SystemRandom::new().fill(&mut secret);
    hash_password(&hex::encode(secret)).expect("hashing a dummy password")
});

/// Computes the dummy hash now, so that the first unknown username does not pay for it (and
/// stand out by taking twice as long).
pub fn prepare_dummy_hash() {
    LazyLock::force(&DUMMY_HASH);
}

/// Spends the time of one verification and always fails.
pub fn verify_dummy(password: &str) {
    let _ = verify_password(password, &DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_three_to_sixty_four_plain_characters() {
        for good in ["abc", "front-desk.01", "kiosk_3", &"a".repeat(64)] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Alice",
            "a b",
            "张三",
            "x@y",
            "",
            &"a".repeat(65),
            "abc\n",
        ] {
            assert!(
                matches!(Username::parse(bad), Err(OperatorError::InvalidUsername)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(matches!(
            NewPassword::parse("short-pass1"),
            Err(OperatorError::PasswordTooShort { min: 12 })
        ));
        assert!(NewPassword::parse("long-enough-1").is_ok());
        // Twelve characters, more bytes: counted as characters.
        assert!(NewPassword::parse("密码密码密码密码密码密码").is_ok());
        assert!(matches!(
            NewPassword::parse(&"x".repeat(PASSWORD_MAX_BYTES + 1)),
            Err(OperatorError::PasswordTooLong { .. })
        ));
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse battery").unwrap()),
            "NewPassword(<redacted>)"
        );
    }

    #[test]
    fn hashes_are_salted_argon2id_phc_strings_that_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt every time");
        assert!(verify_password("correct horse battery", &a).unwrap());
        assert!(!verify_password("correct horse batterY", &a).unwrap());
        assert!(matches!(
            verify_password("x", "not a phc string"),
            Err(OperatorError::Corrupted(_))
        ));
    }
}
