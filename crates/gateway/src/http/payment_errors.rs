//! How payment failures on patient routes leave the API. Provider trouble is the provider's,
//! not the patient's: 503 when it may pass, 502 when the provider refused our request.

use super::error::{ApiError, database_error};
use actix_web::http::StatusCode;
use booking_core::payments::{PaymentError, ProviderError};

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Booking(error) => error.into(),
            PaymentError::Provider(ProviderError::Unavailable(cause)) => {
                ApiError::unavailable("PAYMENT_PROVIDER_UNAVAILABLE", cause)
            }
            PaymentError::Provider(ProviderError::Refused { code, message }) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "PAYMENT_PROVIDER_REFUSED",
                "支付渠道拒绝了本次请求，请稍后重试",
                "The payment provider refused the request; please try again later",
            )
            .with_cause(format!("{code}: {message}")),
            PaymentError::Store(error) => error.into(),
            PaymentError::Database(error) => database_error(error),
            // Patient routes only touch orders they opened: anything else is our bug.
            error @ (PaymentError::UnknownOrder(_) | PaymentError::UnknownRefund(_)) => {
                ApiError::internal(error)
            }
        }
    }
}
