//! Simulated Alipay OpenAPI classic gateway (`/gateway.do`), public-key mode.
//!
//! Like Alipay it takes the parameters from the query string and the form body, checks `app_id`
//! and our RSA2 request signature (with the app public key), and answers
//! `{"<method>_response" | "error_response": {...}, "sign": "..."}` where `sign` is the platform
//! key's SHA256withRSA over the exact text of the node. Methods are the arms of [`dispatch`].
//!
//! `alipay.system.oauth.token` codes: `invalid` → `isv.code-invalid`; `openid-only-…` → only
//! `open_id` (an app in open-id mode); anything else → a stable `user_id` and `open_id` per code.
//!
//! The payment methods (`alipay.trade.create`, `.query`, `.close`, `.refund`,
//! `.fastpay.refund.query`) keep the trades in memory ([`trades`], rules in [`trade_api`]). Test
//! hook `POST /mock/alipay/pay {"trade_no", "total_amount"?}` pays a trade and posts the signed
//! async notification to its `notify_url` (see [`pay_hook`], [`notification`]); a refund that
//! returns the last fen posts a `TRADE_CLOSED` notification too.
//!
//! Keys come from `MOCK_KEYS_DIR`, else `config/dev-keys` under the current directory, else under
//! `$GUAHAO_ROOT`, else in the source tree this binary was built from.

mod notification;
mod pay_hook;
mod trade_api;
mod trades;

use crate::dev_keys::keys_dir;
use crate::notify::{Notifier, Outgoing};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use payment_adapter::alipay::{response_node_name, string_to_sign, verify_params};
use payment_adapter::keys::{RsaPrivateKey, RsaPublicKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use std::sync::{Mutex, MutexGuard};
use trades::TradeBook;

/// The merchant's partner id in notifications (`seller_id`).
const SELLER_ID: &str = "2088000000000001";

/// Shared state of the alipay simulation, created once per process.
pub struct State {
    app_id: String,
    /// Checks our request signatures (`alipay_app_public.pem`).
    app_public_key: RsaPublicKey,
    /// Signs the answers as Alipay (`alipay_platform_private.pem`).
    platform_private_key: RsaPrivateKey,
    rng: SystemRandom,
    trades: Mutex<TradeBook>,
}

impl State {
    /// `MOCK_ALIPAY_APP_ID` (default `2021000000000000`, as `config/default.toml`) and the keys.
    pub fn from_env() -> anyhow::Result<Self> {
        let dir = keys_dir();
        let load = |name: &str| dir.join(name);
        let app_public_key = RsaPublicKey::from_file(load("alipay_app_public.pem"))
            .map_err(|e| anyhow::anyhow!("alipay mock app public key in {}: {e}", dir.display()))?;
        let platform_private_key = RsaPrivateKey::from_file(load("alipay_platform_private.pem"))
            .map_err(|e| {
                anyhow::anyhow!("alipay mock platform private key in {}: {e}", dir.display())
            })?;
        Ok(Self {
            app_id: std::env::var("MOCK_ALIPAY_APP_ID")
                .unwrap_or_else(|_| "2021000000000000".into()),
            app_public_key,
            platform_private_key,
            rng: SystemRandom::new(),
            trades: Mutex::default(),
        })
    }

    fn random_hex(&self, bytes: usize) -> Option<String> {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf).ok()?;
        Some(buf.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// 28 digits like Alipay's: the Beijing date, `22001`, and 15 random digits.
    fn new_trade_no(&self, now: NaiveDateTime) -> Option<String> {
        let mut buf = [0u8; 8];
        self.rng.fill(&mut buf).ok()?;
        let random = u64::from_be_bytes(buf) % 1_000_000_000_000_000;
        Some(format!("{}22001{random:015}", now.format("%Y%m%d")))
    }

    fn trades(&self) -> MutexGuard<'_, TradeBook> {
        // Every critical section leaves the book whole, so a panic elsewhere does not poison it.
        self.trades.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Alipay's clock: Beijing wall-clock time (UTC+8, no daylight saving).
fn beijing_now() -> NaiveDateTime {
    Utc::now().naive_utc() + TimeDelta::hours(8)
}

/// `yyyy-MM-dd HH:mm:ss`, as Alipay writes times.
fn alipay_time(time: NaiveDateTime) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Needs `web::Data<Notifier>` in the app for the notifications.
pub fn configure(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    cfg.app_data(state.clone())
        .service(
            web::resource("/gateway.do")
                .route(web::get().to(gateway))
                .route(web::post().to(gateway)),
        )
        .route("/mock/alipay/pay", web::post().to(pay_hook::pay));
}

/// One answer node before it is signed.
struct Reply {
    node: String,
    content: Value,
}

impl Reply {
    fn method(method: &str, content: Value) -> Self {
        Self {
            node: response_node_name(method),
            content,
        }
    }

    /// Alipay's answer to a call refused before (or instead of) running the method.
    fn error(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> Self {
        Self {
            node: "error_response".into(),
            content: json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}),
        }
    }

    fn missing(sub_code: &str, what: &str) -> Self {
        Self::error(
            "40001",
            "Missing Required Arguments",
            sub_code,
            &format!("缺少{what}参数"),
        )
    }

    fn invalid(sub_code: &str, sub_msg: &str) -> Self {
        Self::error("40002", "Invalid Arguments", sub_code, sub_msg)
    }

    /// A method's business refusal (`40004`), answered in the method's own node.
    fn business(method: &str, sub_code: &str, sub_msg: &str) -> Self {
        Self::method(
            method,
            json!({"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}),
        )
    }

    fn unavailable() -> Self {
        Self::error(
            "20000",
            "Service Currently Unavailable",
            "aop.unknow-error",
            "系统繁忙",
        )
    }

    /// The node as text, and `sign` over exactly that text beside it at top level.
    fn into_response(self, key: &RsaPrivateKey) -> HttpResponse {
        let raw = self.content.to_string();
        match key.sign_base64(raw.as_bytes()) {
            Ok(sign) => HttpResponse::Ok()
                .content_type("application/json;charset=utf-8")
                .body(format!(r#"{{"{}":{raw},"sign":"{sign}"}}"#, self.node)),
            Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
        }
    }
}

async fn gateway(
    state: web::Data<State>,
    notifier: web::Data<Notifier>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut outbox = Vec::new();
    let reply = parameters(req.query_string(), &body)
        .and_then(|params| handle(&state, &params, &mut outbox))
        .unwrap_or_else(|refusal| refusal);
    for notification in outbox {
        notifier.dispatch(notification);
    }
    reply.into_response(&state.platform_private_key)
}

/// Query string and form body together; a parameter given twice is refused.
fn parameters(query: &str, body: &[u8]) -> Result<Vec<(String, String)>, Reply> {
    let unreadable = || Reply::invalid("isv.invalid-parameter", "参数格式错误");
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| unreadable())?;
    if !body.is_empty() {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| unreadable())?;
        params.extend(form);
    }
    for (i, (key, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(Reply::invalid(
                "isv.invalid-parameter",
                &format!("参数{key}重复"),
            ));
        }
    }
    Ok(params)
}

/// A non-empty parameter.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// The gateway's checks in Alipay's order, then the method. Notifications the method causes are
/// left in `outbox`.
fn handle(
    state: &State,
    params: &[(String, String)],
    outbox: &mut Vec<Outgoing>,
) -> Result<Reply, Reply> {
    let require = |name: &str, sub_code: &str| {
        param(params, name).ok_or_else(|| Reply::missing(sub_code, name))
    };
    let app_id = require("app_id", "isv.missing-app-id")?;
    let method = require("method", "isv.missing-method")?;
    let sign_type = require("sign_type", "isv.missing-signature-type")?;
    let sign = require("sign", "isv.missing-signature")?;
    let timestamp = require("timestamp", "isv.missing-timestamp")?;
    require("version", "isv.missing-version")?;
    if app_id != state.app_id {
        return Err(Reply::invalid("isv.invalid-app-id", "无效的AppID参数"));
    }
    if sign_type != "RSA2" {
        return Err(Reply::invalid(
            "isv.invalid-signature-type",
            "无效的签名类型",
        ));
    }
    if param(params, "charset").is_some_and(|c| !c.eq_ignore_ascii_case("utf-8")) {
        return Err(Reply::invalid("isv.invalid-charset", "字符集错误"));
    }
    if chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S").is_err() {
        return Err(Reply::invalid("isv.invalid-timestamp", "非法的时间戳参数"));
    }
    let signed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if verify_params(&signed, sign, &state.app_public_key).is_err() {
        return Err(Reply::invalid(
            "isv.invalid-signature",
            &format!(
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{}",
                string_to_sign(&signed)
            ),
        ));
    }
    Ok(dispatch(state, method, params, outbox))
}

/// One arm per simulated API.
fn dispatch(
    state: &State,
    method: &str,
    params: &[(String, String)],
    outbox: &mut Vec<Outgoing>,
) -> Reply {
    let now = beijing_now();
    let answer: trade_api::Answer = match method {
        "alipay.system.oauth.token" => Ok(oauth_token(state, params)),
        "alipay.trade.create" => trade_api::create(state, params, now),
        "alipay.trade.query" => trade_api::query(state, params, now),
        "alipay.trade.close" => trade_api::close(state, params, now),
        "alipay.trade.refund" => trade_api::refund(state, params, now, outbox),
        "alipay.trade.fastpay.refund.query" => trade_api::refund_query(state, params, now),
        _ => Err(Reply::invalid("isv.invalid-method", "不存在的方法名")),
    };
    answer.unwrap_or_else(|refusal| refusal)
}

/// `alipay.system.oauth.token`: success carries no `code`, failures come in `error_response`.
fn oauth_token(state: &State, params: &[(String, String)]) -> Reply {
    if param(params, "grant_type") != Some("authorization_code") {
        return Reply::invalid("isv.grant-type-invalid", "grant_type参数值无效");
    }
    let code = match param(params, "code") {
        None | Some("invalid") => return Reply::invalid("isv.code-invalid", "授权码code无效"),
        Some(code) => code,
    };
    let (Some(access), Some(refresh)) = (state.random_hex(20), state.random_hex(20)) else {
        return Reply::unavailable();
    };
    let auth_start = alipay_time(beijing_now());
    let mut content = json!({
        "access_token": format!("authusrB{access}"),
        "refresh_token": format!("authusrB{refresh}"),
        "expires_in": 1296000,
        "re_expires_in": 2592000,
        "auth_start": auth_start,
        "open_id": open_id(code),
    });
    if !code.starts_with("openid-only-") {
        content["user_id"] = user_id(code).into();
    }
    Reply::method("alipay.system.oauth.token", content)
}

fn digest(purpose: &str, code: &str) -> ring::digest::Digest {
    ring::digest::digest(
        &ring::digest::SHA256,
        format!("{purpose}:{code}").as_bytes(),
    )
}

/// `2088` and 12 digits, stable per code.
fn user_id(code: &str) -> String {
    let d = digest("user_id", code);
    let n = d.as_ref()[..8]
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    format!("2088{:012}", n % 1_000_000_000_000)
}

/// `0` and 45 hex digits, stable per code (Alipay's open_ids are ~46 characters starting `0`).
fn open_id(code: &str) -> String {
    let hex: String = digest("open_id", code)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("0{}", &hex[..45])
}

#[cfg(test)]
mod tests;
