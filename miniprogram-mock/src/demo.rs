//! `miniprogram-mock demo`: one patient walked through the whole mini-program flow against a
//! running gateway and this mock, one printed line per step: log in → SMS code → bind the phone
//! → add a patient → pick a schedule → book → pay → confirmed → visit code → check-in.
//!
//! Every run is a new person (login code, phone and resident ID from the clock), so the demo can
//! be run again and again against one gateway. Any answer the walk did not expect ends it with
//! the request, the HTTP status and the body on stderr, and a non-zero exit.

mod api;
mod check_in;
mod identity;
mod schedule;
mod step;

use api::{Api, Body, DemoError};
use check_in::Operator;
use identity::Identity;
use reqwest::{Method, StatusCode};
use schedule::Place;
use serde_json::json;
use sms_verify::mask_phone;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use step::Steps;

/// Log in, SMS code, bind phone, patient, schedule, book, pay, confirmed, visit code, check-in.
const STEPS: usize = 10;
/// The mock posts the notification at once; the gateway confirms within milliseconds. Longer
/// than this means the notification is not getting through (wrong `notify_url`, gateway refusing
/// it): worth saying rather than waiting on.
const CONFIRMATION_WAIT: Duration = Duration::from_secs(30);
/// The SMS goes out while the gateway answers `sms/send`; the wait only covers a slow provider.
const OUTBOX_WAIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Items asked for per list request while looking for a place (the gateway's maximum).
const PAGE_LIMIT: &str = "100";

/// Walk one made-up patient through login → SMS → patient → book → pay → confirmed → check-in.
///
/// Needs a running gateway whose WeChat, WeChat Pay, Alipay and SMS settings point at a running
/// mock (as `make run` and config/default.toml set them up). Each step prints one line; an
/// unexpected answer prints the HTTP status and body and exits non-zero. Check-in needs an
/// operator account (`guahao operator create --role kiosk …`) and only succeeds on the visit
/// day within its window; at any other time the gateway's refusal is printed as the last step.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Base URL of the guahao gateway.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    gateway: String,
    /// Base URL of the running miniprogram-mock (SMS outbox and payment hooks).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8090")]
    mock: String,
    /// Log in and pay through this mini-program.
    #[arg(long, value_enum, default_value_t = Channel::Wechat)]
    channel: Channel,
    /// Operator (role kiosk or above) to check the patient in with; without it the demo stops
    /// at the visit code.
    #[arg(long, value_name = "USERNAME", requires = "operator_password")]
    operator_username: Option<String>,
    /// The operator's password; the environment variable keeps it out of `ps`.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "DEMO_OPERATOR_PASSWORD",
        hide_env_values = true
    )]
    operator_password: Option<String>,
}

impl DemoArgs {
    fn operator(&self) -> Option<Operator> {
        Some(Operator {
            username: self.operator_username.clone()?,
            password: self.operator_password.clone()?,
        })
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Channel {
    /// WeChat login and WeChat Pay (wx.requestPayment).
    Wechat,
    /// Alipay login and Alipay (my.tradePay).
    Alipay,
}

impl Channel {
    /// As the gateway's paths and `channel` fields spell it.
    fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
        }
    }

    fn payment_service(self) -> &'static str {
        match self {
            Channel::Wechat => "WeChat Pay",
            Channel::Alipay => "Alipay",
        }
    }
}

/// How the booking is paid: the one value of the payment object the mock's pay hook needs.
enum PaymentOrder {
    /// From `package: "prepay_id=…"` of the `wx.requestPayment` object.
    Wechat { prepay_id: String },
    /// The `tradeNO` for `my.tradePay`.
    Alipay { trade_no: String },
}

struct Booking {
    id: String,
    payment: PaymentOrder,
}

/// Runs the walk. On an unexpected answer prints the failed step, the request, the HTTP status
/// and the body (or why there was no answer) on stderr and exits with status 1, without the
/// backtrace an error returned from `main` would carry under `RUST_BACKTRACE`.
pub async fn run(args: DemoArgs) {
    if let Err(error) = walk(&args).await {
        eprintln!("demo failed: {}", with_causes(&error));
        std::process::exit(1);
    }
}

/// The error's message and those of its causes, one per line.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!("\n  caused by: {inner}"));
        cause = inner.source();
    }
    text
}

/// The steps in order; `Ok` once the last one has printed its line.
async fn walk(args: &DemoArgs) -> Result<(), DemoError> {
    let api = Api::new(&args.gateway, &args.mock)?;
    let person = Identity::for_run(run_seed());
    let channel = args.channel;
    println!(
        "guahao demo: one patient paying with {}; gateway {}, mock {}",
        channel.payment_service(),
        args.gateway,
        args.mock
    );
    let mut steps = Steps::new(STEPS);
    let token = log_in(&api, &mut steps, channel, &person).await?;
    let code = sms_code(&api, &mut steps, &token, &person.phone).await?;
    bind_phone(&api, &mut steps, &token, &person.phone, &code).await?;
    let patient_id = add_patient(&api, &mut steps, &token, &person).await?;
    let place = pick_place(&api, &mut steps).await?;
    let booking = book(
        &api,
        &mut steps,
        &token,
        &patient_id,
        &place,
        channel,
        &person,
    )
    .await?;
    pay(&api, &mut steps, &booking).await?;
    wait_for_confirmation(&api, &mut steps, &token, &booking.id).await?;
    let visit_code = visit_code(&api, &mut steps, &token, &booking.id).await?;
    let step = steps.next("check in");
    check_in::check_in(&api, &step, &visit_code, &place, args.operator().as_ref()).await
}

/// A number that differs from run to run: the clock's nanoseconds.
fn run_seed() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // The low 64 bits change every nanosecond, which is all a seed needs.
    since_epoch.as_nanos() as u64
}

/// Integer fen as yuan, `1200` → `12.00`.
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

async fn log_in(
    api: &Api,
    steps: &mut Steps,
    channel: Channel,
    person: &Identity,
) -> Result<String, DemoError> {
    let step = steps.next(match channel {
        Channel::Wechat => "log in with WeChat (wx.login → code2Session)",
        Channel::Alipay => "log in with Alipay (my.getAuthCode → oauth token)",
    });
    let path = format!("/api/v1/auth/{}/login", channel.as_str());
    let body = api
        .send(
            &step,
            api.gateway(Method::POST, &path)
                .json(&json!({"code": person.login_code})),
        )
        .await?
        .expect(StatusCode::OK)?;
    step.done(format!(
        "user {} (code {}), token valid for {} s",
        body.str("/user/id")?,
        person.login_code,
        body.i64("/expires_in")?
    ));
    Ok(body.str("/token")?.to_owned())
}

async fn sms_code(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    phone: &str,
) -> Result<String, DemoError> {
    let step = steps.next("send an SMS code");
    let sent = api
        .send(
            &step,
            api.gateway(Method::POST, "/api/v1/sms/send")
                .bearer_auth(token)
                .json(&json!({"phone": phone, "purpose": "bind_phone"})),
        )
        .await?
        .expect(StatusCode::ACCEPTED)?;
    let deadline = Instant::now() + OUTBOX_WAIT;
    let code = loop {
        let outbox = api
            .send(
                &step,
                api.mock(Method::GET, "/mock/sms/outbox")
                    .query(&[("phone", phone)]),
            )
            .await?
            .expect(StatusCode::OK)?;
        if let Some(code) = newest_code(&outbox) {
            break code;
        }
        if Instant::now() >= deadline {
            return Err(step.fail(format!(
                "the mock's outbox has no message for {} after {OUTBOX_WAIT:?}: is the \
                 gateway's sms.endpoint this mock's /sms/aliyun or /sms/tencent?",
                mask_phone(phone)
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    step.done(format!(
        "sent to {} (next one in {} s); the mock's outbox shows code {code}",
        mask_phone(phone),
        sent.i64("/cooldown_s")?
    ));
    Ok(code)
}

/// The code of the newest message of an outbox answer (`items` are oldest first).
fn newest_code(outbox: &Body) -> Option<String> {
    outbox.value()["items"]
        .as_array()?
        .last()?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

async fn bind_phone(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    phone: &str,
    code: &str,
) -> Result<(), DemoError> {
    let step = steps.next("bind the phone");
    let body = api
        .send(
            &step,
            api.gateway(Method::PUT, "/api/v1/me/phone")
                .bearer_auth(token)
                .json(&json!({"phone": phone, "code": code})),
        )
        .await?
        .expect(StatusCode::OK)?;
    step.done(format!("phone {} verified", body.str("/phone")?));
    Ok(())
}

async fn add_patient(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    person: &Identity,
) -> Result<String, DemoError> {
    let step = steps.next("add a patient (就诊人)");
    let body = api
        .send(
            &step,
            api.gateway(Method::POST, "/api/v1/patients")
                .bearer_auth(token)
                .json(&json!({
                    "name": "张三",
                    "id_type": "resident_id",
                    "id_number": person.resident_id,
                    "phone": person.phone,
                })),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let id = body.str("/id")?.to_owned();
    step.done(format!(
        "{} with resident ID {}, patient {id}",
        body.str("/name")?,
        body.str("/id_number")?
    ));
    Ok(id)
}

/// The first bookable place, hospital by hospital, following each one's schedule pages.
async fn pick_place(api: &Api, steps: &mut Steps) -> Result<Place, DemoError> {
    let step = steps.next("pick a bookable schedule");
    let hospitals = api
        .send(
            &step,
            api.gateway(Method::GET, "/api/v1/hospitals")
                .query(&[("limit", PAGE_LIMIT)]),
        )
        .await?
        .expect(StatusCode::OK)?;
    let Some(list) = hospitals.value()["items"].as_array() else {
        return Err(hospitals.unexpected("expected a list of hospitals in `items`"));
    };
    for hospital in list {
        let (Some(hospital_id), Some(name)) = (hospital["id"].as_str(), hospital["name"].as_str())
        else {
            return Err(hospitals.unexpected("a hospital without id or name"));
        };
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("hospital_id", hospital_id), ("limit", PAGE_LIMIT)];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let page = api
                .send(
                    &step,
                    api.gateway(Method::GET, "/api/v1/schedules").query(&query),
                )
                .await?
                .expect(StatusCode::OK)?;
            if let Some(place) = schedule::first_bookable(page.value()) {
                step.done(format!(
                    "{name}, {} {} {}–{}, fee {} yuan ({} fen), {} place(s) left",
                    place.date,
                    place.period,
                    place.start_time,
                    place.end_time,
                    yuan(place.fee_fen),
                    place.fee_fen,
                    place.remaining
                ));
                return Ok(place);
            }
            match page.value()["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Err(step.fail(
        "no hospital has a bookable schedule with places left (seed the demo catalog with \
         `guahao seed --demo`)",
    ))
}

async fn book(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    patient_id: &str,
    place: &Place,
    channel: Channel,
    person: &Identity,
) -> Result<Booking, DemoError> {
    let step = steps.next("book (hold the place, open the payment order)");
    let body = api
        .send(
            &step,
            api.gateway(Method::POST, "/api/v1/bookings")
                .bearer_auth(token)
                .header("Idempotency-Key", &person.idempotency_key)
                .json(&json!({
                    "schedule_id": place.schedule_id,
                    "segment_id": place.segment_id,
                    "patient_id": patient_id,
                    "channel": channel.as_str(),
                })),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let (payment, shown) = match channel {
        Channel::Wechat => {
            let package = body.str("/payment/package")?;
            let Some(prepay_id) = package.strip_prefix("prepay_id=") else {
                return Err(body.unexpected("payment.package is not `prepay_id=…`"));
            };
            (
                PaymentOrder::Wechat {
                    prepay_id: prepay_id.to_owned(),
                },
                format!("wx.requestPayment package {package}"),
            )
        }
        Channel::Alipay => {
            let trade_no = body.str("/payment/tradeNO")?;
            (
                PaymentOrder::Alipay {
                    trade_no: trade_no.to_owned(),
                },
                format!("my.tradePay tradeNO {trade_no}"),
            )
        }
    };
    let id = body.str("/id")?.to_owned();
    step.done(format!(
        "booking {id} {}, out_trade_no {}, {} yuan, pay before {}; {shown}",
        body.str("/status")?,
        body.str("/out_trade_no")?,
        yuan(body.i64("/amount_fen")?),
        body.str("/hold_expires_at")?,
    ));
    Ok(Booking { id, payment })
}

async fn pay(api: &Api, steps: &mut Steps, booking: &Booking) -> Result<(), DemoError> {
    let step = steps.next("pay");
    let (path, hook_body, id_field, notification) = match &booking.payment {
        PaymentOrder::Wechat { prepay_id } => (
            "/mock/wechatpay/pay",
            json!({"prepay_id": prepay_id}),
            "transaction_id",
            "TRANSACTION.SUCCESS",
        ),
        PaymentOrder::Alipay { trade_no } => (
            "/mock/alipay/pay",
            json!({"trade_no": trade_no}),
            "trade_no",
            "TRADE_SUCCESS",
        ),
    };
    let paid = api
        .send(&step, api.mock(Method::POST, path).json(&hook_body))
        .await?
        .expect(StatusCode::OK)?;
    step.done(format!(
        "paid at the mock ({id_field} {}); it posts the signed {notification} notification \
         to the gateway",
        paid.str(&format!("/{id_field}"))?
    ));
    Ok(())
}

async fn wait_for_confirmation(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    booking_id: &str,
) -> Result<(), DemoError> {
    let step = steps.next("wait for confirmation");
    let started = Instant::now();
    let path = format!("/api/v1/bookings/{booking_id}");
    loop {
        let booking = api
            .send(&step, api.gateway(Method::GET, &path).bearer_auth(token))
            .await?
            .expect(StatusCode::OK)?;
        match booking.str("/status")? {
            "confirmed" => {
                step.done(format!(
                    "confirmed, visit number {} ({} ms after paying)",
                    booking.i64("/visit_number")?,
                    started.elapsed().as_millis()
                ));
                return Ok(());
            }
            "pending_payment" if started.elapsed() < CONFIRMATION_WAIT => {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            "pending_payment" => {
                return Err(step.fail(format!(
                    "still pending_payment {CONFIRMATION_WAIT:?} after paying: the notification \
                     did not reach the gateway or was refused (see the gateway's log and \
                     /api/v1/ops/callbacks)"
                )));
            }
            other => {
                return Err(booking.unexpected(format!("the booking became {other}")));
            }
        }
    }
}

async fn visit_code(
    api: &Api,
    steps: &mut Steps,
    token: &str,
    booking_id: &str,
) -> Result<String, DemoError> {
    let step = steps.next("get the visit code (QR payload)");
    let path = format!("/api/v1/bookings/{booking_id}/visit-code");
    let body = api
        .send(&step, api.gateway(Method::GET, &path).bearer_auth(token))
        .await?
        .expect(StatusCode::OK)?;
    let code = body.str("/visit_code")?.to_owned();
    step.done(format!("{code} (valid until {})", body.str("/expires_at")?));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_reported_with_its_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("connection refused")]
        struct Refused;
        #[derive(Debug, thiserror::Error)]
        #[error("tcp connect error")]
        struct Connect(#[source] Refused);
        #[derive(Debug, thiserror::Error)]
        #[error("step 1/10 (log in): POST http://gw/login: no answer")]
        struct Unreachable(#[source] Connect);

        assert_eq!(
            with_causes(&Unreachable(Connect(Refused))),
            "step 1/10 (log in): POST http://gw/login: no answer\n  caused by: tcp connect \
             error\n  caused by: connection refused"
        );
        assert_eq!(
            with_causes(&DemoError::Step {
                step: "step 2/10 (send an SMS code)".into(),
                problem: "the outbox is empty".into()
            }),
            "step 2/10 (send an SMS code): the outbox is empty"
        );
    }

    #[test]
    fn fen_print_as_yuan() {
        assert_eq!(yuan(1200), "12.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(123_456), "1234.56");
        assert_eq!(yuan(-250), "-2.50");
    }
}
