//! sea-orm entities for operator accounts and the audit trail of their actions.

pub mod audit_log;
pub mod operator;
