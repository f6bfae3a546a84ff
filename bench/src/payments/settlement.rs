//! What PostgreSQL holds after the notifications: every booking of a channel confirmed, with
//! exactly one `confirmed` event, its payment `paid`, and one callback_log row per delivery.
//! The bench database holds only the bench's bookings, so a channel's rows are all of them.

use crate::infra::count;
use sea_orm::{DatabaseConnection, Value};

/// The state of one channel's bookings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    pub bookings: i64,
    pub confirmed: i64,
    /// Bookings with exactly one event into `confirmed`, and with more than one.
    pub confirmed_once: i64,
    pub confirmed_twice_or_more: i64,
    pub payments_paid: i64,
    pub callback_rows: i64,
    pub callback_rows_confirmed: i64,
}

impl Settlement {
    /// Every one of `expected` bookings settled exactly once by exactly `expected` deliveries.
    pub fn is_exact(&self, expected: usize) -> bool {
        let n = expected as i64;
        self.bookings == n
            && self.confirmed == n
            && self.confirmed_once == n
            && self.confirmed_twice_or_more == 0
            && self.payments_paid == n
            && self.callback_rows == n
            && self.callback_rows_confirmed == n
    }
}

pub async fn settlement(
    db: &DatabaseConnection,
    channel: &str,
    provider: &str,
) -> anyhow::Result<Settlement> {
    let channel_only = || [Value::from(channel)];
    let provider_only = || [Value::from(provider)];
    let events_per_booking = |having: &str| {
        format!(
            "SELECT COUNT(*)::bigint AS n FROM (SELECT b.id FROM bookings b \
             JOIN booking_events e ON e.booking_id = b.id AND e.to_status = 'confirmed' \
             WHERE b.channel = $1 GROUP BY b.id HAVING {having}) per_booking"
        )
    };
    Ok(Settlement {
        bookings: count(
            db,
            "SELECT COUNT(*)::bigint AS n FROM bookings WHERE channel = $1",
            channel_only(),
        )
        .await?,
        confirmed: count(
            db,
            "SELECT COUNT(*)::bigint AS n FROM bookings WHERE channel = $1 AND status = 'confirmed'",
            channel_only(),
        )
        .await?,
        confirmed_once: count(db, &events_per_booking("COUNT(*) = 1"), channel_only()).await?,
        confirmed_twice_or_more: count(db, &events_per_booking("COUNT(*) > 1"), channel_only())
            .await?,
        payments_paid: count(
            db,
            "SELECT COUNT(*)::bigint AS n FROM payments WHERE provider = $1 AND status = 'paid'",
            provider_only(),
        )
        .await?,
        callback_rows: count(
            db,
            "SELECT COUNT(*)::bigint AS n FROM callback_log WHERE provider = $1",
            provider_only(),
        )
        .await?,
        callback_rows_confirmed: count(
            db,
            "SELECT COUNT(*)::bigint AS n FROM callback_log WHERE provider = $1 AND outcome = 'confirmed'",
            provider_only(),
        )
        .await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_means_every_count_matches() {
        let exact = Settlement {
            bookings: 3,
            confirmed: 3,
            confirmed_once: 3,
            confirmed_twice_or_more: 0,
            payments_paid: 3,
            callback_rows: 3,
            callback_rows_confirmed: 3,
        };
        assert!(exact.is_exact(3));
        assert!(!exact.is_exact(4));
        let twice = Settlement {
            confirmed_once: 2,
            confirmed_twice_or_more: 1,
            ..exact.clone()
        };
        assert!(!twice.is_exact(3));
        let extra_delivery = Settlement {
            callback_rows: 4,
            ..exact
        };
        assert!(!extra_delivery.is_exact(3));
    }
}
