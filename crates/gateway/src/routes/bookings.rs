//! Booking a place, reading one's bookings, cancelling. `POST /bookings` honours
//! `Idempotency-Key`: a retry with the same key and body gets the first answer again, the same
//! key with another body is refused.

use crate::auth::patient::PatientCaller;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::params::PageParams;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use booking_core::accounts::Channel;
use booking_core::bookings::{Booking, NewBooking};
use kv_store::{Begin, StoredResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_booking)
        .service(list_bookings)
        .service(get_booking)
        .service(cancel_booking);
}

/// How long an `Idempotency-Key` is remembered: longer than any client retries a booking.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBookingRequest {
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub patient_id: Uuid,
    /// `wechat` or `alipay`: how the fee will be paid; must be the channel the caller logged in with.
    pub channel: String,
}

#[derive(Serialize, ToSchema)]
pub struct BookingDto {
    pub id: Uuid,
    /// `pending_payment`, `confirmed`, `checked_in`, `completed`, `cancelled`, `refunding`,
    /// `refunded`, `no_show` or `payment_mismatch`.
    pub status: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    /// Pay before this, or the place goes back.
    pub hold_expires_at: chrono::DateTime<chrono::Utc>,
    /// The `wx.requestPayment` object (`appId, timeStamp, nonceStr, package, signType,
    /// paySign`) or `{tradeNO}` for `my.tradePay`; only in the answer that created the booking.
    #[schema(value_type = Option<Object>)]
    pub payment: Option<serde_json::Value>,
    pub patient_id: Uuid,
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub channel: String,
    /// Given on confirmation: 1, 2, 3… within the schedule.
    pub visit_number: Option<u32>,
    /// The rule set the booking was made under, for disputes.
    pub rule_version: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Booking> for BookingDto {
    fn from(b: Booking) -> Self {
        Self {
            id: b.id,
            status: b.status.as_str().to_owned(),
            out_trade_no: b.out_trade_no,
            amount_fen: b.amount.0,
            hold_expires_at: b.hold_expires_at,
            payment: None,
            patient_id: b.patient_id,
            schedule_id: b.schedule_id,
            segment_id: b.segment_id,
            channel: b.channel.as_str().to_owned(),
            visit_number: b.visit_number,
            rule_version: b.rule_version,
            created_at: b.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BookingList {
    pub items: Vec<BookingDto>,
    pub next_cursor: Option<String>,
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_REQUIRED",
            "请在 Idempotency-Key 请求头中提供 1 到 128 个字符的唯一键",
            "Send a unique Idempotency-Key header of 1 to 128 visible characters",
        )
        .with_parameter("Idempotency-Key")
    };
    let value = req
        .headers()
        .get("idempotency-key")
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?
        .trim();
    if value.is_empty() || value.len() > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(missing());
    }
    Ok(value.to_owned())
}

/// Hold a place and get the payment order. Needs `Idempotency-Key`.
#[utoipa::path(
    tag = "bookings",
    security(("bearer" = [])),
    request_body = CreateBookingRequest,
    params(("Idempotency-Key" = String, Header, description = "unique per booking attempt; retries reuse it")),
    responses(
        (status = 201, body = BookingDto),
        (status = 400, body = ErrorBody, description = "IDEMPOTENCY_KEY_REQUIRED, INVALID_JSON, CHANNEL_MISMATCH"),
        (status = 404, body = ErrorBody, description = "PATIENT_NOT_FOUND, SCHEDULE_NOT_FOUND, SEGMENT_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "SLOT_SOLD_OUT, ALREADY_BOOKED, IDEMPOTENCY_IN_PROGRESS, or a rule's code (NOT_YET_RELEASED, QUOTA_…, BOOKING_SUSPENDED, …)"),
        (status = 422, body = ErrorBody, description = "IDEMPOTENCY_KEY_REUSED: the key was used with another body"),
        (status = 502, body = ErrorBody, description = "PAYMENT_PROVIDER_REFUSED"),
        (status = 503, body = ErrorBody, description = "PAYMENT_PROVIDER_UNAVAILABLE: no order could be opened; the place was given back"),
    )
)]
#[post("/bookings")]
async fn create_booking(
    state: web::Data<AppState>,
    caller: PatientCaller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = format!("booking:{}:{}", caller.user_id, idempotency_key(&req)?);
    let request = parse_request(&caller, &body);
    // The rush's late majority is answered from one Redis read, before the idempotency store:
    // a "sold out" is not remembered, so a retry with the same key simply asks again.
    if let Ok(request) = &request
        && state
            .bookings
            .sold_out(request.schedule_id, request.segment_id)
            .await?
    {
        return Err(booking_core::bookings::BookingError::SoldOut.into());
    }
    let fingerprint = hex_sha256(&body);
    match state
        .stores
        .idempotency
        .begin(&key, &fingerprint, IDEMPOTENCY_TTL)
        .await?
    {
        Begin::Started => {}
        Begin::Completed(stored) => return Ok(replay(stored)),
        Begin::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_IN_PROGRESS",
                "相同的请求正在处理中，请稍后查询",
                "A request with this Idempotency-Key is still being processed",
            ));
        }
        Begin::Conflict => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "该 Idempotency-Key 已用于不同的请求",
                "This Idempotency-Key was already used with a different request body",
            ));
        }
    }
    let outcome = match request {
        Ok(request) => book(&state, request).await,
        Err(refusal) => Err(refusal),
    };
    let (status, json) = match &outcome {
        Ok(dto) => (
            StatusCode::CREATED,
            serde_json::to_vec(dto).map_err(ApiError::internal)?,
        ),
        // Server-side failures may succeed on retry: forget the key rather than replaying them.
        Err(error) if error.status.is_server_error() => {
            state.stores.idempotency.abandon(&key, &fingerprint).await?;
            return Err(outcome.err().expect("matched Err"));
        }
        Err(error) => (error.status, crate::http::error::render(error)),
    };
    state
        .stores
        .idempotency
        .complete(
            &key,
            &fingerprint,
            &StoredResponse {
                status: status.as_u16(),
                body: json.clone(),
            },
            IDEMPOTENCY_TTL,
        )
        .await?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(json))
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"))
        .body(stored.body)
}

fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The body as a booking request of the caller's.
fn parse_request(caller: &PatientCaller, body: &[u8]) -> Result<NewBooking, ApiError> {
    let request: CreateBookingRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "请求体不是有效的 JSON",
            format!("The body is not a valid booking request: {e}"),
        )
    })?;
    let channel: Channel = request.channel.parse().map_err(|_| {
        ApiError::invalid_parameter(
            "channel",
            "应为 wechat 或 alipay",
            "expected wechat or alipay",
        )
    })?;
    if channel.as_str() != caller.claims.scope {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "CHANNEL_MISMATCH",
            "支付渠道须与登录渠道一致",
            "The payment channel must be the one you logged in with",
        )
        .with_parameter("channel"));
    }
    Ok(NewBooking {
        user_id: caller.user_id,
        patient_id: request.patient_id,
        schedule_id: request.schedule_id,
        segment_id: request.segment_id,
        channel,
    })
}

async fn book(state: &AppState, request: NewBooking) -> Result<BookingDto, ApiError> {
    let (booking, payment) = state.payments.book(request).await?;
    tracing::info!(booking_id = %booking.id, schedule_id = %booking.schedule_id, "place held, payment order opened");
    Ok(BookingDto {
        payment: Some(payment),
        ..BookingDto::from(booking)
    })
}

/// The caller's bookings, newest first.
#[utoipa::path(tag = "bookings", security(("bearer" = [])), params(PageParams), responses((status = 200, body = BookingList)))]
#[get("/bookings")]
async fn list_bookings(
    state: web::Data<AppState>,
    caller: PatientCaller,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = state.bookings.list(caller.user_id, page.parse()?).await?;
    Ok(HttpResponse::Ok().json(BookingList {
        items: page.items.into_iter().map(BookingDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn booking_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::from(booking_core::bookings::BookingError::NotFound))
}

/// One of the caller's bookings; anyone else's is 404.
#[utoipa::path(
    tag = "bookings",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingDto), (status = 404, body = ErrorBody, description = "BOOKING_NOT_FOUND"))
)]
#[get("/bookings/{id}")]
async fn get_booking(
    state: web::Data<AppState>,
    caller: PatientCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let booking = state.bookings.get(caller.user_id, booking_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(BookingDto::from(booking)))
}

/// Cancel a booking. An unpaid hold ends at once and its place goes back; a paid booking (until
/// the cancellation deadline) becomes `refunding`, and its place returns when the refund completes.
#[utoipa::path(
    tag = "bookings",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = BookingDto),
        (status = 404, body = ErrorBody, description = "BOOKING_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "BOOKING_NOT_CANCELLABLE, CANCEL_DEADLINE_PASSED"),
        (status = 503, body = ErrorBody, description = "PAYMENT_PROVIDER_UNAVAILABLE"),
    )
)]
#[post("/bookings/{id}/cancel")]
async fn cancel_booking(
    state: web::Data<AppState>,
    caller: PatientCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let booking = state
        .payments
        .cancel(caller.user_id, booking_id(&id)?)
        .await?;
    tracing::info!(booking_id = %booking.id, "booking cancelled by the patient");
    Ok(HttpResponse::Ok().json(BookingDto::from(booking)))
}
