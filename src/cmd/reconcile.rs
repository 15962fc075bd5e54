//! `payimport reconcile`: LoanPro's side (docs/report.md). For every loan the ledger posted or
//! reversed a payment on in the range, read its payments (every page, within the rate limit)
//! and list what differs from the ledger. Nothing is written to LoanPro; the result is stored in
//! the ledger for `report`, and any drift makes the exit status 1.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use crate::cli::Exit;
use crate::drift::{Drift, compare};
use crate::ledger::Ledger;
use crate::loanpro::{Client, ClientConfig, ReadError};
use crate::payment::iso_date;
use crate::settings::{Settings, Token};

/// How far back `reconcile` looks without `--since`.
const DEFAULT_DAYS: u64 = 30;

/// `payimport reconcile`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    /// Payments payimport logged or reversed on or after this day (YYYY-MM-DD, UTC; default 30
    /// days ago)
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// ... and on or before this day (default today)
    #[arg(long, value_name = "DATE")]
    pub until: Option<NaiveDate>,
}

/// `payimport reconcile`, with the token from the environment.
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &ReconcileArgs,
) -> anyhow::Result<Exit> {
    run_with(settings, ledger_path, args, None).await
}

/// `payimport reconcile` with a token given (the demo's), else the environment's.
pub async fn run_with(
    settings: &Settings,
    ledger_path: &Path,
    args: &ReconcileArgs,
    token: Option<Token>,
) -> anyhow::Result<Exit> {
    // The ledger records its times in UTC: the range is in its days.
    let until = args
        .until
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let since = args
        .since
        .unwrap_or_else(|| until - chrono::Days::new(DEFAULT_DAYS));
    if since > until {
        anyhow::bail!("--since {since} is after --until {until}: nothing to compare");
    }
    let (since, until) = (iso_date(since), iso_date(until));
    let lp = &settings.loanpro;
    let token = match token {
        Some(t) => t,
        None => lp.token().map_err(anyhow::Error::msg)?,
    };
    let client = Client::new(ClientConfig {
        base_url: lp.base_url.clone(),
        tenant_id: lp.tenant_id.clone(),
        token,
        timeout: Duration::from_secs_f64(lp.timeout_secs),
        requests_per_second: settings.limits.requests_per_second,
    })
    .map_err(anyhow::Error::msg)?;
    let mut ledger = Ledger::open(ledger_path)?;
    let by_loan = ledger.posted_between(&since, &until)?;
    let payments: usize = by_loan.values().map(Vec::len).sum();
    let id = ledger.begin_reconciliation(&since, &until)?;
    tracing::info!(loans = by_loan.len(), payments, %since, %until, "reconciling with LoanPro");
    let mut drift: Vec<Drift> = Vec::new();
    for (loan_id, rows) in &by_loan {
        let theirs = match client
            .loan_payments(*loan_id, settings.limits.max_attempts)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let why = match e {
                    ReadError::AuthRefused(m) | ReadError::Redirected(m) | ReadError::Failed(m) => {
                        format!("could not read the payments of loan {loan_id}: {m}")
                    }
                };
                ledger.finish_reconciliation(id, by_loan.len(), payments, &drift, Some(&why))?;
                anyhow::bail!(
                    "{why}; nothing was compared past it (reconciliation {id} recorded as failed)"
                );
            }
        };
        let mut known_err = None;
        let found = compare(*loan_id, rows, &theirs, |key| {
            ledger.knows_key(key).unwrap_or_else(|e| {
                known_err = Some(e);
                true
            })
        });
        if let Some(e) = known_err {
            return Err(e.into());
        }
        drift.extend(found);
    }
    ledger.finish_reconciliation(id, by_loan.len(), payments, &drift, None)?;
    println!(
        "payimport reconcile: {} loan(s), {payments} payment(s) logged or reversed {since} to {until}, compared with LoanPro",
        by_loan.len()
    );
    if drift.is_empty() {
        println!("no drift: LoanPro holds every payment as the ledger says");
        return Ok(Exit::Done);
    }
    println!("{} difference(s) (reconciliation {id}):", drift.len());
    for d in &drift {
        println!("  {} {}", d.kind.as_str(), d.message);
        println!("      what to do: {}", d.kind.what_to_do());
    }
    Ok(Exit::Attention)
}
