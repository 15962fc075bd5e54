//! One run that talks to LoanPro (`import`, `retry`): the ledger lock, recovery from an
//! interrupted run, reconciliation of earlier uncertain rows, sending, and the summary.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::dispatch::{DispatchConfig, Phase, SendReport, Sending, send_all};
use crate::interrupt::Interrupt;
use crate::ledger::{Ledger, RunId, RunOutcome, Status};
use crate::loanpro::{Client, ClientConfig, ReadError};
use crate::output;
use crate::reconcile::{ReconcileConfig, ReconcileReport, reconcile};
use crate::returns::{CommentValues, Returns};
use crate::settings::{Settings, Token};

/// How many rows needing attention the summary lists.
const ATTENTION_SHOWN: usize = 10;

/// A run in progress.
pub struct Session {
    pub run: RunId,
    ledger: Arc<Mutex<Ledger>>,
    client: Arc<Client>,
    dispatch: DispatchConfig,
    reconcile: ReconcileConfig,
    /// What reconciliation did, at the start and during the run.
    pub reconciled: ReconcileReport,
    /// SIGTERM, SIGINT or SIGHUP: the run stops gracefully (`interrupt`).
    interrupt: Interrupt,
    /// `[returns]`: how returns are matched and what their reversals say.
    returns: Returns,
    /// What matching did with this run's returns, for the summary.
    pub matched: Vec<crate::ledger::Matched>,
    /// A file of this run was refused whole: the run ends `refused`, not `completed`.
    refused_file: bool,
}

impl Session {
    /// Checks the token, takes the ledger's lock, recovers from an interrupted run, starts a run,
    /// and settles every earlier row whose outcome is unknown by reading it back from LoanPro.
    pub async fn start(
        settings: &Settings,
        ledger_path: &std::path::Path,
        token: Option<Token>,
        command: &str,
        source: Option<&str>,
    ) -> anyhow::Result<Session> {
        // First, so that from here on a signal stops the run gracefully instead of killing it.
        let interrupt = Interrupt::install()
            .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM, SIGINT and SIGHUP: {e}"))?;
        // Everything that can stop the run is checked before anything is written.
        let token = match token {
            Some(t) => t,
            None => settings.loanpro.token().map_err(anyhow::Error::msg)?,
        };
        let client = Client::new(ClientConfig {
            base_url: settings.loanpro.base_url.clone(),
            tenant_id: settings.loanpro.tenant_id.clone(),
            token,
            timeout: Duration::from_secs_f64(settings.loanpro.timeout_secs),
            requests_per_second: settings.limits.requests_per_second,
        })
        .map_err(anyhow::Error::msg)?;

        let mut ledger = Ledger::open(ledger_path)?;
        // Before anything of the run is written: another tenant's ledger is left as it is.
        ledger.bind_tenant(
            settings.loanpro.ledger_tenant_id(),
            &settings.loanpro.ledger_base_url(),
            &settings.path,
        )?;
        // Before recovering their rows, which would move the time of their last row.
        let crashed = ledger.end_crashed_runs()?;
        if crashed > 0 {
            tracing::warn!(
                "{crashed} earlier run(s) never ended (killed or crashed): ended as `interrupted`"
            );
        }
        let (unknown, unsent) = ledger.recover_interrupted()?;
        if unknown + unsent > 0 {
            tracing::warn!(
                "an earlier run was interrupted: {unknown} row(s) were being sent (now `unknown`, to be read back), {unsent} were not sent yet (now `unsent`)"
            );
        }
        let run = ledger.begin_run(command, source)?;
        crate::metrics::run_started(run);
        tracing::info!(run, command, "run started");
        let limits = &settings.limits;
        let mut session = Session {
            run,
            ledger: Arc::new(Mutex::new(ledger)),
            client,
            dispatch: DispatchConfig::new(
                limits.concurrency,
                limits.max_attempts,
                limits.requests_per_second,
            ),
            reconcile: ReconcileConfig {
                settle: Duration::from_secs_f64(limits.settle_secs),
                max_attempts: limits.max_attempts,
                concurrency: limits.concurrency,
            },
            reconciled: ReconcileReport::default(),
            interrupt,
            returns: settings.returns.clone(),
            matched: Vec::new(),
            refused_file: false,
        };
        let earlier = session.ledger().uncertain(None)?;
        if !earlier.is_empty() {
            tracing::info!(
                rows = earlier.len(),
                "reading back rows of earlier runs whose outcome is unknown"
            );
            // Read-backs only read: a signal may cut them short, the rows stay `unknown` for
            // the next run, and the run goes on to end as interrupted.
            let read_back = reconcile(
                &session.ledger,
                &session.client,
                earlier,
                run,
                &session.reconcile,
            );
            let report = tokio::select! {
                report = read_back => Some(report?),
                _ = session.interrupt.wait() => None,
            };
            if let Some(report) = report {
                if let Some(reason) = &report.auth_refused {
                    session.ledger().end_run(run, RunOutcome::Stopped)?;
                    anyhow::bail!("{reason}");
                }
                session.reconciled.add(&report);
            }
        }
        Ok(session)
    }

    /// The signal that interrupted the run, if one did: nothing more is staged or sent.
    pub fn interrupted(&self) -> Option<&'static str> {
        self.interrupt.signal()
    }

    /// Notes that a file of this run was refused whole, so the run ends `refused`.
    pub fn file_refused(&mut self) {
        self.refused_file = true;
    }

    /// The ledger, for staging and queries between the sending phases.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger lock")
    }

    /// Sends everything queued for this run (with reconciliation rounds), ends the run and
    /// returns what happened.
    pub async fn send(&mut self) -> anyhow::Result<SendReport> {
        self.resolve_display_ids().await?;
        let queued = self.ledger().queued(self.run)?;
        let bar = output::progress_bar(queued);
        let sending = Sending {
            ledger: &self.ledger,
            run: self.run,
            client: &self.client,
            config: &self.dispatch,
            reconcile: &self.reconcile,
            progress: &bar,
            interrupt: &self.interrupt,
        };
        let mut report = send_all(&sending, Phase::Payments).await?;
        // Returns go once every payment of the run has settled, so that a deposit and its
        // return in one run match (docs/returns.md).
        if report.stopped.is_none() && report.interrupted.is_none() {
            let returns = &self.returns;
            let matched = self.ledger.lock().expect("ledger lock").match_returns(
                self.run,
                returns.match_window_days,
                |r, original_key| {
                    returns.comments.render(&CommentValues {
                        code: &r.return_code,
                        date: &r.date,
                        reference: &r.reference,
                        file: std::path::Path::new(&r.file)
                            .file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or(&r.file),
                        line: r.line,
                        original_key,
                    })
                },
            )?;
            self.matched = matched;
            let reversals = send_all(&sending, Phase::Returns).await?;
            report.stopped = reversals.stopped;
            report.interrupted = reversals.interrupted;
            report.reconciled.add(&reversals.reconciled);
        }
        // Off the screen before the summary (and on an error path, when `bar` is dropped).
        drop(bar);
        self.reconciled.add(&report.reconciled);
        // A signal during staging or the first read-backs stops the run before any sending.
        if report.stopped.is_none() {
            report.interrupted = report.interrupted.or(self.interrupt.signal());
        }
        let outcome = if report.stopped.is_some() {
            RunOutcome::Stopped
        } else if report.interrupted.is_some() {
            RunOutcome::Interrupted
        } else if self.refused_file {
            RunOutcome::Refused
        } else {
            RunOutcome::Completed
        };
        self.ledger().end_run(self.run, outcome)?;
        if let Some(reason) = &report.stopped {
            // One line, with what to do: the workers that met the refusal said nothing.
            let advice = if reason.starts_with(crate::loanpro::CREDENTIALS_REFUSED) {
                format!(": {}", crate::loanpro::CREDENTIALS_ADVICE)
            } else {
                String::new()
            };
            tracing::error!("{reason}; the run stopped{advice}");
        }
        if let Some(signal) = report.interrupted {
            tracing::warn!(
                "the run was interrupted by {signal}: rows not sent are `unsent`; `payimport retry` sends them"
            );
        }
        Ok(report)
    }

    /// Finds the LoanPro loan id of every display id (coupon loan number) queued for this run:
    /// from the ledger's cache, else with one GET each. A number that matches no loan makes its
    /// rows `rejected` as unidentified, so the money can go to suspense.
    async fn resolve_display_ids(&mut self) -> anyhow::Result<()> {
        let display_ids = self.ledger().unresolved_display_ids(self.run)?;
        for display_id in display_ids {
            // Rows left unresolved are closed as `unsent` with the others.
            if self.interrupt.is_set() {
                break;
            }
            let cached = self.ledger().cached_loan_id(&display_id)?;
            let result = match cached {
                Some(id) => Ok(id),
                None => match self
                    .client
                    .loan_by_display_id(&display_id, self.reconcile.max_attempts)
                    .await
                {
                    Ok(Some(id)) => Ok(id),
                    Ok(None) => Err((
                        Status::Rejected,
                        format!(
                            "field `loan` value {display_id:?}: unidentified: no loan in LoanPro has this display id; route the payment to suspense"
                        ),
                    )),
                    Err(ReadError::Failed(m)) => Err((
                        Status::Unsent,
                        format!("could not look up the display id {display_id:?}: {m}"),
                    )),
                    Err(ReadError::AuthRefused(m)) => {
                        self.ledger().end_run(self.run, RunOutcome::Stopped)?;
                        anyhow::bail!("{} ({m})", crate::loanpro::CREDENTIALS_REFUSED)
                    }
                    Err(ReadError::Redirected(reason)) => {
                        self.ledger().end_run(self.run, RunOutcome::Stopped)?;
                        anyhow::bail!("{reason}")
                    }
                },
            };
            self.ledger()
                .resolve_display_id(self.run, &display_id, result)?;
        }
        Ok(())
    }

    /// Prints the end-of-run summary on stdout and returns how many rows need a person.
    pub fn print_summary(&self, title: &str, notes: &[String]) -> anyhow::Result<u64> {
        let ledger = self.ledger();
        let totals = ledger.totals(self.run)?;
        let attention: u64 = totals
            .iter()
            .filter(|t| t.status.needs_attention())
            .map(|t| t.count)
            .sum();
        let returns = ledger.return_totals(self.run)?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "{title}")?;
        if returns.is_empty() {
            output::write_totals(&mut out, &totals)?;
        } else {
            // Returns apart from payments (docs/returns.md): a reversal is no payment.
            let payments = output::minus(&totals, &returns);
            if !payments.is_empty() {
                writeln!(out, "payments:")?;
                output::write_totals(&mut out, &payments)?;
            }
            writeln!(out, "returns:")?;
            output::write_totals(&mut out, &returns)?;
        }
        let r = &self.reconciled;
        if r.rows > 0 {
            writeln!(
                out,
                "reconciled: {} row(s) on {} loan(s) read back from LoanPro: {} found there, {} sent again, {} given up, {} could not be read",
                r.rows, r.loans, r.found, r.resent, r.given_up, r.read_failed
            )?;
        }
        for n in notes {
            writeln!(out, "{n}")?;
        }
        output::write_attention(
            &mut out,
            &ledger.needing_attention(self.run, ATTENTION_SHOWN)?,
            attention,
        )?;
        if attention > 0 || !notes.is_empty() {
            writeln!(
                out,
                "full report: payimport --ledger {} report --run {}",
                ledger.path().display(),
                self.run
            )?;
        }
        out.flush()?;
        Ok(attention)
    }
}
