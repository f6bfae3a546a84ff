//! A verified provider notification in the booking domain's terms, and what applying it did.

use super::provider::PaidOrder;
use uuid::Uuid;

/// What a provider told us, after its signature (and decryption) checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentNotice {
    Paid(PaidOrder),
    /// The order was closed without payment (e.g. Alipay `TRADE_CLOSED` with no refund).
    Closed {
        out_trade_no: String,
    },
    RefundSucceeded {
        out_trade_no: String,
        out_refund_no: String,
        provider_refund_id: Option<String>,
    },
    RefundFailed {
        out_trade_no: String,
        out_refund_no: String,
        reason: String,
    },
}

impl PaymentNotice {
    pub fn out_trade_no(&self) -> &str {
        match self {
            PaymentNotice::Paid(paid) => &paid.out_trade_no,
            PaymentNotice::Closed { out_trade_no }
            | PaymentNotice::RefundSucceeded { out_trade_no, .. }
            | PaymentNotice::RefundFailed { out_trade_no, .. } => out_trade_no,
        }
    }

    pub fn provider_txn_id(&self) -> Option<&str> {
        match self {
            PaymentNotice::Paid(paid) => Some(&paid.provider_txn_id),
            _ => None,
        }
    }
}

/// The effect of one notice (or poll result). Every variant is a success for the provider: the
/// notice is known and nothing more will come of sending it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// `pending_payment → confirmed`.
    Confirmed { booking_id: Uuid },
    /// The hold had expired but the place could still be had: `cancelled → confirmed`.
    ConfirmedLate { booking_id: Uuid },
    /// The hold had expired and the place was gone: the money is on its way back.
    RefundingLate { booking_id: Uuid },
    /// Paid, but not the amount or merchant of the order: `payment_mismatch`, nothing confirmed.
    Mismatch { booking_id: Uuid },
    /// `refunding → refunded`.
    Refunded { booking_id: Uuid },
    /// The provider gave up on a refund; the booking stays `refunding` for an operator.
    RefundFailed { booking_id: Uuid },
    /// Already applied by an earlier copy, or nothing to do (a closed unpaid order).
    Unchanged { booking_id: Uuid },
}

impl Applied {
    pub fn booking_id(self) -> Uuid {
        match self {
            Applied::Confirmed { booking_id }
            | Applied::ConfirmedLate { booking_id }
            | Applied::RefundingLate { booking_id }
            | Applied::Mismatch { booking_id }
            | Applied::Refunded { booking_id }
            | Applied::RefundFailed { booking_id }
            | Applied::Unchanged { booking_id } => booking_id,
        }
    }

    /// The `callback_log.outcome` word.
    pub fn outcome(self) -> &'static str {
        match self {
            Applied::Confirmed { .. } => "confirmed",
            Applied::ConfirmedLate { .. } => "confirmed_late",
            Applied::RefundingLate { .. } => "refunding_late",
            Applied::Mismatch { .. } => "payment_mismatch",
            Applied::Refunded { .. } => "refunded",
            Applied::RefundFailed { .. } => "refund_failed",
            Applied::Unchanged { .. } => "duplicate",
        }
    }
}
