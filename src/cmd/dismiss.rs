//! `payimport dismiss KEY... --note TEXT`: close rows a person settled elsewhere (a payment
//! entered by hand in LoanPro, a return reversed by hand) without sending anything (docs/states.md).

use std::io::Write;
use std::path::Path;

use crate::cli::Exit;
use crate::ledger::{Ledger, NamedRow, Resolver, RunOutcome, Status, Step, resolvable};

/// Who resolves rows, and why: recorded beside each row (docs/states.md).
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Who does this [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

impl AuditArgs {
    /// The resolver recorded: `--by`, else `$USER`, else `unknown`.
    pub fn resolver(&self, note: Option<&str>) -> Resolver {
        let by = self
            .by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "unknown".into());
        Resolver {
            by,
            note: note.map(str::to_string),
        }
    }
}

/// `payimport dismiss`.
#[derive(Debug, Clone, clap::Args)]
pub struct DismissArgs {
    /// Why the rows are closed: how they were settled elsewhere (kept beside each row)
    #[arg(long, value_name = "TEXT")]
    pub note: String,
    #[command(flatten)]
    pub audit: AuditArgs,
    /// The rows' keys (16 hex digits, as in the report)
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// Opens the ledger a person resolves rows in: it must exist; runs killed earlier are ended.
pub fn open_existing(ledger_path: &Path) -> anyhow::Result<Ledger> {
    super::retry::require_ledger(ledger_path)?;
    let mut ledger = Ledger::open(ledger_path)?;
    ledger.end_crashed_runs()?;
    Ok(ledger)
}

/// The rows named by `keys`, or what is wrong with each key that names none.
pub fn named_rows(ledger: &Ledger, keys: &[String]) -> anyhow::Result<Vec<NamedRow>> {
    let mut rows = Vec::new();
    for key in keys {
        let k = key.to_ascii_lowercase();
        if crate::payment::Key::parse(&k).is_none() {
            super::retry::check_key("", key)?;
        }
        match ledger.named_row(&k)? {
            Some(r) => rows.push(r),
            None => anyhow::bail!("{key}: no row with this key in {}", ledger.path().display()),
        }
    }
    Ok(rows)
}

/// Runs a dismiss: every key is checked first, and nothing is changed unless all can be.
pub fn run(ledger_path: &Path, args: &DismissArgs) -> anyhow::Result<Exit> {
    if args.note.trim().is_empty() {
        anyhow::bail!("--note is empty: say how the rows were settled elsewhere");
    }
    let mut ledger = open_existing(ledger_path)?;
    let rows = named_rows(&ledger, &args.keys)?;
    let from = Step::Dismiss.sources(Status::Dismissed);
    for r in &rows {
        if !from.contains(&r.status) {
            let why = if r.status.is_settled() {
                " (it is settled: what is in LoanPro is never dismissed)"
            } else {
                ""
            };
            anyhow::bail!(
                "{}: is `{}`{why}; only a row in {} can be dismissed; nothing was changed",
                r.key,
                r.status,
                resolvable(Step::Dismiss, Status::Dismissed)
            );
        }
    }
    let who = args.audit.resolver(Some(&args.note));
    let run = ledger.begin_run("dismiss", None)?;
    for r in &rows {
        ledger.dismiss(run, r.id, &who)?;
    }
    ledger.end_run(run, RunOutcome::Completed)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "payimport dismiss: run {run}, {} row(s) dismissed by {}",
        rows.len(),
        who.by
    )?;
    for r in &rows {
        writeln!(
            out,
            "{}: {} -> dismissed ({}:{})",
            r.key, r.status, r.file, r.line
        )?;
    }
    out.flush()?;
    Ok(Exit::Done)
}
