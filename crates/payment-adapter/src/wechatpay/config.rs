use super::api_v3_key::ApiV3Key;
use super::platform_keys::PlatformKeys;
use crate::keys::RsaPrivateKey;

/// One merchant's WeChat Pay settings (`[wechatpay]`), keys already loaded. `Debug` shows no
/// secret.
#[derive(Debug)]
pub struct WechatPayConfig {
    /// `https://api.mch.weixin.qq.com` in production; the mock in development.
    pub base_url: String,
    pub mchid: String,
    /// The mini-program's appid, bound to `mchid`.
    pub appid: String,
    /// Serial of the merchant API certificate (`apiclient_cert.pem`) whose key signs requests.
    pub merchant_serial_no: String,
    pub merchant_private_key: RsaPrivateKey,
    /// Opens notification resources.
    pub apiv3_key: ApiV3Key,
    /// WeChat Pay's keys, which sign its answers and notifications.
    pub platform_keys: PlatformKeys,
}
