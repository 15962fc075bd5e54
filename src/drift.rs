//! LoanPro's side of the reconciliation (docs/report.md, `payimport reconcile`): what a loan's
//! payments in LoanPro say against what the ledger says it posted or reversed there. Pure: the
//! command reads both sides and stores what this finds.

use serde::Serialize;

use crate::ledger::Status;
use crate::loanpro::LoggedPayment;
use crate::money::Cents;

/// A payment row the ledger posted (or reversed) on a loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPayment {
    pub key: String,
    /// `posted` or `reversed`.
    pub status: Status,
    pub amount: Cents,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// The kinds of drift, as the ledger stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Posted by payimport, not in LoanPro (deleted by hand).
    Missing,
    /// Reversed in LoanPro, but not by payimport.
    ReversedInLoanPro,
    /// Reversed by payimport, active again in LoanPro.
    NotReversed,
    AmountChanged,
    DateChanged,
    /// A payment carrying a `[k:KEY]` this ledger does not know.
    UnknownKey,
    /// One key on more than one payment: the money is in LoanPro twice.
    Duplicate,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::ReversedInLoanPro => "reversed_in_loanpro",
            DriftKind::NotReversed => "not_reversed",
            DriftKind::AmountChanged => "amount_changed",
            DriftKind::DateChanged => "date_changed",
            DriftKind::UnknownKey => "unknown_key",
            DriftKind::Duplicate => "duplicate",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<DriftKind> {
        [
            DriftKind::Missing,
            DriftKind::ReversedInLoanPro,
            DriftKind::NotReversed,
            DriftKind::AmountChanged,
            DriftKind::DateChanged,
            DriftKind::UnknownKey,
            DriftKind::Duplicate,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// What a person does about it.
    pub fn what_to_do(self) -> &'static str {
        match self {
            DriftKind::Missing => {
                "Find out who deleted it in LoanPro; if the money came, log it again there by hand with the same info (its [k:KEY] included)."
            }
            DriftKind::ReversedInLoanPro => {
                "Someone reversed it in LoanPro: confirm the bank returned it; if not, undo the reversal there."
            }
            DriftKind::NotReversed => {
                "payimport reversed it, but LoanPro shows it active: reverse it again in LoanPro by hand."
            }
            DriftKind::AmountChanged | DriftKind::DateChanged => {
                "Someone edited it in LoanPro: put it back as the bank file states, or record why it differs."
            }
            DriftKind::UnknownKey => {
                "A payment carries a payimport key this ledger does not know: another ledger (or a copy) posted it; make sure it is not posted twice."
            }
            DriftKind::Duplicate => {
                "The same payment is in LoanPro more than once: reverse the extra one(s) in LoanPro."
            }
        }
    }
}

/// One difference between the ledger and LoanPro.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub kind: DriftKind,
    pub loan_id: i64,
    pub key: Option<String>,
    pub loanpro_payment_id: Option<u64>,
    pub ledger_value: Option<String>,
    pub loanpro_value: Option<String>,
    pub message: String,
}

/// The key in a payment's info: the hex between `[k:` and `]`.
pub fn key_in(info: &str) -> Option<&str> {
    let at = info.rfind("[k:")?;
    let rest = &info[at + 3..];
    let key = &rest[..rest.find(']')?];
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit())).then_some(key)
}

/// Compares one loan: `ledger` its rows in the range, `loanpro` every payment LoanPro lists for
/// it, `known` whether the ledger knows a key at all (posted in or out of the range).
pub fn compare(
    loan_id: i64,
    ledger: &[LedgerPayment],
    loanpro: &[LoggedPayment],
    mut known: impl FnMut(&str) -> bool,
) -> Vec<Drift> {
    let mut out = Vec::new();
    let drift = |kind, key: &str, p: Option<&LoggedPayment>, ours: String, theirs: String| Drift {
        kind,
        loan_id,
        key: Some(key.to_string()),
        loanpro_payment_id: p.and_then(|p| p.id),
        message: format!("loan {loan_id}, payment [k:{key}]: ledger {ours}, LoanPro {theirs}"),
        ledger_value: Some(ours),
        loanpro_value: Some(theirs),
    };
    for row in ledger {
        let found: Vec<&LoggedPayment> = loanpro
            .iter()
            .filter(|p| key_in(&p.info) == Some(row.key.as_str()))
            .collect();
        let Some(p) = found.first().copied() else {
            out.push(drift(
                DriftKind::Missing,
                &row.key,
                None,
                format!("{} {} on {}", row.status, row.amount, row.date),
                "has no payment with this key".into(),
            ));
            continue;
        };
        if found.len() > 1 {
            out.push(drift(
                DriftKind::Duplicate,
                &row.key,
                Some(p),
                format!("one payment of {}", row.amount),
                format!(
                    "{} payments (ids {})",
                    found.len(),
                    found
                        .iter()
                        .map(|p| p.id.map(|i| i.to_string()).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        match (row.status, p.active) {
            (Status::Reversed, true) => out.push(drift(
                DriftKind::NotReversed,
                &row.key,
                Some(p),
                "reversed".into(),
                "active".into(),
            )),
            (Status::Reversed, false) => {}
            (_, false) => out.push(drift(
                DriftKind::ReversedInLoanPro,
                &row.key,
                Some(p),
                "posted (active)".into(),
                format!(
                    "reversed ({})",
                    p.reverse_reason.as_deref().unwrap_or("no reason given")
                ),
            )),
            (_, true) => {}
        }
        if let Some(amount) = p.amount
            && amount != row.amount
        {
            out.push(drift(
                DriftKind::AmountChanged,
                &row.key,
                Some(p),
                row.amount.to_string(),
                amount.to_string(),
            ));
        }
        if let Some(date) = &p.date
            && *date != row.date
        {
            out.push(drift(
                DriftKind::DateChanged,
                &row.key,
                Some(p),
                row.date.clone(),
                date.clone(),
            ));
        }
    }
    for p in loanpro {
        if let Some(key) = key_in(&p.info)
            && !known(key)
        {
            out.push(drift(
                DriftKind::UnknownKey,
                key,
                Some(p),
                "no row with this key".into(),
                format!(
                    "payment {} of {}",
                    p.id.map(|i| i.to_string()).unwrap_or_default(),
                    p.amount.map(|a| a.to_string()).unwrap_or_default()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(key: &str, status: Status, cents: i64, date: &str) -> LedgerPayment {
        LedgerPayment {
            key: key.into(),
            status,
            amount: Cents(cents),
            date: date.into(),
        }
    }

    fn theirs(id: u64, key: &str, active: bool, cents: i64, date: &str) -> LoggedPayment {
        LoggedPayment {
            id: Some(id),
            info: format!("2026-11-20 bank_csv 1040 [k:{key}]"),
            active,
            reverse_reason: (!active).then(|| "payment.reverse.other".into()),
            amount: Some(Cents(cents)),
            date: Some(date.into()),
        }
    }

    fn kinds(d: &[Drift]) -> Vec<DriftKind> {
        d.iter().map(|d| d.kind).collect()
    }

    #[test]
    fn each_kind_of_drift_is_found_and_agreement_is_none() {
        let d = "2026-11-20";
        let known = |k: &str| k != "ffff";
        let agree = compare(
            7,
            &[
                ours("aa01", Status::Posted, 100, d),
                ours("aa02", Status::Reversed, 200, d),
            ],
            &[
                theirs(1, "aa01", true, 100, d),
                theirs(2, "aa02", false, 200, d),
            ],
            known,
        );
        assert!(agree.is_empty(), "{agree:?}");
        let cases: [(LedgerPayment, Vec<LoggedPayment>, Vec<DriftKind>); 6] = [
            (
                ours("aa01", Status::Posted, 100, d),
                vec![],
                vec![DriftKind::Missing],
            ),
            (
                ours("aa01", Status::Posted, 100, d),
                vec![theirs(1, "aa01", false, 100, d)],
                vec![DriftKind::ReversedInLoanPro],
            ),
            (
                ours("aa01", Status::Reversed, 100, d),
                vec![theirs(1, "aa01", true, 100, d)],
                vec![DriftKind::NotReversed],
            ),
            (
                ours("aa01", Status::Posted, 100, d),
                vec![theirs(1, "aa01", true, 150, d)],
                vec![DriftKind::AmountChanged],
            ),
            (
                ours("aa01", Status::Posted, 100, d),
                vec![theirs(1, "aa01", true, 100, "2026-11-21")],
                vec![DriftKind::DateChanged],
            ),
            (
                ours("aa01", Status::Posted, 100, d),
                vec![
                    theirs(1, "aa01", true, 100, d),
                    theirs(2, "ffff", true, 5, d),
                ],
                vec![DriftKind::UnknownKey],
            ),
        ];
        for (row, lp, want) in cases {
            assert_eq!(kinds(&compare(7, &[row], &lp, known)), want);
        }
        let twice = compare(
            7,
            &[ours("aa01", Status::Posted, 100, d)],
            &[
                theirs(1, "aa01", true, 100, d),
                theirs(2, "aa01", true, 100, d),
            ],
            known,
        );
        assert_eq!(kinds(&twice), vec![DriftKind::Duplicate]);
    }

    #[test]
    fn the_key_is_read_from_the_end_of_info() {
        assert_eq!(key_in("x [k:3f9a0c21d4e5b6a7]"), Some("3f9a0c21d4e5b6a7"));
        assert_eq!(key_in("no key"), None);
        assert_eq!(key_in("[k:] [k:zz]"), None);
    }
}
