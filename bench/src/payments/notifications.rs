//! The providers' side of a notification, as the bench plays it: a WeChat Pay v3
//! `TRANSACTION.SUCCESS` sealed with the APIv3 key and signed with the platform key, and an Alipay
//! `TRADE_SUCCESS` form signed RSA2 with Alipay's key — the same shapes the real providers (and
//! the mock) send, with the development keys of `config/dev-keys/`.

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use payment_adapter::alipay::{fen_to_yuan, sign_params};
use payment_adapter::keys::RsaPrivateKey;
use payment_adapter::wechatpay::ApiV3Key;
use serde_json::json;
use std::path::Path;
use uuid::Uuid;

/// The development merchant: the values of `config/default.toml` and of miniprogram-mock. The
/// bench also hands them to its gateway explicitly, so both ends agree.
pub const WECHATPAY_MCHID: &str = "1900000001";
pub const WECHATPAY_APPID: &str = "wxd0000000000dev0";
pub const WECHATPAY_APIV3_KEY: &str = "dev-only-apiv3-key-0123456789abc";
pub const WECHATPAY_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";
pub const ALIPAY_APP_ID: &str = "2021000000000000";

/// The booking a notification reports as paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    pub out_trade_no: String,
    pub amount_fen: i64,
    /// Alipay's `trade_no` from the booking answer (WeChat's id is derived from `out_trade_no`).
    pub provider_trade_no: String,
}

/// One WeChat Pay notification: the raw body and the four `Wechatpay-*` headers.
#[derive(Debug, Clone)]
pub struct WechatNotification {
    pub body: Vec<u8>,
    pub timestamp: String,
    pub nonce: String,
    pub serial: String,
    pub signature: String,
}

/// Signs and seals notifications as WeChat Pay does.
pub struct WechatPaySender {
    platform_key: RsaPrivateKey,
    apiv3_key: ApiV3Key,
}

impl WechatPaySender {
    pub fn from_dev_keys(root: &Path) -> anyhow::Result<Self> {
        let path = root.join("config/dev-keys/wechatpay_platform_private.pem");
        Ok(Self {
            platform_key: RsaPrivateKey::from_file(&path)
                .with_context(|| format!("loading {}", path.display()))?,
            apiv3_key: ApiV3Key::new(WECHATPAY_APIV3_KEY)?,
        })
    }

    /// A fresh `TRANSACTION.SUCCESS` for `order`, stamped `now`: new event id, header nonce and
    /// resource nonce each time, as every delivery of a distinct payment has.
    pub fn notification(
        &self,
        order: &PaidOrder,
        now: DateTime<Utc>,
    ) -> anyhow::Result<WechatNotification> {
        let beijing = beijing(now).to_rfc3339();
        let resource = json!({
            "mchid": WECHATPAY_MCHID,
            "appid": WECHATPAY_APPID,
            "out_trade_no": order.out_trade_no,
            "transaction_id": wechat_transaction_id(&order.out_trade_no),
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": beijing,
            "payer": {"openid": "o-bench-payer"},
            "amount": {
                "total": order.amount_fen,
                "payer_total": order.amount_fen,
                "currency": "CNY",
                "payer_currency": "CNY"
            }
        });
        let sealing_nonce = random_text::<12>();
        let ciphertext = self.apiv3_key.encrypt(
            &sealing_nonce,
            "transaction",
            resource.to_string().as_bytes(),
        );
        let body = json!({
            "id": Uuid::now_v7().to_string(),
            "create_time": beijing,
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "transaction",
                "nonce": String::from_utf8(sealing_nonce.to_vec())?,
            }
        })
        .to_string()
        .into_bytes();
        let timestamp = now.timestamp().to_string();
        let nonce = String::from_utf8(random_text::<32>().to_vec())?;
        let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(&body);
        message.push(b'\n');
        Ok(WechatNotification {
            signature: self.platform_key.sign_base64(&message)?,
            body,
            timestamp,
            nonce,
            serial: WECHATPAY_PUBLIC_KEY_ID.to_owned(),
        })
    }
}

/// WeChat's id of the payment: one per order (`ux_payments_provider_txn` is unique), in
/// WeChat's `4200…` style.
fn wechat_transaction_id(out_trade_no: &str) -> String {
    format!("4200{out_trade_no}")
}

/// Signs async notifications as Alipay does.
pub struct AlipaySender {
    platform_key: RsaPrivateKey,
}

impl AlipaySender {
    pub fn from_dev_keys(root: &Path) -> anyhow::Result<Self> {
        let path = root.join("config/dev-keys/alipay_platform_private.pem");
        Ok(Self {
            platform_key: RsaPrivateKey::from_file(&path)
                .with_context(|| format!("loading {}", path.display()))?,
        })
    }

    /// The form body of a `TRADE_SUCCESS` notification for `order`, stamped `now`.
    pub fn notification(&self, order: &PaidOrder, now: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
        let time = beijing(now).format("%Y-%m-%d %H:%M:%S").to_string();
        let amount = fen_to_yuan(order.amount_fen);
        let notify_id = String::from_utf8(random_text::<32>().to_vec())?;
        let fund_bill_list =
            json!([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]).to_string();
        let params: Vec<(&str, &str)> = vec![
            ("notify_time", &time),
            ("notify_type", "trade_status_sync"),
            ("notify_id", &notify_id),
            ("app_id", ALIPAY_APP_ID),
            ("auth_app_id", ALIPAY_APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("trade_no", &order.provider_trade_no),
            ("out_trade_no", &order.out_trade_no),
            (
                "buyer_open_id",
                "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
            ),
            ("seller_id", "2088000000000000"),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", &amount),
            ("receipt_amount", &amount),
            ("invoice_amount", &amount),
            ("buyer_pay_amount", &amount),
            ("point_amount", "0.00"),
            ("fund_bill_list", &fund_bill_list),
            ("subject", "门诊挂号费"),
            ("gmt_create", &time),
            ("gmt_payment", &time),
        ];
        // Payment notifications are signed without `sign_type` (and `sign`).
        let signed: Vec<(&str, &str)> = params
            .iter()
            .copied()
            .filter(|(key, _)| *key != "sign_type")
            .collect();
        let sign = sign_params(&signed, &self.platform_key)?;
        let mut all = params;
        all.push(("sign", &sign));
        Ok(serde_urlencoded::to_string(&all)?.into_bytes())
    }
}

fn beijing(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"))
}

/// `N` random lower-case hex characters (nonces and notify ids; uniqueness is what matters).
fn random_text<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut source = Uuid::new_v4().simple().to_string().into_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        if i > 0 && i % 32 == 0 {
            source = Uuid::new_v4().simple().to_string().into_bytes();
        }
        *byte = source[i % 32];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_adapter::keys::RsaPublicKey;
    use payment_adapter::wechatpay::{
        NotificationResource, PlatformKeys, SignatureHeaders, verify_notification,
    };

    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    fn order() -> PaidOrder {
        PaidOrder {
            out_trade_no: "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f".into(),
            amount_fen: 1250,
            provider_trade_no: "2026112222001400000000000001".into(),
        }
    }

    #[test]
    fn a_wechat_notification_verifies_and_opens_with_the_gateway_keys() {
        let now = Utc::now();
        let sent = WechatPaySender::from_dev_keys(root())
            .unwrap()
            .notification(&order(), now)
            .unwrap();
        let public =
            RsaPublicKey::from_file(root().join("config/dev-keys/wechatpay_platform_public.pem"))
                .unwrap();
        let keys = PlatformKeys::with_public_key(WECHATPAY_PUBLIC_KEY_ID, public);
        let headers = SignatureHeaders {
            timestamp: Some(&sent.timestamp),
            nonce: Some(&sent.nonce),
            signature: Some(&sent.signature),
            serial: Some(&sent.serial),
        };
        let opened = verify_notification(
            &keys,
            &ApiV3Key::new(WECHATPAY_APIV3_KEY).unwrap(),
            &headers,
            &sent.body,
            now,
        )
        .unwrap();
        let NotificationResource::Transaction(t) = opened.resource else {
            panic!("not a transaction: {opened:?}");
        };
        assert_eq!(t.out_trade_no, order().out_trade_no);
        assert_eq!(t.total_fen, Some(1250));
        assert_eq!(
            (t.mchid.as_str(), t.appid.as_str()),
            (WECHATPAY_MCHID, WECHATPAY_APPID)
        );
        assert_eq!(
            t.transaction_id.as_deref(),
            Some("42000192f0c0a0b07c3d8e9f0a1b2c3d4e5f")
        );
        assert_eq!(sent.nonce.len(), 32);
    }

    #[test]
    fn two_notifications_of_one_order_differ_in_id_and_nonces() {
        let sender = WechatPaySender::from_dev_keys(root()).unwrap();
        let now = Utc::now();
        let (a, b) = (
            sender.notification(&order(), now).unwrap(),
            sender.notification(&order(), now).unwrap(),
        );
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.body, b.body);
    }

    #[test]
    fn an_alipay_notification_verifies_with_alipays_public_key() {
        let body = AlipaySender::from_dev_keys(root())
            .unwrap()
            .notification(&order(), Utc::now())
            .unwrap();
        let public =
            RsaPublicKey::from_file(root().join("config/dev-keys/alipay_platform_public.pem"))
                .unwrap();
        let read =
            payment_adapter::alipay::verify_notification(&body, &public, ALIPAY_APP_ID).unwrap();
        assert_eq!(read.out_trade_no, order().out_trade_no);
        assert_eq!(read.trade_no, order().provider_trade_no);
        assert_eq!(read.total_fen, 1250);
        assert!(read.trade_status.is_paid());
        assert!(
            payment_adapter::alipay::verify_notification(&body, &public, "2021000000000001")
                .is_err(),
            "another app's notification is refused"
        );
    }

    #[test]
    fn random_text_is_hex_of_the_asked_length_and_does_not_repeat() {
        let a = random_text::<40>();
        assert!(a.iter().all(u8::is_ascii_hexdigit));
        assert_ne!(a, random_text::<40>());
    }
}
