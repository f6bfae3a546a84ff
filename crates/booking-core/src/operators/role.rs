//! Operator roles and what each may do.
//!
//! The roles are not one ladder: a kiosk checks patients in and can read nothing, an auditor
//! reads every log and can change nothing. So each role is a set of capabilities and
//! "at least R" means "can do everything R can":
//!
//! | role       | check in | read logs | act on bookings | manage operators |
//! |------------|:--------:|:---------:|:---------------:|:----------------:|
//! | `admin`    |    ✓     |     ✓     |        ✓        |        ✓         |
//! | `operator` |    ✓     |     ✓     |        ✓        |                  |
//! | `auditor`  |          |     ✓     |                 |                  |
//! | `kiosk`    |    ✓     |           |                 |                  |
//!
//! Hence admin ⊇ operator ⊇ auditor, and admin ⊇ operator ⊇ kiosk; auditor and kiosk are
//! incomparable. "Kiosk or above" (check-in) is `at_least(Kiosk)`: admin, operator, kiosk.
//! "Auditor or above" (reading logs) is `at_least(Auditor)`: admin, operator, auditor.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One thing a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Capability {
    /// `POST /api/v1/ops/check-in`.
    CheckIn = 1,
    /// The booking, callback and audit logs.
    ReadLogs = 2,
    /// Changing bookings on a patient's behalf (cancel, refund, mark no-show).
    ActOnBookings = 4,
    /// Creating and deactivating operator accounts.
    ManageOperators = 8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    Admin,
    Operator,
    Auditor,
    Kiosk,
}

impl OperatorRole {
    pub const ALL: [OperatorRole; 4] = [
        OperatorRole::Admin,
        OperatorRole::Operator,
        OperatorRole::Auditor,
        OperatorRole::Kiosk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Admin => "admin",
            OperatorRole::Operator => "operator",
            OperatorRole::Auditor => "auditor",
            OperatorRole::Kiosk => "kiosk",
        }
    }

    fn capabilities(self) -> u8 {
        use Capability::*;
        match self {
            OperatorRole::Admin => {
                CheckIn as u8 | ReadLogs as u8 | ActOnBookings as u8 | ManageOperators as u8
            }
            OperatorRole::Operator => CheckIn as u8 | ReadLogs as u8 | ActOnBookings as u8,
            OperatorRole::Auditor => ReadLogs as u8,
            OperatorRole::Kiosk => CheckIn as u8,
        }
    }

    pub fn can(self, capability: Capability) -> bool {
        self.capabilities() & capability as u8 != 0
    }

    /// True when this role can do everything `required` can.
    pub fn at_least(&self, required: OperatorRole) -> bool {
        let (mine, needed) = (self.capabilities(), required.capabilities());
        mine & needed == needed
    }
}

impl fmt::Display for OperatorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operator role {0:?}: expected admin, operator, auditor or kiosk")]
pub struct UnknownRole(pub String);

impl FromStr for OperatorRole {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Self, UnknownRole> {
        OperatorRole::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::OperatorRole::{self, *};
    use super::*;

    fn holders(required: OperatorRole) -> Vec<OperatorRole> {
        OperatorRole::ALL
            .into_iter()
            .filter(|role| role.at_least(required))
            .collect()
    }

    #[test]
    fn kiosk_or_above_is_admin_operator_and_kiosk() {
        assert_eq!(holders(Kiosk), vec![Admin, Operator, Kiosk]);
        assert!(!Auditor.can(Capability::CheckIn));
    }

    #[test]
    fn auditor_or_above_reads_logs_and_a_kiosk_does_not() {
        assert_eq!(holders(Auditor), vec![Admin, Operator, Auditor]);
        assert!(!Kiosk.can(Capability::ReadLogs));
    }

    #[test]
    fn admin_above_operator_above_auditor() {
        assert_eq!(holders(Admin), vec![Admin]);
        assert_eq!(holders(Operator), vec![Admin, Operator]);
        assert!(Admin.can(Capability::ManageOperators));
        assert!(!Operator.can(Capability::ManageOperators));
        for role in OperatorRole::ALL {
            assert!(role.at_least(role), "{role} covers itself");
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in OperatorRole::ALL {
            assert_eq!(role.as_str().parse::<OperatorRole>(), Ok(role));
        }
        assert!("Admin".parse::<OperatorRole>().is_err());
        assert!("root".parse::<OperatorRole>().is_err());
    }
}
