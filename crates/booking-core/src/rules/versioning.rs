//! Versioned, effective-dated rule sets per hospital, department or doctor, and the choice of
//! the one a booking is made under.

use super::rule_set::RuleSet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The version of [`RuleSet::default`]. Bump it whenever the built-in defaults change, so that
/// `default:vN` on a booking keeps naming the values it was made under.
pub const DEFAULT_RULES_VERSION: u32 = 1;

/// Who a rule set applies to; a doctor's overrides the department's, which overrides the
/// hospital's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RuleScope {
    Hospital(Uuid),
    Department(Uuid),
    Doctor(Uuid),
}

impl RuleScope {
    pub fn kind(self) -> &'static str {
        match self {
            RuleScope::Hospital(_) => "hospital",
            RuleScope::Department(_) => "department",
            RuleScope::Doctor(_) => "doctor",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            RuleScope::Hospital(id) | RuleScope::Department(id) | RuleScope::Doctor(id) => id,
        }
    }

    fn specificity(self) -> u8 {
        match self {
            RuleScope::Hospital(_) => 1,
            RuleScope::Department(_) => 2,
            RuleScope::Doctor(_) => 3,
        }
    }

    /// The stable label a booking records, e.g. `doctor:<uuid>:v3`.
    pub fn version_label(self, version: u32) -> String {
        format!("{}:{}:v{version}", self.kind(), self.id())
    }
}

/// One published version of a scope's rules, in force from `effective_from` until a higher
/// version of the same scope takes effect. It is a whole rule set, not a patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedRuleSet {
    pub scope: RuleScope,
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub rules: RuleSet,
}

/// The rules a booking is made under, and the label it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRules {
    pub rules: RuleSet,
    /// `doctor:<uuid>:v3`, `department:<uuid>:v2`, `hospital:<uuid>:v1` or `default:v1`.
    pub version_label: String,
}

impl ResolvedRules {
    /// The built-in defaults, `default:v1`.
    pub fn builtin() -> Self {
        Self {
            rules: RuleSet::default(),
            version_label: format!("default:v{DEFAULT_RULES_VERSION}"),
        }
    }
}

/// The rules in force at `at` for a booking with this hospital, department and (for a named
/// doctor's clinic) doctor: the most specific scope that has a version in force wins
/// (doctor > department > hospital > built-in default), and within it the highest version whose
/// `effective_from <= at`. Candidates for other hospitals, departments or doctors are ignored,
/// so the caller may pass everything it loaded.
pub fn resolve(
    candidates: &[VersionedRuleSet],
    hospital_id: Uuid,
    department_id: Uuid,
    doctor_id: Option<Uuid>,
    at: DateTime<Utc>,
) -> ResolvedRules {
    let applies = |scope: RuleScope| match scope {
        RuleScope::Hospital(id) => id == hospital_id,
        RuleScope::Department(id) => id == department_id,
        RuleScope::Doctor(id) => Some(id) == doctor_id,
    };
    candidates
        .iter()
        .filter(|c| applies(c.scope) && c.effective_from <= at)
        .max_by_key(|c| (c.scope.specificity(), c.version, c.effective_from))
        .map_or_else(ResolvedRules::builtin, |chosen| ResolvedRules {
            rules: chosen.rules.clone(),
            version_label: chosen.scope.version_label(chosen.version),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{secs, sh};
    use serde_json::json;

    const HOSPITAL: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    const DEPARTMENT: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
    const DOCTOR: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003);
    const OTHER: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0009);

    /// A rule set told apart by its hold, so tests can see which one won.
    fn version(
        scope: RuleScope,
        version: u32,
        effective_from: DateTime<Utc>,
        hold: u32,
    ) -> VersionedRuleSet {
        VersionedRuleSet {
            scope,
            version,
            effective_from,
            rules: RuleSet {
                hold_minutes: hold,
                ..RuleSet::default()
            },
        }
    }

    fn at() -> DateTime<Utc> {
        sh(2026, 11, 16, 9, 0, 0)
    }

    fn resolve_at(candidates: &[VersionedRuleSet], when: DateTime<Utc>) -> ResolvedRules {
        resolve(candidates, HOSPITAL, DEPARTMENT, Some(DOCTOR), when)
    }

    #[test]
    fn nothing_published_means_the_builtin_defaults() {
        let resolved = resolve_at(&[], at());
        assert_eq!(resolved.rules, RuleSet::default());
        assert_eq!(resolved.version_label, "default:v1");
    }

    #[test]
    fn the_most_specific_scope_in_force_wins() {
        let year_start = sh(2026, 1, 1, 0, 0, 0);
        let hospital = version(RuleScope::Hospital(HOSPITAL), 1, year_start, 11);
        let department = version(RuleScope::Department(DEPARTMENT), 2, year_start, 12);
        let doctor = version(RuleScope::Doctor(DOCTOR), 3, year_start, 13);

        let resolved = resolve_at(std::slice::from_ref(&hospital), at());
        assert_eq!(resolved.rules.hold_minutes, 11);
        assert_eq!(resolved.version_label, format!("hospital:{HOSPITAL}:v1"));

        let resolved = resolve_at(&[hospital.clone(), department.clone()], at());
        assert_eq!(resolved.rules.hold_minutes, 12);
        assert_eq!(
            resolved.version_label,
            format!("department:{DEPARTMENT}:v2")
        );

        let all = [doctor.clone(), hospital.clone(), department.clone()];
        let resolved = resolve_at(&all, at());
        assert_eq!(resolved.rules.hold_minutes, 13);
        assert_eq!(resolved.version_label, format!("doctor:{DOCTOR}:v3"));

        // A general clinic (no doctor) never takes a doctor's rules.
        let resolved = resolve(&all, HOSPITAL, DEPARTMENT, None, at());
        assert_eq!(
            resolved.version_label,
            format!("department:{DEPARTMENT}:v2")
        );
    }

    #[test]
    fn overrides_for_someone_else_are_ignored() {
        let year_start = sh(2026, 1, 1, 0, 0, 0);
        let foreign = [
            version(RuleScope::Hospital(OTHER), 9, year_start, 21),
            version(RuleScope::Department(OTHER), 9, year_start, 22),
            version(RuleScope::Doctor(OTHER), 9, year_start, 23),
        ];
        assert_eq!(resolve_at(&foreign, at()), ResolvedRules::builtin());
        let mut mixed = foreign.to_vec();
        mixed.push(version(RuleScope::Hospital(HOSPITAL), 1, year_start, 11));
        assert_eq!(
            resolve_at(&mixed, at()).version_label,
            format!("hospital:{HOSPITAL}:v1")
        );
    }

    #[test]
    fn a_version_takes_effect_at_its_instant() {
        let v1 = version(
            RuleScope::Hospital(HOSPITAL),
            1,
            sh(2026, 1, 1, 0, 0, 0),
            10,
        );
        let v2_from = sh(2026, 12, 1, 0, 0, 0);
        let v2 = version(RuleScope::Hospital(HOSPITAL), 2, v2_from, 15);
        let both = [v2, v1];
        assert_eq!(
            resolve_at(&both, v2_from - secs(1)).version_label,
            format!("hospital:{HOSPITAL}:v1")
        );
        let resolved = resolve_at(&both, v2_from);
        assert_eq!(resolved.version_label, format!("hospital:{HOSPITAL}:v2"));
        assert_eq!(resolved.rules.hold_minutes, 15);
        // Before the first version there is only the default.
        assert_eq!(
            resolve_at(&both, sh(2025, 12, 31, 23, 59, 59)),
            ResolvedRules::builtin()
        );
    }

    #[test]
    fn a_future_override_falls_back_to_the_wider_scope() {
        let hospital = version(
            RuleScope::Hospital(HOSPITAL),
            4,
            sh(2026, 1, 1, 0, 0, 0),
            11,
        );
        let doctor_from = sh(2026, 11, 20, 0, 0, 0);
        let doctor = version(RuleScope::Doctor(DOCTOR), 1, doctor_from, 13);
        let both = [hospital, doctor];
        assert_eq!(
            resolve_at(&both, at()).version_label,
            format!("hospital:{HOSPITAL}:v4")
        );
        assert_eq!(
            resolve_at(&both, doctor_from).version_label,
            format!("doctor:{DOCTOR}:v1")
        );
    }

    #[test]
    fn the_highest_version_in_force_wins_whatever_its_date() {
        // v3 was published to take effect before v2 did: v3 is the newer decision.
        let v2 = version(
            RuleScope::Department(DEPARTMENT),
            2,
            sh(2026, 3, 1, 0, 0, 0),
            12,
        );
        let v3 = version(
            RuleScope::Department(DEPARTMENT),
            3,
            sh(2026, 2, 1, 0, 0, 0),
            13,
        );
        let both = [v2, v3];
        assert_eq!(resolve_at(&both, at()).rules.hold_minutes, 13);
        // Before v3 took effect, nothing of the department was in force.
        assert_eq!(
            resolve_at(&both, sh(2026, 1, 31, 0, 0, 0)),
            ResolvedRules::builtin()
        );
    }

    #[test]
    fn a_versioned_rule_set_is_stored_as_json() {
        let stored = json!({
            "scope": {"kind": "doctor", "id": DOCTOR},
            "version": 3,
            "effective_from": "2026-11-01T00:00:00Z",
            "rules": {"hold_minutes": 15, "release_time": "07:30"}
        });
        let parsed: VersionedRuleSet = serde_json::from_value(stored).unwrap();
        assert_eq!(parsed.scope, RuleScope::Doctor(DOCTOR));
        assert_eq!(parsed.rules.hold_minutes, 15);
        assert_eq!(parsed.rules.booking_window_days, 7);
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back["scope"]["kind"], "doctor");
        assert_eq!(back["rules"]["release_time"], "07:30");
        assert_eq!(
            serde_json::from_value::<VersionedRuleSet>(back).unwrap(),
            parsed
        );
    }
}
