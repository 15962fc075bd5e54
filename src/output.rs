//! What a person sees: the progress bar (only on a terminal) and the plain-text summary.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use crate::ledger::{AttentionRow, Status, StatusTotal};
use crate::money::Cents;

/// A progress bar on stderr when stderr is a terminal, and a hidden one otherwise (cron), so no
/// caller ever branches on it.
pub fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    bar
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
