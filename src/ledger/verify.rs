//! A new or lost ledger checks LoanPro first (docs/states.md): whether a run must read its loans'
//! payments before sending, which loans, and the rows whose keys LoanPro already holds.

use rusqlite::params;

use super::status::Step;
use super::{Ledger, LedgerError, RunId, Status, now, sql};

impl Ledger {
    /// Whether this ledger has never posted a payment (for its tenant: a ledger has one) while
    /// `run` queues payments dated before `today`: a new ledger, or one lost and started again,
    /// whose rows LoanPro may hold from the night before.
    pub fn looks_new(&self, run: RunId, today: &str) -> Result<bool, LedgerError> {
        self.conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM rows WHERE status = 'posted')
                    AND NOT EXISTS (SELECT 1 FROM rows WHERE status = 'reversed')
                    AND EXISTS (SELECT 1 FROM rows WHERE sent_by_run = ?1 AND status = 'pending'
                                AND kind = 'payment' AND date < ?2)",
                params![run, today],
                |r| r.get(0),
            )
            .map_err(sql(&self.path))
    }

    /// The loans of the payments queued for `run`, once each.
    pub fn queued_loans(&self, run: RunId) -> Result<Vec<i64>, LedgerError> {
        let err = sql(&self.path);
        self.conn
            .prepare(
                "SELECT DISTINCT loan_id FROM rows WHERE sent_by_run = ?1 AND status = ?2
                 AND kind = 'payment' AND loan_id IS NOT NULL ORDER BY loan_id",
            )
            .and_then(|mut s| {
                s.query_map(params![run, Status::Pending], |r| r.get(0))?
                    .collect()
            })
            .map_err(&err)
    }

    /// Records what LoanPro holds for a loan before `run` sends its payments: a queued row
    /// whose key is in `logged` (the `info` of each of the loan's payments) is
    /// `already_posted`. Returns how many.
    pub fn verified(
        &mut self,
        run: RunId,
        loan_id: i64,
        logged: &[String],
    ) -> Result<u64, LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let mut found = 0;
        {
            let queued: Vec<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, key FROM rows WHERE sent_by_run = ?1 AND status = ?2
                     AND kind = 'payment' AND loan_id = ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![run, Status::Pending, loan_id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .map_err(&err)?;
            let mut settle = tx
                .prepare_cached(&format!(
                    "UPDATE rows SET status = ?2, sent_by_run = NULL, updated_at = ?3,
                     message = 'found in LoanPro: logged before, by a run this ledger does not know (a new or lost ledger); not sent again'
                     WHERE id = ?1 AND {}",
                    Step::Verify.guard_to(Status::AlreadyPosted)
                ))
                .map_err(&err)?;
            let t = now();
            for (id, key) in queued {
                let marker = format!("[k:{key}]");
                if logged.iter().any(|info| info.contains(&marker)) {
                    found += settle
                        .execute(params![id, Status::AlreadyPosted, t])
                        .map_err(&err)? as u64;
                }
            }
        }
        tx.commit().map_err(&err)?;
        Ok(found)
    }

    /// A loan whose payments could not be read before sending: its queued payments are not
    /// sent (LoanPro may hold them), but left `unsent` for `payimport retry`.
    pub fn verify_failed(
        &mut self,
        run: RunId,
        loan_id: i64,
        why: &str,
    ) -> Result<usize, LedgerError> {
        self.conn
            .execute(
                &format!(
                    "UPDATE rows SET status = ?1, updated_at = ?2, message = ?3
                     WHERE sent_by_run = ?4 AND kind = 'payment' AND loan_id = ?5 AND {}",
                    Step::Verify.guard_to(Status::Unsent)
                ),
                params![
                    Status::Unsent,
                    now(),
                    format!(
                        "not sent: LoanPro could not be read first to see whether it holds this payment already ({why}); `payimport retry` sends it"
                    ),
                    run,
                    loan_id
                ],
            )
            .map_err(sql(&self.path))
    }
}
