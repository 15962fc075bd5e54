//! The NACHA ACH return reader (docs/returns.md): 94-column records streamed one line at a time.
//!
//! Records: 1 file header, 5 batch header, 6 entry detail, 7 addenda, 8 batch control, 9 file
//! control, then lines of `9`s that pad the last block. An entry followed by a `99` addenda is a
//! return (one row); one followed by a `98` addenda is a notification of change, counted and
//! never sent; any other entry is no row. Batch and file controls (entry/addenda count, entry
//! hash, debit and credit totals) are checked through [`Controls`].
//!
//! Interpretations:
//! - A line shorter than 94 characters is right-padded with blanks (trailing blanks are what
//!   transfers and editors strip); a file with no line breaks at all is cut into 94-byte
//!   records, numbered as lines in messages (docs/formats.md#nacha-returns).
//! - A line longer than 94 characters (after its CR), a record out of order (a 6 outside a
//!   batch, a 7 after no 6, a second 1), an amount or count that is not digits, or a file
//!   without its 9 is a structural error: the file is refused, naming the line.
//! - Transaction codes ending in 1–4 are credits, 5–9 debits (the tens digit names the account
//!   type), as the NACHA rules number them.
//! - The entry hash is the sum of the entries' 8-digit RDFI routing numbers (columns 4–11), its
//!   last 10 digits.

#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::sync::Arc;

use super::control::{ControlCheck, ControlTotals, Controls, Counted};
use super::{FileError, PaymentReader, Position, RawAmount, RawFields, RawReturn, RawRow};
use crate::money::Cents;

/// The length of a NACHA record.
pub const RECORD: usize = 94;

/// Whether a file's first bytes are records run together without line breaks: a file header
/// (`1`) whose 95th byte begins the next record (`5`, or `9` for a file with no batch).
fn runs_together(head: &[u8]) -> bool {
    head.len() > RECORD
        && head[0] == b'1'
        && matches!(head[RECORD], b'5' | b'9')
        && !head[..RECORD].contains(&b'\n')
}

/// An entry waiting for the record after it, which says whether it is a return.
struct Entry {
    line: u64,
    addenda: bool,
    loan: String,
    cents: i64,
    trace: String,
}

/// Counts and sums of a batch or of the file so far.
#[derive(Default, Clone, Copy)]
struct Sums {
    entries_and_addenda: i64,
    hash: i64,
    debits: i64,
    credits: i64,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.entries_and_addenda += other.entries_and_addenda;
        self.hash += other.hash;
        self.debits += other.debits;
        self.credits += other.credits;
    }
}

/// An open batch.
struct Batch {
    number: String,
    /// The effective entry date, `YYYY-MM-DD` when it is one, else as written.
    date: String,
    sums: Sums,
}

/// Streams the returns of one NACHA file.
pub struct NachaReader<R: BufRead> {
    file: Arc<str>,
    input: R,
    buf: Vec<u8>,
    line: u64,
    controls: Controls,
    started: bool,
    /// The 9 file control has been read: only padding may follow.
    ended: bool,
    batch: Option<Batch>,
    batches: i64,
    sums: Sums,
    entry: Option<Entry>,
    notices: u64,
    done: bool,
    /// The file has no line breaks: its records run together and are cut every 94 bytes.
    unbroken: bool,
}

impl<R: BufRead> NachaReader<R> {
    pub fn new(file: Arc<str>, input: R, mode: ControlTotals) -> Self {
        NachaReader {
            controls: Controls::new(&file, mode),
            file,
            input,
            buf: Vec::with_capacity(128),
            line: 0,
            started: false,
            ended: false,
            batch: None,
            batches: 0,
            sums: Sums::default(),
            entry: None,
            notices: 0,
            done: false,
            unbroken: false,
        }
    }

    fn error(&self, message: impl Into<String>) -> FileError {
        FileError::new(&self.file, Some(self.line), message)
    }

    /// Columns `from..=to` (1-based) of the current record.
    fn field(&self, from: usize, to: usize) -> &str {
        std::str::from_utf8(&self.buf[from - 1..to]).unwrap_or("")
    }

    /// A field of digits as a number; blanks and other characters are a structural error.
    fn number(&self, from: usize, to: usize, what: &str) -> Result<i64, FileError> {
        let text = self.field(from, to);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(format!(
                "{what} (columns {from}-{to}) is {text:?}, not digits"
            )));
        }
        text.parse()
            .map_err(|_| self.error(format!("{what} (columns {from}-{to}) is out of range")))
    }

    /// Reads the next physical line into `buf` without its line ending; `false` at the end.
    fn read_line(&mut self) -> Result<bool, FileError> {
        self.buf.clear();
        let cannot_read = |e: std::io::Error, line| {
            FileError::new(&self.file, Some(line), format!("cannot read: {e}"))
        };
        if self.line == 0 {
            let head = self.input.fill_buf().map_err(|e| cannot_read(e, 1))?;
            let bom = if head.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            };
            self.unbroken = runs_together(&head[bom..]);
            if self.unbroken {
                self.input.consume(bom);
            }
        }
        if self.unbroken {
            let mut record = std::io::Read::take(&mut self.input, RECORD as u64);
            let n = std::io::Read::read_to_end(&mut record, &mut self.buf)
                .map_err(|e| cannot_read(e, self.line + 1))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            return Ok(true);
        }
        // Bounded: a NACHA line is 94 bytes; a longer one is no NACHA file.
        let mut limited = std::io::Read::take(&mut self.input, 4096);
        let n = limited.read_until(b'\n', &mut self.buf).map_err(|e| {
            FileError::new(&self.file, Some(self.line + 1), format!("cannot read: {e}"))
        })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n == 4096 {
            return Err(self.error("the line is longer than 4096 bytes; not a NACHA file"));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        Ok(true)
    }

    /// The row (or nothing) the entry waiting gives now that the record after it is `next`.
    fn close_entry(&mut self, next: Option<(&str, String, String)>) -> Option<RawRow> {
        let entry = self.entry.take()?;
        let (type_code, code, original) = next?;
        match type_code {
            "99" => Some(RawRow {
                pos: Position {
                    file: self.file.clone(),
                    line: entry.line,
                },
                fields: RawFields {
                    loan: entry.loan,
                    amount: RawAmount::Cents(Cents(entry.cents)),
                    date: self
                        .batch
                        .as_ref()
                        .map(|b| b.date.clone())
                        .unwrap_or_default(),
                    reference: entry.trace,
                    ret: Some(Box::new(RawReturn {
                        code,
                        original_reference: original,
                        trace_reference: true,
                        ..RawReturn::default()
                    })),
                    ..RawFields::default()
                },
            }),
            _ => {
                self.notices += 1;
                None
            }
        }
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            if !self.read_line()? {
                if !self.started {
                    return Err(FileError::new(
                        &self.file,
                        None,
                        "the file is empty; expected a NACHA file header (record type 1)",
                    ));
                }
                if self.entry.as_ref().is_some_and(|e| e.addenda) {
                    return Err(
                        self.error("the file ends after an entry that announces an addenda")
                    );
                }
                if !self.ended {
                    return Err(self.error(
                        "the file ends without its file control (record type 9); it may have been cut short in transfer",
                    ));
                }
                return Ok(None);
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if self.ended {
                if self.buf.iter().all(|&b| b == b'9') {
                    continue; // block padding
                }
                return Err(self.error("a record after the file control (record type 9)"));
            }
            // Trailing blanks stripped by a transfer or an editor: put back.
            if self.buf.len() < RECORD && self.buf.is_ascii() {
                self.buf.resize(RECORD, b' ');
            }
            if self.buf.len() != RECORD || !self.buf.is_ascii() {
                return Err(self.error(format!(
                    "a NACHA record is {RECORD} ASCII characters; this line has {} bytes",
                    self.buf.len()
                )));
            }
            let kind = self.buf[0];
            if !self.started && kind != b'1' {
                return Err(
                    self.error("the file does not begin with a file header (record type 1)")
                );
            }
            // An entry announcing an addenda must be followed by it.
            if kind != b'7' && self.entry.as_ref().is_some_and(|e| e.addenda) {
                let line = self.entry.as_ref().map_or(0, |e| e.line);
                return Err(self.error(format!(
                    "the entry on line {line} announces an addenda (column 79 is 1), but record type {} follows it",
                    kind as char
                )));
            }
            if kind != b'7' {
                // An entry without an addenda is no return.
                self.entry = None;
            }
            match kind {
                b'1' => {
                    if self.started {
                        return Err(self.error("a second file header (record type 1)"));
                    }
                    self.started = true;
                }
                b'5' => {
                    if self.batch.is_some() {
                        return Err(self.error(
                            "a batch header (record type 5) inside a batch that has no batch control (8) yet",
                        ));
                    }
                    let raw = self.field(70, 75).to_string();
                    self.batch = Some(Batch {
                        number: self.field(88, 94).trim().to_string(),
                        date: yymmdd(&raw).unwrap_or(raw),
                        sums: Sums::default(),
                    });
                }
                b'6' => {
                    if self.batch.is_none() {
                        return Err(self.error("an entry detail (record type 6) outside a batch"));
                    }
                    let tx = self.number(2, 3, "the transaction code")?;
                    let routing = self.number(4, 11, "the RDFI routing number")?;
                    let cents = self.number(30, 39, "the amount")?;
                    let addenda = match self.field(79, 79) {
                        "0" => false,
                        "1" => true,
                        other => {
                            return Err(self.error(format!(
                                "the addenda record indicator (column 79) is {other:?}, not 0 or 1"
                            )));
                        }
                    };
                    let entry = Entry {
                        line: self.line,
                        addenda,
                        loan: self.field(40, 54).trim().to_string(),
                        cents,
                        trace: self.field(80, 94).trim().to_string(),
                    };
                    let b = &mut self.batch.as_mut().expect("checked above").sums;
                    b.entries_and_addenda += 1;
                    b.hash += routing;
                    match tx % 10 {
                        1..=4 => b.credits += cents,
                        _ => b.debits += cents,
                    }
                    self.entry = Some(entry);
                }
                b'7' => {
                    if self.entry.is_none() {
                        return Err(self.error(
                            "an addenda (record type 7) that follows no entry detail announcing one",
                        ));
                    }
                    let type_code = self.field(2, 3).to_string();
                    if let Some(b) = self.batch.as_mut() {
                        b.sums.entries_and_addenda += 1;
                    }
                    let next = match type_code.as_str() {
                        "99" | "98" => Some((
                            if type_code == "99" { "99" } else { "98" },
                            self.field(4, 6).trim().to_string(),
                            self.field(7, 21).trim().to_string(),
                        )),
                        _ => None,
                    };
                    if let Some(row) = self.close_entry(next) {
                        return Ok(Some(row));
                    }
                }
                b'8' => {
                    let Some(batch) = self.batch.take() else {
                        return Err(self.error("a batch control (record type 8) outside a batch"));
                    };
                    let scope = format!("batch {}", batch.number);
                    let checks = [
                        self.check(
                            &scope,
                            Stated::Count(Counted::Items),
                            5,
                            10,
                            batch.sums.entries_and_addenda,
                        )?,
                        self.check(
                            &scope,
                            Stated::Count(Counted::EntryHash),
                            11,
                            20,
                            batch.sums.hash % 10_000_000_000,
                        )?,
                        self.check(&scope, Stated::Debits, 21, 32, batch.sums.debits)?,
                        self.check(&scope, Stated::Credits, 33, 44, batch.sums.credits)?,
                    ];
                    self.controls.settle(checks)?;
                    self.sums.add(&batch.sums);
                    self.batches += 1;
                }
                b'9' => {
                    if self.batch.is_some() {
                        return Err(self.error(
                            "the file control (record type 9) inside a batch that has no batch control (8)",
                        ));
                    }
                    let s = self.sums;
                    let checks = [
                        self.check("file", Stated::Count(Counted::Batches), 2, 7, self.batches)?,
                        self.check(
                            "file",
                            Stated::Count(Counted::Items),
                            14,
                            21,
                            s.entries_and_addenda,
                        )?,
                        self.check(
                            "file",
                            Stated::Count(Counted::EntryHash),
                            22,
                            31,
                            s.hash % 10_000_000_000,
                        )?,
                        self.check("file", Stated::Debits, 32, 43, s.debits)?,
                        self.check("file", Stated::Credits, 44, 55, s.credits)?,
                    ];
                    self.controls.settle(checks)?;
                    self.ended = true;
                }
                other => {
                    return Err(self.error(format!(
                        "record type {:?} is not a NACHA record (1, 5, 6, 7, 8 or 9)",
                        other as char
                    )));
                }
            }
        }
    }

    /// A control total stated in columns `from..=to`, checked against `computed`.
    fn check(
        &self,
        scope: &str,
        what: Stated,
        from: usize,
        to: usize,
        computed: i64,
    ) -> Result<(ControlCheck, String), FileError> {
        let stated = self.number(from, to, &format!("the {scope} {}", what.name()))?;
        Ok((
            ControlCheck {
                scope: scope.to_string(),
                what: match what {
                    Stated::Count(counted) => counted,
                    Stated::Debits | Stated::Credits => Counted::Amount,
                },
                line: self.line,
                stated,
                computed,
            },
            match what {
                Stated::Debits => " (debit total)".to_string(),
                Stated::Credits => " (credit total)".to_string(),
                Stated::Count(_) => String::new(),
            },
        ))
    }
}

/// What a control field of a NACHA batch or file states: a count, or one side of the amounts
/// (each checked, and recorded, as an amount).
#[derive(Clone, Copy)]
enum Stated {
    Count(Counted),
    Debits,
    Credits,
}

impl Stated {
    fn name(self) -> &'static str {
        match self {
            Stated::Count(counted) => counted.as_str(),
            Stated::Debits => "debits",
            Stated::Credits => "credits",
        }
    }
}

/// `YYMMDD` as `20YY-MM-DD`, if it is a date.
fn yymmdd(raw: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(&format!("20{raw}"), "%Y%m%d").ok()?;
    (raw.len() == 6).then(|| crate::payment::iso_date(d))
}

impl<R: BufRead> Iterator for NachaReader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::until_file_error(self, |r| &mut r.done, Self::next_row)
    }
}

impl<R: BufRead> PaymentReader for NachaReader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }

    fn notices(&self) -> u64 {
        self.notices
    }
}

/// One return for [`return_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnEntry {
    pub loan: String,
    pub cents: i64,
    /// `R01`, ...; with `notice`, the change code (`C01`, ...).
    pub code: String,
    pub original_trace: String,
    pub trace: String,
    /// A notification of change (a `98` addenda) in place of a return.
    pub notice: bool,
}

/// A well-formed NACHA return file of one batch (effective date `yymmdd`) holding `entries`,
/// with every control total right: for tests, fuzz seeds and the demo.
pub fn return_file(yymmdd: &str, entries: &[ReturnEntry]) -> String {
    let pad = |s: &str, n: usize| format!("{s:<n$.n$}");
    let mut lines = vec![pad(
        &format!(
            "101 091000019 0910000191{yymmdd}0000A094101{}{}",
            pad("FIRST BANK", 23),
            pad("PAYIMPORT SERVICER", 23)
        ),
        RECORD,
    )];
    lines.push(format!(
        "5225{}{}1234567890PPD{}{}{yymmdd}   1091000010000001",
        pad("PAYIMPORT", 16),
        pad("", 20),
        pad("RETURNS", 10),
        pad("", 6),
    ));
    let (mut hash, mut debits, mut credits, mut items) = (0i64, 0i64, 0i64, 0i64);
    for (i, e) in entries.iter().enumerate() {
        let routing = 9100001 + i as i64;
        hash += routing;
        items += 2;
        // A return of a debit (26); every entry here is one.
        debits += e.cents;
        lines.push(format!(
            "626{routing:08}1{account}{cents:010}{loan}{name}  1{trace}",
            account = pad(&format!("ACCT{i}"), 17),
            cents = e.cents,
            loan = pad(&e.loan, 15),
            name = pad("BORROWER", 22),
            trace = pad(&e.trace, 15),
        ));
        let addenda_type = if e.notice { "98" } else { "99" };
        lines.push(format!(
            "7{addenda_type}{code}{orig}{death}{rdfi}{info}{trace}",
            code = pad(&e.code, 3),
            orig = pad(&e.original_trace, 15),
            death = pad("", 6),
            rdfi = "09100001",
            info = pad("", 44),
            trace = pad(&e.trace, 15),
        ));
    }
    let _ = &mut credits;
    lines.push(format!(
        "8225{items:06}{hash:010}{debits:012}{credits:012}1234567890{blank}091000010000001",
        hash = hash % 10_000_000_000,
        blank = pad("", 25),
    ));
    let records = lines.len() + 1;
    lines.push(format!(
        "9000001{blocks:06}{items:08}{hash:010}{debits:012}{credits:012}{blank}",
        blocks = records.div_ceil(10),
        hash = hash % 10_000_000_000,
        blank = pad("", 39),
    ));
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(RECORD));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
