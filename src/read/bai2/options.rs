//! BAI2 options of a source (`[sources.NAME.bai2]`): where the loan of a payment 16 comes from.

use regex::Regex;
use serde::Deserialize;

/// Where the loan of a payment 16 comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanFrom {
    /// The 16's customer reference field.
    #[default]
    CustomerReference,
    /// The 16's bank reference field.
    BankReference,
    /// The first capture group of `loan_pattern` over the 16's text (with its 88 continuations).
    Text,
}

impl LoanFrom {
    fn name(self) -> &'static str {
        match self {
            LoanFrom::CustomerReference => "customer_reference",
            LoanFrom::BankReference => "bank_reference",
            LoanFrom::Text => "text",
        }
    }
}

/// BAI2 options of a source, `[sources.NAME.bai2]`: where the loan reference comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bai2Options {
    /// `customer_reference` (default), `bank_reference` or `text`.
    pub loan_from: LoanFrom,
    /// With `loan_from = "text"`: a regex with exactly one capture group, the loan.
    pub loan_pattern: Option<String>,
}

impl Bai2Options {
    /// Checks the options; the message is shown under the key `sources.NAME.bai2`.
    pub fn validate(&self) -> Result<(), String> {
        self.compile().map(|_| ())
    }

    /// The loan pattern, compiled, when `loan_from = "text"`.
    pub(super) fn compile(&self) -> Result<Option<Regex>, String> {
        match (self.loan_from, self.loan_pattern.as_deref()) {
            (LoanFrom::Text, None) => Err(
                "`loan_pattern` is required with loan_from = \"text\": a regular expression whose one capture group is the loan, e.g. \"LOAN\\\\s*#?\\\\s*(\\\\d+)\"".into(),
            ),
            (LoanFrom::Text, Some(p)) => {
                let re = Regex::new(p).map_err(|e| {
                    // The regex crate's message spans lines (pattern, caret, error); keep the error.
                    let text = e.to_string();
                    let last = text.lines().last().unwrap_or("").trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last);
                    format!("`loan_pattern` {p:?} is not a valid regular expression: {last}")
                })?;
                let groups = re.captures_len() - 1;
                if groups != 1 {
                    return Err(format!(
                        "`loan_pattern` {p:?} must have exactly one capture group (the loan), it has {groups}"
                    ));
                }
                Ok(Some(re))
            }
            (other, Some(_)) => Err(format!(
                "`loan_pattern` is only used with loan_from = \"text\", but loan_from is {:?}",
                other.name()
            )),
            (_, None) => Ok(None),
        }
    }
}
