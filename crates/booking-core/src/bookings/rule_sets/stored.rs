//! Rule-set versions as rows of `booking_rules`, and the version labels bookings record
//! (`hospital:<uuid>:v3`, `default:v1`) read back into the rule sets they name.

use crate::bookings::entity::booking_rule;
use crate::catalog::entity::schedule;
use crate::rules::{DEFAULT_RULES_VERSION, RuleScope, RuleSet, VersionedRuleSet};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// Something stored that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoredRulesError {
    #[error("corrupted rule set data: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Every rule set of the hospitals, departments and doctors of `schedules`, in one query;
/// `rules::resolve` picks each schedule's own at a given instant.
pub(crate) async fn candidates_for<'a, C: ConnectionTrait>(
    conn: &C,
    schedules: impl IntoIterator<Item = &'a schedule::Model>,
) -> Result<Vec<VersionedRuleSet>, StoredRulesError> {
    let mut scope_ids: Vec<Uuid> = schedules
        .into_iter()
        .flat_map(|s| [Some(s.hospital_id), Some(s.department_id), s.doctor_id])
        .flatten()
        .collect();
    scope_ids.sort_unstable();
    scope_ids.dedup();
    booking_rule::Entity::find()
        .filter(booking_rule::Column::ScopeId.is_in(scope_ids))
        .all(conn)
        .await?
        .iter()
        .map(versioned)
        .collect()
}

pub(crate) fn scope_from_parts(kind: &str, id: Uuid) -> Option<RuleScope> {
    match kind {
        "hospital" => Some(RuleScope::Hospital(id)),
        "department" => Some(RuleScope::Department(id)),
        "doctor" => Some(RuleScope::Doctor(id)),
        _ => None,
    }
}

/// A stored row as the version it is. The JSON was checked when it was published; it is
/// parsed again (with the same bounds) because the table is read by every booking.
pub(crate) fn versioned(row: &booking_rule::Model) -> Result<VersionedRuleSet, StoredRulesError> {
    let corrupted =
        |what: String| StoredRulesError::Corrupted(format!("rule set {}: {what}", row.id));
    let scope = scope_from_parts(&row.scope_type, row.scope_id)
        .ok_or_else(|| corrupted(format!("scope {:?}", row.scope_type)))?;
    let version =
        u32::try_from(row.version).map_err(|_| corrupted(format!("version {}", row.version)))?;
    let rules = serde_json::from_str(&row.rules).map_err(|e| corrupted(e.to_string()))?;
    Ok(VersionedRuleSet {
        scope,
        version,
        effective_from: row.effective_from,
        rules,
    })
}

/// What a booking's `rule_version` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// The built-in defaults of this version.
    Default(u32),
    Stored {
        scope: RuleScope,
        version: u32,
    },
}

fn parse_label(label: &str) -> Option<Label> {
    let (name, version) = label.rsplit_once(":v")?;
    let version = version.parse().ok()?;
    if name == "default" {
        return Some(Label::Default(version));
    }
    let (kind, id) = name.split_once(':')?;
    let scope = scope_from_parts(kind, Uuid::parse_str(id).ok()?)?;
    Some(Label::Stored { scope, version })
}

/// The rule sets the given labels name, keyed by label. Only the current built-in defaults
/// exist in code: a `default:vN` of another version is reported as corrupted rather than
/// silently judged under different values (whoever bumps the defaults keeps the old ones).
pub(crate) async fn rules_by_label(
    conn: &impl ConnectionTrait,
    labels: impl IntoIterator<Item = &str>,
) -> Result<HashMap<String, RuleSet>, StoredRulesError> {
    let mut named = HashMap::new();
    let mut wanted: HashMap<(RuleScope, u32), String> = HashMap::new();
    for label in labels {
        match parse_label(label) {
            Some(Label::Default(DEFAULT_RULES_VERSION)) => {
                named.insert(label.to_owned(), RuleSet::default());
            }
            Some(Label::Stored { scope, version }) => {
                wanted.insert((scope, version), label.to_owned());
            }
            Some(Label::Default(_)) | None => {
                return Err(StoredRulesError::Corrupted(format!(
                    "rule version label {label:?} names no known rule set"
                )));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(named);
    }
    let scope_ids: Vec<Uuid> = wanted.keys().map(|(scope, _)| scope.id()).collect();
    for row in booking_rule::Entity::find()
        .filter(booking_rule::Column::ScopeId.is_in(scope_ids))
        .all(conn)
        .await?
    {
        let stored = versioned(&row)?;
        if let Some(label) = wanted.remove(&(stored.scope, stored.version)) {
            named.insert(label, stored.rules);
        }
    }
    match wanted.into_values().next() {
        Some(missing) => Err(StoredRulesError::Corrupted(format!(
            "rule version {missing:?} is not stored"
        ))),
        None => Ok(named),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back_into_what_they_name() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        for scope in [
            RuleScope::Hospital(id),
            RuleScope::Department(id),
            RuleScope::Doctor(id),
        ] {
            assert_eq!(
                parse_label(&scope.version_label(12)),
                Some(Label::Stored { scope, version: 12 })
            );
        }
        assert_eq!(parse_label("default:v1"), Some(Label::Default(1)));
        for nonsense in [
            "",
            "default",
            "default:vx",
            "clinic:0190:v1",
            &format!("hospital:{id}"),
            "hospital:not-a-uuid:v1",
        ] {
            assert_eq!(parse_label(nonsense), None, "{nonsense:?}");
        }
    }
}
