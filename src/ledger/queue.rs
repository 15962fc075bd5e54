//! The ledger as the queue: rows claimed for sending, their results recorded, uncertain rows
//! read back, failed ones queued again, and what a crashed or stopped run left behind.
//!
//! Every change of a row's state here is a [`Step`] of the state machine (`status.rs`): its
//! `UPDATE` names the states the step moves rows from, and one that changes a given row checks
//! that it did, so a row in an unexpected state is an error, never overwritten.

use rusqlite::{CachedStatement, OptionalExtension, Transaction, params};

use super::status::{Step, open_condition};
use super::{Ledger, LedgerError, RunId, Status, now, sql};
use crate::money::Cents;
use crate::payment::Key;

/// What a row asks of LoanPro: a payment logged, or (a return) a logged payment reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Payment,
    Return,
}

impl Kind {
    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Payment => "payment",
            Kind::Return => "return",
        }
    }
}

/// A row taken for sending: its identity and what its request needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub loan_id: i64,
    pub request: Claim,
}

/// What a claimed row sends.
#[derive(Debug, Clone)]
pub enum Claim {
    /// `PUT Loans(id)` with this payment.
    Payment(ClaimedPayment),
    /// `POST Loans(id)/VoidPayment(pid)` of the payment this return matched.
    Reversal(super::returns::Reversal),
}

/// A payment row as its request needs it.
#[derive(Debug, Clone)]
pub struct ClaimedPayment {
    pub amount: Cents,
    pub date: String,
    pub info: String,
    pub payment_method_id: u32,
    pub payment_type_id: u32,
    pub extra: String,
}

/// What became of a claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: i64,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: Option<String>,
    pub loanpro_payment_id: Option<u64>,
    /// When the last request for it left, if one did.
    pub sent_at: Option<String>,
    /// A return's original payment row: once the return is `posted`, that row is `reversed`.
    pub reverses: Option<i64>,
}

/// A live row whose payment may or may not be in LoanPro.
#[derive(Debug, Clone)]
pub struct Uncertain {
    pub id: i64,
    pub key: Key,
    pub loan_id: i64,
    pub attempts: u32,
    /// When its last request left; the read-back waits `settle_secs` after it.
    pub sent_at: Option<String>,
    /// A return's original payment row and its key: what is read back is whether that payment
    /// is reversed, not whether this row's key is in LoanPro.
    pub original: Option<(i64, Key)>,
}

/// What a read-back found out about an uncertain row.
#[derive(Debug, Clone)]
pub enum Reconciled {
    /// Its key is in LoanPro: it was logged.
    Found { payment_id: Option<u64> },
    /// A return's original payment reads back reversed: the reversal was logged, and the
    /// original row becomes `reversed`.
    Reversed {
        payment_id: Option<u64>,
        original_row: i64,
    },
    /// Not in LoanPro: queue it again for this run.
    Resend { run: RunId },
    /// Not in LoanPro and out of attempts: certainly not logged.
    GiveUp { message: String },
    /// The read-back itself failed: it stays `unknown`, nothing is sent.
    ReadFailed { message: String },
}

/// A row `payimport retry` was asked about, or may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryCandidate {
    pub id: i64,
    pub key: String,
    pub status: Status,
    /// Whether it speaks for its key; a row taken over by a later one is history.
    pub live: bool,
    /// An `unmatched` return that had candidates: never matched again by elimination
    /// (docs/returns.md rule 4).
    pub ambiguous: bool,
}

/// Prepares (once per transaction and target) the `UPDATE` of `step` that moves one row to
/// `to`, guarded by the states `step` moves rows from to `to`.
fn step_statement<'t>(
    tx: &'t Transaction<'_>,
    cache: &mut Vec<(Status, CachedStatement<'t>)>,
    sql_of: impl Fn(&str) -> String,
    step: Step,
    to: Status,
) -> rusqlite::Result<usize> {
    if let Some(i) = cache.iter().position(|(s, _)| *s == to) {
        return Ok(i);
    }
    cache.push((to, tx.prepare_cached(&sql_of(&step.guard_to(to)))?));
    Ok(cache.len() - 1)
}

impl Ledger {
    /// After a crash or kill: rows caught `sending` may or may not have reached LoanPro, so they
    /// become `unknown`; rows still `pending` never left, so they become `unsent`. Returns both
    /// counts. Only called under the lock, so no other run can be sending right now.
    ///
    /// A recovered row's `sent_at` becomes now: it held the time its batch was claimed, but its
    /// request may have left up to a batch later, until the moment the process died, and the
    /// settle wait before reading it back must count from the latest time it could have left.
    pub fn recover_interrupted(&mut self) -> Result<(usize, usize), LedgerError> {
        let err = sql(&self.path);
        let t = now();
        // Bulk changes: the guard is the condition; any number of rows may match.
        let unknown = self
            .conn
            .execute(
                &format!(
                    "UPDATE rows SET status = ?2, updated_at = ?1, sent_at = ?1,
                     message = 'the run stopped while this payment was being sent: it may or may not have been logged'
                     WHERE {} AND {}",
                    Step::Recover.guard_to(Status::Unknown),
                    // rows_open's own condition, so that its index finds them.
                    open_condition()
                ),
                params![t, Status::Unknown],
            )
            .map_err(&err)?;
        let unsent = self
            .conn
            .execute(
                // Every pending row is queued for a run (sent_by_run), so rows_queue finds
                // them run by run; the status alone would read the whole table.
                &format!(
                    "UPDATE rows SET status = ?2, updated_at = ?1,
                     message = 'the run stopped before this payment was sent'
                     WHERE sent_by_run IN (SELECT id FROM runs) AND {}",
                    Step::Stop.guard_to(Status::Unsent)
                ),
                params![t, Status::Unsent],
            )
            .map_err(&err)?;
        Ok((unknown, unsent))
    }

    /// Closes a run's rows that were never sent because it stopped early.
    pub fn unsend_pending(&mut self, run: RunId, message: &str) -> Result<usize, LedgerError> {
        self.conn
            .execute(
                &format!(
                    "UPDATE rows SET status = ?4, message = ?1, updated_at = ?2
                     WHERE sent_by_run = ?3 AND {}",
                    Step::Stop.guard_to(Status::Unsent)
                ),
                params![message, now(), run, Status::Unsent],
            )
            .map_err(sql(&self.path))
    }

    /// Takes up to `n` rows of `kind` queued for a run for sending: one transaction marks them
    /// all `sending`, durably, before any of their requests leave. A return is taken only once
    /// it is matched to the payment it reverses.
    pub fn claim(&mut self, run: RunId, n: usize, kind: Kind) -> Result<Vec<Claimed>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "UPDATE rows SET status = ?4, updated_at = ?3, sent_at = ?3
                 WHERE id IN (SELECT id FROM rows WHERE sent_by_run = ?1 AND {} AND kind = ?5
                              AND (kind = 'payment' OR original_row IS NOT NULL)
                              ORDER BY id LIMIT ?2)
                 RETURNING id, key, loan_id, amount_cents, date, COALESCE(info, ''),
                     payment_method_id, payment_type_id, extra,
                     original_row, original_key, reverse_reason, return_code",
                Step::Claim.guard_to(Status::Sending)
            ))
            .map_err(&err)?;
        let params = params![run, n as i64, now(), Status::Sending, kind.as_str()];
        let mut rows = stmt
            .query_map(params, |r| {
                let request = match kind {
                    Kind::Payment => Claim::Payment(ClaimedPayment {
                        amount: r.get(3)?,
                        date: r.get(4)?,
                        info: r.get(5)?,
                        payment_method_id: r.get(6)?,
                        payment_type_id: r.get(7)?,
                        extra: r.get(8)?,
                    }),
                    Kind::Return => Claim::Reversal(super::returns::Reversal {
                        original_row: r.get(9)?,
                        original_key: r.get(10)?,
                        reverse_reason: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                        // A return's info holds the comments its reversal carries.
                        comments: r.get(5)?,
                        return_code: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    }),
                };
                Ok(Claimed {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    loan_id: r.get(2)?,
                    request,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&err)?;
        rows.sort_by_key(|c| c.id);
        Ok(rows)
    }

    /// Records a group of results in one transaction. Each row must be `sending` (claimed, not
    /// recorded yet), and each result a state an answer leads to; otherwise nothing is recorded.
    pub fn record(&mut self, outcomes: &[Outcome]) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmts = Vec::new();
            let t = now();
            for o in outcomes {
                let i = step_statement(
                    &tx,
                    &mut stmts,
                    |guard| {
                        format!(
                            "UPDATE rows SET status = ?2, attempts = attempts + ?3, http_status = ?4,
                             message = ?5, loanpro_payment_id = COALESCE(?6, loanpro_payment_id),
                             updated_at = ?7, sent_at = COALESCE(?8, sent_at)
                             WHERE id = ?1 AND {guard}"
                        )
                    },
                    Step::Answer,
                    o.status,
                )
                .map_err(&err)?;
                let changed = stmts[i]
                    .1
                    .execute(params![
                        o.id,
                        o.status,
                        o.attempts,
                        o.http_status,
                        o.message,
                        o.loanpro_payment_id.map(|v| v as i64),
                        t,
                        o.sent_at
                    ])
                    .map_err(&err)?;
                if changed != 1 {
                    let from = Step::Answer.sources(o.status);
                    return Err(Ledger::unexpected_row(
                        &tx, &self.path, o.id, &from, o.status,
                    ));
                }
                if let (Status::Posted, Some(original)) = (o.status, o.reverses) {
                    Ledger::reverse_original(&tx, &self.path, o.id, original)?;
                }
            }
        }
        tx.commit().map_err(&err)
    }

    /// Live rows a `retry` may take (those it queues again, or reads back first), of one run or
    /// of all; or the rows (live or not) with the given keys, whatever their state, so `retry`
    /// can say why not.
    pub fn retry_candidates(
        &self,
        run: Option<RunId>,
        keys: &[String],
    ) -> Result<Vec<RetryCandidate>, LedgerError> {
        let err = sql(&self.path);
        let map = |r: &rusqlite::Row| {
            Ok(RetryCandidate {
                id: r.get(0)?,
                key: r.get(1)?,
                status: r.get(2)?,
                live: r.get(3)?,
                ambiguous: r.get(4)?,
            })
        };
        if keys.is_empty() {
            // Queued again by `retry`, or read back (and so sent again) at its start.
            let retried = super::status::in_states(
                Step::Retry
                    .from_states()
                    .into_iter()
                    .chain(Step::ReadBack.sources(Status::Pending)),
            );
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    // INDEXED BY: the planner would otherwise walk the live-key index, a
                    // read of every payment ever posted.
                    "SELECT id, key, status, live, COALESCE(match_candidates, 0) > 0
                     FROM rows INDEXED BY rows_open WHERE {}
                     AND live = 1 AND {retried}
                     AND (?1 IS NULL OR run_id = ?1) ORDER BY id",
                    open_condition()
                ))
                .map_err(&err)?;
            stmt.query_map([run], map)
                .and_then(|r| r.collect())
                .map_err(&err)
        } else {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, key, status, live, COALESCE(match_candidates, 0) > 0
                     FROM rows WHERE key = ?1 AND (?2 IS NULL OR run_id = ?2)
                     ORDER BY live DESC, id DESC LIMIT 1",
                )
                .map_err(&err)?;
            keys.iter()
                .filter_map(|k| stmt.query_row(params![k, run], map).optional().transpose())
                .collect::<Result<_, _>>()
                .map_err(&err)
        }
    }

    /// Queues rows for `run` to send again, with a fresh count of attempts. Each must be live
    /// and in a state `retry` queues from; otherwise none is queued.
    pub fn queue_for_retry(&mut self, run: RunId, ids: &[i64]) -> Result<(), LedgerError> {
        self.requeue(
            run,
            ids,
            Step::Retry,
            "queued again by `payimport retry`",
            None,
        )
    }

    /// Queues held rows for `run` to send: a person released them (`payimport release`,
    /// docs/states.md). Each must be live and `held`; otherwise none is queued.
    /// Queues held rows a person released, each with its record in `resolutions` (docs/states.md).
    pub fn queue_released(
        &mut self,
        run: RunId,
        ids: &[i64],
        who: &super::Resolver,
    ) -> Result<(), LedgerError> {
        let note = format!(
            "released by {} with `payimport release` at {}",
            who.by,
            now()
        );
        self.requeue(run, ids, Step::Release, &note, Some(("release", who)))
    }

    fn requeue(
        &mut self,
        run: RunId,
        ids: &[i64],
        step: Step,
        message: &str,
        audit: Option<(&str, &super::Resolver)>,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "UPDATE rows SET status = ?4, sent_by_run = ?2, attempts = 0,
                     message = ?5, updated_at = ?3
                     WHERE id = ?1 AND live = 1 AND {}",
                    step.guard_to(Status::Pending)
                ))
                .map_err(&err)?;
            let t = now();
            for &id in ids {
                let changed = stmt
                    .execute(params![id, run, t, Status::Pending, message])
                    .map_err(&err)?;
                if changed != 1 {
                    let from = step.sources(Status::Pending);
                    return Err(Ledger::unexpected_row(
                        &tx,
                        &self.path,
                        id,
                        &from,
                        Status::Pending,
                    ));
                }
                if let Some((action, who)) = audit {
                    super::resolve::record_by_id(&tx, run, id, action, who, &t).map_err(&err)?;
                }
            }
        }
        tx.commit().map_err(&err)
    }

    /// How many rows are queued for a run to send.
    pub fn queued(&self, run: RunId) -> Result<u64, LedgerError> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM rows WHERE sent_by_run = ?1 AND status = ?2")
            .and_then(|mut s| s.query_row(params![run, Status::Pending], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(sql(&self.path))
    }

    /// Live rows whose outcome is unknown: those a run sent (`Some(run)`), or all of them.
    pub fn uncertain(&self, sent_by: Option<RunId>) -> Result<Vec<Uncertain>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                // INDEXED BY: see retry_candidates.
                "SELECT id, key, loan_id, attempts, sent_at, original_row, original_key
                 FROM rows INDEXED BY rows_open
                 WHERE {} AND {} AND live = 1 AND loan_id IS NOT NULL
                 AND (?1 IS NULL OR sent_by_run = ?1) ORDER BY loan_id, id",
                open_condition(),
                Step::ReadBack.guard()
            ))
            .map_err(&err)?;
        stmt.query_map([sent_by], |r| {
            Ok(Uncertain {
                id: r.get(0)?,
                key: r.get(1)?,
                loan_id: r.get(2)?,
                attempts: r.get(3)?,
                sent_at: r.get(4)?,
                original: match (r.get(5)?, r.get(6)?) {
                    (Some(row), Some(key)) => Some((row, key)),
                    _ => None,
                },
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(&err)
    }

    /// Records what read-backs found, in one transaction. Each row must still be `unknown`;
    /// otherwise nothing is recorded.
    pub fn record_reconciled(&mut self, results: &[(i64, Reconciled)]) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmts = Vec::new();
            let t = now();
            for (id, r) in results {
                let reverses = match r {
                    Reconciled::Reversed { original_row, .. } => Some(*original_row),
                    _ => None,
                };
                let (status, message, payment_id, run) = match r {
                    Reconciled::Reversed { payment_id, .. } => (
                        Status::Posted,
                        Some(
                            "the payment reads back reversed after an uncertain answer: the reversal was logged"
                                .to_string(),
                        ),
                        payment_id.map(|p| p as i64),
                        None,
                    ),
                    Reconciled::Found { payment_id } => (
                        Status::Posted,
                        Some("found in LoanPro by its key after an uncertain answer".to_string()),
                        payment_id.map(|p| p as i64),
                        None,
                    ),
                    Reconciled::Resend { run } => (
                        Status::Pending,
                        Some(
                            "not found in LoanPro after an uncertain answer: sent again"
                                .to_string(),
                        ),
                        None,
                        Some(*run),
                    ),
                    Reconciled::GiveUp { message } => {
                        (Status::Unsent, Some(message.clone()), None, None)
                    }
                    Reconciled::ReadFailed { message } => {
                        (Status::Unknown, Some(message.clone()), None, None)
                    }
                };
                let i = step_statement(
                    &tx,
                    &mut stmts,
                    |guard| {
                        format!(
                            "UPDATE rows SET status = ?2, message = ?3,
                             loanpro_payment_id = COALESCE(?4, loanpro_payment_id),
                             sent_by_run = COALESCE(?5, sent_by_run),
                             reconciled = reconciled + 1, updated_at = ?6
                             WHERE id = ?1 AND {guard}"
                        )
                    },
                    Step::ReadBack,
                    status,
                )
                .map_err(&err)?;
                let changed = stmts[i]
                    .1
                    .execute(params![id, status, message, payment_id, run, t])
                    .map_err(&err)?;
                if changed != 1 {
                    let from = Step::ReadBack.sources(status);
                    return Err(Ledger::unexpected_row(&tx, &self.path, *id, &from, status));
                }
                if let Some(original) = reverses {
                    Ledger::reverse_original(&tx, &self.path, *id, original)?;
                }
            }
        }
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::NewRow;
    use crate::payment::Key;

    fn ledger_with_rows(dir: &std::path::Path, n: u64) -> (Ledger, RunId) {
        let mut ledger = Ledger::open(&dir.join("ledger.sqlite")).unwrap();
        let run = stage(&mut ledger, n, Some(7));
        (ledger, run)
    }

    /// Stages `n` rows of loan "7" (its id known or not) in a new run.
    fn stage(ledger: &mut Ledger, n: u64, loan_id: Option<u64>) -> RunId {
        let run = ledger.begin_run("import", None).unwrap();
        let file = ledger.add_file(run, "bank.csv").unwrap();
        let rows = (0..n).map(|i| {
            Ok::<_, std::convert::Infallible>(NewRow {
                file: "bank.csv".into(),
                line: i + 2,
                key: Key::of_rejected(&["7", &i.to_string()], 0),
                loan: "7".into(),
                loan_id,
                // Distinct amounts: rows of one loan, amount and date under other keys would
                // be held as possible duplicates of a posted one (docs/states.md).
                amount: Cents(100 + i as i64).to_string(),
                amount_cents: Some(Cents(100 + i as i64)),
                date: "2026-11-20".into(),
                reference: format!("r{i}"),
                payment_method_id: Some(4),
                payment_type_id: Some(1),
                extra: Some("payment.extra.tx.principal".into()),
                info: Some("info".into()),
                rejection: None,
                ret: None,
                repeat_of: None,
            })
        });
        ledger.stage_file(run, file, rows).unwrap().unwrap();
        run
    }

    fn outcome(id: i64, status: Status) -> Outcome {
        Outcome {
            id,
            status,
            attempts: 1,
            http_status: Some(200),
            message: None,
            loanpro_payment_id: None,
            sent_at: None,
            reverses: None,
        }
    }

    fn status_of(ledger: &Ledger, id: i64) -> Status {
        ledger
            .conn
            .query_row("SELECT status FROM rows WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_result_for_a_row_not_sending_is_refused_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, run) = ledger_with_rows(dir.path(), 2);
        let claimed = ledger.claim(run, 1, Kind::Payment).unwrap();
        let (sent, queued) = (claimed[0].id, claimed[0].id + 1);
        let e = ledger
            .record(&[
                outcome(sent, Status::Posted),
                outcome(queued, Status::Posted),
            ])
            .unwrap_err();
        let message = e.to_string();
        assert!(
            matches!(&e, LedgerError::UnexpectedState { found, to: Status::Posted, .. } if found == "`pending`"),
            "{message}"
        );
        assert!(
            message.contains(&format!("row {queued} (key ")),
            "{message}"
        );
        assert!(message.contains("only a row in `sending`"), "{message}");
        // The group is one transaction: the first result was not kept either.
        assert_eq!(status_of(&ledger, sent), Status::Sending);

        ledger.record(&[outcome(sent, Status::Posted)]).unwrap();
        // Recorded once; a second answer for it would overwrite a result.
        let e = ledger.record(&[outcome(sent, Status::Failed)]).unwrap_err();
        assert!(e.to_string().contains("is `posted`"), "{e}");
        assert_eq!(status_of(&ledger, sent), Status::Posted);
    }

    #[test]
    fn a_result_no_answer_leads_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, run) = ledger_with_rows(dir.path(), 1);
        let id = ledger.claim(run, 1, Kind::Payment).unwrap()[0].id;
        for to in [Status::Pending, Status::AlreadyPosted, Status::Rejected] {
            let e = ledger.record(&[outcome(id, to)]).unwrap_err();
            assert!(e.to_string().contains("only a row in no state"), "{e}");
        }
        let e = ledger
            .record(&[outcome(id + 9, Status::Posted)])
            .unwrap_err();
        assert!(e.to_string().contains("not in the ledger"), "{e}");
        assert_eq!(status_of(&ledger, id), Status::Sending);
    }

    #[test]
    fn reconciled_and_retried_rows_must_be_where_their_step_starts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, run) = ledger_with_rows(dir.path(), 2);
        let claimed = ledger.claim(run, 2, Kind::Payment).unwrap();
        let (a, b) = (claimed[0].id, claimed[1].id);
        ledger
            .record(&[outcome(a, Status::Unknown), outcome(b, Status::Failed)])
            .unwrap();
        // Only unknown rows are read back.
        let found = Reconciled::Found { payment_id: None };
        assert!(ledger.record_reconciled(&[(b, found.clone())]).is_err());
        ledger.record_reconciled(&[(a, found.clone())]).unwrap();
        assert_eq!(status_of(&ledger, a), Status::Posted);
        assert!(ledger.record_reconciled(&[(a, found)]).is_err());
        // Only failed and unsent rows are queued again; posted stays posted.
        let e = ledger.queue_for_retry(run, &[b, a]).unwrap_err();
        assert!(
            e.to_string()
                .contains("only a row in `unmatched`, `failed`, `unsent`"),
            "{e}"
        );
        assert_eq!(status_of(&ledger, b), Status::Failed);
        ledger.queue_for_retry(run, &[b]).unwrap();
        assert_eq!(status_of(&ledger, b), Status::Pending);
    }

    #[test]
    fn bulk_steps_move_only_the_rows_in_their_states() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, run) = ledger_with_rows(dir.path(), 3);
        let claimed = ledger.claim(run, 2, Kind::Payment).unwrap();
        ledger
            .record(&[outcome(claimed[0].id, Status::Posted)])
            .unwrap();
        // One posted, one sending, one pending: a crash now.
        assert_eq!(ledger.recover_interrupted().unwrap(), (1, 1));
        assert_eq!(status_of(&ledger, claimed[0].id), Status::Posted);
        assert_eq!(status_of(&ledger, claimed[1].id), Status::Unknown);
        assert_eq!(status_of(&ledger, claimed[1].id + 1), Status::Unsent);
        assert_eq!(ledger.recover_interrupted().unwrap(), (0, 0));
        assert_eq!(ledger.unsend_pending(run, "stopped").unwrap(), 0);
    }

    #[test]
    fn a_row_recovered_from_a_killed_run_settles_from_its_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, run) = ledger_with_rows(dir.path(), 1);
        let claimed = ledger.claim(run, 1, Kind::Payment).unwrap();
        // Claimed long ago; its request may have left any time until the process died.
        ledger
            .conn
            .execute(
                "UPDATE rows SET sent_at = '2026-11-20T00:00:00.000Z' WHERE id = ?1",
                [claimed[0].id],
            )
            .unwrap();
        let before = now();
        assert_eq!(ledger.recover_interrupted().unwrap(), (1, 0));
        let uncertain = ledger.uncertain(None).unwrap();
        let sent_at = uncertain[0].sent_at.clone().unwrap();
        assert!(
            sent_at >= before,
            "{sent_at} is before the recovery at {before}"
        );
    }

    #[test]
    fn a_display_id_resolves_the_rows_queued_with_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let run = stage(&mut ledger, 2, None);
        assert_eq!(ledger.unresolved_display_ids(run).unwrap(), ["7"]);
        // No look-up makes a row posted.
        let e = ledger
            .resolve_display_id(run, "7", Err((Status::Posted, "no".into())))
            .unwrap_err();
        assert!(e.to_string().contains("only a row in no state"), "{e}");
        ledger
            .resolve_display_id(run, "7", Err((Status::Rejected, "unidentified".into())))
            .unwrap();
        assert_eq!(status_of(&ledger, 1), Status::Rejected);
        assert_eq!(status_of(&ledger, 2), Status::Rejected);
        // Its rows are no longer queued: resolving it again is a mistake, not a no-op.
        let e = ledger
            .resolve_display_id(run, "7", Err((Status::Unsent, "lookup failed".into())))
            .unwrap_err();
        assert!(e.to_string().contains("display id \"7\" of run 1"), "{e}");
        assert_eq!(status_of(&ledger, 1), Status::Rejected);
    }

    #[test]
    fn a_later_file_takes_over_a_failed_or_queued_row_and_leaves_a_posted_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, first) = ledger_with_rows(dir.path(), 3);
        let claimed = ledger.claim(first, 2, Kind::Payment).unwrap();
        ledger
            .record(&[
                outcome(claimed[0].id, Status::Posted),
                outcome(claimed[1].id, Status::Failed),
            ])
            .unwrap();
        let second = stage(&mut ledger, 3, Some(7));
        let live: Vec<(Status, bool)> = (1..=6)
            .map(|id| {
                ledger
                    .conn
                    .query_row("SELECT status, live FROM rows WHERE id = ?1", [id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .unwrap()
            })
            .collect();
        use Status::*;
        assert_eq!(
            live,
            [
                (Posted, true),
                (Failed, false), // history
                (Unsent, false), // queued, no longer sent
                (AlreadyPosted, false),
                (Pending, true),
                (Pending, true),
            ]
        );
        assert_eq!(ledger.queued(first).unwrap(), 0);
        assert_eq!(ledger.queued(second).unwrap(), 2);
    }
}
