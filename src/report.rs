//! The reconciliation report (docs/report.md), as CSV or JSON: read from the ledger only. The
//! HTML page is `report/html.rs`; the tie-out table `report/tieout.rs`; what a report covers
//! `report/select.rs`; the corrections file of rejected rows `report/corrections.rs`.

pub mod corrections;
pub mod html;
pub mod select;
pub mod tieout;
pub mod visible;

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

use crate::ledger::{FileTieOut, Ledger, ReportRow, RunId};
use crate::money::Cents;
use select::Selection;

/// The report's columns, in order.
pub const COLUMNS: [&str; 20] = [
    "run_id",
    "file",
    "line",
    "key",
    "status",
    "loan",
    "loan_id",
    "amount",
    "date",
    "reference",
    "payment_method_id",
    "payment_type_id",
    "extra",
    "attempts",
    "http_status",
    "message",
    "updated_at",
    "kind",
    "original_key",
    "return_code",
];

/// The report's cells of a row, in [`COLUMNS`] order.
fn cells(row: &ReportRow) -> [String; 20] {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        row.run_id.to_string(),
        row.file.clone(),
        row.line.to_string(),
        row.key.clone(),
        row.status.to_string(),
        row.loan.clone(),
        opt(row.loan_id),
        row.amount.to_string(),
        row.date.clone(),
        row.reference.clone(),
        opt(row.payment_method_id),
        opt(row.payment_type_id),
        row.extra.clone().unwrap_or_default(),
        row.attempts.to_string(),
        opt(row.http_status),
        row.message.clone().unwrap_or_default(),
        row.updated_at.clone(),
        row.kind.clone(),
        row.original_key.clone().unwrap_or_default(),
        row.return_code.clone().unwrap_or_default(),
    ]
}

/// A cell a spreadsheet would run as a formula gets a leading `'`, which shows it as text. A
/// plain number (`-20.00`) is no formula and stays a number (docs/report.md).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if is_number(cell) {
        return cell.into();
    }
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// `-12`, `-12.5`, `12.50`: an optional minus, digits, an optional fraction; nothing else.
fn is_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Calls `f` with every report row of the selection (every run's without one), in order.
pub fn for_each_row(
    ledger: &Ledger,
    sel: Option<&Selection>,
    mut f: impl FnMut(ReportRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match sel {
        None => ledger.for_each_report_row(None, f),
        Some(sel) => {
            for &run in &sel.runs {
                ledger.for_each_report_row(Some(run), |row| {
                    if sel.has_file(&row.file) {
                        f(row)
                    } else {
                        Ok(())
                    }
                })?;
            }
            Ok(())
        }
    }
}

/// Writes the CSV report, header first, streaming from the ledger.
pub fn write_csv(
    ledger: &Ledger,
    sel: Option<&Selection>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for_each_row(ledger, sel, |row| -> anyhow::Result<()> {
        w.write_record(cells(&row).iter().map(|c| neutralise(c).into_owned()))?;
        Ok(())
    })?;
    w.flush()?;
    Ok(())
}

#[derive(Serialize, Default)]
struct Totals {
    count: u64,
    amount: Cents,
}

#[derive(Serialize)]
struct FileSummary {
    file: String,
    status: String,
    message: Option<String>,
    totals: BTreeMap<&'static str, Totals>,
    /// Every control total the file stated: scope, what, line, stated, computed, matches.
    control_checks: serde_json::Value,
}

#[derive(Serialize)]
struct RunSummary {
    run_id: i64,
    command: String,
    source: Option<String>,
    started_at: String,
    ended_at: Option<String>,
    totals: BTreeMap<&'static str, Totals>,
    /// Rows of this run (staged or sent by it) whose outcome was uncertain and that were read
    /// back from LoanPro.
    reconciled: u64,
    files: Vec<FileSummary>,
}

#[derive(Serialize)]
struct JsonReport {
    summary: Vec<RunSummary>,
    /// Per bank file (and deposit): where every cent it states went (docs/report.md).
    tieout: Vec<FileTieOut>,
    /// The latest `payimport reconcile` and its drift (the first 1,000).
    reconciliation: Option<crate::ledger::Reconciliation>,
    rows: Vec<ReportRow>,
}

/// Writes the JSON report: the rows, plus per run and file the counts and amounts per status and
/// the stated and computed control totals.
pub fn write_json(
    ledger: &Ledger,
    sel: Option<&Selection>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    // Totals are keyed by state name: JSON objects list their keys alphabetically, as always.
    type ByStatus = BTreeMap<&'static str, Totals>;
    let mut rows = Vec::new();
    let mut by_file: BTreeMap<(i64, String), ByStatus> = BTreeMap::new();
    let mut by_run: BTreeMap<i64, ByStatus> = BTreeMap::new();
    for_each_row(ledger, sel, |r| -> anyhow::Result<()> {
        // The ledger's integer cents, as the run summary sums them: never re-parsed from text.
        let c = r.amount.cents();
        let status = r.status.as_str();
        for t in [
            by_file
                .entry((r.run_id, r.file.clone()))
                .or_default()
                .entry(status)
                .or_default(),
            by_run
                .entry(r.run_id)
                .or_default()
                .entry(status)
                .or_default(),
        ] {
            t.count += 1;
            t.amount = t.amount.saturating_add(c);
        }
        rows.push(r);
        Ok(())
    })?;
    let mut summary = Vec::new();
    let runs = ledger.runs()?;
    let all: std::collections::BTreeSet<RunId> = runs.iter().map(|r| r.id).collect();
    let selected = sel.map_or(&all, |s| &s.runs);
    for info in runs {
        if !selected.contains(&info.id) {
            continue;
        }
        let files = ledger
            .files_of_run(info.id)?
            .into_iter()
            .map(|f| FileSummary {
                totals: by_file
                    .remove(&(info.id, f.path.clone()))
                    .unwrap_or_default(),
                control_checks: f
                    .control_checks
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or(serde_json::Value::Array(Vec::new())),
                file: f.path,
                status: f.status,
                message: f.message,
            })
            .collect();
        summary.push(RunSummary {
            run_id: info.id,
            command: info.command,
            source: info.source,
            started_at: info.started_at,
            ended_at: info.ended_at,
            totals: by_run.remove(&info.id).unwrap_or_default(),
            reconciled: ledger.reconciled_count(info.id)?,
            files,
        });
    }
    let tieout = ledger.tie_out(selected, sel.and_then(|s| s.file.as_deref()))?;
    serde_json::to_writer_pretty(
        &mut *out,
        &JsonReport {
            summary,
            tieout,
            reconciliation: ledger.last_reconciliation(1000)?,
            rows,
        },
    )?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::ledger::{NewRow, Outcome, Status};
    use crate::payment::Key;

    /// A ledger with one run of each kind of row, its times pinned so snapshots are stable.
    fn fixed_ledger(dir: &Path) -> Ledger {
        let mut ledger = Ledger::open(&dir.join("ledger.sqlite")).unwrap();
        let run = ledger.begin_run("import", Some("bank_csv")).unwrap();
        let file = ledger.add_file(run, "in/bank.csv").unwrap();
        let row =
            |line: u64, loan: &str, amount: &str, cents: Option<Cents>, rejection: Option<&str>| {
                NewRow {
                    file: "in/bank.csv".into(),
                    line,
                    key: Key::of_rejected(&[loan, amount], 0),
                    loan: loan.into(),
                    loan_id: loan.parse().ok(),
                    amount: amount.into(),
                    amount_cents: cents,
                    date: "2026-11-20".into(),
                    reference: format!("chk {line}"),
                    payment_method_id: cents.map(|_| 4),
                    payment_type_id: cents.map(|_| 1),
                    extra: cents.map(|_| "payment.extra.tx.principal".into()),
                    info: cents.map(|_| format!("2026-11-20 bank_csv chk {line}")),
                    rejection: rejection.map(str::to_string),
                    ret: None,
                    repeat_of: None,
                }
            };
        let rows = vec![
            row(2, "12", "250.00", Some(Cents(25000)), None),
            row(3, "13", "1234.50", Some(Cents(123450)), None),
            row(4, "14", "99.99", Some(Cents(9999)), None),
            row(
                5,
                "=cmd|' /C calc'!A0",
                "10.00",
                None,
                Some("field `loan` value \"=cmd|' /C calc'!A0\": is not a LoanPro loan id"),
            ),
            row(
                6,
                "16",
                "-5.00",
                None,
                Some("field `amount` value \"-5.00\": must be greater than zero"),
            ),
        ];
        ledger
            .stage_file::<std::convert::Infallible>(run, file, rows.into_iter().map(Ok))
            .unwrap()
            .unwrap();
        let claimed = ledger.claim(run, 10, crate::ledger::Kind::Payment).unwrap();
        let outcome = |i: usize, status, http: Option<u16>, message: Option<&str>| Outcome {
            id: claimed[i].id,
            status,
            attempts: 1,
            http_status: http,
            message: message.map(str::to_string),
            loanpro_payment_id: None,
            sent_at: None,
            reverses: None,
        };
        ledger
            .record(&[
                outcome(0, Status::Posted, Some(200), None),
                outcome(1, Status::Failed, Some(409), Some("Loan 13 not found")),
                outcome(
                    2,
                    Status::Unknown,
                    Some(500),
                    Some("HTTP 500: Internal server error"),
                ),
            ])
            .unwrap();
        ledger.finish_run(run).unwrap();
        // Through a connection of its own: the ledger lets no one else write to it.
        rusqlite::Connection::open(dir.join("ledger.sqlite"))
            .unwrap()
            .execute_batch(
                "UPDATE rows SET updated_at = '2026-11-20T02:00:00.000Z';
                 UPDATE runs SET started_at = '2026-11-20T01:59:58.000Z', ended_at = '2026-11-20T02:00:01.000Z';",
            )
            .unwrap();
        ledger
    }

    #[test]
    fn csv_report_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = fixed_ledger(dir.path());
        let mut out = Vec::new();
        write_csv(&ledger, None, &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn json_report_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = fixed_ledger(dir.path());
        let mut out = Vec::new();
        let sel = select::select(
            &ledger,
            &select::Ask {
                run: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        write_json(&ledger, Some(&sel), &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-5"), "-5");
        assert_eq!(neutralise("-20.00"), "-20.00");
        assert_eq!(neutralise("-5 cmd"), "'-5 cmd");
        assert_eq!(neutralise("-"), "'-");
        assert_eq!(neutralise("-1+2"), "'-1+2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("250.00"), "250.00");
        assert_eq!(neutralise(""), "");
    }
}
