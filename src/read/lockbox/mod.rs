//! The lockbox reader (docs/formats.md): fixed-width bank lockbox transmissions, streamed record by
//! record, with the batch, lockbox and file control totals checked in integer cents.
//!
//! Record types: 1 file header, 2 service header, 5 lockbox header, 6 detail (one payment),
//! 4 overflow (the detail's remittance data, where the coupon's loan number is), 7 batch total,
//! 8 lockbox total, 9 file trailer. The record type is always column 1; every other field sits
//! where the source's [`LockboxLayout`] says. Columns are 1-based, inclusive, and counted in
//! characters.
//!
//! The expected shape of a file:
//!
//! ```text
//! 1 2*  ( 5  ( (6 4*)+ 7 )+  8 )*  9
//! ```
//!
//! Anything else — a detail outside a lockbox, an overflow with no detail before it, a batch
//! total for a batch with no details, a missing trailer — is a [`FileError`]: a lockbox file
//! with a hole in it cannot be trusted, so none of it is imported.

mod layout;
mod records;
#[cfg(test)]
mod tests;
mod totals;

use std::io::BufRead;
use std::sync::Arc;

pub use self::layout::{LoanFrom, LockboxLayout, MAX_COLUMN, Span};
use self::records::{add, cut, optional, record_name, show, yymmdd};
#[cfg(test)]
use super::control::ControlTotals;
use super::control::{ControlCheck, ControlModes, Controls};
use super::{FileError, PaymentReader, Position, RawAmount, RawFields, RawRow};
use crate::money::Cents;

/// The longest line read. A longer one is no lockbox record, and the cap keeps memory flat
/// whatever the input.
const MAX_LINE: usize = 1024;

/// The value of the last-overflow flag that ends a detail's overflow chain (`0`: more follow).
const LAST_OVERFLOW: &str = "9";

/// The lockbox being read: from its header (5) to its total (8).
struct Lockbox {
    number: String,
    /// The deposit date, ISO.
    date: String,
    items: i64,
    amount: i64,
}

/// The batch being read: from its first detail (6) to its total (7).
struct Batch {
    number: String,
    items: i64,
    amount: i64,
}

/// A detail (6) read, waiting for its overflow (4) records.
struct Pending {
    line: u64,
    batch: String,
    item: String,
    fields: RawFields,
    /// Overflow records read so far.
    overflows: u32,
    /// The line of the overflow flagged last, once read.
    ended_on: Option<u64>,
}

/// Streams the payments of one lockbox file.
pub struct LockboxReader<R: BufRead> {
    file: Arc<str>,
    input: R,
    layout: LockboxLayout,
    /// The current line, without its line ending.
    buf: Vec<u8>,
    /// The 1-based number of the line in `buf`.
    line: u64,
    /// `buf` holds a record that completed the pending payment and is still to be handled.
    held: bool,
    /// Non-blank records so far, the current one included.
    records: i64,
    started: bool,
    lockbox: Option<Lockbox>,
    /// The number of the last lockbox closed by its total (8), for messages.
    closed: Option<String>,
    batch: Option<Batch>,
    pending: Option<Pending>,
    trailer: bool,
    done: bool,
    controls: Controls,
}

impl<R: BufRead> LockboxReader<R> {
    /// A reader of one file. Nothing is read yet; the layout is checked (settings have
    /// already done so, but a reader must not index with a column 0).
    pub fn new(
        file: Arc<str>,
        input: R,
        layout: &LockboxLayout,
        modes: impl Into<ControlModes>,
    ) -> Result<Self, FileError> {
        layout
            .validate()
            .map_err(|m| FileError::new(&file, None, format!("invalid lockbox layout: {m}")))?;
        Ok(LockboxReader {
            controls: Controls::new(&file, modes),
            file,
            input,
            layout: layout.clone(),
            buf: Vec::with_capacity(256),
            line: 0,
            held: false,
            records: 0,
            started: false,
            lockbox: None,
            closed: None,
            batch: None,
            pending: None,
            trailer: false,
            done: false,
        })
    }

    fn error(&self, message: impl Into<String>) -> FileError {
        FileError::new(&self.file, Some(self.line), message)
    }

    /// Reads the next line into `buf` (without its LF); `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool, FileError> {
        self.buf.clear();
        let mut any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(FileError::new(
                        &self.file,
                        Some(self.line + 1),
                        format!("cannot read the file: {e}"),
                    ));
                }
            };
            if chunk.is_empty() {
                if any {
                    self.line += 1;
                }
                return Ok(any);
            }
            any = true;
            let (take, eol) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = (MAX_LINE + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.input.consume(if eol { take + 1 } else { take });
            if self.buf.len() > MAX_LINE {
                return Err(FileError::new(
                    &self.file,
                    Some(self.line + 1),
                    format!(
                        "the line is longer than {MAX_LINE} characters; this is not a lockbox record"
                    ),
                ));
            }
            if eol {
                self.line += 1;
                return Ok(true);
            }
        }
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            if !self.held && !self.read_line()? {
                if let Some(p) = self.pending.take() {
                    return Ok(Some(self.row(p)));
                }
                if self.records == 0 {
                    return Err(FileError::new(
                        &self.file,
                        None,
                        "the file is empty; expected a lockbox transmission starting with a file header (1) record",
                    ));
                }
                if !self.trailer {
                    return Err(self.error(
                        "the file ends without a file trailer (9) record; it may be truncated",
                    ));
                }
                return Ok(None);
            }
            self.held = false;
            let buf = std::mem::take(&mut self.buf);
            let step = self.record(&buf);
            self.buf = buf;
            if let Some(row) = step? {
                self.held = true;
                return Ok(Some(row));
            }
        }
    }

    /// Handles the record in `raw` (one line without its LF). A record that completes the
    /// pending payment is not handled yet: the payment is returned, and the caller hands the
    /// same record in again on the next call.
    fn record(&mut self, raw: &[u8]) -> Result<Option<RawRow>, FileError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if self.line == 1 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let text = std::str::from_utf8(raw).map_err(|_| {
            self.error("the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)")
        })?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        if self.trailer {
            return Err(self.error(if text.starts_with('1') {
                format!(
                    "a second file header (1) after the file trailer (9): two files joined into one? Import each on its own: {}",
                    show(text)
                )
            } else {
                format!("a record after the file trailer (9): {}", show(text))
            }));
        }
        let kind = text.chars().next().unwrap_or(' ');
        let Some(name) = record_name(kind) else {
            return Err(self.error(format!(
                "an unknown record type {:?}: {}",
                kind.to_string(),
                show(text)
            )));
        };
        // A detail is complete when the next record is not one of its overflows.
        if kind != '4'
            && let Some(p) = self.pending.take()
        {
            return Ok(Some(self.row(p)));
        }
        self.records = self
            .records
            .checked_add(1)
            .ok_or_else(|| self.error("too many records"))?;
        if !self.started && kind != '1' {
            return Err(self.error(format!(
                "a {name} record before the file header (1): {}",
                show(text)
            )));
        }
        let handled = match kind {
            '1' if self.started => {
                Err(self.error(format!("a second file header (1) record: {}", show(text))))
            }
            '1' => {
                self.started = true;
                Ok(())
            }
            '2' if self.lockbox.is_some() || self.closed.is_some() => Err(self.error(format!(
                "a service header (2) record after the first lockbox header (5): {}",
                show(text)
            ))),
            '2' => Ok(()),
            '5' => self.lockbox_header(text),
            '6' => self.detail(text),
            '4' => self.overflow(text),
            '7' => self.batch_total(text),
            '8' => self.lockbox_total(text),
            _ => self.file_trailer(text),
        };
        handled.map(|()| None)
    }

    fn lockbox_header(&mut self, text: &str) -> Result<(), FileError> {
        let l = &self.layout;
        let number = self.text(text, l.lockbox_number, "lockbox_number")?.trim();
        if let Some(open) = &self.lockbox {
            // Banks repeat the header of the same lockbox before each of its batches (docs/formats.md);
            // between batches that is one lockbox going on, anywhere else a lost total.
            if open.number != number || self.batch.is_some() {
                return Err(self.error(format!(
                    "a lockbox header (5) before the lockbox total (8) of lockbox {}{}: {}",
                    open.number,
                    match &self.batch {
                        Some(b) if open.number == number =>
                            format!(" and the batch total (7) of batch {}", b.number),
                        _ => String::new(),
                    },
                    show(text)
                )));
            }
        }
        let span = l.lockbox_deposit_date;
        let value = self.required(text, span, "lockbox_deposit_date")?;
        let date = yymmdd(value, l.year_pivot).ok_or_else(|| {
            self.error(format!(
                "lockbox_deposit_date ({span}) is not a valid YYMMDD date: {value:?}"
            ))
        })?;
        let date = crate::payment::iso_date(date);
        match &mut self.lockbox {
            // The repeated header's date is that of the batches after it.
            Some(open) => open.date = date,
            None => {
                self.lockbox = Some(Lockbox {
                    number: number.to_string(),
                    date,
                    items: 0,
                    amount: 0,
                })
            }
        }
        Ok(())
    }

    /// The message for a record that needs an open lockbox and has none.
    fn outside_lockbox(&self, name: &str, text: &str) -> FileError {
        match &self.closed {
            None => self.error(format!(
                "a {name} record before any lockbox header (5): {}",
                show(text)
            )),
            Some(last) => self.error(format!(
                "a {name} record after the lockbox total (8) of lockbox {last} and before the next lockbox header (5): {}",
                show(text)
            )),
        }
    }

    fn detail(&mut self, text: &str) -> Result<(), FileError> {
        let Some(lockbox) = &self.lockbox else {
            return Err(self.outside_lockbox("detail (6)", text));
        };
        let l = &self.layout;
        let batch = self.text(text, l.detail_batch, "detail_batch")?.trim();
        let item = self.text(text, l.detail_item, "detail_item")?.trim();
        let cents = self.number(text, l.detail_amount, "detail_amount")?;
        let check = optional(text, l.detail_check_number).trim();
        let loan = match l.loan_from {
            LoanFrom::Detail => optional(text, l.detail_loan).trim(),
            LoanFrom::Overflow => "",
        };
        if let Some(open) = &self.batch
            && open.number != batch
        {
            return Err(self.error(format!(
                "a detail (6) record of batch {batch} before the batch total (7) of batch {}: {}",
                open.number,
                show(text)
            )));
        }
        let mut reference = format!("{}-{batch}-{item}", lockbox.number);
        if !check.is_empty() {
            reference.push(' ');
            reference.push_str(check);
        }
        let fields = RawFields {
            loan: loan.to_string(),
            amount: RawAmount::Cents(Cents(cents)),
            date: lockbox.date.clone(),
            reference,
            ..RawFields::default()
        };
        let scope = || format!("batch {batch} of lockbox {}", lockbox.number);
        let open = self.batch.as_ref();
        let batch_items = add(open.map_or(0, |b| b.items), 1, || {
            self.overflow_error(&scope())
        })?;
        let batch_amount = add(open.map_or(0, |b| b.amount), cents, || {
            self.overflow_error(&scope())
        })?;
        let lockbox_items = add(lockbox.items, 1, || {
            self.overflow_error(&format!("lockbox {}", lockbox.number))
        })?;
        let lockbox_amount = add(lockbox.amount, cents, || {
            self.overflow_error(&format!("lockbox {}", lockbox.number))
        })?;
        let pending = Pending {
            line: self.line,
            batch: batch.to_string(),
            item: item.to_string(),
            fields,
            overflows: 0,
            ended_on: None,
        };
        self.batch = Some(Batch {
            number: pending.batch.clone(),
            items: batch_items,
            amount: batch_amount,
        });
        if let Some(lockbox) = &mut self.lockbox {
            lockbox.items = lockbox_items;
            lockbox.amount = lockbox_amount;
        }
        self.pending = Some(pending);
        Ok(())
    }

    fn overflow(&mut self, text: &str) -> Result<(), FileError> {
        let Some(p) = &self.pending else {
            return Err(self.error(format!(
                "an overflow (4) record with no detail (6) before it: {}",
                show(text)
            )));
        };
        let l = &self.layout;
        let batch = self.text(text, l.overflow_batch, "overflow_batch")?.trim();
        let item = self.text(text, l.overflow_item, "overflow_item")?.trim();
        if batch != p.batch || item != p.item {
            return Err(self.error(format!(
                "an overflow (4) record of batch {batch} item {item} after the detail (6) of batch {} item {}: {}",
                p.batch,
                p.item,
                show(text)
            )));
        }
        if let Some(last) = p.ended_on {
            return Err(self.error(format!(
                "an overflow (4) record after the one flagged last on line {last}: {}",
                show(text)
            )));
        }
        let span = l.overflow_sequence;
        let sequence = self.number(text, span, "overflow_sequence")?;
        let expected = i64::from(p.overflows) + 1;
        if sequence != expected {
            return Err(self.error(format!(
                "overflow_sequence ({span}) is {sequence} where {expected} was expected: an overflow record is missing or out of order: {}",
                show(text)
            )));
        }
        let last = optional(text, l.overflow_last).trim() == LAST_OVERFLOW;
        let data = optional(text, l.overflow_data).trim();
        let first = p.overflows == 0;
        let line = self.line;
        let loan_from = l.loan_from;
        if let Some(p) = &mut self.pending {
            if first && loan_from == LoanFrom::Overflow {
                p.fields.loan = data.to_string();
            }
            p.overflows += 1;
            if last {
                p.ended_on = Some(line);
            }
        }
        Ok(())
    }

    /// A field that must be wholly on the line.
    fn required<'t>(&self, text: &'t str, span: Span, name: &str) -> Result<&'t str, FileError> {
        let (value, whole) = cut(text, span);
        if whole {
            Ok(value)
        } else {
            Err(self.error(format!(
                "the record ends before {name} ({span}); it has {} characters: {}",
                text.chars().count(),
                show(text)
            )))
        }
    }

    /// A text field (a number that names something: lockbox, batch, item). Lines are often
    /// shorter than the nominal length, their trailing blanks stripped (docs/formats.md), so a field
    /// the line ends inside of is what is there; one the line ends before is missing.
    fn text<'t>(&self, text: &'t str, span: Span, name: &str) -> Result<&'t str, FileError> {
        let (value, _) = cut(text, span);
        if value.trim().is_empty() {
            return Err(self.error(format!(
                "the record ends before {name} ({span}); it has {} characters: {}",
                text.chars().count(),
                show(text)
            )));
        }
        Ok(value)
    }

    /// A field of digits only, wholly on the line: an amount in cents, a count, a sequence.
    fn number(&self, text: &str, span: Span, name: &str) -> Result<i64, FileError> {
        let value = self.required(text, span, name)?;
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(format!(
                "{name} ({span}) must be digits only, got {value:?}"
            )));
        }
        value
            .bytes()
            .try_fold(0i64, |n, b| {
                n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
            })
            .ok_or_else(|| self.error(format!("{name} ({span}) is too large: {value:?}")))
    }

    fn overflow_error(&self, scope: &str) -> FileError {
        self.error(format!(
            "the amount total of {scope} is too large to be added up"
        ))
    }

    fn row(&self, p: Pending) -> RawRow {
        RawRow {
            pos: Position {
                file: self.file.clone(),
                line: p.line,
            },
            fields: p.fields,
        }
    }
}

impl<R: BufRead> Iterator for LockboxReader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::until_file_error(self, |r| &mut r.done, Self::next_row)
    }
}

impl<R: BufRead> PaymentReader for LockboxReader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }
}
