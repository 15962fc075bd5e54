//! Rows a person resolves (docs/states.md): dismissed, amended with a corrected copy, an unmatched
//! return given its original; each change in one transaction with its record in `resolutions`
//! (who, when, the note, the run).

use rusqlite::{OptionalExtension, params};

use super::stage::NewRow;
use super::{Ledger, LedgerError, RunId, Status, Step, names, now, sql};
use crate::money::Cents;

/// Who resolved a row, and why: recorded beside it.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// `$USER`, or `--by`.
    pub by: String,
    pub note: Option<String>,
}

impl Resolver {
    /// The row's message after a resolution: `dismissed by alice at T: the note`, so that
    /// the CSV report shows the trail beside the row within docs/report.md's columns.
    fn trail(&self, what: &str, at: &str, with: Option<&str>) -> String {
        let mut m = format!("{what} by {} at {at}", self.by);
        if let Some(w) = with {
            m.push_str(&format!(" with {w}"));
        }
        if let Some(n) = &self.note {
            m.push_str(&format!(": {n}"));
        }
        m
    }
}

/// A row named by its key for a person to resolve: the newest row with that key.
#[derive(Debug, Clone)]
pub struct NamedRow {
    pub id: i64,
    pub key: String,
    pub run_id: RunId,
    pub status: Status,
    pub kind: String,
    pub file: String,
    pub line: u64,
    pub loan: String,
    pub loan_id: Option<i64>,
    pub amount_cents: Option<Cents>,
    pub amount_as_given: Option<String>,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<u32>,
    pub payment_type_id: Option<u32>,
    pub extra: Option<String>,
    /// The source (`[sources.NAME]`) of the run that staged it.
    pub source: Option<String>,
    /// When that run started: the day its dates were checked against.
    pub run_started: String,
}

impl Ledger {
    /// The row a person means by `key`: the one that speaks for it, else the newest.
    pub fn named_row(&self, key: &str) -> Result<Option<NamedRow>, LedgerError> {
        self.conn
            .query_row(
                "SELECT r.id, r.key, r.run_id, r.status, r.kind, r.file, r.line, r.loan, r.loan_id,
                        r.amount_cents, r.amount_as_given, r.date, r.reference,
                        r.payment_method_id, r.payment_type_id, r.extra, u.source, u.started_at
                 FROM rows r JOIN runs u ON u.id = r.run_id
                 WHERE r.key = ?1 ORDER BY r.live DESC, r.id DESC LIMIT 1",
                [key],
                |r| {
                    Ok(NamedRow {
                        id: r.get(0)?,
                        key: r.get(1)?,
                        run_id: r.get(2)?,
                        status: r.get(3)?,
                        kind: r.get(4)?,
                        file: r.get(5)?,
                        line: r.get::<_, i64>(6)? as u64,
                        loan: r.get(7)?,
                        loan_id: r.get(8)?,
                        amount_cents: r.get(9)?,
                        amount_as_given: r.get(10)?,
                        date: r.get(11)?,
                        reference: r.get(12)?,
                        payment_method_id: r.get(13)?,
                        payment_type_id: r.get(14)?,
                        extra: r.get(15)?,
                        source: r.get(16)?,
                        run_started: r.get(17)?,
                    })
                },
            )
            .optional()
            .map_err(sql(&self.path))
    }

    /// Closes a row a person settled elsewhere (`payimport dismiss`): `dismissed`, recorded.
    pub fn dismiss(&mut self, run: RunId, id: i64, who: &Resolver) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let t = now();
        let key: Option<String> = tx
            .query_row(
                &format!(
                    "UPDATE rows SET status = ?2, updated_at = ?3, message = ?4
                     WHERE id = ?1 AND {} RETURNING key",
                    Step::Dismiss.guard_to(Status::Dismissed)
                ),
                params![id, Status::Dismissed, t, who.trail("dismissed", &t, None)],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let key = changed(&tx, &self.path, id, key, Step::Dismiss, Status::Dismissed)?;
        record(&tx, run, id, &key, "dismiss", who, None, &t).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Stages the corrected copy of a payment (`payimport amend`), queued for `run`, linked to
    /// its original by `amends`; the original becomes `amended`. One transaction: the copy is
    /// sent only if the original is no longer open, and the original is closed only with a copy.
    pub fn stage_amend(
        &mut self,
        run: RunId,
        original: i64,
        row: &NewRow,
        who: &Resolver,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let t = now();
        let key: Option<String> = tx
            .query_row(
                &format!(
                    "UPDATE rows SET status = ?2, updated_at = ?3, message = ?4
                     WHERE id = ?1 AND kind = 'payment' AND {} RETURNING key",
                    Step::Amend.guard_to(Status::Amended)
                ),
                params![
                    original,
                    Status::Amended,
                    t,
                    who.trail(
                        "amended",
                        &t,
                        Some(&format!("the corrected copy {}", row.key))
                    )
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let original_key = changed(&tx, &self.path, original, key, Step::Amend, Status::Amended)?;
        // The original keeps speaking for its key (if it did): the same file delivered again
        // finds it `amended` and skips it, never sends it a second time.
        tx.execute(
            "INSERT INTO rows (run_id, file, line, key, live, status, loan, loan_id, amount_cents,
             date, reference, payment_method_id, payment_type_id, extra, info, updated_at,
             sent_by_run, amends)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?1, ?16)",
            params![
                run,
                &*row.file,
                row.line as i64,
                row.key.to_string(),
                Status::Pending,
                row.loan,
                row.loan_id.map(|v| v as i64),
                row.amount_cents,
                row.date,
                row.reference,
                row.payment_method_id,
                row.payment_type_id,
                row.extra,
                row.info,
                t,
                original_key,
            ],
        )
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => LedgerError::UnexpectedState {
                path: self.path.clone(),
                row: format!("the corrected copy {}", row.key),
                found: "in the ledger already".into(),
                wanted: "a new row".into(),
                to: Status::Pending,
            },
            _ => err(e),
        })?;
        record(
            &tx,
            run,
            original,
            &original_key,
            "amend",
            who,
            Some(&row.key.to_string()),
            &t,
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Gives an unmatched return its original (`payimport amend RETURN_KEY --original KEY`) and
    /// queues it for `run`, which matches it by docs/returns.md step 1 and reverses it.
    pub fn amend_return(
        &mut self,
        run: RunId,
        id: i64,
        original_key: &str,
        who: &Resolver,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let t = now();
        let key: Option<String> = tx
            .query_row(
                &format!(
                    "UPDATE rows SET status = ?2, updated_at = ?3, original_key = ?4,
                     original_row = NULL, sent_by_run = ?5, attempts = 0, message = ?6
                     WHERE id = ?1 AND kind = 'return' AND live = 1 AND {} RETURNING key",
                    Step::Amend.guard_to(Status::Pending)
                ),
                params![
                    id,
                    Status::Pending,
                    t,
                    original_key,
                    run,
                    who.trail("amended", &t, Some(&format!("its original {original_key}")))
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let key = changed(&tx, &self.path, id, key, Step::Amend, Status::Pending)?;
        record(&tx, run, id, &key, "amend", who, Some(original_key), &t).map_err(&err)?;
        tx.commit().map_err(&err)
    }
}

/// The key a guarded `UPDATE ... RETURNING key` changed, or the error naming the row's state
/// when the guard let nothing through.
fn changed(
    tx: &rusqlite::Transaction,
    path: &std::path::Path,
    id: i64,
    key: Option<String>,
    step: Step,
    to: Status,
) -> Result<String, LedgerError> {
    key.ok_or_else(|| Ledger::unexpected_row(tx, path, id, &step.sources(to), to))
}

/// The states a step resolves from, for a person's message.
pub fn resolvable(step: Step, to: Status) -> String {
    names(&step.sources(to))
}

#[allow(clippy::too_many_arguments)]
fn record(
    tx: &rusqlite::Transaction,
    run: RunId,
    row_id: i64,
    key: &str,
    action: &str,
    who: &Resolver,
    new_key: Option<&str>,
    at: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO resolutions (run_id, row_id, key, action, by, at, note, new_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![run, row_id, key, action, who.by, at, who.note, new_key],
    )
}

/// [`record`] for a row known by its id only (`payimport release`).
pub(super) fn record_by_id(
    tx: &rusqlite::Transaction,
    run: RunId,
    row_id: i64,
    action: &str,
    who: &Resolver,
    at: &str,
) -> rusqlite::Result<usize> {
    let key: String = tx.query_row("SELECT key FROM rows WHERE id = ?1", [row_id], |r| r.get(0))?;
    record(tx, run, row_id, &key, action, who, None, at)
}

/// A rejected row still waiting for a correction, for the corrections file.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub file: String,
    pub line: u64,
    pub key: String,
    /// The source (`[sources.NAME]`) of the run that staged it.
    pub source: Option<String>,
    pub loan: String,
    /// As the file gave it (or two decimals, when it was valid).
    pub amount: String,
    pub date: String,
    pub reference: String,
    pub extra: Option<String>,
    pub message: String,
    pub kind: String,
    pub return_code: Option<String>,
    pub original_reference: Option<String>,
}

impl RejectedRow {
    /// Its fields as the ledger kept them (a file gone since, or changed).
    pub fn fields(&self) -> crate::read::RawFields {
        crate::read::RawFields {
            loan: self.loan.clone(),
            amount: crate::read::RawAmount::Text(self.amount.clone()),
            date: self.date.clone(),
            reference: self.reference.clone(),
            extra: self.extra.clone(),
            ret: (self.kind == "return").then(|| {
                Box::new(crate::read::RawReturn {
                    code: self.return_code.clone().unwrap_or_default(),
                    original_reference: self.original_reference.clone().unwrap_or_default(),
                    ..Default::default()
                })
            }),
            ..Default::default()
        }
    }
}

impl Ledger {
    /// The rows of `run` (or of every run) still `rejected`, in ledger order.
    pub fn rejected_rows(&self, run: Option<RunId>) -> Result<Vec<RejectedRow>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.file, r.line, r.key, u.source, r.loan,
                        r.amount_as_given, r.amount_cents,
                        r.date, r.reference, r.extra, COALESCE(r.message, ''), r.kind,
                        r.return_code, r.original_reference
                 FROM rows r JOIN runs u ON u.id = r.run_id
                 WHERE r.status = ?1 AND (?2 IS NULL OR r.run_id = ?2) ORDER BY r.id",
            )
            .map_err(&err)?;
        stmt.query_map(params![Status::Rejected, run], |r| {
            Ok(RejectedRow {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                key: r.get(2)?,
                source: r.get(3)?,
                loan: r.get(4)?,
                // One form of an amount in the ledger: as given, else (valid) cents.
                amount: match r.get::<_, Option<String>>(5)? {
                    Some(given) => given,
                    None => r
                        .get::<_, Option<Cents>>(6)?
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                },
                date: r.get(7)?,
                reference: r.get(8)?,
                extra: r.get(9)?,
                message: r.get(10)?,
                kind: r.get(11)?,
                return_code: r.get(12)?,
                original_reference: r.get(13)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(&err)
    }
}
