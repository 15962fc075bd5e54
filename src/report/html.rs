//! The reconciliation report as one self-contained HTML page (`report --format html`): the
//! run(s) covered, counts and amounts per status, amounts per payment date, each file's control
//! totals stated vs computed, returns with the payments they reverse, and every row that needs a
//! person with what to do about it.
//!
//! One file with its style inline, charts as inline SVG ([`super::chart`]), no script, no font
//! and nothing fetched (its Content-Security-Policy forbids both): it opens offline in any
//! browser and can be mailed. Built with maud, which escapes every value, so a loan number or a
//! LoanPro message can never become markup; invisible characters in a value are written out
//! ([`super::visible`]), so a file name cannot pretend to be another.

use std::collections::BTreeMap;
use std::io::Write;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart::{Bar, bar_chart};
use super::visible::{CONTENT_SECURITY_POLICY, visible};
use crate::ledger::{Ledger, ReportRow, RunId, RunInfo, Status};
use crate::money::Cents;

/// Counts and amounts.
#[derive(Default, Clone, Copy)]
struct Totals {
    count: u64,
    cents: Cents,
}

impl Totals {
    fn add(&mut self, cents: Cents) {
        self.count += 1;
        self.cents = self.cents.saturating_add(cents);
    }
}

/// What the page shows, gathered from the ledger in one pass over the rows.
struct Page {
    runs: Vec<RunInfo>,
    by_status: BTreeMap<Status, Totals>,
    /// Per payment date: the settled rows and those needing attention.
    by_date: BTreeMap<String, (Totals, Totals)>,
    attention: Vec<ReportRow>,
    /// Return rows (docs/returns.md), each naming the payment it reverses.
    returns: Vec<ReportRow>,
    files: Vec<FileControls>,
}

struct FileControls {
    run: RunId,
    file: String,
    status: String,
    message: Option<String>,
    checks: Vec<Check>,
}

struct Check {
    scope: String,
    what: String,
    line: u64,
    stated: i64,
    computed: i64,
}

impl Check {
    /// A stated or computed value as the file means it: cents shown as money, counts as counts.
    fn show(&self, v: i64) -> String {
        if self.what == "amount" {
            Cents(v).to_string()
        } else {
            v.to_string()
        }
    }
}

/// What a person does about a row in this state.
pub fn what_to_do(status: Status) -> &'static str {
    match status {
        Status::Rejected => {
            "`payimport amend KEY --loan ID` sends a corrected copy (wrong loan, type or extra); or correct a CSV file (`payimport report --rejected --format csv`) and import it again; `payimport dismiss KEY --note TEXT` if it was settled elsewhere."
        }
        Status::Failed => {
            "LoanPro refused it: fix what its message says, then `payimport retry KEY`, or `payimport amend KEY --loan ID` for a wrong loan, type or extra; `payimport dismiss KEY --note TEXT` if it was settled elsewhere."
        }
        Status::Unsent => {
            "It never reached LoanPro: `payimport retry` once LoanPro is reachable and the credentials work."
        }
        Status::Unknown => {
            "It may be in LoanPro: the next import or `payimport retry` reads it back before sending; never log it by hand."
        }
        Status::Pending | Status::Sending => {
            "A run was interrupted: the next import or retry recovers it (reading it back first if it may have been sent)."
        }
        Status::Unmatched => {
            "Nothing was reversed: its message says why. No payment yet: `payimport retry` matches it once the payment is posted. Several candidates, or a reference naming another payment: find the bounced payment and name it with `payimport amend KEY --original PAYMENT_KEY`; never by elimination. Reversed by hand in LoanPro: `payimport dismiss KEY --note TEXT`."
        }
        Status::Held => {
            "A possible duplicate, not sent: its message names the row it repeats. If the bank really sent two payments, `payimport release KEY` sends it once; if not, `payimport dismiss KEY --note TEXT` (`retry` never sends it)."
        }
        Status::Posted
        | Status::AlreadyPosted
        | Status::Reversed
        | Status::Amended
        | Status::Dismissed => "Nothing.",
    }
}

/// Writes the HTML report of `run` (or of every run).
pub fn write_html(ledger: &Ledger, run: Option<RunId>, out: &mut impl Write) -> anyhow::Result<()> {
    let page = gather(ledger, run)?;
    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    // The page's own text holds no invisible character: every one left is in a shown value.
    let page = render(&page, run, &generated).into_string();
    out.write_all(visible(&page).as_bytes())?;
    Ok(())
}

fn gather(ledger: &Ledger, run: Option<RunId>) -> anyhow::Result<Page> {
    let mut by_status: BTreeMap<Status, Totals> = BTreeMap::new();
    let mut by_date: BTreeMap<String, (Totals, Totals)> = BTreeMap::new();
    let mut attention = Vec::new();
    let mut returns = Vec::new();
    ledger.for_each_report_row(run, |r| -> anyhow::Result<()> {
        let cents = r.amount.cents();
        by_status.entry(r.status).or_default().add(cents);
        let day = by_date.entry(r.date.clone()).or_default();
        if r.status.needs_attention() {
            day.1.add(cents);
        } else {
            day.0.add(cents);
        }
        if r.kind == "return" {
            returns.push(r.clone());
        }
        if r.status.needs_attention() {
            attention.push(r);
        }
        Ok(())
    })?;
    let runs: Vec<RunInfo> = ledger
        .runs()?
        .into_iter()
        .filter(|r| run.is_none_or(|id| id == r.id))
        .collect();
    let mut files = Vec::new();
    for r in &runs {
        for f in ledger.files_of_run(r.id)? {
            let checks = f
                .control_checks
                .as_deref()
                .and_then(|c| serde_json::from_str::<Vec<serde_json::Value>>(c).ok())
                .unwrap_or_default()
                .iter()
                .map(|c| Check {
                    scope: c["scope"].as_str().unwrap_or("").to_string(),
                    what: c["what"].as_str().unwrap_or("").to_string(),
                    line: c["line"].as_u64().unwrap_or(0),
                    stated: c["stated"].as_i64().unwrap_or(0),
                    computed: c["computed"].as_i64().unwrap_or(0),
                })
                .collect();
            files.push(FileControls {
                run: r.id,
                file: f.path,
                status: f.status,
                message: f.message,
                checks,
            });
        }
    }
    Ok(Page {
        runs,
        by_status,
        by_date,
        attention,
        returns,
        files,
    })
}

/// The CSS class of a state's bar: settled, refused (a person must correct something), or open.
fn status_class(status: Status) -> &'static str {
    match status {
        Status::Posted | Status::AlreadyPosted => "ok",
        // Settled by a person (SPEC §13).
        Status::Amended | Status::Dismissed => "ok",
        Status::Rejected | Status::Failed => "bad",
        // Listed, not `_`: a new state must be given its colour here.
        Status::Reversed
        | Status::Unmatched
        | Status::Held
        | Status::Unsent
        | Status::Unknown
        | Status::Pending
        | Status::Sending => "warn",
    }
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2328; background: #fff; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f6f8fa; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .85rem; color: #fff; }
.badge.ok { background: #1a7f37; } .badge.bad { background: #cf222e; } .badge.warn { background: #9a6700; }
.verdict { padding: .6rem 1rem; border-radius: .4rem; font-weight: bold; }
.verdict.ok { background: #dafbe1; } .verdict.attention { background: #fff8c5; }
svg.chart { max-width: 100%; height: auto; }
svg .ok { fill: #2da44e; } svg .bad { fill: #cf222e; } svg .warn { fill: #d4a72c; }
svg .label, svg .note { font-size: 13px; fill: #1f2328; font-family: inherit; }
.mismatch { color: #cf222e; font-weight: bold; } .match { color: #1a7f37; }
code { font-size: .85rem; }
"#;

fn render(page: &Page, run: Option<RunId>, generated: &str) -> Markup {
    let total = page.by_status.values().fold(Totals::default(), |mut t, s| {
        t.count += s.count;
        t.cents = t.cents.saturating_add(s.cents);
        t
    });
    let attention: u64 = page
        .by_status
        .iter()
        .filter(|(s, _)| s.needs_attention())
        .map(|(_, t)| t.count)
        .sum();
    let title = match run {
        Some(id) => format!("payimport reconciliation: run {id}"),
        None => "payimport reconciliation: all runs".to_string(),
    };
    let status_bars: Vec<Bar> = Status::ALL
        .into_iter()
        .filter_map(|s| page.by_status.get(&s).map(|t| (s, t)))
        .map(|(s, t)| Bar {
            label: s.as_str().to_string(),
            segments: vec![(t.cents.0, status_class(s))],
            note: format!("{} · {} row(s)", t.cents, t.count),
        })
        .collect();
    let date_bars: Vec<Bar> = page
        .by_date
        .iter()
        .map(|(date, (settled, open))| Bar {
            label: date.clone(),
            segments: vec![(settled.cents.0, "ok"), (open.cents.0, "warn")],
            note: if open.count > 0 {
                format!("{} posted · {} need attention", settled.cents, open.cents)
            } else {
                format!("{} posted", settled.cents)
            },
        })
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p.sub { "Generated " (generated) " from the payimport ledger." }
                @if attention == 0 {
                    p.verdict.ok id="verdict" { "Every row is posted or already posted: nothing needs attention." }
                } @else {
                    p.verdict.attention id="verdict" { (attention) " row(s) need attention: see the list at the end, each with what to do." }
                }

                h2 { "Runs covered" }
                @if page.runs.is_empty() {
                    p { "No run in the ledger yet." }
                } @else {
                    table id="runs" {
                        tr { th { "run" } th { "command" } th { "source" } th { "started (UTC)" } th { "ended (UTC)" } th { "files" } }
                        @for r in &page.runs {
                            tr {
                                td.num { (r.id) }
                                td { (r.command) }
                                td { (r.source.as_deref().unwrap_or("–")) }
                                td { (r.started_at) }
                                td { (r.ended_at.as_deref().unwrap_or("not ended (interrupted?)")) }
                                td { (r.files.join(", ")) }
                            }
                        }
                    }
                }

                h2 { "Counts and amounts per status" }
                (bar_chart("Amount per status", &status_bars))
                table id="totals" {
                    tr { th { "status" } th { "rows" } th { "amount" } }
                    @for s in Status::ALL {
                        @if let Some(t) = page.by_status.get(&s) {
                            tr data-status=(s.as_str()) {
                                td { span class={ "badge " (status_class(s)) } { (s.as_str()) } }
                                td.num { (t.count) }
                                td.num { (t.cents) }
                            }
                        }
                    }
                    tr.total { td { "total" } td.num { (total.count) } td.num { (total.cents) } }
                }

                h2 { "Amounts per payment date" }
                @if date_bars.is_empty() {
                    p { "No rows." }
                } @else {
                    (bar_chart("Amount per payment date", &date_bars))
                }

                h2 { "Control totals per file" }
                table id="files" {
                    tr { th { "run" } th { "file" } th { "where" } th { "what" } th { "line" } th { "stated" } th { "computed" } th { "" } }
                    @for f in &page.files {
                        @if f.checks.is_empty() {
                            tr {
                                td.num { (f.run) } td { (f.file) }
                                td colspan="6" {
                                    @if f.status == "refused" {
                                        span.mismatch { "refused: " (f.message.as_deref().unwrap_or("")) }
                                    } @else {
                                        "The file states no control totals."
                                    }
                                }
                            }
                        }
                        @for c in &f.checks {
                            tr {
                                td.num { (f.run) } td { (f.file) } td { (c.scope) } td { (c.what) }
                                td.num { (c.line) } td.num { (c.show(c.stated)) } td.num { (c.show(c.computed)) }
                                @if c.stated == c.computed {
                                    td.match { "✓ matches" }
                                } @else {
                                    td.mismatch { "✗ differs" }
                                }
                            }
                        }
                    }
                }

                @if !page.returns.is_empty() {
                    h2 { "Returns and the payments they reverse" }
                    table id="returns" {
                        tr { th { "file:line" } th { "status" } th { "loan" } th { "amount" } th { "returned" } th { "code" } th { "original payment (key)" } th { "message" } }
                        @for r in &page.returns {
                            tr data-key=(r.key) {
                                td { (r.file) ":" (r.line) }
                                td { span class={ "badge " (status_class(r.status)) } { (r.status.as_str()) } }
                                td { (r.loan) }
                                td.num { (r.amount) }
                                td { (r.date) }
                                td { (r.return_code.as_deref().unwrap_or("")) }
                                td { code { (r.original_key.as_deref().unwrap_or("not matched")) } }
                                td { (r.message.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }

                h2 { "Rows that need attention" }
                @if page.attention.is_empty() {
                    p { "None." }
                } @else {
                    table id="attention" {
                        tr { th { "file:line" } th { "status" } th { "loan" } th { "amount" } th { "date" } th { "key" } th { "message" } th { "what to do" } }
                        @for r in &page.attention {
                            tr data-key=(r.key) {
                                td { (r.file) ":" (r.line) }
                                td { span class={ "badge " (status_class(r.status)) } { (r.status.as_str()) } }
                                td { (r.loan) }
                                td.num { (r.amount) }
                                td { (r.date) }
                                td { code { (r.key) } }
                                td { (r.message.as_deref().unwrap_or("")) }
                                td { (what_to_do(r.status)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
