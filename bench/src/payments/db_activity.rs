//! What the bench database did over a phase, from PostgreSQL's cumulative statistics:
//! transactions, and sequential scans per table (a lookup that reads whole tables shows here).
//!
//! PostgreSQL publishes a backend's counts when it goes idle, at most once a second and at the
//! latest 10 s later, so a reading covers everything before it only after [`STATS_SETTLE`]
//! without traffic.

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::collections::BTreeMap;
use std::time::Duration;

pub const STATS_SETTLE: Duration = Duration::from_millis(11_500);

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbCounters {
    /// `xact_commit + xact_rollback`; an autocommitted statement counts as one.
    transactions: i64,
    /// Per table: sequential scans and the rows they read.
    seq_scans: BTreeMap<String, (i64, i64)>,
}

/// Sequential scans of one table over a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableScans {
    pub table: String,
    pub scans: i64,
    pub rows: i64,
}

/// The difference of two readings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbActivity {
    pub transactions: i64,
    /// Tables scanned sequentially, most rows read first.
    pub seq_scans: Vec<TableScans>,
}

impl DbCounters {
    pub async fn read(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let transactions = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT (xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database \
                 WHERE datname = current_database()",
            ))
            .await?
            .context("no pg_stat_database row for the bench database")?
            .try_get::<i64>("", "n")?;
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT relname::text AS name, seq_scan::bigint AS scans, \
                 seq_tup_read::bigint AS rows FROM pg_stat_user_tables",
            ))
            .await
            .context("reading pg_stat_user_tables")?;
        let mut seq_scans = BTreeMap::new();
        for row in rows {
            seq_scans.insert(
                row.try_get::<String>("", "name")?,
                (
                    row.try_get::<i64>("", "scans")?,
                    row.try_get::<i64>("", "rows")?,
                ),
            );
        }
        Ok(Self {
            transactions,
            seq_scans,
        })
    }

    pub fn since(&self, before: &DbCounters) -> DbActivity {
        let mut seq_scans: Vec<TableScans> = self
            .seq_scans
            .iter()
            .map(|(table, (scans, rows))| {
                let (scans_before, rows_before) =
                    before.seq_scans.get(table).copied().unwrap_or((0, 0));
                TableScans {
                    table: table.clone(),
                    scans: scans - scans_before,
                    rows: rows - rows_before,
                }
            })
            .filter(|t| t.scans > 0)
            .collect();
        seq_scans.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.table.cmp(&b.table)));
        DbActivity {
            transactions: self.transactions - before.transactions,
            seq_scans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(transactions: i64, tables: &[(&str, i64, i64)]) -> DbCounters {
        DbCounters {
            transactions,
            seq_scans: tables
                .iter()
                .map(|(t, s, r)| (t.to_string(), (*s, *r)))
                .collect(),
        }
    }

    #[test]
    fn a_phase_is_the_difference_with_the_scanned_tables_by_rows_read() {
        let before = counters(100, &[("payments", 5, 0), ("booking_rules", 600, 0)]);
        let after = counters(
            5100,
            &[
                ("payments", 1005, 4_000_000),
                ("booking_rules", 602, 0),
                ("schedules", 3, 900),
                ("callback_log", 0, 0),
            ],
        );
        let activity = after.since(&before);
        assert_eq!(activity.transactions, 5000);
        assert_eq!(
            activity.seq_scans,
            [
                TableScans {
                    table: "payments".into(),
                    scans: 1000,
                    rows: 4_000_000
                },
                TableScans {
                    table: "schedules".into(),
                    scans: 3,
                    rows: 900
                },
                TableScans {
                    table: "booking_rules".into(),
                    scans: 2,
                    rows: 0
                },
            ]
        );
    }
}
