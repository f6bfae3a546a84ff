//! Mini-program login (WeChat `code2Session`, Alipay `alipay.system.oauth.token`) and logout.

use crate::auth::patient::{PatientCaller, revoke};
use crate::auth::tokens::Audience;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use booking_core::accounts::{Channel, PlatformIdentity, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(wechat_login)
        .service(alipay_login)
        .service(logout);
}

/// AAD of the encrypted WeChat session_key column.
const SESSION_KEY_CONTEXT: &[u8] = b"users.session_key";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The code from `wx.login()` / `my.getAuthCode()`.
    pub code: String,
}

impl LoginRequest {
    fn code(&self) -> Result<&str, ApiError> {
        let code = self.code.trim();
        if code.is_empty() || code.len() > 256 {
            return Err(ApiError::invalid_parameter(
                "code",
                "登录凭证为空或过长",
                "empty or too long",
            ));
        }
        Ok(code)
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginUser {
    pub id: Uuid,
    /// `wechat` or `alipay`
    pub channel: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: LoginUser,
}

fn login_response(state: &AppState, user: User) -> HttpResponse {
    let issued = state.tokens.issue(
        Audience::Patient,
        user.id,
        user.channel.as_str(),
        state.clock.now(),
    );
    HttpResponse::Ok().json(LoginResponse {
        token: issued.token,
        expires_in: issued.claims.exp - issued.claims.iat,
        user: LoginUser {
            id: user.id,
            channel: user.channel.as_str().to_owned(),
        },
    })
}

/// Log in with a WeChat mini-program code.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody, description = "LOGIN_CODE_INVALID"),
        (status = 403, body = ErrorBody, description = "LOGIN_REFUSED (WeChat flagged the user as risky)"),
        (status = 429, body = ErrorBody, description = "PLATFORM_RATE_LIMITED"),
        (status = 502, body = ErrorBody, description = "PLATFORM_ERROR"),
    )
)]
#[post("/auth/wechat/login")]
async fn wechat_login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = state.wechat.code2session(body.code()?).await?;
    let session_key_enc = state
        .cipher
        .encrypt(session.session_key.expose().as_bytes(), SESSION_KEY_CONTEXT);
    let identity = PlatformIdentity {
        channel: Channel::Wechat,
        platform_user_id: &session.openid,
        unionid: session.unionid.as_deref(),
        session_key_enc: Some(session_key_enc),
    };
    let user = state
        .accounts
        .record_login(identity, state.clock.now())
        .await?;
    Ok(login_response(&state, user))
}

/// Log in with an Alipay mini-program auth code.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody, description = "LOGIN_CODE_INVALID"),
        (status = 502, body = ErrorBody, description = "PLATFORM_ERROR"),
    )
)]
#[post("/auth/alipay/login")]
async fn alipay_login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let alipay_user = state.alipay_login.login(body.code()?).await?;
    // Alipay is moving every app from user_id to open_id; keying accounts by open_id whenever it
    // comes keeps them stable through that migration (user_id only for apps that still lack it).
    let platform_user_id = alipay_user
        .open_id
        .as_deref()
        .or(alipay_user.user_id.as_deref())
        .ok_or_else(|| ApiError::internal("Alipay answered neither user_id nor open_id"))?;
    let identity = PlatformIdentity {
        channel: Channel::Alipay,
        platform_user_id,
        unionid: None,
        session_key_enc: None,
    };
    let user = state
        .accounts
        .record_login(identity, state.clock.now())
        .await?;
    Ok(login_response(&state, user))
}

/// Revoke the caller's token: it is refused from now until it would have expired.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody))
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    caller: PatientCaller,
) -> Result<HttpResponse, ApiError> {
    revoke(&state, &caller.claims).await?;
    Ok(HttpResponse::NoContent().finish())
}
