//! What the ledger says for people: totals per state, the rows that need a person, the runs and
//! their files, and every row of the report (echo files' rows included), typed.

use rusqlite::params;
use serde::Serialize;

use super::stage::{LAST_ROW, RunOutcome};
use super::status::in_states;
use super::{Ledger, LedgerError, RunId, Status, file, sql};
use crate::money::{Amount, Cents};

/// Counts and amounts of one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTotal {
    pub status: Status,
    pub count: u64,
    pub cents: Cents,
}

/// A row that needs a person, for the summary.
#[derive(Debug, Clone)]
pub struct AttentionRow {
    pub file: String,
    pub line: u64,
    pub key: String,
    pub status: Status,
    pub message: String,
}

/// One line of `payimport runs`.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: RunId,
    pub command: String,
    pub source: Option<String>,
    pub started_at: String,
    /// When it ended; for a run that was killed, the time of its last recorded row. `None`
    /// while it runs.
    pub ended_at: Option<String>,
    /// How it ended; `None` while it runs.
    pub outcome: Option<RunOutcome>,
    pub files: Vec<String>,
    /// In [`Status::ALL`] order.
    pub totals: Vec<StatusTotal>,
}

/// A file of a run, as recorded.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub path: String,
    /// `staged` or `refused`.
    pub status: String,
    /// Why a refused file was refused.
    pub message: Option<String>,
    /// JSON: every control total the file stated, stated vs computed.
    pub control_checks: Option<String>,
}

/// One row of the report (docs/report.md), in the report's column order.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub run_id: i64,
    pub file: String,
    pub line: i64,
    pub key: String,
    pub status: Status,
    pub loan: String,
    pub loan_id: Option<i64>,
    pub amount: Amount,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<i64>,
    pub payment_type_id: Option<i64>,
    pub extra: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub message: Option<String>,
    pub updated_at: String,
    /// `payment` or `return` (docs/returns.md).
    pub kind: String,
    /// A return's original payment row, by key.
    pub original_key: Option<String>,
    pub return_code: Option<String>,
    /// A corrected copy's original row, by key (`payimport amend`, docs/states.md). JSON only: the
    /// CSV keeps docs/report.md's columns, and its `message` names the copy and who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amends: Option<String>,
    /// Who resolved the row, when, and why: every amend, release and dismiss, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// Every resolution of a row (`rows` or an alias) in one cell, `; ` between them.
macro_rules! resolutions_of {
    ($row:literal) => {
        concat!(
            "(SELECT group_concat(a.action || ' by ' || a.by || ' at ' || a.at
                || COALESCE(' as ' || a.new_key, '') || COALESCE(': ' || a.note, ''), '; ')
             FROM resolutions a WHERE a.row_id = ",
            $row,
            ".id)"
        )
    };
}

/// The report's columns of a ledger row `r` as [`ROW_COLUMNS`] has them (read by
/// [`report_row`]): 24 columns, its file id the 19th, its resolutions the last.
pub(super) const COLUMNS_OF_R: &str = concat!(
    "r.run_id, r.file, r.line, r.key, r.status, r.loan, r.loan_id, r.amount_cents,
        r.amount_as_given, r.date, r.reference, r.payment_method_id, r.payment_type_id, r.extra,
        r.attempts, r.http_status, r.message, r.updated_at, r.file_id, r.kind, r.original_key,
        r.return_code, r.amends,
    ",
    resolutions_of!("r"),
);

/// The report's columns of a ledger row, then its file id (NULL before migration 0002).
/// Last, every resolution of the row in one cell (docs/states.md), `; ` between them.
const ROW_COLUMNS: &str = concat!(
    "SELECT run_id, file, line, key, status, loan, loan_id, amount_cents, amount_as_given, date,
        reference, payment_method_id, payment_type_id, extra, attempts, http_status, message,
        updated_at, file_id, kind, original_key, return_code, amends,
        ",
    resolutions_of!("rows"),
    "
    FROM rows WHERE (?1 IS NULL OR run_id = ?1) ORDER BY id"
);

/// The same columns for the rows of echo files (see migration 0002): the original file's rows,
/// each `already_posted` (?2), named as the per-row staging would have named them.
const ECHO_COLUMNS: &str = "SELECT e.run_id, e.path, r.line, r.key, ?2, r.loan, r.loan_id,
        r.amount_cents, r.amount_as_given, r.date, r.reference, r.payment_method_id,
        r.payment_type_id, r.extra, 0, NULL,
        CASE WHEN r.status = ?3
             THEN 'posted by run ' || r.run_id || ' (' || r.file || ':' || r.line || ')'
             ELSE r.message END,
        run.started_at, e.id, r.kind, r.original_key, r.return_code, NULL, NULL
    FROM files e CROSS JOIN files o CROSS JOIN runs run CROSS JOIN rows r
    WHERE o.id = e.echo_of AND run.id = e.run_id AND (?1 IS NULL OR e.run_id = ?1)
      -- a file's rows are one id range: read in order, file after file (CROSS JOIN keeps
      -- SQLite to that loop order, so nothing is sorted)
      AND r.id BETWEEN o.first_row AND o.last_row AND +r.file_id = o.id
    ORDER BY e.id, r.id";

pub(super) fn report_row(r: &rusqlite::Row) -> rusqlite::Result<(ReportRow, Option<i64>)> {
    let amount = match r.get::<_, Option<Cents>>(7)? {
        Some(c) => Amount::Cents(c),
        None => Amount::Text(r.get(8)?),
    };
    Ok((
        ReportRow {
            run_id: r.get(0)?,
            file: r.get(1)?,
            line: r.get(2)?,
            key: r.get(3)?,
            status: r.get(4)?,
            loan: r.get(5)?,
            loan_id: r.get(6)?,
            amount,
            date: r.get(9)?,
            reference: r.get(10)?,
            payment_method_id: r.get(11)?,
            payment_type_id: r.get(12)?,
            extra: r.get(13)?,
            attempts: r.get(14)?,
            http_status: r.get(15)?,
            message: r.get(16)?,
            updated_at: r.get(17)?,
            kind: r.get(19)?,
            original_key: r.get(20)?,
            return_code: r.get(21)?,
            amends: r.get(22)?,
            resolution: r.get(23)?,
        },
        r.get(18)?,
    ))
}

impl Ledger {
    /// How many rows of a run were read back from LoanPro at least once.
    pub fn reconciled_count(&self, run: RunId) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM rows WHERE (run_id = ?1 OR sent_by_run = ?1) AND reconciled > 0",
                [run],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql(&self.path))
    }

    /// Counts and amounts per status for one run, in [`Status::ALL`] order: the rows it staged
    /// and the earlier ones it sent, and the rows of its echo files (those of their originals,
    /// each `already_posted`).
    pub fn totals(&self, run: RunId) -> Result<Vec<StatusTotal>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, SUM(n), SUM(cents) FROM (
                     SELECT status, COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS cents
                     FROM rows WHERE run_id = ?1 OR sent_by_run = ?1 GROUP BY status
                     UNION ALL
                     SELECT ?2, rows, cents FROM files
                     WHERE run_id = ?1 AND echo_of IS NOT NULL)
                 GROUP BY status",
            )
            .map_err(&err)?;
        let mut totals = stmt
            .query_map(params![run, Status::AlreadyPosted], |r| {
                Ok(StatusTotal {
                    status: r.get(0)?,
                    count: r.get::<_, i64>(1)? as u64,
                    cents: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&err)?;
        totals.sort_by_key(|t| t.status);
        Ok(totals)
    }

    /// Counts and amounts per status of a run's returns (docs/returns.md), in [`Status::ALL`] order:
    /// the summary shows them apart from payments.
    pub fn return_totals(&self, run: RunId) -> Result<Vec<StatusTotal>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, COUNT(*), COALESCE(SUM(amount_cents), 0) FROM rows
                 WHERE (run_id = ?1 OR sent_by_run = ?1) AND kind = 'return' GROUP BY status",
            )
            .map_err(&err)?;
        let mut totals = stmt
            .query_map(params![run], |r| {
                Ok(StatusTotal {
                    status: r.get(0)?,
                    count: r.get::<_, i64>(1)? as u64,
                    cents: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&err)?;
        totals.sort_by_key(|t| t.status);
        Ok(totals)
    }

    /// The first rows of a run that need a person.
    pub fn needing_attention(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<Vec<AttentionRow>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT file, line, key, status, COALESCE(message, '') FROM rows
                 WHERE (run_id = ?1 OR sent_by_run = ?1) AND {}
                 ORDER BY id LIMIT ?2",
                in_states(Status::ALL.into_iter().filter(|s| s.needs_attention()))
            ))
            .map_err(&err)?;
        stmt.query_map(params![run, limit as i64], |r| {
            Ok(AttentionRow {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                key: r.get(2)?,
                status: r.get(3)?,
                message: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(&err)
    }

    /// The files of a run, in the order they were read.
    pub fn files_of_run(&self, run: RunId) -> Result<Vec<FileInfo>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, status, message, control_checks FROM files WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(&err)?;
        stmt.query_map([run], |r| {
            Ok(FileInfo {
                path: r.get(0)?,
                status: r.get(1)?,
                message: r.get(2)?,
                control_checks: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(&err)
    }

    /// Every run, oldest first. A run that never ended is running if it holds the ledger's
    /// lock right now, and otherwise was killed or crashed: `interrupted`, at the time of its
    /// last recorded row (the next run to open the ledger records it so).
    pub fn runs(&self) -> Result<Vec<RunInfo>, LedgerError> {
        let err = sql(&self.path);
        // A ledger not migrated yet (this is a read-only open) has no `outcome` column.
        let has_outcome: bool = self
            .conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('runs') WHERE name = 'outcome'",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        let outcome = if has_outcome { "outcome" } else { "NULL" };
        // The last row's time only for runs that never ended: for the others it would read
        // every row of every run.
        let mut runs: Vec<RunInfo> = self
            .conn
            .prepare(&format!(
                "SELECT id, command, source, started_at, ended_at, {outcome},
                 CASE WHEN ended_at IS NULL THEN ({LAST_ROW}) END
                 FROM runs ORDER BY id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    let ended_at: Option<String> = r.get(4)?;
                    let outcome: Option<String> = r.get(5)?;
                    let started_at: String = r.get(3)?;
                    let (ended_at, outcome) = match (ended_at, outcome) {
                        (Some(end), o) => (
                            Some(end),
                            // Ended before migration 0005 and not migrated: it ran to its end.
                            Some(
                                o.and_then(|o| RunOutcome::parse(&o))
                                    .unwrap_or(RunOutcome::Completed),
                            ),
                        ),
                        (None, _) => (
                            Some(
                                r.get::<_, Option<String>>(6)?
                                    .unwrap_or_else(|| started_at.clone()),
                            ),
                            Some(RunOutcome::Interrupted),
                        ),
                    };
                    Ok(RunInfo {
                        id: r.get(0)?,
                        command: r.get(1)?,
                        source: r.get(2)?,
                        started_at,
                        ended_at,
                        outcome,
                        files: Vec::new(),
                        totals: Vec::new(),
                    })
                })?
                .collect()
            })
            .map_err(&err)?;
        // One run at a time holds the lock, and names itself in the lock file; while one is
        // starting (no run of its own yet), the newest run that never ended is not it.
        if let Some(holder) = file::lock_holder(&self.path).map_err(|source| LedgerError::Io {
            path: self.path.clone(),
            source,
        })? {
            let live = holder
                .strip_prefix("run ")
                .and_then(|s| s.split(',').next())
                .and_then(|id| id.parse::<RunId>().ok());
            if let Some(run) = runs.iter_mut().find(|r| Some(r.id) == live)
                && run.outcome == Some(RunOutcome::Interrupted)
            {
                run.ended_at = None;
                run.outcome = None;
            }
        }
        runs.into_iter()
            .map(|mut run| {
                run.files = self
                    .files_of_run(run.id)?
                    .into_iter()
                    .map(|f| f.path)
                    .collect();
                run.totals = self.totals(run.id)?;
                Ok(run)
            })
            .collect()
    }

    /// How many live rows, over all runs, are in `status` (what `payimport check` reports as
    /// waiting: `unknown`, `unsent`).
    pub fn live_count(&self, status: Status) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM rows WHERE status = ?1 AND live = 1",
                [status],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql(&self.path))
    }

    /// The id of the newest run.
    pub fn last_run(&self) -> Result<Option<RunId>, LedgerError> {
        self.conn
            .query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0))
            .map_err(sql(&self.path))
    }

    /// Refuses a run id this ledger has no run of: `--run 99` is a typo or the wrong ledger,
    /// and answering it with nothing would look like a run with no rows.
    pub fn check_run_exists(&self, run: RunId) -> Result<(), LedgerError> {
        let found: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                [run],
                |r| r.get(0),
            )
            .map_err(sql(&self.path))?;
        if found {
            Ok(())
        } else {
            Err(LedgerError::NoSuchRun {
                path: self.path.clone(),
                run,
            })
        }
    }

    /// Calls `f` with every row of the report in order: by run, then file, then line. Rows are
    /// streamed, the ledger's own and those of echo files merged in their file's place.
    pub fn for_each_report_row<E: From<LedgerError>>(
        &self,
        run: Option<RunId>,
        mut f: impl FnMut(ReportRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let err = sql(&self.path);
        let mut own = self.conn.prepare(ROW_COLUMNS).map_err(&err)?;
        let mut echo = self.conn.prepare(ECHO_COLUMNS).map_err(&err)?;
        let mut own = own.query(params![run]).map_err(&err)?;
        let mut echo = echo
            .query(params![run, Status::AlreadyPosted, Status::Posted])
            .map_err(&err)?;
        let mut next_echo = || -> Result<_, LedgerError> {
            echo.next()
                .and_then(|r| r.map(report_row).transpose())
                .map_err(&err)
        };
        let mut pending_echo = next_echo()?;
        while let Some(r) = own.next().map_err(&err)? {
            let (row, file_id) = report_row(r).map_err(&err)?;
            // Rows staged before file ids were kept come before any echo file.
            let place = (row.run_id, file_id.unwrap_or(0));
            while let Some((e, _)) =
                pending_echo.take_if(|(e, id)| (e.run_id, id.unwrap_or(0)) < place)
            {
                f(e)?;
                pending_echo = next_echo()?;
            }
            f(row)?;
        }
        while let Some((e, _)) = pending_echo {
            f(e)?;
            pending_echo = next_echo()?;
        }
        Ok(())
    }
}
