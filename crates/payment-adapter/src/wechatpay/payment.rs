//! The `wx.requestPayment` object the mini-program needs to show WeChat's payment sheet.

use super::models::RequestPayment;
use crate::keys::{RsaPrivateKey, SignatureError};

/// The text `paySign` covers: `appId\ntimeStamp\nnonceStr\npackage\n`.
pub fn pay_sign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> Vec<u8> {
    [app_id, time_stamp, nonce_str, package]
        .iter()
        .flat_map(|line| line.bytes().chain(std::iter::once(b'\n')))
        .collect()
}

/// Builds and signs the object for `prepay_id` with the merchant key. `app_id` must be the appid
/// the order was placed with (WeChat checks).
pub fn request_payment(
    app_id: &str,
    merchant_private_key: &RsaPrivateKey,
    prepay_id: &str,
    time_stamp: i64,
    nonce_str: &str,
) -> Result<RequestPayment, SignatureError> {
    let time_stamp = time_stamp.to_string();
    let package = format!("prepay_id={prepay_id}");
    let pay_sign = merchant_private_key.sign_base64(&pay_sign_message(
        app_id,
        &time_stamp,
        nonce_str,
        &package,
    ))?;
    Ok(RequestPayment {
        app_id: app_id.to_owned(),
        time_stamp,
        nonce_str: nonce_str.to_owned(),
        package,
        sign_type: "RSA".to_owned(),
        pay_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RsaPublicKey;

    fn dev_key(name: &str) -> String {
        format!(
            "{}/../../config/dev-keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// The pinned `paySign` is also what `openssl dgst -sha256 -sign` gives for the four lines.
    #[test]
    fn pay_sign_is_the_known_answer_over_the_four_lines() {
        let key = RsaPrivateKey::from_file(dev_key("wechatpay_merchant_private.pem")).unwrap();
        let payment = request_payment(
            "wxd0000000000dev0",
            &key,
            "wx201410272009395522657a690389285100",
            1716200000,
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        )
        .unwrap();

        assert_eq!(
            serde_json::to_value(&payment).unwrap(),
            serde_json::json!({
                "appId": "wxd0000000000dev0",
                "timeStamp": "1716200000",
                "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
                "package": "prepay_id=wx201410272009395522657a690389285100",
                "signType": "RSA",
                "paySign": "N71vV7mbRa5+y0qXdLaZpeUIoVYN67okkmfhYJfFYx2b4wbz/NVb7PM69d/SOkDLH2PB6V262vBhk8qK/qrIF2QHjgSWUouSEvvlUwX2hcoZJHjIK4R9PlKjTaZ30bU6kZtFjrMgP2qDaX0hLvOl0wEojO/YfBfLmxlgPwYYQjcKbESK9mMamA7A8whxvZap275bUr8pXBqbRNDdK1OsXQx0o0RnpBoNhJ6hFV25XSW2ybRibBDTx+vY/yJNlxPZAqfbjFgtEZkLFg+MWUorrFlcMgBzJt8GPkWXtsrP6boXWRVM9g2UfgVEzfYfS83GUSPQVppjX4FarJxYu2KItw==",
            })
        );
        let public = RsaPublicKey::from_file(dev_key("wechatpay_merchant_public.pem")).unwrap();
        public
            .verify_base64(
                b"wxd0000000000dev0\n1716200000\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n",
                &payment.pay_sign,
            )
            .unwrap();
    }
}
