//! The settings file (SPEC §2): TOML parsed strictly and validated into [`Settings`].
//!
//! Every problem names the key it is about, because the person reading the message is an
//! operator looking at the file, not at this code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::read::bai2::{Bai2Options, CodeSpec, TypeCodes};
use crate::read::camt::CamtOptions;
use crate::read::control::{ControlModes, ControlTotals};
use crate::read::csv::Columns;
use crate::read::lockbox::LockboxLayout;
use crate::returns::{RawReturns, Returns};

/// A settings file that cannot be used. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("settings file {path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The validated settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from.
    pub path: PathBuf,
    pub loanpro: LoanPro,
    /// The ledger path, already resolved against the settings file's folder.
    pub ledger_path: PathBuf,
    /// `[metrics] textfile`: where `import` and `retry` write their Prometheus metrics,
    /// resolved against the settings file's folder; `--metrics-file` overrides it.
    pub metrics_textfile: Option<PathBuf>,
    pub limits: Limits,
    pub payments: Payments,
    /// `[returns]` (SPEC §8); its defaults when the file has none.
    pub returns: Returns,
    pub sources: BTreeMap<String, Source>,
}

/// `[loanpro]`: where and how to reach the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanPro {
    pub base_url: String,
    pub tenant_id: String,
    #[serde(default = "default_token_env")]
    pub token_env: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
}

/// `[limits]`: how hard payimport may press on LoanPro.
#[derive(Debug, Clone)]
pub struct Limits {
    pub requests_per_second: f64,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub settle_secs: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            requests_per_second: 5.0,
            concurrency: 4,
            max_attempts: 5,
            settle_secs: 60.0,
        }
    }
}

/// `[payments]`: the allowed values and the defaults for every source.
#[derive(Debug, Clone)]
pub struct Payments {
    pub payment_methods: BTreeMap<u32, String>,
    pub payment_types: BTreeMap<u32, String>,
    pub extra: BTreeSet<String>,
    pub default_payment_method_id: u32,
    pub default_payment_type_id: u32,
    pub default_extra: String,
    pub info: InfoTemplate,
}

/// The format of a source's files: the `format` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Lockbox,
    Bai2,
    Nacha,
    Camt,
}

impl Format {
    /// The name the settings file gives it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Lockbox => "lockbox",
            Format::Bai2 => "bai2",
            Format::Nacha => "nacha",
            Format::Camt => "camt",
        }
    }
}

/// What the loan column of a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanRef {
    /// LoanPro's internal loan id.
    Id,
    /// The loan's display id (e.g. `LN000123`), resolved through the API.
    DisplayId,
}

/// `[sources.NAME]`: one kind of bank file, with its overrides of the payment defaults.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub loan: LoanRef,
    pub payment_method_id: u32,
    pub payment_type_id: u32,
    pub extra: String,
    pub info: InfoTemplate,
    /// A payment date older than this many days before today is rejected (SPEC §3), whatever
    /// the format: a year mistyped or misread gives a date nobody meant.
    pub max_age_days: u32,
    /// The `format` and the options that only it has.
    pub format: SourceFormat,
}

/// A source's format with its own options. A key of another format is refused at load, like
/// any unknown key, so a setting can never sit in a file doing nothing.
#[derive(Debug, Clone)]
pub enum SourceFormat {
    Csv {
        delimiter: u8,
        columns: Columns,
        /// strftime formats tried in order.
        date_formats: Vec<String>,
        /// `kind`: payment rows, or return rows (SPEC §8).
        kind: CsvKind,
    },
    Lockbox {
        layout: LockboxLayout,
        /// `control_totals` for amounts, `control_counts` (default: the same) for counts.
        control: ControlModes,
    },
    Bai2 {
        /// The 16 (detail) type codes that are payments.
        type_codes: TypeCodes,
        bai2: Bai2Options,
        /// `control_totals` for amounts, `control_counts` (default: the same) for counts.
        control: ControlModes,
        /// `bai2_final_only`: skip interim groups (as-of-date modifier 1 or 3).
        final_only: bool,
        /// The 16 type codes that are returns (SPEC §8), and whether a return's customer
        /// reference is its original reference.
        return_type_codes: TypeCodes,
        return_reference: ReturnReference,
    },
    /// An ACH return file (SPEC §8): every row is a return.
    Nacha { control_totals: ControlTotals },
    /// ISO 20022 statements and notifications (SPEC §10).
    Camt {
        camt: CamtOptions,
        control_totals: ControlTotals,
    },
}

/// What the rows of a CSV source are: the `kind` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CsvKind {
    #[default]
    Payments,
    Returns,
}

/// Where a BAI2 return's original reference comes from: the `return_reference` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnReference {
    /// None: a return is matched by loan and amount only.
    #[default]
    None,
    /// The 16's customer reference.
    Customer,
}

/// A payment `info` template such as `"{date} {source} {reference}"`, checked at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoTemplate(String);

/// The values an info template can refer to.
pub struct InfoValues<'a> {
    pub date: &'a str,
    pub source: &'a str,
    pub reference: &'a str,
    pub file: &'a str,
    pub line: u64,
}

const INFO_PLACEHOLDERS: [&str; 5] = ["date", "source", "reference", "file", "line"];

impl InfoTemplate {
    /// Checks that every `{...}` is a known placeholder.
    pub fn parse(template: &str) -> Result<Self, String> {
        check_placeholders(template, &INFO_PLACEHOLDERS)?;
        Ok(InfoTemplate(template.to_string()))
    }

    /// Appends the filled-in template to `out` (which the caller may have started), collapsing
    /// the blanks an empty value leaves behind.
    pub fn render_into(&self, out: &mut String, v: &InfoValues) {
        render_template(&self.0, out, |name, out| match name {
            "date" => out.push_str(v.date),
            "source" => out.push_str(v.source),
            "reference" => out.push_str(v.reference),
            "file" => out.push_str(v.file),
            _ => {
                use std::fmt::Write;
                let _ = write!(out, "{}", v.line);
            }
        });
    }
}

/// Checks that every `{name}` of a template is one of `allowed`, at load, so that rendering it
/// never fails (the `info` and return `comments` templates).
pub fn check_placeholders(template: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
        let name = &after[..close];
        if !allowed.contains(&name) {
            let expected: Vec<String> = allowed.iter().map(|p| format!("{{{p}}}")).collect();
            return Err(format!(
                "unknown placeholder {{{name}}} in {template:?}; expected one of {}",
                expected.join(" ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Appends a template checked by [`check_placeholders`] to `out` (which the caller may have
/// started), each `{name}` written by `fill`, then folds the blanks an empty value leaves behind.
pub fn render_template(template: &str, out: &mut String, mut fill: impl FnMut(&str, &mut String)) {
    let start = out.len();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').expect("validated at load");
        fill(&after[..close], out);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    // Most rows have no blank to fold, and are left as they are.
    if !is_folded(&out[start..]) {
        let folded = out[start..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.truncate(start);
        out.push_str(&folded);
    }
}

/// Whether folding the blanks of `text` would leave it as it is: single spaces between words.
fn is_folded(text: &str) -> bool {
    let mut after_word = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if c != ' ' || !after_word {
                return false;
            }
            after_word = false;
        } else {
            after_word = true;
        }
    }
    after_word || text.is_empty()
}

/// The API token: read from the environment, never printed.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl LoanPro {
    /// Reads the token from the environment variable the settings name.
    pub fn token(&self) -> Result<Token, String> {
        match std::env::var(&self.token_env) {
            Ok(t) if !t.trim().is_empty() => Ok(Token(t.trim().to_string())),
            _ => Err(format!(
                "the LoanPro token is read from the environment variable {} (setting `loanpro.token_env`), which is not set",
                self.token_env
            )),
        }
    }
}

fn default_token_env() -> String {
    "LOANPRO_TOKEN".into()
}
fn default_timeout() -> f64 {
    30.0
}

// The raw TOML shapes. `deny_unknown_fields` everywhere: a misspelt key must stop the run, not be
// silently ignored while a default takes its place.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    loanpro: LoanPro,
    #[serde(default)]
    ledger: RawLedger,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    metrics: RawMetrics,
    payments: RawPayments,
    #[serde(default)]
    returns: RawReturns,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
}

/// `[limits]` as written: counts as TOML's own integers, so that a negative or huge one is
/// refused with the key and its range rather than a parser's "expected usize".
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    requests_per_second: f64,
    concurrency: i64,
    max_attempts: i64,
    settle_secs: f64,
}

impl Default for RawLimits {
    fn default() -> Self {
        let d = Limits::default();
        RawLimits {
            requests_per_second: d.requests_per_second,
            concurrency: d.concurrency as i64,
            max_attempts: d.max_attempts.into(),
            settle_secs: d.settle_secs,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    path: String,
}

impl Default for RawLedger {
    fn default() -> Self {
        RawLedger {
            path: "payimport.sqlite".into(),
        }
    }
}

/// `[metrics]`: the node_exporter textfile to write after every `import` and `retry`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    textfile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayments {
    payment_methods: BTreeMap<String, String>,
    payment_types: BTreeMap<String, String>,
    extra: Vec<String>,
    default_payment_method_id: u32,
    default_payment_type_id: u32,
    default_extra: String,
    #[serde(default = "default_info")]
    info: String,
}

fn default_info() -> String {
    "{date} {source} {reference}".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    format: Format,
    #[serde(default = "default_loan_ref")]
    loan: LoanRef,
    payment_method_id: Option<u32>,
    payment_type_id: Option<u32>,
    extra: Option<String>,
    info: Option<String>,
    max_age_days: Option<i64>,
    // The keys of one format or another: `None` when not set, so that a key of another format
    // can be refused by name (see `FORMAT_KEYS`).
    delimiter: Option<String>,
    columns: Option<Columns>,
    date_formats: Option<Vec<String>>,
    layout: Option<LockboxLayout>,
    control_totals: Option<ControlTotals>,
    control_counts: Option<ControlTotals>,
    type_codes: Option<Vec<CodeSpec>>,
    bai2: Option<Bai2Options>,
    bai2_final_only: Option<bool>,
    kind: Option<CsvKind>,
    return_type_codes: Option<Vec<CodeSpec>>,
    return_reference: Option<ReturnReference>,
    loan_from: Option<Vec<crate::read::camt::LoanFrom>>,
    loan_pattern: Option<String>,
    accounts: Option<Vec<String>>,
    bank_transaction_codes: Option<Vec<String>>,
    unit: Option<crate::read::camt::Unit>,
}

/// Each format-specific key of a source and the formats it applies to.
const FORMAT_KEYS: [(&str, &[Format]); 17] = [
    ("delimiter", &[Format::Csv]),
    ("columns", &[Format::Csv]),
    ("date_formats", &[Format::Csv]),
    ("layout", &[Format::Lockbox]),
    (
        "control_totals",
        &[Format::Lockbox, Format::Bai2, Format::Nacha, Format::Camt],
    ),
    ("control_counts", &[Format::Lockbox, Format::Bai2]),
    ("type_codes", &[Format::Bai2]),
    ("bai2", &[Format::Bai2]),
    ("bai2_final_only", &[Format::Bai2]),
    ("kind", &[Format::Csv]),
    ("return_type_codes", &[Format::Bai2]),
    ("return_reference", &[Format::Bai2]),
    ("loan_from", &[Format::Camt]),
    ("loan_pattern", &[Format::Camt]),
    ("accounts", &[Format::Camt]),
    ("bank_transaction_codes", &[Format::Camt]),
    ("unit", &[Format::Camt]),
];

impl RawSource {
    /// The first format-specific key set that does not apply to the source's format, with the
    /// formats it does apply to.
    fn foreign_key(&self) -> Option<(&'static str, &'static [Format])> {
        let set = [
            self.delimiter.is_some(),
            self.columns.is_some(),
            self.date_formats.is_some(),
            self.layout.is_some(),
            self.control_totals.is_some(),
            self.control_counts.is_some(),
            self.type_codes.is_some(),
            self.bai2.is_some(),
            self.bai2_final_only.is_some(),
            self.kind.is_some(),
            self.return_type_codes.is_some(),
            self.return_reference.is_some(),
            self.loan_from.is_some(),
            self.loan_pattern.is_some(),
            self.accounts.is_some(),
            self.bank_transaction_codes.is_some(),
            self.unit.is_some(),
        ];
        FORMAT_KEYS
            .into_iter()
            .zip(set)
            .find(|((_, formats), set)| *set && !formats.contains(&self.format))
            .map(|(key, _)| key)
    }
}

/// Amounts under `control_totals` (default enforce); counts under `control_counts`, which
/// defaults to whatever `control_totals` says.
fn control_modes(totals: Option<ControlTotals>, counts: Option<ControlTotals>) -> ControlModes {
    let amounts = totals.unwrap_or_default();
    ControlModes {
        amounts,
        counts: counts.unwrap_or(amounts),
    }
}

fn default_loan_ref() -> LoanRef {
    LoanRef::Id
}
fn default_date_formats() -> Vec<String> {
    vec!["%Y-%m-%d".into(), "%m/%d/%Y".into()]
}

/// The allowed range of each number in the settings. Each bound is what an operator could
/// mean: past them a value is a typo (and a huge one made `Duration` panic, a tiny rate hang).
pub mod ranges {
    use std::ops::RangeInclusive;
    /// `loanpro.timeout_secs`: from a tenth of a second (tests use under one) to ten minutes.
    pub const TIMEOUT_SECS: RangeInclusive<f64> = 0.1..=600.0;
    /// `limits.requests_per_second`: one request every ten seconds up to a million a second,
    /// which benchmarks use to mean "no limit" (the limiter's period stays above a nanosecond).
    pub const REQUESTS_PER_SECOND: RangeInclusive<f64> = 0.1..=1_000_000.0;
    /// `limits.concurrency`: requests in flight.
    pub const CONCURRENCY: RangeInclusive<i64> = 1..=256;
    /// `limits.max_attempts`: per row.
    pub const MAX_ATTEMPTS: RangeInclusive<i64> = 1..=100;
    /// `limits.settle_secs`: up to an hour before a timed-out request is read back.
    pub const SETTLE_SECS: RangeInclusive<f64> = 0.0..=3600.0;
    /// `sources.NAME.max_age_days`: a day to ten years.
    pub const MAX_AGE_DAYS: RangeInclusive<i64> = 1..=3650;
}

/// `sources.NAME.max_age_days` when a source does not set it (SPEC §3).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 365;

/// Checks that a number is in its range (NaN and infinities are not); the message gives the
/// range, in `unit`, and the value found.
fn check_range<T: PartialOrd + fmt::Debug>(
    value: T,
    range: &std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), String> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "must be from {:?} to {:?}{unit}, got {value:?}",
            range.start(),
            range.end()
        ))
    }
}

/// The `extra` values LoanPro knows.
pub const KNOWN_EXTRA: [&str; 5] = [
    "payment.extra.tx.principal",
    "payment.extra.tx.principalonly",
    "payment.extra.tx.classic",
    "payment.extra.periods.next",
    "payment.extra.periods.principalonly",
];

impl Settings {
    /// Reads and validates a settings file.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Settings::from_toml(&text, path)
    }

    /// Parses settings text as if it were the file at `path`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let raw: RawSettings = toml::from_str(text).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };

        check_base_url(&raw.loanpro.base_url).map_err(|m| invalid("loanpro.base_url", m))?;
        if raw.loanpro.tenant_id.trim().is_empty() {
            return Err(invalid("loanpro.tenant_id", "must not be empty".into()));
        }
        let token_env = &raw.loanpro.token_env;
        if token_env.trim().is_empty() || token_env.contains(['=', '\0']) {
            return Err(invalid(
                "loanpro.token_env",
                format!(
                    "must name an environment variable (not empty, without `=` or NUL), got {token_env:?}"
                ),
            ));
        }
        check_range(raw.loanpro.timeout_secs, &ranges::TIMEOUT_SECS, " seconds")
            .map_err(|m| invalid("loanpro.timeout_secs", m))?;
        let l = &raw.limits;
        check_range(l.requests_per_second, &ranges::REQUESTS_PER_SECOND, "")
            .map_err(|m| invalid("limits.requests_per_second", m))?;
        check_range(l.concurrency, &ranges::CONCURRENCY, "")
            .map_err(|m| invalid("limits.concurrency", m))?;
        check_range(l.max_attempts, &ranges::MAX_ATTEMPTS, "")
            .map_err(|m| invalid("limits.max_attempts", m))?;
        check_range(l.settle_secs, &ranges::SETTLE_SECS, " seconds")
            .map_err(|m| invalid("limits.settle_secs", m))?;
        // In range, so each fits the type the rest of payimport uses.
        let limits = Limits {
            requests_per_second: l.requests_per_second,
            concurrency: l.concurrency as usize,
            max_attempts: l.max_attempts as u32,
            settle_secs: l.settle_secs,
        };

        let p = raw.payments;
        let payment_methods =
            parse_id_map(&p.payment_methods).map_err(|m| invalid("payments.payment_methods", m))?;
        let payment_types =
            parse_id_map(&p.payment_types).map_err(|m| invalid("payments.payment_types", m))?;
        let mut extra = BTreeSet::new();
        for e in &p.extra {
            if !KNOWN_EXTRA.contains(&e.as_str()) {
                return Err(invalid(
                    "payments.extra",
                    format!(
                        "unknown value {e:?}; LoanPro knows {}",
                        KNOWN_EXTRA.join(", ")
                    ),
                ));
            }
            extra.insert(e.clone());
        }
        let info = InfoTemplate::parse(&p.info).map_err(|m| invalid("payments.info", m))?;
        let returns = Returns::from_raw(raw.returns).map_err(|(k, m)| invalid(&k, m))?;
        let payments = Payments {
            default_payment_method_id: p.default_payment_method_id,
            default_payment_type_id: p.default_payment_type_id,
            default_extra: p.default_extra,
            payment_methods,
            payment_types,
            extra,
            info,
        };
        payments
            .check_method(payments.default_payment_method_id)
            .map_err(|m| invalid("payments.default_payment_method_id", m))?;
        payments
            .check_type(payments.default_payment_type_id)
            .map_err(|m| invalid("payments.default_payment_type_id", m))?;
        payments
            .check_extra(&payments.default_extra)
            .map_err(|m| invalid("payments.default_extra", m))?;

        let mut sources = BTreeMap::new();
        for (name, s) in raw.sources {
            let key = |field: &str| format!("sources.{name}.{field}");
            if let Some((field, formats)) = s.foreign_key() {
                let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
                return Err(invalid(
                    &key(field),
                    format!(
                        "unknown field `{field}` for a {} source: it applies to {} sources only",
                        s.format.name(),
                        names.join(" and ")
                    ),
                ));
            }
            let camt = match s.format {
                Format::Camt => s.camt_options().map_err(|(k, m)| invalid(&key(k), m))?,
                _ => CamtOptions::default(),
            };
            let method = s
                .payment_method_id
                .unwrap_or(payments.default_payment_method_id);
            payments
                .check_method(method)
                .map_err(|m| invalid(&key("payment_method_id"), m))?;
            let ptype = s
                .payment_type_id
                .unwrap_or(payments.default_payment_type_id);
            payments
                .check_type(ptype)
                .map_err(|m| invalid(&key("payment_type_id"), m))?;
            let extra = s.extra.unwrap_or_else(|| payments.default_extra.clone());
            payments
                .check_extra(&extra)
                .map_err(|m| invalid(&key("extra"), m))?;
            let info = match &s.info {
                Some(t) => InfoTemplate::parse(t).map_err(|m| invalid(&key("info"), m))?,
                None => payments.info.clone(),
            };
            let max_age_days = match s.max_age_days {
                Some(days) => {
                    check_range(days, &ranges::MAX_AGE_DAYS, " days")
                        .map_err(|m| invalid(&key("max_age_days"), m))?;
                    days as u32
                }
                None => DEFAULT_MAX_AGE_DAYS,
            };
            let format = match s.format {
                Format::Csv => {
                    let date_formats = s.date_formats.unwrap_or_else(default_date_formats);
                    if date_formats.is_empty() {
                        return Err(invalid(
                            &key("date_formats"),
                            "needs at least one format".into(),
                        ));
                    }
                    for f in &date_formats {
                        check_date_format(f).map_err(|m| invalid(&key("date_formats"), m))?;
                    }
                    let delimiter = match s.delimiter.as_deref() {
                        None => b',',
                        Some(d) if d.len() == 1 => d.as_bytes()[0],
                        Some("\\t") => b'\t',
                        Some(d) => {
                            return Err(invalid(
                                &key("delimiter"),
                                format!("must be a single ASCII character, got {d:?}"),
                            ));
                        }
                    };
                    SourceFormat::Csv {
                        delimiter,
                        columns: s.columns.unwrap_or_default(),
                        date_formats,
                        kind: s.kind.unwrap_or_default(),
                    }
                }
                Format::Lockbox => {
                    let layout = s.layout.unwrap_or_default();
                    layout.validate().map_err(|m| invalid(&key("layout"), m))?;
                    SourceFormat::Lockbox {
                        layout,
                        control: control_modes(s.control_totals, s.control_counts),
                    }
                }
                Format::Bai2 => {
                    let type_codes = TypeCodes::parse(s.type_codes.as_deref().unwrap_or_default())
                        .map_err(|m| invalid(&key("type_codes"), m))?;
                    let return_type_codes =
                        TypeCodes::parse(s.return_type_codes.as_deref().unwrap_or_default())
                            .map_err(|m| invalid(&key("return_type_codes"), m))?;
                    if type_codes.is_empty() && return_type_codes.is_empty() {
                        return Err(invalid(
                            &key("type_codes"),
                            "a bai2 source must list the detail type codes that are payments"
                                .into(),
                        ));
                    }
                    if let Some(both) = type_codes.iter().find(|&c| return_type_codes.contains(c)) {
                        return Err(invalid(
                            &key("return_type_codes"),
                            format!(
                                "type code {both} is also in type_codes; a detail is a payment or a return, not both"
                            ),
                        ));
                    }
                    let bai2 = s.bai2.unwrap_or_default();
                    bai2.validate().map_err(|m| invalid(&key("bai2"), m))?;
                    SourceFormat::Bai2 {
                        type_codes,
                        bai2,
                        control: control_modes(s.control_totals, s.control_counts),
                        final_only: s.bai2_final_only.unwrap_or(false),
                        return_type_codes,
                        return_reference: s.return_reference.unwrap_or_default(),
                    }
                }
                Format::Nacha => SourceFormat::Nacha {
                    control_totals: s.control_totals.unwrap_or_default(),
                },
                Format::Camt => SourceFormat::Camt {
                    camt,
                    control_totals: s.control_totals.unwrap_or_default(),
                },
            };
            sources.insert(
                name.clone(),
                Source {
                    name,
                    loan: s.loan,
                    payment_method_id: method,
                    payment_type_id: ptype,
                    extra,
                    info,
                    max_age_days,
                    format,
                },
            );
        }

        let dir = path.parent().unwrap_or(Path::new("."));
        let ledger_path = dir.join(&raw.ledger.path);
        let metrics_textfile = match raw.metrics.textfile {
            Some(t) if t.trim().is_empty() || t.ends_with('/') => {
                return Err(invalid(
                    "metrics.textfile",
                    format!(
                        "{t:?} names no file; give a path such as \"/var/lib/node_exporter/textfile/payimport.prom\""
                    ),
                ));
            }
            Some(t) if !t.ends_with(".prom") => {
                return Err(invalid(
                    "metrics.textfile",
                    format!(
                        "{t:?} must end in .prom: node_exporter's textfile collector reads only those"
                    ),
                ));
            }
            Some(t) => Some(dir.join(t)),
            None => None,
        };
        Ok(Settings {
            path: path.to_path_buf(),
            loanpro: raw.loanpro,
            ledger_path,
            metrics_textfile,
            limits,
            payments,
            returns,
            sources,
        })
    }

    /// The source a command names, or the only one when it names none.
    pub fn source(&self, name: Option<&str>) -> Result<&Source, String> {
        match name {
            Some(n) => self.sources.get(n).ok_or_else(|| {
                format!(
                    "no source {n:?} in {}; defined: {}",
                    self.path.display(),
                    self.source_names()
                )
            }),
            None if self.sources.len() == 1 => Ok(self.sources.values().next().expect("one")),
            None if self.sources.is_empty() => Err(format!(
                "{} defines no [sources.NAME] section",
                self.path.display()
            )),
            None => Err(format!(
                "{} defines several sources ({}); choose one with --source",
                self.path.display(),
                self.source_names()
            )),
        }
    }

    fn source_names(&self) -> String {
        self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

impl Payments {
    pub fn check_method(&self, id: u32) -> Result<(), String> {
        check_in(id, &self.payment_methods, "payments.payment_methods")
    }
    pub fn check_type(&self, id: u32) -> Result<(), String> {
        check_in(id, &self.payment_types, "payments.payment_types")
    }
    pub fn check_extra(&self, extra: &str) -> Result<(), String> {
        if self.extra.contains(extra) {
            Ok(())
        } else {
            Err(format!(
                "{extra:?} is not in payments.extra ({})",
                self.extra.iter().cloned().collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

fn check_in(id: u32, map: &BTreeMap<u32, String>, list: &str) -> Result<(), String> {
    if map.contains_key(&id) {
        Ok(())
    } else {
        let ids: Vec<String> = map.keys().map(u32::to_string).collect();
        Err(format!("{id} is not in {list} ({})", ids.join(", ")))
    }
}

fn parse_id_map(raw: &BTreeMap<String, String>) -> Result<BTreeMap<u32, String>, String> {
    if raw.is_empty() {
        return Err("must list at least one id".into());
    }
    raw.iter()
        .map(|(k, v)| match k.trim().parse::<u32>() {
            Ok(id) if id > 0 => Ok((id, v.clone())),
            _ => Err(format!("key {k:?} is not a positive integer id")),
        })
        .collect()
}

fn check_date_format(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err(format!("{f:?} is not a valid strftime date format"));
    }
    Ok(())
}

/// The token must never cross a network in clear text: plain http is for the local sandbox only.
/// And `/odata.svc/...` is appended to the URL as written, so it must be a plain `scheme://host/path`:
/// a query or fragment would swallow every request's path, and a `.` or `..` segment names
/// another path than the one written (the parser resolves it silently).
fn check_base_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} contains a blank or a control character; expected a URL such as https://loanpro.simnang.com/api/public/api/1"
        ));
    }
    if url.contains('\\') {
        return Err(format!(
            "{url:?} contains a backslash; URL paths are separated by `/`"
        ));
    }
    // Parsed by the same URL parser reqwest sends with, so the host checked is the host used
    // (`http://127.0.0.1@evil.example` goes to evil.example).
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!("{url:?} must start with https://"));
    }
    // The parser reads `https:///api` or `https:api` as the host `api`: the text itself must
    // name a host after `//`.
    let after_scheme = &url[parsed.scheme().len() + 1..];
    let Some(rest) = after_scheme.strip_prefix("//") else {
        return Err(format!(
            "{url:?} must be written scheme://host/path, e.g. https://loanpro.simnang.com/api/public/api/1"
        ));
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..authority_end].is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{url:?} carries a user name or password; the token is the only credential, from the environment"
        ));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{url:?} has no host"))?;
    if parsed.query().is_some() {
        return Err(format!(
            "{url:?} has a query (`?...`); /odata.svc/... is appended to base_url, so every request would go to the wrong path"
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!(
            "{url:?} has a fragment (`#...`); /odata.svc/... is appended to base_url, so every request would go to the wrong path"
        ));
    }
    let path = &rest[authority_end..];
    let dot_segment = path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if dot_segment {
        return Err(format!(
            "{url:?} has a `.` or `..` segment in its path; write the API's path as it is, e.g. /api/public/api/1"
        ));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        _ if is_loopback(host) => Ok(()),
        _ => Err(format!(
            "{url:?} uses plain http to a non-loopback host; use https so the token is not sent in clear text"
        )),
    }
}

impl LoanPro {
    /// The base URL as a ledger records it (SPEC §5): what the client sends to, so two
    /// spellings of one LoanPro compare equal: scheme and host in lower case, no default port,
    /// no trailing `/` (the client drops it before appending `/odata.svc`). The path keeps its
    /// case, as servers may tell it apart.
    pub fn ledger_base_url(&self) -> String {
        match reqwest::Url::parse(&self.base_url) {
            Ok(u) => u.as_str().trim_end_matches('/').to_string(),
            // Settings checked it parses; this is only for a `LoanPro` built by hand.
            Err(_) => self.base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The tenant id as a ledger records it: without surrounding blanks.
    pub fn ledger_tenant_id(&self) -> &str {
        self.tenant_id.trim()
    }
}

/// `localhost`, or a loopback address (IPv6 as the URL writes it, in brackets).
fn is_loopback(host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[loanpro]
base_url = "https://loanpro.simnang.com/api/public/api/1"
tenant_id = "5200243"

[payments]
payment_methods = { 3 = "Credit/Debit Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal", "payment.extra.periods.next"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"

[sources.bank_csv]
format = "csv"
[sources.bank_csv.columns]
loan = "Loan Number"
"#;

    fn load(text: &str) -> Result<Settings, SettingsError> {
        Settings::from_toml(text, Path::new("/etc/payimport/payimport.toml"))
    }

    fn err(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn good_settings_load_with_defaults() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.limits.concurrency, 4);
        assert_eq!(s.ledger_path, Path::new("/etc/payimport/payimport.sqlite"));
        let src = s.source(None).unwrap();
        let SourceFormat::Csv { columns, .. } = &src.format else {
            panic!("a csv source: {src:?}");
        };
        assert_eq!(columns.loan, "Loan Number");
        assert_eq!(columns.amount, "amount");
        assert_eq!(src.payment_method_id, 4);
        assert_eq!(s.payments.payment_methods[&3], "Credit/Debit Card");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err(&GOOD.replace("tenant_id", "tenant_id = \"1\"\ntenant = \"x\"\n#"));
        assert!(e.contains("unknown field `tenant`"), "{e}");
        let e = err(&format!("{GOOD}\n[limits]\nconcurency = 3\n"));
        assert!(e.contains("unknown field `concurency`"), "{e}");
    }

    #[test]
    fn default_not_in_its_list_is_named() {
        let e = err(&GOOD.replace(
            "default_payment_method_id = 4",
            "default_payment_method_id = 9",
        ));
        assert!(e.contains("`payments.default_payment_method_id`"), "{e}");
        assert!(
            e.contains("9 is not in payments.payment_methods (3, 4, 5)"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "default_extra = \"payment.extra.tx.principal\"",
            "default_extra = \"payment.extra.tx.classic\"",
        ));
        assert!(e.contains("`payments.default_extra`"), "{e}");
    }

    #[test]
    fn source_override_must_be_allowed() {
        let e = err(&GOOD.replace("format = \"csv\"", "format = \"csv\"\npayment_type_id = 7"));
        assert!(e.contains("`sources.bank_csv.payment_type_id`"), "{e}");
    }

    #[test]
    fn non_positive_limits_are_named() {
        for (line, key) in [
            ("requests_per_second = 0", "limits.requests_per_second"),
            ("requests_per_second = -1.5", "limits.requests_per_second"),
            ("concurrency = 0", "limits.concurrency"),
            ("max_attempts = 0", "limits.max_attempts"),
            ("settle_secs = -1", "limits.settle_secs"),
        ] {
            let e = err(&format!("{GOOD}\n[limits]\n{line}\n"));
            assert!(e.contains(&format!("`{key}`")), "{line}: {e}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let e = err(&GOOD.replace("https://loanpro.simnang.com", "http://loanpro.simnang.com"));
        assert!(
            e.contains("`loanpro.base_url`") && e.contains("clear text"),
            "{e}"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(
                load(&GOOD.replace("https://loanpro.simnang.com", ok)).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn every_number_is_bounded_and_the_message_gives_the_range() {
        for (section, line, key, message) in [
            (
                "loanpro",
                "timeout_secs = 1e30",
                "loanpro.timeout_secs",
                "must be from 0.1 to 600.0 seconds, got 1e30",
            ),
            (
                "loanpro",
                "timeout_secs = nan",
                "loanpro.timeout_secs",
                "must be from 0.1 to 600.0 seconds, got NaN",
            ),
            (
                "loanpro",
                "timeout_secs = 0",
                "loanpro.timeout_secs",
                "must be from 0.1 to 600.0 seconds, got 0.0",
            ),
            (
                "limits",
                "settle_secs = 1e20",
                "limits.settle_secs",
                "must be from 0.0 to 3600.0 seconds, got 1e20",
            ),
            (
                "limits",
                "settle_secs = inf",
                "limits.settle_secs",
                "must be from 0.0 to 3600.0 seconds, got inf",
            ),
            (
                "limits",
                "requests_per_second = 1e-9",
                "limits.requests_per_second",
                "must be from 0.1 to 1000000.0, got 1e-9",
            ),
            (
                "limits",
                "requests_per_second = 1e7",
                "limits.requests_per_second",
                "must be from 0.1 to 1000000.0, got 10000000.0",
            ),
            (
                "limits",
                "concurrency = -1",
                "limits.concurrency",
                "must be from 1 to 256, got -1",
            ),
            (
                "limits",
                "concurrency = 100000",
                "limits.concurrency",
                "must be from 1 to 256, got 100000",
            ),
            (
                "limits",
                "max_attempts = 4294967297",
                "limits.max_attempts",
                "must be from 1 to 100, got 4294967297",
            ),
        ] {
            let text = if section == "loanpro" {
                GOOD.replace(
                    "tenant_id = \"5200243\"",
                    &format!("tenant_id = \"5200243\"\n{line}"),
                )
            } else {
                format!("{GOOD}\n[{section}]\n{line}\n")
            };
            assert_eq!(
                err(&text),
                format!("settings file /etc/payimport/payimport.toml: `{key}`: {message}"),
                "{line}"
            );
        }
        // The bounds themselves are allowed.
        let s = load(&format!(
            "{GOOD}\n[limits]\nrequests_per_second = 1000000\nconcurrency = 256\nmax_attempts = 100\nsettle_secs = 3600\n"
        ))
        .unwrap();
        assert_eq!(s.limits.concurrency, 256);
        assert_eq!(s.limits.max_attempts, 100);
        let s = load(&format!(
            "{GOOD}\n[limits]\nrequests_per_second = 0.1\nconcurrency = 1\nmax_attempts = 1\nsettle_secs = 0\n"
        ))
        .unwrap();
        assert_eq!(s.limits.settle_secs, 0.0);
        for t in ["0.1", "600"] {
            let text = GOOD.replace(
                "tenant_id = \"5200243\"",
                &format!("tenant_id = \"5200243\"\ntimeout_secs = {t}"),
            );
            assert!(load(&text).is_ok(), "{t}");
        }
    }

    #[test]
    fn max_age_days_is_a_key_of_every_format_and_bounded() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.sources["bank_csv"].max_age_days, 365, "the default");
        for body in [
            "format = \"csv\"\nmax_age_days = 30",
            "format = \"lockbox\"\nmax_age_days = 30",
            "format = \"bai2\"\ntype_codes = [165]\nmax_age_days = 30",
        ] {
            let s = load(&with_source("other", body)).unwrap();
            assert_eq!(s.sources["other"].max_age_days, 30, "{body}");
        }
        for (days, got) in [("0", "0"), ("3651", "3651"), ("-5", "-5")] {
            let e = err(&with_source(
                "other",
                &format!("format = \"csv\"\nmax_age_days = {days}"),
            ));
            assert_eq!(
                e,
                format!(
                    "settings file /etc/payimport/payimport.toml: `sources.other.max_age_days`: must be from 1 to 3650 days, got {got}"
                )
            );
        }
    }

    #[test]
    fn a_base_url_must_be_a_plain_scheme_host_and_path() {
        for (url, says) in [
            ("https://lp.example/api?x=1", "has a query"),
            ("https://lp.example/api?", "has a query"),
            ("https://lp.example/api#top", "has a fragment"),
            ("https://lp.example/api/../public", "`..` segment"),
            ("https://lp.example/api/./public", "`..` segment"),
            ("https://lp.example/api/%2E%2e/public", "`..` segment"),
            ("https://lp.example/..", "`..` segment"),
            ("https:///api", "has no host"),
            ("https://?x", "host"),
            ("https:lp.example/api", "scheme://host/path"),
            ("https:/lp.example/api", "scheme://host/path"),
            ("ftp://lp.example/api", "must start with https://"),
            ("file:///etc/passwd", "must start with https://"),
            ("javascript:alert(1)", "must start with https://"),
            // TOML text: `\\` is one backslash.
            ("https://lp.example/a\\\\..\\\\b", "backslash"),
            ("https://lp.example/api ", "blank or a control character"),
            ("https://lp.ex\tample/api", "blank or a control character"),
            ("lp.example/api", "is not a URL"),
            ("", "is not a URL"),
        ] {
            let e = err(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", url));
            assert!(
                e.contains("`loanpro.base_url`") && e.contains(says),
                "{url:?}: {e}"
            );
        }
        for ok in [
            "https://lp.example",
            "https://lp.example/",
            "https://lp.example/api/public/api/1/",
            "https://lp.example:8443/api..v2/.well/x.",
            "HTTPS://LP.example/api",
        ] {
            assert!(
                load(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", ok)).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn a_ledger_records_one_spelling_of_a_base_url() {
        let with = |url: &str| {
            load(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", url))
                .unwrap()
                .loanpro
                .ledger_base_url()
        };
        let url = "https://lp.example/api/public/api/1";
        for same in [
            "https://lp.example/api/public/api/1/",
            "HTTPS://LP.EXAMPLE/api/public/api/1",
            "https://lp.example:443/api/public/api/1//",
        ] {
            assert_eq!(with(same), url, "{same}");
        }
        assert_eq!(with("https://lp.example/"), "https://lp.example");
        assert_ne!(with("https://lp.example/API/public/api/1"), url);
        assert_ne!(with("https://lp.example:8443/api/public/api/1"), url);
    }

    #[test]
    fn a_token_env_must_be_a_variable_name() {
        // As TOML strings: `\u0000` is NUL.
        for bad in [r#""""#, r#"" ""#, r#""A=B""#, r#""A\u0000B""#] {
            let e = err(&GOOD.replace(
                "tenant_id = \"5200243\"",
                &format!("tenant_id = \"5200243\"\ntoken_env = {bad}"),
            ));
            assert!(e.contains("`loanpro.token_env`"), "{bad:?}: {e}");
        }
    }

    fn render(t: &InfoTemplate, v: &InfoValues) -> String {
        let mut out = String::new();
        t.render_into(&mut out, v);
        out
    }

    #[test]
    fn info_template_is_checked_and_rendered() {
        assert!(InfoTemplate::parse("{date} {amount}").is_err());
        let t = InfoTemplate::parse("{date} {source} {reference}").unwrap();
        let v = InfoValues {
            date: "2026-11-20",
            source: "bank_csv",
            reference: "",
            file: "f.csv",
            line: 2,
        };
        assert_eq!(render(&t, &v), "2026-11-20 bank_csv");
        let t = InfoTemplate::parse("  {reference}\t{file}:{line}  ").unwrap();
        assert_eq!(render(&t, &v), "f.csv:2");
        let v = InfoValues {
            reference: "A\u{a0} B",
            ..v
        };
        assert_eq!(render(&t, &v), "A B f.csv:2");
        let mut out = String::from("kept  ");
        t.render_into(&mut out, &v);
        assert_eq!(out, "kept  A B f.csv:2", "only the appended part is folded");
    }

    #[test]
    fn text_is_folded_only_with_single_spaces_between_words() {
        for folded in ["", "a", "a b", "2026-11-20 bank 1042"] {
            assert!(is_folded(folded), "{folded:?}");
        }
        for loose in [" a", "a ", "a  b", "a\tb", "a\u{a0}b", " "] {
            assert!(!is_folded(loose), "{loose:?}");
        }
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    /// GOOD with one more source, `[sources.NAME]` with `body`.
    fn with_source(name: &str, body: &str) -> String {
        format!("{GOOD}\n[sources.{name}]\n{body}\n")
    }

    #[test]
    fn each_format_keeps_its_own_keys() {
        let s = load(&with_source(
            "bank",
            "format = \"csv\"\ndelimiter = \";\"\ndate_formats = [\"%d.%m.%Y\"]",
        ))
        .unwrap();
        let SourceFormat::Csv {
            delimiter,
            date_formats,
            columns,
            ..
        } = &s.sources["bank"].format
        else {
            panic!("csv: {:?}", s.sources["bank"]);
        };
        assert_eq!(*delimiter, b';');
        assert_eq!(date_formats, &["%d.%m.%Y"]);
        assert_eq!(columns.loan, "loan");

        let s = load(&with_source(
            "lockbox",
            "format = \"lockbox\"\ncontrol_totals = \"warn\"\n[sources.lockbox.layout]\ndetail_amount = [8, 26]",
        ))
        .unwrap();
        let SourceFormat::Lockbox { layout, control } = &s.sources["lockbox"].format else {
            panic!("lockbox: {:?}", s.sources["lockbox"]);
        };
        assert_eq!(*control, ControlModes::from(ControlTotals::Warn));
        assert_eq!(layout.detail_amount, crate::read::lockbox::Span::new(8, 26));

        let s = load(&with_source(
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.bai2]\nloan_from = \"bank_reference\"",
        ))
        .unwrap();
        let SourceFormat::Bai2 {
            type_codes,
            bai2,
            control,
            final_only,
            ..
        } = &s.sources["ach"].format
        else {
            panic!("bai2: {:?}", s.sources["ach"]);
        };
        assert_eq!(type_codes, &TypeCodes::of(&[165]));
        assert_eq!(bai2.loan_from, crate::read::bai2::LoanFrom::BankReference);
        assert_eq!(*control, ControlModes::default(), "enforce, the default");
        assert!(!final_only);
    }

    #[test]
    fn bank_control_counts_final_only_and_type_code_ranges() {
        let s = load(&with_source(
            "ach",
            "format = \"bai2\"\ntype_codes = [\"165\", \"170-179\", 195]\ncontrol_counts = \"warn\"\nbai2_final_only = true",
        ))
        .unwrap();
        let SourceFormat::Bai2 {
            type_codes,
            control,
            final_only,
            ..
        } = &s.sources["ach"].format
        else {
            panic!("bai2: {:?}", s.sources["ach"]);
        };
        assert_eq!(type_codes.to_string(), "[165, 170-179, 195]");
        assert_eq!(
            *control,
            ControlModes {
                amounts: ControlTotals::Enforce,
                counts: ControlTotals::Warn
            }
        );
        assert!(final_only);
        // Without control_counts, counts follow control_totals.
        let s = load(&with_source(
            "lockbox",
            "format = \"lockbox\"\ncontrol_totals = \"warn\"",
        ))
        .unwrap();
        let SourceFormat::Lockbox { control, .. } = &s.sources["lockbox"].format else {
            panic!("lockbox");
        };
        assert_eq!(*control, ControlModes::from(ControlTotals::Warn));
        for (body, key, message) in [
            (
                "format = \"bai2\"\ntype_codes = [\"170-17x\"]",
                "sources.ach.type_codes",
                "\"170-17x\" is not a type code or a range of them; expected a number from 0 to 999 or a range such as \"170-179\"",
            ),
            (
                "format = \"bai2\"\ntype_codes = [1650]",
                "sources.ach.type_codes",
                "1650 is not a type code; type codes are from 0 to 999",
            ),
            (
                "format = \"csv\"\ncontrol_counts = \"warn\"",
                "sources.ach.control_counts",
                "unknown field `control_counts` for a csv source: it applies to lockbox and bai2 sources only",
            ),
            (
                "format = \"lockbox\"\nbai2_final_only = true",
                "sources.ach.bai2_final_only",
                "unknown field `bai2_final_only` for a lockbox source: it applies to bai2 sources only",
            ),
        ] {
            let e = err(&with_source("ach", body));
            assert!(e.contains(&format!("`{key}`: {message}")), "{e}");
        }
        let e = err(&with_source(
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\ncontrol_counts = \"loose\"",
        ));
        assert!(e.contains("unknown variant `loose`"), "{e}");
    }

    #[test]
    fn a_key_of_another_format_is_refused_by_its_full_name() {
        for (name, body, key, message) in [
            (
                "bank",
                "format = \"csv\"\ncontrol_totals = \"warn\"",
                "sources.bank.control_totals",
                "unknown field `control_totals` for a csv source: it applies to lockbox and bai2 and nacha sources only",
            ),
            (
                "bank",
                "format = \"csv\"\ntype_codes = [165]",
                "sources.bank.type_codes",
                "unknown field `type_codes` for a csv source: it applies to bai2 sources only",
            ),
            (
                "lockbox",
                "format = \"lockbox\"\ndate_formats = [\"%Y-%m-%d\"]",
                "sources.lockbox.date_formats",
                "unknown field `date_formats` for a lockbox source: it applies to csv sources only",
            ),
            (
                "lockbox",
                "format = \"lockbox\"\n[sources.lockbox.bai2]\nloan_from = \"text\"",
                "sources.lockbox.bai2",
                "unknown field `bai2` for a lockbox source: it applies to bai2 sources only",
            ),
            (
                "ach",
                "format = \"bai2\"\ntype_codes = [165]\ndelimiter = \";\"",
                "sources.ach.delimiter",
                "unknown field `delimiter` for a bai2 source: it applies to csv sources only",
            ),
            (
                "ach",
                "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.layout]\ndetail_amount = [8, 17]",
                "sources.ach.layout",
                "unknown field `layout` for a bai2 source: it applies to lockbox sources only",
            ),
            (
                "ach",
                "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.columns]\nloan = \"Loan\"",
                "sources.ach.columns",
                "unknown field `columns` for a bai2 source: it applies to csv sources only",
            ),
        ] {
            let e = err(&with_source(name, body));
            assert_eq!(
                e,
                format!("settings file /etc/payimport/payimport.toml: `{key}`: {message}"),
                "{body}"
            );
        }
    }

    #[test]
    fn format_options_are_still_checked() {
        let e = err(&with_source("ach", "format = \"bai2\""));
        assert!(
            e.contains("`sources.ach.type_codes`: a bai2 source must list"),
            "{e}"
        );
        let e = err(&with_source("bank", "format = \"csv\"\ndelimiter = \";;\""));
        assert!(
            e.contains("`sources.bank.delimiter`: must be a single"),
            "{e}"
        );
        let e = err(&with_source("bank", "format = \"csv\"\ndate_formats = []"));
        assert!(
            e.contains("`sources.bank.date_formats`: needs at least one"),
            "{e}"
        );
        let e = err(&with_source(
            "lockbox",
            "format = \"lockbox\"\n[sources.lockbox.layout]\ndetail_amount = [0, 17]",
        ));
        assert!(
            e.contains("`sources.lockbox.layout`: `detail_amount`"),
            "{e}"
        );
        let e = err(&with_source(
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.bai2]\nloan_from = \"text\"",
        ));
        assert!(
            e.contains("`sources.ach.bai2`: `loan_pattern` is required"),
            "{e}"
        );
    }

    #[test]
    fn several_sources_need_a_choice() {
        let two = format!("{GOOD}\n[sources.other]\nformat = \"csv\"\n");
        let s = load(&two).unwrap();
        assert!(s.source(None).unwrap_err().contains("--source"));
        assert!(
            s.source(Some("nope"))
                .unwrap_err()
                .contains("bank_csv, other")
        );
    }
}

impl RawSource {
    /// The camt options (SPEC §10), checked; the error names the key.
    fn camt_options(&self) -> Result<CamtOptions, (&'static str, String)> {
        let defaults = CamtOptions::default();
        let options = CamtOptions {
            loan_from: self.loan_from.clone().unwrap_or(defaults.loan_from),
            loan_pattern: self.loan_pattern.clone(),
            accounts: self.accounts.clone().unwrap_or_default(),
            bank_transaction_codes: self.bank_transaction_codes.clone().unwrap_or_default(),
            unit: self.unit.unwrap_or_default(),
        };
        options.validate()?;
        Ok(options)
    }
}
