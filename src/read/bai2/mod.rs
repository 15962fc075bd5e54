//! The BAI2 reader (docs/formats.md): comma-delimited, `/`-terminated bank statement records,
//! streamed one logical record (a physical record and its `88` continuations) at a time, with
//! the file's account, group and file control totals checked as their trailers go by.
//!
//! Interpretations of the BAI2 standard (Cash Management Balance Reporting Specifications 2,
//! and BTRS, its version 3), and of what banks send instead (docs/formats.md):
//! - Records end with `/`, or, for banks that send them so, with the end of the line. If the 01
//!   file header ends with `/`, every 02, 03, 49 and 98 must too (a missing one is how a
//!   truncated file shows); 16 and 88 records never need one, nor does the 99 (banks leave it
//!   out of the last record).
//! - Several records may share a physical line (`.../   02,...`): a record other than a 16 ends
//!   at its first `/`, and what follows on the line is the next record. A 16 ends at a line
//!   break followed by a record code (`NN,`), or at a `/` followed by a blank and a record code:
//!   its references and text may hold `/` and `,`, and a line that does not begin with `NN,` is
//!   its text (or a reference) wrapped without an 88.
//! - A 16's fixed fields are counted by its funds type; whatever follows them is the text, one
//!   trailing `/` dropped. An 88 after a 16 whose text has begun is more text, joined with one
//!   space; an 88 after any other record (or a 16 that stopped before its text) carries further
//!   fields. `88:` is read as `88,`. A trailing empty field before the `/` of a record that an 88
//!   continues is the bank's separator, not a field.
//! - A 16 whose amount is empty or not a number is a row with that amount, which validation
//!   rejects; the file goes on (its totals count the amount as zero). Amounts may carry a sign.
//! - Amounts are minor units of the account's currency (03, else 02, else USD): two decimals for
//!   the usual currencies, none for JPY, KRW and the like. Any other currency code is a file error.
//! - Control totals are sums of the amounts as written (minor units), as BAI2 defines them. A 49
//!   total may be the sum of the account's 16 amounts or that plus its 03 summary amounts; the
//!   first account where the two differ fixes which one the file uses. A 98 total is checked
//!   against the sum of its 49 totals as stated, a 99 total against its 98 totals as stated, so a
//!   wrong account total is reported once, where it is. A blank total or count states nothing;
//!   a 98 with two numbers has left out its account count. Record counts count physical records
//!   (a wrapped line is not one).
//! - Groups: status 2 (deletion) and 4 (test only) hold no payments; with `final_only`, neither
//!   do groups whose as-of-date modifier is 1 or 3 (interim). Their details are counted, never
//!   handed over, and recorded as a [`super::control::Counted::Skipped`] check so that the report shows them.
//! - Payment date = the 02 as-of date, YYMMDD, read as 20YY.

mod codes;
mod options;
mod records;
#[cfg(test)]
mod tests;
mod trailers;

use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::sync::Arc;

use regex::Regex;

use crate::money::{currency_decimals, minor_to_cents};

pub use self::codes::{CodeSpec, MAX_TYPE_CODE, TypeCodes};
pub use self::options::{Bai2Options, LoanFrom};
use self::records::{
    Detail, Field, Join, Part, Record, field, funds_fields, line_starts_record, next_record_at,
    parse_as_of, parse_signed, parse_type_code, shown, split_code,
};
#[cfg(test)]
use super::control::ControlTotals;
use super::control::{ControlCheck, ControlModes, Controls};
use super::{
    FileError, NotPayment, PaymentReader, Position, RawAmount, RawFields, RawReturn, RawRow,
};

/// The longest logical record (a record and its continuations) read; a longer one is no BAI2.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// The record codes that come after the 01.
const CODES_AFTER_01: [&str; 6] = ["02", "03", "16", "49", "98", "99"];

/// A line that is neither a record nor a wrapped 16.
const NOT_A_RECORD: &str = "a line that does not begin with a record code (NN,); only a 16 transaction detail may wrap onto the next line without an 88";

/// Streams the payment 16s of one BAI2 file, checking its structure and control totals.
pub struct Bai2Reader<R: BufRead> {
    file: Arc<str>,
    input: R,
    buf: Vec<u8>,
    /// The number of the last physical line read.
    line: u64,
    /// The last line that held a record (for messages about the end of the file).
    last_record_line: u64,
    loan_from: LoanFrom,
    pattern: Option<Regex>,
    type_codes: TypeCodes,
    /// The 16 type codes that are returns (docs/returns.md), and whether a return's customer reference
    /// is its original reference.
    return_type_codes: TypeCodes,
    return_reference_customer: bool,
    /// Skip interim groups (as-of-date modifier 1 or 3).
    final_only: bool,
    /// The physical records of the current line not yet taken (more than one when a line holds
    /// several records).
    queue: VecDeque<Part>,
    /// The record being assembled: it is complete once the next non-88 record (or the end) shows.
    pending: Option<Record>,
    at_eof: bool,
    done: bool,
    /// The 01 ends with `/`, so every record but 16 and 88 must.
    slash_style: bool,
    started: bool,
    ended: bool,
    /// Files of the transmission so far (several `01 … 99` may follow each other), and the
    /// current one's file identification number (01 field 5).
    files: u32,
    file_id: String,
    file_records: i64,
    file_groups: i64,
    /// Sum of the stated 98 totals.
    file_total: i64,
    groups_seen: i64,
    group: Option<Group>,
    account: Option<Account>,
    /// Whether 49 totals include the 03 summary amounts: unknown until an account tells.
    summaries_in_49: Option<bool>,
    controls: Controls,
    /// Details read and skipped as no payment, for the file's tie-out (docs/report.md).
    not_payments: Vec<NotPayment>,
}

struct Group {
    number: i64,
    /// The line of its 02.
    line: u64,
    /// Why its details are not payments (a test, deletion or interim group), if they are not.
    skip: Option<&'static str>,
    /// Payment details skipped for that reason.
    skipped: i64,
    /// The as-of date, ISO.
    date: String,
    decimals: u32,
    records: i64,
    accounts: i64,
    /// Sum of the stated 49 totals.
    total: i64,
}

struct Account {
    number: String,
    decimals: u32,
    records: i64,
    details: i64,
    summaries: i64,
    /// The first 16 whose amount could not be read (its line and amount), and how many there
    /// were: a total that then disagrees says why.
    unreadable: Option<(u64, String)>,
    unreadable_count: i64,
}

impl<R: BufRead> Bai2Reader<R> {
    /// A reader of `input`, named `file` in messages. Rows are the 16s whose type code is in
    /// `type_codes`; `modes` say whether a control-total mismatch ends the file or is logged
    /// (one [`super::ControlTotals`] for amounts and counts alike, or a [`ControlModes`]).
    pub fn new(
        file: Arc<str>,
        input: R,
        options: &Bai2Options,
        type_codes: impl Into<TypeCodes>,
        modes: impl Into<ControlModes>,
    ) -> Result<Self, FileError> {
        let pattern = options
            .compile()
            .map_err(|m| FileError::new(&file, None, format!("bai2 options: {m}")))?;
        Ok(Bai2Reader {
            controls: Controls::new(&file, modes),
            file,
            input,
            buf: Vec::new(),
            line: 0,
            last_record_line: 0,
            loan_from: options.loan_from,
            pattern,
            type_codes: type_codes.into(),
            return_type_codes: TypeCodes::default(),
            return_reference_customer: false,
            final_only: false,
            queue: VecDeque::new(),
            pending: None,
            at_eof: false,
            done: false,
            slash_style: false,
            started: false,
            ended: false,
            files: 0,
            file_id: String::new(),
            file_records: 0,
            file_groups: 0,
            file_total: 0,
            groups_seen: 0,
            group: None,
            account: None,
            summaries_in_49: None,
            not_payments: Vec::new(),
        })
    }

    /// With `true`, groups whose as-of-date modifier says interim (1 or 3) are skipped: their
    /// details are counted, never handed over (`bai2_final_only`, docs/formats.md).
    pub fn final_only(mut self, final_only: bool) -> Self {
        self.final_only = final_only;
        self
    }

    /// Also reads the 16s whose type code is in `return_type_codes`, as returns (docs/returns.md): code
    /// = the type code; original reference = the customer reference when `customer_reference`.
    pub fn with_returns(mut self, return_type_codes: &TypeCodes, customer_reference: bool) -> Self {
        self.return_type_codes = return_type_codes.clone();
        self.return_reference_customer = customer_reference;
        self
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            if let Some(part) = self.queue.pop_front() {
                if let Some(row) = self.take(part)? {
                    return Ok(Some(row));
                }
                continue;
            }
            if self.at_eof {
                if let Some(record) = self.pending.take() {
                    if let Some(row) = self.process(record)? {
                        return Ok(Some(row));
                    }
                    continue;
                }
                self.finish()?;
                return Ok(None);
            }
            let Some(text) = self.read_line()? else {
                self.at_eof = true;
                continue;
            };
            if text.is_empty() {
                continue;
            }
            self.last_record_line = self.line;
            self.split_line(text);
        }
    }

    /// Queues the physical records of one line: usually the line itself; several when records
    /// follow each other on it (see [`next_record_at`]).
    fn split_line(&mut self, text: String) {
        let wrap = !line_starts_record(&text);
        let code = if wrap { "88" } else { split_code(&text).0 };
        // A wrapped line or an 88 goes on with the record being assembled.
        let mut is_detail = if code == "88" {
            self.pending.as_ref().is_some_and(Record::is_detail)
        } else {
            code == "16"
        };
        let Some(mut at) = next_record_at(&text, is_detail) else {
            let line = self.line;
            self.queue.push_back(Part { line, text, wrap });
            return;
        };
        let mut start = 0;
        let mut wrap = wrap;
        loop {
            let part = text[start..start + at].trim_end().to_string();
            self.queue.push_back(Part {
                line: self.line,
                text: part,
                wrap,
            });
            start += at;
            wrap = false;
            let rest = &text[start..];
            let code = split_code(rest).0;
            if code != "88" {
                is_detail = code == "16";
            }
            match next_record_at(rest, is_detail) {
                Some(next) => at = next,
                None => {
                    self.queue.push_back(Part {
                        line: self.line,
                        text: rest.to_string(),
                        wrap: false,
                    });
                    return;
                }
            }
        }
    }

    /// Takes one physical record: an 88 or a wrapped line joins the record being assembled;
    /// any other record completes it, and the completed record is acted on.
    fn take(&mut self, part: Part) -> Result<Option<RawRow>, FileError> {
        if part.wrap || split_code(&part.text).0 == "88" {
            let Some(record) = self.pending.as_mut() else {
                return Err(match (part.wrap, self.started) {
                    (false, _) => self.error_at(
                        &part,
                        "an 88 continuation with no record before it to continue",
                    ),
                    (true, false) => self.error_at(
                        &part,
                        "the file does not begin with a 01 file header; is this a BAI2 file?",
                    ),
                    (true, true) => self.error_at(&part, NOT_A_RECORD),
                });
            };
            if part.wrap && !record.is_detail() {
                return Err(self.error_at(&part, NOT_A_RECORD));
            }
            record.bytes += part.text.len();
            if record.bytes > MAX_RECORD_BYTES {
                let first = record.parts[0].line;
                return Err(FileError::new(
                    &self.file,
                    Some(first),
                    format!(
                        "the record beginning on line {first} goes on for more than {MAX_RECORD_BYTES} bytes; this is not a BAI2 file"
                    ),
                ));
            }
            record.parts.push(part);
            return Ok(None);
        }
        let bytes = part.text.len();
        let previous = self.pending.replace(Record {
            parts: vec![part],
            bytes,
        });
        match previous {
            Some(record) => self.process(record),
            None => Ok(None),
        }
    }

    /// The next physical line, trimmed of its end of line, padding and (first line) BOM.
    fn read_line(&mut self) -> Result<Option<String>, FileError> {
        self.buf.clear();
        let limit = MAX_RECORD_BYTES as u64 + 2;
        let n = Read::take(&mut self.input, limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| {
                FileError::new(&self.file, Some(self.line + 1), format!("cannot read: {e}"))
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() != Some(&b'\n') && n as u64 == limit {
            return Err(FileError::new(
                &self.file,
                Some(self.line),
                format!(
                    "the line is longer than {MAX_RECORD_BYTES} bytes; this is not a BAI2 file"
                ),
            ));
        }
        let mut bytes = self.buf.as_slice();
        if self.line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let at = e.valid_up_to();
            FileError::new(
                &self.file,
                Some(self.line),
                format!(
                    "the line is not UTF-8 text (BAI2 files are plain ASCII): byte 0x{:02X} at column {}",
                    bytes[at],
                    at + 1
                ),
            )
        })?;
        Ok(Some(
            text.trim_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string(),
        ))
    }

    /// The scope of a check: as it is in the first file of a transmission; in a later one,
    /// prefixed with the file's number and its 01 file id, so the report tells them apart.
    pub(super) fn scoped(&self, scope: &str) -> String {
        if self.files <= 1 {
            scope.to_string()
        } else if scope == "file" {
            format!("file {} (id {})", self.files, self.file_id)
        } else {
            format!("file {} (id {}) {scope}", self.files, self.file_id)
        }
    }

    /// Acts on one complete logical record; a payment 16 becomes a row.
    fn process(&mut self, record: Record) -> Result<Option<RawRow>, FileError> {
        let first = &record.parts[0];
        let code = split_code(&first.text).0;
        if self.ended && code == "01" {
            // Several files in one transmission: each is read and checked in turn.
            self.started = false;
            self.ended = false;
            self.file_groups = 0;
            self.file_total = 0;
            self.groups_seen = 0;
            self.summaries_in_49 = None;
        }
        if self.ended {
            return Err(self.error_at(first, "a record after the 99 file trailer"));
        }
        if !self.started && code != "01" {
            return Err(self.error_at(
                first,
                if CODES_AFTER_01.contains(&code) {
                    format!(
                        "the file does not begin with a 01 file header (its first record is a {code}); the beginning of the file may be missing"
                    )
                } else {
                    "the file does not begin with a 01 file header; is this a BAI2 file?".into()
                },
            ));
        }
        let n = record.records();
        self.file_records += n;
        if let Some(g) = &mut self.group {
            g.records += n;
        }
        if let Some(a) = &mut self.account {
            a.records += n;
        }
        match code {
            "01" => self.file_header(&record).map(|()| None),
            "02" => self.group_header(&record).map(|()| None),
            "03" => self.account_header(&record).map(|()| None),
            "16" => self.detail(&record),
            "49" => self.account_trailer(&record).map(|()| None),
            "98" => self.group_trailer(&record).map(|()| None),
            "99" => self.file_trailer(&record).map(|()| None),
            _ => Err(self.error_at(
                first,
                format!(
                    "unknown record code {code:?} (BAI2 records are 01, 02, 03, 16, 49, 88, 98 and 99)"
                ),
            )),
        }
    }

    fn file_header(&mut self, record: &Record) -> Result<(), FileError> {
        if self.started {
            return Err(self.error_at(&record.parts[0], "a second 01 file header"));
        }
        self.started = true;
        self.files += 1;
        self.file_records = record.records();
        self.slash_style = record.parts[0].text.ends_with('/');
        let fields = self.fields(record, true)?;
        self.file_id = field(&fields, 4).1.to_string();
        // Version 2 is BAI2, 3 is BTRS, whose records read the same; anything else is read as
        // they are, with a warning, since the records say more than the number does.
        let (_, version) = field(&fields, 7);
        if !matches!(version, "" | "2" | "02" | "3" | "03") {
            tracing::warn!(
                file = %self.file,
                line = record.parts[0].line,
                "the 01 file header gives version {version:?}; payimport reads BAI2 (version 2) and BTRS (version 3) and reads this file as those"
            );
        }
        Ok(())
    }

    fn group_header(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        if let Some(a) = &self.account {
            return Err(self.error_at(
                first,
                format!(
                    "a 02 group header inside account {} (its 49 account trailer is missing)",
                    a.number
                ),
            ));
        }
        if let Some(g) = &self.group {
            return Err(self.error_at(
                first,
                format!(
                    "a 02 group header inside group {} (its 98 group trailer is missing)",
                    g.number
                ),
            ));
        }
        let fields = self.fields(record, true)?;
        let (p, status) = field(&fields, 2);
        let mut skip = match status {
            "" | "1" | "3" => None,
            "2" => Some("deletion, group status 2"),
            "4" => Some("test only, group status 4"),
            other => {
                // Unknown, it might be a test: sending it could post money that never came.
                return Err(self.error_in(
                    record,
                    p,
                    format!(
                        "group status {other:?} in the 02 group header is none of BAI2's (1 update, 2 deletion, 3 correction, 4 test only)"
                    ),
                ));
            }
        };
        let (p, modifier) = field(&fields, 6);
        let interim = match modifier {
            "1" => Some("interim previous-day, as-of-date modifier 1"),
            "3" => Some("interim same-day, as-of-date modifier 3"),
            // Blank says nothing, and a group is final unless it says otherwise.
            "" | "2" | "4" => None,
            other if self.final_only => {
                return Err(self.error_in(
                    record,
                    p,
                    format!(
                        "as-of-date modifier {other:?} in the 02 group header is none of BAI2's (1 and 3 interim, 2 and 4 final), so bai2_final_only cannot tell whether the group is final"
                    ),
                ));
            }
            _ => None,
        };
        if self.final_only && skip.is_none() {
            skip = interim;
        }
        let (p, raw_date) = field(&fields, 3);
        let date = parse_as_of(raw_date).ok_or_else(|| {
            self.error_in(
                record,
                p,
                format!(
                    "as-of date {raw_date:?} in the 02 group header is not a valid YYMMDD date"
                ),
            )
        })?;
        let (p, currency) = field(&fields, 5);
        let decimals = match currency {
            "" => 2,
            c => currency_decimals(c)
                .map_err(|m| self.error_in(record, p, format!("02 group header: {m}")))?,
        };
        self.groups_seen += 1;
        self.group = Some(Group {
            number: self.groups_seen,
            line: record.parts[0].line,
            skip,
            skipped: 0,
            date: crate::payment::iso_date(date),
            decimals,
            records: record.records(),
            accounts: 0,
            total: 0,
        });
        Ok(())
    }

    fn account_header(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        if let Some(a) = &self.account {
            return Err(self.error_at(
                first,
                format!(
                    "a 03 account identifier inside account {} (its 49 account trailer is missing)",
                    a.number
                ),
            ));
        }
        let Some(group) = &self.group else {
            return Err(self.error_at(
                first,
                "a 03 account identifier outside a group (no 02 group header before it)",
            ));
        };
        let fields = self.fields(record, false)?;
        let (_, number) = field(&fields, 0);
        if number.is_empty() {
            return Err(self.error_at(first, "the 03 account identifier has no account number"));
        }
        let (p, currency) = field(&fields, 1);
        let decimals = match currency {
            "" => group.decimals,
            c => currency_decimals(c)
                .map_err(|m| self.error_in(record, p, format!("03 account identifier: {m}")))?,
        };
        // Summaries: type code, amount, item count, funds type (and the funds type's fields).
        let mut summaries = 0i64;
        let mut i = 2;
        while i < fields.len() {
            let (p, type_code) = fields[i];
            // A summary never begins in the empty fields that end a physical record before its
            // 88: they are the bank's trailing separator (`...,510000,,,/` then `88,040,...`).
            let part_end = fields[i..].iter().position(|(q, _)| *q != p).map(|n| i + n);
            if let Some(next) = part_end
                && fields[i..next].iter().all(|(_, f)| f.is_empty())
            {
                i = next;
                continue;
            }
            let (pa, amount) = field(&fields, i + 1);
            let (pf, funds) = field(&fields, i + 3);
            let extra = funds_fields(funds, field(&fields, i + 4).1)
                .map_err(|m| self.error_in(record, pf, format!("03 account identifier: {m}")))?;
            if type_code.is_empty() {
                if !amount.is_empty() {
                    return Err(self.error_in(
                        record,
                        pa,
                        format!(
                            "summary amount {amount:?} in the 03 account identifier has no type code"
                        ),
                    ));
                }
            } else {
                if parse_type_code(type_code).is_none() {
                    return Err(self.error_in(
                        record,
                        p,
                        format!(
                            "summary type code {type_code:?} in the 03 account identifier is not a number of up to 3 digits"
                        ),
                    ));
                }
                let cents = parse_signed(amount).ok_or_else(|| {
                    self.error_in(
                        record,
                        pa,
                        format!(
                            "amount {amount:?} of summary type {type_code} in the 03 account identifier is not a whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00)"
                        ),
                    )
                })?;
                summaries = self.add(summaries, cents.unwrap_or(0), record, pa)?;
            }
            i = i.saturating_add(4).saturating_add(extra);
        }
        self.account = Some(Account {
            number: number.to_string(),
            decimals,
            records: record.records(),
            details: 0,
            summaries,
            unreadable: None,
            unreadable_count: 0,
        });
        Ok(())
    }

    fn detail(&mut self, record: &Record) -> Result<Option<RawRow>, FileError> {
        let first = &record.parts[0];
        if self.account.is_none() {
            return Err(self.error_at(
                first,
                "a 16 transaction detail outside an account (no 03 account identifier before it)",
            ));
        }
        let mut detail = Detail::default();
        for (i, part) in record.parts.iter().enumerate() {
            let join = match (i, part.wrap) {
                (0, _) => Join::Start,
                (_, true) => Join::Wrap,
                (_, false) => Join::Continuation,
            };
            detail
                .feed(part.body(), i, join)
                .map_err(|m| self.error_in(record, i, m))?;
        }
        let (p, type_code) = detail.fixed(0);
        let Some(type_code) = parse_type_code(type_code) else {
            return Err(self.error_in(
                record,
                p,
                format!(
                    "type code {type_code:?} of the 16 transaction detail is not a number of up to 3 digits"
                ),
            ));
        };
        let (pf, funds) = detail.fixed(2);
        funds_fields(funds, detail.fixed(3).1)
            .map_err(|m| self.error_in(record, pf, format!("16 transaction detail: {m}")))?;
        let (p, raw_amount) = detail.fixed(1);
        // A signed whole number; anything else is this row's trouble, not the file's: the row
        // goes on with the amount as written, for validation to reject (docs/formats.md).
        let amount = match parse_signed(raw_amount) {
            Some(Some(a)) => Some(a),
            Some(None) => None,
            None if crate::money::parse_amount(raw_amount).is_err() => None,
            None => {
                // Text that validation would read as an amount (`15.00`) is no BAI2 amount
                // either, and must not be posted as one.
                return Err(self.error_in(
                    record,
                    p,
                    format!(
                        "amount {raw_amount:?} of the 16 transaction detail is not a whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00)"
                    ),
                ));
            }
        };
        let details = self.account.as_ref().map_or(0, |a| a.details);
        let details = self.add(details, amount.unwrap_or(0), record, p)?;
        let Some(account) = self.account.as_mut() else {
            return Ok(None);
        };
        account.details = details;
        if amount.is_none() {
            account.unreadable_count += 1;
            if account.unreadable.is_none() {
                account.unreadable = Some((first.line, raw_amount.to_string()));
            }
        }
        let is_return = self.return_type_codes.contains(type_code);
        let cents = amount.and_then(|a| minor_to_cents(a, account.decimals));
        if !self.type_codes.contains(type_code) && !is_return {
            self.not_payments.push(NotPayment {
                line: first.line,
                code: type_code.to_string(),
                cents,
                why: "type code not a payment",
            });
            return Ok(None);
        }
        if let Some(group) = self.group.as_mut()
            && let Some(why) = group.skip
        {
            group.skipped += 1;
            self.not_payments.push(NotPayment {
                line: first.line,
                code: type_code.to_string(),
                cents,
                why,
            });
            return Ok(None);
        }
        let decimals = account.decimals;
        let bank_reference = detail.bank_reference();
        let loan = match self.loan_from {
            LoanFrom::CustomerReference => detail.customer_reference().to_string(),
            LoanFrom::BankReference => bank_reference.to_string(),
            LoanFrom::Text => self
                .pattern
                .as_ref()
                .and_then(|re| re.captures(detail.text()))
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().trim().to_string())
                .unwrap_or_default(),
        };
        let date = self
            .group
            .as_ref()
            .map(|g| g.date.clone())
            .unwrap_or_default();
        Ok(Some(RawRow {
            pos: Position {
                file: self.file.clone(),
                line: first.line,
            },
            fields: RawFields {
                loan,
                // No cents for an amount past what i64 cents hold (92 quadrillion): it goes as
                // written, for validation to refuse as too large, as it refuses such text.
                amount: match amount {
                    Some(amount) => minor_to_cents(amount, decimals)
                        .map_or_else(|| RawAmount::Text(format!("{amount}.00")), RawAmount::Cents),
                    None => RawAmount::Text(raw_amount.to_string()),
                },
                date,
                reference: bank_reference.to_string(),
                ret: is_return.then(|| {
                    Box::new(RawReturn {
                        code: type_code.to_string(),
                        original_reference: if self.return_reference_customer {
                            detail.customer_reference().to_string()
                        } else {
                            String::new()
                        },
                        ..RawReturn::default()
                    })
                }),
                ..RawFields::default()
            },
        }))
    }

    /// The fields of a record other than a 16, across its continuations. With `drop_separator`,
    /// a record that an 88 continues loses the empty field a trailing `,` before its `/` makes
    /// (the 03 sorts its own out, see `account_header`).
    fn fields<'a>(
        &self,
        record: &'a Record,
        drop_separator: bool,
    ) -> Result<Vec<Field<'a>>, FileError> {
        let mut out = Vec::new();
        let last = record.parts.len() - 1;
        for (i, part) in record.parts.iter().enumerate() {
            let body = part.body();
            let content = match body.find('/') {
                Some(at) => {
                    if !body[at + 1..].trim().is_empty() {
                        return Err(self.error_at(part, "text after the record's closing /"));
                    }
                    &body[..at]
                }
                None => {
                    // A record continued by an 88 may leave its `/` out, as may an 88, and
                    // banks leave it out of the last record (the 99).
                    let code = split_code(&part.text).0;
                    if i == 0 && self.slash_style && last == 0 && code != "99" {
                        return Err(self.error_at(
                            part,
                            "the record does not end with / as the 01 file header does; the file may be truncated",
                        ));
                    }
                    body
                }
            };
            if content.trim().is_empty() {
                continue;
            }
            let content = match content.trim_end().strip_suffix(',') {
                Some(kept) if drop_separator && i < last => kept,
                _ => content,
            };
            out.extend(content.split(',').map(|f| (i, f.trim())));
        }
        Ok(out)
    }

    fn add(&self, a: i64, b: i64, record: &Record, part: usize) -> Result<i64, FileError> {
        a.checked_add(b).ok_or_else(|| {
            self.error_in(
                record,
                part,
                "the amounts add up past what payimport can count (more than 92 quadrillion)",
            )
        })
    }

    fn error_in(&self, record: &Record, part: usize, message: impl std::fmt::Display) -> FileError {
        let part = record.parts.get(part).unwrap_or(&record.parts[0]);
        self.error_at(part, message)
    }

    fn error_at(&self, part: &Part, message: impl std::fmt::Display) -> FileError {
        FileError::new(
            &self.file,
            Some(part.line),
            format!("{message}: {}", shown(&part.text)),
        )
    }
}

impl<R: BufRead> Iterator for Bai2Reader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::until_file_error(self, |r| &mut r.done, Self::next_row)
    }
}

impl<R: BufRead> PaymentReader for Bai2Reader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }

    fn not_payments(&self) -> &[NotPayment] {
        &self.not_payments
    }
}
