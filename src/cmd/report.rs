//! `payimport report`: the reconciliation export, to stdout or to a file through the one file
//! writer ([`crate::fsutil`]).

use std::io::Write;

use anyhow::Context;
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::fsutil::Target;
use crate::ledger::{Ledger, RunId};
use crate::report::{write_csv, write_json};

/// `payimport report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only this run (default: every run)
    #[arg(long, value_hint = clap::ValueHint::Other)]
    pub run: Option<RunId>,
    /// csv: one line per row; json: the rows plus totals per run and file; html: one
    /// self-contained page (charts, control totals, rows needing attention) to open or mail
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// The corrections file (with --format csv): rejected rows still waiting, a CSV source's in
    /// its own columns plus `error`, ready to correct and import again
    #[arg(long)]
    pub rejected: bool,
    /// Write here instead of stdout: a new or regular file, replaced atomically (mode 0600)
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
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
    if let Some(run) = args.run {
        ledger.check_run_exists(run)?;
    }
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        match args.format {
            ReportFormat::Csv if args.rejected => {
                let settings = settings.context("--rejected needs the settings file")?;
                crate::report::corrections::write_rejected(&ledger, settings, args.run, &mut out)?
            }
            ReportFormat::Csv => write_csv(&ledger, args.run, &mut out)?,
            ReportFormat::Json => write_json(&ledger, args.run, &mut out)?,
            ReportFormat::Html => crate::report::html::write_html(&ledger, args.run, &mut out)?,
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
