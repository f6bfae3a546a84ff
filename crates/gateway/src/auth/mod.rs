//! Who is calling: guahao's own JWTs (issued after a platform login), their revocation, and the
//! extractors handlers name to require a caller.

pub mod login_limit;
pub mod operator;
pub mod patient;
pub mod tokens;
