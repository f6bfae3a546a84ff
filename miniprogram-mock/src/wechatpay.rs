//! Simulated WeChat Pay API v3 (`api.mch.weixin.qq.com`) for one direct merchant taking
//! mini-program (JSAPI) payments.
//!
//! Like WeChat it checks every request's `Authorization: WECHATPAY2-SHA256-RSA2048 …` (known
//! mchid, the merchant certificate serial, timestamp within 5 minutes, signature by
//! `wechatpay_merchant_public.pem`; else 401 `SIGN_ERROR`), answers `{code, message}` errors, and
//! signs every answer with `wechatpay_platform_private.pem` in the `Wechatpay-*` headers under
//! the serial `MOCK_WECHATPAY_SERIAL`. The verification code is the adapter's own
//! (`payment_adapter::wechatpay`), so the two sides cannot disagree on the signed text.
//!
//! Settings (defaults match `config/default.toml`): `MOCK_WECHATPAY_MCHID`,
//! `MOCK_WECHATPAY_APPID`, `MOCK_WECHATPAY_MERCHANT_SERIAL`, `MOCK_WECHATPAY_SERIAL`,
//! `MOCK_WECHATPAY_APIV3_KEY`; keys from `MOCK_KEYS_DIR` (as the Alipay simulation).
//!
//! Test hook: `POST /mock/wechatpay/pay {"prepay_id": "…", "amount_fen": optional}` pays the
//! order (409 when it is not payable or past `time_expire`) and sends `TRANSACTION.SUCCESS` to its
//! `notify_url`; `amount_fen` makes WeChat report another amount, as a tampered payment would.
//! Refunds answer `PROCESSING`, then complete at once: `REFUND.SUCCESS` goes to the refund's
//! `notify_url` and the refund query says `SUCCESS`.

mod ledger;

use crate::dev_keys::keys_dir;
use crate::notify::{Notifier, Outgoing};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use ledger::{Ledger, NewOrder, NewRefund, Refusal};
use payment_adapter::keys::{RsaPrivateKey, RsaPublicKey};
use payment_adapter::wechatpay::{
    ApiV3Key, Authorization, HEADER_NONCE, HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S, response_message,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};

/// WeChat Pay's notification retry schedule after a failed delivery: 15 retries, ~24 h 4 min.
const RETRY_DELAYS_S: &[u64] = &[
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// Shared state of the WeChat Pay simulation, created once per process.
pub struct State {
    mchid: String,
    appid: String,
    merchant_serial: String,
    /// Checks our request signatures.
    merchant_public_key: RsaPublicKey,
    /// Signs answers and notifications as WeChat Pay.
    /// Signs answers and notifications as WeChat Pay.
    signer: Arc<PlatformSigner>,
    apiv3_key: ApiV3Key,
    ledger: Mutex<Ledger>,
    rng: SystemRandom,
}

impl State {
    pub fn from_env() -> anyhow::Result<Self> {
        let env =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        let dir = keys_dir();
        let merchant_public_key =
            RsaPublicKey::from_file(dir.join("wechatpay_merchant_public.pem")).map_err(|e| {
                anyhow::anyhow!(
                    "wechatpay mock merchant public key in {}: {e}",
                    dir.display()
                )
            })?;
        let platform_private_key =
            RsaPrivateKey::from_file(dir.join("wechatpay_platform_private.pem")).map_err(|e| {
                anyhow::anyhow!(
                    "wechatpay mock platform private key in {}: {e}",
                    dir.display()
                )
            })?;
        let apiv3_key = ApiV3Key::new(&env(
            "MOCK_WECHATPAY_APIV3_KEY",
            "dev-only-apiv3-key-0123456789abc",
        ))
        .map_err(|e| anyhow::anyhow!("MOCK_WECHATPAY_APIV3_KEY: {e}"))?;
        Ok(Self {
            mchid: env("MOCK_WECHATPAY_MCHID", "1900000001"),
            appid: env("MOCK_WECHATPAY_APPID", "wxd0000000000dev0"),
            merchant_serial: env(
                "MOCK_WECHATPAY_MERCHANT_SERIAL",
                "DEV0000000000000000000000000000000000001",
            ),
            merchant_public_key,
            signer: Arc::new(PlatformSigner {
                key: platform_private_key,
                serial: env(
                    "MOCK_WECHATPAY_SERIAL",
                    "PUB_KEY_ID_0000000000000000000000000000DEV1",
                ),
            }),
            apiv3_key,
            ledger: Mutex::new(Ledger::default()),
            rng: SystemRandom::new(),
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // Every ledger operation checks before it changes anything, so a panic cannot leave an
        // order half-updated; keep serving.
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut bytes = [0u8; N];
        // The OS random source does not fail on the systems this runs on; zeros would still
        // give working (if predictable) ids in a simulator.
        let _ = self.rng.fill(&mut bytes);
        bytes
    }

    fn hex(&self) -> String {
        self.random_bytes::<16>()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    fn digits(&self, count: usize) -> String {
        self.random_bytes::<32>()
            .iter()
            .take(count)
            .map(|b| char::from(b'0' + b % 10))
            .collect()
    }

    fn signature_headers(&self, body: &[u8]) -> Vec<(String, String)> {
        self.signer.headers(body)
    }

    /// A signed answer, as every WeChat Pay answer is.
    fn answer(&self, status: StatusCode, body: Option<&Value>) -> HttpResponse {
        let bytes = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let mut response = HttpResponse::build(status);
        response.insert_header(("Request-ID", self.hex()));
        for header in self.signature_headers(&bytes) {
            response.insert_header(header);
        }
        if body.is_some() {
            response.content_type("application/json").body(bytes)
        } else {
            response.finish()
        }
    }

    fn refuse(&self, refusal: &Refusal) -> HttpResponse {
        let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
        self.answer(
            status,
            Some(&json!({"code": refusal.code, "message": refusal.message})),
        )
    }

    /// WeChat's check of our `Authorization`; the refusal is a 401 `SIGN_ERROR`.
    fn check_signature(&self, request: &HttpRequest, body: &[u8]) -> Result<(), Refusal> {
        let sign_error = |message: &str| Refusal {
            status: 401,
            code: "SIGN_ERROR",
            message: message.into(),
        };
        let header = request
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                sign_error("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》")
            })?;
        let authorization = Authorization::parse(header)
            .map_err(|e| sign_error(&format!("Http头Authorization值格式错误：{e}")))?;
        if authorization.mchid != self.mchid {
            return Err(sign_error("商户号不存在或与签名不匹配"));
        }
        if authorization.serial_no != self.merchant_serial {
            return Err(sign_error(
                "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
            ));
        }
        let timestamp: i64 = authorization
            .timestamp
            .parse()
            .map_err(|_| sign_error("timestamp 格式错误"))?;
        if (Utc::now().timestamp() - timestamp).abs() > MAX_CLOCK_SKEW_S {
            return Err(sign_error("请求时间戳与当前时间相差过大"));
        }
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.path(), |pq| pq.as_str());
        authorization
            .verify(
                &self.merchant_public_key,
                request.method().as_str(),
                target,
                body,
            )
            .map_err(|_| sign_error("签名错误，请检查后再试"))
    }

    /// A notification as WeChat sends it: the resource sealed with the APIv3 key inside a signed
    /// envelope.
    fn notification(
        &self,
        url: &str,
        event_type: &str,
        summary: &str,
        original_type: &str,
        resource: &Value,
    ) -> Outgoing {
        const ALPHANUMERIC: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let nonce = self
            .random_bytes::<12>()
            .map(|b| ALPHANUMERIC[usize::from(b) % ALPHANUMERIC.len()]);
        let ciphertext =
            self.apiv3_key
                .encrypt(&nonce, original_type, resource.to_string().as_bytes());
        let body = json!({
            "id": uuid_like(&self.random_bytes::<16>()),
            "create_time": ledger::beijing(Utc::now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": String::from_utf8_lossy(&nonce),
            },
        })
        .to_string()
        .into_bytes();
        let signer = self.signer.clone();
        Outgoing {
            provider: "wechatpay",
            url: url.to_owned(),
            content_type: "application/json",
            headers: vec![("Request-ID".into(), self.hex())],
            // WeChat signs every attempt afresh: a retry is not a replay of the first.
            sign_each_attempt: Some(Arc::new(move |body: &[u8]| signer.headers(body))),
            body,
            accepted: |status, _| (200..300).contains(&status),
            retry_delays_s: RETRY_DELAYS_S,
        }
    }
}

/// Signs as WeChat Pay does: the four `Wechatpay-*` headers (and the signature type) over a
/// body, with a fresh timestamp and nonce each time.
struct PlatformSigner {
    key: RsaPrivateKey,
    serial: String,
}

impl PlatformSigner {
    fn headers(&self, body: &[u8]) -> Vec<(String, String)> {
        let timestamp = Utc::now().timestamp().to_string();
        let mut nonce = [0u8; 16];
        // The OS random source does not fail here; a zero nonce would still sign correctly.
        let _ = SystemRandom::new().fill(&mut nonce);
        let nonce: String = nonce.iter().map(|b| format!("{b:02X}")).collect();
        let signature = self
            .key
            .sign_base64(&response_message(&timestamp, &nonce, body))
            // A loaded 2048-bit key signs any message; failure here is a broken build of ring.
            .expect("platform key signs");
        vec![
            (HEADER_TIMESTAMP.into(), timestamp),
            (HEADER_NONCE.into(), nonce),
            (HEADER_SIGNATURE.into(), signature),
            (HEADER_SERIAL.into(), self.serial.clone()),
            (
                "Wechatpay-Signature-Type".into(),
                "WECHATPAY2-SHA256-RSA2048".into(),
            ),
        ]
    }
}

/// An id shaped like WeChat's notification ids (a UUID).
fn uuid_like(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    cfg.app_data(state.clone())
        .route("/v3/pay/transactions/jsapi", web::post().to(jsapi))
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            web::get().to(query_order),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            web::post().to(close_order),
        )
        .route("/v3/refund/domestic/refunds", web::post().to(refund))
        .route(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            web::get().to(query_refund),
        )
        .route("/mock/wechatpay/pay", web::post().to(pay));
}

/// Runs `handle` after the signature check, turning a refusal into WeChat's signed error answer.
fn signed_call(
    state: &State,
    request: &HttpRequest,
    body: &[u8],
    handle: impl FnOnce() -> Result<HttpResponse, Refusal>,
) -> HttpResponse {
    state
        .check_signature(request, body)
        .and_then(|()| handle())
        .unwrap_or_else(|refusal| state.refuse(&refusal))
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::param(format!("请求体格式错误：{e}")))
}

#[derive(Deserialize)]
struct JsapiRequest {
    appid: String,
    mchid: String,
    description: String,
    out_trade_no: String,
    time_expire: Option<String>,
    notify_url: String,
    amount: OrderAmount,
    payer: Option<Payer>,
}

#[derive(Deserialize)]
struct OrderAmount {
    total: i64,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct Payer {
    openid: Option<String>,
}

async fn jsapi(state: web::Data<State>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    signed_call(&state, &request, &body, || {
        let order = new_order(&state, parse_json(&body)?)?;
        let prepay_id = format!(
            "wx{}{}",
            Utc::now().format("%d%H%M%S"),
            state.hex().to_ascii_lowercase()
        );
        let prepay_id = state.ledger().place(order, prepay_id)?;
        Ok(state.answer(StatusCode::OK, Some(&json!({"prepay_id": prepay_id}))))
    })
}

fn new_order(state: &State, request: JsapiRequest) -> Result<NewOrder, Refusal> {
    if request.mchid != state.mchid || request.appid != state.appid {
        return Err(Refusal {
            status: 400,
            code: "APPID_MCHID_NOT_MATCH",
            message: "appid和mch_id不匹配".into(),
        });
    }
    let trade_no_ok = (6..=32).contains(&request.out_trade_no.len())
        && request
            .out_trade_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    if !trade_no_ok {
        return Err(Refusal::param("out_trade_no 格式错误"));
    }
    if request.description.is_empty() || request.description.len() > 127 {
        return Err(Refusal::param("description 长度应为1到127字节"));
    }
    if request.amount.total <= 0 {
        return Err(Refusal::param("amount.total 必须大于0"));
    }
    if request
        .amount
        .currency
        .as_deref()
        .is_some_and(|c| c != "CNY")
    {
        return Err(Refusal::param("amount.currency 只支持CNY"));
    }
    let payer_openid = request
        .payer
        .and_then(|payer| payer.openid)
        .filter(|openid| !openid.is_empty())
        .ok_or_else(|| Refusal::param("JSAPI下单缺少payer.openid"))?;
    let url_ok = (request.notify_url.starts_with("https://")
        || request.notify_url.starts_with("http://"))
        && !request.notify_url.contains('?');
    if !url_ok {
        return Err(Refusal::param("notify_url 应为不带参数的完整URL"));
    }
    let time_expire = request
        .time_expire
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|_| Refusal::param("time_expire 应为RFC3339格式"))
        })
        .transpose()?;
    Ok(NewOrder {
        appid: request.appid,
        mchid: request.mchid,
        description: request.description,
        out_trade_no: request.out_trade_no,
        time_expire,
        notify_url: request.notify_url,
        total_fen: request.amount.total,
        payer_openid,
    })
}

#[derive(Deserialize)]
struct MchidQuery {
    mchid: Option<String>,
}

async fn query_order(
    state: web::Data<State>,
    request: HttpRequest,
    out_trade_no: web::Path<String>,
) -> HttpResponse {
    signed_call(&state, &request, b"", || {
        let query = web::Query::<MchidQuery>::from_query(request.query_string())
            .map_err(|_| Refusal::param("查询参数格式错误"))?;
        if query.mchid.as_deref() != Some(state.mchid.as_str()) {
            return Err(Refusal::param("mchid 缺失或与签名商户号不一致"));
        }
        let transaction = state.ledger().order(&out_trade_no)?.transaction_json();
        Ok(state.answer(StatusCode::OK, Some(&transaction)))
    })
}

#[derive(Deserialize)]
struct CloseRequest {
    mchid: String,
}

async fn close_order(
    state: web::Data<State>,
    request: HttpRequest,
    out_trade_no: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    signed_call(&state, &request, &body, || {
        let close: CloseRequest = parse_json(&body)?;
        if close.mchid != state.mchid {
            return Err(Refusal::param("mchid 与签名商户号不一致"));
        }
        state.ledger().close(&out_trade_no)?;
        Ok(state.answer(StatusCode::NO_CONTENT, None))
    })
}

#[derive(Deserialize)]
struct RefundRequest {
    out_trade_no: Option<String>,
    out_refund_no: String,
    reason: Option<String>,
    notify_url: Option<String>,
    amount: RefundAmount,
}

#[derive(Deserialize)]
struct RefundAmount {
    refund: i64,
    total: i64,
    currency: String,
}

async fn refund(
    state: web::Data<State>,
    notifier: web::Data<Notifier>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    signed_call(&state, &request, &body, || {
        let requested = new_refund(parse_json(&body)?)?;
        let refund_id = format!("5030{}", state.digits(25));
        let now = Utc::now();
        let (refund, is_new) = state.ledger().refund(requested, refund_id, now)?;
        let answer = state.answer(StatusCode::OK, Some(&refund.answer_json()));
        if is_new {
            // The simulated bank finishes at once; the merchant hears of it by notification.
            let out_refund_no = &refund.requested.out_refund_no;
            let completed = state.ledger().complete_refund(out_refund_no, now);
            if let (Some(completed), Some(url)) = (completed, &refund.requested.notify_url) {
                notifier.dispatch(state.notification(
                    url,
                    "REFUND.SUCCESS",
                    "退款成功",
                    "refund",
                    &completed.notification_json(),
                ));
            }
        }
        Ok(answer)
    })
}

fn new_refund(request: RefundRequest) -> Result<NewRefund, Refusal> {
    let out_trade_no = request
        .out_trade_no
        .ok_or_else(|| Refusal::param("out_trade_no 缺失（模拟器不支持按 transaction_id 退款）"))?;
    let refund_no_ok = (1..=64).contains(&request.out_refund_no.len())
        && request
            .out_refund_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b));
    if !refund_no_ok {
        return Err(Refusal::param("out_refund_no 格式错误"));
    }
    if request.amount.refund <= 0 || request.amount.total <= 0 {
        return Err(Refusal::param("amount.refund 和 amount.total 必须大于0"));
    }
    if request.amount.currency != "CNY" {
        return Err(Refusal::param("amount.currency 只支持CNY"));
    }
    Ok(NewRefund {
        out_trade_no,
        out_refund_no: request.out_refund_no,
        reason: request.reason,
        notify_url: request.notify_url,
        refund_fen: request.amount.refund,
        total_fen: request.amount.total,
    })
}

async fn query_refund(
    state: web::Data<State>,
    request: HttpRequest,
    out_refund_no: web::Path<String>,
) -> HttpResponse {
    signed_call(&state, &request, b"", || {
        let refund = state.ledger().refund_of(&out_refund_no)?.answer_json();
        Ok(state.answer(StatusCode::OK, Some(&refund)))
    })
}

#[derive(Deserialize)]
struct PayHook {
    prepay_id: String,
    amount_fen: Option<i64>,
}

async fn pay(
    state: web::Data<State>,
    notifier: web::Data<Notifier>,
    hook: web::Json<PayHook>,
) -> HttpResponse {
    let transaction_id = format!("4200{}", state.digits(24));
    let paid = state
        .ledger()
        .pay(&hook.prepay_id, transaction_id, hook.amount_fen, Utc::now())
        .map(|order| (order.transaction_json(), order.placed.notify_url.clone()));
    match paid {
        Ok((transaction, notify_url)) => {
            notifier.dispatch(state.notification(
                &notify_url,
                "TRANSACTION.SUCCESS",
                "支付成功",
                "transaction",
                &transaction,
            ));
            HttpResponse::Ok().json(json!({
                "transaction_id": transaction["transaction_id"],
                "out_trade_no": transaction["out_trade_no"],
            }))
        }
        Err(refusal) => HttpResponse::build(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
        )
        .json(json!({"code": refusal.code, "message": refusal.message})),
    }
}

#[cfg(test)]
mod tests;
