//! The tie-out table (docs/report.md) as CSV: `report --format csv --by file`, one line per bank file
//! and one per deposit inside it (lockbox batch, BAI2 account), amounts as numbers.

use std::io::Write;

use crate::ledger::{FileTieOut, Tally};
use crate::money::Cents;

/// The tie-out table's columns, in order.
pub const COLUMNS: [&str; 19] = [
    "file",
    "deposit",
    "runs",
    "status",
    "stated",
    "posted",
    "already_posted",
    "already_posted_from",
    "rejected",
    "not_payments",
    "open",
    "dismissed",
    "accounted",
    "difference",
    "balances",
    "reversed",
    "net",
    "stated_from",
    "message",
];

/// The cells of one line: text cells neutralised, amounts and counts as numbers.
fn line(
    file: &FileTieOut,
    deposit: &str,
    stated: Cents,
    tally: &Tally,
    balances: bool,
) -> Vec<String> {
    let text = |s: &str| super::neutralise(s).into_owned();
    let accounted = tally.accounted();
    let from: Vec<String> = tally
        .already_posted
        .iter()
        .map(|(f, s)| format!("{f} ({} row(s), {})", s.count, s.amount))
        .collect();
    vec![
        text(&file.file),
        text(deposit),
        file.runs
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        text(&file.status),
        stated.to_string(),
        tally.posted.amount.to_string(),
        tally.already_posted_total().amount.to_string(),
        text(&from.join("; ")),
        tally.rejected.amount.to_string(),
        tally.not_payments.amount.to_string(),
        tally.open.amount.to_string(),
        tally.dismissed.amount.to_string(),
        accounted.to_string(),
        Cents(stated.0.saturating_sub(accounted.0)).to_string(),
        if balances { "yes" } else { "no" }.to_string(),
        tally.reversed.amount.to_string(),
        tally.net().to_string(),
        if deposit.is_empty() {
            text(&file.stated_from)
        } else {
            String::new()
        },
        text(file.message.as_deref().unwrap_or("")),
    ]
}

/// Writes the tie-out table: each file, then its deposits.
pub fn write_csv(files: &[FileTieOut], out: &mut impl Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for f in files {
        w.write_record(line(f, "", f.stated, &f.tally, f.balances))?;
        for d in &f.deposits {
            w.write_record(line(f, &d.scope, d.stated, &d.tally, d.balances))?;
        }
    }
    w.flush()?;
    Ok(())
}
