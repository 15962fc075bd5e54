//! The lockbox reader (SPEC §3): fixed-width bank lockbox transmissions, streamed record by
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

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use super::control::{ControlCheck, ControlTotals, Controls};
use super::{FileError, PaymentReader, Position, RawFields, RawRow};

/// The last column a layout may name. Real transmissions are 80 columns, some up to 160.
pub const MAX_COLUMN: u32 = 400;

/// The longest line read. A longer one is no lockbox record, and the cap keeps memory flat
/// whatever the input.
const MAX_LINE: usize = 1024;

/// How much of a record an error message shows.
const SHOWN: usize = 40;

/// The value of the last-overflow flag that ends a detail's overflow chain (`0`: more follow).
const LAST_OVERFLOW: &str = "9";

/// A field's place in a record: 1-based, inclusive columns, written `[start, end]` in settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "[u32; 2]")]
pub struct Span {
    /// The first column, from 1.
    pub start: u32,
    /// The last column, inclusive.
    pub end: u32,
}

impl Span {
    /// Columns `start` to `end`, both included.
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
}

impl From<[u32; 2]> for Span {
    fn from([start, end]: [u32; 2]) -> Self {
        Span { start, end }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "columns {}-{}", self.start, self.end)
    }
}

/// Where the loan number of a payment is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoanFrom {
    /// The data (`overflow_data`) of the first overflow (4) record after the detail: the
    /// coupon's loan number.
    #[default]
    Overflow,
    /// The `detail_loan` columns of the detail (6) record itself.
    Detail,
}

/// Where each field sits in the records (1-based, inclusive columns); every position can be
/// overridden per source in `[sources.NAME.layout]`, e.g. `detail_amount = [8, 17]`.
///
/// Names are `{record}_{field}`, the records being `lockbox` (5, lockbox header), `detail` (6),
/// `overflow` (4), `batch_total` (7), `lockbox_total` (8) and `trailer` (9). Amounts are whole
/// cents and counts whole numbers, digits only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockboxLayout {
    /// Where the loan number comes from: `"overflow"` (default) or `"detail"`.
    pub loan_from: LoanFrom,
    /// Two-digit years below the pivot are 20YY, the others 19YY (default 70: `69` is 2069,
    /// `70` is 1970).
    pub year_pivot: u32,

    /// 5: lockbox number (default 8–14).
    pub lockbox_number: Span,
    /// 5: deposit date, YYMMDD: the payment date of every detail in the lockbox (default 15–20).
    pub lockbox_deposit_date: Span,

    /// 6: batch number (default 2–4).
    pub detail_batch: Span,
    /// 6: item number within the batch (default 5–7).
    pub detail_item: Span,
    /// 6: amount in cents (default 8–17).
    pub detail_amount: Span,
    /// 6: check number (default 37–46).
    pub detail_check_number: Span,
    /// 6: the loan number when `loan_from = "detail"` (default 53–82, the remitter field).
    pub detail_loan: Span,

    /// 4: batch number of the detail it belongs to (default 2–4).
    pub overflow_batch: Span,
    /// 4: item number of the detail it belongs to (default 5–7).
    pub overflow_item: Span,
    /// 4: sequence within the detail's overflow chain, from 1 (default 9–10).
    pub overflow_sequence: Span,
    /// 4: last-overflow flag, `9` on the chain's last record (default 11).
    pub overflow_last: Span,
    /// 4: remittance data: the coupon's loan number, by default (default 12–41).
    pub overflow_data: Span,

    /// 7: batch number (default 2–4).
    pub batch_total_batch: Span,
    /// 7: lockbox number (default 8–14).
    pub batch_total_lockbox: Span,
    /// 7: number of details in the batch (default 21–23).
    pub batch_total_item_count: Span,
    /// 7: amount total of the batch in cents (default 24–33).
    pub batch_total_amount: Span,

    /// 8: lockbox number (default 8–14).
    pub lockbox_total_lockbox: Span,
    /// 8: number of details in the lockbox (default 21–24).
    pub lockbox_total_item_count: Span,
    /// 8: amount total of the lockbox in cents (default 25–34).
    pub lockbox_total_amount: Span,

    /// 9: number of records in the file, header and trailer included (default 2–7).
    pub trailer_record_count: Span,
}

impl Default for LockboxLayout {
    /// The layout of SPEC §3, from a real bank's transmission.
    fn default() -> Self {
        LockboxLayout {
            loan_from: LoanFrom::Overflow,
            year_pivot: 70,
            lockbox_number: Span::new(8, 14),
            lockbox_deposit_date: Span::new(15, 20),
            detail_batch: Span::new(2, 4),
            detail_item: Span::new(5, 7),
            detail_amount: Span::new(8, 17),
            detail_check_number: Span::new(37, 46),
            detail_loan: Span::new(53, 82),
            overflow_batch: Span::new(2, 4),
            overflow_item: Span::new(5, 7),
            overflow_sequence: Span::new(9, 10),
            overflow_last: Span::new(11, 11),
            overflow_data: Span::new(12, 41),
            batch_total_batch: Span::new(2, 4),
            batch_total_lockbox: Span::new(8, 14),
            batch_total_item_count: Span::new(21, 23),
            batch_total_amount: Span::new(24, 33),
            lockbox_total_lockbox: Span::new(8, 14),
            lockbox_total_item_count: Span::new(21, 24),
            lockbox_total_amount: Span::new(25, 34),
            trailer_record_count: Span::new(2, 7),
        }
    }
}

impl LockboxLayout {
    /// Every field position with its setting name.
    fn spans(&self) -> [(&'static str, Span); 20] {
        [
            ("lockbox_number", self.lockbox_number),
            ("lockbox_deposit_date", self.lockbox_deposit_date),
            ("detail_batch", self.detail_batch),
            ("detail_item", self.detail_item),
            ("detail_amount", self.detail_amount),
            ("detail_check_number", self.detail_check_number),
            ("detail_loan", self.detail_loan),
            ("overflow_batch", self.overflow_batch),
            ("overflow_item", self.overflow_item),
            ("overflow_sequence", self.overflow_sequence),
            ("overflow_last", self.overflow_last),
            ("overflow_data", self.overflow_data),
            ("batch_total_batch", self.batch_total_batch),
            ("batch_total_lockbox", self.batch_total_lockbox),
            ("batch_total_item_count", self.batch_total_item_count),
            ("batch_total_amount", self.batch_total_amount),
            ("lockbox_total_lockbox", self.lockbox_total_lockbox),
            ("lockbox_total_item_count", self.lockbox_total_item_count),
            ("lockbox_total_amount", self.lockbox_total_amount),
            ("trailer_record_count", self.trailer_record_count),
        ]
    }

    /// Checks the layout; the message is shown under the key `sources.NAME.layout`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, Span { start, end }) in self.spans() {
            let at = format!("`{name}` = [{start}, {end}]");
            if start == 0 {
                return Err(format!("{at}: columns are counted from 1"));
            }
            if start > end {
                return Err(format!("{at}: the start column is after the end column"));
            }
            if end > MAX_COLUMN {
                return Err(format!("{at}: columns go up to {MAX_COLUMN}"));
            }
        }
        let date = self.lockbox_deposit_date;
        if date.end - date.start != 5 {
            return Err(format!(
                "`lockbox_deposit_date` = [{}, {}]: a YYMMDD date is 6 columns wide",
                date.start, date.end
            ));
        }
        if self.year_pivot > 100 {
            return Err(format!(
                "`year_pivot` = {}: must be from 0 to 100",
                self.year_pivot
            ));
        }
        Ok(())
    }
}

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

/// The record types, by their column-1 character.
fn record_name(kind: char) -> Option<&'static str> {
    Some(match kind {
        '1' => "file header (1)",
        '2' => "service header (2)",
        '5' => "lockbox header (5)",
        '6' => "detail (6)",
        '4' => "overflow (4)",
        '7' => "batch total (7)",
        '8' => "lockbox total (8)",
        '9' => "file trailer (9)",
        _ => return None,
    })
}

impl<R: BufRead> LockboxReader<R> {
    /// A reader of one file. Nothing is read yet; the layout is checked (settings have
    /// already done so, but a reader must not index with a column 0).
    pub fn new(
        file: Arc<str>,
        input: R,
        layout: &LockboxLayout,
        mode: ControlTotals,
    ) -> Result<Self, FileError> {
        layout
            .validate()
            .map_err(|m| FileError::new(&file, None, format!("invalid lockbox layout: {m}")))?;
        Ok(LockboxReader {
            controls: Controls::new(&file, mode),
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
            return Err(self.error(format!(
                "a record after the file trailer (9): {}",
                show(text)
            )));
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
        if let Some(open) = &self.lockbox {
            return Err(self.error(format!(
                "a lockbox header (5) before the lockbox total (8) of lockbox {}: {}",
                open.number,
                show(text)
            )));
        }
        let l = &self.layout;
        let number = self
            .required(text, l.lockbox_number, "lockbox_number")?
            .trim();
        let span = l.lockbox_deposit_date;
        let value = self.required(text, span, "lockbox_deposit_date")?;
        let date = yymmdd(value, l.year_pivot).ok_or_else(|| {
            self.error(format!(
                "lockbox_deposit_date ({span}) is not a valid YYMMDD date: {value:?}"
            ))
        })?;
        self.lockbox = Some(Lockbox {
            number: number.to_string(),
            date: crate::payment::iso_date(date),
            items: 0,
            amount: 0,
        });
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
        let batch = self.required(text, l.detail_batch, "detail_batch")?.trim();
        let item = self.required(text, l.detail_item, "detail_item")?.trim();
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
            amount: format!("{}.{:02}", cents / 100, cents % 100),
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
        let batch = self
            .required(text, l.overflow_batch, "overflow_batch")?
            .trim();
        let item = self
            .required(text, l.overflow_item, "overflow_item")?
            .trim();
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

    fn batch_total(&mut self, text: &str) -> Result<(), FileError> {
        let Some(lockbox) = &self.lockbox else {
            return Err(self.outside_lockbox("batch total (7)", text));
        };
        let l = &self.layout;
        let batch = self
            .required(text, l.batch_total_batch, "batch_total_batch")?
            .trim();
        let of = self
            .required(text, l.batch_total_lockbox, "batch_total_lockbox")?
            .trim();
        if of != lockbox.number {
            return Err(self.error(format!(
                "a batch total (7) of lockbox {of} inside lockbox {}: {}",
                lockbox.number,
                show(text)
            )));
        }
        let Some(open) = &self.batch else {
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
            (scope.clone(), "items", items, computed_items),
            (scope, "amount", amount, computed_amount),
        ])?;
        Ok(())
    }

    fn lockbox_total(&mut self, text: &str) -> Result<(), FileError> {
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
            .required(text, l.lockbox_total_lockbox, "lockbox_total_lockbox")?
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
            (scope.clone(), "items", items, computed_items),
            (scope, "amount", amount, computed_amount),
        ])?;
        Ok(())
    }

    fn file_trailer(&mut self, text: &str) -> Result<(), FileError> {
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
        self.check(&[("file".to_string(), "records", stated, self.records)])?;
        Ok(())
    }

    /// Records control totals stated on the current line; in `enforce` mode the first that
    /// does not match is the file's error.
    fn check(&mut self, totals: &[(String, &'static str, i64, i64)]) -> Result<(), FileError> {
        let line = self.line;
        self.controls
            .settle(totals.iter().map(|(scope, what, stated, computed)| {
                let check = ControlCheck {
                    scope: scope.clone(),
                    what,
                    line,
                    stated: *stated,
                    computed: *computed,
                };
                (check, String::new())
            }))
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

fn add(a: i64, b: i64, err: impl FnOnce() -> FileError) -> Result<i64, FileError> {
    a.checked_add(b).ok_or_else(err)
}

/// The characters of `text` in `span`, and whether the span is wholly on the line. A span that
/// starts past the end of the line is empty.
fn cut(text: &str, span: Span) -> (&str, bool) {
    let start = span.start.saturating_sub(1) as usize;
    let end = span.end as usize;
    // Byte offsets of the start and end columns, when the line reaches them.
    let offset = |column: usize| -> Option<usize> {
        if text.is_ascii() {
            (column <= text.len()).then_some(column)
        } else {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .nth(column)
        }
    };
    match (offset(start), offset(end)) {
        (Some(s), Some(e)) => (text.get(s..e).unwrap_or(""), true),
        (Some(s), None) => (text.get(s..).unwrap_or(""), false),
        _ => ("", false),
    }
}

/// A field that may run past the end of the line: trailing blanks are often stripped.
fn optional(text: &str, span: Span) -> &str {
    cut(text, span).0
}

/// A YYMMDD date; two-digit years below `pivot` are 20YY, the others 19YY.
fn yymmdd(value: &str, pivot: u32) -> Option<NaiveDate> {
    if value.len() != 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |i: usize| value.get(i..i + 2)?.parse::<u32>().ok();
    let yy = part(0)?;
    let year = if yy < pivot { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, part(2)?, part(4)?)
}

/// A record as an error message quotes it: its start, blanks at the end trimmed.
fn show(text: &str) -> String {
    let text = text.trim_end();
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        shown.push_str("...");
    }
    format!("{shown:?}")
}

impl<R: BufRead> Iterator for LockboxReader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_row().transpose();
        // After a file-level error the rest of the file cannot be trusted.
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
        }
        item
    }
}

impl<R: BufRead> PaymentReader for LockboxReader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::BufReader;

    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lockbox/");

    /// What reading a whole input gives: the rows, the error that ended it, the checks.
    struct Read {
        rows: Vec<RawRow>,
        error: Option<FileError>,
        checks: Vec<ControlCheck>,
    }

    fn read_from(
        name: &str,
        input: impl BufRead,
        layout: &LockboxLayout,
        mode: ControlTotals,
    ) -> Read {
        let mut reader = LockboxReader::new(name.into(), input, layout, mode).unwrap();
        let mut rows = Vec::new();
        let mut error = None;
        for item in reader.by_ref() {
            match item {
                Ok(row) => rows.push(row),
                Err(e) => {
                    assert!(error.is_none(), "a second error after {error:?}: {e}");
                    error = Some(e);
                }
            }
        }
        assert!(reader.next().is_none(), "the reader goes on after its end");
        Read {
            rows,
            error,
            checks: reader.control_checks().to_vec(),
        }
    }

    fn read_fixture(name: &str, mode: ControlTotals) -> Read {
        let file = File::open(format!("{DIR}{name}")).unwrap();
        read_from(name, BufReader::new(file), &LockboxLayout::default(), mode)
    }

    fn error_of(name: &str) -> String {
        let read = read_fixture(name, ControlTotals::Enforce);
        read.error
            .unwrap_or_else(|| panic!("{name} reads without an error"))
            .to_string()
    }

    fn row(file: &str, line: u64, loan: &str, amount: &str, date: &str, reference: &str) -> RawRow {
        RawRow {
            pos: Position {
                file: file.into(),
                line,
            },
            fields: RawFields {
                loan: loan.into(),
                amount: amount.into(),
                date: date.into(),
                reference: reference.into(),
                ..RawFields::default()
            },
        }
    }

    fn good_rows(file: &str) -> Vec<RawRow> {
        let (d1, d2) = ("2026-11-18", "2026-11-20");
        vec![
            row(file, 4, "LN000123", "250.00", d1, "1234567-001-001 10442"),
            row(file, 6, "LN000456", "1234.50", d1, "1234567-001-002 2087"),
            row(file, 10, "LN000007", "75.25", d1, "1234567-001-003 331"),
            row(file, 13, "LN000999", "500.00", d1, "1234567-002-001 5120"),
            row(file, 15, "LN001000", "99.99", d1, "1234567-002-002 778"),
            row(file, 21, "LN000042", "1000.00", d2, "7654321-001-001 90001"),
            row(file, 23, "LN000314", "314.16", d2, "7654321-001-002 1207"),
        ]
    }

    fn check(
        scope: &str,
        what: &'static str,
        line: u64,
        stated: i64,
        computed: i64,
    ) -> ControlCheck {
        ControlCheck {
            scope: scope.into(),
            what,
            line,
            stated,
            computed,
        }
    }

    #[test]
    fn good_file_rows_and_control_totals() {
        for name in ["good.lbx", "good_lf.lbx"] {
            let read = read_fixture(name, ControlTotals::Enforce);
            assert_eq!(read.error, None, "{name}");
            assert_eq!(read.rows, good_rows(name), "{name}");
            let b1 = "batch 001 of lockbox 1234567";
            let b2 = "batch 002 of lockbox 1234567";
            let b3 = "batch 001 of lockbox 7654321";
            assert_eq!(
                read.checks,
                vec![
                    check(b1, "items", 12, 3, 3),
                    check(b1, "amount", 12, 155975, 155975),
                    check(b2, "items", 18, 2, 2),
                    check(b2, "amount", 18, 59999, 59999),
                    check("lockbox 1234567", "items", 19, 5, 5),
                    check("lockbox 1234567", "amount", 19, 215974, 215974),
                    check(b3, "items", 25, 2, 2),
                    check(b3, "amount", 25, 131416, 131416),
                    check("lockbox 7654321", "items", 26, 2, 2),
                    check("lockbox 7654321", "amount", 26, 131416, 131416),
                    check("file", "records", 27, 27, 27),
                ],
                "{name}"
            );
            assert!(read.checks.iter().all(ControlCheck::matches));
        }
    }

    #[test]
    fn broken_fixtures_name_line_and_record() {
        let cases = [
            (
                "wrong_batch_total.lbx",
                "wrong_batch_total.lbx:8: batch 001 of lockbox 1234567 amount: stated 1500.00, computed 1400.00",
            ),
            (
                "wrong_count.lbx",
                "wrong_count.lbx:10: file records: stated 12, computed 10",
            ),
            (
                "wrong_lockbox_total.lbx",
                "wrong_lockbox_total.lbx:9: lockbox 1234567 amount: stated 1410.00, computed 1400.00",
            ),
            (
                "missing_trailer.lbx",
                "missing_trailer.lbx:9: the file ends without a file trailer (9) record; it may be truncated",
            ),
            (
                "truncated.lbx",
                "truncated.lbx:6: the record ends before detail_amount (columns 8-17); it has 12 characters: \"600100200000\"",
            ),
            (
                "detail_before_header.lbx",
                "detail_before_header.lbx:3: a detail (6) record before any lockbox header (5): \"600100300000250000210000214455667788    ...\"",
            ),
            (
                "overflow_without_detail.lbx",
                "overflow_without_detail.lbx:7: an overflow (4) record with no detail (6) before it: \"40020014019LN000999\"",
            ),
            (
                "bad_amount.lbx",
                "bad_amount.lbx:6: detail_amount (columns 8-17) must be digits only, got \"00001O2500\"",
            ),
        ];
        for (name, expected) in cases {
            assert_eq!(error_of(name), expected);
        }
        // The rows before the trouble were read; the error ends the file.
        let read = read_fixture("truncated.lbx", ControlTotals::Enforce);
        assert_eq!(read.rows.len(), 1);
        let read = read_fixture("wrong_batch_total.lbx", ControlTotals::Enforce);
        assert_eq!(read.rows.len(), 2);
        assert_eq!(
            read.checks.len(),
            2,
            "both totals of the batch are recorded"
        );
    }

    #[test]
    fn warn_mode_reads_on_and_records_the_mismatch() {
        let read = read_fixture("wrong_batch_total.lbx", ControlTotals::Warn);
        assert_eq!(read.error, None);
        let loans: Vec<_> = read.rows.iter().map(|r| r.fields.loan.as_str()).collect();
        assert_eq!(loans, ["LN000200", "LN000201"]);
        let wrong: Vec<_> = read.checks.iter().filter(|c| !c.matches()).collect();
        assert_eq!(
            wrong,
            [&check(
                "batch 001 of lockbox 1234567",
                "amount",
                8,
                150000,
                140000
            )]
        );
        assert_eq!(read.checks.len(), 5);

        let read = read_fixture("wrong_count.lbx", ControlTotals::Warn);
        assert_eq!((read.rows.len(), read.error), (2, None));
        assert_eq!(
            read.checks.last(),
            Some(&check("file", "records", 10, 12, 10))
        );
    }

    /// Records to the default layout, for the tests below.
    fn records(lines: &[&str]) -> Vec<u8> {
        let mut text = lines.join("\n");
        text.push('\n');
        text.into_bytes()
    }

    fn read_text(text: &[u8], layout: &LockboxLayout) -> Read {
        read_from("t.lbx", text, layout, ControlTotals::Enforce)
    }

    const HEAD: &str = "1";
    const LOCKBOX: &str = "5001   1234567261118";
    const DETAIL: &str = "60010010000001000                   0000000042";
    const OVERFLOW: &str = "40010014019LN000001";
    const BATCH: &str = "700100012345672611180010000001000";
    const TOTAL: &str = "8000000123456726111800010000001000";

    #[test]
    fn a_minimal_file_and_its_structure_errors() {
        let ok = read_text(
            &records(&[HEAD, LOCKBOX, DETAIL, OVERFLOW, BATCH, TOTAL, "9000007"]),
            &LockboxLayout::default(),
        );
        assert_eq!(ok.error, None);
        assert_eq!(
            ok.rows,
            [row(
                "t.lbx",
                3,
                "LN000001",
                "10.00",
                "2026-11-18",
                "1234567-001-001 0000000042"
            )]
        );

        let error = |lines: &[&str]| {
            read_text(&records(lines), &LockboxLayout::default())
                .error
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            error(&[LOCKBOX]),
            "t.lbx:1: a lockbox header (5) record before the file header (1): \"5001   1234567261118\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, BATCH]),
            "t.lbx:3: a batch total (7) for batch 001, which has no details (6): \"700100012345672611180010000001000\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "3 what is this"]),
            "t.lbx:4: an unknown record type \"3\": \"3 what is this\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, OVERFLOW, "40010014029LN000002"]),
            "t.lbx:5: an overflow (4) record after the one flagged last on line 4: \"40010014029LN000002\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "40010014010LN000001", "40010014039X"]),
            "t.lbx:5: overflow_sequence (columns 9-10) is 3 where 2 was expected: an overflow record is missing or out of order: \"40010014039X\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "40010024019LN000001"]),
            "t.lbx:4: an overflow (4) record of batch 001 item 002 after the detail (6) of batch 001 item 001: \"40010024019LN000001\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "60020010000001000"]),
            "t.lbx:4: a detail (6) record of batch 002 before the batch total (7) of batch 001: \"60020010000001000\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, TOTAL]),
            "t.lbx:4: a lockbox total (8) before the batch total (7) of batch 001: \"8000000123456726111800010000001000\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, BATCH, "9000005"]),
            "t.lbx:5: a file trailer (9) before the lockbox total (8) of lockbox 1234567: \"9000005\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, BATCH, TOTAL, DETAIL]),
            "t.lbx:6: a detail (6) record after the lockbox total (8) of lockbox 1234567 and before the next lockbox header (5): \"60010010000001000                   0000...\""
        );
        assert_eq!(
            error(&[
                HEAD, LOCKBOX, DETAIL, BATCH, TOTAL, "9000006", "", "9000006"
            ]),
            "t.lbx:8: a record after the file trailer (9): \"9000006\""
        );
        assert_eq!(
            error(&[HEAD, "5001   1234567261131"]),
            "t.lbx:2: lockbox_deposit_date (columns 15-20) is not a valid YYMMDD date: \"261131\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "700100076543212611180010000001000"]),
            "t.lbx:4: a batch total (7) of lockbox 7654321 inside lockbox 1234567: \"700100076543212611180010000001000\""
        );
        assert_eq!(
            error(&[HEAD, LOCKBOX, DETAIL, "7001000123456726111800 0000001000"]),
            "t.lbx:4: batch_total_item_count (columns 21-23) must be digits only, got \"00 \""
        );
        assert_eq!(
            error(&["", "  "]),
            "t.lbx: the file is empty; expected a lockbox transmission starting with a file header (1) record"
        );
    }

    #[test]
    fn blank_lines_bom_and_a_detail_without_overflow() {
        // A BOM, blank lines anywhere (not counted as records), no newline at the end; a detail
        // with no overflow has no loan, which validation rejects (a row error, not a file error).
        let text = format!(
            "\u{feff}{HEAD}\r\n\r\n{LOCKBOX}\r\n{DETAIL}\r\n   \r\n{BATCH}\r\n{TOTAL}\r\n9000006"
        );
        let read = read_text(text.as_bytes(), &LockboxLayout::default());
        assert_eq!(read.error, None);
        assert_eq!(read.rows.len(), 1);
        assert_eq!(read.rows[0].fields.loan, "");
        assert_eq!(read.rows[0].pos.line, 4);
    }

    #[test]
    fn bytes_that_are_not_text_and_overlong_lines() {
        let mut text = records(&[HEAD, LOCKBOX]);
        text.extend_from_slice(b"60010010000001000    JOS\xc9\n");
        let read = read_text(&text, &LockboxLayout::default());
        assert_eq!(
            read.error.unwrap().to_string(),
            "t.lbx:3: the record is not ASCII/UTF-8 text (the file may be EBCDIC or Latin-1)"
        );
        let mut text = records(&[HEAD]);
        text.extend(std::iter::repeat_n(b'6', 5000));
        let read = read_text(&text, &LockboxLayout::default());
        assert_eq!(
            read.error.unwrap().to_string(),
            "t.lbx:2: the line is longer than 1024 characters; this is not a lockbox record"
        );
        // UTF-8 is fine, and columns count characters, not bytes.
        let detail = "60010010000001000                   0000000042ÉÉÉÉÉÉ      JOSÉ ÅSTRÖM";
        let read = read_text(
            &records(&[HEAD, LOCKBOX, detail, OVERFLOW, BATCH, TOTAL, "9000007"]),
            &LockboxLayout {
                loan_from: LoanFrom::Detail,
                ..LockboxLayout::default()
            },
        );
        assert_eq!(read.error, None);
        assert_eq!(read.rows[0].fields.loan, "JOSÉ ÅSTRÖM");
    }

    #[test]
    fn totals_that_overflow_are_a_file_error() {
        let layout: LockboxLayout = toml::from_str("detail_amount = [8, 26]").unwrap();
        let big = "60010019000000000000000000";
        let text = records(&[HEAD, LOCKBOX, big, big]);
        let read = read_text(&text, &layout);
        assert_eq!(
            read.error.unwrap().to_string(),
            "t.lbx:4: the amount total of batch 001 of lockbox 1234567 is too large to be added up"
        );
        let layout: LockboxLayout = toml::from_str("detail_amount = [8, 40]").unwrap();
        let huge = format!("6001001{}", "9".repeat(33));
        let read = read_text(&records(&[HEAD, LOCKBOX, &huge]), &layout);
        assert_eq!(
            read.error.unwrap().to_string(),
            format!(
                "t.lbx:3: detail_amount (columns 8-40) is too large: \"{}\"",
                "9".repeat(33)
            )
        );
    }

    #[test]
    fn a_layout_from_settings_moves_fields() {
        let layout: LockboxLayout = toml::from_str(
            r#"
            loan_from = "detail"
            detail_amount = [10, 19]
            detail_loan = [20, 27]
            detail_check_number = [28, 31]
            year_pivot = 30
            "#,
        )
        .unwrap();
        layout.validate().unwrap();
        assert_eq!(layout.detail_amount, Span::new(10, 19));
        assert_eq!(layout.overflow_data, LockboxLayout::default().overflow_data);
        let text = records(&[
            HEAD,
            "5001   1234567291118",
            "6001007xx0000012345LN0007771042",
            "40010074019IGNORED",
            "700100012345672911180010000012345",
            "8000000123456729111800010000012345",
            "9000007",
        ]);
        let read = read_text(&text, &layout);
        assert_eq!(read.error, None);
        assert_eq!(
            read.rows,
            [row(
                "t.lbx",
                3,
                "LN000777",
                "123.45",
                "2029-11-18",
                "1234567-001-007 1042"
            )]
        );
        // The same file to the default layout: the amount is not where the defaults look.
        let read = read_text(&text, &LockboxLayout::default());
        assert_eq!(
            read.error.unwrap().to_string(),
            "t.lbx:3: detail_amount (columns 8-17) must be digits only, got \"xx00000123\""
        );
    }

    #[test]
    fn two_digit_years_pivot() {
        assert_eq!(yymmdd("691231", 70), NaiveDate::from_ymd_opt(2069, 12, 31));
        assert_eq!(yymmdd("700101", 70), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(yymmdd("261120", 0), NaiveDate::from_ymd_opt(1926, 11, 20));
        assert_eq!(yymmdd("991231", 100), NaiveDate::from_ymd_opt(2099, 12, 31));
        assert_eq!(yymmdd("260229", 70), None);
        assert_eq!(yymmdd("2611 1", 70), None);
    }

    #[test]
    fn layout_validation_names_the_field() {
        let bad = |toml: &str| {
            toml::from_str::<LockboxLayout>(toml)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert_eq!(
            bad("detail_amount = [0, 17]"),
            "`detail_amount` = [0, 17]: columns are counted from 1"
        );
        assert_eq!(
            bad("overflow_data = [41, 12]"),
            "`overflow_data` = [41, 12]: the start column is after the end column"
        );
        assert_eq!(
            bad("trailer_record_count = [2, 401]"),
            "`trailer_record_count` = [2, 401]: columns go up to 400"
        );
        assert_eq!(
            bad("lockbox_deposit_date = [15, 22]"),
            "`lockbox_deposit_date` = [15, 22]: a YYMMDD date is 6 columns wide"
        );
        assert_eq!(
            bad("year_pivot = 101"),
            "`year_pivot` = 101: must be from 0 to 100"
        );
        assert!(toml::from_str::<LockboxLayout>("detail_amout = [8, 17]").is_err());
        assert!(toml::from_str::<LockboxLayout>("detail_amount = [8]").is_err());
        assert!(toml::from_str::<LockboxLayout>("loan_from = \"remitter\"").is_err());
        assert_eq!(
            toml::from_str::<LockboxLayout>("").unwrap(),
            LockboxLayout::default()
        );
        let e = LockboxReader::new(
            "t.lbx".into(),
            &b""[..],
            &LockboxLayout {
                detail_item: Span::new(0, 3),
                ..LockboxLayout::default()
            },
            ControlTotals::Enforce,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "t.lbx: invalid lockbox layout: `detail_item` = [0, 3]: columns are counted from 1"
        );
    }

    /// A deterministic pseudo-random sequence (Knuth's MMIX LCG): no new crates for fuzzing.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_and_damaged_input_never_panics() {
        let good = std::fs::read(format!("{DIR}good.lbx")).unwrap();
        let alphabet = b"0123456789456789          \n\n\r\xc3\xa9\xffLN";
        let layouts = [
            LockboxLayout::default(),
            LockboxLayout {
                loan_from: LoanFrom::Detail,
                detail_amount: Span::new(2, 40),
                trailer_record_count: Span::new(1, 1),
                ..LockboxLayout::default()
            },
        ];
        let mut rng = Lcg(42);
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..200 {
            let len = rng.below(400);
            inputs.push(
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect(),
            );
        }
        for _ in 0..200 {
            let mut bytes = good.clone();
            bytes.truncate(rng.below(good.len() + 1));
            for _ in 0..rng.below(4) {
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len());
                    bytes[at] = alphabet[rng.below(alphabet.len())];
                }
            }
            inputs.push(bytes);
        }
        for bytes in &inputs {
            for layout in &layouts {
                for mode in [ControlTotals::Enforce, ControlTotals::Warn] {
                    let mut reader =
                        LockboxReader::new("fuzz.lbx".into(), &bytes[..], layout, mode).unwrap();
                    let mut items = 0;
                    for _ in reader.by_ref() {
                        items += 1;
                        assert!(items < 1000, "the reader does not end");
                    }
                    let _ = reader.control_checks();
                }
            }
        }
    }
}
