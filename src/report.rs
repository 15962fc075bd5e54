//! The reconciliation report (SPEC §6), as CSV or JSON: read from the ledger only.

use rusqlite::params;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

use crate::ledger::{Ledger, RunId};
use crate::money::Cents;

/// The report's columns, in order.
pub const COLUMNS: [&str; 17] = [
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
];

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub run_id: i64,
    pub file: String,
    pub line: i64,
    pub key: String,
    pub status: String,
    pub loan: String,
    pub loan_id: Option<i64>,
    pub amount: String,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<i64>,
    pub payment_type_id: Option<i64>,
    pub extra: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub message: Option<String>,
    pub updated_at: String,
    /// The amount in integer cents, for totals; none for a row whose amount was never valid.
    #[serde(skip)]
    pub amount_cents: Option<Cents>,
}

impl ReportRow {
    fn cells(&self) -> [String; 17] {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            self.run_id.to_string(),
            self.file.clone(),
            self.line.to_string(),
            self.key.clone(),
            self.status.clone(),
            self.loan.clone(),
            opt(self.loan_id),
            self.amount.clone(),
            self.date.clone(),
            self.reference.clone(),
            opt(self.payment_method_id),
            opt(self.payment_type_id),
            self.extra.clone().unwrap_or_default(),
            self.attempts.to_string(),
            opt(self.http_status),
            self.message.clone().unwrap_or_default(),
            self.updated_at.clone(),
        ]
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'`, which shows it as text.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The report's columns of a ledger row, then its file id (NULL before migration 0002).
const ROW_COLUMNS: &str =
    "SELECT run_id, file, line, key, status, loan, loan_id, amount, date, reference,
        payment_method_id, payment_type_id, extra, attempts, http_status, message, updated_at,
        amount_cents, file_id
    FROM rows WHERE (?1 IS NULL OR run_id = ?1) ORDER BY id";

/// The same columns for the rows of echo files (see migration 0002): the original file's rows,
/// each `already_posted`, named as the per-row staging would have named them.
const ECHO_COLUMNS: &str =
    "SELECT e.run_id, e.path, r.line, r.key, 'already_posted', r.loan, r.loan_id,
        r.amount, r.date, r.reference, r.payment_method_id, r.payment_type_id, r.extra, 0, NULL,
        CASE WHEN r.status = 'posted'
             THEN 'posted by run ' || r.run_id || ' (' || r.file || ':' || r.line || ')'
             ELSE r.message END,
        run.started_at, r.amount_cents, e.id
    FROM files e CROSS JOIN files o CROSS JOIN runs run CROSS JOIN rows r
    WHERE o.id = e.echo_of AND run.id = e.run_id AND (?1 IS NULL OR e.run_id = ?1)
      -- a file's rows are one id range: read in order, file after file (CROSS JOIN keeps
      -- SQLite to that loop order, so nothing is sorted)
      AND r.id BETWEEN o.first_row AND o.last_row AND +r.file_id = o.id
    ORDER BY e.id, r.id";

/// Calls `f` with every row of the report in order: by run, then file, then line. Rows are
/// streamed, the ledger's own and those of echo files merged in their file's place.
fn for_each_row(
    ledger: &Ledger,
    run: Option<RunId>,
    mut f: impl FnMut(ReportRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let conn = ledger.connection();
    let mut own = conn.prepare(ROW_COLUMNS)?;
    let mut echo = conn.prepare(ECHO_COLUMNS)?;
    let mut own = own.query(params![run])?;
    let mut echo = echo.query(params![run])?;
    let mut next_echo = echo.next()?.map(report_row).transpose()?;
    while let Some(r) = own.next()? {
        let (row, file_id) = report_row(r)?;
        // Rows staged before file ids were kept come before any echo file.
        let place = (row.run_id, file_id.unwrap_or(0));
        while let Some((e, _)) = next_echo.take_if(|(e, id)| (e.run_id, id.unwrap_or(0)) < place) {
            f(e)?;
            next_echo = echo.next()?.map(report_row).transpose()?;
        }
        f(row)?;
    }
    while let Some((e, _)) = next_echo {
        f(e)?;
        next_echo = echo.next()?.map(report_row).transpose()?;
    }
    Ok(())
}

fn report_row(r: &rusqlite::Row) -> rusqlite::Result<(ReportRow, Option<i64>)> {
    Ok((
        ReportRow {
            run_id: r.get(0)?,
            file: r.get(1)?,
            line: r.get(2)?,
            key: r.get(3)?,
            status: r.get(4)?,
            loan: r.get(5)?,
            loan_id: r.get(6)?,
            amount: r.get(7)?,
            date: r.get(8)?,
            reference: r.get(9)?,
            payment_method_id: r.get(10)?,
            payment_type_id: r.get(11)?,
            extra: r.get(12)?,
            attempts: r.get(13)?,
            http_status: r.get(14)?,
            message: r.get(15)?,
            updated_at: r.get(16)?,
            amount_cents: r.get(17)?,
        },
        r.get(18)?,
    ))
}

/// Writes the CSV report, header first, streaming from the ledger.
pub fn write_csv(ledger: &Ledger, run: Option<RunId>, out: &mut impl Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for_each_row(ledger, run, |row| {
        let cells = row.cells();
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
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
    totals: BTreeMap<String, Totals>,
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
    totals: BTreeMap<String, Totals>,
    /// Rows of this run (staged or sent by it) whose outcome was uncertain and that were read
    /// back from LoanPro.
    reconciled: u64,
    files: Vec<FileSummary>,
}

#[derive(Serialize)]
struct JsonReport {
    summary: Vec<RunSummary>,
    rows: Vec<ReportRow>,
}

/// Writes the JSON report: the rows, plus per run and file the counts and amounts per status and
/// the stated and computed control totals.
pub fn write_json(ledger: &Ledger, run: Option<RunId>, out: &mut impl Write) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut by_file: BTreeMap<(i64, String), BTreeMap<String, Totals>> = BTreeMap::new();
    let mut by_run: BTreeMap<i64, BTreeMap<String, Totals>> = BTreeMap::new();
    for_each_row(ledger, run, |r| {
        // The ledger's integer cents, as the run summary sums them: never re-parsed from text.
        let c = r.amount_cents.unwrap_or_default();
        for t in [
            by_file
                .entry((r.run_id, r.file.clone()))
                .or_default()
                .entry(r.status.clone())
                .or_default(),
            by_run
                .entry(r.run_id)
                .or_default()
                .entry(r.status.clone())
                .or_default(),
        ] {
            t.count += 1;
            t.amount = t.amount.saturating_add(c);
        }
        rows.push(r);
        Ok(())
    })?;
    let conn = ledger.connection();
    let mut summary = Vec::new();
    for info in ledger.runs()? {
        if run.is_some_and(|r| r != info.id) {
            continue;
        }
        let mut stmt = conn.prepare(
            "SELECT path, status, message, control_checks FROM files WHERE run_id = ?1 ORDER BY id",
        )?;
        let files = stmt
            .query_map([info.id], |r| {
                let checks: Option<String> = r.get(3)?;
                Ok(FileSummary {
                    totals: BTreeMap::new(),
                    file: r.get(0)?,
                    status: r.get(1)?,
                    message: r.get(2)?,
                    control_checks: checks
                        .and_then(|c| serde_json::from_str(&c).ok())
                        .unwrap_or(serde_json::Value::Array(Vec::new())),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let files = files
            .into_iter()
            .map(|mut f| {
                f.totals = by_file
                    .remove(&(info.id, f.file.clone()))
                    .unwrap_or_default();
                f
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
    serde_json::to_writer_pretty(&mut *out, &JsonReport { summary, rows })?;
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
        let claimed = ledger.claim(run, 10).unwrap();
        let outcome = |i: usize, status, http: Option<u16>, message: Option<&str>| Outcome {
            id: claimed[i].id,
            status,
            attempts: 1,
            http_status: http,
            message: message.map(str::to_string),
            loanpro_payment_id: None,
            sent_at: None,
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
        ledger
            .connection()
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
        write_json(&ledger, Some(1), &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-5"), "'-5");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("250.00"), "250.00");
        assert_eq!(neutralise(""), "");
    }
}
