//! Control totals (docs/formats.md): the counts and amount totals a bank file states, checked against
//! what was read, and what a mismatch does under the source's `control_totals` mode.
//!
//! Each bank reader builds its [`ControlCheck`]s as the records stating them go by and hands
//! them to one [`Controls`], so that enforce and warn mean the same in every format.
//!
//! Amount totals and counts have a mode each (docs/formats.md): real banks miscount their own records
//! far more often than they misadd money, so a source may relax counts (`control_counts`)
//! while amounts stay under `control_totals`. A check whose `what` is `amount` is an amount
//! total; every other one (`items`, `records`, `accounts`, `groups`) is a count.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::FileError;
use crate::money::Cents;

/// Whether a file whose stated totals disagree is refused or only warned about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ControlTotals {
    /// The file is refused whole (nothing of it is staged).
    #[default]
    Enforce,
    /// The mismatch is logged and the file read on.
    Warn,
}

/// The modes of one source: amount totals and counts. From a single [`ControlTotals`] both
/// take it, which is what a source without `control_counts` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlModes {
    pub amounts: ControlTotals,
    pub counts: ControlTotals,
}

impl ControlModes {
    /// The mode that applies to a check of `what`.
    pub fn of(self, what: Counted) -> ControlTotals {
        match what {
            Counted::Amount => self.amounts,
            Counted::Items
            | Counted::Records
            | Counted::Accounts
            | Counted::Groups
            | Counted::Batches
            | Counted::EntryHash
            | Counted::Skipped
            | Counted::Folded
            | Counted::FoldedDiffering => self.counts,
        }
    }
}

impl From<ControlTotals> for ControlModes {
    fn from(mode: ControlTotals) -> Self {
        ControlModes {
            amounts: mode,
            counts: mode,
        }
    }
}

/// What a control total counts. Its name is what the ledger, the log and the report show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Integer cents (the only one under `control_totals`; the others are counts).
    Amount,
    Items,
    Records,
    Accounts,
    Groups,
    Batches,
    /// A NACHA file's entry hash (the sum of the routing numbers, cut to ten digits).
    EntryHash,
    /// Details a reader skipped as not payments (a BAI2 test, deletion or interim group):
    /// recorded among the control checks so that the ledger and the report show them, with
    /// the count as both stated and computed, so it never fails.
    Skipped,
    /// Every matching check after the first [`KEPT`] of a file, counted in one: its count as
    /// both stated and computed, so it matches.
    Folded,
    /// Every differing check after the first [`KEPT`] (under `warn`; each is logged as it is
    /// found), counted in one: its count stated, 0 computed, so it differs.
    FoldedDiffering,
}

impl Counted {
    /// Its name in the ledger, the log and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Amount => "amount",
            Counted::Items => "items",
            Counted::Records => "records",
            Counted::Accounts => "accounts",
            Counted::Groups => "groups",
            Counted::Batches => "batches",
            Counted::EntryHash => "entry hash",
            Counted::Skipped => "skipped",
            Counted::Folded => "folded",
            Counted::FoldedDiffering => "folded differing",
        }
    }
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Counted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Control checks kept one by one per file. A file of 100,000 lockbox batches states 200,000
/// totals: beyond these, checks are counted, not kept, so memory, the ledger's record of the
/// file and the report stay small whatever the file's size (docs/loanpro.md). The file's own totals
/// (scope `file`) are kept after them.
pub const KEPT: usize = 1_000;

/// One control total a file states, checked against what was read (integer cents or counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlCheck {
    /// Where in the file: `file`, `batch 001`, `lockbox 1234567`, `group 2`, `account 123456789`...
    pub scope: String,
    /// What is counted.
    pub what: Counted,
    /// The 1-based line of the record that states it.
    pub line: u64,
    pub stated: i64,
    pub computed: i64,
}

impl ControlCheck {
    pub fn matches(&self) -> bool {
        self.stated == self.computed
    }
}

impl fmt::Display for ControlCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.what == Counted::Skipped {
            return write!(
                f,
                "{}: {} payment detail(s) skipped, not sent",
                self.scope, self.computed
            );
        }
        if self.what == Counted::Folded {
            return write!(
                f,
                "{}: {} more control total(s), each matching",
                self.scope, self.computed
            );
        }
        if self.what == Counted::FoldedDiffering {
            return write!(
                f,
                "{}: {} more control total(s) differ, each logged",
                self.scope, self.stated
            );
        }
        let show = |v: i64| {
            if self.what == Counted::Amount {
                Cents(v).to_string()
            } else {
                v.to_string()
            }
        };
        write!(
            f,
            "{} {}: stated {}, computed {}",
            self.scope,
            self.what,
            show(self.stated),
            show(self.computed)
        )
    }
}

/// The control totals of one file: every check made so far, and the mode that decides what a
/// mismatch does.
#[derive(Debug, Clone)]
pub struct Controls {
    file: Arc<str>,
    modes: ControlModes,
    checks: Vec<ControlCheck>,
}

impl Controls {
    /// The controls of `file`, named so in messages.
    pub fn new(file: &Arc<str>, modes: impl Into<ControlModes>) -> Self {
        Controls {
            file: file.clone(),
            modes: modes.into(),
            checks: Vec::new(),
        }
    }

    /// Records the checks one record states, each with a hint that follows it in messages (or
    /// an empty one). Every check is recorded, so the report shows them all; under enforce the
    /// first mismatch is the file's error, under warn each mismatch is logged and reading goes on.
    pub fn settle(
        &mut self,
        checks: impl IntoIterator<Item = (ControlCheck, String)>,
    ) -> Result<(), FileError> {
        let mut failure = None;
        for (check, hint) in checks {
            if !check.matches() {
                match self.modes.of(check.what) {
                    ControlTotals::Warn => tracing::warn!(
                        file = %self.file,
                        line = check.line,
                        "control total does not match: {check}{hint}"
                    ),
                    ControlTotals::Enforce => {
                        if failure.is_none() {
                            failure = Some(FileError::new(
                                &self.file,
                                Some(check.line),
                                format!("{check}{hint}"),
                            ));
                        }
                    }
                }
            }
            self.keep(check);
        }
        failure.map_or(Ok(()), Err)
    }

    /// Keeps a check, or past [`KEPT`] counts it in its folded check.
    fn keep(&mut self, check: ControlCheck) {
        // The file's own totals are kept past KEPT too, within a bound: a hostile stream of
        // concatenated files must not grow this list either.
        let file_level = check.scope == "file" && self.checks.len() < KEPT + 64;
        if self.checks.len() < KEPT || file_level {
            self.checks.push(check);
            return;
        }
        let what = if check.matches() {
            Counted::Folded
        } else {
            Counted::FoldedDiffering
        };
        match self.checks[KEPT..].iter_mut().find(|c| c.what == what) {
            Some(folded) => {
                folded.stated += 1;
                folded.computed += i64::from(what == Counted::Folded);
                folded.line = check.line;
            }
            None => self.checks.push(ControlCheck {
                scope: format!("after the first {KEPT} checks, to this line"),
                what,
                line: check.line,
                stated: 1,
                computed: i64::from(what == Counted::Folded),
            }),
        }
    }

    /// Every check recorded so far.
    pub fn checks(&self) -> &[ControlCheck] {
        &self.checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(what: Counted, line: u64, stated: i64, computed: i64) -> ControlCheck {
        ControlCheck {
            scope: "batch 001".into(),
            what,
            line,
            stated,
            computed,
        }
    }

    #[test]
    fn amounts_show_as_cents_and_counts_as_numbers() {
        assert_eq!(
            check(Counted::Amount, 3, 150_000, -50).to_string(),
            "batch 001 amount: stated 1500.00, computed -0.50"
        );
        assert_eq!(
            check(Counted::Items, 3, 2, 3).to_string(),
            "batch 001 items: stated 2, computed 3"
        );
    }

    #[test]
    fn enforce_refuses_at_the_first_mismatch_and_records_every_check() {
        let file: Arc<str> = "f.lbx".into();
        let mut controls = Controls::new(&file, ControlTotals::Enforce);
        assert_eq!(
            controls.settle([(check(Counted::Items, 4, 1, 1), String::new())]),
            Ok(())
        );
        let e = controls
            .settle([
                (check(Counted::Items, 8, 2, 1), " (a hint)".to_string()),
                (check(Counted::Amount, 9, 100, 200), String::new()),
            ])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.lbx:8: batch 001 items: stated 2, computed 1 (a hint)"
        );
        assert_eq!(controls.checks().len(), 3);
    }

    #[test]
    fn past_the_kept_checks_they_are_counted_not_kept() {
        let file: Arc<str> = "f.lbx".into();
        let mut controls = Controls::new(&file, ControlTotals::Warn);
        for line in 0..(KEPT as u64 + 5_000) {
            let (stated, computed) = if line % 1000 == 7 { (1, 2) } else { (1, 1) };
            controls
                .settle([(check(Counted::Items, line, stated, computed), String::new())])
                .unwrap();
        }
        controls
            .settle([(
                ControlCheck {
                    scope: "file".into(),
                    what: Counted::Records,
                    line: 9_999,
                    stated: 3,
                    computed: 3,
                },
                String::new(),
            )])
            .unwrap();
        let checks = controls.checks();
        assert_eq!(checks.len(), KEPT + 3, "{:?}", &checks[KEPT..]);
        let folded = &checks[KEPT];
        assert_eq!(
            (folded.what, folded.stated, folded.computed),
            (Counted::Folded, 4_995, 4_995)
        );
        assert!(folded.matches());
        assert_eq!(folded.line, KEPT as u64 + 4_999);
        assert_eq!(
            folded.to_string(),
            format!(
                "after the first {KEPT} checks, to this line: 4995 more control total(s), each matching"
            )
        );
        let differing = &checks[KEPT + 1];
        assert_eq!(
            (differing.what, differing.stated),
            (Counted::FoldedDiffering, 5)
        );
        assert!(!differing.matches());
        assert_eq!(
            checks[KEPT + 2].scope,
            "file",
            "the file's own totals are kept"
        );
    }

    #[test]
    fn warn_reads_on_and_records_the_mismatch() {
        let file: Arc<str> = "f.bai".into();
        let mut controls = Controls::new(&file, ControlTotals::Warn);
        assert_eq!(
            controls.settle([(check(Counted::Amount, 9, 100, 200), String::new())]),
            Ok(())
        );
        assert!(!controls.checks()[0].matches());
    }

    #[test]
    fn counts_may_be_relaxed_while_amounts_stay_enforced() {
        let file: Arc<str> = "f.bai".into();
        let modes = ControlModes {
            amounts: ControlTotals::Enforce,
            counts: ControlTotals::Warn,
        };
        let mut controls = Controls::new(&file, modes);
        assert_eq!(
            controls.settle([
                (check(Counted::Records, 9, 12, 11), String::new()),
                (check(Counted::Items, 9, 2, 3), String::new()),
            ]),
            Ok(())
        );
        let e = controls
            .settle([(check(Counted::Amount, 10, 100, 200), String::new())])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.bai:10: batch 001 amount: stated 1.00, computed 2.00"
        );
        assert_eq!(controls.checks().len(), 3, "every check is recorded");
        assert_eq!(
            ControlModes::from(ControlTotals::Warn).of(Counted::Amount),
            ControlTotals::Warn
        );
    }
}
