//! The settings file (docs/settings.md): TOML parsed strictly and validated into [`Settings`]: `raw.rs`
//! (the TOML as written), `ranges.rs` (every number's bounds), `source.rs` (the bank formats:
//! one description each, and a source's format with its options and reader).
//!
//! Every problem names the key it is about, because the person reading the message is an
//! operator looking at the file, not at this code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::returns::Returns;
use crate::template::{check_placeholders, render_template};

pub mod ranges;
mod raw;
mod source;

use self::ranges::check_range;
use self::raw::{RawLimits, RawPayments, RawSettings, RawSource};
pub use self::source::{CsvKind, FORMATS, FormatSpec, ReturnReference, SourceFormat};

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
    /// `[ledger] verify`: when LoanPro is read before sending (docs/states.md).
    pub verify: Verify,
    pub limits: Limits,
    pub payments: Payments,
    /// `[returns]` (docs/returns.md); its defaults when the file has none.
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
    /// `min_file_age_secs`: a file modified more recently may still be being written (docs/states.md).
    pub min_file_age_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            requests_per_second: 5.0,
            concurrency: 4,
            max_attempts: 5,
            settle_secs: 60.0,
            min_file_age_secs: 60,
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
    /// `duplicates`: whether a possible duplicate is held or posted (docs/states.md).
    pub duplicates: Duplicates,
}

/// `[payments] duplicates` (docs/states.md): a payment that may be a duplicate of another row is
/// `held` for a person (`hold`, the default), or sent all the same (`post`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    #[default]
    Hold,
    Post,
}

/// `[ledger] verify` (docs/states.md): when each loan's payments are read from LoanPro before its
/// rows are sent: `auto` (default) while the ledger has no posted row yet and rows are dated
/// before today (a new or lost ledger), `always` on every import (two ledgers for one tenant),
/// `never` where the ledger is known to be whole and a first night's reads would cost too much
/// (not in docs/states.md: the test suite's fixtures are all "before today" on new ledgers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    #[default]
    Auto,
    Always,
    Never,
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
    /// A payment date older than this many days before today is rejected (docs/formats.md), whatever
    /// the format: a year mistyped or misread gives a date nobody meant.
    pub max_age_days: u32,
    /// The `format` and the options that only it has.
    pub format: SourceFormat,
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

/// `sources.NAME.max_age_days` when a source does not set it (docs/formats.md).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 365;

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
        Settings::from_raw(raw, path).map_err(|(key, message)| SettingsError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        })
    }

    /// Validates the parsed file, section by section.
    fn from_raw(raw: RawSettings, path: &Path) -> Result<Settings, Invalid> {
        check_loanpro(&raw.loanpro)?;
        let limits = limits(&raw.limits)?;
        let payments = payments(raw.payments)?;
        let returns = Returns::from_raw(raw.returns)?;
        check_defaults(&payments)?;
        let sources = raw
            .sources
            .into_iter()
            .map(|(name, s)| Ok((name.clone(), source(name, s, &payments)?)))
            .collect::<Result<_, Invalid>>()?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Ok(Settings {
            path: path.to_path_buf(),
            loanpro: raw.loanpro,
            ledger_path: dir.join(&raw.ledger.path),
            metrics_textfile: metrics_textfile(raw.metrics.textfile, dir)?,
            verify: raw.ledger.verify,
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

/// A refused key, in full (`sources.bank.delimiter`), and what is wrong with it.
type Invalid = (String, String);

/// Names `key` as the one a message is about.
fn at(key: impl Into<String>) -> impl FnOnce(String) -> Invalid {
    move |message| (key.into(), message)
}

/// `[loanpro]`.
fn check_loanpro(lp: &LoanPro) -> Result<(), Invalid> {
    check_base_url(&lp.base_url).map_err(at("loanpro.base_url"))?;
    if lp.tenant_id.trim().is_empty() {
        return Err(at("loanpro.tenant_id")("must not be empty".into()));
    }
    let token_env = &lp.token_env;
    if token_env.trim().is_empty() || token_env.contains(['=', '\0']) {
        return Err(at("loanpro.token_env")(format!(
            "must name an environment variable (not empty, without `=` or NUL), got {token_env:?}"
        )));
    }
    check_range(lp.timeout_secs, &ranges::TIMEOUT_SECS, " seconds")
        .map_err(at("loanpro.timeout_secs"))
}

/// `[limits]`.
fn limits(l: &RawLimits) -> Result<Limits, Invalid> {
    check_range(l.requests_per_second, &ranges::REQUESTS_PER_SECOND, "")
        .map_err(at("limits.requests_per_second"))?;
    check_range(l.concurrency, &ranges::CONCURRENCY, "").map_err(at("limits.concurrency"))?;
    check_range(l.max_attempts, &ranges::MAX_ATTEMPTS, "").map_err(at("limits.max_attempts"))?;
    check_range(l.settle_secs, &ranges::SETTLE_SECS, " seconds")
        .map_err(at("limits.settle_secs"))?;
    // In range, so each fits the type the rest of payimport uses.
    Ok(Limits {
        requests_per_second: l.requests_per_second,
        concurrency: l.concurrency as usize,
        max_attempts: l.max_attempts as u32,
        settle_secs: l.settle_secs,
        min_file_age_secs: u64::try_from(l.min_file_age_secs).map_err(|_| {
            at("limits.min_file_age_secs")(format!(
                "must be 0 (off) or a number of seconds, got {}",
                l.min_file_age_secs
            ))
        })?,
    })
}

/// `[payments]`.
fn payments(p: RawPayments) -> Result<Payments, Invalid> {
    let payment_methods =
        parse_id_map(&p.payment_methods).map_err(at("payments.payment_methods"))?;
    let payment_types = parse_id_map(&p.payment_types).map_err(at("payments.payment_types"))?;
    let mut extra = BTreeSet::new();
    for e in &p.extra {
        if !KNOWN_EXTRA.contains(&e.as_str()) {
            return Err(at("payments.extra")(format!(
                "unknown value {e:?}; LoanPro knows {}",
                KNOWN_EXTRA.join(", ")
            )));
        }
        extra.insert(e.clone());
    }
    let info = InfoTemplate::parse(&p.info).map_err(at("payments.info"))?;
    Ok(Payments {
        default_payment_method_id: p.default_payment_method_id,
        default_payment_type_id: p.default_payment_type_id,
        default_extra: p.default_extra,
        payment_methods,
        payment_types,
        extra,
        info,
        duplicates: p.duplicates,
    })
}

/// `[payments]`' defaults are among its allowed values.
fn check_defaults(payments: &Payments) -> Result<(), Invalid> {
    payments
        .check_method(payments.default_payment_method_id)
        .map_err(at("payments.default_payment_method_id"))?;
    payments
        .check_type(payments.default_payment_type_id)
        .map_err(at("payments.default_payment_type_id"))?;
    payments
        .check_extra(&payments.default_extra)
        .map_err(at("payments.default_extra"))
}

/// `[sources.NAME]`: the keys every format has, checked against `[payments]`, then the
/// format's own (a key of another format refused by name).
fn source(name: String, mut s: RawSource, payments: &Payments) -> Result<Source, Invalid> {
    let key = |field: &str| format!("sources.{name}.{field}");
    if let Some((field, owners)) = source::foreign_key(&s) {
        return Err(at(key(field))(format!(
            "unknown field `{field}` for a {} source: it applies to {} sources only",
            s.format.name,
            owners.join(" and ")
        )));
    }
    let method = s
        .payment_method_id
        .unwrap_or(payments.default_payment_method_id);
    payments
        .check_method(method)
        .map_err(at(key("payment_method_id")))?;
    let ptype = s
        .payment_type_id
        .unwrap_or(payments.default_payment_type_id);
    payments
        .check_type(ptype)
        .map_err(at(key("payment_type_id")))?;
    let extra = s
        .extra
        .take()
        .unwrap_or_else(|| payments.default_extra.clone());
    payments.check_extra(&extra).map_err(at(key("extra")))?;
    let info = match &s.info {
        Some(t) => InfoTemplate::parse(t).map_err(at(key("info")))?,
        None => payments.info.clone(),
    };
    let max_age_days = match s.max_age_days {
        Some(days) => {
            check_range(days, &ranges::MAX_AGE_DAYS, " days").map_err(at(key("max_age_days")))?;
            days as u32
        }
        None => DEFAULT_MAX_AGE_DAYS,
    };
    let format = (s.format.parse)(&mut s).map_err(|(field, m)| (key(field), m))?;
    Ok(Source {
        loan: s.loan,
        payment_method_id: method,
        payment_type_id: ptype,
        extra,
        info,
        max_age_days,
        format,
        name,
    })
}

/// `[metrics] textfile`, resolved against the settings file's folder `dir`.
fn metrics_textfile(textfile: Option<String>, dir: &Path) -> Result<Option<PathBuf>, Invalid> {
    match textfile {
        Some(t) if t.trim().is_empty() || t.ends_with('/') => Err(at("metrics.textfile")(format!(
            "{t:?} names no file; give a path such as \"/var/lib/node_exporter/textfile/payimport.prom\""
        ))),
        Some(t) if !t.ends_with(".prom") => Err(at("metrics.textfile")(format!(
            "{t:?} must end in .prom: node_exporter's textfile collector reads only those"
        ))),
        Some(t) => Ok(Some(dir.join(t))),
        None => Ok(None),
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
    /// The base URL as a ledger records it (docs/states.md): what the client sends to, so two
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
mod tests;
