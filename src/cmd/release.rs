//! `payimport release KEY...`: send payments held as possible duplicates (docs/states.md), once a
//! person has decided each is a payment of its own. `retry` never sends a held row.

use std::io::Write;
use std::path::Path;

use crate::cli::Exit;
use crate::ledger::{RetryCandidate, Status};
use crate::metrics::Meter;
use crate::session::Session;
use crate::settings::{Settings, Token};

/// `payimport release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Why they are payments of their own (kept beside each row)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub audit: super::dismiss::AuditArgs,
    /// The keys of the held rows (16 hex digits, as in the report)
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// Runs a release: the held rows named are queued in a new run and sent, exactly once.
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &ReleaseArgs,
    token: Option<Token>,
    meter: &Meter,
) -> anyhow::Result<Exit> {
    super::retry::check_keys_and_ledger(&args.keys, ledger_path)?;
    let who = args.audit.resolver(args.note.as_deref());
    let mut session = Session::start(settings, ledger_path, token, "release", None, meter).await?;
    let run = session.run;
    let candidates = session.ledger().retry_candidates(None, &args.keys)?;
    let mut notes = Vec::new();
    let mut queue = Vec::new();
    for key in &args.keys {
        match candidates.iter().find(|c| &c.key == key) {
            None => notes.push(format!("{key}: no row with this key")),
            Some(RetryCandidate {
                id,
                status: Status::Held,
                live: true,
                ..
            }) => queue.push(*id),
            Some(c) if c.status.is_settled() => {
                notes.push(format!("{key}: {}; nothing to release", c.status))
            }
            Some(c) => notes.push(format!(
                "{key}: {}, not held; only held rows are released (`payimport retry` sends failed and unsent ones)",
                c.status
            )),
        }
    }
    session.ledger().queue_released(run, &queue, &who)?;
    tracing::info!(run, rows = queue.len(), by = who.by, "releasing held rows");
    let sent = session.send().await?;
    if let Some(signal) = sent.interrupted {
        notes.push(super::import::interrupted_note(signal));
    }
    let title = format!(
        "payimport release: run {run}, {} row(s) released",
        queue.len()
    );
    let unreleased = notes.len() as u64;
    let attention = session.print_summary(&title, &notes)?;
    std::io::stdout().flush()?;
    Ok(if sent.stopped.is_some() {
        Exit::Fatal
    } else if sent.interrupted.is_some() {
        Exit::Attention
    } else {
        Exit::for_attention(attention + unreleased)
    })
}
