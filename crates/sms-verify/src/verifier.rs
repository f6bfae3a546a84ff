//! [`SmsVerifier`]: the service the gateway calls to send a code and to check one.

use crate::code::{
    CodeHasher, CodePolicy, Purpose, RandomUnavailable, generate_code, is_plain_phone,
    is_well_formed_code,
};
use crate::limits::{LimitScope, SmsLimits, admit};
use crate::provider::{SendError, SmsSender, mask_phone};
use crate::store::{Attempt, CodeStore};
use kv_store::{RateCounter, StoreError};
use ring::rand::SystemRandom;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a code was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// 429, with `Retry-After` = `retry_after` rounded up to whole seconds
    /// ([`SmsError::retry_after_secs`]).
    #[error("too many SMS codes requested ({scope}); retry in {retry_after:?}")]
    RateLimited {
        retry_after: Duration,
        scope: LimitScope,
    },
    /// The phone is not 11 ASCII digits (the caller's `MobileNumber` should make this
    /// impossible).
    #[error("not a mainland mobile number")]
    InvalidPhone,
    /// The provider did not take the message; no usable code was left behind.
    #[error(transparent)]
    Provider(#[from] SendError),
    /// Redis (codes or counters) failed: 503.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl SmsError {
    /// Whole seconds for a `Retry-After` header, rounded up so a client that waits exactly
    /// that long is not refused again.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            SmsError::RateLimited { retry_after, .. } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            _ => None,
        }
    }
}

/// Why a code was not accepted. Each is its own case so the client can say what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No code on record for this phone and purpose: none was sent (or, after a failed
    /// delivery, none went out), or the last one is more than an hour past its expiry
    /// ([`RECORD_GRACE`](crate::RECORD_GRACE)).
    #[error("no code was sent to this phone; request one")]
    NoCode,
    /// The code's life (5 minutes by default) has passed.
    #[error("the code has expired; request a new one")]
    Expired,
    /// The code was already verified once; codes are single use.
    #[error("the code was already used; request a new one")]
    Used,
    /// Wrong code; `attempts_left` more tries before it dies.
    #[error("wrong code ({attempts_left} attempts left)")]
    Wrong { attempts_left: u32 },
    /// Too many wrong attempts: the code is dead, even the right one is refused now.
    #[error("too many wrong attempts; request a new code")]
    Locked,
    /// Not six ASCII digits (or not a plain 11-digit phone). Not counted as an attempt.
    #[error("a code is six digits")]
    Malformed,
    /// The code store failed: 503.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// What a successful send tells the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReceipt {
    /// Before this has passed, another send to the phone is refused (the `cooldown_s` of
    /// `POST /api/v1/sms/send`).
    pub cooldown: Duration,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

/// Sends codes under the limits and checks them.
pub struct SmsVerifier {
    store: Arc<dyn CodeStore>,
    counters: Arc<dyn RateCounter>,
    sender: Arc<dyn SmsSender>,
    limits: SmsLimits,
    policy: CodePolicy,
    hasher: CodeHasher,
    rng: SystemRandom,
}

impl std::fmt::Debug for SmsVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsVerifier")
            .field("limits", &self.limits)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SmsVerifier {
    /// `hash_key` keys the digests of stored codes: at least 32 random bytes, the same on
    /// every replica, and kept out of Redis (which is what it protects against).
    pub fn new(
        store: Arc<dyn CodeStore>,
        counters: Arc<dyn RateCounter>,
        sender: Arc<dyn SmsSender>,
        limits: SmsLimits,
        policy: CodePolicy,
        hash_key: Vec<u8>,
    ) -> Self {
        Self {
            store,
            counters,
            sender,
            limits,
            policy,
            hasher: CodeHasher::new(&hash_key),
            rng: SystemRandom::new(),
        }
    }

    /// Counts the request against the limits, then stores a fresh code (replacing any
    /// earlier one for this phone and purpose) and sends it.
    ///
    /// The code is stored before it is sent, so it is valid the moment it can arrive. If the
    /// provider fails, that code is removed again and the error returned; the request still
    /// counted against the limits, which keeps a failing provider from being hammered.
    pub async fn send(
        &self,
        purpose: Purpose,
        phone: &str,
        client_ip: IpAddr,
    ) -> Result<SendReceipt, SmsError> {
        if !is_plain_phone(phone) {
            return Err(SmsError::InvalidPhone);
        }
        let cooldown = admit(self.counters.as_ref(), &self.limits, phone, client_ip).await?;
        let code = generate_code(&self.rng)?;
        let digest = self.hasher.digest(purpose, phone, &code);
        self.store
            .put(purpose, phone, &digest, self.policy.ttl)
            .await?;
        if let Err(error) = self.sender.send_code(phone, &code).await {
            if let Err(cleanup) = self.store.remove(purpose, phone, &digest).await {
                // The undelivered code then simply expires; nobody knows it.
                tracing::warn!(phone = %mask_phone(phone), %cleanup, "could not remove an undelivered SMS code");
            }
            return Err(SmsError::Provider(error));
        }
        Ok(SendReceipt {
            cooldown,
            expires_in: self.policy.ttl,
        })
    }

    /// Accepts the code once: on success it is marked used. A malformed code is refused
    /// without counting, and so is any code once the last one expired or was used; a wrong
    /// one counts towards the limit.
    pub async fn verify(
        &self,
        purpose: Purpose,
        phone: &str,
        code: &str,
    ) -> Result<(), VerifyError> {
        if !is_well_formed_code(code) || !is_plain_phone(phone) {
            return Err(VerifyError::Malformed);
        }
        let candidate = self.hasher.digest(purpose, phone, code);
        match self
            .store
            .attempt(purpose, phone, &candidate, self.policy.max_attempts)
            .await?
        {
            Attempt::Matched => Ok(()),
            Attempt::NoCode => Err(VerifyError::NoCode),
            Attempt::Expired => Err(VerifyError::Expired),
            Attempt::Used => Err(VerifyError::Used),
            Attempt::Locked => Err(VerifyError::Locked),
            Attempt::Mismatch { attempts_left } => Err(VerifyError::Wrong { attempts_left }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limited = |retry_after| SmsError::RateLimited {
            retry_after,
            scope: LimitScope::PhoneInterval,
        };
        assert_eq!(
            limited(Duration::from_secs(60)).retry_after_secs(),
            Some(60)
        );
        assert_eq!(
            limited(Duration::from_millis(59_001)).retry_after_secs(),
            Some(60)
        );
        assert_eq!(
            limited(Duration::from_millis(1)).retry_after_secs(),
            Some(1)
        );
        assert_eq!(SmsError::InvalidPhone.retry_after_secs(), None);
    }
}
