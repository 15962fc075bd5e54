//! The lockbox reader's tests: the fixtures under tests/data/lockbox/, layouts, damaged input.

use std::fs::File;
use std::io::BufReader;

use chrono::NaiveDate;

use super::*;
use crate::read::control::Counted;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lockbox/");

/// What reading a whole input gives: the rows, the error that ended it, the checks.
struct Read {
    rows: Vec<RawRow>,
    error: Option<FileError>,
    checks: Vec<ControlCheck>,
}

fn read_from(
    name: &str,
    input: impl BufRead,
    layout: &LockboxLayout,
    mode: impl Into<crate::read::ControlModes>,
) -> Read {
    let mut reader = LockboxReader::new(name.into(), input, layout, mode).unwrap();
    let mut rows = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(row) => rows.push(row),
            Err(e) => {
                assert!(error.is_none(), "a second error after {error:?}: {e}");
                error = Some(e);
            }
        }
    }
    assert!(reader.next().is_none(), "the reader goes on after its end");
    Read {
        rows,
        error,
        checks: reader.control_checks().to_vec(),
    }
}

fn read_fixture(name: &str, mode: ControlTotals) -> Read {
    let file = File::open(format!("{DIR}{name}")).unwrap();
    read_from(name, BufReader::new(file), &LockboxLayout::default(), mode)
}

fn error_of(name: &str) -> String {
    let read = read_fixture(name, ControlTotals::Enforce);
    read.error
        .unwrap_or_else(|| panic!("{name} reads without an error"))
        .to_string()
}

fn row(file: &str, line: u64, loan: &str, amount: &str, date: &str, reference: &str) -> RawRow {
    RawRow {
        pos: Position {
            file: file.into(),
            line,
        },
        fields: RawFields {
            loan: loan.into(),
            amount: RawAmount::Cents(cents(amount)),
            date: date.into(),
            reference: reference.into(),
            ..RawFields::default()
        },
    }
}

/// Cents from an amount written as the reader's rows show it, e.g. `1234.50`.
fn cents(amount: &str) -> Cents {
    let (whole, hundredths) = amount.split_once('.').expect("two decimals");
    assert_eq!(hundredths.len(), 2, "{amount}");
    Cents(whole.parse::<i64>().unwrap() * 100 + hundredths.parse::<i64>().unwrap())
}

fn good_rows(file: &str) -> Vec<RawRow> {
    let (d1, d2) = ("2026-11-18", "2026-11-20");
    vec![
        row(file, 4, "LN000123", "250.00", d1, "1234567-001-001 10442"),
        row(file, 6, "LN000456", "1234.50", d1, "1234567-001-002 2087"),
        row(file, 10, "LN000007", "75.25", d1, "1234567-001-003 331"),
        row(file, 13, "LN000999", "500.00", d1, "1234567-002-001 5120"),
        row(file, 15, "LN001000", "99.99", d1, "1234567-002-002 778"),
        row(file, 21, "LN000042", "1000.00", d2, "7654321-001-001 90001"),
        row(file, 23, "LN000314", "314.16", d2, "7654321-001-002 1207"),
    ]
}

fn check(scope: &str, what: Counted, line: u64, stated: i64, computed: i64) -> ControlCheck {
    ControlCheck {
        scope: scope.into(),
        what,
        line,
        stated,
        computed,
    }
}

#[test]
fn good_file_rows_and_control_totals() {
    for name in ["good.lbx", "good_lf.lbx"] {
        let read = read_fixture(name, ControlTotals::Enforce);
        assert_eq!(read.error, None, "{name}");
        assert_eq!(read.rows, good_rows(name), "{name}");
        let b1 = "batch 001 of lockbox 1234567";
        let b2 = "batch 002 of lockbox 1234567";
        let b3 = "batch 001 of lockbox 7654321";
        assert_eq!(
            read.checks,
            vec![
                check(b1, Counted::Items, 12, 3, 3),
                check(b1, Counted::Amount, 12, 155975, 155975),
                check(b2, Counted::Items, 18, 2, 2),
                check(b2, Counted::Amount, 18, 59999, 59999),
                check("lockbox 1234567", Counted::Items, 19, 5, 5),
                check("lockbox 1234567", Counted::Amount, 19, 215974, 215974),
                check(b3, Counted::Items, 25, 2, 2),
                check(b3, Counted::Amount, 25, 131416, 131416),
                check("lockbox 7654321", Counted::Items, 26, 2, 2),
                check("lockbox 7654321", Counted::Amount, 26, 131416, 131416),
                check("file", Counted::Records, 27, 27, 27),
            ],
            "{name}"
        );
        assert!(read.checks.iter().all(ControlCheck::matches));
    }
}

#[test]
fn broken_fixtures_name_line_and_record() {
    let cases = [
        (
            "wrong_batch_total.lbx",
            "wrong_batch_total.lbx:8: batch 001 of lockbox 1234567 amount: stated 1500.00, computed 1400.00",
        ),
        (
            "wrong_count.lbx",
            "wrong_count.lbx:10: file records: stated 12, computed 10",
        ),
        (
            "wrong_lockbox_total.lbx",
            "wrong_lockbox_total.lbx:9: lockbox 1234567 amount: stated 1410.00, computed 1400.00",
        ),
        (
            "missing_trailer.lbx",
            "missing_trailer.lbx:9: the file ends without a file trailer (9) record; it may be truncated",
        ),
        (
            "truncated.lbx",
            "truncated.lbx:6: the record ends before detail_amount (columns 8-17); it has 12 characters: \"600100200000\"",
        ),
        (
            "detail_before_header.lbx",
            "detail_before_header.lbx:3: a detail (6) record before any lockbox header (5): \"600100300000250000210000214455667788    ...\"",
        ),
        (
            "overflow_without_detail.lbx",
            "overflow_without_detail.lbx:7: an overflow (4) record with no detail (6) before it: \"40020014019LN000999\"",
        ),
        (
            "bad_amount.lbx",
            "bad_amount.lbx:6: detail_amount (columns 8-17) must be digits only, got \"00001O2500\"",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(error_of(name), expected);
    }
    // The rows before the trouble were read; the error ends the file.
    let read = read_fixture("truncated.lbx", ControlTotals::Enforce);
    assert_eq!(read.rows.len(), 1);
    let read = read_fixture("wrong_batch_total.lbx", ControlTotals::Enforce);
    assert_eq!(read.rows.len(), 2);
    assert_eq!(
        read.checks.len(),
        2,
        "both totals of the batch are recorded"
    );
}

#[test]
fn warn_mode_reads_on_and_records_the_mismatch() {
    let read = read_fixture("wrong_batch_total.lbx", ControlTotals::Warn);
    assert_eq!(read.error, None);
    let loans: Vec<_> = read.rows.iter().map(|r| r.fields.loan.as_str()).collect();
    assert_eq!(loans, ["LN000200", "LN000201"]);
    let wrong: Vec<_> = read.checks.iter().filter(|c| !c.matches()).collect();
    assert_eq!(
        wrong,
        [&check(
            "batch 001 of lockbox 1234567",
            Counted::Amount,
            8,
            150000,
            140000
        )]
    );
    assert_eq!(read.checks.len(), 5);

    let read = read_fixture("wrong_count.lbx", ControlTotals::Warn);
    assert_eq!((read.rows.len(), read.error), (2, None));
    assert_eq!(
        read.checks.last(),
        Some(&check("file", Counted::Records, 10, 12, 10))
    );
}

/// Records to the default layout, for the tests below.
fn records(lines: &[&str]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn read_text(text: &[u8], layout: &LockboxLayout) -> Read {
    read_from("t.lbx", text, layout, ControlTotals::Enforce)
}

const HEAD: &str = "1";
const LOCKBOX: &str = "5001   1234567261118";
const DETAIL: &str = "60010010000001000                   0000000042";
const OVERFLOW: &str = "40010014019LN000001";
const BATCH: &str = "700100012345672611180010000001000";
const TOTAL: &str = "8000000123456726111800010000001000";

#[test]
fn a_minimal_file_and_its_structure_errors() {
    let ok = read_text(
        &records(&[HEAD, LOCKBOX, DETAIL, OVERFLOW, BATCH, TOTAL, "9000007"]),
        &LockboxLayout::default(),
    );
    assert_eq!(ok.error, None);
    assert_eq!(
        ok.rows,
        [row(
            "t.lbx",
            3,
            "LN000001",
            "10.00",
            "2026-11-18",
            "1234567-001-001 0000000042"
        )]
    );

    let error = |lines: &[&str]| {
        read_text(&records(lines), &LockboxLayout::default())
            .error
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        error(&[LOCKBOX]),
        "t.lbx:1: a lockbox header (5) record before the file header (1): \"5001   1234567261118\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, BATCH]),
        "t.lbx:3: a batch total (7) for batch 001, which has no details (6): \"700100012345672611180010000001000\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "3 what is this"]),
        "t.lbx:4: an unknown record type \"3\": \"3 what is this\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, OVERFLOW, "40010014029LN000002"]),
        "t.lbx:5: an overflow (4) record after the one flagged last on line 4: \"40010014029LN000002\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "40010014010LN000001", "40010014039X"]),
        "t.lbx:5: overflow_sequence (columns 9-10) is 3 where 2 was expected: an overflow record is missing or out of order: \"40010014039X\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "40010024019LN000001"]),
        "t.lbx:4: an overflow (4) record of batch 001 item 002 after the detail (6) of batch 001 item 001: \"40010024019LN000001\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "60020010000001000"]),
        "t.lbx:4: a detail (6) record of batch 002 before the batch total (7) of batch 001: \"60020010000001000\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, TOTAL]),
        "t.lbx:4: a lockbox total (8) before the batch total (7) of batch 001: \"8000000123456726111800010000001000\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, BATCH, "9000005"]),
        "t.lbx:5: a file trailer (9) before the lockbox total (8) of lockbox 1234567: \"9000005\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, BATCH, TOTAL, DETAIL]),
        "t.lbx:6: a detail (6) record after the lockbox total (8) of lockbox 1234567 and before the next lockbox header (5): \"60010010000001000                   0000...\""
    );
    assert_eq!(
        error(&[
            HEAD, LOCKBOX, DETAIL, BATCH, TOTAL, "9000006", "", "9000006"
        ]),
        "t.lbx:8: a record after the file trailer (9): \"9000006\""
    );
    assert_eq!(
        error(&[HEAD, "5001   1234567261131"]),
        "t.lbx:2: lockbox_deposit_date (columns 15-20) is not a valid YYMMDD date: \"261131\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "700100076543212611180010000001000"]),
        "t.lbx:4: a batch total (7) of lockbox 7654321 inside lockbox 1234567: \"700100076543212611180010000001000\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, "7001000123456726111800 0000001000"]),
        "t.lbx:4: batch_total_item_count (columns 21-23) must be digits only, got \"00 \""
    );
    assert_eq!(
        error(&["", "  "]),
        "t.lbx: the file is empty; expected a lockbox transmission starting with a file header (1) record"
    );
}

#[test]
fn blank_lines_bom_and_a_detail_without_overflow() {
    // A BOM, blank lines anywhere (not counted as records), no newline at the end; a detail
    // with no overflow has no loan, which validation rejects (a row error, not a file error).
    let text = format!(
        "\u{feff}{HEAD}\r\n\r\n{LOCKBOX}\r\n{DETAIL}\r\n   \r\n{BATCH}\r\n{TOTAL}\r\n9000006"
    );
    let read = read_text(text.as_bytes(), &LockboxLayout::default());
    assert_eq!(read.error, None);
    assert_eq!(read.rows.len(), 1);
    assert_eq!(read.rows[0].fields.loan, "");
    assert_eq!(read.rows[0].pos.line, 4);
}

#[test]
fn bytes_that_are_not_text_and_overlong_lines() {
    let mut text = records(&[HEAD, LOCKBOX]);
    text.extend_from_slice(b"60010010000001000    JOS\xc9\n");
    let read = read_text(&text, &LockboxLayout::default());
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:3: the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)"
    );
    let mut text = records(&[HEAD]);
    text.extend(std::iter::repeat_n(b'6', 5000));
    let read = read_text(&text, &LockboxLayout::default());
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:2: the line is longer than 1024 characters; this is not a lockbox record"
    );
    // UTF-8 is fine, and columns count characters, not bytes.
    let detail = "60010010000001000                   0000000042ÉÉÉÉÉÉ      JOSÉ ÅSTRÖM";
    let read = read_text(
        &records(&[HEAD, LOCKBOX, detail, OVERFLOW, BATCH, TOTAL, "9000007"]),
        &LockboxLayout {
            loan_from: LoanFrom::Detail,
            ..LockboxLayout::default()
        },
    );
    assert_eq!(read.error, None);
    assert_eq!(read.rows[0].fields.loan, "JOSÉ ÅSTRÖM");
}

#[test]
fn totals_that_overflow_are_a_file_error() {
    let layout: LockboxLayout = toml::from_str("detail_amount = [8, 26]").unwrap();
    let big = "60010019000000000000000000";
    let text = records(&[HEAD, LOCKBOX, big, big]);
    let read = read_text(&text, &layout);
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:4: the amount total of batch 001 of lockbox 1234567 is too large to be added up"
    );
    let layout: LockboxLayout = toml::from_str("detail_amount = [8, 40]").unwrap();
    let huge = format!("6001001{}", "9".repeat(33));
    let read = read_text(&records(&[HEAD, LOCKBOX, &huge]), &layout);
    assert_eq!(
        read.error.unwrap().to_string(),
        format!(
            "t.lbx:3: detail_amount (columns 8-40) is too large: \"{}\"",
            "9".repeat(33)
        )
    );
}

#[test]
fn a_layout_from_settings_moves_fields() {
    let layout: LockboxLayout = toml::from_str(
        r#"
            loan_from = "detail"
            detail_amount = [10, 19]
            detail_loan = [20, 27]
            detail_check_number = [28, 31]
            year_pivot = 30
            "#,
    )
    .unwrap();
    layout.validate().unwrap();
    assert_eq!(layout.detail_amount, Span::new(10, 19));
    assert_eq!(layout.overflow_data, LockboxLayout::default().overflow_data);
    let text = records(&[
        HEAD,
        "5001   1234567291118",
        "6001007xx0000012345LN0007771042",
        "40010074019IGNORED",
        "700100012345672911180010000012345",
        "8000000123456729111800010000012345",
        "9000007",
    ]);
    let read = read_text(&text, &layout);
    assert_eq!(read.error, None);
    assert_eq!(
        read.rows,
        [row(
            "t.lbx",
            3,
            "LN000777",
            "123.45",
            "2029-11-18",
            "1234567-001-007 1042"
        )]
    );
    // The same file to the default layout: the amount is not where the defaults look.
    let read = read_text(&text, &LockboxLayout::default());
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:3: detail_amount (columns 8-17) must be digits only, got \"xx00000123\""
    );
}

#[test]
fn two_digit_years_pivot() {
    assert_eq!(yymmdd("691231", 70), NaiveDate::from_ymd_opt(2069, 12, 31));
    assert_eq!(yymmdd("700101", 70), NaiveDate::from_ymd_opt(1970, 1, 1));
    assert_eq!(yymmdd("261120", 0), NaiveDate::from_ymd_opt(1926, 11, 20));
    assert_eq!(yymmdd("991231", 100), NaiveDate::from_ymd_opt(2099, 12, 31));
    assert_eq!(yymmdd("260229", 70), None);
    assert_eq!(yymmdd("2611 1", 70), None);
}

#[test]
fn layout_validation_names_the_field() {
    let bad = |toml: &str| {
        toml::from_str::<LockboxLayout>(toml)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    assert_eq!(
        bad("detail_amount = [0, 17]"),
        "`detail_amount` = [0, 17]: columns are counted from 1"
    );
    assert_eq!(
        bad("overflow_data = [41, 12]"),
        "`overflow_data` = [41, 12]: the start column is after the end column"
    );
    assert_eq!(
        bad("trailer_record_count = [2, 401]"),
        "`trailer_record_count` = [2, 401]: columns go up to 400"
    );
    assert_eq!(
        bad("lockbox_deposit_date = [15, 22]"),
        "`lockbox_deposit_date` = [15, 22]: a YYMMDD date is 6 columns wide"
    );
    assert_eq!(
        bad("year_pivot = 101"),
        "`year_pivot` = 101: must be from 0 to 100"
    );
    assert!(toml::from_str::<LockboxLayout>("detail_amout = [8, 17]").is_err());
    assert!(toml::from_str::<LockboxLayout>("detail_amount = [8]").is_err());
    assert!(toml::from_str::<LockboxLayout>("loan_from = \"remitter\"").is_err());
    assert_eq!(
        toml::from_str::<LockboxLayout>("").unwrap(),
        LockboxLayout::default()
    );
    let e = LockboxReader::new(
        "t.lbx".into(),
        &b""[..],
        &LockboxLayout {
            detail_item: Span::new(0, 3),
            ..LockboxLayout::default()
        },
        ControlTotals::Enforce,
    )
    .err()
    .unwrap();
    assert_eq!(
        e.to_string(),
        "t.lbx: invalid lockbox layout: `detail_item` = [0, 3]: columns are counted from 1"
    );
}

/// A deterministic pseudo-random sequence (Knuth's MMIX LCG): no new crates for fuzzing.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_damaged_input_never_panics() {
    let good = std::fs::read(format!("{DIR}good.lbx")).unwrap();
    let alphabet = b"0123456789456789          \n\n\r\xc3\xa9\xffLN";
    let layouts = [
        LockboxLayout::default(),
        LockboxLayout {
            loan_from: LoanFrom::Detail,
            detail_amount: Span::new(2, 40),
            trailer_record_count: Span::new(1, 1),
            ..LockboxLayout::default()
        },
    ];
    let mut rng = Lcg(42);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..200 {
        let len = rng.below(400);
        inputs.push(
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        );
    }
    for _ in 0..200 {
        let mut bytes = good.clone();
        bytes.truncate(rng.below(good.len() + 1));
        for _ in 0..rng.below(4) {
            if !bytes.is_empty() {
                let at = rng.below(bytes.len());
                bytes[at] = alphabet[rng.below(alphabet.len())];
            }
        }
        inputs.push(bytes);
    }
    for bytes in &inputs {
        for layout in &layouts {
            for mode in [ControlTotals::Enforce, ControlTotals::Warn] {
                let mut reader =
                    LockboxReader::new("fuzz.lbx".into(), &bytes[..], layout, mode).unwrap();
                let mut items = 0;
                for _ in reader.by_ref() {
                    items += 1;
                    assert!(items < 1000, "the reader does not end");
                }
                let _ = reader.control_checks();
            }
        }
    }
}

#[test]
fn a_lockbox_header_before_each_batch_of_the_same_lockbox() {
    let batch2 = [
        "5002   1234567261119",
        "60020010000002000                   0000000043",
        "40020014019LN000002",
        "700200012345672611190010000002000",
    ];
    let mut lines = vec![HEAD, LOCKBOX, DETAIL, OVERFLOW, BATCH];
    lines.extend(batch2);
    lines.extend(["8000000123456726111800020000003000", "9000011"]);
    let read = read_text(&records(&lines), &LockboxLayout::default());
    assert_eq!(read.error, None);
    assert_eq!(
        read.rows,
        [
            row(
                "t.lbx",
                3,
                "LN000001",
                "10.00",
                "2026-11-18",
                "1234567-001-001 0000000042"
            ),
            // The repeated header's date is that of its batch.
            row(
                "t.lbx",
                7,
                "LN000002",
                "20.00",
                "2026-11-19",
                "1234567-002-001 0000000043"
            ),
        ]
    );
    assert!(
        read.checks.iter().all(ControlCheck::matches),
        "{:?}",
        read.checks
    );
    // Another lockbox's header before this one's total, or a header inside a batch, is still a
    // lost record.
    let error = |lines: &[&str]| {
        read_text(&records(lines), &LockboxLayout::default())
            .error
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, BATCH, "5001   7654321261118"]),
        "t.lbx:5: a lockbox header (5) before the lockbox total (8) of lockbox 1234567: \"5001   7654321261118\""
    );
    assert_eq!(
        error(&[HEAD, LOCKBOX, DETAIL, LOCKBOX]),
        "t.lbx:4: a lockbox header (5) before the lockbox total (8) of lockbox 1234567 and the batch total (7) of batch 001: \"5001   1234567261118\""
    );
}

#[test]
fn an_empty_transmission_is_zero_rows() {
    for lines in [
        &["1", "2", "9000003"][..],
        &[
            HEAD,
            LOCKBOX,
            "8000000123456726111800000000000000",
            "9000004",
        ],
        &[
            HEAD,
            LOCKBOX,
            "700100012345672611180000000000000",
            "8000000123456726111800000000000000",
            "9000005",
        ],
    ] {
        let read = read_text(&records(lines), &LockboxLayout::default());
        assert_eq!((read.rows.len(), read.error), (0, None), "{lines:?}");
        assert!(read.checks.iter().all(ControlCheck::matches));
    }
}

#[test]
fn lines_shorter_than_the_nominal_length() {
    // Trailing blanks stripped: a lockbox number that ends the line is what is left of it.
    let read = read_text(
        &records(&[
            HEAD,
            "5001   12345  261118",
            DETAIL,
            OVERFLOW,
            "7001   12345",
        ]),
        &LockboxLayout::default(),
    );
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:5: the record ends before batch_total_item_count (columns 21-23); it has 12 characters: \"7001   12345\""
    );
    let read = read_text(
        &records(&[HEAD, "5001   12345  261118", "6001001000000100"]),
        &LockboxLayout::default(),
    );
    assert_eq!(
        read.error.unwrap().to_string(),
        "t.lbx:3: the record ends before detail_amount (columns 8-17); it has 16 characters: \"6001001000000100\""
    );
    let read = read_text(
        &records(&[
            HEAD,
            "5001   12345  261118",
            "60010010000001000",
            "40010014019LN7",
            "700100012345  2611180010000001000",
            "8000   12345  26111800010000001000",
            "9000007",
        ]),
        &LockboxLayout::default(),
    );
    assert_eq!(read.error, None);
    assert_eq!(
        read.rows,
        [row(
            "t.lbx",
            3,
            "LN7",
            "10.00",
            "2026-11-18",
            "12345-001-001"
        )]
    );
}

#[test]
fn control_counts_warn_relaxes_counts_only() {
    let modes = crate::read::ControlModes {
        amounts: ControlTotals::Enforce,
        counts: ControlTotals::Warn,
    };
    let read = |trailer: &str, batch: &str| {
        let text = records(&[HEAD, LOCKBOX, DETAIL, OVERFLOW, batch, TOTAL, trailer]);
        read_from("t.lbx", &text[..], &LockboxLayout::default(), modes)
    };
    let r = read("9000099", BATCH);
    assert_eq!((r.rows.len(), r.error), (1, None));
    assert_eq!(
        r.checks.last(),
        Some(&check("file", Counted::Records, 7, 99, 7))
    );
    let r = read("9000007", "700100012345672611180010000001001");
    assert_eq!(
        r.error.unwrap().to_string(),
        "t.lbx:5: batch 001 of lockbox 1234567 amount: stated 10.01, computed 10.00"
    );
}
