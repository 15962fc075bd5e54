//! Control totals for files that state none (docs/report.md): a CSV's expected count and total, given
//! on the command line (`import --expect-count N --expect-total AMOUNT`) or in a `FILE.ctl`
//! beside it, checked like a bank trailer under the source's `control_totals`.

use std::path::Path;
use std::sync::Arc;

use super::control::{ControlCheck, ControlModes, Controls, Counted};
use super::{FileError, NotPayment, PaymentReader, RawAmount, RawRow};
use crate::money::Cents;

/// What a file is expected to hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    pub count: Option<u64>,
    pub total: Option<Cents>,
}

impl Expected {
    pub fn is_empty(&self) -> bool {
        self.count.is_none() && self.total.is_none()
    }

    /// Reads `FILE.ctl` beside `file`: lines `count = N` and `total = AMOUNT` (`#` comments).
    pub fn from_control_file(file: &Path) -> Result<Expected, FileError> {
        let name: Arc<str> = file.display().to_string().into();
        let mut ctl = file.as_os_str().to_owned();
        ctl.push(".ctl");
        let ctl = std::path::PathBuf::from(ctl);
        let text = std::fs::read_to_string(&ctl).map_err(|e| {
            FileError::new(
                &name,
                None,
                format!(
                    "control_file = true, but its control file {} cannot be read ({e}); it must state `count = N` and `total = AMOUNT`",
                    ctl.display()
                ),
            )
        })?;
        let mut expected = Expected::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| {
                FileError::new(
                    &name,
                    None,
                    format!(
                        "control file {} line {}: {what}: {line:?} (expected `count = N` or `total = AMOUNT`)",
                        ctl.display(),
                        i + 1
                    ),
                )
            };
            let (key, value) = line.split_once('=').ok_or_else(|| bad("no `=`"))?;
            let value = value.trim().trim_matches('"');
            match key.trim() {
                "count" => {
                    expected.count = Some(
                        value
                            .parse()
                            .map_err(|_| bad("count is not a whole number"))?,
                    )
                }
                "total" => {
                    expected.total = Some(
                        crate::money::parse_amount(value)
                            .map_err(|m| bad(&format!("total: {m}")))?,
                    )
                }
                _ => return Err(bad("unknown key")),
            }
        }
        if expected.is_empty() {
            return Err(FileError::new(
                &name,
                None,
                format!(
                    "control file {} states neither count nor total",
                    ctl.display()
                ),
            ));
        }
        Ok(expected)
    }
}

/// A reader whose rows are counted and summed, and checked against [`Expected`] at the end.
pub struct Checked<'a> {
    inner: Box<dyn PaymentReader + Send + 'a>,
    expected: Expected,
    controls: Controls,
    count: i64,
    total: i64,
    last_line: u64,
    done: bool,
}

impl<'a> Checked<'a> {
    pub fn new(
        inner: Box<dyn PaymentReader + Send + 'a>,
        file: &Arc<str>,
        expected: Expected,
        modes: ControlModes,
    ) -> Self {
        Checked {
            inner,
            expected,
            controls: Controls::new(file, modes),
            count: 0,
            total: 0,
            last_line: 0,
            done: false,
        }
    }

    fn settle(&mut self) -> Result<(), FileError> {
        let check = |what, stated: i64, computed| {
            (
                ControlCheck {
                    scope: "file".into(),
                    what,
                    line: self.last_line,
                    stated,
                    computed,
                },
                " (expected by --expect-count/--expect-total or the file's .ctl)".to_string(),
            )
        };
        let mut checks = Vec::new();
        if let Some(n) = self.expected.count {
            checks.push(check(Counted::Items, n as i64, self.count));
        }
        if let Some(t) = self.expected.total {
            checks.push(check(Counted::Amount, t.0, self.total));
        }
        self.controls.settle(checks)
    }
}

impl Iterator for Checked<'_> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next() {
            Some(Ok(row)) => {
                self.count += 1;
                self.last_line = row.pos.line;
                let cents = match &row.fields.amount {
                    RawAmount::Cents(c) => Some(*c),
                    RawAmount::Text(t) => crate::money::parse_amount(t.trim()).ok(),
                };
                self.total = self.total.saturating_add(cents.map_or(0, |c| c.0));
                Some(Ok(row))
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                self.settle().err().map(Err)
            }
        }
    }
}

impl PaymentReader for Checked<'_> {
    fn control_checks(&self) -> &[ControlCheck] {
        if self.controls.checks().is_empty() {
            self.inner.control_checks()
        } else {
            self.controls.checks()
        }
    }

    fn notices(&self) -> u64 {
        self.inner.notices()
    }

    fn not_payments(&self) -> &[NotPayment] {
        self.inner.not_payments()
    }
}
