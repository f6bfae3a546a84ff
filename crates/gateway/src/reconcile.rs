//! `guahao reconcile`: compares the slot inventory with the database for every schedule from
//! yesterday on, prints a progress line and a report, and repairs what drifted.

use crate::settings::Settings;
use anyhow::Context;
use booking_core::bookings::BookingService;
use booking_core::clock::{Clock, SystemClock};
use sea_orm::DatabaseConnection;
use std::io::Write;
use std::sync::Arc;

pub async fn run(settings: &Settings, db: DatabaseConnection) -> anyhow::Result<()> {
    let inventory = booking_core::inventory::inventory_from_config(
        &settings.redis.url,
        &settings.redis.key_prefix,
    )
    .context("redis.url")?;
    if settings.redis.url.trim().is_empty() {
        eprintln!(
            "redis.url is empty: the inventory lives inside each gateway process, nothing to reconcile here"
        );
        return Ok(());
    }
    let clock = Arc::new(SystemClock);
    let from = clock
        .today_shanghai()
        .pred_opt()
        .unwrap_or(clock.today_shanghai());
    let service = BookingService::new(db, inventory, clock);
    let report = service
        .reconcile(from, |done, total| {
            if done == total || done % 50 == 0 {
                eprint!("\rreconciling schedules: {done}/{total}");
                let _ = std::io::stderr().flush();
            }
        })
        .await?;
    eprintln!();
    for drift in &report.drifts {
        let redis = drift
            .redis
            .as_ref()
            .map(|s| {
                format!(
                    "{} places free, {} holds",
                    s.remaining.values().sum::<u32>(),
                    s.holders.len()
                )
            })
            .unwrap_or_else(|| "nothing".into());
        println!(
            "schedule {}: {} (Redis had {redis}; database: {} places free, {} holds) — repaired",
            drift.schedule_id,
            drift.kind,
            drift.database.remaining.values().sum::<u32>(),
            drift.database.holders.len()
        );
    }
    println!(
        "{} schedules checked, {} drifted",
        report.schedules_checked,
        report.drifts.len()
    );
    Ok(())
}
