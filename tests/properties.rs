//! Properties (issue #7), checked with proptest on every `cargo test`: any bytes given to any
//! reader end without a panic; valid rows survive reading, validation and the LoanPro payload
//! with every field intact; no settings file makes loading it, or turning it into the client's
//! and the dispatcher's configuration, panic (issue 14). Case counts are modest so the suite stays fast; the fuzz targets
//! in `fuzz/` search the same ground for longer.

use std::path::Path;

use chrono::{Days, NaiveDate};
use payimport::payment::{Key, PaymentBody};
use payimport::read::bai2::{Bai2Options, Bai2Reader, LoanFrom as Bai2LoanFrom};
use payimport::read::control::ControlTotals;
use payimport::read::csv::{Columns, CsvReader};
use payimport::read::lockbox::{LoanFrom, LockboxLayout, LockboxReader, Span};
use payimport::read::nacha::{NachaReader, ReturnEntry, return_file};
use payimport::read::{PaymentReader, RawAmount, RawFields, RawRow};
use payimport::settings::Settings;
use payimport::testkit::{drain, settings, today};
use payimport::validate::Validator;
use proptest::prelude::*;

const EXTRAS: [&str; 3] = [
    "payment.extra.tx.principal",
    "payment.extra.tx.classic",
    "payment.extra.periods.next",
];

fn read_csv(bytes: &[u8], delimiter: u8) {
    if let Ok(r) = CsvReader::new("p.csv".into(), bytes, &Columns::default(), delimiter) {
        drain("bank", bytes.len(), r);
    }
}

fn read_lockbox(bytes: &[u8], layout: &LockboxLayout, mode: ControlTotals) {
    let mut r = LockboxReader::new("p.lbx".into(), bytes, layout, mode).unwrap();
    drain("lockbox", bytes.len(), r.by_ref());
    for c in r.control_checks() {
        let _ = c.to_string();
    }
}

fn read_bai2(bytes: &[u8], options: &Bai2Options, mode: ControlTotals) {
    let mut r = Bai2Reader::new("p.bai".into(), bytes, options, &[165, 175], mode).unwrap();
    drain("ach", bytes.len(), r.by_ref());
    for c in r.control_checks() {
        let _ = c.to_string();
    }
}

fn read_nacha(bytes: &[u8], mode: ControlTotals) {
    let mut r = NachaReader::new("p.ach".into(), bytes, mode);
    drain("nacha", bytes.len(), r.by_ref());
    for c in r.control_checks() {
        let _ = c.to_string();
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(rel),
    )
    .unwrap()
}

/// Bytes close to a real file: a fixture with a few bytes replaced, inserted or cut.
fn damaged(good: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = good.len();
    (
        proptest::collection::vec((0..len, any::<u8>(), 0..3u8), 1..8),
        0..=len,
    )
        .prop_map(move |(edits, cut)| {
            let mut bytes = good.clone();
            for (at, b, how) in edits {
                let at = at.min(bytes.len().saturating_sub(1));
                match how {
                    0 if !bytes.is_empty() => bytes[at] = b,
                    1 => bytes.insert(at, b),
                    _ if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            bytes.truncate(cut.max(bytes.len() / 2));
            bytes
        })
}

/// Text made of what CSV files are made of, in any order.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"loan,amount,date,reference\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"12".to_vec()),
        Just(b"$1,234.50".to_vec()),
        Just(b"2026-11-20".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\0".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_to_the_csv_reader_end_without_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        delimiter in prop_oneof![Just(b','), Just(b';'), Just(b'\t')],
    ) {
        read_csv(&bytes, delimiter);
    }

    #[test]
    fn csv_like_text_to_the_csv_reader_ends_without_a_panic(bytes in csv_like()) {
        read_csv(&bytes, b',');
    }

    #[test]
    fn any_bytes_to_the_lockbox_reader_end_without_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        warn in any::<bool>(),
        wide in any::<bool>(),
    ) {
        let layout = if wide {
            LockboxLayout {
                loan_from: LoanFrom::Detail,
                detail_amount: Span::new(8, 26),
                ..LockboxLayout::default()
            }
        } else {
            LockboxLayout::default()
        };
        let mode = if warn { ControlTotals::Warn } else { ControlTotals::Enforce };
        read_lockbox(&bytes, &layout, mode);
    }

    #[test]
    fn any_bytes_to_the_bai2_reader_end_without_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        warn in any::<bool>(),
    ) {
        let mode = if warn { ControlTotals::Warn } else { ControlTotals::Enforce };
        read_bai2(&bytes, &Bai2Options::default(), mode);
    }

    #[test]
    fn any_cells_to_the_validator_give_a_payment_or_a_rejection(
        loan in ".{0,24}",
        amount in ".{0,24}",
        date in ".{0,16}",
        reference in ".{0,16}",
        method in proptest::option::of(".{0,6}"),
        extra in proptest::option::of(".{0,30}"),
    ) {
        let s = settings();
        let mut v = Validator::new(s.source(Some("bank")).unwrap(), &s.payments, today());
        let row = RawRow {
            pos: payimport::read::Position { file: "p.csv".into(), line: 2 },
            fields: RawFields {
                loan, amount: RawAmount::Text(amount), date, reference,
                payment_method_id: method,
                extra,
                ..RawFields::default()
            },
        };
        match v.validate(&row) {
            Ok(p) => {
                serde_json::to_string(&PaymentBody::of(&p)).unwrap();
            }
            Err((_, e)) => prop_assert!(e.to_string().starts_with("p.csv:2: field `")),
        }
    }
}

proptest! {
    // Each case reads a whole fixture: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn damaged_lockbox_files_end_without_a_panic(bytes in damaged(fixture("lockbox/good.lbx"))) {
        read_lockbox(&bytes, &LockboxLayout::default(), ControlTotals::Enforce);
        read_lockbox(&bytes, &LockboxLayout::default(), ControlTotals::Warn);
    }

    #[test]
    fn damaged_bai2_files_end_without_a_panic(bytes in damaged(fixture("bai2/good.bai"))) {
        let text = Bai2Options {
            loan_from: Bai2LoanFrom::Text,
            loan_pattern: Some(r"LOAN\s*#?\s*(\d+)".into()),
        };
        read_bai2(&bytes, &Bai2Options::default(), ControlTotals::Enforce);
        read_bai2(&bytes, &text, ControlTotals::Warn);
    }

    #[test]
    fn damaged_csv_files_end_without_a_panic(
        bytes in damaged(b"loan,amount,date,reference\n1,\"$1,234.50\",2026-11-20,\"chk, 1\"\n2,5,11/20/2026,x\n".to_vec()),
    ) {
        read_csv(&bytes, b',');
    }
}

// ---------------------------------------------------------------------------------------------
// Valid rows round-trip: file → reader → validation → the JSON body LoanPro receives.

/// One valid payment as a CSV row states it, and what LoanPro must receive for it.
#[derive(Debug, Clone)]
struct GoodRow {
    loan: u64,
    cents: u64,
    /// How the amount is written: plain, grouped, with `$`, or whole.
    amount_style: u8,
    date: NaiveDate,
    us_date: bool,
    reference: String,
    method: Option<u32>,
    kind: Option<u32>,
    extra: Option<&'static str>,
}

impl GoodRow {
    fn amount_text(&self) -> String {
        let (int, frac) = (self.cents / 100, self.cents % 100);
        let grouped = {
            let digits = int.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        };
        match self.amount_style {
            0 => format!("{int}.{frac:02}"),
            1 => format!("{grouped}.{frac:02}"),
            2 => format!("${grouped}.{frac:02}"),
            _ if frac == 0 => int.to_string(),
            _ if frac % 10 == 0 => format!("{int}.{}", frac / 10),
            _ => format!("{int}.{frac:02}"),
        }
    }

    fn date_text(&self) -> String {
        let f = if self.us_date { "%m/%d/%Y" } else { "%Y-%m-%d" };
        self.date.format(f).to_string()
    }
}

fn good_row() -> impl Strategy<Value = GoodRow> {
    (
        (1..=i64::MAX as u64, 1..100_000_000_000_000_u64, 0..4u8),
        // Back as far as the source's `max_age_days`, ahead as far as docs/formats.md allows.
        (0..=3650u64, 0..=7u64, any::<bool>()),
        "[A-Za-z0-9 ,\"'=#/.-]{0,20}",
        (
            proptest::option::of(prop_oneof![Just(3u32), Just(4), Just(5)]),
            proptest::option::of(prop_oneof![Just(1u32), Just(2)]),
            proptest::option::of(proptest::sample::select(&EXTRAS[..])),
        ),
    )
        .prop_map(
            |(
                (loan, cents, amount_style),
                (back, ahead, us_date),
                reference,
                (method, kind, extra),
            )| {
                let date = if back > 0 {
                    today() - Days::new(back)
                } else {
                    today() + Days::new(ahead)
                };
                GoodRow {
                    loan,
                    cents,
                    amount_style,
                    date,
                    us_date,
                    reference,
                    method,
                    kind,
                    extra,
                }
            },
        )
}

/// The rows as a CSV file, written by the csv crate (quoting what needs quotes).
fn csv_file(rows: &[GoodRow], crlf: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    w.write_record([
        "loan",
        "amount",
        "date",
        "reference",
        "payment_method_id",
        "payment_type_id",
        "extra",
    ])
    .unwrap();
    for r in rows {
        w.write_record([
            r.loan.to_string(),
            r.amount_text(),
            r.date_text(),
            r.reference.clone(),
            r.method.map(|m| m.to_string()).unwrap_or_default(),
            r.kind.map(|k| k.to_string()).unwrap_or_default(),
            r.extra.unwrap_or_default().to_string(),
        ])
        .unwrap();
    }
    w.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_csv_rows_round_trip_through_the_payload(
        rows in proptest::collection::vec(good_row(), 1..12),
        crlf in any::<bool>(),
        twice in any::<bool>(),
    ) {
        // Identical rows are distinct payments: repeat the file's rows once more sometimes.
        let mut rows = rows;
        if twice {
            rows.extend(rows.clone());
        }
        let bytes = csv_file(&rows, crlf);
        let s = settings();
        let source = s.source(Some("bank")).unwrap();
        let mut v = Validator::new(source, &s.payments, today());
        let read: Vec<RawRow> = CsvReader::new("in/bank.csv".into(), &bytes[..], &Columns::default(), b',')
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(read.len(), rows.len());
        let mut keys = std::collections::HashSet::new();
        for (i, (raw, want)) in read.iter().zip(&rows).enumerate() {
            prop_assert_eq!(raw.pos.line, i as u64 + 2);
            let p = v.validate(raw).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
            prop_assert!(keys.insert(p.key), "two rows share a key");
            prop_assert_eq!(p.loan_id, Some(want.loan));
            let body = serde_json::to_value(PaymentBody::of(&p)).unwrap();
            let pay = &body["Payments"]["results"][0];
            prop_assert_eq!(
                pay["amount"].as_str().unwrap(),
                format!("{}.{:02}", want.cents / 100, want.cents % 100)
            );
            let iso = want.date.format("%Y-%m-%d").to_string();
            prop_assert_eq!(pay["date"].as_str().unwrap(), iso.as_str());
            prop_assert_eq!(pay["paymentMethodId"].as_u64(), Some(u64::from(want.method.unwrap_or(4))));
            prop_assert_eq!(pay["paymentTypeId"].as_u64(), Some(u64::from(want.kind.unwrap_or(1))));
            prop_assert_eq!(
                pay["extra"].as_str().unwrap(),
                want.extra.unwrap_or("payment.extra.tx.principal")
            );
            prop_assert_eq!(&pay["__logOnly"], &serde_json::Value::Bool(true));
            prop_assert_eq!(pay["selectedProcessor"].as_str(), Some("0"));
            let info = pay["info"].as_str().unwrap();
            // The info template, with runs of blanks folded into one.
            let head = format!("{iso} bank {}", want.reference)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let marker = format!(" [k:{}]", p.key);
            prop_assert_eq!(info, format!("{head}{marker}"));
            prop_assert!(info.ends_with(&marker), "{info:?}");
            let key = &info[info.len() - 17..info.len() - 1];
            prop_assert_eq!(Key::parse(key), Some(p.key));
        }
    }
}

/// A lockbox transmission of the default layout holding `payments` (cents, coupon number).
fn lockbox_file(payments: &[(u64, u32)]) -> Vec<u8> {
    let mut recs = vec![
        "101021000021009876543212611200615".to_string(),
        "5001   123456726111802100002100987654321".to_string(),
    ];
    for (i, (cents, loan)) in payments.iter().enumerate() {
        let item = i + 1;
        recs.push(format!(
            "6001{item:03}{cents:010}0210000214455667788{:>10}111426J DOE",
            1000 + i
        ));
        recs.push(format!("4001{item:03}4019LN{loan:06}"));
    }
    let total: u64 = payments.iter().map(|p| p.0).sum();
    let n = payments.len();
    recs.push(format!("70010001234567261118{n:03}{total:010}"));
    recs.push(format!("80000001234567261118{n:04}{total:010}"));
    recs.push(format!("9{:06}", recs.len() + 1));
    (recs.join("\r\n") + "\r\n").into_bytes()
}

/// A BAI2 file of one account holding `payments` (cents, loan id) as 165 details.
fn bai2_file(payments: &[(u64, u32)]) -> Vec<u8> {
    let mut recs = vec![
        "01,122099999,123456789,261120,0200,1,,,2/".to_string(),
        "02,031001234,122099999,1,261119,2359,USD,2/".to_string(),
        "03,123456789,USD/".to_string(),
    ];
    for (i, (cents, loan)) in payments.iter().enumerate() {
        recs.push(format!("16,165,{cents},0,ACH{i:04},{loan},LOAN {loan}/"));
    }
    let total: u64 = payments.iter().map(|p| p.0).sum();
    let n = payments.len();
    recs.push(format!("49,{total},{}/", n + 2));
    recs.push(format!("98,{total},1,{}/", n + 4));
    recs.push(format!("99,{total},1,{}/", n + 6));
    (recs.join("\n") + "\n").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_lockbox_payments_round_trip_through_the_payload(
        payments in proptest::collection::vec((1..10_000_000u64, 1..1_000_000u32), 1..20),
    ) {
        let bytes = lockbox_file(&payments);
        let mut reader =
            LockboxReader::new("p.lbx".into(), &bytes[..], &LockboxLayout::default(), ControlTotals::Enforce)
                .unwrap();
        let rows: Vec<RawRow> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        prop_assert!(reader.control_checks().iter().all(|c| c.matches()));
        prop_assert_eq!(rows.len(), payments.len());
        let s = settings();
        let mut v = Validator::new(s.source(Some("lockbox")).unwrap(), &s.payments, today());
        for (row, (cents, loan)) in rows.iter().zip(&payments) {
            let p = v.validate(row).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&p.loan, &format!("LN{loan:06}"));
            let body = serde_json::to_value(PaymentBody::of(&p)).unwrap();
            let pay = &body["Payments"]["results"][0];
            prop_assert_eq!(pay["amount"].as_str().unwrap(), format!("{}.{:02}", cents / 100, cents % 100));
            prop_assert_eq!(pay["date"].as_str(), Some("2026-11-18"));
            let marker = format!(" [k:{}]", p.key);
            let info = pay["info"].as_str().unwrap();
            prop_assert!(info.ends_with(&marker), "{info:?}");
        }
    }

    #[test]
    fn valid_bai2_payments_round_trip_through_the_payload(
        payments in proptest::collection::vec((1..1_000_000_000_000u64, 1..u32::MAX), 1..20),
    ) {
        let bytes = bai2_file(&payments);
        let mut reader = Bai2Reader::new(
            "p.bai".into(),
            &bytes[..],
            &Bai2Options::default(),
            &[165, 175],
            ControlTotals::Enforce,
        )
        .unwrap();
        let rows: Vec<RawRow> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        prop_assert!(reader.control_checks().iter().all(|c| c.matches()));
        prop_assert_eq!(rows.len(), payments.len());
        let s = settings();
        let mut v = Validator::new(s.source(Some("ach")).unwrap(), &s.payments, today());
        for (row, (cents, loan)) in rows.iter().zip(&payments) {
            let p = v.validate(row).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(p.loan_id, Some(u64::from(*loan)));
            let body = serde_json::to_value(PaymentBody::of(&p)).unwrap();
            let pay = &body["Payments"]["results"][0];
            prop_assert_eq!(pay["amount"].as_str().unwrap(), format!("{}.{:02}", cents / 100, cents % 100));
            prop_assert_eq!(pay["date"].as_str(), Some("2026-11-19"));
            let marker = format!(" [k:{}]", p.key);
            let info = pay["info"].as_str().unwrap();
            prop_assert!(info.ends_with(&marker), "{info:?}");
        }
    }
}

/// The settings the property below starts from: every section and every key, valid.
const SETTINGS_KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "loanpro",
        &[
            ("base_url", r#""https://lp.example/api/public/api/1""#),
            ("tenant_id", r#""5200243""#),
            ("token_env", r#""LOANPRO_TOKEN""#),
            ("timeout_secs", "30"),
        ],
    ),
    ("ledger", &[("path", r#""payimport.sqlite""#)]),
    (
        "limits",
        &[
            ("requests_per_second", "5.0"),
            ("concurrency", "4"),
            ("max_attempts", "5"),
            ("settle_secs", "60"),
        ],
    ),
    (
        "payments",
        &[
            ("payment_methods", r#"{ 3 = "Card", 4 = "Check" }"#),
            ("payment_types", r#"{ 1 = "Regular" }"#),
            ("extra", r#"["payment.extra.tx.principal"]"#),
            ("default_payment_method_id", "4"),
            ("default_payment_type_id", "1"),
            ("default_extra", r#""payment.extra.tx.principal""#),
            ("info", r#""{date} {source} {reference}""#),
        ],
    ),
    (
        "sources.bank",
        &[
            ("format", r#""csv""#),
            ("loan", r#""id""#),
            ("date_formats", r#"["%Y-%m-%d", "%m/%d/%Y"]"#),
            ("delimiter", r#"",""#),
            ("max_age_days", "365"),
            ("payment_method_id", "4"),
            ("payment_type_id", "1"),
            ("extra", r#""payment.extra.tx.principal""#),
            ("info", r#""{file}:{line}""#),
        ],
    ),
    (
        "sources.bank.columns",
        &[("loan", r#""Loan""#), ("amount", r#""Amount""#)],
    ),
    (
        "sources.box",
        &[
            ("format", r#""lockbox""#),
            ("loan", r#""display_id""#),
            ("control_totals", r#""warn""#),
            ("max_age_days", "30"),
        ],
    ),
    (
        "sources.box.layout",
        &[
            ("detail_amount", "[8, 17]"),
            ("lockbox_deposit_date", "[15, 20]"),
            ("year_pivot", "70"),
            ("loan_from", r#""overflow""#),
        ],
    ),
    (
        "sources.ach",
        &[
            ("format", r#""bai2""#),
            ("type_codes", "[165, 175]"),
            ("max_age_days", "3650"),
        ],
    ),
    (
        "sources.ach.bai2",
        &[
            ("loan_from", r#""text""#),
            ("loan_pattern", r#""LOAN (\\d+)""#),
        ],
    ),
];

/// Strings a settings value might be: the ones payimport looks for, and near misses.
const SETTINGS_STRINGS: &[&str] = &[
    "",
    " ",
    "https://lp.example/api",
    "http://127.0.0.1:1/api/",
    "http://lp.example/api",
    "https://lp.example/a/../b",
    "https:///api",
    "https://lp.example/api?x=1#y",
    "https://user:pw@lp.example",
    "ftp://lp.example",
    "HTTPS://LP.EXAMPLE:443/",
    "csv",
    "lockbox",
    "bai2",
    "id",
    "display_id",
    "warn",
    "enforce",
    "text",
    "bank_reference",
    "customer_reference",
    "overflow",
    "detail",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%Y",
    "%",
    "%.3f",
    "%Q",
    "%Y%m%d%H%M%S%.f%z",
    "{date}",
    "{",
    "}",
    "{unknown}",
    "payment.extra.tx.principal",
    "payment.extra.periods.next",
    "\t",
    ";",
    "\u{0}",
    "A=B",
    "LOAN (\\d+)",
    "((",
    "(a)(b)",
    "€",
];

/// A number as a settings file might hold it: around every range, huge, tiny, negative,
/// not a number, infinite.
fn toml_number() -> impl Strategy<Value = String> {
    let float = |f: f64| {
        if f.is_nan() {
            "nan".to_string()
        } else if f.is_infinite() {
            if f > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            // `{:?}` always shows a point or an exponent: a TOML float.
            format!("{f:?}")
        }
    };
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-5i64..5000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(float),
        (-1.0f64..4000.0).prop_map(float),
        // Every range's edges, in and out, and what overflows a `Duration` or an integer.
        proptest::sample::select(
            &[
                "0.1",
                "0.09999",
                "600",
                "600.0001",
                "3600",
                "3600.5",
                "1000000",
                "1000000.1",
                "1",
                "256",
                "257",
                "100",
                "101",
                "3650",
                "3651",
                "1e20",
                "1e30",
                "1e308",
                "1e-9",
                "5e-324",
                "-0.0",
                "0",
                "0.0",
                "nan",
                "inf",
                "-inf",
                "4294967296",
                "18446744073709551615",
                "9223372036854775807",
            ][..]
        )
        .prop_map(String::from),
    ]
}

fn toml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(SETTINGS_STRINGS).prop_map(String::from),
        "\\PC{0,12}",
        any::<String>(),
    ]
    // JSON's escapes are TOML's; a character TOML refuses makes a parse error, which is fine.
    .prop_map(|s| serde_json::to_string(&s).unwrap())
}

fn toml_key() -> impl Strategy<Value = String> {
    let known: Vec<&str> = SETTINGS_KEYS
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|(k, _)| *k))
        .chain(["bai2", "layout", "columns", "type_codes", "3", "0", "-1"])
        .collect();
    prop_oneof![
        proptest::sample::select(known).prop_map(String::from),
        "[a-z0-9_]{1,12}",
    ]
}

/// Any TOML value: a number, string or boolean, an array of them or an inline table.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => toml_number(),
        3 => toml_string(),
        1 => any::<bool>().prop_map(|b| b.to_string()),
    ];
    prop_oneof![
        6 => leaf.clone(),
        1 => proptest::collection::vec(leaf.clone(), 0..4)
            .prop_map(|v| format!("[{}]", v.join(", "))),
        1 => proptest::collection::vec((toml_key(), leaf), 0..3).prop_map(|kv| {
            let kv: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", kv.join(", "))
        }),
    ]
}

/// A settings file: in half of them one number of `SETTINGS_KEYS` given another number (what
/// the ranges are about), and each other key kept, dropped or given any value, and keys of
/// any name added, each with a chance of `rate` percent. A low rate leaves most files valid but
/// for that one value, so that what valid settings turn into is exercised at its edges too.
fn settings_file() -> impl Strategy<Value = String> {
    let is_number = |good: &str| good.parse::<f64>().is_ok();
    let numbers = SETTINGS_KEYS
        .iter()
        .flat_map(|(_, keys)| keys.iter())
        .filter(|(_, good)| is_number(good))
        .count();
    let rate = prop_oneof![2 => Just(1u32), 1 => Just(5), 1 => Just(30)];
    // A `target` past the last number changes none.
    (rate, 0..numbers * 2).prop_flat_map(move |(rate, target)| {
        let mut index = 0;
        let sections: Vec<_> = SETTINGS_KEYS
            .iter()
            .map(|(section, keys)| {
                let keys: Vec<BoxedStrategy<String>> = keys
                    .iter()
                    .map(|(key, good)| {
                        let line = move |v: String| format!("{key} = {v}");
                        if is_number(good) {
                            index += 1;
                            if index - 1 == target {
                                return toml_number().prop_map(line).boxed();
                            }
                        }
                        prop_oneof![
                            100 - rate => Just(line(good.to_string())),
                            1 => Just(String::new()),
                            rate => toml_value().prop_map(line),
                        ]
                        .boxed()
                    })
                    .collect();
                let added = prop_oneof![
                    100 - rate => Just(Vec::new()),
                    rate => proptest::collection::vec(
                        (toml_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
                        1..3,
                    ),
                ];
                (keys, added).prop_map(move |(keys, added)| {
                    format!("[{section}]\n{}\n{}\n", keys.join("\n"), added.join("\n"))
                })
            })
            .collect();
        sections.prop_map(|s| s.concat())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_settings_file_makes_loading_or_configuring_panic(text in settings_file()) {
        use std::time::Duration;

        use payimport::dispatch::DispatchConfig;
        use payimport::loanpro::{Client, ClientConfig};
        use payimport::readback::ReadBackConfig;
        use payimport::settings::Token;

        let Ok(s) = Settings::from_toml(&text, Path::new("/etc/payimport/p.toml")) else {
            return Ok(());
        };
        // What `Session::start` makes of the settings.
        let timeout = Duration::from_secs_f64(s.loanpro.timeout_secs);
        let l = &s.limits;
        let _ = DispatchConfig::new(l.concurrency, l.max_attempts, l.requests_per_second);
        let _ = ReadBackConfig {
            settle: Duration::from_secs_f64(l.settle_secs),
            max_attempts: l.max_attempts,
            concurrency: l.concurrency,
        };
        // A tenant id that is no header value is an error, not a panic.
        let _ = Client::new(ClientConfig {
            base_url: s.loanpro.base_url.clone(),
            tenant_id: s.loanpro.tenant_id.clone(),
            token: Token::new("t"),
            timeout,
            requests_per_second: l.requests_per_second,
        });
        let _ = (s.loanpro.ledger_base_url(), s.loanpro.ledger_tenant_id(), s.loanpro.token());
        // Every source's date formats and age limit, on a row of each kind of date.
        for source in s.sources.values() {
            let mut v = Validator::new(source, &s.payments, today());
            for date in ["2026-11-20", "11/25/26", "0001-01-01", "20261120", ""] {
                let row = RawRow {
                    pos: payimport::read::Position { file: "p".into(), line: 2 },
                    fields: RawFields {
                        loan: "12".into(),
                        amount: RawAmount::Text("10".into()),
                        date: date.into(),
                        ..RawFields::default()
                    },
                };
                let _ = v.validate(&row);
            }
        }
    }
}

fn nacha_entry() -> impl Strategy<Value = ReturnEntry> {
    (1u64..100_000, 1i64..10_000_000, 1u32..86, any::<bool>()).prop_map(
        |(loan, cents, code, notice)| ReturnEntry {
            loan: loan.to_string(),
            cents,
            code: format!("{}{code:02}", if notice { 'C' } else { 'R' }),
            original_trace: format!("09100001{:07}", loan % 10_000_000),
            trace: format!("09100002{:07}", cents % 10_000_000),
            notice,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The NACHA return reader (docs/returns.md), like the others: any bytes end without a panic.
    #[test]
    fn any_bytes_to_the_nacha_reader_end_without_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        warn in any::<bool>(),
    ) {
        let mode = if warn { ControlTotals::Warn } else { ControlTotals::Enforce };
        read_nacha(&bytes, mode);
    }

    #[test]
    fn damaged_nacha_files_end_without_a_panic(
        bytes in proptest::collection::vec(nacha_entry(), 1..6)
            .prop_flat_map(|e| damaged(return_file("261120", &e).into_bytes())),
    ) {
        read_nacha(&bytes, ControlTotals::Enforce);
    }

    /// A generated NACHA return file round-trips: every return comes back as a valid return
    /// row with its loan, amount, code and original trace; notices are counted, never rows.
    #[test]
    fn generated_nacha_files_round_trip(entries in proptest::collection::vec(nacha_entry(), 0..12)) {
        let text = return_file("261120", &entries);
        let mut r = NachaReader::new("r.ach".into(), text.as_bytes(), ControlTotals::Enforce);
        let rows: Vec<RawRow> = r.by_ref().collect::<Result<_, _>>().unwrap();
        let returns: Vec<&ReturnEntry> = entries.iter().filter(|e| !e.notice).collect();
        prop_assert_eq!(rows.len(), returns.len());
        prop_assert_eq!(r.notices(), (entries.len() - returns.len()) as u64);
        let s = settings();
        let mut v = Validator::new(s.source(Some("nacha")).unwrap(), &s.payments, today())
            .with_returns(&s.returns);
        for (row, e) in rows.iter().zip(returns) {
            let p = v.validate(row).unwrap();
            prop_assert_eq!(&p.loan, &e.loan);
            prop_assert_eq!(p.amount.0, e.cents);
            prop_assert_eq!(payimport::payment::iso_date(p.date), "2026-11-20");
            let ret = p.ret.unwrap();
            prop_assert_eq!(&ret.code, &e.code);
            prop_assert_eq!(&ret.original_reference, &e.original_trace);
        }
    }
}
