//! Work that runs beside the HTTP server: the hold sweeper gives back places whose payment time
//! ran out (and closes their provider orders), the payment poller asks providers about orders
//! and refunds whose notification never came, and the no-show marker closes visits nobody
//! checked in for. Every replica runs them; row claiming keeps two replicas from doing the
//! same booking twice.

use crate::state::AppState;
use std::sync::Arc;
use std::time::Duration;

const SWEEP_EVERY: Duration = Duration::from_secs(15);
const SWEEP_BATCH: u64 = 200;

pub fn spawn_hold_sweeper(state: Arc<AppState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match state.payments.expire_holds(SWEEP_BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired holds released"),
                Err(e) => tracing::warn!(error = %e, "hold sweep failed; next tick retries"),
            }
        }
    });
}

const POLL_BATCH: u64 = 100;

/// Lost notifications: orders and refunds unsettled for a few minutes are asked about.
pub fn spawn_payment_poller(state: Arc<AppState>) {
    let booking = &state.settings.booking;
    let every = Duration::from_secs(booking.payment_poll_interval_s.max(1));
    let stale_after = chrono::Duration::seconds(booking.payment_poll_after_s as i64);
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match state.payments.poll(stale_after, POLL_BATCH).await {
                Ok(report) if report.orders_asked + report.refunds_asked == 0 => {}
                Ok(report) => tracing::info!(
                    orders_asked = report.orders_asked,
                    refunds_asked = report.refunds_asked,
                    applied = report.applied,
                    "payment poll"
                ),
                Err(e) => tracing::warn!(error = %e, "payment poll failed; next tick retries"),
            }
        }
    });
}

const NO_SHOW_EVERY: Duration = Duration::from_secs(60);

/// Confirmed visits whose check-in window closed become `no_show`.
pub fn spawn_no_show_marker(state: Arc<AppState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(NO_SHOW_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match state.bookings.mark_no_shows().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(marked = n, "no-shows marked"),
                Err(e) => tracing::warn!(error = %e, "no-show marking failed; next tick retries"),
            }
        }
    });
}
