//! The lockbox totals: batch (7), lockbox (8) and file trailer (9), whose stated counts and
//! amounts are checked against what was read.

use std::io::BufRead;

use super::LockboxReader;
use super::records::show;
use crate::read::FileError;
use crate::read::control::{ControlCheck, Counted};

impl<R: BufRead> LockboxReader<R> {
    pub(super) fn batch_total(&mut self, text: &str) -> Result<(), FileError> {
        let Some(lockbox) = &self.lockbox else {
            return Err(self.outside_lockbox("batch total (7)", text));
        };
        let l = &self.layout;
        let batch = self
            .text(text, l.batch_total_batch, "batch_total_batch")?
            .trim();
        let of = self
            .text(text, l.batch_total_lockbox, "batch_total_lockbox")?
            .trim();
        if of != lockbox.number {
            return Err(self.error(format!(
                "a batch total (7) of lockbox {of} inside lockbox {}: {}",
                lockbox.number,
                show(text)
            )));
        }
        let Some(open) = &self.batch else {
            // An empty batch is how some banks send an empty transmission: zero items, zero
            // amount (docs/formats.md). A total of anything else for no details is a lost detail.
            let items = self.number(text, l.batch_total_item_count, "batch_total_item_count")?;
            let amount = self.number(text, l.batch_total_amount, "batch_total_amount")?;
            if items == 0 && amount == 0 {
                let scope = format!("batch {batch} of lockbox {}", lockbox.number);
                return self.check(&[
                    (scope.clone(), Counted::Items, 0, 0),
                    (scope, Counted::Amount, 0, 0),
                ]);
            }
            return Err(self.error(format!(
                "a batch total (7) for batch {batch}, which has no details (6): {}",
                show(text)
            )));
        };
        if open.number != batch {
            return Err(self.error(format!(
                "a batch total (7) for batch {batch} after the details (6) of batch {}: {}",
                open.number,
                show(text)
            )));
        }
        let items = self.number(text, l.batch_total_item_count, "batch_total_item_count")?;
        let amount = self.number(text, l.batch_total_amount, "batch_total_amount")?;
        let scope = format!("batch {batch} of lockbox {}", lockbox.number);
        let (computed_items, computed_amount) = (open.items, open.amount);
        self.batch = None;
        self.check(&[
            (scope.clone(), Counted::Items, items, computed_items),
            (scope, Counted::Amount, amount, computed_amount),
        ])?;
        Ok(())
    }

    pub(super) fn lockbox_total(&mut self, text: &str) -> Result<(), FileError> {
        let Some(lockbox) = &self.lockbox else {
            return Err(self.outside_lockbox("lockbox total (8)", text));
        };
        if let Some(open) = &self.batch {
            return Err(self.error(format!(
                "a lockbox total (8) before the batch total (7) of batch {}: {}",
                open.number,
                show(text)
            )));
        }
        let l = &self.layout;
        let of = self
            .text(text, l.lockbox_total_lockbox, "lockbox_total_lockbox")?
            .trim();
        if of != lockbox.number {
            return Err(self.error(format!(
                "a lockbox total (8) of lockbox {of} inside lockbox {}: {}",
                lockbox.number,
                show(text)
            )));
        }
        let items = self.number(text, l.lockbox_total_item_count, "lockbox_total_item_count")?;
        let amount = self.number(text, l.lockbox_total_amount, "lockbox_total_amount")?;
        let scope = format!("lockbox {}", lockbox.number);
        let (computed_items, computed_amount) = (lockbox.items, lockbox.amount);
        self.closed = self.lockbox.take().map(|l| l.number);
        self.check(&[
            (scope.clone(), Counted::Items, items, computed_items),
            (scope, Counted::Amount, amount, computed_amount),
        ])?;
        Ok(())
    }

    pub(super) fn file_trailer(&mut self, text: &str) -> Result<(), FileError> {
        if let Some(open) = &self.lockbox {
            return Err(self.error(format!(
                "a file trailer (9) before the lockbox total (8) of lockbox {}: {}",
                open.number,
                show(text)
            )));
        }
        let stated = self.number(
            text,
            self.layout.trailer_record_count,
            "trailer_record_count",
        )?;
        self.trailer = true;
        self.check(&[("file".to_string(), Counted::Records, stated, self.records)])?;
        Ok(())
    }

    /// Records control totals stated on the current line; in `enforce` mode the first that
    /// does not match is the file's error.
    pub(super) fn check(
        &mut self,
        totals: &[(String, Counted, i64, i64)],
    ) -> Result<(), FileError> {
        let line = self.line;
        self.controls
            .settle(totals.iter().map(|(scope, what, stated, computed)| {
                let check = ControlCheck {
                    scope: scope.clone(),
                    what: *what,
                    line,
                    stated: *stated,
                    computed: *computed,
                };
                (check, String::new())
            }))
    }
}
