//! `payimport retry`: send again the rows that did not make it (`failed`, `unsent`, `unknown`),
//! in a new run; never a `held` row (`payimport release` sends those). Rows whose outcome is unknown are read back from LoanPro first, as at the start
//! of every run, so a retry never posts a payment twice.

use std::io::Write;
use std::path::Path;

use crate::exit::Exit;
use crate::ledger::{Ledger, RetryCandidate, RunId, Status, Step};
use crate::metrics::Meter;
use crate::session::Session;
use crate::settings::{Settings, Token};

/// `payimport retry`.
#[derive(Debug, Clone, clap::Args)]
pub struct RetryArgs {
    /// Only the rows of this run (default: every run)
    #[arg(long, value_hint = clap::ValueHint::Other)]
    pub run: Option<RunId>,
    /// Only these keys (16 hex digits, as in the report)
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
}

/// Runs a retry.
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &RetryArgs,
    token: Option<Token>,
    meter: &Meter,
) -> anyhow::Result<Exit> {
    check_keys_and_ledger(&args.keys, ledger_path)?;
    if let Some(run) = args.run {
        // Before a run is begun: a retry of a run that never was records nothing.
        Ledger::open_read_only(ledger_path)?.check_run_exists(run)?;
    }
    let mut session = Session::start(settings, ledger_path, token, "retry", None, meter).await?;
    let run = session.run;

    let candidates = session.ledger().retry_candidates(args.run, &args.keys)?;
    let mut notes = Vec::new();
    for key in &args.keys {
        if !candidates.iter().any(|c| &c.key == key) {
            notes.push(format!("{key}: no row with this key{}", in_run(args.run)));
        }
    }
    let mut done = Vec::new();
    let mut queue = Vec::new();
    let retried = Step::Retry.from_states();
    for RetryCandidate {
        id,
        key,
        status,
        live,
        ambiguous,
    } in &candidates
    {
        match status {
            // docs/returns.md rule 4: after one twin is reversed, "the only one left" is a guess.
            Status::Unmatched if *ambiguous => notes.push(format!(
                "{key}: unmatched and ambiguous (several payments could be its original, or its reference names another); not matched again by elimination: import a returns CSV row naming its original's key in original_key"
            )),
            // A row taken over by a later one is history: that one is retried, if anything.
            s if retried.contains(s) && *live => queue.push(*id),
            // Read back at the start of this run: sent again if LoanPro does not have it.
            Status::Pending => {}
            Status::Unknown => notes.push(format!(
                "{key}: outcome still unknown (reading it back from LoanPro failed); not sent again"
            )),
            Status::Held => notes.push(format!(
                "{key}: held as a possible duplicate; not sent by retry: `payimport release {key}` sends it"
            )),
            Status::Rejected => notes.push(format!(
                "{key}: rejected rows are not retryable: `payimport amend KEY --loan ...` sends a corrected copy, or correct the file and import it again"
            )),
            Status::Amended => done.push(format!(
                "{key}: amended: its corrected copy is sent in its place; nothing to do"
            )),
            Status::Dismissed => done.push(format!("{key}: dismissed; nothing to do")),
            s if s.is_settled() => done.push(format!("{key}: already posted; nothing to do")),
            // Listed, not `_`: a new state must be placed here (the settled ones are above).
            Status::Posted
            | Status::AlreadyPosted
            | Status::Reversed
            | Status::Unmatched
            | Status::Failed
            | Status::Unsent
            | Status::Sending => notes.push(format!("{key}: {status}; not retryable now")),
        }
    }
    session.ledger().queue_for_retry(run, &queue)?;
    tracing::info!(run, rows = queue.len(), "retrying");
    let sent = session.send().await?;

    let queued = queue.len() + session.reconciled.resent as usize;
    let title = format!(
        "payimport retry: run {run}, {queued} row(s) sent again{}",
        in_run(args.run)
    );
    let unretried = notes.len() as u64;
    notes.extend(done);
    if let Some(signal) = sent.interrupted {
        notes.push(super::import::interrupted_note(signal));
    }
    let attention = session.print_summary(&title, &notes)?;
    std::io::stdout().flush()?;
    Ok(if sent.stopped.is_some() {
        Exit::Fatal
    } else if sent.interrupted.is_some() {
        Exit::Attention
    } else {
        Exit::for_attention(attention + unretried)
    })
}

/// Refuses (exit 2) a key that is not 16 hex digits, and a ledger that does not exist: `retry`
/// and `release` act on rows an import staged.
pub(crate) fn check_keys_and_ledger(keys: &[String], ledger_path: &Path) -> anyhow::Result<()> {
    for key in keys {
        check_key("", key)?;
    }
    require_ledger(ledger_path)
}

/// A key a person typed (`option` names where, e.g. `--original `): 16 hex digits, as in the
/// report's `key` column.
pub(crate) fn check_key(option: &str, key: &str) -> anyhow::Result<()> {
    if crate::payment::Key::parse(key).is_none() {
        anyhow::bail!(
            "{option}{key:?} is not a key: keys are 16 hex digits, as in the report's `key` column"
        );
    }
    Ok(())
}

/// A command that acts on rows already in the ledger needs the ledger to exist.
pub(crate) fn require_ledger(ledger_path: &Path) -> anyhow::Result<()> {
    if !ledger_path.exists() {
        anyhow::bail!(
            "ledger {} does not exist; nothing has been imported with it yet",
            ledger_path.display()
        );
    }
    Ok(())
}

fn in_run(run: Option<RunId>) -> String {
    run.map(|r| format!(" in run {r}")).unwrap_or_default()
}
