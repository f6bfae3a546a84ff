//! The payment providers as the gateway runs them: built from `[wechatpay]` and `[alipay]`,
//! handed to the booking domain as [`Providers`], and kept here for the callback routes, which
//! verify what the providers post.

pub mod alipay;
pub mod wechatpay;

use crate::settings::Settings;
use anyhow::Context;
use booking_core::payments::Providers;
use payment_adapter::alipay::AlipayClient;
use payment_adapter::keys::{RsaPrivateKey, RsaPublicKey};
use payment_adapter::wechatpay::{ApiV3Key, PlatformKeys, WechatPayClient, WechatPayConfig};
use std::sync::Arc;

/// What the callback routes verify notifications with.
pub struct PaymentChannels {
    pub wechatpay: Arc<wechatpay::WechatPay>,
    pub alipay_app_id: String,
    pub alipay_public_key: RsaPublicKey,
}

impl std::fmt::Debug for PaymentChannels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentChannels")
            .field("alipay_app_id", &self.alipay_app_id)
            .finish_non_exhaustive()
    }
}

/// Both providers, sharing the Alipay client with the login (one key pair, one verification).
pub fn build(
    settings: &Settings,
    http: reqwest::Client,
    alipay_client: Arc<AlipayClient>,
) -> anyhow::Result<(Providers, PaymentChannels)> {
    let wx = &settings.wechatpay;
    let platform_key = RsaPublicKey::from_file(settings.path(&wx.platform_public_key_path))
        .context("wechatpay.platform_public_key_path")?;
    let mut platform_keys =
        PlatformKeys::with_public_key(wx.platform_public_key_id.clone(), platform_key);
    for (i, certificate) in wx.platform_certificates.iter().enumerate() {
        let key = RsaPublicKey::from_file(settings.path(&certificate.public_key_path))
            .with_context(|| format!("wechatpay.platform_certificates[{i}].public_key_path"))?;
        platform_keys.add_certificate(&certificate.serial_no, key);
    }
    let config = WechatPayConfig {
        base_url: wx.base_url.clone(),
        mchid: wx.mchid.clone(),
        appid: wx.appid.clone(),
        merchant_serial_no: wx.merchant_serial_no.clone(),
        merchant_private_key: RsaPrivateKey::from_file(
            settings.path(&wx.merchant_private_key_path),
        )
        .context("wechatpay.merchant_private_key_path")?,
        apiv3_key: ApiV3Key::new(wx.apiv3_key.expose()).context("wechatpay.apiv3_key")?,
        platform_keys,
    };
    let client = WechatPayClient::new(config, http).context("[wechatpay]")?;
    let wechatpay = Arc::new(wechatpay::WechatPay::new(
        client,
        &settings.server.public_base_url,
    ));
    let alipay_public_key =
        RsaPublicKey::from_file(settings.path(&settings.alipay.alipay_public_key_path))
            .context("alipay.alipay_public_key_path")?;
    let providers = Providers::new(
        wechatpay.clone(),
        Arc::new(alipay::Alipay::new(
            alipay_client,
            &settings.server.public_base_url,
        )),
    );
    Ok((
        providers,
        PaymentChannels {
            wechatpay,
            alipay_app_id: settings.alipay.app_id.clone(),
            alipay_public_key,
        },
    ))
}
