//! Read-back (docs/states.md): before a row whose outcome is unknown is sent again, the loan's
//! payments are read back from LoanPro and searched for the row's key.
//!
//! A return whose reversal is uncertain is read back the same way, by its original payment's
//! key: that payment inactive means the reversal was logged (docs/returns.md).
//!
//! LoanPro has no idempotency keys and answers 500 both for errors and for requests that timed
//! out after the payment was logged, so this read-back is what makes "never twice" hold.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::ledger::{Ledger, LedgerError, Reconciled, RunId, TIME_FORMAT, Uncertain};
use crate::loanpro::{Client, ReadError};
use crate::payment::key_marker;

/// What a round of read-back did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadBackReport {
    /// Rows read back.
    pub rows: u64,
    /// Loans whose payments were read (one read-back serves every row of a loan).
    pub loans: u64,
    /// Found in LoanPro: now `posted`.
    pub found: u64,
    /// Not found: queued to be sent again.
    pub resent: u64,
    /// Not found and out of attempts: `unsent`.
    pub given_up: u64,
    /// The read-back failed: still `unknown`.
    pub read_failed: u64,
    /// Why the run must stop, found during the read-back: LoanPro refused the credentials,
    /// or `base_url` answered with a redirect.
    pub auth_refused: Option<String>,
}

impl ReadBackReport {
    pub fn add(&mut self, other: &ReadBackReport) {
        self.rows += other.rows;
        self.loans += other.loans;
        self.found += other.found;
        self.resent += other.resent;
        self.given_up += other.given_up;
        self.read_failed += other.read_failed;
        if self.auth_refused.is_none() {
            self.auth_refused.clone_from(&other.auth_refused);
        }
    }
}

/// How read-back behaves.
#[derive(Debug, Clone)]
pub struct ReadBackConfig {
    /// Wait this long after a row's last request before reading it back.
    pub settle: Duration,
    pub max_attempts: u32,
    pub concurrency: usize,
}

/// Reads back the loans of `rows` and records, for each row, whether its key is in LoanPro.
/// Rows not found are queued for `run` to send again.
pub async fn read_back(
    ledger: &Arc<Mutex<Ledger>>,
    client: &Arc<Client>,
    rows: Vec<Uncertain>,
    run: RunId,
    config: &ReadBackConfig,
) -> Result<ReadBackReport, LedgerError> {
    let mut report = ReadBackReport::default();
    if rows.is_empty() {
        return Ok(report);
    }
    settle(&rows, config.settle).await;

    let mut by_loan: BTreeMap<i64, Vec<Uncertain>> = BTreeMap::new();
    for row in rows {
        by_loan.entry(row.loan_id).or_default().push(row);
    }
    report.loans = by_loan.len() as u64;
    tracing::info!(
        loans = by_loan.len(),
        "reading back payments whose outcome is unknown"
    );

    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (loan_id, rows) in by_loan {
        let client = client.clone();
        let permits = permits.clone();
        let max_attempts = config.max_attempts;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let read = client.loan_payments(loan_id, max_attempts).await;
            (rows, read)
        });
    }

    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (rows, read) = done.expect("read-back task");
        for row in rows {
            report.rows += 1;
            let outcome = match &read {
                Ok(payments) => {
                    let searched = row.original.as_ref().map_or(row.key, |(_, k)| *k);
                    let marker = key_marker(searched);
                    let found = payments.iter().find(|p| p.info.contains(&marker));
                    // A return: found means reversed only when its payment reads back inactive.
                    let found = match (&row.original, found) {
                        (Some((original_row, _)), Some(p)) if !p.active => {
                            report.found += 1;
                            results.push((
                                row.id,
                                Reconciled::Reversed {
                                    payment_id: p.id,
                                    original_row: *original_row,
                                },
                            ));
                            continue;
                        }
                        (Some(_), _) => None,
                        (None, found) => found,
                    };
                    match found {
                        Some(p) => {
                            report.found += 1;
                            Reconciled::Found { payment_id: p.id }
                        }
                        None if row.attempts >= config.max_attempts => {
                            report.given_up += 1;
                            Reconciled::GiveUp {
                                message: format!(
                                    "not in LoanPro after {} attempts with uncertain answers; not sent again",
                                    row.attempts
                                ),
                            }
                        }
                        None => {
                            report.resent += 1;
                            Reconciled::Resend { run }
                        }
                    }
                }
                Err(e) => {
                    report.read_failed += 1;
                    let message = match e {
                        ReadError::AuthRefused(m) => {
                            report.auth_refused =
                                Some(format!("{} ({m})", crate::loanpro::CREDENTIALS_REFUSED));
                            format!("could not read the loan's payments back: {m}")
                        }
                        ReadError::Redirected(reason) => {
                            report.auth_refused = Some(reason.clone());
                            format!("could not read the loan's payments back: {reason}")
                        }
                        ReadError::Failed(m) => format!("outcome unknown, and {m}; not sent again"),
                    };
                    Reconciled::ReadFailed { message }
                }
            };
            results.push((row.id, outcome));
        }
    }
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.lock().expect("ledger").record_reconciled(&results))
        .await
        .expect("record task")?;
    tracing::info!(
        found = report.found,
        resent = report.resent,
        given_up = report.given_up,
        read_failed = report.read_failed,
        "reconciled"
    );
    Ok(report)
}

/// Waits until every row's last request is at least `settle` old, so a request LoanPro is
/// still processing is not doubled.
async fn settle(rows: &[Uncertain], settle: Duration) {
    let now = chrono::Utc::now();
    let latest = rows
        .iter()
        .filter_map(|r| r.sent_at.as_deref())
        .filter_map(|t| chrono::NaiveDateTime::parse_from_str(t, TIME_FORMAT).ok())
        .map(|t| t.and_utc())
        .max();
    let Some(latest) = latest else { return };
    let ready = latest + chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
    if let Ok(wait) = (ready - now).to_std() {
        tracing::info!(
            seconds = wait.as_secs_f64(),
            "waiting for LoanPro to settle before reading back (limits.settle_secs)"
        );
        tokio::time::sleep(wait).await;
    }
}
