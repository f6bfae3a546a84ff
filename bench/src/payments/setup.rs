//! The pending bookings the notifications pay for, made the honest way: real HTTP bookings by
//! distinct logged-in patients, each opening its order at the mock provider, spread over many
//! schedules whose capacity is raised (one schedule per hospital clinic session, as real
//! payments are spread; the gateway serialises confirmations within one schedule).

use super::notifications::PaidOrder;
use crate::infra;
use crate::{add_patient, call, load};
use anyhow::{Context, bail};
use sea_orm::{DatabaseConnection, Value};
use serde_json::{Value as Json, json};
use std::future::Future;
use uuid::Uuid;

/// A schedule taking bench bookings, in the segment that takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub date: String,
}

/// Bookable schedules two or more days ahead (clear of the next-day and same-day cut-offs), by
/// date, at most `max`.
pub async fn bookable_sessions(
    http: &reqwest::Client,
    base: &str,
    max: usize,
) -> anyhow::Result<Vec<Session>> {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let date_from = today + chrono::Days::new(2);
    let (_, hospitals) = call(http.get(format!("{base}/api/v1/hospitals?limit=100"))).await?;
    let mut sessions = Vec::new();
    for hospital in hospitals["items"].as_array().into_iter().flatten() {
        let hospital_id = hospital["id"]
            .as_str()
            .context("a hospital without an id")?;
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "{base}/api/v1/schedules?hospital_id={hospital_id}&date_from={date_from}&limit=100"
            );
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = call(http.get(&url)).await?;
            if status != 200 {
                bail!("GET {url}: {status} {page}");
            }
            sessions.extend(
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(session),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    sessions.sort_by(|a, b| (&a.date, a.schedule_id).cmp(&(&b.date, b.schedule_id)));
    sessions.truncate(max);
    if sessions.is_empty() {
        bail!("no bookable schedule two or more days ahead in the demo data");
    }
    Ok(sessions)
}

/// A bookable schedule of the list and its first segment.
fn session(schedule: &Json) -> Option<Session> {
    if schedule["bookable"] != true {
        return None;
    }
    let segment = schedule["segments"].as_array()?.first()?;
    Some(Session {
        schedule_id: schedule["id"].as_str()?.parse().ok()?,
        segment_id: segment["id"].as_str()?.parse().ok()?,
        date: schedule["date"].as_str()?.to_owned(),
    })
}

/// Gives each session's segment `places` public places (none reserved for referrals); the
/// gateway must be restarted on an empty inventory afterwards to see them.
pub async fn raise_capacity(
    db: &DatabaseConnection,
    sessions: &[Session],
    places: u32,
) -> anyhow::Result<()> {
    for s in sessions {
        let changed = infra::execute(
            db,
            "UPDATE schedule_segments SET capacity = $2, reserved = 0 WHERE id = $1 AND booked = 0",
            [Value::from(s.segment_id), Value::from(places as i32)],
        )
        .await?;
        if changed != 1 {
            bail!(
                "segment {} of schedule {} already has bookings",
                s.segment_id,
                s.schedule_id
            );
        }
    }
    Ok(())
}

/// `wechat` or `alipay`: the login and booking channel; a WeChat booking is paid with WeChat
/// Pay, an Alipay one with Alipay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Wechat,
    Alipay,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
        }
    }

    pub fn provider(self) -> &'static str {
        match self {
            Channel::Wechat => "wechatpay",
            Channel::Alipay => "alipay",
        }
    }

    /// A passport number per patient, distinct across channels.
    fn passport(self, i: usize) -> String {
        match self {
            Channel::Wechat => format!("W{i:08}"),
            Channel::Alipay => format!("A{i:08}"),
        }
    }
}

/// The orders of one channel's pending bookings, in patient order, and how many set-up steps
/// had to be tried again.
pub struct Booked {
    pub orders: Vec<PaidOrder>,
    pub retries: usize,
}

/// How often a failed set-up step is tried again.
const ATTEMPTS: usize = 3;

/// `n` patients of `channel`, each a new account with one real-name patient, each booking one
/// place: patient i in session (i + offset) mod the number of sessions.
///
/// Under the set-up's own load the mock or the gateway may fail a request now and then (a 502
/// from a platform call that timed out); nothing of the set-up is measured, so a failed step is
/// tried again (the booking with the same `Idempotency-Key`) and the retries are counted.
pub async fn book(
    http: &reqwest::Client,
    base: &str,
    sessions: &[Session],
    channel: Channel,
    n: usize,
    concurrency: usize,
    run_id: &str,
) -> anyhow::Result<Booked> {
    let sessions = sessions.to_vec();
    let (http, base, run_id) = (http.clone(), base.to_owned(), run_id.to_owned());
    let label = format!("set-up: {n} {} bookings", channel.as_str());
    let offset = match channel {
        Channel::Wechat => 0,
        Channel::Alipay => sessions.len() / 2,
    };
    let (results, _) = load::run(&label, n, concurrency, move |i| {
        let (http, base) = (http.clone(), base.clone());
        let session = sessions[(i + offset) % sessions.len()].clone();
        let code = format!("bench-pay-{run_id}-{}-{i}", channel.as_str());
        let idempotency_key = format!("{run_id}-pay-{}-{i}", channel.as_str());
        async move {
            let mut retries = 0;
            let booked = async {
                let token = retried(&mut retries, || login(&http, &base, channel, &code)).await?;
                let passport = channel.passport(i);
                let patient = retried(&mut retries, || {
                    add_patient(&http, &base, &token, &passport)
                })
                .await?;
                let booking = retried(&mut retries, || async {
                    let (status, booking) = call(
                        http.post(format!("{base}/api/v1/bookings"))
                            .bearer_auth(&token)
                            .header("Idempotency-Key", &idempotency_key)
                            .json(&json!({
                                "schedule_id": session.schedule_id,
                                "segment_id": session.segment_id,
                                "patient_id": patient,
                                "channel": channel.as_str(),
                            })),
                    )
                    .await?;
                    if status != 201 {
                        bail!(
                            "booking schedule {} ({}): {status} {booking}",
                            session.schedule_id,
                            session.date
                        );
                    }
                    Ok(booking)
                })
                .await?;
                order(&booking, channel)
            }
            .await;
            (i, booked, retries)
        }
    })
    .await;
    let mut orders: Vec<Option<PaidOrder>> = vec![None; n];
    let mut errors = Vec::new();
    let mut all_retries = 0;
    for (i, booked, retries) in results {
        all_retries += retries;
        match booked {
            Ok(order) => orders[i] = Some(order),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if let Some(first) = errors.first() {
        bail!(
            "{} of {n} {} bookings could not be made; first: {first}",
            errors.len(),
            channel.as_str()
        );
    }
    Ok(Booked {
        orders: orders.into_iter().flatten().collect(),
        retries: all_retries,
    })
}

/// `step` until it succeeds, at most [`ATTEMPTS`] times, a moment apart; counts the retries.
async fn retried<T, F, Fut>(retries: &mut usize, mut step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(done) => return Ok(done),
            Err(error) if attempt >= ATTEMPTS => {
                return Err(error.context(format!("after {attempt} attempts")));
            }
            Err(_) => {
                attempt += 1;
                *retries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    channel: Channel,
    code: &str,
) -> anyhow::Result<String> {
    let (status, body) = call(
        http.post(format!("{base}/api/v1/auth/{}/login", channel.as_str()))
            .json(&json!({ "code": code })),
    )
    .await?;
    if status != 200 {
        bail!("{} login {code}: {status} {body}", channel.as_str());
    }
    Ok(body["token"]
        .as_str()
        .context("login answer without a token")?
        .to_owned())
}

/// The order a `201` booking answer opened.
fn order(booking: &Json, channel: Channel) -> anyhow::Result<PaidOrder> {
    let field = |name: &str| {
        booking[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("booking answer without {name}: {booking}"))
    };
    let provider_trade_no = match channel {
        // WeChat Pay's transaction id exists only once paid; the notification makes it.
        Channel::Wechat => String::new(),
        Channel::Alipay => booking["payment"]["tradeNO"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("Alipay booking answer without payment.tradeNO: {booking}"))?,
    };
    Ok(PaidOrder {
        out_trade_no: field("out_trade_no")?,
        amount_fen: booking["amount_fen"]
            .as_i64()
            .with_context(|| format!("booking answer without amount_fen: {booking}"))?,
        provider_trade_no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_read_from_the_booking_answer() {
        let alipay = json!({
            "id": "0192f0c0-a0b0-7c3d-8e9f-0a1b2c3d4e5f", "status": "pending_payment",
            "out_trade_no": "AbC0123456789012345678901234567z", "amount_fen": 5000,
            "payment": {"tradeNO": "2026112222001400000000000001"}
        });
        assert_eq!(
            order(&alipay, Channel::Alipay).unwrap(),
            PaidOrder {
                out_trade_no: "AbC0123456789012345678901234567z".into(),
                amount_fen: 5000,
                provider_trade_no: "2026112222001400000000000001".into(),
            }
        );
        let wechat = json!({"out_trade_no": "x".repeat(32), "amount_fen": 100, "payment": {"package": "prepay_id=wx1"}});
        assert_eq!(
            order(&wechat, Channel::Wechat).unwrap().provider_trade_no,
            ""
        );
        assert!(
            order(&wechat, Channel::Alipay).is_err(),
            "an Alipay answer needs tradeNO"
        );
    }

    #[test]
    fn only_bookable_schedules_with_a_segment_are_sessions() {
        let schedule = |bookable: bool, segments: Json| {
            json!({"id": "0192f0c0-a0b0-7c3d-8e9f-0a1b2c3d4e5f", "date": "2026-11-24",
                   "bookable": bookable, "segments": segments})
        };
        let segment = json!([{"id": "0192f0c0-a0b0-7c3d-8e9f-0a1b2c3d4e60"}, {"id": "0192f0c0-a0b0-7c3d-8e9f-0a1b2c3d4e61"}]);
        let picked = session(&schedule(true, segment.clone())).unwrap();
        assert_eq!(
            picked.segment_id.to_string(),
            "0192f0c0-a0b0-7c3d-8e9f-0a1b2c3d4e60"
        );
        assert_eq!(picked.date, "2026-11-24");
        assert_eq!(session(&schedule(false, segment)), None);
        assert_eq!(session(&schedule(true, json!([]))), None);
    }

    #[tokio::test]
    async fn a_step_is_tried_again_until_it_succeeds_or_runs_out_of_attempts() {
        let mut retries = 0;
        let mut calls = 0;
        let done = retried(&mut retries, || {
            calls += 1;
            let outcome = if calls < 3 {
                Err(anyhow::anyhow!("502"))
            } else {
                Ok(calls)
            };
            async move { outcome }
        })
        .await
        .unwrap();
        assert_eq!((done, retries), (3, 2));

        let mut retries = 0;
        let error = retried(&mut retries, || async {
            anyhow::Result::<()>::Err(anyhow::anyhow!("down"))
        })
        .await
        .unwrap_err();
        assert_eq!(format!("{error:#}"), "after 3 attempts: down");
        assert_eq!(retries, 2);
    }

    #[test]
    fn passports_differ_across_channels() {
        assert_eq!(Channel::Wechat.passport(7), "W00000007");
        assert_eq!(Channel::Alipay.passport(7), "A00000007");
    }
}
