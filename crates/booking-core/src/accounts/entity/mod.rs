//! sea-orm entities for users (mini-program identities) and patients (就诊人).

pub mod patient;
pub mod user;
