//! The caller's own account: who they are and their verified phone number.

use crate::auth::patient::PatientCaller;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpResponse, get, put, web};
use booking_core::accounts::{Channel, StoredPhone, User};
use booking_core::identity::MobileNumber;
use serde::{Deserialize, Serialize};
use sms_verify::Purpose;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(me)
        .service(bind_phone)
        .service(bind_wechat_phone);
}

/// AAD of the encrypted phone column of users.
const PHONE_CONTEXT: &[u8] = b"users.phone";
/// Keyed-hash domain of phone numbers.
pub const PHONE_HASH_DOMAIN: &str = "phone";

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: Uuid,
    /// `wechat` or `alipay`
    pub channel: String,
    /// Masked, e.g. `138****8000`; `null` until a phone is bound.
    pub phone: Option<String>,
}

impl From<User> for MeResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            channel: user.channel.as_str().to_owned(),
            phone: user.phone_masked,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindPhoneRequest {
    pub phone: String,
    /// The 6-digit code sent by `POST /api/v1/sms/send` with purpose `bind_phone`.
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindWechatPhoneRequest {
    /// The code from the mini-program's `getPhoneNumber` button.
    pub code: String,
}

fn stored_phone(state: &AppState, phone: &MobileNumber) -> StoredPhone {
    StoredPhone {
        ciphertext: state
            .cipher
            .encrypt(phone.as_str().as_bytes(), PHONE_CONTEXT),
        hash: state.cipher.keyed_hash(PHONE_HASH_DOMAIN, phone.as_str()),
        masked: phone.to_string(),
    }
}

/// The caller's account.
#[utoipa::path(tag = "account", security(("bearer" = [])), responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
#[get("/me")]
async fn me(state: web::Data<AppState>, caller: PatientCaller) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.user(caller.user_id).await?;
    Ok(HttpResponse::Ok().json(MeResponse::from(user)))
}

/// Bind a phone number verified by an SMS code.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = BindPhoneRequest,
    responses(
        (status = 200, body = MeResponse),
        (status = 400, body = ErrorBody, description = "PHONE_INVALID, SMS_CODE_WRONG, SMS_CODE_LOCKED, SMS_CODE_EXPIRED, SMS_CODE_MALFORMED"),
    )
)]
#[put("/me/phone")]
async fn bind_phone(
    state: web::Data<AppState>,
    caller: PatientCaller,
    body: web::Json<BindPhoneRequest>,
) -> Result<HttpResponse, ApiError> {
    let phone = MobileNumber::parse(&body.phone)?;
    state
        .sms
        .verify(Purpose::BindPhone, phone.as_str(), &body.code)
        .await?;
    let user = state
        .accounts
        .bind_phone(
            caller.user_id,
            stored_phone(&state, &phone),
            state.clock.now(),
        )
        .await?;
    tracing::info!(user_id = %user.id, phone = %phone, "phone bound");
    Ok(HttpResponse::Ok().json(MeResponse::from(user)))
}

/// Bind the phone number WeChat verified (`getPhoneNumber` button), without an SMS.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = BindWechatPhoneRequest,
    responses(
        (status = 200, body = MeResponse),
        (status = 400, body = ErrorBody, description = "PHONE_CODE_INVALID, CHANNEL_MISMATCH, PHONE_INVALID"),
    )
)]
#[put("/me/phone/wechat")]
async fn bind_wechat_phone(
    state: web::Data<AppState>,
    caller: PatientCaller,
    body: web::Json<BindWechatPhoneRequest>,
) -> Result<HttpResponse, ApiError> {
    if caller.claims.scope != Channel::Wechat.as_str() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "CHANNEL_MISMATCH",
            "仅微信小程序用户可用",
            "Only for users who logged in through WeChat",
        ));
    }
    let wechat_phone = state
        .wechat
        .phone_number(body.code.trim())
        .await
        .map_err(|e| match e {
            miniapp_auth::WechatError::InvalidCode => ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "PHONE_CODE_INVALID",
                "手机号授权码无效或已过期",
                "The phone-number code is invalid or expired",
            ),
            other => ApiError::from(other),
        })?;
    let phone = MobileNumber::parse(&wechat_phone.pure_phone_number)?;
    let user = state
        .accounts
        .bind_phone(
            caller.user_id,
            stored_phone(&state, &phone),
            state.clock.now(),
        )
        .await?;
    tracing::info!(user_id = %user.id, phone = %phone, "phone bound through WeChat");
    Ok(HttpResponse::Ok().json(MeResponse::from(user)))
}
