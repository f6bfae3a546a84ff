pub mod callback_log;
pub mod payment;
pub mod refund;
