//! `payimport report`: the reconciliation export, to stdout or atomically to a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::Exit;
use crate::ledger::{Ledger, RunId};
use crate::report::{write_csv, write_json};

/// `payimport report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only this run (default: every run)
    #[arg(long)]
    pub run: Option<RunId>,
    /// csv: one line per row; json: the rows plus totals per run and file
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// Write here (atomically) instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Json,
}

/// `payimport report`.
pub fn run(ledger_path: &Path, args: &ReportArgs) -> anyhow::Result<Exit> {
    let ledger = Ledger::open_read_only(ledger_path)?;
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        match args.format {
            ReportFormat::Csv => write_csv(&ledger, args.run, &mut out)?,
            ReportFormat::Json => write_json(&ledger, args.run, &mut out)?,
        }
        out.flush()?;
        Ok(())
    };
    match &args.output {
        None => write(&mut std::io::stdout().lock())?,
        Some(path) => write_atomically(path, write)?,
    }
    Ok(Exit::Done)
}

/// Writes a file so that a reader sees the old one or the whole new one, never a part.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("--output names no file")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        write(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
