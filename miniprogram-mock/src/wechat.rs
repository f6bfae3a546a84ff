//! Simulated WeChat mini-program server API (`api.weixin.qq.com`): `jscode2session`, the classic
//! `cgi-bin/token` access token and `wxa/business/getuserphonenumber`. Like WeChat, every answer
//! is HTTP 200 and errors travel as `errcode`/`errmsg` in the body.
//!
//! Codes the mock understands, so tests can reach every path:
//! - `jscode2session`: any `js_code` is a login of a stable user (same code → same openid, so
//!   `mock-alice` is always the same person), except `invalid` (40029), `ratelimited` (45011),
//!   `risky` (40226) and `busy` (-1).
//! - `getuserphonenumber`: `phone-<11 digits>` answers that number (country code 86); any other
//!   code is 40029.
//!
//! Test hooks: `GET /mock/wechat/token-fetches` counts `cgi-bin/token` issues;
//! `POST /mock/wechat/revoke-tokens` forgets every issued token (the next use answers 40001).

use actix_web::{HttpResponse, error::ErrorInternalServerError, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Calling `cgi-bin/token` again leaves the previous token valid this long (WeChat's overlap).
const TOKEN_OVERLAP: Duration = Duration::from_secs(300);

/// Shared state of the wechat simulation, created once per process.
pub struct State {
    appid: String,
    secret: String,
    token_expires_in: u64,
    /// Issued access tokens and when each stops working.
    tokens: Mutex<HashMap<String, Instant>>,
    token_fetches: AtomicU64,
    rng: SystemRandom,
}

impl State {
    /// `MOCK_WECHAT_APPID` / `MOCK_WECHAT_SECRET` (defaults match `config/default.toml`),
    /// `MOCK_WECHAT_TOKEN_EXPIRES_IN` seconds (default 7200, as WeChat).
    pub fn from_env() -> anyhow::Result<Self> {
        let env =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        let token_expires_in = env("MOCK_WECHAT_TOKEN_EXPIRES_IN", "7200")
            .parse()
            .map_err(|e| anyhow::anyhow!("MOCK_WECHAT_TOKEN_EXPIRES_IN: {e}"))?;
        Ok(Self {
            appid: env("MOCK_WECHAT_APPID", "wxd0000000000dev0"),
            secret: env("MOCK_WECHAT_SECRET", "dev-only-wechat-app-secret"),
            token_expires_in,
            tokens: Mutex::new(HashMap::new()),
            token_fetches: AtomicU64::new(0),
            rng: SystemRandom::new(),
        })
    }

    fn random(&self, bytes: &mut [u8]) -> actix_web::Result<()> {
        self.rng
            .fill(bytes)
            .map_err(|_| ErrorInternalServerError("random source failed"))
    }

    /// WeChat's own answer to a wrong appid or secret, or `None` when both are right.
    fn check_app(&self, appid: Option<&str>, secret: Option<&str>) -> Option<HttpResponse> {
        if appid != Some(self.appid.as_str()) {
            Some(error(40013, "invalid appid"))
        } else if secret != Some(self.secret.as_str()) {
            Some(error(40125, "invalid appsecret"))
        } else {
            None
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // A panic while holding the lock cannot leave the map half-updated; keep serving.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    cfg.app_data(state.clone())
        .route("/sns/jscode2session", web::get().to(jscode2session))
        .route("/cgi-bin/token", web::get().to(access_token))
        .route(
            "/wxa/business/getuserphonenumber",
            web::post().to(phone_number),
        )
        .route("/mock/wechat/token-fetches", web::get().to(token_fetches))
        .route("/mock/wechat/revoke-tokens", web::post().to(revoke_tokens));
}

fn error(errcode: i64, errmsg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"errcode": errcode, "errmsg": format!("{errmsg}, rid: mock")}))
}

/// A stable identifier: the same input always gives the same 28 characters.
fn stable_id(prefix: &str, purpose: &str, code: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{purpose}:{code}").as_bytes(),
    );
    let encoded = URL_SAFE_NO_PAD.encode(digest.as_ref());
    format!("{prefix}{}", &encoded[..27])
}

#[derive(Deserialize)]
struct SessionQuery {
    appid: Option<String>,
    secret: Option<String>,
    js_code: Option<String>,
    grant_type: Option<String>,
}

async fn jscode2session(
    state: web::Data<State>,
    query: web::Query<SessionQuery>,
) -> actix_web::Result<HttpResponse> {
    if let Some(refused) = state.check_app(query.appid.as_deref(), query.secret.as_deref()) {
        return Ok(refused);
    }
    if query.grant_type.as_deref() != Some("authorization_code") {
        return Ok(error(40002, "invalid grant_type"));
    }
    let code = query.js_code.as_deref().unwrap_or_default();
    let answer = match code {
        "" => return Ok(error(41008, "missing code")),
        "invalid" => return Ok(error(40029, "invalid code")),
        "ratelimited" => {
            return Ok(error(
                45011,
                "api minute-quota reach limit  mustslower  retry next minute",
            ));
        }
        "risky" => return Ok(error(40226, "code blocked")),
        "busy" => return Ok(error(-1, "system error")),
        code => {
            let mut session_key = [0u8; 16];
            state.random(&mut session_key)?;
            json!({
                "openid": stable_id("o", "openid", code),
                "unionid": stable_id("u", "unionid", code),
                "session_key": STANDARD.encode(session_key),
            })
        }
    };
    // WeChat labels this JSON text/plain; clients must not rely on the content type.
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(answer.to_string()))
}

#[derive(Deserialize)]
struct TokenQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

async fn access_token(
    state: web::Data<State>,
    query: web::Query<TokenQuery>,
) -> actix_web::Result<HttpResponse> {
    if let Some(refused) = state.check_app(query.appid.as_deref(), query.secret.as_deref()) {
        return Ok(refused);
    }
    if query.grant_type.as_deref() != Some("client_credential") {
        return Ok(error(40002, "invalid grant_type"));
    }
    let mut bytes = [0u8; 48];
    state.random(&mut bytes)?;
    let token = format!("mock-{}", URL_SAFE_NO_PAD.encode(bytes));
    let now = Instant::now();
    {
        let mut tokens = state.tokens();
        // A new token retires the earlier ones after the overlap window.
        for expires_at in tokens.values_mut() {
            *expires_at = (*expires_at).min(now + TOKEN_OVERLAP);
        }
        tokens.retain(|_, expires_at| *expires_at > now);
        tokens.insert(
            token.clone(),
            now + Duration::from_secs(state.token_expires_in),
        );
    }
    state.token_fetches.fetch_add(1, Ordering::SeqCst);
    Ok(HttpResponse::Ok()
        .json(json!({"access_token": token, "expires_in": state.token_expires_in})))
}

#[derive(Deserialize)]
struct PhoneQuery {
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct PhoneBody {
    code: String,
}

async fn phone_number(
    state: web::Data<State>,
    query: web::Query<PhoneQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(token) = query.access_token.as_deref().filter(|t| !t.is_empty()) else {
        return error(41001, "access_token missing");
    };
    match state.tokens().get(token) {
        None => {
            return error(
                40001,
                "invalid credential, access_token is invalid or not latest",
            );
        }
        Some(expires_at) if *expires_at <= Instant::now() => {
            return error(42001, "access_token expired");
        }
        Some(_) => {}
    }
    let Ok(PhoneBody { code }) = serde_json::from_slice(&body) else {
        return error(47001, "data format error");
    };
    let Some(number) = code
        .strip_prefix("phone-")
        .filter(|n| n.len() == 11 && n.bytes().all(|b| b.is_ascii_digit()))
    else {
        return error(40029, "invalid code");
    };
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    HttpResponse::Ok().json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": number,
            "purePhoneNumber": number,
            "countryCode": "86",
            "watermark": {"timestamp": timestamp, "appid": state.appid},
        }
    }))
}

async fn token_fetches(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"count": state.token_fetches.load(Ordering::SeqCst)}))
}

async fn revoke_tokens(state: web::Data<State>) -> HttpResponse {
    state.tokens().clear();
    HttpResponse::NoContent().finish()
}
