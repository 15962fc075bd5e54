//! The camt reader against the fixtures in tests/data/camt/, one behaviour of
//! docs/formats.md#camt each.

use std::io::Cursor;
use std::sync::Arc;

use super::*;
use crate::read::ControlTotals;

/// What a file gave: its rows, its control checks and the file error that ended it, if any.
struct Read {
    rows: Vec<RawRow>,
    checks: Vec<ControlCheck>,
    error: Option<FileError>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/camt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read_with(bytes: Vec<u8>, options: &CamtOptions, mode: ControlTotals) -> Read {
    let file: Arc<str> = "f.xml".into();
    let mut reader = match CamtReader::new(file, Cursor::new(bytes), options, mode) {
        Ok(r) => r,
        Err(e) => {
            return Read {
                rows: Vec::new(),
                checks: Vec::new(),
                error: Some(e),
            };
        }
    };
    let mut rows = Vec::new();
    let mut error = None;
    for row in reader.by_ref() {
        match row {
            Ok(r) => rows.push(r),
            Err(e) => error = Some(e),
        }
    }
    Read {
        rows,
        checks: reader.control_checks().to_vec(),
        error,
    }
}

fn pattern_options() -> CamtOptions {
    CamtOptions {
        loan_pattern: Some(r"LOAN\s*#?\s*(\d+)".into()),
        ..CamtOptions::default()
    }
}

fn read(name: &str) -> Read {
    read_with(fixture(name), &pattern_options(), ControlTotals::Enforce)
}

/// (line, loan, amount, date, reference) of each row.
fn summary(rows: &[RawRow]) -> Vec<(u64, String, String, String, String)> {
    rows.iter()
        .map(|r| {
            let f = &r.fields;
            (
                r.pos.line,
                f.loan.clone(),
                f.amount.to_string(),
                f.date.clone(),
                f.reference.clone(),
            )
        })
        .collect()
}

fn row(
    line: u64,
    loan: &str,
    amount: &str,
    date: &str,
    reference: &str,
) -> (u64, String, String, String, String) {
    (
        line,
        loan.into(),
        amount.into(),
        date.into(),
        reference.into(),
    )
}

fn skipped(checks: &[ControlCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.what == Counted::Skipped)
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn booked_credits_are_payments_and_a_debit_is_counted_with_its_amount() {
    let r = read("basic.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            row(25, "101", "250.00", "2026-11-20", "E2E-LOAN-101"),
            // NOTPROVIDED is no end-to-end id: the loan from the remittance text, the
            // reference the bank's AcctSvcrRef.
            row(44, "102", "125.50", "2026-11-20", "BANKREF-0002"),
        ]
    );
    assert!(r.rows.iter().all(|r| r.fields.ret.is_none()));
    assert!(matches!(
        r.rows[0].fields.amount,
        RawAmount::Cents(Cents(25_000))
    ));
    assert_eq!(
        skipped(&r.checks),
        [
            "statement STMT-20261120-1 account 123456789: debit entries totalling 12.00: 1 payment detail(s) skipped, not sent"
        ]
    );
    let totals: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.what != Counted::Skipped)
        .collect();
    assert_eq!(totals.len(), 2);
    assert!(totals.iter().all(|c| c.matches()), "{totals:?}");
}

#[test]
fn version_02_with_a_prefix_plain_status_tx_amounts_and_booking_date_times() {
    let r = read("v02-prefixed.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            // The booking date-time's own date (in its own offset), not the value date.
            row(9, "201", "80.00", "2026-11-19", "201"),
            // No offset: the date as written.
            row(22, "202", "81.00", "2026-11-18", "202"),
        ]
    );
}

#[test]
fn no_namespace_and_the_date_fallbacks() {
    let r = read("no-namespace.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            row(9, "301", "10.00", "2026-11-17", "301"),
            // No booking or value date: the statement's CreDtTm (not the group header's).
            row(14, "302", "11.00", "2026-11-21", "302"),
        ]
    );
}

#[test]
fn a_national_namespace_in_iso_8859_15() {
    let bytes = fixture("national-latin9.053.xml");
    assert!(
        bytes.contains(&0xA4),
        "the fixture holds a Latin-9 euro sign"
    );
    let r = read_with(bytes, &pattern_options(), ControlTotals::Enforce);
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [row(8, "401", "99.90", "2026-11-20", "AT-REF-1")]
    );
}

#[test]
fn a_notification_inside_an_app_header_envelope() {
    let r = read("envelope.054.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [row(19, "501", "64.25", "2026-11-20", "E2E-501")]
    );
}

#[test]
fn a_camt_052_is_refused_with_a_message_saying_so() {
    let r = read("intraday.052.xml");
    assert!(r.rows.is_empty());
    let e = r.error.expect("refused").to_string();
    assert!(e.contains("camt.052"), "{e}");
    // Without its namespace, the report element still tells.
    let text = String::from_utf8(fixture("intraday.052.xml"))
        .unwrap()
        .replace(
            " xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.052.001.08\"",
            "",
        );
    let r = read_with(
        text.into_bytes(),
        &pattern_options(),
        ControlTotals::Enforce,
    );
    assert!(r.error.expect("refused").to_string().contains("camt.052"));
}

#[test]
fn another_document_type_is_refused() {
    let text = String::from_utf8(fixture("basic.053.xml"))
        .unwrap()
        .replace("camt.053.001.08", "pain.001.001.09");
    let r = read_with(
        text.into_bytes(),
        &pattern_options(),
        ControlTotals::Enforce,
    );
    let e = r.error.expect("refused").to_string();
    assert!(e.contains("pain.001.001.09"), "{e}");
}

#[test]
fn several_statements_each_with_its_own_account_and_another_currency_rejected() {
    let r = read("two-statements.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            row(9, "601", "100.00", "2026-11-20", "601"),
            row(14, "602", "50.00 CAD", "2026-11-20", "602"),
            row(24, "603", "70.00", "2026-11-20", "603"),
        ]
    );
    // The CAD amount is text validation refuses: never converted.
    assert!(matches!(&r.rows[1].fields.amount, RawAmount::Text(t) if t == "50.00 CAD"));
    let scopes: Vec<&str> = r.checks.iter().map(|c| c.scope.as_str()).collect();
    assert!(scopes.contains(&"statement TWO-A account 111111 credit entries"));
    assert!(scopes.contains(&"statement TWO-B account 222222 credit entries"));

    // Only the listed account: the other statement's entries are counted, not read.
    let options = CamtOptions {
        accounts: vec!["222222".into()],
        ..pattern_options()
    };
    let r = read_with(
        fixture("two-statements.053.xml"),
        &options,
        ControlTotals::Enforce,
    );
    assert_eq!(
        summary(&r.rows),
        [row(24, "603", "70.00", "2026-11-20", "603")]
    );
    assert_eq!(
        skipped(&r.checks),
        [
            "statement TWO-A account 111111: entries of an account not in `accounts` totalling 150.00: 2 payment detail(s) skipped, not sent"
        ]
    );
}

#[test]
fn auto_unit_splits_details_that_add_up_and_keeps_entries_whose_do_not() {
    let r = read("batches.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            row(14, "701", "100.00", "2026-11-20", "701"),
            row(15, "702", "150.00", "2026-11-20", "702"),
            row(16, "703", "50.00", "2026-11-20", "703"),
            // 100 + 100 is not 195 (charges deducted): one payment of what was booked, the
            // loan both details name, the bank's repeated reference.
            row(19, "704", "195.00", "2026-11-20", "SAME-REF"),
            // A batch with NbOfTxs and no details: one payment, loan from AddtlNtryInf.
            row(28, "705", "999.00", "2026-11-20", "SAME-REF"),
        ]
    );
}

#[test]
fn unit_detail_and_unit_entry() {
    let detail = CamtOptions {
        unit: Unit::Detail,
        ..pattern_options()
    };
    let r = read_with(fixture("batches.053.xml"), &detail, ControlTotals::Enforce);
    let amounts: Vec<String> = r.rows.iter().map(|r| r.fields.amount.to_string()).collect();
    assert_eq!(
        amounts,
        ["100.00", "150.00", "50.00", "100.00", "100.00", "999.00"]
    );

    let entry = CamtOptions {
        unit: Unit::Entry,
        ..pattern_options()
    };
    let r = read_with(fixture("batches.053.xml"), &entry, ControlTotals::Enforce);
    assert_eq!(
        summary(&r.rows),
        [
            // Three details, three loans: no one loan for the entry.
            row(8, "", "300.00", "2026-11-20", "SAME-REF"),
            row(19, "704", "195.00", "2026-11-20", "SAME-REF"),
            row(28, "705", "999.00", "2026-11-20", "SAME-REF"),
        ]
    );
}

#[test]
fn returns_from_rtrinf_with_a_nacha_code_and_from_a_reversal() {
    let r = read("returns.053.xml");
    assert_eq!(r.error, None);
    assert_eq!(
        summary(&r.rows),
        [
            row(8, "101", "250.00", "2026-11-24", "E2E-LOAN-101"),
            // The booking date, though the value date is earlier.
            row(20, "102", "125.50", "2026-11-24", "RET-B"),
        ]
    );
    let rets: Vec<(String, String)> = r
        .rows
        .iter()
        .map(|r| {
            let ret = r.fields.ret.as_ref().expect("a return");
            (ret.code.clone(), ret.original_reference.clone())
        })
        .collect();
    assert_eq!(
        rets,
        [
            ("R02".to_string(), "E2E-LOAN-101".to_string()),
            ("AC04".to_string(), "INSTR-102".to_string()),
        ]
    );
    // Debits, yet amounts are never negated: the direction is CdtDbtInd's.
    assert!(matches!(
        r.rows[1].fields.amount,
        RawAmount::Cents(Cents(12_550))
    ));
}

#[test]
fn pending_information_and_filtered_codes_are_counted_not_paid() {
    let options = CamtOptions {
        bank_transaction_codes: vec!["PMNT-RCDT-ESCT".into(), "175".into()],
        ..pattern_options()
    };
    let r = read_with(
        fixture("not-payments.054.xml"),
        &options,
        ControlTotals::Enforce,
    );
    assert_eq!(r.error, None);
    let loans: Vec<&str> = r.rows.iter().map(|r| r.fields.loan.as_str()).collect();
    assert_eq!(loans, ["804", "805"]);
    assert_eq!(
        skipped(&r.checks),
        [
            "statement NP-1 account 123456789: pending (PDNG) entries totalling 40.00: 1 payment detail(s) skipped, not sent",
            "statement NP-1 account 123456789: information (INFO) entries totalling 41.00: 1 payment detail(s) skipped, not sent",
            "statement NP-1 account 123456789: credits outside `bank_transaction_codes` totalling 42.00: 1 payment detail(s) skipped, not sent",
        ]
    );
    // Wildcards.
    let options = CamtOptions {
        bank_transaction_codes: vec!["PMNT-*-*".into()],
        ..pattern_options()
    };
    let r = read_with(
        fixture("not-payments.054.xml"),
        &options,
        ControlTotals::Enforce,
    );
    let loans: Vec<&str> = r.rows.iter().map(|r| r.fields.loan.as_str()).collect();
    assert_eq!(loans, ["803", "804"]);
}

#[test]
fn not_well_formed_and_two_documents_are_refused_whole() {
    let r = read("not-well-formed.053.xml");
    let e = r.error.expect("refused").to_string();
    assert!(e.contains("not well-formed"), "{e}");
    assert!(e.starts_with("f.xml:7:"), "{e}");

    let r = read("two-documents.053.xml");
    let e = r.error.expect("refused").to_string();
    assert!(e.contains("two documents"), "{e}");

    // Cut short: the file ends inside the document.
    let mut bytes = fixture("basic.053.xml");
    bytes.truncate(bytes.len() / 2);
    let r = read_with(bytes, &pattern_options(), ControlTotals::Enforce);
    let e = r.error.expect("refused").to_string();
    assert!(
        e.contains("cut short") || e.contains("not well-formed"),
        "{e}"
    );

    for junk in [&b""[..], b"not xml at all", b"<?xml version=\"1.0\"?><a/>"] {
        let r = read_with(junk.to_vec(), &pattern_options(), ControlTotals::Enforce);
        assert!(r.error.is_some(), "{junk:?}");
    }
}

#[test]
fn stated_totals_are_enforced_or_warned_and_extra_decimals_only_when_zero() {
    let r = read("totals-and-decimals.053.xml");
    let e = r.error.expect("enforced").to_string();
    assert!(
        e.contains("statement TOT-1 account 123456789 credit entries items: stated 3, computed 2"),
        "{e}"
    );

    let r = read_with(
        fixture("totals-and-decimals.053.xml"),
        &pattern_options(),
        ControlTotals::Warn,
    );
    assert_eq!(r.error, None);
    let amounts: Vec<String> = r.rows.iter().map(|r| r.fields.amount.to_string()).collect();
    // 100.500 is 100.50 exactly; 100.005 is no amount in cents: validation rejects it.
    assert_eq!(amounts, ["100.50", "100.005"]);
    assert!(matches!(&r.rows[1].fields.amount, RawAmount::Text(_)));
    assert!(r.checks.iter().any(|c| !c.matches()));
}

#[test]
fn decimal_amounts_to_cents_exactly() {
    for (text, cents) in [("1", 100), ("1.5", 150), ("0.07", 7), ("12.340000", 1234)] {
        assert_eq!(decimal_cents(text), Some(cents), "{text}");
    }
    for text in [
        "",
        "-1.00",
        "1.005",
        "1e3",
        "1.",
        ".5",
        "1,00",
        "9999999999999999",
    ] {
        assert_eq!(decimal_cents(text), None, "{text}");
    }
}

#[test]
fn every_version_from_02_to_13_is_read() {
    let text = String::from_utf8(fixture("basic.053.xml")).unwrap();
    for v in 2..=13 {
        let versioned = text.replace("camt.053.001.08", &format!("camt.053.001.{v:02}"));
        let r = read_with(
            versioned.into_bytes(),
            &pattern_options(),
            ControlTotals::Enforce,
        );
        assert_eq!((r.error, r.rows.len()), (None, 2), "version {v}");
    }
}

#[test]
fn options_are_checked() {
    let bad = |o: CamtOptions| o.validate().unwrap_err();
    assert_eq!(
        bad(CamtOptions {
            loan_pattern: Some("LOAN".into()),
            ..CamtOptions::default()
        })
        .0,
        "loan_pattern"
    );
    assert_eq!(
        bad(CamtOptions {
            bank_transaction_codes: vec!["PMNT-RCDT".into()],
            ..CamtOptions::default()
        })
        .0,
        "bank_transaction_codes"
    );
    assert_eq!(
        bad(CamtOptions {
            loan_from: vec![],
            ..CamtOptions::default()
        })
        .0,
        "loan_from"
    );
}
