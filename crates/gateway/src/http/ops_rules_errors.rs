//! How rule-set publishing and suspension lifts fail over HTTP.

use super::error::{ApiError, database_error};
use actix_web::http::StatusCode;
use booking_core::bookings::rule_sets::{RuleSetError, StoredRulesError};
use booking_core::bookings::suspensions::SuspensionError;
use booking_core::rules::RuleScope;

fn outside_hospital() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "OUTSIDE_OPERATOR_HOSPITAL",
        "无权处理其他医院的事务",
        "This belongs to another hospital than the one you work for",
    )
}

impl From<RuleSetError> for ApiError {
    fn from(error: RuleSetError) -> Self {
        match error {
            RuleSetError::HospitalNotFound => {
                ApiError::not_found("HOSPITAL_NOT_FOUND", "医院不存在", "No such hospital")
                    .with_parameter("hospital_id")
            }
            RuleSetError::ScopeNotFound(scope) => {
                let (code, zh, en) = match scope {
                    RuleScope::Hospital(_) => {
                        ("HOSPITAL_NOT_FOUND", "医院不存在", "No such hospital")
                    }
                    RuleScope::Department(_) => {
                        ("DEPARTMENT_NOT_FOUND", "科室不存在", "No such department")
                    }
                    RuleScope::Doctor(_) => ("DOCTOR_NOT_FOUND", "医生不存在", "No such doctor"),
                };
                ApiError::not_found(code, zh, en).with_parameter("scope_id")
            }
            RuleSetError::OutsideHospital => outside_hospital(),
            RuleSetError::InvalidRules(why) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "RULES_INVALID",
                format!("规则无效：{why}"),
                format!("The rules are not valid: {why}"),
            )
            .with_parameter("rules"),
            RuleSetError::EffectiveFromInPast { now } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "EFFECTIVE_FROM_IN_PAST",
                format!("生效时间不能早于当前时间（{now}）"),
                format!("effective_from may not be in the past (it is now {now})"),
            )
            .with_parameter("effective_from"),
            RuleSetError::CursorMismatch => ApiError::invalid_parameter(
                "cursor",
                "不属于此列表",
                "it does not belong to this list",
            ),
            RuleSetError::VersionConflict => ApiError::new(
                StatusCode::CONFLICT,
                "RULES_VERSION_CONFLICT",
                "同一范围的规则正在同时发布，请重试",
                "Another version of these rules was being published at the same time; try again",
            ),
            RuleSetError::Stored(StoredRulesError::Database(e)) | RuleSetError::Database(e) => {
                database_error(e)
            }
            e @ RuleSetError::Stored(StoredRulesError::Corrupted(_)) => ApiError::internal(e),
        }
    }
}

impl From<SuspensionError> for ApiError {
    fn from(error: SuspensionError) -> Self {
        match error {
            SuspensionError::PatientNotFound => {
                ApiError::not_found("PATIENT_NOT_FOUND", "就诊人不存在", "No such patient")
            }
            SuspensionError::ReasonRequired => ApiError::new(
                StatusCode::BAD_REQUEST,
                "LIFT_REASON_REQUIRED",
                "解除停约须填写理由",
                "Lifting a suspension needs a reason",
            )
            .with_parameter("reason"),
            SuspensionError::ReasonTooLong { max_chars } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "LIFT_REASON_TOO_LONG",
                format!("理由至多 {max_chars} 个字符"),
                format!("A reason may be at most {max_chars} characters"),
            )
            .with_parameter("reason"),
            SuspensionError::NotSuspended => ApiError::new(
                StatusCode::CONFLICT,
                "NOT_SUSPENDED",
                "该就诊人当前未被停约",
                "No suspension is in force for this patient",
            ),
            SuspensionError::OutsideHospital => ApiError::new(
                StatusCode::FORBIDDEN,
                "OUTSIDE_OPERATOR_HOSPITAL",
                "停约源于其他医院的爽约，只能由该医院解除",
                "The suspension follows a visit missed at another hospital; that hospital may lift it",
            ),
            SuspensionError::Database(e) => database_error(e),
            e @ SuspensionError::Corrupted(_) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn each_refusal_has_its_own_code_and_status() {
        let cases = [
            (
                ApiError::from(SuspensionError::ReasonRequired),
                400,
                "LIFT_REASON_REQUIRED",
            ),
            (
                ApiError::from(SuspensionError::ReasonTooLong { max_chars: 500 }),
                400,
                "LIFT_REASON_TOO_LONG",
            ),
            (
                ApiError::from(SuspensionError::NotSuspended),
                409,
                "NOT_SUSPENDED",
            ),
            (
                ApiError::from(SuspensionError::OutsideHospital),
                403,
                "OUTSIDE_OPERATOR_HOSPITAL",
            ),
            (
                ApiError::from(SuspensionError::PatientNotFound),
                404,
                "PATIENT_NOT_FOUND",
            ),
            (
                ApiError::from(RuleSetError::InvalidRules("hold_minutes".into())),
                400,
                "RULES_INVALID",
            ),
            (
                ApiError::from(RuleSetError::EffectiveFromInPast {
                    now: chrono::DateTime::UNIX_EPOCH,
                }),
                400,
                "EFFECTIVE_FROM_IN_PAST",
            ),
            (
                ApiError::from(RuleSetError::ScopeNotFound(RuleScope::Department(
                    Uuid::nil(),
                ))),
                404,
                "DEPARTMENT_NOT_FOUND",
            ),
            (
                ApiError::from(RuleSetError::OutsideHospital),
                403,
                "OUTSIDE_OPERATOR_HOSPITAL",
            ),
            (
                ApiError::from(RuleSetError::VersionConflict),
                409,
                "RULES_VERSION_CONFLICT",
            ),
            (
                ApiError::from(SuspensionError::Corrupted("x".into())),
                500,
                "INTERNAL_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status.as_u16(), error.code), (status, code));
        }
    }
}
