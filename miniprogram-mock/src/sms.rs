//! Simulated SMS providers: Alibaba Cloud SMS (`SendSms`, dysmsapi 2017-05-25) and Tencent
//! Cloud SMS (`SendSms`, API 3.0, 2021-01-11), and the outbox tests read delivered codes from.
//!
//! | method and URL (default bind) | what |
//! |---|---|
//! | `GET` or `POST` (form) `http://127.0.0.1:8090/sms/aliyun/` | Aliyun RPC endpoint: set `sms.endpoint = "http://127.0.0.1:8090/sms/aliyun"` |
//! | `POST http://127.0.0.1:8090/sms/tencent/` | Tencent API 3.0 endpoint: set `sms.endpoint = "http://127.0.0.1:8090/sms/tencent"` |
//! | `GET http://127.0.0.1:8090/mock/sms/outbox?phone=13800138000` | `{"items": [{phone, code, provider, sign_name, template, sent_at}]}`, oldest first; every message without `phone` |
//!
//! Both endpoints check our request signatures with the same functions the clients sign with
//! (`sms_verify::aliyun`, `sms_verify::tencent`) and refuse the way the real services do:
//! - Aliyun: HTTP 404 `InvalidAccessKeyId.NotFound`; HTTP 400 `SignatureDoesNotMatch` (with
//!   the server's string to sign in the message), `InvalidTimeStamp.Expired` (more than 15
//!   minutes off), `SignatureNonceUsed`, `MissingParameter`; HTTP 200 `isv.*` for business
//!   errors (`isv.MOBILE_NUMBER_ILLEGAL`, `isv.TEMPLATE_MISSING_PARAMETERS`, …). Answers are
//!   JSON whatever `Format` says.
//! - Tencent: always HTTP 200; `Response.Error` with `AuthFailure.InvalidAuthorization`,
//!   `AuthFailure.SecretIdNotFound`, `AuthFailure.SignatureExpire` (more than 5 minutes off),
//!   `AuthFailure.SignatureFailure`, `UnauthorizedOperation.SmsSdkAppIdVerifyFail`, …;
//!   per-number `SendStatusSet` entries otherwise.
//!
//! The code of a message is `TemplateParam.code` (Aliyun, `{"code":"123456"}`) or
//! `TemplateParamSet[0]` (Tencent).
//!
//! Credentials (defaults match `config/default.toml`; DEVELOPMENT ONLY):
//! Aliyun `MOCK_ALIYUN_ACCESS_KEY_ID` (`dev-access-key-id`), `MOCK_ALIYUN_ACCESS_KEY_SECRET`
//! (`dev-only-sms-secret`); Tencent `MOCK_TENCENT_SECRET_ID` (`dev-access-key-id`, the same dev key as Aliyun so one `[sms]` config serves both),
//! `MOCK_TENCENT_SECRET_KEY` (`dev-only-sms-secret`), `MOCK_TENCENT_SDK_APP_ID`
//! (`1400000000`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sms_verify::{aliyun, mask_phone, tencent};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Aliyun refuses a `Timestamp` further than this from its clock.
const ALIYUN_SKEW: Duration = Duration::from_secs(15 * 60);
/// Tencent refuses an `X-TC-Timestamp` further than this from its clock.
const TENCENT_SKEW: Duration = Duration::from_secs(5 * 60);
/// The outbox keeps this many newest messages, so a long-running mock stays small.
const OUTBOX_CAPACITY: usize = 10_000;

/// Shared state of the sms simulation, created once per process.
pub struct State {
    aliyun_access_key_id: String,
    aliyun_access_key_secret: String,
    tencent_secret_id: String,
    tencent_secret_key: String,
    tencent_sdk_app_id: String,
    outbox: Mutex<VecDeque<Message>>,
    /// Aliyun `SignatureNonce`s seen within the timestamp window, with when they were seen.
    aliyun_nonces: Mutex<HashMap<String, SystemTime>>,
    /// Numbers request ids and message serial numbers.
    sequence: AtomicU64,
}

/// One delivered message.
struct Message {
    phone: String,
    code: String,
    provider: &'static str,
    sign_name: String,
    template: String,
    sent_at: SystemTime,
}

impl Message {
    fn to_json(&self) -> Value {
        json!({
            "phone": self.phone,
            "code": self.code,
            "provider": self.provider,
            "sign_name": self.sign_name,
            "template": self.template,
            "sent_at": aliyun::timestamp(self.sent_at),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one insert or read; a poisoned lock still guards sound data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn from_env() -> anyhow::Result<Self> {
        let env =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Ok(Self {
            aliyun_access_key_id: env("MOCK_ALIYUN_ACCESS_KEY_ID", "dev-access-key-id"),
            aliyun_access_key_secret: env("MOCK_ALIYUN_ACCESS_KEY_SECRET", "dev-only-sms-secret"),
            tencent_secret_id: env("MOCK_TENCENT_SECRET_ID", "dev-access-key-id"),
            tencent_secret_key: env("MOCK_TENCENT_SECRET_KEY", "dev-only-sms-secret"),
            tencent_sdk_app_id: env("MOCK_TENCENT_SDK_APP_ID", "1400000000"),
            outbox: Mutex::new(VecDeque::new()),
            aliyun_nonces: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(1),
        })
    }

    /// A request id shaped like the providers' UUIDs.
    fn request_id(&self) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012X}")
    }

    fn deliver(&self, message: Message) {
        tracing::info!(
            provider = message.provider,
            phone = %mask_phone(&message.phone),
            "SMS accepted into the mock outbox"
        );
        let mut outbox = lock(&self.outbox);
        if outbox.len() >= OUTBOX_CAPACITY {
            outbox.pop_front();
        }
        outbox.push_back(message);
    }

    /// Records an Aliyun nonce; false if it was already used within the timestamp window.
    fn first_use_of_nonce(&self, nonce: &str, now: SystemTime) -> bool {
        let mut nonces = lock(&self.aliyun_nonces);
        nonces.retain(|_, seen| {
            now.duration_since(*seen)
                .is_ok_and(|age| age < 2 * ALIYUN_SKEW)
        });
        nonces.insert(nonce.to_owned(), now).is_none()
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    cfg.app_data(state.clone())
        .service(
            web::resource(["/sms/aliyun", "/sms/aliyun/"])
                .route(web::get().to(aliyun_send))
                .route(web::post().to(aliyun_send)),
        )
        .service(
            web::resource(["/sms/tencent", "/sms/tencent/"]).route(web::post().to(tencent_send)),
        )
        .route("/mock/sms/outbox", web::get().to(outbox));
}

/// 11 mainland digits from any of the forms the providers accept (`+86…`, `0086…`, `86…`).
fn mainland_number(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let digits = ["+86", "0086", "86"]
        .iter()
        .find_map(|prefix| raw.strip_prefix(prefix).filter(|rest| rest.len() == 11))
        .unwrap_or(raw);
    (digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.to_owned())
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

/// Why a request was refused, before the provider-shaped answer is built around it.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
        }
    }

    /// Tencent answers every refusal with HTTP 200.
    fn tencent(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::OK, code, message)
    }
}

// ---------------------------------------------------------------------------------------------
// Aliyun

/// Aliyun's error body.
fn aliyun_error(state: &State, status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "RequestId": state.request_id(),
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": "https://api.aliyun.com/troubleshoot",
    }))
}

/// Query string and, for a form POST, the body: one map. A parameter given twice is refused,
/// as it could otherwise be signed with one value and read with another.
fn aliyun_params(req: &HttpRequest, body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| e.to_string())?;
    if !body.is_empty() {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())?;
        pairs.extend(form);
    }
    let mut params = BTreeMap::new();
    for (key, value) in pairs {
        if params.insert(key.clone(), value).is_some() {
            return Err(format!("parameter {key} given twice"));
        }
    }
    Ok(params)
}

async fn aliyun_send(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let params = match aliyun_params(&req, &body) {
        Ok(params) => params,
        Err(why) => {
            return aliyun_error(&state, StatusCode::BAD_REQUEST, "InvalidParameter", &why);
        }
    };
    let method = req.method().as_str();
    match aliyun_check(&state, method, &params) {
        Ok(()) => aliyun_business(&state, &params),
        Err(refusal) => aliyun_error(&state, refusal.status, refusal.code, &refusal.message),
    }
}

/// The gateway's checks, in the order Aliyun applies them.
fn aliyun_check(
    state: &State,
    method: &str,
    params: &BTreeMap<String, String>,
) -> Result<(), Refusal> {
    let bad_request =
        |code: &'static str, message: &str| Refusal::new(StatusCode::BAD_REQUEST, code, message);
    for name in [
        "AccessKeyId",
        "Action",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureVersion",
        "Timestamp",
        "Version",
    ] {
        if params.get(name).is_none_or(|v| v.is_empty()) {
            return Err(bad_request(
                "MissingParameter",
                &format!(
                    "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
                ),
            ));
        }
    }
    if params["SignatureMethod"] != "HMAC-SHA1" || params["SignatureVersion"] != "1.0" {
        return Err(bad_request(
            "InvalidParameter",
            "SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0.",
        ));
    }
    if params["AccessKeyId"] != state.aliyun_access_key_id {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    }
    let now = SystemTime::now();
    let Some(sent) = aliyun::parse_timestamp(&params["Timestamp"]) else {
        return Err(bad_request(
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ));
    };
    if distance(now, sent) > ALIYUN_SKEW {
        return Err(bad_request(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    if !aliyun::verify(method, params, &state.aliyun_access_key_secret) {
        return Err(bad_request(
            "SignatureDoesNotMatch",
            &format!(
                "Specified signature is not matched with our calculation. server string to sign is:{}",
                aliyun::string_to_sign(method, params)
            ),
        ));
    }
    // After the signature, so that forged requests cannot use up nonces.
    if !state.first_use_of_nonce(&params["SignatureNonce"], now) {
        return Err(bad_request(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    if params["Action"] != "SendSms" {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    if params["Version"] != "2017-05-25" {
        return Err(bad_request(
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        ));
    }
    Ok(())
}

/// `SendSms` itself; its refusals are HTTP 200 with an `isv.` code, like Aliyun's.
fn aliyun_business(state: &State, params: &BTreeMap<String, String>) -> HttpResponse {
    let refuse = |code: &str, message: &str| aliyun_error(state, StatusCode::OK, code, message);
    let field = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let phones: Option<Vec<String>> = field("PhoneNumbers")
        .split(',')
        .map(mainland_number)
        .collect();
    let Some(phones) = phones else {
        return refuse("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
    };
    if field("SignName").is_empty() {
        return refuse("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名");
    }
    if field("TemplateCode").is_empty() {
        return refuse("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板");
    }
    let Ok(template_param) = serde_json::from_str::<Value>(field("TemplateParam")) else {
        return refuse("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值");
    };
    let Some(code) = template_param.get("code").and_then(Value::as_str) else {
        return refuse("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量");
    };
    let sent_at = SystemTime::now();
    for phone in phones {
        state.deliver(Message {
            phone,
            code: code.to_owned(),
            provider: "aliyun",
            sign_name: field("SignName").to_owned(),
            template: field("TemplateCode").to_owned(),
            sent_at,
        });
    }
    let biz_id = state.sequence.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({
        "Code": "OK",
        "Message": "OK",
        "BizId": format!("{biz_id}^0"),
        "RequestId": state.request_id(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Tencent

/// Tencent's error answer: HTTP 200 with `Response.Error`.
fn tencent_error(state: &State, code: &str, message: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "Response": {
            "Error": {"Code": code, "Message": message},
            "RequestId": state.request_id(),
        }
    }))
}

/// The parts of `TC3-HMAC-SHA256 Credential=id/date/service/tc3_request, SignedHeaders=a;b,
/// Signature=hex`.
struct Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix(tencent::ALGORITHM)?.strip_prefix(' ')?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let (secret_id, date, service, terminator) =
        (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if terminator != "tc3_request" || scope.next().is_some() {
        return None;
    }
    Some(Authorization {
        secret_id,
        date,
        service,
        signed_headers: signed_headers?.split(';').collect(),
        signature: signature?,
    })
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn tencent_send(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match tencent_check(&state, &req, &body) {
        Ok(()) => tencent_business(&state, &body),
        Err(refusal) => tencent_error(&state, refusal.code, &refusal.message),
    }
}

/// Authentication and the common parameters, in the order Tencent reports them.
fn tencent_check(state: &State, req: &HttpRequest, body: &[u8]) -> Result<(), Refusal> {
    let signature_failure = || {
        Refusal::tencent(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    };
    let Some(auth) = header(req, "authorization").and_then(parse_authorization) else {
        return Err(Refusal::tencent(
            "AuthFailure.InvalidAuthorization",
            "Authorization header is missing or malformed.",
        ));
    };
    if auth.secret_id != state.tencent_secret_id {
        return Err(Refusal::tencent(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    }
    let Some(timestamp) = header(req, "x-tc-timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(Refusal::tencent(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Timestamp`.",
        ));
    };
    let now = SystemTime::now();
    let sent = u64::try_from(timestamp)
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
    if sent.is_none_or(|sent| distance(now, sent) > TENCENT_SKEW) {
        let server_time = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        return Err(Refusal::tencent(
            "AuthFailure.SignatureExpire",
            &format!("Signature expired. Timestamp: {timestamp}; Server time: {server_time}."),
        ));
    }
    if auth.service != tencent::SERVICE
        || tencent::utc_date(timestamp).as_deref() != Some(auth.date)
        || !auth.signed_headers.contains(&"content-type")
        || !auth.signed_headers.contains(&"host")
    {
        return Err(signature_failure());
    }
    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let Some(value) = header(req, name) else {
            return Err(signature_failure());
        };
        signed.push((*name, value));
    }
    let canonical =
        tencent::canonical_request(req.method().as_str(), req.query_string(), &signed, body);
    let scope = tencent::credential_scope(auth.date, auth.service);
    let to_sign = tencent::string_to_sign(timestamp, &scope, &canonical);
    let expected = tencent::signature(&state.tencent_secret_key, auth.date, auth.service, &to_sign);
    if expected != auth.signature {
        return Err(signature_failure());
    }
    if header(req, "x-tc-action") != Some(tencent::ACTION) {
        return Err(Refusal::tencent(
            "InvalidAction",
            "The requested action does not exist.",
        ));
    }
    if header(req, "x-tc-version") != Some(tencent::VERSION) {
        return Err(Refusal::tencent(
            "NoSuchVersion",
            "The requested version does not exist.",
        ));
    }
    if header(req, "x-tc-region").is_none_or(str::is_empty) {
        return Err(Refusal::tencent(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Region`.",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentSendSms {
    phone_number_set: Vec<String>,
    sms_sdk_app_id: String,
    #[serde(default)]
    sign_name: String,
    template_id: String,
    #[serde(default)]
    template_param_set: Vec<String>,
}

/// `SendSms` itself: one status per number.
fn tencent_business(state: &State, body: &[u8]) -> HttpResponse {
    let Ok(request) = serde_json::from_slice::<TencentSendSms>(body) else {
        return tencent_error(
            state,
            "InvalidParameter",
            "The request body is not a valid SendSms request.",
        );
    };
    if request.sms_sdk_app_id != state.tencent_sdk_app_id {
        return tencent_error(
            state,
            "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            "SmsSdkAppId verification failed.",
        );
    }
    if request.sign_name.is_empty() {
        return tencent_error(
            state,
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "The signature is missing or not approved.",
        );
    }
    if request.template_id.is_empty() {
        return tencent_error(
            state,
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "The template is missing or not approved.",
        );
    }
    let [code] = request.template_param_set.as_slice() else {
        return tencent_error(
            state,
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            "TemplateParamSet does not match the approved template (one parameter, {1}).",
        );
    };
    let sent_at = SystemTime::now();
    let statuses: Vec<Value> = request
        .phone_number_set
        .iter()
        .map(|raw| {
            let serial = state.sequence.fetch_add(1, Ordering::Relaxed);
            let Some(phone) = mainland_number(raw) else {
                return json!({
                    "SerialNo": "", "PhoneNumber": raw, "Fee": 0, "SessionContext": "",
                    "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                    "Message": "incorrect phone number", "IsoCode": "",
                });
            };
            state.deliver(Message {
                phone: phone.clone(),
                code: code.clone(),
                provider: "tencent",
                sign_name: request.sign_name.clone(),
                template: request.template_id.clone(),
                sent_at,
            });
            json!({
                "SerialNo": format!("5000:{serial:030}"), "PhoneNumber": format!("+86{phone}"),
                "Fee": 1, "SessionContext": "", "Code": "Ok", "Message": "send success",
                "IsoCode": "CN",
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "Response": {"SendStatusSet": statuses, "RequestId": state.request_id()}
    }))
}

// ---------------------------------------------------------------------------------------------
// Test hook

#[derive(Deserialize)]
struct OutboxQuery {
    phone: Option<String>,
}

async fn outbox(state: web::Data<State>, query: web::Query<OutboxQuery>) -> HttpResponse {
    let wanted = query
        .phone
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| mainland_number(p).unwrap_or_else(|| p.to_owned()));
    let items: Vec<Value> = lock(&state.outbox)
        .iter()
        .filter(|m| wanted.as_ref().is_none_or(|phone| &m.phone == phone))
        .map(Message::to_json)
        .collect();
    HttpResponse::Ok().json(json!({ "items": items }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::App;
    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};

    const PHONE: &str = "13800138000";
    const SECRET: &str = "dev-only-sms-secret";

    fn state() -> web::Data<State> {
        web::Data::new(State::from_env().unwrap())
    }

    /// Runs one request against the sms routes with `state`; the answer as (status, JSON).
    async fn call(state: &web::Data<State>, req: TestRequest) -> (u16, Value) {
        let app = init_service(App::new().configure(|cfg| configure(cfg, state))).await;
        let response = call_service(&app, req.to_request()).await;
        let status = response.status().as_u16();
        (status, read_body_json(response).await)
    }

    async fn outbox_for(state: &web::Data<State>, query: &str) -> Vec<Value> {
        let req = TestRequest::get().uri(&format!("/mock/sms/outbox{query}"));
        let (status, body) = call(state, req).await;
        assert_eq!(status, 200);
        body["items"].as_array().unwrap().clone()
    }

    fn now_unix() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .try_into()
            .unwrap()
    }

    fn aliyun_params(code: &str, nonce: &str, at: SystemTime) -> BTreeMap<String, String> {
        [
            ("AccessKeyId", "dev-access-key-id"),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("PhoneNumbers", PHONE),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "示例医院"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_123456789"),
            ("TemplateParam", &format!(r#"{{"code":"{code}"}}"#)),
            ("Timestamp", &aliyun::timestamp(at)),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The query string of `params` signed for `method` with `secret`.
    fn aliyun_signed(method: &str, mut params: BTreeMap<String, String>, secret: &str) -> String {
        let signature = aliyun::sign(method, &params, secret);
        params.insert("Signature".into(), signature);
        serde_urlencoded::to_string(&params).unwrap()
    }

    async fn aliyun_get(state: &web::Data<State>, query: String) -> (u16, Value) {
        call(
            state,
            TestRequest::get().uri(&format!("/sms/aliyun/?{query}")),
        )
        .await
    }

    #[actix_web::test]
    async fn aliyun_delivers_signed_get_and_post_requests() {
        let state = state();
        let now = SystemTime::now();
        let query = aliyun_signed("GET", aliyun_params("048213", "n-get", now), SECRET);
        let (status, body) = aliyun_get(&state, query).await;
        assert_eq!((status, body["Code"].as_str()), (200, Some("OK")), "{body}");

        let form = aliyun_signed("POST", aliyun_params("551177", "n-post", now), SECRET);
        let req = TestRequest::post()
            .uri("/sms/aliyun/")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form);
        let (status, body) = call(&state, req).await;
        assert_eq!((status, body["Code"].as_str()), (200, Some("OK")), "{body}");

        let items = outbox_for(&state, &format!("?phone={PHONE}")).await;
        let codes: Vec<_> = items.iter().map(|m| m["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["048213", "551177"], "newest last");
        assert_eq!(items[0]["provider"], "aliyun");
        assert_eq!(items[0]["sign_name"], "示例医院");
        assert_eq!(items[0]["template"], "SMS_123456789");
        assert!(aliyun::parse_timestamp(items[0]["sent_at"].as_str().unwrap()).is_some());
    }

    #[actix_web::test]
    async fn aliyun_refuses_what_the_real_service_refuses() {
        let state = state();
        let now = SystemTime::now();
        let cases = [
            (
                aliyun_signed("GET", aliyun_params("1", "n1", now), "wrong-secret"),
                400,
                "SignatureDoesNotMatch",
            ),
            (
                // Signed for POST, sent as GET.
                aliyun_signed("POST", aliyun_params("1", "n2", now), SECRET),
                400,
                "SignatureDoesNotMatch",
            ),
            (
                {
                    let mut params = aliyun_params("1", "n3", now);
                    params.insert("AccessKeyId".into(), "someone-else".into());
                    aliyun_signed("GET", params, SECRET)
                },
                404,
                "InvalidAccessKeyId.NotFound",
            ),
            (
                aliyun_signed(
                    "GET",
                    aliyun_params("1", "n4", now - Duration::from_secs(16 * 60)),
                    SECRET,
                ),
                400,
                "InvalidTimeStamp.Expired",
            ),
            (
                {
                    let mut params = aliyun_params("1", "n5", now);
                    params.remove("SignatureNonce");
                    aliyun_signed("GET", params, SECRET)
                },
                400,
                "MissingParameter",
            ),
            (
                {
                    let mut params = aliyun_params("1", "n6", now);
                    params.insert("TemplateParam".into(), r#"{"customer":"x"}"#.into());
                    aliyun_signed("GET", params, SECRET)
                },
                200,
                "isv.TEMPLATE_MISSING_PARAMETERS",
            ),
            (
                {
                    let mut params = aliyun_params("1", "n7", now);
                    params.insert("PhoneNumbers".into(), "12345".into());
                    aliyun_signed("GET", params, SECRET)
                },
                200,
                "isv.MOBILE_NUMBER_ILLEGAL",
            ),
        ];
        for (query, status, code) in cases {
            let (got_status, body) = aliyun_get(&state, query).await;
            assert_eq!(
                (got_status, body["Code"].as_str()),
                (status, Some(code)),
                "{body}"
            );
        }
        let (_, body) = aliyun_get(
            &state,
            aliyun_signed("GET", aliyun_params("1", "n1", now), "wrong-secret"),
        )
        .await;
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .contains("GET&%2F&AccessKeyId"),
            "the server's string to sign helps debugging: {body}"
        );
        assert!(outbox_for(&state, "").await.is_empty());
    }

    #[actix_web::test]
    async fn aliyun_refuses_a_replayed_nonce() {
        let state = state();
        let query = aliyun_signed(
            "GET",
            aliyun_params("048213", "n-once", SystemTime::now()),
            SECRET,
        );
        assert_eq!(aliyun_get(&state, query.clone()).await.1["Code"], "OK");
        assert_eq!(
            aliyun_get(&state, query).await.1["Code"],
            "SignatureNonceUsed"
        );
        assert_eq!(outbox_for(&state, "").await.len(), 1);
    }

    struct TencentRequest {
        secret_id: &'static str,
        secret_key: &'static str,
        timestamp: i64,
        body: String,
    }

    impl TencentRequest {
        fn new(code: &str) -> Self {
            Self {
                secret_id: "dev-access-key-id",
                secret_key: SECRET,
                timestamp: now_unix(),
                body: format!(
                    r#"{{"PhoneNumberSet":["+86{PHONE}"],"SmsSdkAppId":"1400000000","SignName":"示例医院","TemplateId":"1234567","TemplateParamSet":["{code}"]}}"#
                ),
            }
        }

        /// Signed as our client signs, over `signed_body`; sends `self.body`.
        fn build(&self, signed_body: &str) -> TestRequest {
            let host = "127.0.0.1:8090";
            let headers = [
                ("content-type", tencent::CONTENT_TYPE),
                ("host", host),
                ("x-tc-action", "sendsms"),
            ];
            let date = tencent::utc_date(self.timestamp).unwrap();
            let scope = tencent::credential_scope(&date, tencent::SERVICE);
            let canonical =
                tencent::canonical_request("POST", "", &headers, signed_body.as_bytes());
            let to_sign = tencent::string_to_sign(self.timestamp, &scope, &canonical);
            let signature = tencent::signature(self.secret_key, &date, tencent::SERVICE, &to_sign);
            let authorization = tencent::authorization(
                self.secret_id,
                &scope,
                &tencent::signed_headers(&headers),
                &signature,
            );
            TestRequest::post()
                .uri("/sms/tencent/")
                .insert_header(("host", host))
                .insert_header(("content-type", tencent::CONTENT_TYPE))
                .insert_header(("authorization", authorization))
                .insert_header(("x-tc-action", tencent::ACTION))
                .insert_header(("x-tc-version", tencent::VERSION))
                .insert_header(("x-tc-timestamp", self.timestamp.to_string()))
                .insert_header(("x-tc-region", "ap-guangzhou"))
                .set_payload(self.body.clone())
        }

        fn signed(&self) -> TestRequest {
            self.build(&self.body)
        }
    }

    fn error_code(body: &Value) -> Option<&str> {
        body["Response"]["Error"]["Code"].as_str()
    }

    #[actix_web::test]
    async fn tencent_delivers_a_signed_request() {
        let state = state();
        let (status, body) = call(&state, TencentRequest::new("048213").signed()).await;
        assert_eq!(status, 200);
        assert_eq!(body["Response"]["SendStatusSet"][0]["Code"], "Ok", "{body}");
        let items = outbox_for(&state, "?phone=%2B8613800138000").await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["code"], "048213");
        assert_eq!(items[0]["phone"], PHONE);
        assert_eq!(items[0]["provider"], "tencent");
        assert_eq!(items[0]["template"], "1234567");
    }

    #[actix_web::test]
    async fn tencent_refuses_what_the_real_service_refuses() {
        let state = state();
        let wrong_key = TencentRequest {
            secret_key: "wrong-secret",
            ..TencentRequest::new("1")
        };
        let unknown_id = TencentRequest {
            secret_id: "AKIDsomeoneelse",
            ..TencentRequest::new("1")
        };
        let stale = TencentRequest {
            timestamp: now_unix() - 301,
            ..TencentRequest::new("1")
        };
        let other_app = TencentRequest {
            body: TencentRequest::new("1")
                .body
                .replace("1400000000", "1400999999"),
            ..TencentRequest::new("1")
        };
        let tampered = TencentRequest::new("1");
        let cases = [
            (wrong_key.signed(), "AuthFailure.SignatureFailure"),
            (unknown_id.signed(), "AuthFailure.SecretIdNotFound"),
            (stale.signed(), "AuthFailure.SignatureExpire"),
            (
                other_app.signed(),
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            ),
            (
                tampered.build(&tampered.body.replace(PHONE, "13900139000")),
                "AuthFailure.SignatureFailure",
            ),
            (
                TestRequest::post()
                    .uri("/sms/tencent/")
                    .insert_header(("authorization", "Basic abc"))
                    .set_payload("{}"),
                "AuthFailure.InvalidAuthorization",
            ),
        ];
        for (req, code) in cases {
            let (status, body) = call(&state, req).await;
            assert_eq!((status, error_code(&body)), (200, Some(code)), "{body}");
            assert!(body["Response"]["RequestId"].is_string());
        }
        assert!(outbox_for(&state, "").await.is_empty());
    }

    #[actix_web::test]
    async fn the_outbox_filters_by_phone() {
        let state = state();
        let now = SystemTime::now();
        let mut params = aliyun_params("111111", "o1", now);
        params.insert("PhoneNumbers".into(), "13900139000".into());
        aliyun_get(&state, aliyun_signed("GET", params, SECRET)).await;
        aliyun_get(
            &state,
            aliyun_signed("GET", aliyun_params("222222", "o2", now), SECRET),
        )
        .await;
        assert_eq!(outbox_for(&state, "").await.len(), 2);
        let mine = outbox_for(&state, &format!("?phone={PHONE}")).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["code"], "222222");
        assert!(outbox_for(&state, "?phone=13700137000").await.is_empty());
    }

    #[test]
    fn mainland_numbers_in_every_accepted_form() {
        for raw in [
            "13800138000",
            "+8613800138000",
            "008613800138000",
            "8613800138000",
        ] {
            assert_eq!(mainland_number(raw).as_deref(), Some(PHONE), "{raw}");
        }
        for raw in ["1380013800", "+8513800138000", "23800138000", "1380013800a"] {
            assert_eq!(mainland_number(raw), None, "{raw}");
        }
    }

    #[test]
    fn authorization_headers_are_parsed_strictly() {
        let header = "TC3-HMAC-SHA256 Credential=id/2019-02-25/sms/tc3_request, \
                      SignedHeaders=content-type;host, Signature=abc";
        let auth = parse_authorization(header).unwrap();
        assert_eq!(
            (auth.secret_id, auth.date, auth.service, auth.signature),
            ("id", "2019-02-25", "sms", "abc")
        );
        assert_eq!(auth.signed_headers, ["content-type", "host"]);
        for bad in [
            "TC3-HMAC-SHA256 Credential=id/2019-02-25/sms, SignedHeaders=host, Signature=abc",
            "HMAC-SHA256 Credential=id/2019-02-25/sms/tc3_request, SignedHeaders=host, Signature=a",
            "TC3-HMAC-SHA256 Credential=id/2019-02-25/sms/tc3_request, Signature=abc",
        ] {
            assert!(parse_authorization(bad).is_none(), "{bad}");
        }
    }
}
