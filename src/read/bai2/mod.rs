//! The BAI2 reader (SPEC §3): comma-delimited, `/`-terminated bank statement records, streamed one
//! logical record (a physical record and its `88` continuations) at a time, with the file's
//! account, group and file control totals checked as their trailers go by.
//!
//! Interpretations of the BAI2 standard (Cash Management Balance Reporting Specifications 2):
//! - Records end with `/`, or, for banks that send them so, with the end of the line. If the 01
//!   file header ends with `/`, every 02, 03, 49, 98 and 99 must too (a missing one is how a
//!   truncated file shows); 16 and 88 records never need one.
//! - A 16's text runs to the end of its physical line and may hold `/` and `,`; one trailing `/`
//!   is dropped. An 88 after a 16 whose text has begun is more text, joined with one space; an 88
//!   after any other record (or a 16 that stopped before its text) carries further fields.
//! - Amounts are minor units of the account's currency (03, else 02, else USD): two decimals for
//!   the usual currencies, none for JPY, KRW and the like. Any other currency code is a file error.
//! - Control totals are sums of the amounts as written (minor units), as BAI2 defines them. A 49
//!   total may be the sum of the account's 16 amounts or that plus its 03 summary amounts; the
//!   first account where the two differ fixes which one the file uses. A 98 total is checked
//!   against the sum of its 49 totals as stated, a 99 total against its 98 totals as stated, so a
//!   wrong account total is reported once, where it is. A blank total or count states nothing.
//! - Payment date = the 02 as-of date, YYMMDD, read as 20YY.

use std::io::{BufRead, Read};
use std::sync::Arc;

use chrono::NaiveDate;
use regex::Regex;
use serde::Deserialize;

use super::control::{ControlCheck, ControlTotals, Controls};
use super::{FileError, PaymentReader, Position, RawFields, RawRow};

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
    fn compile(&self) -> Result<Option<Regex>, String> {
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

/// The longest logical record (a record and its continuations) read; a longer one is no BAI2.
const MAX_RECORD_BYTES: usize = 1 << 20;

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
    type_codes: Vec<u32>,
    /// The record being assembled: it is complete once the next non-88 record (or the end) shows.
    pending: Option<Record>,
    at_eof: bool,
    done: bool,
    /// The 01 ends with `/`, so every record but 16 and 88 must.
    slash_style: bool,
    started: bool,
    ended: bool,
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
}

struct Group {
    number: i64,
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
}

/// One physical line, trimmed.
struct Part {
    line: u64,
    text: String,
}

/// A logical record: a physical record and its 88 continuations.
struct Record {
    parts: Vec<Part>,
    bytes: usize,
}

/// A field of a logical record: the part it is in, and its trimmed text.
type Field<'a> = (usize, &'a str);

impl<R: BufRead> Bai2Reader<R> {
    /// A reader of `input`, named `file` in messages. Rows are the 16s whose type code is in
    /// `type_codes`; `mode` says whether a control-total mismatch ends the file or is logged.
    pub fn new(
        file: Arc<str>,
        input: R,
        options: &Bai2Options,
        type_codes: &[u32],
        mode: ControlTotals,
    ) -> Result<Self, FileError> {
        let pattern = options
            .compile()
            .map_err(|m| FileError::new(&file, None, format!("bai2 options: {m}")))?;
        Ok(Bai2Reader {
            controls: Controls::new(&file, mode),
            file,
            input,
            buf: Vec::new(),
            line: 0,
            last_record_line: 0,
            loan_from: options.loan_from,
            pattern,
            type_codes: type_codes.to_vec(),
            pending: None,
            at_eof: false,
            done: false,
            slash_style: false,
            started: false,
            ended: false,
            file_records: 0,
            file_groups: 0,
            file_total: 0,
            groups_seen: 0,
            group: None,
            account: None,
            summaries_in_49: None,
        })
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
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
            let part = Part {
                line: self.line,
                text,
            };
            if split_code(&part.text).0 == "88" {
                let Some(record) = self.pending.as_mut() else {
                    return Err(self.error_at(
                        &part,
                        "an 88 continuation with no record before it to continue",
                    ));
                };
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
                continue;
            }
            let bytes = part.text.len();
            let previous = self.pending.replace(Record {
                parts: vec![part],
                bytes,
            });
            if let Some(record) = previous
                && let Some(row) = self.process(record)?
            {
                return Ok(Some(row));
            }
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

    /// Acts on one complete logical record; a payment 16 becomes a row.
    fn process(&mut self, record: Record) -> Result<Option<RawRow>, FileError> {
        let first = &record.parts[0];
        let code = split_code(&first.text).0;
        if self.ended {
            return Err(self.error_at(first, "a record after the 99 file trailer"));
        }
        if !self.started && code != "01" {
            return Err(self.error_at(
                first,
                "the file does not begin with a 01 file header; is this a BAI2 file?",
            ));
        }
        let n = record.parts.len() as i64;
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
        self.file_records = record.parts.len() as i64;
        self.slash_style = record.parts[0].text.ends_with('/');
        self.fields(record)?;
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
        let fields = self.fields(record)?;
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
            date: crate::payment::iso_date(date),
            decimals,
            records: record.parts.len() as i64,
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
        let fields = self.fields(record)?;
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
            records: record.parts.len() as i64,
            details: 0,
            summaries,
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
            detail
                .feed(split_code(&part.text).1, i)
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
        let (p, raw_amount) = detail.fixed(1);
        let amount = match parse_unsigned(raw_amount) {
            Some(a) => a,
            None => {
                return Err(self.error_in(
                    record,
                    p,
                    format!(
                        "amount {raw_amount:?} of the 16 transaction detail is not an unsigned whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00)"
                    ),
                ));
            }
        };
        let (pf, funds) = detail.fixed(2);
        funds_fields(funds, detail.fixed(3).1)
            .map_err(|m| self.error_in(record, pf, format!("16 transaction detail: {m}")))?;
        let details = self.account.as_ref().map_or(0, |a| a.details);
        let details = self.add(details, amount, record, p)?;
        let Some(account) = self.account.as_mut() else {
            return Ok(None);
        };
        account.details = details;
        if !self.type_codes.contains(&type_code) {
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
                amount: show_amount(amount, decimals),
                date,
                reference: bank_reference.to_string(),
                ..RawFields::default()
            },
        }))
    }

    fn account_trailer(&mut self, record: &Record) -> Result<(), FileError> {
        let first = &record.parts[0];
        let Some(account) = self.account.take() else {
            return Err(self.error_at(
                first,
                "a 49 account trailer outside an account (no 03 account identifier before it)",
            ));
        };
        let fields = self.fields(record)?;
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
        let scope = format!("account {}", account.number);
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
                    show_cents(with_summaries)
                )
            } else {
                format!(
                    " (counting the 03 summary amounts; {} for the 16 details only)",
                    show_cents(details)
                )
            };
            checks.push((check(&scope, "amount", line, stated, computed), hint));
        }
        if let Some(stated) = count {
            checks.push((
                check(&scope, "records", line, stated, account.records),
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

    fn group_trailer(&mut self, record: &Record) -> Result<(), FileError> {
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
        let fields = self.fields(record)?;
        let total = self.stated(
            record,
            &fields,
            0,
            true,
            "group control total",
            "98 group trailer",
        )?;
        let accounts = self.stated(
            record,
            &fields,
            1,
            false,
            "number of accounts",
            "98 group trailer",
        )?;
        let count = self.stated(
            record,
            &fields,
            2,
            false,
            "number of records",
            "98 group trailer",
        )?;
        let scope = format!("group {}", group.number);
        let line = first.line;
        let mut checks = Vec::new();
        if let Some(stated) = total {
            checks.push((
                check(&scope, "amount", line, stated, group.total),
                String::new(),
            ));
        }
        if let Some(stated) = accounts {
            checks.push((
                check(&scope, "accounts", line, stated, group.accounts),
                String::new(),
            ));
        }
        if let Some(stated) = count {
            checks.push((
                check(&scope, "records", line, stated, group.records),
                String::new(),
            ));
        }
        self.file_groups += 1;
        self.file_total = self.add(self.file_total, total.unwrap_or(group.total), record, 0)?;
        self.controls.settle(checks)
    }

    fn file_trailer(&mut self, record: &Record) -> Result<(), FileError> {
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
        let fields = self.fields(record)?;
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
                check("file", "amount", line, stated, self.file_total),
                String::new(),
            ));
        }
        if let Some(stated) = groups {
            checks.push((
                check("file", "groups", line, stated, self.file_groups),
                String::new(),
            ));
        }
        if let Some(stated) = count {
            checks.push((
                check("file", "records", line, stated, self.file_records),
                String::new(),
            ));
        }
        self.ended = true;
        self.controls.settle(checks)
    }

    /// At the end of the input: the file must have been closed by its 99.
    fn finish(&self) -> Result<(), FileError> {
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

    /// The fields of a record other than a 16, across its continuations.
    fn fields<'a>(&self, record: &'a Record) -> Result<Vec<Field<'a>>, FileError> {
        let mut out = Vec::new();
        for (i, part) in record.parts.iter().enumerate() {
            let body = split_code(&part.text).1;
            let content = match body.find('/') {
                Some(at) => {
                    if !body[at + 1..].trim().is_empty() {
                        return Err(self.error_at(part, "text after the record's closing /"));
                    }
                    &body[..at]
                }
                None => {
                    // A record continued by an 88 may leave its `/` out, as may an 88.
                    if i == 0 && self.slash_style && record.parts.len() == 1 {
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
            out.extend(content.split(',').map(|f| (i, f.trim())));
        }
        Ok(out)
    }

    /// A stated total (`signed`) or count at `index`; blank states nothing.
    fn stated(
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

impl<R: BufRead> PaymentReader for Bai2Reader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }
}

/// The fields of a 16, gathered across its continuations: the fixed fields, then the text.
#[derive(Default)]
struct Detail {
    /// Type code, amount, funds type, the funds type's own fields, bank and customer reference.
    fixed: Vec<(usize, String)>,
    /// `None` until the text field has begun.
    text: Option<String>,
}

impl Detail {
    /// Takes the body of one physical record (the 16 or an 88 after it).
    fn feed(&mut self, body: &str, part: usize) -> Result<(), String> {
        if let Some(text) = &mut self.text {
            push_text(text, body);
            return Ok(());
        }
        let mut rest = body;
        loop {
            if self.fixed.len() >= self.needed()? {
                let mut text = String::new();
                push_text(&mut text, rest);
                self.text = Some(text);
                return Ok(());
            }
            if rest.is_empty() {
                return Ok(());
            }
            match rest.find([',', '/']) {
                Some(at) if rest.as_bytes()[at] == b',' => {
                    self.fixed.push((part, rest[..at].trim().to_string()));
                    rest = &rest[at + 1..];
                }
                Some(at) => {
                    // `/` before the text ends the record; the fields left are defaulted.
                    if !rest[at + 1..].trim().is_empty() {
                        return Err(format!(
                            "text after the / that ends the 16 transaction detail's field {:?}",
                            rest[..at].trim()
                        ));
                    }
                    self.fixed.push((part, rest[..at].trim().to_string()));
                    return Ok(());
                }
                None => {
                    self.fixed.push((part, rest.trim().to_string()));
                    return Ok(());
                }
            }
        }
    }

    /// How many fixed fields precede the text, as far as the fields read so far tell.
    fn needed(&self) -> Result<usize, String> {
        let Some((_, funds)) = self.fixed.get(2) else {
            return Ok(3);
        };
        let count = self.fixed.get(3).map_or("", |(_, c)| c.as_str());
        if funds.eq_ignore_ascii_case("D") && self.fixed.len() < 4 {
            return Ok(4);
        }
        let extra =
            funds_fields(funds, count).map_err(|m| format!("16 transaction detail: {m}"))?;
        Ok(extra.saturating_add(5))
    }

    fn fixed(&self, index: usize) -> (usize, &str) {
        self.fixed
            .get(index)
            .map_or((0, ""), |(p, f)| (*p, f.as_str()))
    }

    fn reference(&self, from_end: usize) -> &str {
        // Until the references are reached the fixed fields are all before them.
        let needed = self.needed().unwrap_or(5);
        needed.checked_sub(from_end).map_or("", |i| self.fixed(i).1)
    }

    fn bank_reference(&self) -> &str {
        self.reference(2)
    }

    fn customer_reference(&self) -> &str {
        self.reference(1)
    }

    fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// Appends one segment of a 16's text: trimmed, one closing `/` dropped, joined by a space.
fn push_text(text: &mut String, segment: &str) {
    let segment = segment.trim();
    let segment = segment.strip_suffix('/').unwrap_or(segment).trim_end();
    if segment.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(segment);
}

/// The record code and the body after it (`,` dropped; a `/` right after the code kept).
fn split_code(text: &str) -> (&str, &str) {
    match text.find([',', '/']) {
        Some(at) if text.as_bytes()[at] == b',' => (text[..at].trim(), &text[at + 1..]),
        Some(at) => (text[..at].trim(), &text[at..]),
        None => (text.trim(), ""),
    }
}

fn field<'a>(fields: &[Field<'a>], index: usize) -> Field<'a> {
    fields.get(index).copied().unwrap_or((0, ""))
}

/// How many fields follow a funds type: S has three amounts, V a value date and time, D a count
/// and that many (days, amount) pairs.
fn funds_fields(funds: &str, distributions: &str) -> Result<usize, String> {
    match funds.to_ascii_uppercase().as_str() {
        "" | "0" | "1" | "2" | "Z" => Ok(0),
        "S" => Ok(3),
        "V" => Ok(2),
        "D" => match parse_unsigned(distributions) {
            Some(n) => Ok((n as usize).saturating_mul(2).saturating_add(1)),
            None => Err(format!(
                "number of distributions {distributions:?} of funds type D is not a whole number"
            )),
        },
        other => Err(format!(
            "unknown funds type {other:?} (BAI2 funds types are 0, 1, 2, S, V, D and Z)"
        )),
    }
}

fn parse_type_code(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Digits only; `None` if anything else (or too large).
fn parse_unsigned(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A summary amount or stated total: optional sign, digits; blank is `Some(None)`.
fn parse_signed(s: &str) -> Option<Option<i64>> {
    if s.is_empty() {
        return Some(None);
    }
    let (negative, digits) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let value = parse_unsigned(digits)?;
    Some(Some(if negative { -value } else { value }))
}

/// YYMMDD, the century taken as 20YY.
fn parse_as_of(s: &str) -> Option<NaiveDate> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(2000 + n(0..2)? as i32, n(2..4)?, n(4..6)?)
}

/// The implied decimals of the currencies payimport reads.
fn currency_decimals(code: &str) -> Result<u32, String> {
    const TWO: &[&str] = &[
        "USD", "CAD", "EUR", "GBP", "AUD", "NZD", "CHF", "MXN", "HKD", "SGD", "SEK", "NOK", "DKK",
        "PLN", "CZK", "HUF", "ZAR", "INR", "CNY", "BRL", "ILS", "AED", "SAR", "PHP", "THB", "MYR",
        "TWD", "TRY", "COP", "ARS", "PEN", "RON", "BGN", "QAR",
    ];
    const ZERO: &[&str] = &[
        "JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX", "XAF", "XOF", "XPF", "KMF", "GNF", "RWF",
        "VUV", "DJF", "BIF",
    ];
    let upper = code.to_ascii_uppercase();
    if TWO.contains(&upper.as_str()) {
        Ok(2)
    } else if ZERO.contains(&upper.as_str()) {
        Ok(0)
    } else {
        Err(format!(
            "unsupported currency code {code:?}; payimport reads amounts in {} (two decimals) and {} (no decimals)",
            TWO.join(", "),
            ZERO.join(", ")
        ))
    }
}

/// Minor units as a two-decimal amount.
fn show_amount(minor: i64, decimals: u32) -> String {
    match decimals {
        0 => format!("{minor}.00"),
        _ => show_cents(minor),
    }
}

fn show_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn check(scope: &str, what: &'static str, line: u64, stated: i64, computed: i64) -> ControlCheck {
    ControlCheck {
        scope: scope.to_string(),
        what,
        line,
        stated,
        computed,
    }
}

/// A record as quoted in a message, cut short if long.
fn shown(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}", format!("{}...", &text[..at])),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[u32] = &[165, 175];

    fn fixture(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bai2/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    type Outcome = (Vec<RawRow>, Option<FileError>, Vec<ControlCheck>);

    fn run(name: &str, bytes: &[u8], options: &Bai2Options, mode: ControlTotals) -> Outcome {
        let mut reader = Bai2Reader::new(name.into(), bytes, options, TYPES, mode).unwrap();
        let mut rows = Vec::new();
        let mut error = None;
        for item in reader.by_ref() {
            match item {
                Ok(row) => rows.push(row),
                Err(e) => {
                    assert!(error.is_none(), "a second error: {e}");
                    error = Some(e);
                }
            }
        }
        assert!(reader.next().is_none());
        (rows, error, reader.control_checks().to_vec())
    }

    fn read_fixture(name: &str, options: &Bai2Options, mode: ControlTotals) -> Outcome {
        run(name, &fixture(name), options, mode)
    }

    fn good(name: &str, options: &Bai2Options) -> (Vec<RawRow>, Vec<ControlCheck>) {
        let (rows, error, checks) = read_fixture(name, options, ControlTotals::Enforce);
        assert_eq!(error, None);
        (rows, checks)
    }

    fn error_of(name: &str, bytes: &[u8]) -> String {
        let (_, error, _) = run(name, bytes, &Bai2Options::default(), ControlTotals::Enforce);
        error.expect("an error").to_string()
    }

    fn fixture_error(name: &str) -> String {
        error_of(name, &fixture(name))
    }

    /// (line, loan, amount, date, reference) of each row.
    fn summary(rows: &[RawRow]) -> Vec<(u64, &str, &str, &str, &str)> {
        rows.iter()
            .map(|r| {
                let f = &r.fields;
                assert_eq!(
                    (&f.payment_method_id, &f.payment_type_id, &f.extra, &f.info),
                    (&None, &None, &None, &None)
                );
                (
                    r.pos.line,
                    f.loan.as_str(),
                    f.amount.as_str(),
                    f.date.as_str(),
                    f.reference.as_str(),
                )
            })
            .collect()
    }

    fn loans(rows: &[RawRow]) -> Vec<&str> {
        rows.iter().map(|r| r.fields.loan.as_str()).collect()
    }

    /// (scope, what, line, stated, computed) of each check.
    fn shown_checks(checks: &[ControlCheck]) -> Vec<(&str, &str, u64, i64, i64)> {
        checks
            .iter()
            .map(|c| (c.scope.as_str(), c.what, c.line, c.stated, c.computed))
            .collect()
    }

    fn text_options(pattern: &str) -> Bai2Options {
        Bai2Options {
            loan_from: LoanFrom::Text,
            loan_pattern: Some(pattern.into()),
        }
    }

    #[test]
    fn good_file_rows() {
        let (rows, _) = good("good.bai", &Bai2Options::default());
        assert_eq!(rows[0].pos.file.as_ref(), "good.bai");
        assert_eq!(
            summary(&rows),
            [
                (5, "482", "1500.00", "2026-11-19", "ACH0001"),
                (7, "17", "500.00", "2026-11-19", "ACH0002"),
                (8, "903", "150.00", "2026-11-19", "ACH0003"),
                (12, "256", "1200.50", "2026-11-19", "ACH0004"),
                (19, "1000", "321.00", "2026-11-20", "ACH0006"),
                (20, "", "99.99", "2026-11-20", "ACH0007"),
                (21, "1", "45.00", "2026-11-20", "ACH0008"),
            ]
        );
    }

    #[test]
    fn good_file_control_checks_all_match() {
        let (_, checks) = good("good.bai", &Bai2Options::default());
        assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
        assert_eq!(
            shown_checks(&checks),
            [
                ("account 123456789", "amount", 10, 240000, 240000),
                ("account 123456789", "records", 10, 8, 8),
                ("account 987654321", "amount", 14, 127550, 127550),
                ("account 987654321", "records", 14, 4, 4),
                ("group 1", "amount", 15, 367550, 367550),
                ("group 1", "accounts", 15, 2, 2),
                ("group 1", "records", 15, 14, 14),
                ("account 555000111", "amount", 22, 46599, 46599),
                ("account 555000111", "records", 22, 5, 5),
                ("group 2", "amount", 23, 46599, 46599),
                ("group 2", "accounts", 23, 1, 1),
                ("group 2", "records", 23, 7, 7),
                ("file", "amount", 24, 414149, 414149),
                ("file", "groups", 24, 2, 2),
                ("file", "records", 24, 23, 23),
            ]
        );
    }

    #[test]
    fn newline_delimited_file() {
        let (rows, checks) = good("good_newline_delimited.bai", &Bai2Options::default());
        assert_eq!(
            summary(&rows),
            [
                (5, "88", "450.00", "2026-11-17", "ACH1001"),
                (6, "321", "250.00", "2026-11-17", "ACH1002"),
            ]
        );
        assert_eq!(
            shown_checks(&checks),
            [
                ("account 246813579", "amount", 9, 80000, 80000),
                ("account 246813579", "records", 9, 7, 7),
                ("group 1", "amount", 10, 80000, 80000),
                ("group 1", "accounts", 10, 1, 1),
                ("group 1", "records", 10, 9, 9),
                ("file", "amount", 11, 80000, 80000),
                ("file", "groups", 11, 1, 1),
                ("file", "records", 11, 11, 11),
            ]
        );
    }

    #[test]
    fn account_totals_may_include_the_summary_amounts() {
        let (rows, checks) = good("totals_include_summary.bai", &Bai2Options::default());
        assert_eq!(
            summary(&rows),
            [
                (4, "612", "350.00", "2026-11-16", "ACH2001"),
                (5, "44", "250.00", "2026-11-16", "ACH2002"),
                (8, "9", "120.00", "2026-11-16", "ACH2003"),
            ]
        );
        assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
        // +800000 - 25000 + 60000 of summaries, 60000 of details.
        assert_eq!(checks[0].computed, 895000);
        assert_eq!(checks[2].computed, 24000);
    }

    #[test]
    fn a_file_keeps_to_one_way_of_totalling_accounts() {
        let text = "01,1,2,261120,0200,1,,,2/\n02,1,2,1,261120,,USD,2/\n\
            03,111,USD,010,500000,,/\n16,165,1000,0,R1,5/\n49,501000,3/\n\
            03,222,USD,010,700000,,/\n16,165,2000,0,R2,6/\n49,2000,3/\n\
            98,503000,2,8/\n99,503000,1,10/\n";
        assert_eq!(
            error_of("mixed.bai", text.as_bytes()),
            "mixed.bai:8: account 222 amount: stated 20.00, computed 7020.00 (counting the 03 summary amounts; 20.00 for the 16 details only)"
        );
        let details_only = text.replace("49,501000,3/", "49,1000,3/");
        assert_eq!(
            error_of(
                "x.bai",
                details_only
                    .replace("49,2000,3/", "49,702000,3/")
                    .as_bytes()
            ),
            "x.bai:8: account 222 amount: stated 7020.00, computed 20.00 (the 16 details only; 7020.00 counting the 03 summary amounts)"
        );
    }

    #[test]
    fn wrong_totals_are_file_errors() {
        for (name, message) in [
            (
                "wrong_account_total.bai",
                "wrong_account_total.bai:6: account 123456789 amount: stated 1500.00, computed 1400.00",
            ),
            (
                "wrong_group_total.bai",
                "wrong_group_total.bai:7: group 1 amount: stated 1450.00, computed 1400.00",
            ),
            (
                "wrong_file_total.bai",
                "wrong_file_total.bai:8: file amount: stated 1500.00, computed 1400.00",
            ),
            (
                "wrong_record_count.bai",
                "wrong_record_count.bai:6: account 123456789 records: stated 5, computed 4",
            ),
        ] {
            assert_eq!(fixture_error(name), message);
        }
    }

    #[test]
    fn structural_errors_name_the_line_and_record() {
        for (name, message) in [
            (
                "missing_trailer.bai",
                "missing_trailer.bai:7: the file ends without its 99 file trailer; it may be truncated",
            ),
            (
                "truncated.bai",
                "truncated.bai:5: the file ends inside account 123456789 of group 1, without its 49, 98 and 99 trailers; it may be truncated",
            ),
            (
                "detail_outside_account.bai",
                "detail_outside_account.bai:6: a 16 transaction detail outside an account (no 03 account identifier before it): \"16,165,40000,0,ACH3002,77,LOAN 77/\"",
            ),
            (
                "bad_amount.bai",
                "bad_amount.bai:5: amount \"4000O\" of the 16 transaction detail is not an unsigned whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00): \"16,165,4000O,0,ACH3002,77,LOAN 77/\"",
            ),
        ] {
            assert_eq!(fixture_error(name), message);
        }
    }

    const HEAD: &str = "01,1,2,261120,0200,1,,,2/\n02,1,2,1,261120,,USD,2/\n";

    #[test]
    fn more_structural_errors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"88,LOAN 5/\n",
                "x.bai:1: an 88 continuation with no record before it to continue: \"88,LOAN 5/\"",
            ),
            (
                b"\n\n",
                "x.bai: the file is empty; expected a BAI2 file beginning with a 01 file header",
            ),
            (
                b"loan,amount,date\n",
                "x.bai:1: the file does not begin with a 01 file header; is this a BAI2 file?: \"loan,amount,date\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n17,1/\n",
                "x.bai:2: unknown record code \"17\" (BAI2 records are 01, 02, 03, 16, 49, 88, 98 and 99): \"17,1/\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n02,1,2,1,261131,,USD,2/\n",
                "x.bai:2: as-of date \"261131\" in the 02 group header is not a valid YYMMDD date: \"02,1,2,1,261131,,USD,2/\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n98,0,0,1/\n",
                "x.bai:2: a 98 group trailer outside a group (no 02 group header before it): \"98,0,0,1/\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n99,0,0,2/\n99,0,0,2/\n",
                "x.bai:3: a record after the 99 file trailer: \"99,0,0,2/\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n99,0,0\n",
                "x.bai:2: the record does not end with / as the 01 file header does; the file may be truncated: \"99,0,0\"",
            ),
            (
                b"01,1,2,261120,0200,1,,,2/\n99,0,0,2/ 98\n",
                "x.bai:2: text after the record's closing /: \"99,0,0,2/ 98\"",
            ),
        ];
        for (bytes, message) in cases {
            assert_eq!(error_of("x.bai", bytes), *message);
        }
        let in_account = |records: &str| format!("{HEAD}03,9,USD/\n{records}");
        for (records, message) in [
            (
                "16,165,100,X,R,5,T/\n",
                "x.bai:4: 16 transaction detail: unknown funds type \"X\" (BAI2 funds types are 0, 1, 2, S, V, D and Z): \"16,165,100,X,R,5,T/\"",
            ),
            (
                "16,165,100,D,two,0,100,R,5/\n",
                "x.bai:4: 16 transaction detail: number of distributions \"two\" of funds type D is not a whole number: \"16,165,100,D,two,0,100,R,5/\"",
            ),
            (
                "16,1650,100,0,R,5/\n",
                "x.bai:4: type code \"1650\" of the 16 transaction detail is not a number of up to 3 digits: \"16,1650,100,0,R,5/\"",
            ),
            (
                "16,165,-100,0,R,5/\n",
                "x.bai:4: amount \"-100\" of the 16 transaction detail is not an unsigned whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00): \"16,165,-100,0,R,5/\"",
            ),
            (
                "16,165,99999999999999999999,0,R,5/\n",
                "x.bai:4: amount \"99999999999999999999\" of the 16 transaction detail is not an unsigned whole number (BAI2 amounts are digits with implied decimals, e.g. 150000 for 1500.00): \"16,165,99999999999999999999,0,R,5/\"",
            ),
            (
                "16,165,9000000000000000000,0,R,5/\n16,165,9000000000000000000,0,R,5/\n",
                "x.bai:5: the amounts add up past what payimport can count (more than 92 quadrillion): \"16,165,9000000000000000000,0,R,5/\"",
            ),
            (
                "49,x,2/\n",
                "x.bai:4: account control total \"x\" in the 49 account trailer is not a whole number: \"49,x,2/\"",
            ),
            (
                "03,8,USD/\n",
                "x.bai:4: a 03 account identifier inside account 9 (its 49 account trailer is missing): \"03,8,USD/\"",
            ),
            (
                "98,0,1,4/\n",
                "x.bai:4: a 98 group trailer inside account 9 (its 49 account trailer is missing): \"98,0,1,4/\"",
            ),
        ] {
            assert_eq!(error_of("x.bai", in_account(records).as_bytes()), message);
        }
        let e = error_of("x.bai", format!("{HEAD}03,9,KWD/\n").as_bytes());
        assert!(
            e.starts_with("x.bai:3: 03 account identifier: unsupported currency code \"KWD\"; payimport reads amounts in USD, CAD,"),
            "{e}"
        );
    }

    #[test]
    fn latin1_is_a_file_error_naming_the_line() {
        let mut bytes = format!("{HEAD}03,9,USD/\n").into_bytes();
        bytes.extend_from_slice(b"16,165,100,0,R,5,JOS\xc9 PAYMENT/\n");
        assert_eq!(
            error_of("x.bai", &bytes),
            "x.bai:4: the line is not UTF-8 text (BAI2 files are plain ASCII): byte 0xC9 at column 21"
        );
    }

    #[test]
    fn an_endless_line_is_refused_without_reading_it_all() {
        let mut bytes = b"01,1,2,261120,0200,1,,,2/\n16,".to_vec();
        bytes.resize(MAX_RECORD_BYTES * 3, b'7');
        assert_eq!(
            error_of("x.bai", &bytes),
            "x.bai:2: the line is longer than 1048576 bytes; this is not a BAI2 file"
        );
    }

    #[test]
    fn warn_mode_reads_on_and_records_the_failure() {
        let (rows, error, checks) = read_fixture(
            "wrong_account_total.bai",
            &Bai2Options::default(),
            ControlTotals::Warn,
        );
        assert_eq!(error, None);
        assert_eq!(loans(&rows), ["482", "77"]);
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| !c.matches())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            failing,
            ["account 123456789 amount: stated 1500.00, computed 1400.00"]
        );
        assert_eq!(checks.len(), 8);
        // Enforce mode records the checks made up to the failure too.
        let (rows, _, checks) = read_fixture(
            "wrong_record_count.bai",
            &Bai2Options::default(),
            ControlTotals::Enforce,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            shown_checks(&checks),
            [
                ("account 123456789", "amount", 6, 140000, 140000),
                ("account 123456789", "records", 6, 5, 4),
            ]
        );
    }

    #[test]
    fn loan_from_bank_reference() {
        let options = Bai2Options {
            loan_from: LoanFrom::BankReference,
            loan_pattern: None,
        };
        let (rows, _) = good("good.bai", &options);
        assert_eq!(
            loans(&rows),
            [
                "ACH0001", "ACH0002", "ACH0003", "ACH0004", "ACH0006", "ACH0007", "ACH0008"
            ]
        );
    }

    #[test]
    fn loan_from_a_pattern_in_the_text() {
        let (rows, _) = good("good.bai", &text_options(r"LOAN\s*#?\s*(\d+)"));
        assert_eq!(loans(&rows), ["482", "17", "903", "256", "1000", "", ""]);
        // The whole text: `/` and `,` kept, 88 continuations joined by a space.
        let (rows, _) = good("good.bai", &text_options("^(.*)$"));
        assert_eq!(
            loans(&rows),
            [
                "LOAN 482 PAYMENT",
                "PAYMENT FOR LOAN 17 INV 11/2026, ACME CO",
                "SMITH, JOHN LOAN #903 NOV INSTALLMENT",
                "ACH CREDIT LOAN 256",
                "LOAN 1000",
                "NO CUSTOMER REFERENCE",
                "",
            ]
        );
        let (rows, _) = good("good_newline_delimited.bai", &text_options("^(.*)$"));
        assert_eq!(
            loans(&rows),
            ["LOAN 88 NOVEMBER", "ONLINE PMT 11/17, REF 7 CONTINUED TEXT"]
        );
    }

    #[test]
    fn continuations_may_split_a_detail_anywhere() {
        let text = format!(
            "{HEAD}03,9,USD/\n16,165,1000,V,261119,\n88,0900,BR1\n88,42,PAID\n88,IN FULL/\n49,1000,6/\n98,1000,1,8/\n99,1000,1,10/\n"
        );
        let (rows, error, _) = run(
            "x.bai",
            text.as_bytes(),
            &text_options("(.*)"),
            ControlTotals::Enforce,
        );
        assert_eq!(error, None);
        assert_eq!(
            summary(&rows),
            [(4, "PAID IN FULL", "10.00", "2026-11-20", "BR1")]
        );
        let (rows, _, _) = run(
            "x.bai",
            text.as_bytes(),
            &Bai2Options::default(),
            ControlTotals::Enforce,
        );
        assert_eq!(loans(&rows), ["42"]);
    }

    #[test]
    fn zero_decimal_currency_and_summary_funds_types() {
        let text = format!(
            "{HEAD}03,777,JPY,010,5000,,S,1000,2000,2000,015,-6000,,D,2,0,3000,1,3000,072,,,V,261119,0800/\n\
             16,175,150000,0,R1,31/\n49,149000,3/\n98,149000,1,5/\n99,149000,1,7/\n"
        );
        let (rows, error, checks) = run(
            "x.bai",
            text.as_bytes(),
            &Bai2Options::default(),
            ControlTotals::Enforce,
        );
        assert_eq!(error, None);
        assert_eq!(summary(&rows), [(4, "31", "150000.00", "2026-11-20", "R1")]);
        assert!(checks.iter().all(ControlCheck::matches), "{checks:?}");
    }

    #[test]
    fn options_from_toml() {
        let parse = |s: &str| toml::from_str::<Bai2Options>(s);
        assert_eq!(parse("").unwrap(), Bai2Options::default());
        assert_eq!(
            Bai2Options::default().loan_from,
            LoanFrom::CustomerReference
        );
        assert_eq!(
            parse("loan_from = \"bank_reference\"").unwrap().loan_from,
            LoanFrom::BankReference
        );
        let o = parse("loan_from = \"text\"\nloan_pattern = 'LOAN\\s*#?\\s*(\\d+)'").unwrap();
        assert_eq!(o.loan_pattern.as_deref(), Some(r"LOAN\s*#?\s*(\d+)"));
        assert_eq!(o.validate(), Ok(()));
        let e = parse("loan_form = \"text\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `loan_form`"), "{e}");
        let e = parse("loan_from = \"memo\"").unwrap_err().to_string();
        assert!(e.contains("unknown variant `memo`"), "{e}");

        let invalid = |s: &str| parse(s).unwrap().validate().unwrap_err();
        assert_eq!(
            invalid("loan_from = \"text\""),
            "`loan_pattern` is required with loan_from = \"text\": a regular expression whose one capture group is the loan, e.g. \"LOAN\\\\s*#?\\\\s*(\\\\d+)\""
        );
        assert_eq!(
            invalid("loan_pattern = '(\\d+)'"),
            "`loan_pattern` is only used with loan_from = \"text\", but loan_from is \"customer_reference\""
        );
        assert_eq!(
            invalid("loan_from = \"text\"\nloan_pattern = 'LOAN \\d+'"),
            "`loan_pattern` \"LOAN \\\\d+\" must have exactly one capture group (the loan), it has 0"
        );
        assert_eq!(
            invalid("loan_from = \"text\"\nloan_pattern = '(LOAN) (\\d+)'"),
            "`loan_pattern` \"(LOAN) (\\\\d+)\" must have exactly one capture group (the loan), it has 2"
        );
        assert_eq!(
            invalid("loan_from = \"text\"\nloan_pattern = 'LOAN (\\d+'"),
            "`loan_pattern` \"LOAN (\\\\d+\" is not a valid regular expression: unclosed group"
        );
        let e = Bai2Reader::new(
            "x.bai".into(),
            &b""[..],
            &parse("loan_from = \"text\"").unwrap(),
            TYPES,
            ControlTotals::Enforce,
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .starts_with("x.bai: bai2 options: `loan_pattern` is required"),
            "{e}"
        );
    }

    #[test]
    fn no_panic_on_broken_input() {
        let seeds = [
            fixture("good.bai"),
            fixture("good_newline_delimited.bai"),
            fixture("totals_include_summary.bai"),
        ];
        const ALPHABET: &[u8] = b",,,///0123456789\n\r 88DSVZ16\xff\xc3";
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for case in 0..400 {
            let seed = &seeds[case % seeds.len()];
            let mut bytes = seed.clone();
            match case % 5 {
                0 => bytes.truncate(next() % (seed.len() + 1)),
                1 => {
                    for _ in 0..1 + next() % 8 {
                        let at = next() % bytes.len();
                        bytes[at] = ALPHABET[next() % ALPHABET.len()];
                    }
                }
                2 => {
                    for _ in 0..1 + next() % 8 {
                        let at = next() % (bytes.len() + 1);
                        bytes.insert(at, ALPHABET[next() % ALPHABET.len()]);
                    }
                }
                3 => {
                    let at = next() % bytes.len();
                    let len = next() % (bytes.len() - at + 1);
                    bytes.drain(at..at + len);
                }
                _ => {
                    bytes = (0..next() % 300)
                        .map(|_| ALPHABET[next() % ALPHABET.len()])
                        .collect();
                }
            }
            for mode in [ControlTotals::Enforce, ControlTotals::Warn] {
                let mut reader = Bai2Reader::new(
                    "fuzz.bai".into(),
                    bytes.as_slice(),
                    &text_options(r"(\d+)"),
                    TYPES,
                    mode,
                )
                .unwrap();
                let mut items = 0;
                while let Some(item) = reader.next() {
                    items += 1;
                    assert!(items < 10_000, "case {case} does not end");
                    if item.is_err() {
                        assert!(
                            reader.next().is_none(),
                            "case {case} goes on after an error"
                        );
                        break;
                    }
                }
            }
        }
    }
}
