//! The settings file (SPEC §2): TOML parsed strictly and validated into [`Settings`].
//!
//! Every problem names the key it is about, because the person reading the message is an
//! operator looking at the file, not at this code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::read::bai2::Bai2Options;
use crate::read::control::ControlTotals;
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
}

impl Format {
    /// The name the settings file gives it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Lockbox => "lockbox",
            Format::Bai2 => "bai2",
            Format::Nacha => "nacha",
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
        control_totals: ControlTotals,
    },
    Bai2 {
        /// The 16 (detail) type codes that are payments.
        type_codes: Vec<u32>,
        bai2: Bai2Options,
        control_totals: ControlTotals,
        /// The 16 type codes that are returns (SPEC §8), and whether a return's customer
        /// reference is its original reference.
        return_type_codes: Vec<u32>,
        return_reference: ReturnReference,
    },
    /// An ACH return file (SPEC §8): every row is a return.
    Nacha { control_totals: ControlTotals },
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
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
            let name = &after[..close];
            if !INFO_PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}} in {template:?}; expected one of {{date}} {{source}} {{reference}} {{file}} {{line}}"
                ));
            }
            rest = &after[close + 1..];
        }
        Ok(InfoTemplate(template.to_string()))
    }

    /// Appends the filled-in template to `out` (which the caller may have started), collapsing
    /// the blanks an empty value leaves behind.
    pub fn render_into(&self, out: &mut String, v: &InfoValues) {
        let start = out.len();
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').expect("validated at load");
            match &after[..close] {
                "date" => out.push_str(v.date),
                "source" => out.push_str(v.source),
                "reference" => out.push_str(v.reference),
                "file" => out.push_str(v.file),
                _ => {
                    use std::fmt::Write;
                    let _ = write!(out, "{}", v.line);
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        // An empty value leaves a double or trailing blank behind: fold every run of blanks
        // (most rows have none, and are left as they are).
        if !is_folded(&out[start..]) {
            let folded = out[start..]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            out.truncate(start);
            out.push_str(&folded);
        }
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
    limits: Limits,
    payments: RawPayments,
    #[serde(default)]
    returns: RawReturns,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
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
    // The keys of one format or another: `None` when not set, so that a key of another format
    // can be refused by name (see `FORMAT_KEYS`).
    delimiter: Option<String>,
    columns: Option<Columns>,
    date_formats: Option<Vec<String>>,
    layout: Option<LockboxLayout>,
    control_totals: Option<ControlTotals>,
    type_codes: Option<Vec<u32>>,
    bai2: Option<Bai2Options>,
    kind: Option<CsvKind>,
    return_type_codes: Option<Vec<u32>>,
    return_reference: Option<ReturnReference>,
}

/// Each format-specific key of a source and the formats it applies to.
const FORMAT_KEYS: [(&str, &[Format]); 10] = [
    ("delimiter", &[Format::Csv]),
    ("columns", &[Format::Csv]),
    ("date_formats", &[Format::Csv]),
    ("layout", &[Format::Lockbox]),
    (
        "control_totals",
        &[Format::Lockbox, Format::Bai2, Format::Nacha],
    ),
    ("type_codes", &[Format::Bai2]),
    ("bai2", &[Format::Bai2]),
    ("kind", &[Format::Csv]),
    ("return_type_codes", &[Format::Bai2]),
    ("return_reference", &[Format::Bai2]),
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
            self.type_codes.is_some(),
            self.bai2.is_some(),
            self.kind.is_some(),
            self.return_type_codes.is_some(),
            self.return_reference.is_some(),
        ];
        FORMAT_KEYS
            .into_iter()
            .zip(set)
            .find(|((_, formats), set)| *set && !formats.contains(&self.format))
            .map(|(key, _)| key)
    }
}

fn default_loan_ref() -> LoanRef {
    LoanRef::Id
}
fn default_date_formats() -> Vec<String> {
    vec!["%Y-%m-%d".into(), "%m/%d/%Y".into()]
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
        if raw.loanpro.token_env.trim().is_empty() {
            return Err(invalid(
                "loanpro.token_env",
                "must name an environment variable".into(),
            ));
        }
        if !(raw.loanpro.timeout_secs.is_finite() && raw.loanpro.timeout_secs > 0.0) {
            return Err(invalid(
                "loanpro.timeout_secs",
                format!(
                    "must be a positive number of seconds, got {}",
                    raw.loanpro.timeout_secs
                ),
            ));
        }
        let l = &raw.limits;
        if !(l.requests_per_second.is_finite() && l.requests_per_second > 0.0) {
            return Err(invalid(
                "limits.requests_per_second",
                format!("must be a positive number, got {}", l.requests_per_second),
            ));
        }
        if l.concurrency == 0 {
            return Err(invalid(
                "limits.concurrency",
                "must be at least 1, got 0".into(),
            ));
        }
        if l.max_attempts == 0 {
            return Err(invalid(
                "limits.max_attempts",
                "must be at least 1, got 0".into(),
            ));
        }
        if !(l.settle_secs.is_finite() && l.settle_secs >= 0.0) {
            return Err(invalid(
                "limits.settle_secs",
                format!(
                    "must be zero or a positive number of seconds, got {}",
                    l.settle_secs
                ),
            ));
        }

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
                        control_totals: s.control_totals.unwrap_or_default(),
                    }
                }
                Format::Bai2 => {
                    let type_codes = s.type_codes.unwrap_or_default();
                    let return_type_codes = s.return_type_codes.unwrap_or_default();
                    if type_codes.is_empty() && return_type_codes.is_empty() {
                        return Err(invalid(
                            &key("type_codes"),
                            "a bai2 source must list the detail type codes that are payments"
                                .into(),
                        ));
                    }
                    if let Some(both) = type_codes.iter().find(|c| return_type_codes.contains(c)) {
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
                        control_totals: s.control_totals.unwrap_or_default(),
                        return_type_codes,
                        return_reference: s.return_reference.unwrap_or_default(),
                    }
                }
                Format::Nacha => SourceFormat::Nacha {
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
                    format,
                },
            );
        }

        let dir = path.parent().unwrap_or(Path::new("."));
        let ledger_path = dir.join(&raw.ledger.path);
        Ok(Settings {
            path: path.to_path_buf(),
            loanpro: raw.loanpro,
            ledger_path,
            limits: raw.limits,
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
fn check_base_url(url: &str) -> Result<(), String> {
    // Parsed by the same URL parser reqwest sends with, so the host checked is the host used
    // (`http://127.0.0.1@evil.example` goes to evil.example).
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{url:?} carries a user name or password; the token is the only credential, from the environment"
        ));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{url:?} has no host"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "{url:?} uses plain http to a non-loopback host; use https so the token is not sent in clear text"
        )),
        _ => Err(format!("{url:?} must start with https://")),
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
        let SourceFormat::Lockbox {
            layout,
            control_totals,
        } = &s.sources["lockbox"].format
        else {
            panic!("lockbox: {:?}", s.sources["lockbox"]);
        };
        assert_eq!(*control_totals, ControlTotals::Warn);
        assert_eq!(layout.detail_amount, crate::read::lockbox::Span::new(8, 26));

        let s = load(&with_source(
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.bai2]\nloan_from = \"bank_reference\"",
        ))
        .unwrap();
        let SourceFormat::Bai2 {
            type_codes,
            bai2,
            control_totals,
            ..
        } = &s.sources["ach"].format
        else {
            panic!("bai2: {:?}", s.sources["ach"]);
        };
        assert_eq!(type_codes, &[165]);
        assert_eq!(bai2.loan_from, crate::read::bai2::LoanFrom::BankReference);
        assert_eq!(*control_totals, ControlTotals::Enforce, "the default");
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
