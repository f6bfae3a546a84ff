//! The operator behind a change the domain makes on their behalf, with what the audit trail
//! records about where the request came from.

use super::Audit;
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingOperator {
    pub operator_id: Uuid,
    /// `None`: the operator works for every hospital.
    pub hospital_id: Option<Uuid>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl ActingOperator {
    /// May this operator act for `hospital_id`?
    pub fn works_for(&self, hospital_id: Uuid) -> bool {
        self.hospital_id.is_none_or(|own| own == hospital_id)
    }

    /// Appends the audit row of an action, on `conn` so that it commits with the action.
    pub async fn audit(
        &self,
        conn: &impl ConnectionTrait,
        action: &str,
        target_type: &str,
        target_id: &str,
        details: serde_json::Value,
    ) -> Result<Uuid, DbErr> {
        Audit::record(
            conn,
            Some(self.operator_id),
            action,
            Some(target_type),
            Some(target_id),
            details,
            self.ip.as_deref(),
            self.request_id.as_deref(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hospital_operator_works_for_its_hospital_only() {
        let (mine, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let operator = |hospital_id| ActingOperator {
            operator_id: Uuid::from_u128(9),
            hospital_id,
            ip: None,
            request_id: None,
        };
        assert!(operator(Some(mine)).works_for(mine));
        assert!(!operator(Some(mine)).works_for(other));
        assert!(operator(None).works_for(other));
    }
}
