//! Returns and reversals (docs/returns.md): the `[returns]` settings, the NACHA return reason texts,
//! the `comments` template, and the matching rule that picks a return's original payment.
//!
//! The rule is kept pure ([`decide`]) so it can be tested on its own; the ledger finds the
//! candidates and records what the rule decided.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::template::{check_placeholders, render_template};

/// `[returns]` as the settings file gives it. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReturns {
    reverse_reasons: Option<Vec<String>>,
    default_reverse_reason: Option<String>,
    #[serde(default)]
    reasons_by_code: BTreeMap<String, String>,
    comments: Option<String>,
    match_window_days: Option<i64>,
}

/// `[returns]`, validated: the reverse reasons the tenant has, which one each return code uses,
/// the comment sent with a reversal, and how far back an original is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returns {
    pub reverse_reasons: BTreeSet<String>,
    pub default_reverse_reason: String,
    /// Upper-case codes (`R01`, `CHK`, `555`) to a reason of `reverse_reasons`.
    pub reasons_by_code: BTreeMap<String, String>,
    pub comments: CommentsTemplate,
    pub match_window_days: u32,
}

/// The reasons of a stock LoanPro tenant's `payment.reverse` collection (docs/returns.md).
const DEFAULT_REASONS: [&str; 4] = [
    "payment.reverse.checkBounce",
    "payment.reverse.nsf",
    "payment.reverse.nacha",
    "payment.reverse.other",
];

impl Default for Returns {
    fn default() -> Self {
        Returns::from_raw(RawReturns::default()).expect("the defaults are valid")
    }
}

impl Returns {
    /// Validates `[returns]`; an error is `(key, message)`, the key in full (`returns.…`).
    pub fn from_raw(raw: RawReturns) -> Result<Returns, (String, String)> {
        let key = |k: &str| format!("returns.{k}");
        let reasons: Vec<String> = raw
            .reverse_reasons
            .unwrap_or_else(|| DEFAULT_REASONS.iter().map(|s| s.to_string()).collect());
        if reasons.is_empty() {
            return Err((
                key("reverse_reasons"),
                "must list at least one reason of the tenant's payment.reverse collection".into(),
            ));
        }
        if let Some(bad) = reasons.iter().find(|r| r.trim().is_empty()) {
            return Err((
                key("reverse_reasons"),
                format!("{bad:?} is not a reason; expected values such as payment.reverse.nsf"),
            ));
        }
        let reverse_reasons: BTreeSet<String> = reasons.into_iter().collect();
        let in_list = |reason: &str| -> Result<(), String> {
            if reverse_reasons.contains(reason) {
                Ok(())
            } else {
                Err(format!(
                    "{reason:?} is not in returns.reverse_reasons ({})",
                    reverse_reasons
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        };
        let default_reverse_reason = raw
            .default_reverse_reason
            .unwrap_or_else(|| "payment.reverse.nacha".into());
        in_list(&default_reverse_reason).map_err(|m| (key("default_reverse_reason"), m))?;
        let mut reasons_by_code = BTreeMap::new();
        for (code, reason) in raw.reasons_by_code {
            let k = key(&format!("reasons_by_code.{code}"));
            let upper = code.trim().to_ascii_uppercase();
            if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err((
                    k,
                    format!("{code:?} is not a return code (letters and digits: R01, CHK, 555)"),
                ));
            }
            in_list(&reason).map_err(|m| (k.clone(), m))?;
            if reasons_by_code.insert(upper, reason).is_some() {
                return Err((k, "the same code is given twice (codes ignore case)".into()));
            }
        }
        let comments = CommentsTemplate::parse(
            raw.comments
                .as_deref()
                .unwrap_or("{code} {description}; returned {date}; ref {reference}"),
        )
        .map_err(|m| (key("comments"), m))?;
        let match_window_days = match raw.match_window_days.unwrap_or(120) {
            d @ 1..=3660 => d as u32,
            d => {
                return Err((
                    key("match_window_days"),
                    format!("must be a number of days from 1 to 3660, got {d}"),
                ));
            }
        };
        Ok(Returns {
            reverse_reasons,
            default_reverse_reason,
            reasons_by_code,
            comments,
            match_window_days,
        })
    }

    /// The reason a return with `code` is reversed with: the row's own (checked against the
    /// list), the code's in `reasons_by_code`, else the default.
    pub fn reason_for(&self, code: &str, given: Option<&str>) -> Result<String, String> {
        if let Some(given) = given {
            return if self.reverse_reasons.contains(given) {
                Ok(given.to_string())
            } else {
                Err(format!(
                    "is not in returns.reverse_reasons ({})",
                    self.reverse_reasons
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            };
        }
        Ok(self
            .reasons_by_code
            .get(&code.trim().to_ascii_uppercase())
            .unwrap_or(&self.default_reverse_reason)
            .clone())
    }
}

/// The `comments` template of a reversal, checked at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentsTemplate(String);

const COMMENT_PLACEHOLDERS: [&str; 7] = [
    "code",
    "description",
    "date",
    "reference",
    "file",
    "line",
    "original_key",
];

/// The values a comments template can refer to.
pub struct CommentValues<'a> {
    pub code: &'a str,
    pub date: &'a str,
    pub reference: &'a str,
    pub file: &'a str,
    pub line: u64,
    pub original_key: &'a str,
}

impl CommentsTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        check_placeholders(template, &COMMENT_PLACEHOLDERS)?;
        Ok(CommentsTemplate(template.to_string()))
    }

    /// The filled-in comment; blanks an empty value leaves are folded. The template's
    /// `;`-separated parts whose placeholders are all empty are left out, label and all
    /// (`ref {reference}` with no reference), so no comment ends in a dangling label.
    pub fn render(&self, v: &CommentValues) -> String {
        let mut out = String::new();
        for part in self.0.split(';') {
            let (mut placeholders, mut filled) = (0, 0);
            let mut text = String::new();
            render_template(part, &mut text, |name, out| {
                let before = out.len();
                match name {
                    "code" => out.push_str(v.code),
                    "description" => out.push_str(description(v.code)),
                    "date" => out.push_str(v.date),
                    "reference" => out.push_str(v.reference),
                    "file" => out.push_str(v.file),
                    "line" => out.push_str(&v.line.to_string()),
                    _ => out.push_str(v.original_key),
                }
                placeholders += 1;
                filled += usize::from(out.len() > before);
            });
            if text.is_empty() || (placeholders > 0 && filled == 0) {
                continue;
            }
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&text);
        }
        out
    }
}

/// LoanPro's `nachaReturnCode` for an R-code (`R01` → `nacha.returnCode.r01`); `None` for a
/// code that is not `R` and two digits (a check bounce, a BAI2 type code).
pub fn nacha_return_code(code: &str) -> Option<String> {
    let code = code.trim();
    let digits = code.strip_prefix(['R', 'r'])?;
    (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("nacha.returnCode.r{digits}"))
}

/// The standard NACHA text of an R-code (Operating Rules, Appendix Four), empty for any other
/// code: what `{description}` gives.
pub fn description(code: &str) -> &'static str {
    let code = code.trim();
    if nacha_return_code(code).is_none() {
        return "";
    }
    let n: u32 = code[1..].parse().unwrap_or(0);
    R_CODES
        .iter()
        .find(|(c, _)| *c == n)
        .map_or("", |(_, text)| text)
}

/// NACHA return reason codes and their standard descriptions.
const R_CODES: &[(u32, &str)] = &[
    (1, "Insufficient Funds"),
    (2, "Account Closed"),
    (3, "No Account/Unable to Locate Account"),
    (4, "Invalid Account Number Structure"),
    (
        5,
        "Unauthorized Debit to Consumer Account Using Corporate SEC Code",
    ),
    (6, "Returned per ODFI's Request"),
    (7, "Authorization Revoked by Customer"),
    (8, "Payment Stopped"),
    (9, "Uncollected Funds"),
    (
        10,
        "Customer Advises Originator is Not Known to Receiver and/or Originator is Not Authorized by Receiver to Debit Receiver's Account",
    ),
    (
        11,
        "Customer Advises Entry Not in Accordance with the Terms of the Authorization",
    ),
    (12, "Account Sold to Another DFI"),
    (13, "Invalid ACH Routing Number"),
    (
        14,
        "Representative Payee Deceased or Unable to Continue in That Capacity",
    ),
    (
        15,
        "Beneficiary or Account Holder (Other Than a Representative Payee) Deceased",
    ),
    (16, "Account Frozen/Entry Returned per OFAC Instruction"),
    (17, "File Record Edit Criteria"),
    (18, "Improper Effective Entry Date"),
    (19, "Amount Field Error"),
    (20, "Non-Transaction Account"),
    (21, "Invalid Company Identification"),
    (22, "Invalid Individual ID Number"),
    (23, "Credit Entry Refused by Receiver"),
    (24, "Duplicate Entry"),
    (25, "Addenda Error"),
    (26, "Mandatory Field Error"),
    (27, "Trace Number Error"),
    (28, "Routing Number Check Digit Error"),
    (29, "Corporate Customer Advises Not Authorized"),
    (30, "RDFI Not Participant in Check Truncation Program"),
    (31, "Permissible Return Entry (CCD and CTX only)"),
    (32, "RDFI Non-Settlement"),
    (33, "Return of XCK Entry"),
    (34, "Limited Participation DFI"),
    (35, "Return of Improper Debit Entry"),
    (36, "Return of Improper Credit Entry"),
    (37, "Source Document Presented for Payment"),
    (38, "Stop Payment on Source Document"),
    (
        39,
        "Improper Source Document/Source Document Presented for Payment",
    ),
    (40, "Return of ENR Entry by Federal Government Agency"),
    (41, "Invalid Transaction Code"),
    (42, "Routing Number/Check Digit Error"),
    (43, "Invalid DFI Account Number"),
    (44, "Invalid Individual ID Number/Identification Number"),
    (45, "Invalid Individual Name/Company Name"),
    (46, "Invalid Representative Payee Indicator"),
    (47, "Duplicate Enrollment"),
    (50, "State Law Affecting RCK Acceptance"),
    (
        51,
        "Item Related to RCK Entry is Ineligible or RCK Entry is Improper",
    ),
    (52, "Stop Payment on Item Related to RCK Entry"),
    (53, "Item and RCK Entry Presented for Payment"),
    (61, "Misrouted Return"),
    (62, "Return of Erroneous or Reversing Debit"),
    (67, "Duplicate Return"),
    (68, "Untimely Return"),
    (69, "Field Error(s)"),
    (
        70,
        "Permissible Return Entry Not Accepted/Return Not Requested by ODFI",
    ),
    (71, "Misrouted Dishonored Return"),
    (72, "Untimely Dishonored Return"),
    (73, "Timely Original Return"),
    (74, "Corrected Return"),
    (75, "Return Not a Duplicate"),
    (76, "No Errors Found"),
    (77, "Non-Acceptance of R62 Dishonored Return"),
    (80, "IAT Entry Coding Error"),
    (81, "Non-Participant in IAT Program"),
    (82, "Invalid Foreign Receiving DFI Identification"),
    (83, "Foreign Receiving DFI Unable to Settle"),
    (84, "Entry Not Processed by Gateway"),
    (85, "Incorrectly Coded Outbound International Payment"),
];

/// A payment row a return may reverse: a candidate of docs/returns.md rule 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub key: String,
    pub reference: String,
}

/// What matching decided for one return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// This payment row is the original.
    Original(Candidate),
    /// None or several, or a reference that names another payment: the return is `unmatched`,
    /// with this message. `candidates` says how many there were: `retry` matches again only a
    /// return that had none (docs/returns.md rule 4).
    Unmatched { why: String, candidates: usize },
}

/// What the return's original reference names, when no candidate has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A payment row of the loan that is no candidate, and why (reversed, claimed, ...).
    Other(String),
    /// No payment of the loan at all.
    Nothing,
}

/// docs/returns.md, matching rules 2 and 3: the candidate whose reference is the return's original reference if
/// exactly one has it; a reference that names another payment (`named`), or that names none
/// when it is not a NACHA trace number (`trace`), is no match; else the only candidate. None or
/// several is no match, never a guess.
pub fn decide(
    loan: &str,
    amount: crate::money::Cents,
    original_reference: &str,
    trace: bool,
    candidates: &[Candidate],
    named: Option<Named>,
) -> Match {
    let unmatched = |why: String| Match::Unmatched {
        why,
        candidates: candidates.len(),
    };
    let original_reference = original_reference.trim();
    if !original_reference.is_empty() {
        let by_ref: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.reference.trim() == original_reference)
            .collect();
        match (&by_ref[..], named) {
            ([one], _) => return Match::Original((*one).clone()),
            // Fixed monthly installments make "the only other one" the wrong one.
            ([], Some(Named::Other(which))) => {
                return unmatched(format!(
                    "the return names reference {original_reference:?}, which is {which}; no other payment is taken in its place and nothing was sent"
                ));
            }
            ([], Some(Named::Nothing)) if !trace => {
                return unmatched(format!(
                    "the return names reference {original_reference:?}, which no posted payment of loan {loan} has (not imported yet?); no other payment is taken in its place and nothing was sent"
                ));
            }
            _ => {}
        }
    }
    match candidates {
        [one] => Match::Original(one.clone()),
        [] => unmatched(format!(
            "no posted payment of loan {loan} for {amount} within the match window (returns.match_window_days) that is not reversed or claimed by another return; nothing was sent"
        )),
        many => unmatched(format!(
            "{} posted payments of loan {loan} for {amount} could be the original ({}){}; none is chosen by guess and nothing was sent: give the return's original_key",
            many.len(),
            many.iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if original_reference.is_empty() {
                String::new()
            } else {
                format!(", and not exactly one has reference {original_reference:?}")
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Cents;

    fn raw(text: &str) -> Result<Returns, (String, String)> {
        Returns::from_raw(toml::from_str(text).unwrap())
    }

    #[test]
    fn defaults_and_spec_example_load() {
        let r = Returns::default();
        assert_eq!(r.default_reverse_reason, "payment.reverse.nacha");
        assert_eq!(r.match_window_days, 120);
        let r = raw(r#"
reverse_reasons = ["payment.reverse.checkBounce", "payment.reverse.nsf", "payment.reverse.nacha", "payment.reverse.other"]
default_reverse_reason = "payment.reverse.nacha"
reasons_by_code = { R01 = "payment.reverse.nsf", r09 = "payment.reverse.nsf", CHK = "payment.reverse.checkBounce" }
comments = "{code} {description}; returned {date}; ref {reference}"
match_window_days = 120
"#)
        .unwrap();
        assert_eq!(r.reason_for("R01", None).unwrap(), "payment.reverse.nsf");
        assert_eq!(r.reason_for("R09", None).unwrap(), "payment.reverse.nsf");
        assert_eq!(r.reason_for("R02", None).unwrap(), "payment.reverse.nacha");
        assert!(r.reason_for("R02", Some("payment.reverse.bogus")).is_err());
    }

    #[test]
    fn an_unknown_reason_is_named_by_its_key() {
        let (key, m) = raw(r#"reasons_by_code = { R01 = "payment.reverse.nfs" }"#).unwrap_err();
        assert_eq!(key, "returns.reasons_by_code.R01");
        assert!(m.contains("\"payment.reverse.nfs\" is not in returns.reverse_reasons"));
        let (key, _) = raw(r#"default_reverse_reason = "x""#).unwrap_err();
        assert_eq!(key, "returns.default_reverse_reason");
        let (key, _) = raw(r#"comments = "{amount}""#).unwrap_err();
        assert_eq!(key, "returns.comments");
        let (key, _) = raw("match_window_days = 0").unwrap_err();
        assert_eq!(key, "returns.match_window_days");
        let (key, _) = raw("reverse_reasons = []").unwrap_err();
        assert_eq!(key, "returns.reverse_reasons");
    }

    #[test]
    fn comments_and_codes() {
        let t = CommentsTemplate::parse("{code} {description}; returned {date}; ref {reference}")
            .unwrap();
        let v = CommentValues {
            code: "R01",
            date: "2026-11-24",
            reference: "0910000123",
            file: "f",
            line: 3,
            original_key: "k",
        };
        assert_eq!(
            t.render(&v),
            "R01 Insufficient Funds; returned 2026-11-24; ref 0910000123"
        );
        let v = CommentValues { code: "CHK", ..v };
        assert_eq!(t.render(&v), "CHK; returned 2026-11-24; ref 0910000123");
        // A part whose values are all empty goes, its label with it.
        let none = CommentValues { reference: "", ..v };
        assert_eq!(t.render(&none), "CHK; returned 2026-11-24");
        // Parts without placeholders stay.
        let fixed = CommentsTemplate::parse("returned; {reference}").unwrap();
        assert_eq!(fixed.render(&none), "returned");
        assert_eq!(
            nacha_return_code("R01").as_deref(),
            Some("nacha.returnCode.r01")
        );
        assert_eq!(nacha_return_code("R1"), None);
        assert_eq!(nacha_return_code("555"), None);
        assert_eq!(description("R02"), "Account Closed");
        assert_eq!(
            description("R85"),
            "Incorrectly Coded Outbound International Payment"
        );
        assert_eq!(description("R99"), "");
    }

    #[test]
    fn matching_never_guesses() {
        let c = |id: i64, reference: &str| Candidate {
            id,
            key: format!("{id:016x}"),
            reference: reference.into(),
        };
        let a = Cents(25000);
        let d = |r: &str, trace: bool, cs: &[Candidate], named: Option<Named>| {
            decide("7", a, r, trace, cs, named)
        };
        assert_eq!(d("", false, &[c(1, "x")], None), Match::Original(c(1, "x")));
        assert_eq!(
            d("y", false, &[c(1, "x"), c(2, "y")], None),
            Match::Original(c(2, "y"))
        );
        // A trace number that names nothing: the only candidate is still the original.
        assert_eq!(
            d("z", true, &[c(1, "x")], Some(Named::Nothing)),
            Match::Original(c(1, "x"))
        );
        // A CSV reference that names nothing, or a payment that is no candidate: no match.
        for (trace, named) in [
            (false, Named::Nothing),
            (true, Named::Other("reversed already".into())),
            (false, Named::Other("reversed already".into())),
        ] {
            let Match::Unmatched { why, candidates } = d("z", trace, &[c(1, "x")], Some(named))
            else {
                panic!()
            };
            assert!(why.contains("\"z\""), "{why}");
            assert_eq!(candidates, 1);
        }
        let Match::Unmatched { why: m, candidates } = d("", false, &[c(1, "x"), c(2, "x")], None)
        else {
            panic!()
        };
        assert_eq!(candidates, 2);
        assert!(m.contains("loan 7") && m.contains("250.00"), "{m}");
        assert!(m.contains("0000000000000001, 0000000000000002"), "{m}");
        let Match::Unmatched { why: m, .. } = d("x", false, &[c(1, "x"), c(2, "x")], None) else {
            panic!()
        };
        assert!(m.contains("not exactly one has reference"), "{m}");
        assert!(matches!(
            d("", false, &[], None),
            Match::Unmatched { candidates: 0, .. }
        ));
    }
}
