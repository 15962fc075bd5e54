//! What goes into the ledger: runs, files (fingerprints, control totals, echoes of a file seen
//! before), the rows of a file staged in one transaction, and display ids resolved to loans.

use std::io::Write;

use rusqlite::{OptionalExtension, params};

use super::status::{STAGED, Step, in_states};
use super::{Ledger, LedgerError, RunId, Status, names, now, sql};
use crate::money::Cents;
use crate::payment::Key;
use crate::read::ControlCheck;

/// A row staged from a file, valid or not.
pub struct NewRow {
    pub file: std::sync::Arc<str>,
    pub line: u64,
    pub key: Key,
    pub loan: String,
    pub loan_id: Option<u64>,
    /// As the file gives it (rejected rows) or two decimals (valid rows). The ledger keeps it
    /// only when `amount_cents` is `None`: a valid amount is stored once, in cents.
    pub amount: String,
    pub amount_cents: Option<Cents>,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<u32>,
    pub payment_type_id: Option<u32>,
    pub extra: Option<String>,
    pub info: Option<String>,
    /// `None` for a valid row; the reason for a rejected one.
    pub rejection: Option<String>,
    /// Set for a return (docs/returns.md).
    pub ret: Option<NewReturn>,
    /// The key of an earlier row of the same file this payment repeats, reference and all:
    /// a possible duplicate (docs/states.md).
    pub repeat_of: Option<Key>,
}

/// What a return row stores beyond a payment's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewReturn {
    pub code: String,
    pub original_reference: String,
    /// The original row's key, when the file names it.
    pub original_key: Option<String>,
    /// `None` for a rejected return.
    pub reverse_reason: Option<String>,
    /// Its original reference is a NACHA trace number.
    pub trace_reference: bool,
}

/// What staging did with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Staged {
    pub pending: u64,
    pub rejected: u64,
    pub already_posted: u64,
    pub unknown: u64,
    /// Possible duplicates, not sent until released (docs/states.md).
    pub held: u64,
}

/// How a run ended (`runs.outcome`, migration 0005).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// It sent what it could and ended (rows may still need attention).
    Completed,
    /// It stopped itself: LoanPro refused the credentials or answered with a redirect.
    Stopped,
    /// A signal stopped it, or it was killed or crashed.
    Interrupted,
    /// A file of it was refused whole (missing, unreadable, wrong structure or totals):
    /// nothing of that file was staged or sent, and the command exited 2 (migration 0009).
    Refused,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::Stopped => "stopped",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<RunOutcome> {
        [
            RunOutcome::Completed,
            RunOutcome::Stopped,
            RunOutcome::Interrupted,
            RunOutcome::Refused,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// The time of the last row the run `runs.id` recorded (staged, claimed or answered) before
/// the next run started: the end of a run that was killed. A later run's read-backs touch its
/// rows too, hence the bound. NULL when it recorded none.
pub(super) const LAST_ROW: &str = "SELECT MAX(r.updated_at) FROM rows AS r
     WHERE (r.run_id = runs.id OR r.sent_by_run = runs.id)
       AND r.updated_at < COALESCE(
           (SELECT MIN(later.started_at) FROM runs AS later WHERE later.id > runs.id), '9999')";

impl Ledger {
    /// Starts a run and notes this process in the lock file, so a second run can name it.
    pub fn begin_run(&mut self, command: &str, source: Option<&str>) -> Result<RunId, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO runs (command, source, started_at, pid) VALUES (?1, ?2, ?3, ?4)",
                params![command, source, now(), std::process::id()],
            )
            .map_err(sql(&self.path))?;
        let run = self.conn.last_insert_rowid();
        if let Some(mut f) = self.lock.as_ref() {
            let _ = f.set_len(0);
            let _ = writeln!(
                f,
                "run {run}, pid {}, started {}",
                std::process::id(),
                now()
            );
        }
        Ok(run)
    }

    /// Ends a run that ran to its end.
    pub fn finish_run(&mut self, run: RunId) -> Result<(), LedgerError> {
        self.end_run(run, RunOutcome::Completed)
    }

    /// Ends a run, saying how.
    pub fn end_run(&mut self, run: RunId, outcome: RunOutcome) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?1, outcome = ?3 WHERE id = ?2",
                params![now(), run, outcome.as_str()],
            )
            .map_err(sql(&self.path))?;
        Ok(())
    }

    /// Ends every run that never ended as `interrupted` (it was killed or crashed), at the
    /// time of its last recorded row. Only called under the lock, so none of them is running,
    /// and before `recover_interrupted`, which touches their rows. Returns how many.
    pub fn end_crashed_runs(&mut self) -> Result<usize, LedgerError> {
        self.conn
            .execute(
                &format!(
                    "UPDATE runs SET outcome = ?1, ended_at = COALESCE(({LAST_ROW}), started_at)
                     WHERE ended_at IS NULL"
                ),
                [RunOutcome::Interrupted.as_str()],
            )
            .map_err(sql(&self.path))
    }

    /// Whether staging holds possible duplicates (`[payments] duplicates`, docs/states.md): on
    /// unless the settings say `post`.
    pub fn set_hold_duplicates(&mut self, hold: bool) {
        self.hold_duplicates = hold;
    }

    /// Records a file of a run.
    pub fn add_file(&mut self, run: RunId, path: &str) -> Result<i64, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO files (run_id, path, status) VALUES (?1, ?2, 'staged')",
                params![run, path],
            )
            .map_err(sql(&self.path))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Notes what a file's bytes and the settings that read it hash to, so a later run can tell
    /// the same file again.
    pub fn set_fingerprint(&mut self, file_id: i64, fingerprint: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE files SET fingerprint = ?1 WHERE id = ?2",
                params![fingerprint, file_id],
            )
            .map_err(sql(&self.path))?;
        Ok(())
    }

    /// An earlier file with this fingerprint whose payments are all in LoanPro (every row
    /// settled), newest first: a file the same file again can echo.
    pub fn settled_original(&self, fingerprint: &str) -> Result<Option<i64>, LedgerError> {
        let err = sql(&self.path);
        let candidates: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM files WHERE fingerprint = ?1 AND echo_of IS NULL
                 AND status = 'staged' AND rows > 0 ORDER BY id DESC",
            )
            .and_then(|mut s| s.query_map([fingerprint], |r| r.get(0))?.collect())
            .map_err(&err)?;
        // One seek in rows_by_file_status per unsettled state: the file's rows are not read.
        let unsettled = in_states(Status::ALL.into_iter().filter(|s| !s.is_settled()));
        let mut open = self
            .conn
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM rows WHERE file_id = ?1 AND {unsettled})"
            ))
            .map_err(&err)?;
        for id in candidates {
            let unsettled: bool = open.query_row([id], |r| r.get(0)).map_err(&err)?;
            if !unsettled {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Records a file as the echo of `original` (see [`Ledger::settled_original`]): every one of
    /// its rows is `already_posted`, and none is copied.
    pub fn stage_echo(&mut self, file_id: i64, original: i64) -> Result<Staged, LedgerError> {
        let rows: i64 = self
            .conn
            .query_row(
                "UPDATE files SET echo_of = ?1, (rows, cents, control_checks) =
                 (SELECT rows, cents, control_checks FROM files WHERE id = ?1)
                 WHERE id = ?2 RETURNING rows",
                params![original, file_id],
                |r| r.get(0),
            )
            .map_err(sql(&self.path))?;
        Ok(Staged {
            already_posted: rows as u64,
            ..Staged::default()
        })
    }

    /// Stores the control totals a file stated, stated vs computed.
    pub fn set_control_checks(
        &mut self,
        file_id: i64,
        checks: &[ControlCheck],
    ) -> Result<(), LedgerError> {
        if checks.is_empty() {
            return Ok(());
        }
        let json: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({"scope": c.scope, "what": c.what, "line": c.line,
                    "stated": c.stated, "computed": c.computed, "matches": c.matches()})
            })
            .collect();
        self.conn
            .execute(
                "UPDATE files SET control_checks = ?1 WHERE id = ?2",
                params![serde_json::Value::Array(json).to_string(), file_id],
            )
            .map_err(sql(&self.path))?;
        Ok(())
    }

    /// Stores what a file's reader skipped as no payment (docs/report.md), for its tie-out.
    pub fn set_not_payments(
        &mut self,
        file_id: i64,
        entries: &[crate::read::NotPayment],
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO not_payments (file_id, line, code, cents, why)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&err)?;
            for e in entries {
                insert
                    .execute(params![
                        file_id,
                        e.line as i64,
                        e.code,
                        e.cents.map(|c| c.0),
                        e.why
                    ])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// Marks a file refused: none of its rows are staged.
    pub fn refuse_file(&mut self, file_id: i64, message: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE files SET status = 'refused', message = ?1, rows = 0 WHERE id = ?2",
                params![message, file_id],
            )
            .map_err(sql(&self.path))?;
        Ok(())
    }

    /// Display ids queued for a run whose loan id is not known yet.
    pub fn unresolved_display_ids(&self, run: RunId) -> Result<Vec<String>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT loan FROM rows WHERE sent_by_run = ?1 AND status = ?2
                 AND loan_id IS NULL ORDER BY loan",
            )
            .map_err(&err)?;
        stmt.query_map(params![run, Status::Pending], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(&err)
    }

    /// A display id resolved earlier, if any.
    pub fn cached_loan_id(&self, display_id: &str) -> Result<Option<i64>, LedgerError> {
        self.conn
            .query_row(
                "SELECT loan_id FROM loan_ids WHERE display_id = ?1",
                [display_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(&self.path))
    }

    /// Records what a display id resolved to for a run's queued rows: a loan id (cached), or
    /// `Err(message)` with the status its rows take instead. The rows are those
    /// [`Ledger::unresolved_display_ids`] named: none left to change is an error.
    pub fn resolve_display_id(
        &mut self,
        run: RunId,
        display_id: &str,
        result: Result<i64, (Status, String)>,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let t = now();
        match &result {
            Ok(loan_id) => {
                self.conn
                    .execute(
                        "INSERT OR REPLACE INTO loan_ids (display_id, loan_id, resolved_at) VALUES (?1, ?2, ?3)",
                        params![display_id, loan_id, t],
                    )
                    .map_err(&err)?;
                self.conn
                    .execute(
                        "UPDATE rows SET loan_id = ?1
                         WHERE sent_by_run = ?2 AND status = ?3 AND loan = ?4 AND loan_id IS NULL",
                        params![loan_id, run, Status::Pending, display_id],
                    )
                    .map_err(&err)?;
                if self.hold_duplicates {
                    // Staging could not look for a posted twin without the loan id (docs/states.md).
                    let twin = "FROM rows p WHERE p.loan_id = r.loan_id
                        AND p.amount_cents = r.amount_cents AND p.date = r.date
                        AND p.status = 'posted' AND p.kind = 'payment' AND p.key <> r.key";
                    self.conn
                        .execute(
                            &format!(
                                "UPDATE rows AS r SET status = ?1, updated_at = ?2, sent_by_run = NULL,
                                 message = 'held as a possible duplicate of ' ||
                                   (SELECT p.file || ':' || p.line || ' (key ' || p.key || ', posted by run '
                                    || p.run_id || ')' {twin} LIMIT 1) ||
                                   ': the same loan, amount and date under another key; not sent: `payimport release '
                                   || r.key || '` sends it if these are two payments'
                                 WHERE r.sent_by_run = ?3 AND r.loan = ?4 AND r.kind = 'payment'
                                   AND r.{} AND EXISTS (SELECT 1 {twin})",
                                Step::Resolve.guard_to(Status::Held)
                            ),
                            params![Status::Held, t, run, display_id],
                        )
                        .map_err(&err)?;
                }
            }
            Err((status, message)) => {
                let from = Step::Resolve.sources(*status);
                let changed = if from.is_empty() {
                    0
                } else {
                    self.conn
                        .execute(
                            // A rejected row no longer speaks for its key: a corrected file may
                            // bring it again.
                            &format!(
                                "UPDATE rows SET status = ?1, message = ?2, updated_at = ?3,
                                 live = CASE WHEN ?1 = ?6 THEN 0 ELSE live END
                                 WHERE sent_by_run = ?4 AND {} AND loan = ?5 AND loan_id IS NULL",
                                Step::Resolve.guard_to(*status)
                            ),
                            params![status, message, t, run, display_id, Status::Rejected],
                        )
                        .map_err(&err)?
                };
                if changed == 0 {
                    return Err(LedgerError::UnexpectedState {
                        path: self.path.clone(),
                        row: format!("display id {display_id:?} of run {run}"),
                        found: "not queued with an unknown loan id".into(),
                        wanted: names(&from),
                        to: *status,
                    });
                }
            }
        }
        Ok(())
    }

    /// Stages the rows of one file in one transaction: all of it, or (on a file error from the
    /// iterator) none of it.
    pub fn stage_file<E>(
        &mut self,
        run: RunId,
        file_id: i64,
        rows: impl Iterator<Item = Result<NewRow, E>>,
    ) -> Result<Result<Staged, E>, LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let mut staged = Staged::default();
        let (mut first_row, mut last_row, mut cents) = (None, None, Cents::ZERO);
        let t = now();
        let taken_over = Step::TakeOver.from_states();
        {
            let mut find_live = tx
                .prepare_cached(
                    "SELECT id, run_id, status, file, line, loanpro_payment_id
                     FROM rows WHERE key = ?1 AND live = 1",
                )
                .map_err(&err)?;
            // A row taken over stops speaking for its key; one still queued is no longer sent.
            let mut retire = tx
                .prepare_cached(&format!(
                    "UPDATE rows SET live = 0,
                     message = CASE WHEN status = ?3 THEN ?2 ELSE message END,
                     sent_by_run = CASE WHEN status = ?3 THEN NULL ELSE sent_by_run END,
                     status = {}
                     WHERE id = ?1 AND live = 1 AND {}",
                    Step::TakeOver.case(),
                    Step::TakeOver.guard()
                ))
                .map_err(&err)?;
            // One seek in rows_posted_by_loan per payment staged (docs/states.md (a)).
            let mut posted_twin = tx
                .prepare_cached(
                    "SELECT key, run_id, file, line FROM rows
                     WHERE loan_id = ?1 AND amount_cents = ?2 AND date = ?3 AND status = 'posted'
                       AND kind = 'payment' AND key <> ?4 LIMIT 1",
                )
                .map_err(&err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO rows (run_id, file, line, key, live, status, loan, loan_id,
                     amount_cents, amount_as_given, date, reference, payment_method_id,
                     payment_type_id, extra, info, message, loanpro_payment_id, updated_at,
                     sent_by_run, file_id, kind, original_key, return_code, original_reference,
                     reverse_reason, trace_reference)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                             ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
                )
                .map_err(&err)?;
            for row in rows {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)), // dropping `tx` rolls the file back
                };
                let key = row.key.to_string();
                let (live, status, message, payment_id): (
                    bool,
                    Status,
                    Option<String>,
                    Option<i64>,
                ) = if let Some(reason) = &row.rejection {
                    staged.rejected += 1;
                    (false, Status::Rejected, Some(reason.clone()), None)
                } else {
                    let earlier = find_live
                        .query_row([&key], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, Status>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, i64>(4)?,
                                r.get::<_, Option<i64>>(5)?,
                            ))
                        })
                        .optional()
                        .map_err(&err)?;
                    match earlier {
                        None => {
                            staged.pending += 1;
                            (true, Status::Pending, None, None)
                        }
                        // A payment reversed since was posted all the same: not sent again; nor
                        // one a person settled by hand or had corrected (docs/states.md). A live
                        // `already_posted` row was found in LoanPro, or (a return) was settled by
                        // another that named its original.
                        Some((
                            _,
                            r,
                            Status::Posted
                            | Status::Reversed
                            | Status::AlreadyPosted
                            | Status::Amended
                            | Status::Dismissed,
                            f,
                            l,
                            pid,
                        )) => {
                            staged.already_posted += 1;
                            (
                                false,
                                Status::AlreadyPosted,
                                Some(format!("posted by run {r} ({f}:{l})")),
                                pid,
                            )
                        }
                        Some((_, r, _, f, l, _)) if r == run => {
                            staged.rejected += 1;
                            (
                                false,
                                Status::Rejected,
                                Some(format!(
                                    "the same payment (loan, amount, date, reference) as {f}:{l} in this run; not sent twice"
                                )),
                                None,
                            )
                        }
                        Some((id, _, st, _, _, _)) if taken_over.contains(&st) => {
                            // This file brings the payment again: it takes over.
                            let changed = retire
                                .execute(params![
                                    id,
                                    format!("taken over by run {run}"),
                                    Status::Pending
                                ])
                                .map_err(&err)?;
                            if changed != 1 {
                                return Err(Ledger::unexpected_row(
                                    &tx,
                                    &self.path,
                                    id,
                                    &taken_over,
                                    Status::Unsent,
                                ));
                            }
                            staged.pending += 1;
                            (true, Status::Pending, None, None)
                        }
                        Some((_, r, _, f, l, _)) => {
                            staged.unknown += 1;
                            (
                                false,
                                Status::Unknown,
                                Some(format!(
                                    "an earlier attempt (run {r}, {f}:{l}) may have been logged; it must be reconciled before this payment is sent"
                                )),
                                None,
                            )
                        }
                    }
                };
                // A payment about to be sent that may be a duplicate is held instead.
                let (status, message) = match (status, self.hold_duplicates) {
                    (Status::Pending, true) if row.ret.is_none() => {
                        let repeats = match row.repeat_of {
                            Some(first) => Some(
                                find_live
                                    .query_row([first.to_string()], |r| {
                                        Ok(format!(
                                            "{}:{}",
                                            r.get::<_, String>(3)?,
                                            r.get::<_, i64>(4)?
                                        ))
                                    })
                                    .optional()
                                    .map_err(&err)?
                                    .map_or_else(
                                        || format!("the row with key {first} of this file"),
                                        |at| format!("{at} (key {first})"),
                                    ),
                            ),
                            None => None,
                        };
                        let twin = match (&repeats, row.loan_id, row.amount_cents) {
                            (None, Some(loan_id), Some(cents)) => posted_twin
                                .query_row(params![loan_id as i64, cents, row.date, key], |r| {
                                    Ok((
                                        r.get::<_, String>(0)?,
                                        r.get::<_, i64>(1)?,
                                        r.get::<_, String>(2)?,
                                        r.get::<_, i64>(3)?,
                                    ))
                                })
                                .optional()
                                .map_err(&err)?,
                            _ => None,
                        };
                        match (repeats, twin) {
                            (Some(at), _) => {
                                staged.pending -= 1;
                                staged.held += 1;
                                (
                                    Status::Held,
                                    Some(format!(
                                        "held as a possible duplicate: the same loan, amount, date and reference as {at}; not sent: `payimport release {key}` sends it if the bank sent two payments"
                                    )),
                                )
                            }
                            (None, Some((k, r, f, l))) => {
                                staged.pending -= 1;
                                staged.held += 1;
                                (
                                    Status::Held,
                                    Some(format!(
                                        "held as a possible duplicate of {f}:{l} (key {k}, posted by run {r}): the same loan, amount and date under another key; not sent: `payimport release {key}` sends it if these are two payments"
                                    )),
                                )
                            }
                            (None, None) => (status, message),
                        }
                    }
                    _ => (status, message),
                };
                debug_assert!(STAGED.contains(&status), "{status} is never staged");
                // One form of an amount: cents when it is valid, else the text as given.
                let as_given = row.amount_cents.is_none().then_some(&row.amount);
                insert
                    .execute(params![
                        run,
                        &*row.file,
                        row.line as i64,
                        key,
                        live,
                        status,
                        row.loan,
                        row.loan_id.map(|v| v as i64),
                        row.amount_cents,
                        as_given,
                        row.date,
                        row.reference,
                        row.payment_method_id,
                        row.payment_type_id,
                        row.extra,
                        row.info,
                        message,
                        payment_id,
                        t,
                        (status == Status::Pending).then_some(run),
                        file_id,
                        if row.ret.is_some() {
                            "return"
                        } else {
                            "payment"
                        },
                        row.ret.as_ref().and_then(|r| r.original_key.as_deref()),
                        row.ret.as_ref().map(|r| r.code.as_str()),
                        row.ret.as_ref().map(|r| r.original_reference.as_str()),
                        row.ret.as_ref().and_then(|r| r.reverse_reason.as_deref()),
                        row.ret.as_ref().is_some_and(|r| r.trace_reference),
                    ])
                    .map_err(&err)?;
                last_row = Some(tx.last_insert_rowid());
                first_row = first_row.or(last_row);
                cents = cents.saturating_add(row.amount_cents.unwrap_or_default());
            }
            tx.execute(
                "UPDATE files SET rows = ?1, first_row = ?2, last_row = ?3, cents = ?4 WHERE id = ?5",
                params![
                    (staged.pending
                        + staged.rejected
                        + staged.already_posted
                        + staged.unknown
                        + staged.held) as i64,
                    first_row,
                    last_row,
                    cents,
                    file_id
                ],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(Ok(staged))
    }
}
