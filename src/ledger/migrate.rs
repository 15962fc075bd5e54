//! The ledger's schema: the numbered migrations, applied in order at open, and the checks that
//! refuse a ledger this payimport cannot use (newer, damaged, or not a ledger at all).

use super::{Ledger, LedgerError, sql};

/// The numbered migrations, applied in order at open; `PRAGMA user_version` counts those applied.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_echo_files.sql"),
    include_str!("../../migrations/0003_row_states_and_amounts.sql"),
    include_str!("../../migrations/0004_ledger_tenant.sql"),
    include_str!("../../migrations/0005_run_outcome.sql"),
    include_str!("../../migrations/0006_returns.sql"),
    include_str!("../../migrations/0007_held_and_matching.sql"),
    include_str!("../../migrations/0009_resolve.sql"),
    include_str!("../../migrations/0010_run_refused.sql"),
];

impl Ledger {
    /// A ledger from a newer payimport, or a SQLite database that is no ledger at all (its
    /// tables were not made by our migrations), is refused.
    pub(super) fn check_schema(&self) -> Result<(), LedgerError> {
        let version = self.check_version()?;
        if version == 0 {
            let tables: Vec<String> = self
                .conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 5",
                )
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(sql(&self.path))?;
            if !tables.is_empty() {
                return Err(LedgerError::Corrupt {
                    path: self.path.clone(),
                    problem: format!(
                        "is not a payimport ledger: it is a SQLite database of other tables ({})",
                        tables.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// The schema version, refused when a newer payimport wrote it.
    pub(super) fn check_version(&self) -> Result<i64, LedgerError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql(&self.path))?;
        if version as usize > MIGRATIONS.len() {
            return Err(LedgerError::TooNew {
                path: self.path.clone(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        Ok(version)
    }

    /// SQLite's quick check of every page and b-tree (not of index contents), before a run
    /// that writes: a damaged ledger may have lost the rows that say a payment was posted,
    /// and building on it could post that payment twice. About a second per million rows.
    pub(super) fn quick_check(&self) -> Result<(), LedgerError> {
        let result: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(sql(&self.path))?;
        if result != "ok" {
            return Err(LedgerError::Corrupt {
                path: self.path.clone(),
                problem: format!("is damaged (SQLite's quick_check: {result})"),
            });
        }
        Ok(())
    }

    /// Applies the migrations not applied yet, each in its own transaction with its version.
    pub(super) fn migrate(&mut self) -> Result<(), LedgerError> {
        let version = self.check_version()?;
        let err = sql(&self.path);
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(&err)?;
            tx.execute_batch(migration)
                .and_then(|_| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|_| tx.commit())
                .map_err(&err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::*;
    use crate::ledger::status::{check_condition, open_condition};
    use crate::ledger::{Amount, Status};
    use crate::money::Cents;

    /// The newest migration that states `what`: the schema a ledger ends up with.
    fn newest_stating(what: &str) -> &'static str {
        MIGRATIONS
            .iter()
            .rev()
            .find(|m| m.contains(what))
            .unwrap_or_else(|| panic!("no migration states {what}"))
    }

    #[test]
    fn the_status_check_lists_every_state() {
        let check = format!("CHECK ({})", check_condition());
        assert!(
            newest_stating("CHECK (status = ").contains(&check),
            "the newest rebuild of rows does not state {check}"
        );
    }

    #[test]
    fn queries_state_rows_open_as_its_migrations_do() {
        let index = format!("ON rows(status) WHERE {};", open_condition());
        assert!(MIGRATIONS[0].contains("CREATE INDEX rows_open ON rows(status) WHERE status IN"));
        assert!(newest_stating("CREATE INDEX rows_open").contains(&index));
    }

    /// A ledger as payimport made it at schema 2: the first two migrations, a run, a file,
    /// and a row in every state, rejected ones with their amount as given.
    fn schema_2_ledger(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
            .unwrap();
        for (i, m) in MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(m).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO runs (id, command, source, started_at, ended_at, pid)
             VALUES (1, 'import', 'bank', '2026-11-20T01:00:00.000Z', '2026-11-20T01:00:09.000Z', 7);
             INSERT INTO files (id, run_id, path, status, rows, fingerprint, first_row, last_row, cents)
             VALUES (1, 1, 'in/bank.csv', 'staged', 8, 'f00d', 1, 8, 1500);",
        )
        .unwrap();
        let mut insert = conn
            .prepare(
                "INSERT INTO rows (id, run_id, file, line, key, live, status, loan, loan_id, amount,
                 amount_cents, date, reference, payment_method_id, payment_type_id, extra, info,
                 attempts, message, sent_by_run, updated_at, file_id)
                 VALUES (?1, 1, 'in/bank.csv', ?1 + 1, printf('%016x', ?1), ?2, ?3, '12', 12, ?4, ?5,
                 '2026-11-20', 'chk', 4, 1, 'payment.extra.tx.principal', 'chk [k:x]', 1, 'why', 1,
                 '2026-11-20T01:00:05.000Z', 1)",
            )
            .unwrap();
        for (i, s) in SCHEMA_2_STATES.iter().enumerate() {
            let rejected = *s == Status::Rejected;
            let (amount, cents) = if rejected {
                ("-5.0", None)
            } else {
                ("1.50", Some(150))
            };
            insert
                .execute(rusqlite::params![
                    i as i64 + 1,
                    !rejected && *s != Status::AlreadyPosted,
                    s.as_str(),
                    amount,
                    cents
                ])
                .unwrap();
        }
    }

    /// The states a ledger of schema 2 could hold: those since added cannot be in it.
    const SCHEMA_2_STATES: [Status; 8] = [
        Status::Posted,
        Status::AlreadyPosted,
        Status::Rejected,
        Status::Failed,
        Status::Unsent,
        Status::Unknown,
        Status::Pending,
        Status::Sending,
    ];

    fn index_sql(conn: &Connection) -> Vec<(String, String)> {
        conn.prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn a_schema_2_ledger_migrates_with_its_rows_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        schema_2_ledger(&path);
        let before = index_sql(&Connection::open(&path).unwrap());

        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.check_version().unwrap(), MIGRATIONS.len() as i64);
        let conn = &ledger.conn;
        // Every index recreated as it was, but rows_open, whose condition names the open
        // states of the newest migration, and those later migrations add.
        let after = index_sql(conn);
        for (name, sql) in &before {
            let now = after.iter().find(|(n, _)| n == name).map(|(_, s)| s);
            if name == "rows_open" {
                assert!(now.unwrap().contains(&open_condition()), "{now:?}");
            } else {
                assert_eq!(now, Some(sql), "{name} recreated as it was");
            }
        }
        let fk: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");

        let mut rows = Vec::new();
        ledger
            .for_each_report_row(None, |r| {
                rows.push(r);
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        assert_eq!(rows.len(), SCHEMA_2_STATES.len());
        for (r, s) in rows.iter().zip(SCHEMA_2_STATES) {
            assert_eq!(r.status, s);
            assert_eq!(r.message.as_deref(), Some("why"));
            let want = if s == Status::Rejected {
                Amount::Text("-5.0".into())
            } else {
                Amount::Cents(Cents(150))
            };
            assert_eq!(r.amount, want);
        }
        let total: Cents = ledger.totals(1).unwrap().iter().map(|t| t.cents).sum();
        assert_eq!(total, Cents(150 * (SCHEMA_2_STATES.len() as i64 - 1)));
        // The ledger goes on working: the pending row is claimed.
        drop(ledger);
        let mut ledger = Ledger::open(&path).unwrap();
        let claimed = ledger.claim(1, 10, crate::ledger::Kind::Payment).unwrap();
        assert_eq!(claimed.len(), 1);
        let crate::ledger::Claim::Payment(p) = &claimed[0].request else {
            panic!("a payment claimed as a return: {:?}", claimed[0]);
        };
        assert_eq!(p.amount, Cents(150));
    }

    #[test]
    fn a_run_that_never_ended_is_migrated_as_interrupted_at_its_last_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        schema_2_ledger(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "UPDATE runs SET ended_at = NULL;
                 INSERT INTO runs (id, command, started_at, ended_at, pid)
                 VALUES (2, 'retry', '2026-11-21T01:00:00.000Z', '2026-11-21T01:00:01.000Z', 8);",
            )
            .unwrap();
        let ledger = Ledger::open(&path).unwrap();
        let runs = ledger.runs().unwrap();
        assert_eq!(
            runs[0].outcome,
            Some(crate::ledger::RunOutcome::Interrupted)
        );
        assert_eq!(
            runs[0].ended_at.as_deref(),
            Some("2026-11-20T01:00:05.000Z")
        );
        assert_eq!(runs[1].outcome, Some(crate::ledger::RunOutcome::Completed));
    }

    #[test]
    fn a_state_not_in_the_machine_is_refused_by_the_ledger_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        schema_2_ledger(&path);
        let ledger = Ledger::open(&path).unwrap();
        let bad = ledger
            .conn
            .execute("UPDATE rows SET status = 'postd' WHERE id = 1", []);
        assert!(bad.unwrap_err().to_string().contains("CHECK"));
        let two_amounts = ledger
            .conn
            .execute("UPDATE rows SET amount_as_given = '1.50' WHERE id = 1", []);
        assert!(two_amounts.is_err());
    }
}
