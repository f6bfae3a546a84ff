//! The audit trail: who did what to what, from where, in which request. Rows are only ever
//! appended; the database refuses UPDATE and DELETE on `audit_log` by trigger.

use super::entity::audit_log;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

/// Column widths of `audit_log`; longer values are cut rather than refused, because a row that
/// fails to be written would lose the record of the action.
const ACTION_MAX: usize = 64;
const TARGET_TYPE_MAX: usize = 32;
const TARGET_ID_MAX: usize = 64;
const IP_MAX: usize = 64;
const REQUEST_ID_MAX: usize = 64;
/// Details are free-form JSON; this bounds what one caller-supplied value can make us store.
const DETAILS_MAX: usize = 8 * 1024;

/// Writes audit rows. Stateless: the connection decides whether the row joins a transaction.
pub struct Audit;

impl Audit {
    /// Appends one row and returns its id. `details` of `null` stores no details. The time is
    /// the system clock's: the trail records when the row was written, whatever clock the
    /// business rules run on.
    #[allow(clippy::too_many_arguments)] // One named value per column, as the audit API is read.
    pub async fn record(
        conn: &impl ConnectionTrait,
        operator_id: Option<Uuid>,
        action: &str,
        target_type: Option<&str>,
        target_id: Option<&str>,
        details: serde_json::Value,
        ip: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<Uuid, DbErr> {
        let id = Uuid::now_v7();
        let details = match details {
            serde_json::Value::Null => None,
            value => {
                let text = value.to_string();
                Some(if text.len() > DETAILS_MAX {
                    serde_json::json!({
                        "truncated": true,
                        "prefix": truncate(&text, DETAILS_MAX / 2),
                    })
                    .to_string()
                } else {
                    text
                })
            }
        };
        let row = audit_log::ActiveModel {
            id: Set(id),
            operator_id: Set(operator_id),
            action: Set(truncate(action, ACTION_MAX)),
            target_type: Set(target_type.map(|t| truncate(t, TARGET_TYPE_MAX))),
            target_id: Set(target_id.map(|t| truncate(t, TARGET_ID_MAX))),
            details: Set(details),
            ip: Set(ip.map(|t| truncate(t, IP_MAX))),
            request_id: Set(request_id
                .filter(|r| !r.is_empty())
                .map(|t| truncate(t, REQUEST_ID_MAX))),
            created_at: Set(Utc::now()),
        };
        audit_log::Entity::insert(row)
            .exec_without_returning(conn)
            .await?;
        Ok(id)
    }
}

/// At most `max` bytes, cut on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        // "挂" is three bytes: four bytes keep one character, not a broken second one.
        assert_eq!(truncate("挂号", 4), "挂");
    }
}
