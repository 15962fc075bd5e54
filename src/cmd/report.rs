//! `payimport report`: the reconciliation export, to stdout or to a file through the one file
//! writer ([`crate::fsutil`]).

use std::io::Write;

use anyhow::Context;
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::fsutil::Target;
use crate::ledger::{Ledger, RunId};
use crate::report::select::{Ask, select};
use crate::report::{write_csv, write_json};

/// `payimport report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only this run (default: the last night; every run for the row export)
    #[arg(long, conflicts_with_all = ["since", "until"], value_hint = clap::ValueHint::Other)]
    pub run: Option<RunId>,
    /// Runs started on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Runs started on or before this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE")]
    pub until: Option<chrono::NaiveDate>,
    /// Only this file (its path as imported, or its file name)
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// With csv: `file` writes the tie-out table (one line per bank file and deposit) instead
    /// of one line per row
    #[arg(long, value_enum)]
    pub by: Option<ReportBy>,
    /// csv: one line per row; json: the rows plus totals per run and file; html: one
    /// self-contained page (the tie-out of each file, rows needing attention) to open or mail
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// The corrections file (with --format csv): rejected rows still waiting, a CSV source's in
    /// its own columns plus `error`, ready to correct and import again
    /// (every run, or --run's; not with --since, --until, --file or --by)
    #[arg(long, conflicts_with_all = ["since", "until", "file", "by"])]
    pub rejected: bool,
    /// Write here instead of stdout: a new or regular file, replaced atomically (mode 0600)
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportBy {
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Json,
    Html,
}

/// The report file's mode, whatever the umask: it lists borrowers' payments.
pub const REPORT_MODE: u32 = 0o600;

/// `payimport report`.
/// `settings` is needed only by `--rejected` (the sources' columns).
pub fn run(
    settings: Option<&crate::settings::Settings>,
    ledger_path: &Path,
    args: &ReportArgs,
) -> anyhow::Result<Exit> {
    if args.rejected && args.format != ReportFormat::Csv {
        anyhow::bail!("--rejected writes a corrections file: use it with --format csv");
    }
    let ledger = Ledger::open_read_only(ledger_path)?;
    if args.by.is_some() && args.format != ReportFormat::Csv {
        anyhow::bail!(
            "--by file goes with --format csv (json carries the tie-out as `tieout`, html shows it first)"
        );
    }
    if let Some(run) = args.run {
        ledger.check_run_exists(run)?;
    }
    let ask = Ask {
        run: args.run,
        since: args.since,
        until: args.until,
        file: args.file.clone(),
    };
    let sel = select(&ledger, &ask)?;
    // The row export (docs/report.md) covers every run unless a selection is given; the
    // tie-out and the page default to the last night.
    let rows_sel = ask.is_given().then_some(&sel);
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        match (args.format, args.by) {
            (ReportFormat::Csv, _) if args.rejected => {
                let settings = settings.context("--rejected needs the settings file")?;
                crate::report::corrections::write_rejected(&ledger, settings, args.run, &mut out)?
            }
            (ReportFormat::Csv, Some(ReportBy::File)) => {
                let files = ledger.tie_out(&sel.runs, sel.file.as_deref())?;
                crate::report::tieout::write_csv(&files, &mut out)?
            }
            (ReportFormat::Csv, None) => write_csv(&ledger, rows_sel, &mut out)?,
            (ReportFormat::Json, _) => write_json(&ledger, rows_sel, &mut out)?,
            (ReportFormat::Html, _) => crate::report::html::write_html(&ledger, &sel, &mut out)?,
        }
        out.flush()?;
        Ok(())
    };
    match &args.output {
        // `report | head` is not an error: the reader had what it wanted.
        None => crate::cli::ignore_broken_pipe(write(&mut std::io::stdout().lock()))?,
        Some(path) => Target {
            option: "--output",
            path,
            // Rows of borrowers' payments: for the operator's eyes only.
            mode: REPORT_MODE,
            ledger: Some(ledger_path),
        }
        .write(write)?,
    }
    Ok(Exit::Done)
}
