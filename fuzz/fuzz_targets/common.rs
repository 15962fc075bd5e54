//! What every target does with the rows a reader yields: validate them against a fixed settings
//! file and serialise the valid ones into the payload LoanPro receives, so that the fuzzer
//! reaches validation and the payment body too. Any panic is a crash; so is a reader that
//! yields more items than its input has bytes (it would never end) or goes on after an error.

use std::path::Path;
use std::sync::OnceLock;

use payimport::payment::PaymentBody;
use payimport::read::{FileError, RawRow};
use payimport::settings::Settings;
use payimport::validate::Validator;

const SETTINGS: &str = r#"
[loanpro]
base_url = "https://loanpro.example/api/public/api/1"
tenant_id = "1"

[payments]
payment_methods = { 3 = "Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal", "payment.extra.periods.next"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
info = "{date} {source} {reference} {file} {line}"

[sources.csv]
format = "csv"
loan = "id"

[sources.lockbox]
format = "lockbox"
loan = "display_id"

[sources.bai2]
format = "bai2"
loan = "id"
type_codes = [165, 175]

[sources.nacha]
format = "nacha"
loan = "id"

[sources.camt]
format = "camt"
loan = "id"
"#;

pub fn settings() -> &'static Settings {
    static S: OnceLock<Settings> = OnceLock::new();
    S.get_or_init(|| Settings::from_toml(SETTINGS, Path::new("fuzz.toml")).expect("settings"))
}

/// Drains `rows`, validating each row of `source` and serialising the valid ones.
pub fn drain(
    source: &str,
    input_len: usize,
    rows: impl Iterator<Item = Result<RawRow, FileError>>,
) {
    let s = settings();
    let source = s.source(Some(source)).expect("source");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let mut validator = Validator::new(source, &s.payments, today).with_returns(&s.returns);
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
                let _ = e.to_string();
                failed = true;
            }
        }
    }
}
