//! Test support shared by the integration tests, the benches and the fuzz targets (which see
//! only the library's public items): one settings file with a source per bank format, the
//! reader-draining checks, and a valid CSV of any length. Not used by payimport itself.

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::payment::PaymentBody;
use crate::read::{FileError, RawRow};
use crate::settings::Settings;
use crate::validate::Validator;

/// Settings with one source per bank format: `bank` (csv), `lockbox`, `ach` (bai2), `nacha`, `camt`.
pub const SETTINGS: &str = r#"
[loanpro]
base_url = "https://loanpro.example/api/public/api/1"
tenant_id = "1"

[payments]
payment_methods = { 3 = "Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal", "payment.extra.tx.classic", "payment.extra.periods.next"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
info = "{date} {source} {reference}"

[sources.bank]
format = "csv"
loan = "id"
date_formats = ["%Y-%m-%d", "%m/%d/%Y"]
max_age_days = 3650

[sources.lockbox]
format = "lockbox"
loan = "display_id"

[sources.ach]
format = "bai2"
loan = "id"
type_codes = [165, 175]

[sources.nacha]
format = "nacha"
loan = "id"

[sources.camt]
format = "camt"
loan = "id"
loan_pattern = "LOAN\\s*#?\\s*(\\d+)"
"#;

/// [`SETTINGS`], loaded once.
pub fn settings() -> &'static Settings {
    static S: OnceLock<Settings> = OnceLock::new();
    S.get_or_init(|| Settings::from_toml(SETTINGS, Path::new("testkit.toml")).expect("settings"))
}

/// The day the rows of [`valid_csv`] and the tests' files are validated on.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}

/// Drains a reader of `source`'s rows: it must end (no more items than the input has bytes,
/// plus the end), stop after a file error, and every row and error must print. Valid rows are
/// validated and serialised, so that no input can make those panic either.
pub fn drain(
    source: &str,
    input_len: usize,
    rows: impl Iterator<Item = Result<RawRow, FileError>>,
) {
    let s = settings();
    let source = s.source(Some(source)).expect("source");
    let mut validator = Validator::new(source, &s.payments, today()).with_returns(&s.returns);
    let mut items = 0usize;
    let mut failed = false;
    for item in rows {
        assert!(!failed, "the reader goes on after a file error");
        items += 1;
        assert!(
            items <= input_len + 2,
            "more items than bytes: the reader does not end"
        );
        match item {
            Ok(row) => {
                let _ = row.pos.to_string();
                if let Ok(p) = validator.validate(&row) {
                    let json = serde_json::to_string(&PaymentBody::of(&p)).expect("body");
                    assert!(json.contains("\"__logOnly\":true"));
                }
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                failed = true;
            }
        }
    }
}

/// A CSV of `n` valid payments (`loan,amount,date,reference`), all different, dated in
/// November 2026.
pub fn valid_csv(n: usize) -> String {
    let mut s = String::from("loan,amount,date,reference\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},{}.{:02},2026-11-{:02},{}\n",
            1 + i % 1000,
            10 + i % 490,
            i % 100,
            1 + i % 20,
            100_000 + i
        ));
    }
    s
}
