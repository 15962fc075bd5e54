//! The BAI2 reader's tests: the fixtures under tests/data/bai2/, options, damaged input.

use super::*;
use crate::money::Cents;
use crate::read::RawAmount;

const TYPES: &[u32] = &[165, 175];

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bai2/");
    std::fs::read(format!("{dir}{name}")).unwrap()
}

type Outcome = (Vec<RawRow>, Option<FileError>, Vec<ControlCheck>);

fn run(name: &str, bytes: &[u8], options: &Bai2Options, mode: impl Into<ControlModes>) -> Outcome {
    let mut reader = Bai2Reader::new(name.into(), bytes, options, TYPES, mode).unwrap();
    let mut rows = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(row) => rows.push(row),
            Err(e) => {
                assert!(error.is_none(), "a second error: {e}");
                error = Some(e);
            }
        }
    }
    assert!(reader.next().is_none());
    (rows, error, reader.control_checks().to_vec())
}

fn read_fixture(name: &str, options: &Bai2Options, mode: ControlTotals) -> Outcome {
    run(name, &fixture(name), options, mode)
}

fn good(name: &str, options: &Bai2Options) -> (Vec<RawRow>, Vec<ControlCheck>) {
    let (rows, error, checks) = read_fixture(name, options, ControlTotals::Enforce);
    assert_eq!(error, None);
    (rows, checks)
}

fn error_of(name: &str, bytes: &[u8]) -> String {
    let (_, error, _) = run(name, bytes, &Bai2Options::default(), ControlTotals::Enforce);
    error.expect("an error").to_string()
}

fn fixture_error(name: &str) -> String {
    error_of(name, &fixture(name))
}

/// (line, loan, amount, date, reference) of each row; the amount must be cents.
fn summary(rows: &[RawRow]) -> Vec<(u64, &str, Cents, &str, &str)> {
    rows.iter()
        .map(|r| {
            let f = &r.fields;
            assert_eq!(
                (&f.payment_method_id, &f.payment_type_id, &f.extra, &f.info),
                (&None, &None, &None, &None)
            );
            (
                r.pos.line,
                f.loan.as_str(),
                match f.amount {
                    RawAmount::Cents(cents) => cents,
                    RawAmount::Text(ref text) => panic!("amount {text:?} handed over as text"),
                },
                f.date.as_str(),
                f.reference.as_str(),
            )
        })
        .collect()
}

fn loans(rows: &[RawRow]) -> Vec<&str> {
    rows.iter().map(|r| r.fields.loan.as_str()).collect()
}

/// (scope, what, line, stated, computed) of each check.
fn shown_checks(checks: &[ControlCheck]) -> Vec<(&str, &str, u64, i64, i64)> {
    checks
        .iter()
        .map(|c| {
            (
                c.scope.as_str(),
                c.what.as_str(),
                c.line,
                c.stated,
                c.computed,
            )
        })
        .collect()
}

fn text_options(pattern: &str) -> Bai2Options {
    Bai2Options {
        loan_from: LoanFrom::Text,
        loan_pattern: Some(pattern.into()),
    }
}

#[test]
fn good_file_rows() {
    let (rows, _) = good("good.bai", &Bai2Options::default());
    assert_eq!(rows[0].pos.file.as_ref(), "good.bai");
    assert_eq!(
        summary(&rows),
        [
            (5, "482", Cents(150_000), "2026-11-19", "ACH0001"),
            (7, "17", Cents(50_000), "2026-11-19", "ACH0002"),
            (8, "903", Cents(15_000), "2026-11-19", "ACH0003"),
            (12, "256", Cents(120_050), "2026-11-19", "ACH0004"),
            (19, "1000", Cents(32_100), "2026-11-20", "ACH0006"),
            (20, "", Cents(9999), "2026-11-20", "ACH0007"),
            (21, "1", Cents(4500), "2026-11-20", "ACH0008"),
        ]
    );
}

#[test]
fn good_file_control_checks_all_match() {
    let (_, checks) = good("good.bai", &Bai2Options::default());
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    assert_eq!(
        shown_checks(&checks),
        [
            ("account 123456789", "amount", 10, 240000, 240000),
            ("account 123456789", "records", 10, 8, 8),
            ("account 987654321", "amount", 14, 127550, 127550),
            ("account 987654321", "records", 14, 4, 4),
            ("group 1", "amount", 15, 367550, 367550),
            ("group 1", "accounts", 15, 2, 2),
            ("group 1", "records", 15, 14, 14),
            ("account 555000111", "amount", 22, 46599, 46599),
            ("account 555000111", "records", 22, 5, 5),
            ("group 2", "amount", 23, 46599, 46599),
            ("group 2", "accounts", 23, 1, 1),
            ("group 2", "records", 23, 7, 7),
            ("file", "amount", 24, 414149, 414149),
            ("file", "groups", 24, 2, 2),
            ("file", "records", 24, 23, 23),
        ]
    );
}

#[test]
fn newline_delimited_file() {
    let (rows, checks) = good("good_newline_delimited.bai", &Bai2Options::default());
    assert_eq!(
        summary(&rows),
        [
            (5, "88", Cents(45_000), "2026-11-17", "ACH1001"),
            (6, "321", Cents(25_000), "2026-11-17", "ACH1002"),
        ]
    );
    assert_eq!(
        shown_checks(&checks),
        [
            ("account 246813579", "amount", 9, 80000, 80000),
            ("account 246813579", "records", 9, 7, 7),
            ("group 1", "amount", 10, 80000, 80000),
            ("group 1", "accounts", 10, 1, 1),
            ("group 1", "records", 10, 9, 9),
            ("file", "amount", 11, 80000, 80000),
            ("file", "groups", 11, 1, 1),
            ("file", "records", 11, 11, 11),
        ]
    );
}

#[test]
fn account_totals_may_include_the_summary_amounts() {
    let (rows, checks) = good("totals_include_summary.bai", &Bai2Options::default());
    assert_eq!(
        summary(&rows),
        [
            (4, "612", Cents(35_000), "2026-11-16", "ACH2001"),
            (5, "44", Cents(25_000), "2026-11-16", "ACH2002"),
            (8, "9", Cents(12_000), "2026-11-16", "ACH2003"),
        ]
    );
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    // +800000 - 25000 + 60000 of summaries, 60000 of details.
    assert_eq!(checks[0].computed, 895000);
    assert_eq!(checks[2].computed, 24000);
}

#[test]
fn a_file_keeps_to_one_way_of_totalling_accounts() {
    let text = "01,1,2,261120,0200,1,,,2/\n02,1,2,1,261120,,USD,2/\n\
            03,111,USD,010,500000,,/\n16,165,1000,0,R1,5/\n49,501000,3/\n\
            03,222,USD,010,700000,,/\n16,165,2000,0,R2,6/\n49,2000,3/\n\
            98,503000,2,8/\n99,503000,1,10/\n";
    assert_eq!(
        error_of("mixed.bai", text.as_bytes()),
        "mixed.bai:8: account 222 amount: stated 20.00, computed 7020.00 (counting the 03 summary amounts; 20.00 for the 16 details only)"
    );
    let details_only = text.replace("49,501000,3/", "49,1000,3/");
    assert_eq!(
        error_of(
            "x.bai",
            details_only
                .replace("49,2000,3/", "49,702000,3/")
                .as_bytes()
        ),
        "x.bai:8: account 222 amount: stated 7020.00, computed 20.00 (the 16 details only; 7020.00 counting the 03 summary amounts)"
    );
}

#[test]
fn wrong_totals_are_file_errors() {
    for (name, message) in [
        (
            "wrong_account_total.bai",
            "wrong_account_total.bai:6: account 123456789 amount: stated 1500.00, computed 1400.00",
        ),
        (
            "wrong_group_total.bai",
            "wrong_group_total.bai:7: group 1 amount: stated 1450.00, computed 1400.00",
        ),
        (
            "wrong_file_total.bai",
            "wrong_file_total.bai:8: file amount: stated 1500.00, computed 1400.00",
        ),
        (
            "wrong_record_count.bai",
            "wrong_record_count.bai:6: account 123456789 records: stated 5, computed 4",
        ),
    ] {
        assert_eq!(fixture_error(name), message);
    }
}

#[test]
fn structural_errors_name_the_line_and_record() {
    for (name, message) in [
        (
            "missing_trailer.bai",
            "missing_trailer.bai:7: the file ends without its 99 file trailer; it may be truncated",
        ),
        (
            "truncated.bai",
            "truncated.bai:5: the file ends inside account 123456789 of group 1, without its 49, 98 and 99 trailers; it may be truncated",
        ),
        (
            "detail_outside_account.bai",
            "detail_outside_account.bai:6: a 16 transaction detail outside an account (no 03 account identifier before it): \"16,165,40000,0,ACH3002,77,LOAN 77/\"",
        ),
        (
            "bad_amount.bai",
            // The row is read (validation rejects it); the account total then disagrees.
            "bad_amount.bai:6: account 123456789 amount: stated 1400.00, computed 1000.00 (1 detail amount(s) could not be read and count as zero, the first on line 5: \"4000O\")",
        ),
    ] {
        assert_eq!(fixture_error(name), message);
    }
}

const HEAD: &str = "01,1,2,261120,0200,1,,,2/\n02,1,2,1,261120,,USD,2/\n";

#[test]
fn more_structural_errors() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"88,LOAN 5/\n",
            "x.bai:1: an 88 continuation with no record before it to continue: \"88,LOAN 5/\"",
        ),
        (
            b"\n\n",
            "x.bai: the file is empty; expected a BAI2 file beginning with a 01 file header",
        ),
        (
            b"loan,amount,date\n",
            "x.bai:1: the file does not begin with a 01 file header; is this a BAI2 file?: \"loan,amount,date\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n17,1/\n",
            "x.bai:2: unknown record code \"17\" (BAI2 records are 01, 02, 03, 16, 49, 88, 98 and 99): \"17,1/\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n02,1,2,1,261131,,USD,2/\n",
            "x.bai:2: as-of date \"261131\" in the 02 group header is not a valid YYMMDD date: \"02,1,2,1,261131,,USD,2/\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n98,0,0,1/\n",
            "x.bai:2: a 98 group trailer outside a group (no 02 group header before it): \"98,0,0,1/\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n99,0,0,2/\n99,0,0,2/\n",
            "x.bai:3: a record after the 99 file trailer: \"99,0,0,2/\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n02,1,2,1,261120,,USD,2/\n98,0,0\n",
            "x.bai:3: the record does not end with / as the 01 file header does; the file may be truncated: \"98,0,0\"",
        ),
        (
            b"01,1,2,261120,0200,1,,,2/\n99,0,0,2/ 98\n",
            "x.bai:2: text after the record's closing /: \"99,0,0,2/ 98\"",
        ),
    ];
    for (bytes, message) in cases {
        assert_eq!(error_of("x.bai", bytes), *message);
    }
    let in_account = |records: &str| format!("{HEAD}03,9,USD/\n{records}");
    for (records, message) in [
        (
            "16,165,100,X,R,5,T/\n",
            "x.bai:4: 16 transaction detail: unknown funds type \"X\" (BAI2 funds types are 0, 1, 2, S, V, D and Z): \"16,165,100,X,R,5,T/\"",
        ),
        (
            "16,165,100,D,two,0,100,R,5/\n",
            "x.bai:4: 16 transaction detail: number of distributions \"two\" of funds type D is not a whole number: \"16,165,100,D,two,0,100,R,5/\"",
        ),
        (
            "16,1650,100,0,R,5/\n",
            "x.bai:4: type code \"1650\" of the 16 transaction detail is not a number of up to 3 digits: \"16,1650,100,0,R,5/\"",
        ),
        (
            "16,165,15.00,0,R,5/\n",
            "x.bai:4: amount \"15.00\" of the 16 transaction detail is not a whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00): \"16,165,15.00,0,R,5/\"",
        ),
        (
            "16,165,9000000000000000000,0,R,5/\n16,165,9000000000000000000,0,R,5/\n",
            "x.bai:5: the amounts add up past what payimport can count (more than 92 quadrillion): \"16,165,9000000000000000000,0,R,5/\"",
        ),
        (
            "49,x,2/\n",
            "x.bai:4: account control total \"x\" in the 49 account trailer is not a whole number: \"49,x,2/\"",
        ),
        (
            "03,8,USD/\n",
            "x.bai:4: a 03 account identifier inside account 9 (its 49 account trailer is missing): \"03,8,USD/\"",
        ),
        (
            "98,0,1,4/\n",
            "x.bai:4: a 98 group trailer inside account 9 (its 49 account trailer is missing): \"98,0,1,4/\"",
        ),
    ] {
        assert_eq!(error_of("x.bai", in_account(records).as_bytes()), message);
    }
    let e = error_of("x.bai", format!("{HEAD}03,9,KWD/\n").as_bytes());
    assert!(
            e.starts_with("x.bai:3: 03 account identifier: unsupported currency code \"KWD\"; payimport reads amounts in USD, CAD,"),
            "{e}"
        );
}

#[test]
fn latin1_is_a_file_error_naming_the_line() {
    let mut bytes = format!("{HEAD}03,9,USD/\n").into_bytes();
    bytes.extend_from_slice(b"16,165,100,0,R,5,JOS\xc9 PAYMENT/\n");
    assert_eq!(
        error_of("x.bai", &bytes),
        "x.bai:4: the line is not UTF-8 text (BAI2 files are plain ASCII): byte 0xC9 at column 21"
    );
}

#[test]
fn an_endless_line_is_refused_without_reading_it_all() {
    let mut bytes = b"01,1,2,261120,0200,1,,,2/\n16,".to_vec();
    bytes.resize(MAX_RECORD_BYTES * 3, b'7');
    assert_eq!(
        error_of("x.bai", &bytes),
        "x.bai:2: the line is longer than 1048576 bytes; this is not a BAI2 file"
    );
}

#[test]
fn warn_mode_reads_on_and_records_the_failure() {
    let (rows, error, checks) = read_fixture(
        "wrong_account_total.bai",
        &Bai2Options::default(),
        ControlTotals::Warn,
    );
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["482", "77"]);
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.matches())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        failing,
        ["account 123456789 amount: stated 1500.00, computed 1400.00"]
    );
    assert_eq!(checks.len(), 8);
    // Enforce mode records the checks made up to the failure too.
    let (rows, _, checks) = read_fixture(
        "wrong_record_count.bai",
        &Bai2Options::default(),
        ControlTotals::Enforce,
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(
        shown_checks(&checks),
        [
            ("account 123456789", "amount", 6, 140000, 140000),
            ("account 123456789", "records", 6, 5, 4),
        ]
    );
}

#[test]
fn loan_from_bank_reference() {
    let options = Bai2Options {
        loan_from: LoanFrom::BankReference,
        loan_pattern: None,
    };
    let (rows, _) = good("good.bai", &options);
    assert_eq!(
        loans(&rows),
        [
            "ACH0001", "ACH0002", "ACH0003", "ACH0004", "ACH0006", "ACH0007", "ACH0008"
        ]
    );
}

#[test]
fn loan_from_a_pattern_in_the_text() {
    let (rows, _) = good("good.bai", &text_options(r"LOAN\s*#?\s*(\d+)"));
    assert_eq!(loans(&rows), ["482", "17", "903", "256", "1000", "", ""]);
    // The whole text: `/` and `,` kept, 88 continuations joined by a space.
    let (rows, _) = good("good.bai", &text_options("^(.*)$"));
    assert_eq!(
        loans(&rows),
        [
            "LOAN 482 PAYMENT",
            "PAYMENT FOR LOAN 17 INV 11/2026, ACME CO",
            "SMITH, JOHN LOAN #903 NOV INSTALLMENT",
            "ACH CREDIT LOAN 256",
            "LOAN 1000",
            "NO CUSTOMER REFERENCE",
            "",
        ]
    );
    let (rows, _) = good("good_newline_delimited.bai", &text_options("^(.*)$"));
    assert_eq!(
        loans(&rows),
        ["LOAN 88 NOVEMBER", "ONLINE PMT 11/17, REF 7 CONTINUED TEXT"]
    );
}

#[test]
fn continuations_may_split_a_detail_anywhere() {
    let text = format!(
        "{HEAD}03,9,USD/\n16,165,1000,V,261119,\n88,0900,BR1\n88,42,PAID\n88,IN FULL/\n49,1000,6/\n98,1000,1,8/\n99,1000,1,10/\n"
    );
    let (rows, error, _) = run(
        "x.bai",
        text.as_bytes(),
        &text_options("(.*)"),
        ControlTotals::Enforce,
    );
    assert_eq!(error, None);
    assert_eq!(
        summary(&rows),
        [(4, "PAID IN FULL", Cents(1000), "2026-11-20", "BR1")]
    );
    let (rows, _, _) = run(
        "x.bai",
        text.as_bytes(),
        &Bai2Options::default(),
        ControlTotals::Enforce,
    );
    assert_eq!(loans(&rows), ["42"]);
}

#[test]
fn zero_decimal_currency_and_summary_funds_types() {
    let text = format!(
        "{HEAD}03,777,JPY,010,5000,,S,1000,2000,2000,015,-6000,,D,2,0,3000,1,3000,072,,,V,261119,0800/\n\
             16,175,150000,0,R1,31/\n49,149000,3/\n98,149000,1,5/\n99,149000,1,7/\n"
    );
    let (rows, error, checks) = run(
        "x.bai",
        text.as_bytes(),
        &Bai2Options::default(),
        ControlTotals::Enforce,
    );
    assert_eq!(error, None);
    assert_eq!(
        summary(&rows),
        [(4, "31", Cents(15_000_000), "2026-11-20", "R1")]
    );
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
}

#[test]
fn options_from_toml() {
    let parse = |s: &str| toml::from_str::<Bai2Options>(s);
    assert_eq!(parse("").unwrap(), Bai2Options::default());
    assert_eq!(
        Bai2Options::default().loan_from,
        LoanFrom::CustomerReference
    );
    assert_eq!(
        parse("loan_from = \"bank_reference\"").unwrap().loan_from,
        LoanFrom::BankReference
    );
    let o = parse("loan_from = \"text\"\nloan_pattern = 'LOAN\\s*#?\\s*(\\d+)'").unwrap();
    assert_eq!(o.loan_pattern.as_deref(), Some(r"LOAN\s*#?\s*(\d+)"));
    assert_eq!(o.validate(), Ok(()));
    let e = parse("loan_form = \"text\"").unwrap_err().to_string();
    assert!(e.contains("unknown field `loan_form`"), "{e}");
    let e = parse("loan_from = \"memo\"").unwrap_err().to_string();
    assert!(e.contains("unknown variant `memo`"), "{e}");

    let invalid = |s: &str| parse(s).unwrap().validate().unwrap_err();
    assert_eq!(
        invalid("loan_from = \"text\""),
        "`loan_pattern` is required with loan_from = \"text\": a regular expression whose one capture group is the loan, e.g. \"LOAN\\\\s*#?\\\\s*(\\\\d+)\""
    );
    assert_eq!(
        invalid("loan_pattern = '(\\d+)'"),
        "`loan_pattern` is only used with loan_from = \"text\", but loan_from is \"customer_reference\""
    );
    assert_eq!(
        invalid("loan_from = \"text\"\nloan_pattern = 'LOAN \\d+'"),
        "`loan_pattern` \"LOAN \\\\d+\" must have exactly one capture group (the loan), it has 0"
    );
    assert_eq!(
        invalid("loan_from = \"text\"\nloan_pattern = '(LOAN) (\\d+)'"),
        "`loan_pattern` \"(LOAN) (\\\\d+)\" must have exactly one capture group (the loan), it has 2"
    );
    assert_eq!(
        invalid("loan_from = \"text\"\nloan_pattern = 'LOAN (\\d+'"),
        "`loan_pattern` \"LOAN (\\\\d+\" is not a valid regular expression: unclosed group"
    );
    let e = Bai2Reader::new(
        "x.bai".into(),
        &b""[..],
        &parse("loan_from = \"text\"").unwrap(),
        TYPES,
        ControlTotals::Enforce,
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .starts_with("x.bai: bai2 options: `loan_pattern` is required"),
        "{e}"
    );
}

#[test]
fn no_panic_on_broken_input() {
    let seeds = [
        fixture("good.bai"),
        fixture("good_newline_delimited.bai"),
        fixture("totals_include_summary.bai"),
    ];
    const ALPHABET: &[u8] = b",,,///0123456789\n\r 88DSVZ16\xff\xc3";
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for case in 0..400 {
        let seed = &seeds[case % seeds.len()];
        let mut bytes = seed.clone();
        match case % 5 {
            0 => bytes.truncate(next() % (seed.len() + 1)),
            1 => {
                for _ in 0..1 + next() % 8 {
                    let at = next() % bytes.len();
                    bytes[at] = ALPHABET[next() % ALPHABET.len()];
                }
            }
            2 => {
                for _ in 0..1 + next() % 8 {
                    let at = next() % (bytes.len() + 1);
                    bytes.insert(at, ALPHABET[next() % ALPHABET.len()]);
                }
            }
            3 => {
                let at = next() % bytes.len();
                let len = next() % (bytes.len() - at + 1);
                bytes.drain(at..at + len);
            }
            _ => {
                bytes = (0..next() % 300)
                    .map(|_| ALPHABET[next() % ALPHABET.len()])
                    .collect();
            }
        }
        for mode in [ControlTotals::Enforce, ControlTotals::Warn] {
            let mut reader = Bai2Reader::new(
                "fuzz.bai".into(),
                bytes.as_slice(),
                &text_options(r"(\d+)"),
                TYPES,
                mode,
            )
            .unwrap();
            let mut items = 0;
            while let Some(item) = reader.next() {
                items += 1;
                assert!(items < 10_000, "case {case} does not end");
                if item.is_err() {
                    assert!(
                        reader.next().is_none(),
                        "case {case} goes on after an error"
                    );
                    break;
                }
            }
        }
    }
}

/// Reads `text` with the default options, enforcing: the rows (as `summary` shows them), the
/// error if any, and the checks.
fn quirk(text: &str) -> (Vec<RawRow>, Option<String>, Vec<ControlCheck>) {
    let (rows, error, checks) = run(
        "q.bai",
        text.as_bytes(),
        &Bai2Options::default(),
        ControlTotals::Enforce,
    );
    (rows, error.map(|e| e.to_string()), checks)
}

/// The records of an account with `details` around it, totals as stated.
fn account(details: &str, total: i64, records: i64) -> String {
    format!(
        "01,BANKID,LENDER,261130,0200,7,,,2/\n02,LENDER,BANKID,1,261129,2400,USD,2/\n03,0012345678,USD/\n{details}49,{total},{}/\n98,{total},1,{}/\n99,{total},1,{}/\n",
        records + 2,
        records + 4,
        records + 6
    )
}

#[test]
fn several_records_on_one_physical_line() {
    let text = "01,BANKID,LENDER,261130,0200,7,,,2/   02,LENDER,BANKID,1,261129,2400,USD,2/\n\
        03,0012345678,USD/ 16,165,125000,0,BR1,LN000123,ACH CREDIT/   16,165,500,0,BR2,LN2/\n\
        49,125500,4/98,125500,1,6/ 99,125500,1,8/\n";
    let (rows, error, checks) = quirk(text);
    assert_eq!(error, None);
    assert_eq!(
        summary(&rows),
        [
            (2, "LN000123", Cents(125_000), "2026-11-29", "BR1"),
            (2, "LN2", Cents(500), "2026-11-29", "BR2"),
        ]
    );
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    // A 16's text holding a date such as 11/16, goes on being text.
    let (rows, error, _) = quirk(&account(
        "16,165,100,0,BR1,7,INV 11/16,ACME/ 16,165,200,0,BR2,8/\n",
        300,
        2,
    ));
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["7", "8"]);
}

#[test]
fn a_detail_whose_text_wraps_without_an_88() {
    let text = account(
        "16,165,125000,0,BR1,LN000123,ACH CREDIT FROM A BORROWER WITH A VERY\nLONG NAME      /\n",
        125000,
        1,
    );
    let (rows, error, checks) = quirk(&text);
    assert_eq!(error, None);
    assert_eq!(
        summary(&rows),
        [(4, "LN000123", Cents(125_000), "2026-11-29", "BR1")]
    );
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    let (rows, _, _) = run(
        "q.bai",
        text.as_bytes(),
        &text_options("^(.*)$"),
        ControlTotals::Enforce,
    );
    assert_eq!(
        loans(&rows),
        ["ACH CREDIT FROM A BORROWER WITH A VERY LONG NAME"]
    );
    // A reference cut by the line break goes on on the next line.
    let (rows, error, _) = quirk(&account("16,165,100,0,BR1,LN000\n123,PAYMENT/\n", 100, 1));
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["LN000123"]);
    // Only a 16 wraps: anything else that is no record is refused with its line.
    let (_, error, _) = quirk(&format!("{HEAD}03,9,USD/\nLONG NAME/\n"));
    assert_eq!(
        error.unwrap(),
        "q.bai:4: a line that does not begin with a record code (NN,); only a 16 transaction detail may wrap onto the next line without an 88: \"LONG NAME/\""
    );
}

#[test]
fn slashes_inside_references() {
    let (rows, error, _) = quirk(&account(
        "16,165,125000,0,BR/2026/11/001,CR/77/A,ACH CREDIT/\n",
        125000,
        1,
    ));
    assert_eq!(error, None);
    assert_eq!(
        summary(&rows),
        [(4, "CR/77/A", Cents(125_000), "2026-11-29", "BR/2026/11/001")]
    );
}

#[test]
fn a_trailing_empty_field_before_the_slash_of_an_03_and_its_88() {
    let text = "01,BANKID,LENDER,261130,0200,7,,,2/\n02,LENDER,BANKID,1,261129,2400,USD,2/\n\
        03,0012345678,USD,010,500000,,,015,510000,,,/\n88,040,490000,,,045,510000,,,/\n\
        16,165,10000,0,BR1,LN1/\n49,2020000,4/\n98,2020000,1,6/\n99,2020000,1,8/\n";
    let (rows, error, checks) = quirk(text);
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["LN1"]);
    // 5000.00 + 5100.00 + 4900.00 + 5100.00 of summaries, 100.00 of details.
    assert_eq!(
        shown_checks(&checks)[0],
        ("account 0012345678", "amount", 6, 2020000, 2020000)
    );
}

#[test]
fn the_last_record_without_its_slash() {
    let (rows, error, checks) = quirk(
        &account("16,165,1012500,0,BR1,LN1/\n", 1012500, 1)
            .replace("99,1012500,1,7/", "99,1012500,1,7"),
    );
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["LN1"]);
    assert_eq!(
        checks.last().map(|c| (c.what.as_str(), c.stated)),
        Some(("records", 7))
    );
}

#[test]
fn eighty_eight_with_a_colon() {
    let (rows, error, _) = run(
        "q.bai",
        account("16,165,100,0,BR1,LN1,LOAN\n88:42 PAYMENT/\n", 100, 2).as_bytes(),
        &text_options(r"LOAN\s*(\d+)"),
        ControlTotals::Enforce,
    );
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["42"]);
}

#[test]
fn an_empty_or_unreadable_amount_is_a_row_for_validation_to_reject() {
    let (rows, error, checks) = quirk(&account(
        "16,165,,0,BR1,LN1,NO AMOUNT/\n16,165,4000,0,BR2,LN2/\n16,165,+500,0,BR3,LN3/\n16,165,-700,0,BR4,LN4/\n",
        3800,
        4,
    ));
    assert_eq!(error, None);
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    let amounts: Vec<(u64, RawAmount)> = rows
        .iter()
        .map(|r| (r.pos.line, r.fields.amount.clone()))
        .collect();
    assert_eq!(
        amounts,
        [
            (4, RawAmount::Text(String::new())),
            (5, RawAmount::Cents(Cents(4000))),
            (6, RawAmount::Cents(Cents(500))),
            (7, RawAmount::Cents(Cents(-700))),
        ]
    );
}

#[test]
fn a_group_trailer_without_its_account_count() {
    let text = account("16,165,1012500,0,BR1,LN1/\n", 1012500, 1)
        .replace("98,1012500,1,5/", "98,1012500,5/");
    let (rows, error, checks) = quirk(&text);
    assert_eq!(error, None);
    assert_eq!(rows.len(), 1);
    let group: Vec<_> = shown_checks(&checks)
        .into_iter()
        .filter(|c| c.0 == "group 1")
        .collect();
    assert_eq!(
        group,
        [
            ("group 1", "amount", 6, 1012500, 1012500),
            ("group 1", "records", 6, 5, 5),
        ]
    );
    let wrong = text.replace("98,1012500,5/", "98,1012500,6/");
    assert_eq!(
        quirk(&wrong).1.unwrap(),
        "q.bai:6: group 1 records: stated 6, computed 5 (the 98 gives two numbers after its total, read as the record count with the account count left out)"
    );
}

/// A file of three groups: as-of-date modifiers 2 (final), 3 (interim) and blank, the last of
/// group status `status`.
fn groups(status: &str) -> String {
    format!(
        "01,B,L,261130,0200,7,,,2/\n\
         02,L,B,1,261129,2400,USD,2/\n03,1,USD/\n16,165,100,0,BR1,LN1/\n49,100,3/\n98,100,1,5/\n\
         02,L,B,1,261130,1200,USD,3/\n03,1,USD/\n16,165,200,0,BR2,LN2/\n49,200,3/\n98,200,1,5/\n\
         02,L,B,{status},261130,2400,USD,/\n03,1,USD/\n16,165,300,0,BR3,LN3/\n16,475,50,0,CHK,/\n49,350,4/\n98,350,1,6/\n\
         99,650,3,18/\n"
    )
}

#[test]
fn test_and_deletion_groups_are_skipped_and_recorded() {
    for (status, why) in [
        ("4", "test only, group status 4"),
        ("2", "deletion, group status 2"),
    ] {
        let (rows, error, checks) = quirk(&groups(status));
        assert_eq!(error, None);
        assert_eq!(loans(&rows), ["LN1", "LN2"], "status {status}");
        let skipped: Vec<String> = checks
            .iter()
            .filter(|c| c.what == crate::read::control::Counted::Skipped)
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            skipped,
            [format!(
                "group 3 ({why}): 1 payment detail(s) skipped, not sent"
            )]
        );
        assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    }
    assert_eq!(loans(&quirk(&groups("3")).0), ["LN1", "LN2", "LN3"]);
    assert_eq!(
        quirk(&groups("7")).1.unwrap(),
        "q.bai:12: group status \"7\" in the 02 group header is none of BAI2's (1 update, 2 deletion, 3 correction, 4 test only): \"02,L,B,7,261130,2400,USD,/\""
    );
}

#[test]
fn final_only_skips_interim_groups() {
    let text = groups("1");
    let read = |final_only: bool| {
        let mut reader = Bai2Reader::new(
            "q.bai".into(),
            text.as_bytes(),
            &Bai2Options::default(),
            TYPES,
            ControlTotals::Enforce,
        )
        .unwrap()
        .final_only(final_only);
        let rows: Vec<RawRow> = reader.by_ref().map(Result::unwrap).collect();
        (rows, reader.control_checks().to_vec())
    };
    let (rows, _) = read(false);
    assert_eq!(loans(&rows), ["LN1", "LN2", "LN3"]);
    let (rows, checks) = read(true);
    assert_eq!(loans(&rows), ["LN1", "LN3"]);
    let skipped: Vec<_> = shown_checks(&checks)
        .into_iter()
        .filter(|c| c.1 == "skipped")
        .collect();
    assert_eq!(
        skipped,
        [(
            "group 2 (interim same-day, as-of-date modifier 3)",
            "skipped",
            7,
            1,
            1
        )]
    );
}

#[test]
fn version_3_headers_read_as_version_2() {
    let text = account("16,165,100,0,BR1,LN1/\n", 100, 1).replace(",7,,,2/", ",,,,3/");
    let (rows, error, _) = quirk(&text);
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["LN1"]);
}

#[test]
fn files_that_stay_refused_say_where_and_why() {
    let one = account("16,165,100,0,BR1,LN1/\n", 100, 1);
    assert_eq!(
        quirk(&format!("{one}16,165,100,0,BR1,LN1/\n")).1.unwrap(),
        "q.bai:8: a record after the 99 file trailer: \"16,165,100,0,BR1,LN1/\""
    );
    let headless = one.split_once('\n').unwrap().1;
    assert_eq!(
        quirk(headless).1.unwrap(),
        "q.bai:1: the file does not begin with a 01 file header (its first record is a 02); the beginning of the file may be missing: \"02,LENDER,BANKID,1,261129,2400,USD,2/\""
    );
    assert_eq!(
        quirk(&one.replace("261129", "261329")).1.unwrap(),
        "q.bai:2: as-of date \"261329\" in the 02 group header is not a valid YYMMDD date: \"02,LENDER,BANKID,1,261329,2400,USD,2/\""
    );
    assert_eq!(
        quirk(&one.replace("49,100,", "49,101,")).1.unwrap(),
        "q.bai:5: account 0012345678 amount: stated 1.01, computed 1.00"
    );
}

#[test]
fn control_counts_warn_relaxes_counts_only() {
    let modes = ControlModes {
        amounts: ControlTotals::Enforce,
        counts: ControlTotals::Warn,
    };
    let text = account("16,165,100,0,BR1,LN1/\n", 100, 1).replace("49,100,3/", "49,100,9/");
    let (rows, error, checks) = run("q.bai", text.as_bytes(), &Bai2Options::default(), modes);
    assert_eq!((rows.len(), error), (1, None));
    assert!(checks.iter().any(|c| !c.matches()));
    let text = text.replace("49,100,9/", "49,101,9/");
    let (_, error, _) = run("q.bai", text.as_bytes(), &Bai2Options::default(), modes);
    assert_eq!(
        error.unwrap().to_string(),
        "q.bai:5: account 0012345678 amount: stated 1.01, computed 1.00"
    );
}

#[test]
fn a_transmission_of_several_files_is_read_file_by_file() {
    let first = account("16,165,100,0,BR1,LN1/\n", 100, 1);
    let second = account("16,165,250,0,BR2,LN2/\n16,165,50,0,BR3,LN3/\n", 300, 2)
        .replace(",0200,7,,,2/", ",0300,8,,,2/");
    let (rows, error, checks) = quirk(&format!("{first}{second}"));
    assert_eq!(error, None);
    assert_eq!(loans(&rows), ["LN1", "LN2", "LN3"]);
    assert_eq!(rows[1].pos.line, 11);
    let scopes: Vec<&str> = checks.iter().map(|c| c.scope.as_str()).collect();
    assert!(scopes.contains(&"file"), "{scopes:?}");
    assert!(scopes.contains(&"file 2 (id 8)"), "{scopes:?}");
    assert!(
        scopes.contains(&"file 2 (id 8) account 0012345678"),
        "{scopes:?}"
    );
    assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");

    // Each file is checked in turn: a wrong total in the second is that file's.
    let wrong = second.replace("99,300,", "99,301,");
    let (_, error, _) = quirk(&format!("{first}{wrong}"));
    let error = error.unwrap();
    assert!(
        error.starts_with("q.bai:15: file 2 (id 8) amount: stated 3.01, computed 3.00"),
        "{error}"
    );
}
