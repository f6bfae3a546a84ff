//! The booking state machine: the statuses of DESIGN.md and which moves between them exist.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    PendingPayment,
    Confirmed,
    CheckedIn,
    Completed,
    Cancelled,
    Refunding,
    Refunded,
    NoShow,
    PaymentMismatch,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 9] = [
        Self::PendingPayment,
        Self::Confirmed,
        Self::CheckedIn,
        Self::Completed,
        Self::Cancelled,
        Self::Refunding,
        Self::Refunded,
        Self::NoShow,
        Self::PaymentMismatch,
    ];

    /// Statuses that occupy a place in the schedule.
    pub const LIVE: [BookingStatus; 3] = [Self::PendingPayment, Self::Confirmed, Self::CheckedIn];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Confirmed => "confirmed",
            Self::CheckedIn => "checked_in",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
            Self::NoShow => "no_show",
            Self::PaymentMismatch => "payment_mismatch",
        }
    }

    /// Whether the state machine has an edge `self → to`.
    pub fn can_become(self, to: BookingStatus) -> bool {
        use BookingStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Confirmed | Cancelled | PaymentMismatch | Refunding)
                | (Confirmed, CheckedIn | Refunding | NoShow)
                | (CheckedIn, Completed)
                | (Refunding, Refunded)
                | (PaymentMismatch, Refunding | Confirmed)
                // A payment that arrives after its hold expired: confirmed if the place can still be
                // had, refunded otherwise.
                | (Cancelled, Confirmed | Refunding)
        )
    }
}

impl FromStr for BookingStatus {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown booking status {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::BookingStatus::{self, *};

    #[test]
    fn every_status_round_trips_through_text() {
        for status in BookingStatus::ALL {
            assert_eq!(status.as_str().parse::<BookingStatus>(), Ok(status));
        }
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for to in BookingStatus::ALL {
            assert!(!Completed.can_become(to));
            assert!(!Refunded.can_become(to));
            assert!(!NoShow.can_become(to));
        }
        assert!(PendingPayment.can_become(Cancelled));
        assert!(
            !Cancelled.can_become(PendingPayment),
            "a cancelled hold is never held again"
        );
        assert!(
            !Confirmed.can_become(Confirmed),
            "no booking is confirmed twice"
        );
    }
}
