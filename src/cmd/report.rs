//! `payimport report`: the reconciliation export, to stdout or atomically to a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exit::Exit;
use crate::ledger::{Ledger, RunId};
use crate::report::{write_csv, write_json};

/// `payimport report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only this run (default: every run)
    #[arg(long)]
    pub run: Option<RunId>,
    /// csv: one line per row; json: the rows plus totals per run and file; html: one
    /// self-contained page (charts, control totals, rows needing attention) to open or mail
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
    Html,
}

/// `payimport report`.
pub fn run(ledger_path: &Path, args: &ReportArgs) -> anyhow::Result<Exit> {
    let ledger = Ledger::open_read_only(ledger_path)?;
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        match args.format {
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
        Some(path) => match output_target(path, ledger_path)? {
            Target::Replace(path) => write_atomically(&path, write)?,
            Target::Through(path) => {
                let mut fifo = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                write(&mut fifo)?
            }
        },
    }
    Ok(Exit::Done)
}

/// Where `--output` may write.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A new or regular file: replaced atomically (a reader sees the old one or the whole new one).
    Replace(PathBuf),
    /// A FIFO: written through, never replaced by a regular file.
    Through(PathBuf),
}

/// Checks `--output` before anything is written: never the ledger or one of SQLite's files
/// beside it (by any spelling, symlink or hard link), never a device, socket or directory.
fn output_target(path: &Path, ledger: &Path) -> anyhow::Result<Target> {
    let shown = path.display();
    let resolved = resolve(path).with_context(|| format!("--output {shown}: cannot resolve"))?;
    let ledger = ledger
        .canonicalize()
        .unwrap_or_else(|_| ledger.to_path_buf());
    let companions = ["", "-wal", "-shm", "-journal", ".lock"].map(|suffix| {
        let mut p = ledger.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    });
    let refuse_ledger = || {
        anyhow::anyhow!(
            "--output {shown} is the ledger {} or one of its files; the report must go elsewhere",
            ledger.display()
        )
    };
    if companions.contains(&resolved) {
        return Err(refuse_ledger());
    }
    let meta = match std::fs::metadata(&resolved) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Replace(resolved)),
        Err(e) => return Err(e).with_context(|| format!("--output {shown}")),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let same_file = |p: &PathBuf| {
            std::fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
        };
        if companions.iter().any(same_file) {
            return Err(refuse_ledger());
        }
        if meta.file_type().is_fifo() {
            return Ok(Target::Through(resolved));
        }
    }
    if meta.is_file() {
        return Ok(Target::Replace(resolved));
    }
    let kind = if meta.is_dir() {
        "a directory"
    } else {
        "a device, socket or other special file"
    };
    anyhow::bail!(
        "--output {shown} is {kind}, not a regular file; it was left as it is (give a file path)"
    )
}

/// The path with every symlink resolved; for a file not there yet, its folder resolved.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    match path.canonicalize() {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path.file_name().ok_or(e)?;
            Ok(dir.canonicalize()?.join(name))
        }
        Err(e) => Err(e),
    }
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
