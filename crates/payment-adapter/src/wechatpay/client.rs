//! The API v3 client: signs each request, verifies each answer before reading it, and turns
//! WeChat's `{code, message}` refusals into [`WechatPayError::Api`].

use super::models::{
    AmountBody, JsapiOrderBody, PayerBody, PrepayAnswer, RefundAmountBody, RefundBody,
    beijing_rfc3339,
};
use super::notification::{NotifyError, WechatPayNotification, verify_notification};
use super::payment::request_payment;
use super::platform_keys::{HEADER_SERIAL, SignatureHeaders};
use super::signing::{Merchant, authorization_header};
use super::{
    JsapiOrder, Refund, RefundRequest, RequestPayment, Transaction, WechatPayConfig, WechatPayError,
};
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, USER_AGENT};
use reqwest::{Method, Url};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// WeChat asks for a `User-Agent` and refuses some requests without one.
const CLIENT_USER_AGENT: &str = concat!("guahao-payment-adapter/", env!("CARGO_PKG_VERSION"));
/// Per request, connection included; WeChat answers within a few seconds or not at all.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an unexpected answer is kept for the log.
const DETAIL_LIMIT: usize = 200;

/// One merchant's client of WeChat Pay API v3 (direct merchant, JSAPI / mini-program).
#[derive(Debug)]
pub struct WechatPayClient {
    config: WechatPayConfig,
    base_url: Url,
    http: reqwest::Client,
    timeout: Duration,
    rng: SystemRandom,
}

impl WechatPayClient {
    /// `http` is shared with the rest of the process; every call here adds its own timeout
    /// ([`DEFAULT_TIMEOUT`] unless [`with_timeout`](Self::with_timeout)).
    pub fn new(config: WechatPayConfig, http: reqwest::Client) -> Result<Self, WechatPayError> {
        let base_url = Url::parse(config.base_url.trim_end_matches('/'))
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.query().is_none())
            .ok_or(WechatPayError::InvalidArgument {
                field: "base_url",
                rule: "an absolute http(s) URL without a query",
            })?;
        Ok(Self {
            config,
            base_url,
            http,
            timeout: DEFAULT_TIMEOUT,
            rng: SystemRandom::new(),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn config(&self) -> &WechatPayConfig {
        &self.config
    }

    /// Places a JSAPI order; returns its `prepay_id`, for
    /// [`request_payment`](Self::request_payment).
    /// Placing the same order again returns a fresh prepay_id; the same `out_trade_no` with other
    /// contents is refused.
    pub async fn jsapi_prepay(&self, order: &JsapiOrder) -> Result<String, WechatPayError> {
        check_out_trade_no(&order.out_trade_no)?;
        check_positive("amount_fen", order.amount_fen)?;
        let body = to_json(&JsapiOrderBody {
            appid: &self.config.appid,
            mchid: &self.config.mchid,
            description: &order.description,
            out_trade_no: &order.out_trade_no,
            time_expire: beijing_rfc3339(order.time_expire),
            notify_url: &order.notify_url,
            amount: AmountBody {
                total: order.amount_fen,
                currency: "CNY",
            },
            payer: PayerBody {
                openid: &order.payer_openid,
            },
        });
        let answer: PrepayAnswer = self
            .call(Method::POST, "/v3/pay/transactions/jsapi", body)
            .await?;
        Ok(answer.prepay_id)
    }

    /// The signed `wx.requestPayment` object for `prepay_id`, stamped now with a fresh nonce.
    pub fn request_payment(&self, prepay_id: &str) -> Result<RequestPayment, WechatPayError> {
        Ok(request_payment(
            &self.config.appid,
            &self.config.merchant_private_key,
            prepay_id,
            Utc::now().timestamp(),
            &self.nonce()?,
        )?)
    }

    /// The order as WeChat has it (`trade_state`, and once paid `transaction_id`, `success_time`).
    pub async fn query_order(&self, out_trade_no: &str) -> Result<Transaction, WechatPayError> {
        check_out_trade_no(out_trade_no)?;
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.config.mchid
        );
        self.call(Method::GET, &path, Vec::new()).await
    }

    /// Closes an unpaid order so it can no longer be paid (WeChat answers 204). A paid order
    /// cannot be closed: that refusal comes back as [`WechatPayError::Api`].
    pub async fn close_order(&self, out_trade_no: &str) -> Result<(), WechatPayError> {
        check_out_trade_no(out_trade_no)?;
        #[derive(serde::Serialize)]
        struct CloseBody<'a> {
            mchid: &'a str,
        }
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        let body = to_json(&CloseBody {
            mchid: &self.config.mchid,
        });
        self.send(Method::POST, &path, body).await.map(drop)
    }

    /// Asks for a refund; usually answers `PROCESSING`, the outcome arrives by notification or
    /// [`query_refund`](Self::query_refund).
    pub async fn refund(&self, refund: &RefundRequest) -> Result<Refund, WechatPayError> {
        check_out_trade_no(&refund.out_trade_no)?;
        check_out_refund_no(&refund.out_refund_no)?;
        check_positive("refund_fen", refund.refund_fen)?;
        check_positive("total_fen", refund.total_fen)?;
        if refund.refund_fen > refund.total_fen {
            return Err(WechatPayError::InvalidArgument {
                field: "refund_fen",
                rule: "at most total_fen",
            });
        }
        let body = to_json(&RefundBody {
            out_trade_no: &refund.out_trade_no,
            out_refund_no: &refund.out_refund_no,
            reason: refund.reason.as_deref(),
            notify_url: refund.notify_url.as_deref(),
            amount: RefundAmountBody {
                refund: refund.refund_fen,
                total: refund.total_fen,
                currency: "CNY",
            },
        });
        self.call(Method::POST, "/v3/refund/domestic/refunds", body)
            .await
    }

    pub async fn query_refund(&self, out_refund_no: &str) -> Result<Refund, WechatPayError> {
        check_out_refund_no(out_refund_no)?;
        let path = format!("/v3/refund/domestic/refunds/{out_refund_no}");
        self.call(Method::GET, &path, Vec::new()).await
    }

    /// [`verify_notification`] with this merchant's keys.
    pub fn verify_notification(
        &self,
        headers: &SignatureHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WechatPayNotification, NotifyError> {
        verify_notification(
            &self.config.platform_keys,
            &self.config.apiv3_key,
            headers,
            body,
            now,
        )
    }

    /// Sends, verifies and reads a JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<T, WechatPayError> {
        let (status, answer) = self.send(method, path_and_query, body).await?;
        serde_json::from_slice(&answer).map_err(|e| WechatPayError::Unexpected {
            status,
            detail: format!("{e}: {}", excerpt(&answer)),
        })
    }

    /// Sends one signed request; returns the status and the verified body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), WechatPayError> {
        let url = Url::parse(&format!(
            "{}{path_and_query}",
            self.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|_| WechatPayError::InvalidArgument {
            field: "path",
            rule: "must form a valid URL",
        })?;
        // Sign what is actually sent: the URL as reqwest will write it, after any escaping.
        let signed_target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = self.nonce()?;
        let authorization = authorization_header(
            Merchant {
                mchid: &self.config.mchid,
                serial_no: &self.config.merchant_serial_no,
                private_key: &self.config.merchant_private_key,
            },
            method.as_str(),
            &signed_target,
            &timestamp,
            &nonce,
            &body,
        )?;
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, CLIENT_USER_AGENT);
        // In public-key mode this asks WeChat to sign its answer with that key.
        if let Some(id) = self.config.platform_keys.public_key_id() {
            request = request.header(HEADER_SERIAL, id);
        }
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let answer = response.bytes().await?;
        let authentic = if answer.is_empty() {
            Ok(())
        } else {
            self.config
                .platform_keys
                .verify(&signature_headers(&headers), &answer, Utc::now())
                .map(drop)
        };
        if (200..300).contains(&status) {
            authentic?;
            return Ok((status, answer.into()));
        }
        #[derive(Deserialize)]
        struct Refusal {
            code: String,
            message: String,
        }
        match serde_json::from_slice::<Refusal>(&answer) {
            Ok(refusal) => Err(WechatPayError::Api {
                status,
                code: refusal.code,
                message: refusal.message,
                authenticated: authentic.is_ok(),
            }),
            Err(_) => Err(WechatPayError::Unexpected {
                status,
                detail: excerpt(&answer),
            }),
        }
    }

    /// 32 upper-case hex characters, as the official SDKs make them.
    fn nonce(&self) -> Result<String, WechatPayError> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| WechatPayError::Random)?;
        Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
    }
}

fn signature_headers(headers: &HeaderMap) -> SignatureHeaders<'_> {
    SignatureHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
}

fn to_json(body: &impl serde::Serialize) -> Vec<u8> {
    // Our request bodies are strings and integers only, which always serialize.
    serde_json::to_vec(body).expect("request body serializes")
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(DETAIL_LIMIT).collect()
}

fn check_positive(field: &'static str, fen: i64) -> Result<(), WechatPayError> {
    if fen > 0 {
        Ok(())
    } else {
        Err(WechatPayError::InvalidArgument {
            field,
            rule: "must be a positive number of fen",
        })
    }
}

/// Also keeps the number from changing the URL it is put into (`/`, `?`, `#`, `%`).
fn check_out_trade_no(value: &str) -> Result<(), WechatPayError> {
    let valid = (6..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    valid.then_some(()).ok_or(WechatPayError::InvalidArgument {
        field: "out_trade_no",
        rule: "6 to 32 of [0-9A-Za-z_-|*]",
    })
}

fn check_out_refund_no(value: &str) -> Result<(), WechatPayError> {
    let valid = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b));
    valid.then_some(()).ok_or(WechatPayError::InvalidArgument {
        field: "out_refund_no",
        rule: "1 to 64 of [0-9A-Za-z_-|*@]",
    })
}

#[cfg(test)]
mod tests;
