//! The reconciliation report as one self-contained HTML page (`report --format html`), in the
//! order a controller reads it (docs/report.md): the tie-out of each bank file (and deposit), then
//! every open problem once with what to do, then the detail (returns beside the payments they
//! reverse, the runs covered).
//!
//! One file with its style inline, no script, no font and nothing fetched (its
//! Content-Security-Policy forbids both): it opens offline in any browser and can be mailed.
//! Built with maud, which escapes every value, so a loan number or a LoanPro message can never
//! become markup; invisible characters in a value are written out ([`super::visible`]), so a
//! file name cannot pretend to be another. Every list shows at most [`LIMIT`] rows and says how
//! to export the rest, so the page stays small whatever the night (docs/report.md).

use std::io::Write;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::select::Selection;
use super::visible::{CONTENT_SECURITY_POLICY, visible};
use crate::ledger::{
    FileTieOut, Ledger, Listed, OriginalPayment, ReportRow, RunInfo, Status, Tally,
};
use crate::money::Cents;

/// The most rows of any one list the page shows.
pub const LIMIT: u64 = 1000;

/// Values longer than this are cut on the page (the CSV export has them whole).
const LONGEST: usize = 300;

/// What the page shows, gathered from the ledger.
struct Page {
    selection: Selection,
    runs: Vec<RunInfo>,
    tieout: Vec<FileTieOut>,
    attention: Listed<ReportRow>,
    returns: Listed<(ReportRow, Option<OriginalPayment>)>,
    reconciliation: Option<crate::ledger::Reconciliation>,
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

/// Writes the HTML report of the selection.
pub fn write_html(ledger: &Ledger, sel: &Selection, out: &mut impl Write) -> anyhow::Result<()> {
    let page = Page {
        selection: sel.clone(),
        runs: ledger
            .runs()?
            .into_iter()
            .filter(|r| sel.runs.contains(&r.id))
            .collect(),
        tieout: ledger.tie_out(&sel.runs, sel.file.as_deref())?,
        attention: ledger.open_problems(&sel.runs, LIMIT)?,
        returns: ledger.returns_with_originals(&sel.runs, LIMIT)?,
        reconciliation: ledger.last_reconciliation(LIMIT)?,
    };
    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    // The page's own text holds no invisible character: every one left is in a shown value.
    let page = render(&page, &generated).into_string();
    out.write_all(visible(&page).as_bytes())?;
    Ok(())
}

/// The CSS class of a state's badge: settled, refused (a person must correct something), open.
fn status_class(status: Status) -> &'static str {
    match status {
        Status::Posted | Status::AlreadyPosted => "ok",
        // Settled by a person (docs/states.md).
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

/// A value cut to [`LONGEST`] characters.
fn cut(s: &str) -> String {
    match s.char_indices().nth(LONGEST) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2328; background: #fff; margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; overflow-wrap: anywhere; }
.sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f6f8fa; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .85rem; color: #fff; }
.badge.ok { background: #1a7f37; } .badge.bad { background: #cf222e; } .badge.warn { background: #9a6700; }
.verdict { padding: .6rem 1rem; border-radius: .4rem; font-weight: bold; }
.verdict.ok { background: #dafbe1; } .verdict.attention { background: #fff8c5; }
.mismatch { color: #cf222e; font-weight: bold; } .match { color: #1a7f37; }
.more { color: #59636e; font-style: italic; }
code { font-size: .85rem; overflow-wrap: anywhere; }
/* A narrow screen (a phone, 390 px): tables become stacked cards, each cell labelled. */
@media (max-width: 640px) {
  body { margin: .5rem auto; padding: 0 .5rem; }
  table, tbody, tr, td { display: block; width: 100%; box-sizing: border-box; }
  tr.head { display: none; }
  tr { border: 1px solid #d0d7de; border-radius: .3rem; margin: 0 0 .6rem; }
  td { border: none; border-bottom: 1px solid #eaeef2; text-align: left; white-space: normal; }
  td.num { text-align: left; }
  td[data-label]::before { content: attr(data-label) ": "; font-weight: bold; color: #59636e; }
}
/* Printed: black on white, each table whole where it fits, no screen-only parts. */
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .noprint { display: none; }
  h2 { break-after: avoid; } tr { break-inside: avoid; }
  .badge { color: #000; background: none !important; border: 1px solid #000; }
  .verdict { background: none !important; border: 1px solid #000; }
}
"#;

/// "and N more" under a list cut at [`LIMIT`], with the command that exports them all.
fn more(shown: usize, total: u64, export: &str) -> Markup {
    html! {
        @if total > shown as u64 {
            p.more { "and " (total - shown as u64) " more: " code { (export) } }
        }
    }
}

fn tally_cells(stated: Cents, tally: &Tally, balances: bool) -> Markup {
    let already = tally.already_posted_total();
    html! {
        td.num data-label="stated" { (stated) }
        td.num data-label="posted" { (tally.posted.amount) }
        td.num data-label="already posted" {
            (already.amount)
            @for (f, s) in &tally.already_posted {
                br; span.sub { "from " (cut(f)) " (" (s.count) ")" }
            }
        }
        td.num data-label="rejected" {
            (tally.rejected.amount)
            @if tally.rejected_unreadable > 0 {
                br; span.sub { (tally.rejected_unreadable) " unreadable" }
            }
        }
        td.num data-label="not payments" { (tally.not_payments.amount) }
        td.num data-label="still open" { (tally.open.amount) }
        td.num data-label="settled elsewhere" { (tally.dismissed.amount) }
        @if balances {
            td.match data-label="ties out" { "✓ balances" }
        } @else {
            td.mismatch data-label="ties out" {
                "✗ differs by " (Cents(stated.0.saturating_sub(tally.accounted().0)))
            }
        }
        td.num data-label="reversed since" { (tally.reversed.amount) }
        td.num data-label="net" { (tally.net()) }
    }
}

fn render(page: &Page, generated: &str) -> Markup {
    let sel = &page.selection;
    let title = format!("payimport reconciliation: {}", sel.described);
    let unbalanced = page.tieout.iter().filter(|f| !f.balances).count();
    let attention = page.attention.total;
    let export = |by: &str| format!("payimport report --format csv{by}{}", sel.args);
    // Lines of the tie-out table (files and their deposits), at most LIMIT.
    let mut budget = LIMIT as usize;
    let tie_lines: usize = page.tieout.iter().map(|f| 1 + f.deposits.len()).sum();
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
                @if attention == 0 && unbalanced == 0 {
                    p.verdict.ok id="verdict" { "Every file ties out and nothing needs attention." }
                } @else {
                    p.verdict.attention id="verdict" {
                        @if unbalanced > 0 { (unbalanced) " file(s) do not tie out. " }
                        @if attention > 0 { (attention) " row(s) need attention: see below, each with what to do." }
                    }
                }

                h2 { "Tie-out per bank file" }
                p.sub { "stated = posted + already posted + rejected + not payments + still open + settled elsewhere (dismissed by a person, nothing sent); an amended row counts once, where its corrected copy stands; then reversed since, and net (posted less reversed)." }
                @if page.tieout.is_empty() {
                    p { "No file in this selection." }
                } @else {
                    table id="tieout" {
                        tr.head { th { "file / deposit" } th { "stated" } th { "posted" } th { "already posted" } th { "rejected" } th { "not payments" } th { "still open" } th { "settled elsewhere" } th { "ties out" } th { "reversed since" } th { "net" } }
                        @for f in &page.tieout {
                            @if budget > 0 {
                                ({ budget -= 1; "" })
                                tr.file data-file=(f.file) data-balances=(if f.balances { "yes" } else { "no" }) {
                                    td data-label="file" {
                                        strong { (cut(&f.file)) }
                                        br; span.sub { "run(s) " (f.runs.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")) "; " (f.stated_from) }
                                        @if f.status == "refused" {
                                            br; span.mismatch { "refused, nothing of it sent: " (cut(f.message.as_deref().unwrap_or(""))) }
                                        }
                                    }
                                    (tally_cells(f.stated, &f.tally, f.balances))
                                }
                                @for d in &f.deposits {
                                    @if budget > 0 {
                                        ({ budget -= 1; "" })
                                        tr.deposit data-balances=(if d.balances { "yes" } else { "no" }) {
                                            td data-label="deposit" { "↳ " (d.scope) " (line " (d.line) ")" }
                                            (tally_cells(d.stated, &d.tally, d.balances))
                                        }
                                    }
                                }
                            }
                        }
                    }
                    (more(LIMIT.min(tie_lines as u64) as usize, tie_lines as u64, &export(" --by file")))
                    @let nps: Vec<(&FileTieOut, &crate::ledger::NotPaymentEntry)> = page.tieout.iter().flat_map(|f| f.not_payments.iter().map(move |n| (f, n))).collect();
                    @if !nps.is_empty() {
                        h3 { "Not payments: read, never sent" }
                        table id="not-payments" {
                            tr.head { th { "file:line" } th { "code" } th { "amount" } th { "why" } }
                            @for (f, n) in nps.iter().take(LIMIT as usize) {
                                tr {
                                    td data-label="file:line" { (cut(&f.file)) ":" (n.line) }
                                    td data-label="code" { (n.code) }
                                    td.num data-label="amount" { (n.amount.map(|a| a.to_string()).unwrap_or_else(|| "unreadable".into())) }
                                    td data-label="why" { (n.why) }
                                }
                            }
                        }
                        (more(nps.len().min(LIMIT as usize), nps.len() as u64, &export(" --by file")))
                    }
                }

                h2 { "Needs attention" }
                @if page.attention.rows.is_empty() {
                    p { "Nothing." }
                } @else {
                    table id="attention" {
                        tr.head { th { "file:line" } th { "status" } th { "loan" } th { "amount" } th { "date" } th { "key" } th { "message" } th { "what to do" } }
                        @for r in &page.attention.rows {
                            tr data-key=(r.key) {
                                td data-label="file:line" { (cut(&r.file)) ":" (r.line) }
                                td data-label="status" { span class={ "badge " (status_class(r.status)) } { (r.status.as_str()) } }
                                td data-label="loan" { (cut(&r.loan)) }
                                td.num data-label="amount" { (cut(&r.amount.to_string())) }
                                td data-label="date" { (cut(&r.date)) }
                                td data-label="key" { code { (r.key) } }
                                td data-label="message" { (cut(r.message.as_deref().unwrap_or(""))) }
                                td data-label="what to do" { (what_to_do(r.status)) }
                            }
                        }
                    }
                    (more(page.attention.rows.len(), page.attention.total, &export("")))
                }

                @if let Some(rec) = &page.reconciliation {
                    h2 { "LoanPro's side" }
                    p id="reconciliation" {
                        "Last `payimport reconcile` (" (rec.started_at) "): " (rec.loans) " loan(s), "
                        (rec.payments) " payment(s) logged or reversed " (rec.since) " to " (rec.until) ": "
                        @if rec.outcome.as_deref() == Some("failed") {
                            span.mismatch { "could not finish: " (cut(rec.message.as_deref().unwrap_or(""))) }
                        } @else if rec.drift_count == 0 {
                            span.match { "✓ LoanPro holds every payment as the ledger says." }
                        } @else {
                            span.mismatch { "✗ " (rec.drift_count) " difference(s)." }
                        }
                    }
                    @if !rec.drift.is_empty() {
                        table id="drift" {
                            tr.head { th { "drift" } th { "loan" } th { "key" } th { "ledger" } th { "LoanPro" } th { "what to do" } }
                            @for d in &rec.drift {
                                tr {
                                    td data-label="drift" { (d.kind) }
                                    td.num data-label="loan" { (d.loan_id) }
                                    td data-label="key" { code { (d.key.as_deref().unwrap_or("")) } }
                                    td data-label="ledger" { (cut(d.ledger_value.as_deref().unwrap_or(""))) }
                                    td data-label="LoanPro" { (cut(d.loanpro_value.as_deref().unwrap_or(""))) }
                                    td data-label="what to do" { (crate::drift::DriftKind::parse(&d.kind).map_or("", |k| k.what_to_do())) }
                                }
                            }
                        }
                        (more(rec.drift.len(), rec.drift_count as u64, "payimport report --format json"))
                    }
                }

                h2 { "Detail" }
                @if !page.returns.rows.is_empty() {
                    h3 { "Returns and the payments they reverse" }
                    table id="returns" {
                        tr.head { th { "return (file:line)" } th { "status" } th { "loan" } th { "amount" } th { "returned" } th { "code" } th { "original payment" } th { "its state" } }
                        @for (r, o) in &page.returns.rows {
                            tr data-key=(r.key) {
                                td data-label="return" { (cut(&r.file)) ":" (r.line) }
                                td data-label="status" { span class={ "badge " (status_class(r.status)) } { (return_state(r.status)) } }
                                td data-label="loan" { (cut(&r.loan)) }
                                td.num data-label="amount" { (cut(&r.amount.to_string())) }
                                td data-label="returned" { (cut(&r.date)) }
                                td data-label="code" { (cut(r.return_code.as_deref().unwrap_or(""))) }
                                @match o {
                                    Some(o) => {
                                        td.original data-label="original" {
                                            (cut(&o.file)) ":" (o.line) ", " (o.date) ", ref " (cut(&o.reference)) ", "
                                            (o.amount.map(|a| a.to_string()).unwrap_or_default())
                                        }
                                        td data-label="its state" { (o.status.as_str()) }
                                    }
                                    None => {
                                        td data-label="original" { "not matched: " (cut(r.message.as_deref().unwrap_or(""))) }
                                        td data-label="its state" { "–" }
                                    }
                                }
                            }
                        }
                    }
                    (more(page.returns.rows.len(), page.returns.total, &export("")))
                }

                h3 { "Runs covered" }
                @if page.runs.is_empty() {
                    p { "No run in this selection." }
                } @else {
                    table id="runs" {
                        tr.head { th { "run" } th { "command" } th { "source" } th { "started (UTC)" } th { "ended (UTC)" } }
                        @for r in page.runs.iter().take(LIMIT as usize) {
                            tr {
                                td.num data-label="run" { (r.id) }
                                td data-label="command" { (r.command) }
                                td data-label="source" { (r.source.as_deref().unwrap_or("–")) }
                                td data-label="started" { (r.started_at) }
                                td data-label="ended" { (r.ended_at.as_deref().unwrap_or("not ended (interrupted?)")) }
                            }
                        }
                    }
                    (more(page.runs.len().min(LIMIT as usize), page.runs.len() as u64, "payimport runs"))
                }
            }
        }
    }
}

/// How a return's state reads beside it: `posted` means its reversal was logged.
fn return_state(status: Status) -> &'static str {
    match status {
        Status::Posted => "reversal logged",
        Status::AlreadyPosted => "reversed earlier",
        other => other.as_str(),
    }
}
