//! `payimport reconcile` in the ledger (docs/report.md): the payment rows it compares with LoanPro,
//! and each reconciliation with the drift it found (migration 0008), for `report` to show.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, LedgerError, Status, now, sql};
use crate::drift::{Drift, LedgerPayment};

/// A reconciliation as `report` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub since: String,
    pub until: String,
    pub loans: i64,
    pub payments: i64,
    pub drift_count: i64,
    pub outcome: Option<String>,
    pub message: Option<String>,
    /// Its drift, the first of them (see [`Ledger::last_reconciliation`]).
    pub drift: Vec<StoredDrift>,
}

/// One drift as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDrift {
    pub kind: String,
    pub loan_id: i64,
    pub key: Option<String>,
    pub loanpro_payment_id: Option<i64>,
    pub ledger_value: Option<String>,
    pub loanpro_value: Option<String>,
    pub message: String,
}

impl Ledger {
    /// The payment rows payimport posted or reversed on from `since` to `until` (days,
    /// inclusive, by when the ledger recorded it), by loan.
    pub fn posted_between(
        &self,
        since: &str,
        until: &str,
    ) -> Result<BTreeMap<i64, Vec<LedgerPayment>>, LedgerError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT loan_id, key, status, amount_cents, date FROM rows
                 WHERE kind = 'payment' AND live = 1 AND loan_id IS NOT NULL
                   AND (status = 'posted' OR status = 'reversed')
                   AND substr(updated_at, 1, 10) BETWEEN ?1 AND ?2
                 ORDER BY id",
            )
            .map_err(&err)?;
        let mut q = stmt.query(params![since, until]).map_err(&err)?;
        let mut out: BTreeMap<i64, Vec<LedgerPayment>> = BTreeMap::new();
        while let Some(r) = q.next().map_err(&err)? {
            let status: Status = r.get(2).map_err(&err)?;
            out.entry(r.get(0).map_err(&err)?)
                .or_default()
                .push(LedgerPayment {
                    key: r.get(1).map_err(&err)?,
                    status,
                    amount: r
                        .get::<_, Option<crate::money::Cents>>(3)
                        .map_err(&err)?
                        .unwrap_or(crate::money::Cents::ZERO),
                    date: r.get(4).map_err(&err)?,
                });
        }
        Ok(out)
    }

    /// Whether a key is the ledger's (a row that speaks for it, whatever its state).
    pub fn knows_key(&self, key: &str) -> Result<bool, LedgerError> {
        self.conn
            .prepare_cached("SELECT 1 FROM rows WHERE key = ?1 AND live = 1")
            .and_then(|mut s| s.query_row([key], |_| Ok(())).optional())
            .map(|o| o.is_some())
            .map_err(sql(&self.path))
    }

    /// Starts a reconciliation record.
    pub fn begin_reconciliation(&mut self, since: &str, until: &str) -> Result<i64, LedgerError> {
        self.conn
            .query_row(
                "INSERT INTO reconciliations (started_at, since, until) VALUES (?1, ?2, ?3) RETURNING id",
                params![now(), since, until],
                |r| r.get(0),
            )
            .map_err(sql(&self.path))
    }

    /// Ends a reconciliation with what it found; `failed` with why when LoanPro could not be read.
    pub fn finish_reconciliation(
        &mut self,
        id: i64,
        loans: usize,
        payments: usize,
        drift: &[Drift],
        failed: Option<&str>,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO drift (reconciliation_id, kind, loan_id, key, loanpro_payment_id,
                     ledger_value, loanpro_value, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(&err)?;
            for d in drift {
                insert
                    .execute(params![
                        id,
                        d.kind.as_str(),
                        d.loan_id,
                        d.key,
                        d.loanpro_payment_id.map(|i| i as i64),
                        d.ledger_value,
                        d.loanpro_value,
                        d.message
                    ])
                    .map_err(&err)?;
            }
            tx.execute(
                "UPDATE reconciliations SET ended_at = ?2, loans = ?3, payments = ?4, drift = ?5,
                 outcome = ?6, message = ?7 WHERE id = ?1",
                params![
                    id,
                    now(),
                    loans as i64,
                    payments as i64,
                    drift.len() as i64,
                    if failed.is_some() {
                        "failed"
                    } else {
                        "completed"
                    },
                    failed
                ],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// The latest reconciliation and the first `limit` of its drift (none before migration 0008).
    pub fn last_reconciliation(&self, limit: u64) -> Result<Option<Reconciliation>, LedgerError> {
        if !self.has_table("reconciliations")? {
            return Ok(None);
        }
        let err = sql(&self.path);
        let Some(mut rec) = self
            .conn
            .query_row(
                "SELECT id, started_at, ended_at, since, until, loans, payments, drift, outcome, message
                 FROM reconciliations ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(Reconciliation {
                        id: r.get(0)?,
                        started_at: r.get(1)?,
                        ended_at: r.get(2)?,
                        since: r.get(3)?,
                        until: r.get(4)?,
                        loans: r.get(5)?,
                        payments: r.get(6)?,
                        drift_count: r.get(7)?,
                        outcome: r.get(8)?,
                        message: r.get(9)?,
                        drift: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(&err)?
        else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT kind, loan_id, key, loanpro_payment_id, ledger_value, loanpro_value, message
                 FROM drift WHERE reconciliation_id = ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(&err)?;
        rec.drift = stmt
            .query_map(params![rec.id, limit as i64], |r| {
                Ok(StoredDrift {
                    kind: r.get(0)?,
                    loan_id: r.get(1)?,
                    key: r.get(2)?,
                    loanpro_payment_id: r.get(3)?,
                    ledger_value: r.get(4)?,
                    loanpro_value: r.get(5)?,
                    message: r.get(6)?,
                })
            })
            .and_then(|m| m.collect())
            .map_err(&err)?;
        Ok(Some(rec))
    }
}
