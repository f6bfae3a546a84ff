//! Publishing rule sets: an operator appends a new version of a hospital's, department's or
//! doctor's rules, effective from a moment not in the past, and reads the versions back.
//!
//! A version is never edited (the table refuses UPDATE and DELETE): bookings name the version
//! they were made under, so changing one would change the rules old bookings are judged by.
//! Publishing is appending version n + 1 of the scope; [`crate::rules::resolve`] then picks it
//! from its `effective_from` on.
//!
//! Bookings read rule sets through a short-lived cache (`read_cache::SCHEDULE_TTL`, 5 s), so a
//! version that takes effect within seconds of being published may reach a replica that long
//! after its instant; whatever version a booking used is the one it records.

mod stored;

pub use stored::StoredRulesError;
pub(crate) use stored::{candidates_for, rules_by_label};

use crate::bookings::entity::booking_rule;
use crate::catalog::entity::{department, doctor, hospital};
use crate::clock::Clock;
use crate::operators::ActingOperator;
use crate::paging::{Cursor, Page, PageRequest};
use crate::rules::{RuleScope, RuleSet, VersionedRuleSet};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, SqlErr,
    TransactionTrait,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Two operators publishing for one scope at the same moment race for the next version number;
/// the loser takes the one after. Beyond this many collisions something else is wrong.
const PUBLISH_ATTEMPTS: usize = 3;

/// A rule set an operator wants to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSetDraft {
    pub scope: RuleScope,
    pub effective_from: DateTime<Utc>,
    /// The rule set as JSON; fields left out take [`RuleSet::default`]'s values.
    pub rules: serde_json::Value,
}

/// Where a version stands at the moment it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStanding {
    /// Takes effect later.
    Scheduled,
    /// The version of its scope that applies now.
    InForce,
    /// A higher version of its scope applies now.
    Superseded,
}

impl VersionStanding {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStanding::Scheduled => "scheduled",
            VersionStanding::InForce => "in_force",
            VersionStanding::Superseded => "superseded",
        }
    }
}

/// A stored version with what the operator API shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRuleSet {
    pub id: Uuid,
    pub version: VersionedRuleSet,
    /// The label bookings made under this version record.
    pub version_label: String,
    pub standing: VersionStanding,
    /// The operator who published it (`None` for versions written by other means).
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    #[error("no such hospital")]
    HospitalNotFound,
    #[error("no {kind} {id}", kind = .0.kind(), id = .0.id())]
    ScopeNotFound(RuleScope),
    #[error("the operator works for another hospital")]
    OutsideHospital,
    #[error("the rule set is not valid: {0}")]
    InvalidRules(String),
    #[error("effective_from is in the past (it is now {now})")]
    EffectiveFromInPast { now: DateTime<Utc> },
    #[error("the cursor belongs to another list")]
    CursorMismatch,
    #[error("another version of this scope was being published at the same time; try again")]
    VersionConflict,
    #[error(transparent)]
    Stored(#[from] StoredRulesError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

#[derive(Clone)]
pub struct RuleSets {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RuleSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSets").finish_non_exhaustive()
    }
}

impl RuleSets {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Every version published for the hospital, its departments and its doctors, newest
    /// (last published) first.
    pub async fn list(
        &self,
        hospital_id: Uuid,
        acting: &ActingOperator,
        page: PageRequest,
    ) -> Result<Page<PublishedRuleSet>, RuleSetError> {
        if hospital::Entity::find_by_id(hospital_id)
            .one(&self.db)
            .await?
            .is_none()
        {
            return Err(RuleSetError::HospitalNotFound);
        }
        if !acting.works_for(hospital_id) {
            return Err(RuleSetError::OutsideHospital);
        }
        let department_ids = department::Entity::find()
            .select_only()
            .column(department::Column::Id)
            .filter(department::Column::HospitalId.eq(hospital_id))
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await?;
        let doctor_ids = doctor::Entity::find()
            .select_only()
            .column(doctor::Column::Id)
            .filter(doctor::Column::HospitalId.eq(hospital_id))
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await?;
        let of_scope = |kind: &str, ids: Vec<Uuid>| {
            Condition::all()
                .add(booking_rule::Column::ScopeType.eq(kind))
                .add(booking_rule::Column::ScopeId.is_in(ids))
        };
        let rows = booking_rule::Entity::find()
            .filter(
                Condition::any()
                    .add(of_scope("hospital", vec![hospital_id]))
                    .add(of_scope("department", department_ids))
                    .add(of_scope("doctor", doctor_ids)),
            )
            .all(&self.db)
            .await?;
        // All versions of the hospital are read (there are tens, not thousands) because where
        // one stands depends on the others of its scope.
        let mut all = published(rows, self.clock.now())?;
        all.sort_by_key(|p| std::cmp::Reverse(p.id));
        page_after(all, page)
    }

    /// Appends the next version of the draft's scope and records it in the audit trail, in one
    /// transaction. The rules are checked as they are parsed (ranges per field, unknown fields
    /// refused); `effective_from` may not be in the past.
    pub async fn publish(
        &self,
        draft: RuleSetDraft,
        acting: &ActingOperator,
    ) -> Result<PublishedRuleSet, RuleSetError> {
        let rules: RuleSet = RuleSet::deserialize(&draft.rules)
            .map_err(|e| RuleSetError::InvalidRules(e.to_string()))?;
        let now = self.clock.now();
        if draft.effective_from < now {
            return Err(RuleSetError::EffectiveFromInPast { now });
        }
        let hospital_id = self.hospital_of(draft.scope).await?;
        if !acting.works_for(hospital_id) {
            return Err(RuleSetError::OutsideHospital);
        }
        let rules_json =
            serde_json::to_string(&rules).map_err(|e| RuleSetError::InvalidRules(e.to_string()))?;
        for _ in 0..PUBLISH_ATTEMPTS {
            match self.append(&draft, &rules_json, acting, now).await {
                Err(RuleSetError::Database(e))
                    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
                {
                    continue;
                }
                result => return result,
            }
        }
        Err(RuleSetError::VersionConflict)
    }

    async fn append(
        &self,
        draft: &RuleSetDraft,
        rules_json: &str,
        acting: &ActingOperator,
        now: DateTime<Utc>,
    ) -> Result<PublishedRuleSet, RuleSetError> {
        let txn = self.db.begin().await?;
        let latest: Option<Option<i32>> = booking_rule::Entity::find()
            .select_only()
            .expr(Expr::col(booking_rule::Column::Version).max())
            .filter(booking_rule::Column::ScopeType.eq(draft.scope.kind()))
            .filter(booking_rule::Column::ScopeId.eq(draft.scope.id()))
            .into_tuple()
            .one(&txn)
            .await?;
        let version = latest.flatten().unwrap_or(0).saturating_add(1);
        let row = booking_rule::Model {
            id: Uuid::now_v7(),
            scope_type: draft.scope.kind().to_owned(),
            scope_id: draft.scope.id(),
            version,
            effective_from: draft.effective_from,
            rules: rules_json.to_owned(),
            created_by: Some(acting.operator_id.to_string()),
            created_at: now,
        };
        booking_rule::Entity::insert(booking_rule::ActiveModel {
            id: Set(row.id),
            scope_type: Set(row.scope_type.clone()),
            scope_id: Set(row.scope_id),
            version: Set(row.version),
            effective_from: Set(row.effective_from),
            rules: Set(row.rules.clone()),
            created_by: Set(row.created_by.clone()),
            created_at: Set(row.created_at),
        })
        .exec_without_returning(&txn)
        .await?;
        let published = published_one(&row, now)?;
        acting
            .audit(
                &txn,
                "rules.publish",
                "rule_set",
                &published.version_label,
                serde_json::json!({
                    "scope": draft.scope.kind(),
                    "scope_id": draft.scope.id(),
                    "version": version,
                    "effective_from": draft.effective_from,
                    "rules": published.version.rules,
                }),
            )
            .await?;
        txn.commit().await?;
        Ok(published)
    }

    /// The hospital a scope belongs to; the scope must exist.
    async fn hospital_of(&self, scope: RuleScope) -> Result<Uuid, RuleSetError> {
        let found = match scope {
            RuleScope::Hospital(id) => hospital::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|h| h.id),
            RuleScope::Department(id) => department::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|d| d.hospital_id),
            RuleScope::Doctor(id) => doctor::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|d| d.hospital_id),
        };
        found.ok_or(RuleSetError::ScopeNotFound(scope))
    }
}

/// A version just written: it takes effect now or later, so it is in force or scheduled.
fn published_one(
    row: &booking_rule::Model,
    now: DateTime<Utc>,
) -> Result<PublishedRuleSet, RuleSetError> {
    let mut one = published(vec![row.clone()], now)?;
    Ok(one.remove(0))
}

/// Rows as published versions, each with its standing among the versions of its scope: the
/// one in force is the highest version already effective, as [`crate::rules::resolve`] picks.
fn published(
    rows: Vec<booking_rule::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<PublishedRuleSet>, RuleSetError> {
    let versions = rows
        .iter()
        .map(stored::versioned)
        .collect::<Result<Vec<_>, _>>()?;
    let mut in_force: HashMap<RuleScope, u32> = HashMap::new();
    for v in versions.iter().filter(|v| v.effective_from <= now) {
        let highest = in_force.entry(v.scope).or_insert(v.version);
        *highest = Ord::max(*highest, v.version);
    }
    Ok(rows
        .into_iter()
        .zip(versions)
        .map(|(row, version)| {
            let standing = if version.effective_from > now {
                VersionStanding::Scheduled
            } else if in_force.get(&version.scope) == Some(&version.version) {
                VersionStanding::InForce
            } else {
                VersionStanding::Superseded
            };
            PublishedRuleSet {
                id: row.id,
                version_label: version.scope.version_label(version.version),
                version,
                standing,
                created_by: row.created_by,
                created_at: row.created_at,
            }
        })
        .collect())
}

/// One page of `items` (sorted newest first by id) after the request's cursor.
fn page_after(
    items: Vec<PublishedRuleSet>,
    page: PageRequest,
) -> Result<Page<PublishedRuleSet>, RuleSetError> {
    let after = match page.after {
        None => None,
        Some(Cursor::After(id)) => Some(id),
        Some(Cursor::AfterDated(..)) => return Err(RuleSetError::CursorMismatch),
    };
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let mut rest: Vec<_> = items
        .into_iter()
        .filter(|item| after.is_none_or(|after| item.id < after))
        .take(limit.saturating_add(1))
        .collect();
    let next_cursor = (rest.len() > limit).then(|| {
        rest.truncate(limit);
        Cursor::After(rest[limit - 1].id).encode()
    });
    Ok(Page {
        items: rest,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
    }

    fn row(
        n: u128,
        scope: RuleScope,
        version: i32,
        effective_from: DateTime<Utc>,
    ) -> booking_rule::Model {
        booking_rule::Model {
            id: Uuid::from_u128(n),
            scope_type: scope.kind().to_owned(),
            scope_id: scope.id(),
            version,
            effective_from,
            rules: "{}".to_owned(),
            created_by: None,
            created_at: now(),
        }
    }

    #[test]
    fn the_highest_effective_version_of_each_scope_is_in_force() {
        let hospital = RuleScope::Hospital(Uuid::from_u128(100));
        let doctor = RuleScope::Doctor(Uuid::from_u128(200));
        let rows = vec![
            row(1, hospital, 1, now() - Duration::days(30)),
            row(2, hospital, 2, now() - Duration::days(1)),
            row(3, hospital, 3, now() + Duration::days(1)),
            row(4, doctor, 1, now()),
        ];
        let standings: Vec<_> = published(rows, now())
            .unwrap()
            .into_iter()
            .map(|p| (p.version_label, p.standing))
            .collect();
        assert_eq!(
            standings,
            vec![
                (hospital.version_label(1), VersionStanding::Superseded),
                (hospital.version_label(2), VersionStanding::InForce),
                (hospital.version_label(3), VersionStanding::Scheduled),
                (doctor.version_label(1), VersionStanding::InForce),
            ]
        );
    }

    #[test]
    fn pages_follow_the_cursor() {
        let scope = RuleScope::Hospital(Uuid::from_u128(100));
        let mut all = published(
            (1..=5).map(|n| row(n, scope, n as i32, now())).collect(),
            now(),
        )
        .unwrap();
        all.sort_by_key(|p| std::cmp::Reverse(p.id));
        let first = page_after(
            all.clone(),
            PageRequest {
                limit: 2,
                after: None,
            },
        )
        .unwrap();
        let ids = |page: &Page<PublishedRuleSet>| {
            page.items
                .iter()
                .map(|p| p.id.as_u128())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), vec![5, 4]);
        let cursor = Cursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
        let second = page_after(
            all.clone(),
            PageRequest {
                limit: 2,
                after: Some(cursor),
            },
        )
        .unwrap();
        assert_eq!(ids(&second), vec![3, 2]);
        let cursor = Cursor::decode(second.next_cursor.as_deref().unwrap()).unwrap();
        let last = page_after(
            all.clone(),
            PageRequest {
                limit: 2,
                after: Some(cursor),
            },
        )
        .unwrap();
        assert_eq!(ids(&last), vec![1]);
        assert_eq!(last.next_cursor, None);
        let foreign = Cursor::AfterDated(chrono::NaiveDate::MIN, Uuid::nil());
        assert!(matches!(
            page_after(
                all,
                PageRequest {
                    limit: 2,
                    after: Some(foreign)
                }
            ),
            Err(RuleSetError::CursorMismatch)
        ));
    }
}
