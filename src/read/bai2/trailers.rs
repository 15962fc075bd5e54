//! The BAI2 trailers: 49 account, 98 group and 99 file, whose stated totals and counts are
//! checked against what was read, and the end of the file, which must come after a 99.

use std::io::BufRead;

use super::Bai2Reader;
use super::records::{Field, Record, field, parse_signed, parse_unsigned};
use crate::money::Cents;
use crate::money::minor_to_cents;
use crate::read::control::{ControlCheck, Counted};
use crate::read::{FileError, NotPayment};

impl<R: BufRead> Bai2Reader<R> {
    pub(super) fn account_trailer(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        let Some(account) = self.account.take() else {
            return Err(self.error_at(
                first,
                "a 49 account trailer outside an account (no 03 account identifier before it)",
            ));
        };
        let fields = self.fields(record, true)?;
        let total = self.stated(
            record,
            &fields,
            0,
            true,
            "account control total",
            "49 account trailer",
        )?;
        let count = self.stated(
            record,
            &fields,
            1,
            false,
            "number of records",
            "49 account trailer",
        )?;
        let scope = self.scoped(&format!("account {}", account.number));
        let line = first.line;
        let details = account.details;
        let with_summaries = self.add(details, account.summaries, record, 0)?;
        let mut checks = Vec::new();
        if let Some(stated) = total {
            // Banks differ on whether the 03 summary amounts count; the file's first account
            // where it matters decides for the rest.
            let computed = if details == with_summaries {
                details
            } else {
                match self.summaries_in_49 {
                    Some(true) => with_summaries,
                    Some(false) => details,
                    None if stated == with_summaries => {
                        self.summaries_in_49 = Some(true);
                        with_summaries
                    }
                    None if stated == details => {
                        self.summaries_in_49 = Some(false);
                        details
                    }
                    None => details,
                }
            };
            let hint = if details == with_summaries {
                String::new()
            } else if computed == details {
                format!(
                    " (the 16 details only; {} counting the 03 summary amounts)",
                    Cents(with_summaries)
                )
            } else {
                format!(
                    " (counting the 03 summary amounts; {} for the 16 details only)",
                    Cents(details)
                )
            };
            let mut hint = hint;
            if let Some((at, raw)) = &account.unreadable
                && stated != computed
            {
                hint.push_str(&format!(
                    " ({} detail amount(s) could not be read and count as zero, the first on line {at}: {raw:?})",
                    account.unreadable_count
                ));
            }
            if computed != details {
                // The 49 counts the 03 summary amounts: they are in the file's stated total,
                // and no payment (docs/report.md).
                self.not_payments.push(NotPayment {
                    line,
                    code: "03".to_string(),
                    cents: minor_to_cents(account.summaries, account.decimals),
                    why: "03 account summary amounts, counted in the 49 total",
                });
            }
            checks.push((check(&scope, Counted::Amount, line, stated, computed), hint));
        }
        if let Some(stated) = count {
            checks.push((
                check(&scope, Counted::Records, line, stated, account.records),
                String::new(),
            ));
        }
        let group_total = total.unwrap_or(details);
        if let Some(g) = self.group.as_mut() {
            g.accounts += 1;
        }
        let sum = self.group.as_ref().map_or(0, |g| g.total);
        let sum = self.add(sum, group_total, record, 0)?;
        if let Some(g) = self.group.as_mut() {
            g.total = sum;
        }
        self.controls.settle(checks)
    }

    pub(super) fn group_trailer(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        if let Some(a) = &self.account {
            return Err(self.error_at(
                first,
                format!(
                    "a 98 group trailer inside account {} (its 49 account trailer is missing)",
                    a.number
                ),
            ));
        }
        let Some(group) = self.group.take() else {
            return Err(self.error_at(
                first,
                "a 98 group trailer outside a group (no 02 group header before it)",
            ));
        };
        let fields = self.fields(record, true)?;
        let total = self.stated(
            record,
            &fields,
            0,
            true,
            "group control total",
            "98 group trailer",
        )?;
        // Two numbers: the bank left out the account count, and the second is the record count.
        let short = fields.len() == 2;
        let (accounts_at, count_at) = if short { (usize::MAX, 1) } else { (1, 2) };
        let accounts = self.stated(
            record,
            &fields,
            accounts_at,
            false,
            "number of accounts",
            "98 group trailer",
        )?;
        let count = self.stated(
            record,
            &fields,
            count_at,
            false,
            "number of records",
            "98 group trailer",
        )?;
        let scope = self.scoped(&format!("group {}", group.number));
        let line = first.line;
        let mut checks = Vec::new();
        if let Some(stated) = total {
            checks.push((
                check(&scope, Counted::Amount, line, stated, group.total),
                String::new(),
            ));
        }
        if let Some(stated) = accounts {
            checks.push((
                check(&scope, Counted::Accounts, line, stated, group.accounts),
                String::new(),
            ));
        }
        if let Some(stated) = count {
            let hint = if short {
                " (the 98 gives two numbers after its total, read as the record count with the account count left out)".to_string()
            } else {
                String::new()
            };
            checks.push((
                check(&scope, Counted::Records, line, stated, group.records),
                hint,
            ));
        }
        if let Some(why) = group.skip {
            tracing::warn!(
                file = %self.file,
                line = group.line,
                "group {} ({why}): {} payment detail(s) skipped, not sent",
                group.number,
                group.skipped
            );
            checks.push((
                check(
                    &self.scoped(&format!("group {} ({why})", group.number)),
                    Counted::Skipped,
                    group.line,
                    group.skipped,
                    group.skipped,
                ),
                String::new(),
            ));
        }
        self.file_groups += 1;
        self.file_total = self.add(self.file_total, total.unwrap_or(group.total), record, 0)?;
        self.controls.settle(checks)
    }

    pub(super) fn file_trailer(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        if let Some(a) = &self.account {
            return Err(self.error_at(
                first,
                format!(
                    "a 99 file trailer inside account {} (its 49 account trailer is missing)",
                    a.number
                ),
            ));
        }
        if let Some(g) = &self.group {
            return Err(self.error_at(
                first,
                format!(
                    "a 99 file trailer inside group {} (its 98 group trailer is missing)",
                    g.number
                ),
            ));
        }
        let fields = self.fields(record, true)?;
        let total = self.stated(
            record,
            &fields,
            0,
            true,
            "file control total",
            "99 file trailer",
        )?;
        let groups = self.stated(
            record,
            &fields,
            1,
            false,
            "number of groups",
            "99 file trailer",
        )?;
        let count = self.stated(
            record,
            &fields,
            2,
            false,
            "number of records",
            "99 file trailer",
        )?;
        let line = first.line;
        let mut checks = Vec::new();
        if let Some(stated) = total {
            checks.push((
                check(
                    &self.scoped("file"),
                    Counted::Amount,
                    line,
                    stated,
                    self.file_total,
                ),
                String::new(),
            ));
        }
        if let Some(stated) = groups {
            checks.push((
                check(
                    &self.scoped("file"),
                    Counted::Groups,
                    line,
                    stated,
                    self.file_groups,
                ),
                String::new(),
            ));
        }
        if let Some(stated) = count {
            checks.push((
                check(
                    &self.scoped("file"),
                    Counted::Records,
                    line,
                    stated,
                    self.file_records,
                ),
                String::new(),
            ));
        }
        self.ended = true;
        self.controls.settle(checks)
    }

    /// At the end of the input: the file must have been closed by its 99.
    pub(super) fn finish(&self) -> Result<(), FileError> {
        if !self.started {
            return Err(FileError::new(
                &self.file,
                None,
                "the file is empty; expected a BAI2 file beginning with a 01 file header",
            ));
        }
        if self.ended {
            return Ok(());
        }
        let message = match (&self.group, &self.account) {
            (Some(g), Some(a)) => format!(
                "the file ends inside account {} of group {}, without its 49, 98 and 99 trailers; it may be truncated",
                a.number, g.number
            ),
            (Some(g), None) => format!(
                "the file ends inside group {}, without its 98 and 99 trailers; it may be truncated",
                g.number
            ),
            _ => "the file ends without its 99 file trailer; it may be truncated".to_string(),
        };
        Err(FileError::new(
            &self.file,
            Some(self.last_record_line),
            message,
        ))
    }

    /// A stated total (`signed`) or count at `index`; blank states nothing.
    pub(super) fn stated(
        &self,
        record: &Record,
        fields: &[Field],
        index: usize,
        signed: bool,
        what: &str,
        record_name: &str,
    ) -> Result<Option<i64>, FileError> {
        let (p, raw) = field(fields, index);
        let value = if signed {
            parse_signed(raw)
        } else if raw.is_empty() {
            Some(None)
        } else {
            parse_unsigned(raw).map(Some)
        };
        value.ok_or_else(|| {
            self.error_in(
                record,
                p,
                format!("{what} {raw:?} in the {record_name} is not a whole number"),
            )
        })
    }
}

fn check(scope: &str, what: Counted, line: u64, stated: i64, computed: i64) -> ControlCheck {
    ControlCheck {
        scope: scope.to_string(),
        what,
        line,
        stated,
        computed,
    }
}
