//! `getuserphonenumber`: the code from `<button open-type="getPhoneNumber">` (not the `wx.login`
//! code) for the user's phone number.

use super::{AccessToken, WechatClient, WechatError, api};
use crate::mask_phone;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// The number WeChat vouches for. PII: `Debug` shows it masked (`138****8000`).
#[derive(Clone, PartialEq, Eq)]
pub struct WechatPhone {
    /// With the country code for numbers outside mainland China.
    pub phone_number: String,
    /// Without the country code.
    pub pure_phone_number: String,
    /// `86` for mainland China.
    pub country_code: String,
}

impl fmt::Debug for WechatPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPhone")
            .field("phone_number", &mask_phone(&self.phone_number))
            .field("pure_phone_number", &mask_phone(&self.pure_phone_number))
            .field("country_code", &self.country_code)
            .finish()
    }
}

#[derive(Deserialize)]
struct Answer {
    phone_info: PhoneInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    phone_number: String,
    pure_phone_number: String,
    /// The docs show it as a number, the API sends a string: both are accepted.
    #[serde(deserialize_with = "text_or_number")]
    country_code: String,
    #[serde(default)]
    watermark: Option<Watermark>,
}

#[derive(Deserialize)]
struct Watermark {
    appid: String,
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or a number")),
    }
}

impl WechatClient {
    /// `POST /wxa/business/getuserphonenumber`. A token WeChat refuses as invalid or expired
    /// (40001, 42001) is replaced once and the call repeated; the phone code is still unused
    /// then, because WeChat checks the token first.
    pub async fn phone_number(&self, code: &str) -> Result<WechatPhone, WechatError> {
        if code.is_empty() {
            return Err(WechatError::InvalidCode);
        }
        let token = self.tokens.get().await?;
        let info = match self.request_phone(&token, code).await {
            Err(error) if error.is_stale_access_token() => {
                let token = self.tokens.replace(&token).await?;
                self.request_phone(&token, code).await?
            }
            other => other?,
        };
        if info
            .watermark
            .as_ref()
            .is_some_and(|w| w.appid != self.app.appid)
        {
            return Err(WechatError::Malformed {
                what: "phone number watermark is for another appid",
            });
        }
        Ok(WechatPhone {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code: info.country_code,
        })
    }

    async fn request_phone(
        &self,
        token: &AccessToken,
        code: &str,
    ) -> Result<PhoneInfo, WechatError> {
        let app = &self.app;
        let request = app
            .http
            .post(app.url("/wxa/business/getuserphonenumber"))
            .query(&[("access_token", token.expose())])
            .json(&serde_json::json!({ "code": code }));
        let answer: Answer = api::send(request, "getuserphonenumber").await?;
        Ok(answer.phone_info)
    }
}
