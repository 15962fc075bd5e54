//! What a person sees: the progress bar (only on a terminal) and the plain-text summary.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use crate::ledger::{AttentionRow, Status, StatusTotal};
use crate::money::Cents;

/// The bar on the terminal right now, if any: log lines are written above it, not into it.
/// Only what the terminal shows, never data a run depends on.
static ON_SCREEN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// A progress bar on stderr when stderr is a terminal, and a hidden one otherwise (cron), so no
/// caller ever branches on it. Dropped (however the run ends), it is cleared from the screen.
pub fn progress_bar(len: u64) -> Bar {
    if !std::io::stderr().is_terminal() {
        return Bar(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    *ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    Bar(bar)
}

/// A progress bar that leaves the screen when dropped, so the next line starts on a clean one.
pub struct Bar(ProgressBar);

impl std::ops::Deref for Bar {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.0
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
        *ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Where log lines go: stderr, above the progress bar when one is on the terminal (the bar is
/// hidden while the line is written, then drawn again below it).
pub fn log_writer() -> LogLine {
    LogLine(Vec::new())
}

/// One log line, written to stderr in one piece when tracing is done with it.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&line);
        };
        let bar = ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// Writes the per-status lines of a summary: every status that has rows, in [`Status::ALL`]
/// order.
pub fn write_totals(out: &mut impl Write, totals: &[StatusTotal]) -> std::io::Result<()> {
    writeln!(out, "  {:<15} {:>9} {:>16}", "status", "rows", "amount")?;
    for status in Status::ALL {
        if let Some(t) = totals.iter().find(|t| t.status == status) {
            writeln!(
                out,
                "  {:<15} {:>9} {:>16}",
                t.status.as_str(),
                t.count,
                t.cents
            )?;
        }
    }
    let count: u64 = totals.iter().map(|t| t.count).sum();
    let sum: Cents = totals.iter().map(|t| t.cents).sum();
    writeln!(out, "  {:<15} {:>9} {:>16}", "total", count, sum)
}

/// `all` less `part`, status by status (the payments of a run: its rows less its returns).
pub fn minus(all: &[StatusTotal], part: &[StatusTotal]) -> Vec<StatusTotal> {
    all.iter()
        .filter_map(|t| {
            let p = part.iter().find(|p| p.status == t.status);
            let count = t.count - p.map_or(0, |p| p.count);
            (count > 0).then(|| StatusTotal {
                status: t.status,
                count,
                cents: Cents(t.cents.0 - p.map_or(0, |p| p.cents.0)),
            })
        })
        .collect()
}

/// Writes the first rows that need a person.
pub fn write_attention(
    out: &mut impl Write,
    rows: &[AttentionRow],
    total: u64,
) -> std::io::Result<()> {
    if total == 0 {
        return Ok(());
    }
    writeln!(out, "{total} row(s) need attention:")?;
    for r in rows {
        writeln!(
            out,
            "  {}:{} {} [{}] {}",
            r.file, r.line, r.status, r.key, r.message
        )?;
    }
    if total > rows.len() as u64 {
        writeln!(out, "  ... and {} more", total - rows.len() as u64)?;
    }
    Ok(())
}
