//! Notification checking without HTTP or a database, on one thread: what one core does per
//! second, to set beside `openssl speed rsa2048` measured in the same run.

use super::notifications::{
    ALIPAY_APP_ID, WECHATPAY_APIV3_KEY, WECHATPAY_PUBLIC_KEY_ID, WechatNotification,
};
use anyhow::{Context, bail};
use chrono::Utc;
use payment_adapter::keys::RsaPublicKey;
use payment_adapter::wechatpay::{ApiV3Key, PlatformKeys, SignatureHeaders, verify_notification};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// How many operations a loop did in how long.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopRate {
    pub operations: u64,
    pub seconds: f64,
    pub per_second: f64,
}

/// The gateway's view of the providers: the keys it verifies with, loaded as it loads them.
pub struct Verifiers {
    wechat_keys: PlatformKeys,
    wechat_public_key: RsaPublicKey,
    apiv3_key: ApiV3Key,
    alipay_public_key: RsaPublicKey,
}

impl Verifiers {
    pub fn from_dev_keys(root: &Path) -> anyhow::Result<Self> {
        let public = |name: &str| {
            let path = root.join("config/dev-keys").join(name);
            RsaPublicKey::from_file(&path).with_context(|| format!("loading {}", path.display()))
        };
        let wechat_public_key = public("wechatpay_platform_public.pem")?;
        Ok(Self {
            wechat_keys: PlatformKeys::with_public_key(
                WECHATPAY_PUBLIC_KEY_ID,
                wechat_public_key.clone(),
            ),
            wechat_public_key,
            apiv3_key: ApiV3Key::new(WECHATPAY_APIV3_KEY)?,
            alipay_public_key: public("alipay_platform_public.pem")?,
        })
    }

    /// What the gateway does before touching the database: headers, clock, signature over the
    /// raw body, envelope, AES-256-GCM, resource JSON.
    pub fn wechat(&self, n: &WechatNotification) -> anyhow::Result<()> {
        let headers = SignatureHeaders {
            timestamp: Some(&n.timestamp),
            nonce: Some(&n.nonce),
            signature: Some(&n.signature),
            serial: Some(&n.serial),
        };
        black_box(verify_notification(
            &self.wechat_keys,
            &self.apiv3_key,
            &headers,
            &n.body,
            Utc::now(),
        )?);
        Ok(())
    }

    /// The signature check alone (the RSA floor of [`Verifiers::wechat`]), on the same message.
    pub fn wechat_signature_only(&self, n: &WechatNotification) -> anyhow::Result<()> {
        let mut message = Vec::with_capacity(n.body.len() + 64);
        message.extend_from_slice(n.timestamp.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(n.nonce.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(&n.body);
        message.push(b'\n');
        self.wechat_public_key
            .verify_base64(&message, &n.signature)?;
        Ok(())
    }

    /// The gateway's Alipay check: form parsing, app id, RSA2 over the sorted parameters, fields.
    pub fn alipay(&self, body: &[u8]) -> anyhow::Result<()> {
        black_box(payment_adapter::alipay::verify_notification(
            body,
            &self.alipay_public_key,
            ALIPAY_APP_ID,
        )?);
        Ok(())
    }
}

/// Calls `check` on `items` round-robin on the calling thread until at least `min_time` has
/// passed; any failure stops the loop (a figure for work that failed would mean nothing).
pub fn run_for<T>(
    items: &[T],
    min_time: Duration,
    mut check: impl FnMut(&T) -> anyhow::Result<()>,
) -> anyhow::Result<LoopRate> {
    if items.is_empty() {
        bail!("nothing to check");
    }
    let started = Instant::now();
    let mut operations: u64 = 0;
    let mut next = 0;
    loop {
        // Reading the clock every call would cost more than a few percent of a fast check.
        for _ in 0..32 {
            check(&items[next]).with_context(|| format!("check {operations} failed"))?;
            next = (next + 1) % items.len();
            operations += 1;
        }
        let elapsed = started.elapsed();
        if elapsed >= min_time {
            let seconds = elapsed.as_secs_f64();
            return Ok(LoopRate {
                operations,
                seconds,
                per_second: operations as f64 / seconds,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::notifications::{AlipaySender, PaidOrder, WechatPaySender};

    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    fn order(n: usize) -> PaidOrder {
        PaidOrder {
            out_trade_no: format!("{n:032}"),
            amount_fen: 500,
            provider_trade_no: format!("2026{n:024}"),
        }
    }

    #[test]
    fn the_loop_visits_every_item_in_turn_and_reports_its_rate() {
        let items = [0usize, 1, 2];
        let mut seen = Vec::new();
        let rate = run_for(&items, Duration::ZERO, |i| {
            seen.push(*i);
            Ok(())
        })
        .unwrap();
        assert_eq!(rate.operations, 32);
        assert_eq!(seen[..7], [0, 1, 2, 0, 1, 2, 0]);
        assert!(rate.per_second > 0.0);
    }

    #[test]
    fn a_failed_check_fails_the_loop() {
        let error = run_for(&[1, 2], Duration::from_secs(60), |i| {
            if *i == 2 { bail!("no") } else { Ok(()) }
        })
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("check 1 failed: no"),
            "{error:#}"
        );
        assert!(run_for::<u8>(&[], Duration::ZERO, |_| Ok(())).is_err());
    }

    #[test]
    fn genuine_notifications_pass_and_altered_ones_fail() {
        let verifiers = Verifiers::from_dev_keys(root()).unwrap();
        let wechat = WechatPaySender::from_dev_keys(root())
            .unwrap()
            .notification(&order(1), Utc::now())
            .unwrap();
        verifiers.wechat(&wechat).unwrap();
        verifiers.wechat_signature_only(&wechat).unwrap();
        let mut altered = wechat.clone();
        altered.body[10] ^= 1;
        assert!(verifiers.wechat(&altered).is_err());
        assert!(verifiers.wechat_signature_only(&altered).is_err());

        let alipay = AlipaySender::from_dev_keys(root())
            .unwrap()
            .notification(&order(2), Utc::now())
            .unwrap();
        verifiers.alipay(&alipay).unwrap();
        let altered = String::from_utf8(alipay)
            .unwrap()
            .replace("total_amount=5.00", "total_amount=0.01");
        assert!(verifiers.alipay(altered.as_bytes()).is_err());
    }
}
