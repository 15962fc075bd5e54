//! One run that talks to LoanPro (`import`, `retry`): the ledger lock, recovery from an
//! interrupted run, reconciliation of earlier uncertain rows, sending, and the summary.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::dispatch::{DispatchConfig, SendReport, Sending, send_all};
use crate::interrupt::Interrupt;
use crate::ledger::{Kind, Ledger, RunId, RunOutcome, Status};
use crate::loanpro::{Client, ClientConfig, ReadError};
use crate::metrics::Meter;
use crate::output;
use crate::readback::{ReadBackConfig, ReadBackReport, read_back};
use crate::returns::{CommentValues, Returns};
use crate::settings::{Settings, Token, Verify};

/// How many rows needing attention the summary lists.
const ATTENTION_SHOWN: usize = 10;

/// A run in progress.
pub struct Session {
    pub run: RunId,
    ledger: Arc<Mutex<Ledger>>,
    client: Arc<Client>,
    dispatch: DispatchConfig,
    read_back: ReadBackConfig,
    /// What reconciliation did, at the start and during the run.
    pub reconciled: ReadBackReport,
    /// SIGTERM, SIGINT or SIGHUP: the run stops gracefully (`interrupt`).
    interrupt: Interrupt,
    /// `[returns]`: how returns are matched and what their reversals say.
    returns: Returns,
    /// `[ledger] verify` and the run's date, when this run may have to read LoanPro before
    /// sending (docs/states.md): set by `import`.
    verify: Option<(Verify, String)>,
    /// What that read found, for the summary: loans read, rows found there, loans unread.
    verified: Option<(u64, u64, u64)>,
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
        meter: &Meter,
    ) -> anyhow::Result<Session> {
        // First, so that from here on a signal stops the run gracefully instead of killing it.
        let interrupt = Interrupt::install()
            .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM, SIGINT and SIGHUP: {e}"))?;
        // Everything that can stop the run is checked before anything is written.
        let token = match token {
            Some(t) => t,
            None => settings.loanpro.token().map_err(anyhow::Error::msg)?,
        };
        let client = Client::counted(
            ClientConfig {
                base_url: settings.loanpro.base_url.clone(),
                tenant_id: settings.loanpro.tenant_id.clone(),
                token,
                timeout: Duration::from_secs_f64(settings.loanpro.timeout_secs),
                requests_per_second: settings.limits.requests_per_second,
            },
            meter.requests.clone(),
        )
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
        meter.run_started(run);
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
            read_back: ReadBackConfig {
                settle: Duration::from_secs_f64(limits.settle_secs),
                max_attempts: limits.max_attempts,
                concurrency: limits.concurrency,
            },
            reconciled: ReadBackReport::default(),
            interrupt,
            returns: settings.returns.clone(),
            verify: None,
            verified: None,
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
            let reading = read_back(
                &session.ledger,
                &session.client,
                earlier,
                run,
                &session.read_back,
            );
            let report = tokio::select! {
                report = reading => Some(report?),
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
        self.verify_first().await?;
        let queued = self.ledger().queued(self.run)?;
        let bar = output::progress_bar(queued);
        let sending = Sending {
            ledger: &self.ledger,
            run: self.run,
            client: &self.client,
            config: &self.dispatch,
            read_back: &self.read_back,
            progress: &bar,
            interrupt: &self.interrupt,
        };
        let mut report = send_all(&sending, Kind::Payment).await?;
        // Returns go once every payment of the run has settled, so that a deposit and its
        // return in one run match (docs/returns.md).
        if report.stopped.is_none() && report.interrupted.is_none() {
            let returns = &self.returns;
            // The summary and the report read what matching did from the ledger: nothing of
            // a million returns is held here (docs/loanpro.md).
            self.ledger.lock().expect("ledger lock").match_returns(
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
                |m| tracing::debug!(file = %m.file, line = m.line, key = %m.key, "matched: {:?}", m.result),
            )?;
            let reversals = send_all(&sending, Kind::Return).await?;
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

    /// Reads LoanPro before this run sends, when `[ledger] verify` asks for it (docs/states.md): for
    /// an import on a new or lost ledger, `today` being the run's date.
    pub fn verify_before_sending(&mut self, mode: Verify, today: chrono::NaiveDate) {
        self.verify = Some((mode, crate::payment::iso_date(today)));
    }

    /// A new or lost ledger (or `verify = "always"`): each loan's payments are read, one loan
    /// at a time within the rate limit, and queued rows whose keys LoanPro holds are
    /// `already_posted` before anything is sent.
    async fn verify_first(&mut self) -> anyhow::Result<()> {
        let Some((mode, today)) = self.verify.take() else {
            return Ok(());
        };
        let read = match mode {
            Verify::Never => false,
            Verify::Always => true,
            Verify::Auto => self.ledger().looks_new(self.run, &today)?,
        };
        if !read {
            return Ok(());
        }
        let loans = self.ledger().queued_loans(self.run)?;
        tracing::info!(
            loans = loans.len(),
            "reading each loan's payments from LoanPro before sending (a new or lost ledger, or verify = \"always\")"
        );
        let (mut read, mut found, mut unread) = (0, 0, 0);
        for loan_id in loans {
            if self.interrupt.is_set() {
                break;
            }
            // Only reads: a signal ends their waits (a 429's Retry-After) at once.
            let payments = self
                .client
                .loan_payments(loan_id, self.read_back.max_attempts);
            let answer = tokio::select! {
                biased;
                _ = self.interrupt.wait() => break,
                answer = payments => answer,
            };
            match answer {
                Ok(payments) => {
                    read += 1;
                    let logged: Vec<String> = payments.into_iter().map(|p| p.info).collect();
                    found += self.ledger().verified(self.run, loan_id, &logged)?;
                }
                Err(ReadError::Failed(m)) => {
                    unread += 1;
                    self.ledger().verify_failed(self.run, loan_id, &m)?;
                }
                Err(e) => return Err(self.stop_after_read(e)),
            }
        }
        self.verified = Some((read, found, unread));
        Ok(())
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
            let found = match cached {
                Some(id) => Ok(Some(id)),
                None => {
                    // Only reads: a signal ends its waits (a 429's Retry-After) at once.
                    let lookup = self
                        .client
                        .loan_by_display_id(&display_id, self.read_back.max_attempts);
                    tokio::select! {
                        biased;
                        _ = self.interrupt.wait() => break,
                        found = lookup => found,
                    }
                }
            };
            let result = match found {
                Ok(Some(id)) => Ok(id),
                Ok(None) => Err((
                    Status::Rejected,
                    format!(
                        "field `loan` value {display_id:?}: unidentified: no loan in LoanPro has this display id; `payimport amend KEY --loan DISPLAY_ID` sends it to the right loan"
                    ),
                )),
                Err(ReadError::Failed(m)) => Err((
                    Status::Unsent,
                    format!("could not look up the display id {display_id:?}: {m}"),
                )),
                Err(e) => return Err(self.stop_after_read(e)),
            };
            self.ledger()
                .resolve_display_id(self.run, &display_id, result)?;
        }
        Ok(())
    }

    /// Ends the run as stopped after a read LoanPro refused (the credentials) or redirected
    /// (`base_url` is wrong): the error the command exits 2 with.
    fn stop_after_read(&self, e: ReadError) -> anyhow::Error {
        if let Err(ledger) = self.ledger().end_run(self.run, RunOutcome::Stopped) {
            return ledger.into();
        }
        match e {
            ReadError::AuthRefused(m) => {
                anyhow::anyhow!("{} ({m})", crate::loanpro::CREDENTIALS_REFUSED)
            }
            ReadError::Redirected(reason) | ReadError::Failed(reason) => {
                anyhow::anyhow!("{reason}")
            }
        }
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
        if let Some((loans, found, unread)) = self.verified {
            writeln!(
                out,
                "verified: {loans} loan(s) read from LoanPro before sending (a new or lost ledger): {found} payment(s) found there, recorded as already_posted{}",
                if unread > 0 {
                    format!("; {unread} loan(s) could not be read, their payments left unsent")
                } else {
                    String::new()
                }
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
