//! SMS verification codes for binding a phone and for login.
//!
//! - A code is 6 uniformly random digits, lives 5 minutes, is single use, and dies after 5
//!   wrong attempts ([`CodePolicy`]). Only its keyed digest is stored ([`CodeHasher`]), per
//!   (purpose, phone) in a [`CodeStore`]: Redis or in-process, same contract. The record is
//!   kept an hour past the code's expiry ([`RECORD_GRACE`]), so a failed verification can say
//!   whether the code expired, was already used, or was never sent.
//! - Sends are limited per phone (1 per 60 s, 5 per hour, 10 per day) and per client IP
//!   (50 per hour) on `kv_store::RateCounter` windows ([`SmsLimits`]); a refusal carries the
//!   time to wait, for a 429 with `Retry-After`.
//! - Codes go out through an [`SmsSender`]: Aliyun or Tencent Cloud SMS with their real
//!   request signatures, or the console for development.
//!
//! [`SmsVerifier`] puts these together and is what the gateway calls.

mod code;
mod limits;
pub mod provider;
mod store;
mod verifier;

pub use code::{
    CODE_LEN, CodeDigest, CodeHasher, CodePolicy, PHONE_LEN, Purpose, RandomUnavailable,
    UnknownPurpose, generate_code, is_plain_phone, is_well_formed_code,
};
pub use limits::{LimitScope, SmsLimits};
pub use provider::{
    AliyunConfig, AliyunSms, ConsoleSms, SendError, SetupError, SmsSender, TencentConfig,
    TencentSms, aliyun, mask_phone, tencent,
};
pub use store::{
    Attempt, CodeStore, InMemoryCodeStore, RECORD_GRACE, RedisCodeStore, code_store_from_config,
};
pub use verifier::{SendReceipt, SmsError, SmsVerifier, VerifyError};
