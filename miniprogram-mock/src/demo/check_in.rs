//! The last step: checking the patient in at the hospital with the visit code, as a kiosk does.
//! Check-in is only allowed on the visit day within the segment's window, so a demo run at any
//! other time is refused; that refusal is the expected end of the walk, not a failure.

use super::api::{Api, DemoError};
use super::schedule::Place;
use super::step::Step;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// An operator account (role `kiosk` or above) to check in with.
pub struct Operator {
    pub username: String,
    pub password: String,
}

/// The gateway's refusals that only mean "not now": the booking is in order, the visit is on
/// another day or at another time.
const NOT_NOW: [&str; 3] = [
    "VISIT_CODE_WRONG_DAY",
    "CHECK_IN_TOO_EARLY",
    "CHECK_IN_TOO_LATE",
];

fn is_not_now(status: StatusCode, code: Option<&str>) -> bool {
    status == StatusCode::CONFLICT && code.is_some_and(|code| NOT_NOW.contains(&code))
}

pub async fn check_in(
    api: &Api,
    step: &Step,
    visit_code: &str,
    place: &Place,
    operator: Option<&Operator>,
) -> Result<(), DemoError> {
    let Some(operator) = operator else {
        step.done(format!(
            "not tried (no --operator-username/--operator-password); on {} within the check-in \
             window of the {} segment, show the visit code at the hospital's kiosk, or POST it to \
             /api/v1/ops/check-in with a kiosk operator's token",
            place.date, place.start_time
        ));
        return Ok(());
    };
    let login = api
        .send(
            step,
            api.gateway(Method::POST, "/api/v1/ops/login")
                .json(&json!({"username": operator.username, "password": operator.password})),
        )
        .await?
        .expect(StatusCode::OK)?;
    let token = login.str("/token")?;
    let answer = api
        .send(
            step,
            api.gateway(Method::POST, "/api/v1/ops/check-in")
                .bearer_auth(token)
                .json(&json!({"visit_code": visit_code})),
        )
        .await?;
    if is_not_now(answer.status, answer.error_code()) {
        step.done(format!(
            "refused (as expected outside the visit's check-in window): {}: {}; check-in is \
             only allowed on {} within the window of the {} segment",
            answer.error_code().unwrap_or_default(),
            answer.error_message().unwrap_or("no message"),
            place.date,
            place.start_time,
        ));
        return Ok(());
    }
    let checked_in = answer.expect(StatusCode::OK)?;
    step.done(format!(
        "checked in by {}: queue position {}, booking {}",
        operator.username,
        checked_in.i64("/queue_position")?,
        checked_in.str("/booking/status")?,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_timing_refusals_end_the_walk_quietly() {
        for code in NOT_NOW {
            assert!(is_not_now(StatusCode::CONFLICT, Some(code)), "{code}");
        }
        for (status, code) in [
            (StatusCode::CONFLICT, Some("ALREADY_CHECKED_IN")),
            (StatusCode::CONFLICT, Some("BOOKING_NOT_CONFIRMED")),
            (StatusCode::CONFLICT, None),
            (StatusCode::FORBIDDEN, Some("FORBIDDEN_ROLE")),
            (StatusCode::BAD_REQUEST, Some("CHECK_IN_TOO_EARLY")),
        ] {
            assert!(!is_not_now(status, code), "{status} {code:?}");
        }
    }
}
