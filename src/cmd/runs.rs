//! `payimport runs`: one line per run.

use std::io::Write;
use std::path::Path;

use crate::exit::Exit;
use crate::ledger::Ledger;

/// `payimport runs`: one line per run.
pub fn run(ledger_path: &Path) -> anyhow::Result<Exit> {
    let ledger = Ledger::open_read_only(ledger_path)?;
    crate::cli::ignore_broken_pipe(write_runs(&ledger, &mut std::io::stdout().lock()))?;
    Ok(Exit::Done)
}

fn write_runs(ledger: &Ledger, out: &mut impl Write) -> anyhow::Result<()> {
    // `outcome` last: scripts that read the first columns by position keep working.
    writeln!(
        out,
        "run\tcommand\tstarted\tended\tsource\tfiles\tcounts\toutcome"
    )?;
    for mut r in ledger.runs()? {
        // Counts by state name, as `runs` has always listed them (scripts may read them).
        r.totals.sort_by_key(|t| t.status.as_str());
        let counts: Vec<String> = r
            .totals
            .iter()
            .map(|t| format!("{}={}", t.status, t.count))
            .collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.command,
            r.started_at,
            r.ended_at.as_deref().unwrap_or("(running)"),
            r.source.as_deref().unwrap_or("-"),
            if r.files.is_empty() {
                "-".to_string()
            } else {
                r.files.join(",")
            },
            counts.join(" "),
            r.outcome.map_or("running", |o| o.as_str())
        )?;
    }
    out.flush()?;
    Ok(())
}
