//! How booking failures leave the API. Rule refusals keep the rule's own code and a message
//! that says when the patient can try again.

use super::error::{ApiError, database_error};
use actix_web::http::StatusCode;
use booking_core::bookings::BookingError;
use booking_core::catalog::Language;
use booking_core::checkin::VisitCodeError;

impl From<BookingError> for ApiError {
    fn from(error: BookingError) -> Self {
        let conflict = |code, zh: &str, en: &str| ApiError::new(StatusCode::CONFLICT, code, zh, en);
        match error {
            BookingError::PatientNotFound => {
                ApiError::not_found("PATIENT_NOT_FOUND", "就诊人不存在", "No such patient")
            }
            BookingError::ScheduleNotFound => {
                ApiError::not_found("SCHEDULE_NOT_FOUND", "出诊安排不存在", "No such schedule")
            }
            BookingError::SegmentNotFound => ApiError::not_found(
                "SEGMENT_NOT_FOUND",
                "该时段不存在",
                "No such time segment in this schedule",
            ),
            BookingError::NotFound => {
                ApiError::not_found("BOOKING_NOT_FOUND", "预约不存在", "No such booking")
            }
            BookingError::Refused(refusal) => ApiError::new(
                StatusCode::CONFLICT,
                refusal.code,
                refusal.message(Language::Zh),
                refusal.message(Language::En),
            ),
            BookingError::SoldOut => conflict(
                "SLOT_SOLD_OUT",
                "该时段号源已约满",
                "This time segment is fully booked",
            ),
            BookingError::AlreadyBooked { .. } => conflict(
                "ALREADY_BOOKED",
                "该就诊人已预约本次出诊",
                "This patient already has a booking for this schedule",
            ),
            BookingError::NotCancellable { status } => ApiError::new(
                StatusCode::CONFLICT,
                "BOOKING_NOT_CANCELLABLE",
                format!("当前状态（{}）的预约不能取消", status.as_str()),
                format!(
                    "A booking in status {} cannot be cancelled",
                    status.as_str()
                ),
            ),
            BookingError::NotConfirmed { status } => ApiError::new(
                StatusCode::CONFLICT,
                "BOOKING_NOT_CONFIRMED",
                format!("预约当前状态为 {}，未确认", status.as_str()),
                format!("The booking is {}, not confirmed", status.as_str()),
            ),
            BookingError::AlreadyCheckedIn => conflict(
                "ALREADY_CHECKED_IN",
                "该预约已签到",
                "This booking has already checked in",
            ),
            BookingError::WrongDay { visit_date } => ApiError::new(
                StatusCode::CONFLICT,
                "VISIT_CODE_WRONG_DAY",
                format!("就诊日期为 {visit_date}，不是今天"),
                format!("The visit is on {visit_date}, not today"),
            ),
            BookingError::VisitCode(e) => {
                let (code, zh) = match e {
                    VisitCodeError::Malformed => ("VISIT_CODE_INVALID", "无法识别的就诊码"),
                    VisitCodeError::BadSignature => ("VISIT_CODE_INVALID", "就诊码无效"),
                    VisitCodeError::Expired => ("VISIT_CODE_EXPIRED", "就诊码已过期，请刷新"),
                };
                ApiError::new(StatusCode::BAD_REQUEST, code, zh, e.to_string())
                    .with_parameter("visit_code")
            }
            BookingError::Store(e) => ApiError::from(e),
            BookingError::Database(e) => database_error(e),
            e @ BookingError::Corrupted(_) => ApiError::internal(e),
        }
    }
}
