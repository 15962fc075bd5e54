//! camt options of a source (docs/formats.md#camt): where the loan comes from, which accounts
//! and bank transaction codes are read, and whether a payment is an entry or a detail.

use regex::Regex;
use serde::Deserialize;

/// One place a payment's loan may come from (`loan_from`), tried in the order listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanFrom {
    /// The detail's structured creditor reference (`RmtInf/Strd/CdtrRefInf/Ref`).
    Reference,
    /// The detail's `Refs/EndToEndId` (`NOTPROVIDED` counts as absent).
    EndToEndId,
    /// The first capture group of `loan_pattern` over the unstructured remittance (`Ustrd`).
    Remittance,
}

/// One payment per entry, per detail, or per detail where the details account for the entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Auto,
    Detail,
    Entry,
}

/// The camt keys of a source, as the settings file gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamtOptions {
    pub loan_from: Vec<LoanFrom>,
    pub loan_pattern: Option<String>,
    /// Only these accounts (IBAN or `Othr/Id`); empty: every account.
    pub accounts: Vec<String>,
    /// Only credits with one of these codes are payments; empty: every credit.
    pub bank_transaction_codes: Vec<String>,
    pub unit: Unit,
}

impl Default for CamtOptions {
    fn default() -> Self {
        CamtOptions {
            loan_from: vec![
                LoanFrom::Reference,
                LoanFrom::EndToEndId,
                LoanFrom::Remittance,
            ],
            loan_pattern: None,
            accounts: Vec::new(),
            bank_transaction_codes: Vec::new(),
            unit: Unit::Auto,
        }
    }
}

/// A problem with one key: the key's name and the message.
pub type KeyError = (&'static str, String);

impl CamtOptions {
    /// Checks the options; the error names the key it is about.
    pub fn validate(&self) -> Result<(), KeyError> {
        self.compile().map(|_| ())
    }

    /// The options as the reader uses them.
    pub(super) fn compile(&self) -> Result<Compiled, KeyError> {
        if self.loan_from.is_empty() {
            return Err((
                "loan_from",
                "needs at least one of \"reference\", \"end_to_end_id\", \"remittance\"".into(),
            ));
        }
        let wants_text = self.loan_from.contains(&LoanFrom::Remittance);
        let pattern = match self.loan_pattern.as_deref() {
            None => None,
            Some(p) => {
                let re = Regex::new(p).map_err(|e| {
                    let text = e.to_string();
                    let last = text.lines().last().unwrap_or("").trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last);
                    (
                        "loan_pattern",
                        format!("{p:?} is not a valid regular expression: {last}"),
                    )
                })?;
                let groups = re.captures_len() - 1;
                if groups != 1 {
                    return Err((
                        "loan_pattern",
                        format!(
                            "{p:?} must have exactly one capture group (the loan), it has {groups}"
                        ),
                    ));
                }
                Some(re)
            }
        };
        if pattern.is_some() && !wants_text {
            return Err((
                "loan_pattern",
                "is only used when loan_from lists \"remittance\"".into(),
            ));
        }
        let mut codes = Vec::new();
        for code in &self.bank_transaction_codes {
            codes.push(CodeFilter::parse(code).map_err(|m| ("bank_transaction_codes", m))?);
        }
        Ok(Compiled {
            loan_from: self.loan_from.clone(),
            pattern,
            accounts: self.accounts.iter().map(|a| normalise_account(a)).collect(),
            codes,
            unit: self.unit,
        })
    }
}

/// An account number compared without blanks and case (IBANs are printed in groups of four).
pub(super) fn normalise_account(a: &str) -> String {
    a.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The options, checked and ready.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub loan_from: Vec<LoanFrom>,
    pub pattern: Option<Regex>,
    pub accounts: Vec<String>,
    pub codes: Vec<CodeFilter>,
    pub unit: Unit,
}

/// One entry of `bank_transaction_codes`: an ISO `Domain-Family-SubFamily` code with `*`
/// wildcards, or a proprietary code (a BAI2 type code such as `165`) matched as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CodeFilter {
    Iso([Option<String>; 3]),
    Proprietary(String),
}

impl CodeFilter {
    fn parse(code: &str) -> Result<Self, String> {
        let code = code.trim();
        if code.is_empty() {
            return Err("an empty code; use e.g. \"PMNT-RCDT-*\" or \"165\"".into());
        }
        let parts: Vec<&str> = code.split('-').collect();
        if parts.len() == 1 {
            return Ok(CodeFilter::Proprietary(code.to_string()));
        }
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "{code:?}: an ISO code is Domain-Family-SubFamily such as \"PMNT-RCDT-ESCT\", each part a code or *"
            ));
        }
        let part = |p: &str| (p != "*").then(|| p.to_ascii_uppercase());
        Ok(CodeFilter::Iso([
            part(parts[0]),
            part(parts[1]),
            part(parts[2]),
        ]))
    }

    /// Whether an entry with this ISO code (domain, family, sub-family) and proprietary code
    /// passes.
    pub fn matches(&self, iso: &[String; 3], proprietary: &str) -> bool {
        match self {
            CodeFilter::Iso(parts) => parts
                .iter()
                .zip(iso)
                .all(|(want, have)| want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))),
            CodeFilter::Proprietary(code) => !proprietary.is_empty() && code == proprietary.trim(),
        }
    }
}
