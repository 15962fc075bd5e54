//! The settings file's TOML shapes, as written. `deny_unknown_fields` everywhere: a misspelt key
//! must stop the run, not be silently ignored while a default takes its place.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::source::{CsvKind, FORMATS, FormatSpec, ReturnReference};
use super::{Limits, LoanPro, LoanRef};
use crate::read::bai2::{Bai2Options, CodeSpec};
use crate::read::control::ControlTotals;
use crate::read::csv::Columns;
use crate::read::lockbox::LockboxLayout;
use crate::returns::RawReturns;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    pub loanpro: LoanPro,
    #[serde(default)]
    pub ledger: RawLedger,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub metrics: RawMetrics,
    pub payments: RawPayments,
    #[serde(default)]
    pub returns: RawReturns,
    #[serde(default)]
    pub sources: BTreeMap<String, RawSource>,
}

/// `[limits]` as written: counts as TOML's own integers, so that a negative or huge one is
/// refused with the key and its range rather than a parser's "expected usize".
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLimits {
    pub requests_per_second: f64,
    pub concurrency: i64,
    pub max_attempts: i64,
    pub settle_secs: f64,
    pub min_file_age_secs: i64,
}

impl Default for RawLimits {
    fn default() -> Self {
        let d = Limits::default();
        RawLimits {
            requests_per_second: d.requests_per_second,
            concurrency: d.concurrency as i64,
            max_attempts: d.max_attempts.into(),
            settle_secs: d.settle_secs,
            min_file_age_secs: d.min_file_age_secs as i64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    pub path: String,
    #[serde(default)]
    pub verify: super::Verify,
}

impl Default for RawLedger {
    fn default() -> Self {
        RawLedger {
            path: "payimport.sqlite".into(),
            verify: super::Verify::default(),
        }
    }
}

/// `[metrics]`: the node_exporter textfile to write after every `import` and `retry`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub textfile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPayments {
    pub payment_methods: BTreeMap<String, String>,
    pub payment_types: BTreeMap<String, String>,
    pub extra: Vec<String>,
    pub default_payment_method_id: u32,
    pub default_payment_type_id: u32,
    pub default_extra: String,
    #[serde(default = "default_info")]
    pub info: String,
    #[serde(default)]
    pub duplicates: super::Duplicates,
}

fn default_info() -> String {
    "{date} {source} {reference}".into()
}

/// `[sources.NAME]` as written: the keys every format has, then the keys of one format or
/// another, `None` when not set, so that a key of another format can be refused by name (each
/// format's [`FormatSpec::keys`] says which are its own; [`RawSource::format_keys_set`] names
/// them here).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    #[serde(deserialize_with = "format_by_name")]
    pub format: &'static FormatSpec,
    #[serde(default = "default_loan_ref")]
    pub loan: LoanRef,
    pub payment_method_id: Option<u32>,
    pub payment_type_id: Option<u32>,
    pub extra: Option<String>,
    pub info: Option<String>,
    pub max_age_days: Option<i64>,
    pub delimiter: Option<String>,
    pub columns: Option<Columns>,
    pub date_formats: Option<Vec<String>>,
    pub layout: Option<LockboxLayout>,
    pub control_totals: Option<ControlTotals>,
    pub control_counts: Option<ControlTotals>,
    pub type_codes: Option<Vec<CodeSpec>>,
    pub bai2: Option<Bai2Options>,
    pub bai2_final_only: Option<bool>,
    pub kind: Option<CsvKind>,
    pub return_type_codes: Option<Vec<CodeSpec>>,
    pub return_reference: Option<ReturnReference>,
    pub control_file: Option<bool>,
    pub loan_from: Option<Vec<crate::read::camt::LoanFrom>>,
    pub loan_pattern: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub bank_transaction_codes: Option<Vec<String>>,
    pub unit: Option<crate::read::camt::Unit>,
}

impl RawSource {
    /// Each format-specific key by its name, and whether it is set: a key missing here, or
    /// in every format's [`FormatSpec::keys`], fails `every_format_key_is_read_and_owned`.
    pub fn format_keys_set(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("delimiter", self.delimiter.is_some()),
            ("columns", self.columns.is_some()),
            ("date_formats", self.date_formats.is_some()),
            ("layout", self.layout.is_some()),
            ("control_totals", self.control_totals.is_some()),
            ("control_counts", self.control_counts.is_some()),
            ("type_codes", self.type_codes.is_some()),
            ("bai2", self.bai2.is_some()),
            ("bai2_final_only", self.bai2_final_only.is_some()),
            ("kind", self.kind.is_some()),
            ("return_type_codes", self.return_type_codes.is_some()),
            ("return_reference", self.return_reference.is_some()),
            ("control_file", self.control_file.is_some()),
            ("loan_from", self.loan_from.is_some()),
            ("loan_pattern", self.loan_pattern.is_some()),
            ("accounts", self.accounts.is_some()),
            (
                "bank_transaction_codes",
                self.bank_transaction_codes.is_some(),
            ),
            ("unit", self.unit.is_some()),
        ]
    }
}

/// The `format` key: the name of one of [`FORMATS`]; serde's own message otherwise (with the
/// line), listing the names.
fn format_by_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static FormatSpec, D::Error> {
    let name = String::deserialize(d)?;
    FORMATS
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| serde::de::Error::unknown_variant(&name, &super::source::FORMAT_NAMES))
}

fn default_loan_ref() -> LoanRef {
    LoanRef::Id
}
