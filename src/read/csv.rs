//! The CSV reader (docs/formats.md): a header row, columns mapped by name, rows streamed one at a time.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::{FileError, PaymentReader, Position, RawAmount, RawFields, RawReturn, RawRow};

/// Which CSV header holds each field (a source's `[sources.NAME.columns]`); omitted fields have
/// their default names.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "NamedColumns")]
pub struct Columns {
    pub loan: String,
    pub amount: String,
    pub date: String,
    pub reference: String,
    pub payment_method_id: String,
    pub payment_type_id: String,
    pub extra: String,
    pub info: String,
    /// The columns of a return file (`kind = "returns"`, docs/returns.md).
    pub return_code: String,
    pub original_reference: String,
    pub original_key: String,
    pub reverse_reason: String,
    pub comments: String,
    /// The fields the settings name a header for: such a column must be in the file, optional
    /// field or not (docs/states.md), or the rows would silently change their keys.
    pub named: Vec<&'static str>,
}

/// `[sources.NAME.columns]` as written: `None` for a field the settings leave to its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedColumns {
    loan: Option<String>,
    amount: Option<String>,
    date: Option<String>,
    reference: Option<String>,
    payment_method_id: Option<String>,
    payment_type_id: Option<String>,
    extra: Option<String>,
    info: Option<String>,
    return_code: Option<String>,
    original_reference: Option<String>,
    original_key: Option<String>,
    reverse_reason: Option<String>,
    comments: Option<String>,
}

impl From<NamedColumns> for Columns {
    fn from(n: NamedColumns) -> Self {
        let mut c = Columns::default();
        for (field, given, slot) in [
            ("loan", n.loan, &mut c.loan),
            ("amount", n.amount, &mut c.amount),
            ("date", n.date, &mut c.date),
            ("reference", n.reference, &mut c.reference),
            (
                "payment_method_id",
                n.payment_method_id,
                &mut c.payment_method_id,
            ),
            ("payment_type_id", n.payment_type_id, &mut c.payment_type_id),
            ("extra", n.extra, &mut c.extra),
            ("info", n.info, &mut c.info),
            ("return_code", n.return_code, &mut c.return_code),
            (
                "original_reference",
                n.original_reference,
                &mut c.original_reference,
            ),
            ("original_key", n.original_key, &mut c.original_key),
            ("reverse_reason", n.reverse_reason, &mut c.reverse_reason),
            ("comments", n.comments, &mut c.comments),
        ] {
            if let Some(header) = given {
                *slot = header;
                c.named.push(field);
            }
        }
        c
    }
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            loan: "loan".into(),
            amount: "amount".into(),
            date: "date".into(),
            reference: "reference".into(),
            payment_method_id: "payment_method_id".into(),
            payment_type_id: "payment_type_id".into(),
            extra: "extra".into(),
            info: "info".into(),
            return_code: "return_code".into(),
            original_reference: "original_reference".into(),
            original_key: "original_key".into(),
            reverse_reason: "reverse_reason".into(),
            comments: "comments".into(),
            named: Vec::new(),
        }
    }
}

impl Columns {
    /// The header configured for `field` (a name of [`Columns::named`]).
    fn header(&self, field: &str) -> &str {
        match field {
            "loan" => &self.loan,
            "amount" => &self.amount,
            "date" => &self.date,
            "reference" => &self.reference,
            "payment_method_id" => &self.payment_method_id,
            "payment_type_id" => &self.payment_type_id,
            "extra" => &self.extra,
            "info" => &self.info,
            "return_code" => &self.return_code,
            "original_reference" => &self.original_reference,
            "original_key" => &self.original_key,
            "reverse_reason" => &self.reverse_reason,
            _ => &self.comments,
        }
    }
}

/// Streams the rows of one CSV file.
pub struct CsvReader<R: Read> {
    file: Arc<str>,
    reader: csv::Reader<LineCounting<R>>,
    newlines: Arc<Mutex<Newlines>>,
    map: ColumnMap,
    record: csv::ByteRecord,
    /// The number of cells in the header row: a row may have fewer, but never more that hold text.
    width: usize,
    /// The line of the header row.
    header_line: u64,
    /// Rows returned so far: a file with none is refused.
    rows: u64,
    done: bool,
}

/// The index of each field's column in the file.
struct ColumnMap {
    loan: usize,
    amount: usize,
    date: usize,
    reference: Option<usize>,
    payment_method_id: Option<usize>,
    payment_type_id: Option<usize>,
    extra: Option<usize>,
    info: Option<usize>,
    /// A return file's columns; `None` for a payment file.
    ret: Option<ReturnColumns>,
}

/// The index of each return field's column (all optional).
struct ReturnColumns {
    code: Option<usize>,
    original_reference: Option<usize>,
    original_key: Option<usize>,
    reverse_reason: Option<usize>,
    comments: Option<usize>,
}

impl<R: Read> CsvReader<R> {
    /// Reads the header row and maps the configured columns onto it.
    pub fn new(
        file: Arc<str>,
        input: R,
        columns: &Columns,
        delimiter: u8,
    ) -> Result<Self, FileError> {
        Self::open(file, input, columns, delimiter, false)
    }

    /// A reader of a return file (docs/returns.md): every row is a return, with the return columns.
    pub fn returns(
        file: Arc<str>,
        input: R,
        columns: &Columns,
        delimiter: u8,
    ) -> Result<Self, FileError> {
        Self::open(file, input, columns, delimiter, true)
    }

    fn open(
        file: Arc<str>,
        input: R,
        columns: &Columns,
        delimiter: u8,
        returns: bool,
    ) -> Result<Self, FileError> {
        // LF alone ends a record (a CR before it is trimmed off with the cell's blanks): with the
        // default CR-or-LF terminator, the csv crate numbers every row of a CRLF file one line short.
        let newlines = Arc::new(Mutex::new(Newlines::default()));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .has_headers(false)
            .from_reader(LineCounting {
                inner: input,
                offset: 0,
                line: 1,
                line_len: 0,
                bom: true,
                quotes: Quotes::new(delimiter),
                newlines: newlines.clone(),
            });
        // Blank lines above the header are skipped, as they are between rows.
        let mut header = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut header) {
                Ok(true) if is_blank(&header) => continue,
                Ok(true) => break,
                Ok(false) => {
                    return Err(FileError::new(
                        &file,
                        None,
                        "the file is empty; expected a header row",
                    ));
                }
                Err(e) => return Err(csv_error(&file, e)),
            }
        }
        let line = start_line(&reader, &newlines, &header);
        let names: Vec<String> = header
            .iter()
            .map(|h| {
                std::str::from_utf8(h)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| not_utf8(&file, line))
            })
            .collect::<Result<_, _>>()?;
        let find = |field: &str, wanted: &str| -> Result<Option<usize>, FileError> {
            let mut hits = names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.eq_ignore_ascii_case(wanted.trim()));
            let first = hits.next().map(|(i, _)| i);
            if let Some((i, _)) = hits.next() {
                return Err(FileError::new(
                    &file,
                    Some(line),
                    format!(
                        "header {wanted:?} (field `{field}`) appears twice, in columns {} and {}",
                        first.unwrap_or(0) + 1,
                        i + 1
                    ),
                ));
            }
            Ok(first)
        };
        let required = |field: &str, wanted: &str| -> Result<usize, FileError> {
            find(field, wanted)?.ok_or_else(|| {
                FileError::new(
                    &file,
                    Some(line),
                    format!(
                        "no column {wanted:?} for the required field `{field}`; the header has {}{}",
                        names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "),
                        header_hint(&names, delimiter)
                    ),
                )
            })
        };
        let header_list = || {
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // A column the settings name is required, optional field or not: without it the rows
        // would be read without their reference (say), and their keys would change.
        for &field in &columns.named {
            let wanted = columns.header(field);
            if find(field, wanted)?.is_none() {
                return Err(FileError::new(
                    &file,
                    Some(line),
                    format!(
                        "the setting `columns.{field} = {wanted:?}` names a column the header does not have; the header has {}",
                        header_list()
                    ),
                ));
            }
        }
        // A payments file read as returns, or returns read as payments, would move money the
        // wrong way (docs/states.md): the columns that only one kind of file has decide.
        if returns {
            if find("return_code", &columns.return_code)?.is_none() {
                return Err(FileError::new(
                    &file,
                    Some(line),
                    format!(
                        "this returns source (kind = \"returns\") requires a column {:?} (`return_code`), and the header has none: is this a payments file? the header has {}",
                        columns.return_code,
                        header_list()
                    ),
                ));
            }
        } else {
            for (field, wanted) in [
                ("return_code", &columns.return_code),
                ("original_key", &columns.original_key),
            ] {
                if let Some(i) = find(field, wanted)? {
                    return Err(FileError::new(
                        &file,
                        Some(line),
                        format!(
                            "the header has a column {:?} (`{field}`, column {}), which only a returns file has: a payments source refuses it; import the file with a source of kind = \"returns\"",
                            names[i],
                            i + 1
                        ),
                    ));
                }
            }
        }
        let map = ColumnMap {
            loan: required("loan", &columns.loan)?,
            amount: required("amount", &columns.amount)?,
            date: required("date", &columns.date)?,
            reference: find("reference", &columns.reference)?,
            payment_method_id: find("payment_method_id", &columns.payment_method_id)?,
            payment_type_id: find("payment_type_id", &columns.payment_type_id)?,
            extra: find("extra", &columns.extra)?,
            info: find("info", &columns.info)?,
            ret: if returns {
                Some(ReturnColumns {
                    code: find("return_code", &columns.return_code)?,
                    original_reference: find("original_reference", &columns.original_reference)?,
                    original_key: find("original_key", &columns.original_key)?,
                    reverse_reason: find("reverse_reason", &columns.reverse_reason)?,
                    comments: find("comments", &columns.comments)?,
                })
            } else {
                None
            },
        };
        Ok(CsvReader {
            file,
            reader,
            newlines,
            map,
            record: csv::ByteRecord::new(),
            width: names.len(),
            header_line: line,
            rows: 0,
            done: false,
        })
    }

    /// The line the current record starts on.
    fn start_line(&self) -> u64 {
        start_line(&self.reader, &self.newlines, &self.record)
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            if !self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.file, e))?
            {
                if self.rows == 0 {
                    // A CSV states no totals, so a transfer cut short after the header looks like
                    // a day without payments: refuse it, for a person to look at.
                    return Err(FileError::new(
                        &self.file,
                        Some(self.header_line),
                        "the file has a header row but no payment rows; it may have been cut short in transfer",
                    ));
                }
                return Ok(None);
            }
            let line = self.start_line();
            // Spreadsheets leave rows of empty cells at the end of an export; they are no payment.
            if is_blank(&self.record) {
                continue;
            }
            // A cell beyond the header is a shifted row: an unquoted `1,234.50` puts `1` in the
            // amount column and `234.50` past the last one. Sending it would post the wrong
            // amount, so the file is refused; empty cells there (trailing commas) are harmless.
            if let Some((i, extra)) = self
                .record
                .iter()
                .enumerate()
                .skip(self.width)
                .find(|(_, c)| !c.iter().all(u8::is_ascii_whitespace))
            {
                return Err(FileError::new(
                    &self.file,
                    Some(line),
                    format!(
                        "the row has {} cells but the header only {}, and cell {} holds {:?}: a comma inside an unquoted value (such as 1,234.50) shifts the cells; quote that value",
                        self.record.len(),
                        self.width,
                        i + 1,
                        shown(&String::from_utf8_lossy(extra))
                    ),
                ));
            }
            self.rows += 1;
            let cell = |i: usize| -> Result<String, FileError> {
                let bytes = self.record.get(i).unwrap_or_default();
                std::str::from_utf8(bytes)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| not_utf8(&self.file, line))
            };
            let optional = |i: Option<usize>| -> Result<Option<String>, FileError> {
                Ok(match i {
                    Some(i) => Some(cell(i)?).filter(|s| !s.is_empty()),
                    None => None,
                })
            };
            let m = &self.map;
            let fields = RawFields {
                loan: cell(m.loan)?,
                amount: RawAmount::Text(cell(m.amount)?),
                date: cell(m.date)?,
                reference: optional(m.reference)?.unwrap_or_default(),
                payment_method_id: optional(m.payment_method_id)?,
                payment_type_id: optional(m.payment_type_id)?,
                extra: optional(m.extra)?,
                info: optional(m.info)?,
                ret: match &m.ret {
                    None => None,
                    Some(r) => Some(Box::new(RawReturn {
                        code: optional(r.code)?.unwrap_or_default(),
                        original_reference: optional(r.original_reference)?.unwrap_or_default(),
                        original_key: optional(r.original_key)?.unwrap_or_default(),
                        reverse_reason: optional(r.reverse_reason)?,
                        comments: optional(r.comments)?,
                        trace_reference: false,
                    })),
                },
            };
            return Ok(Some(RawRow {
                pos: Position {
                    file: self.file.clone(),
                    line,
                },
                fields,
            }));
        }
    }
}

impl<R: Read> Iterator for CsvReader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::until_file_error(self, |r| &mut r.done, Self::next_row)
    }
}

/// The byte offsets of the newlines read from the input but not yet counted, and the count of
/// those before them: bounded by the csv reader's read-ahead, not by the file.
#[derive(Default)]
struct Newlines {
    counted: u64,
    pending: VecDeque<u64>,
}

impl Newlines {
    /// How many newlines lie before byte `offset`. Offsets only grow between calls.
    fn before(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&o| o < offset) {
            self.pending.pop_front();
            self.counted += 1;
        }
        self.counted
    }
}

/// The longest line a payment CSV may have: rows are short, and a longer line is a broken or
/// wrong file (a binary, an unterminated quote), to be refused before it fills memory. A quoted
/// cell spanning lines is held to the same bound.
pub const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Passes the input through, noting where its newlines are and refusing what no payment CSV
/// holds: an overlong line or quoted cell, a NUL byte, a quote never closed.
struct LineCounting<R> {
    inner: R,
    offset: u64,
    /// The 1-based line of the next byte.
    line: u64,
    line_len: u64,
    /// The bytes so far are (the start of) a UTF-8 BOM.
    bom: bool,
    quotes: Quotes,
    newlines: Arc<Mutex<Newlines>>,
}

/// Why [`LineCounting`] stopped the input: carried through the csv crate's I/O error so the
/// [`FileError`] can name the line.
#[derive(Debug)]
struct Refusal {
    line: u64,
    message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for Refusal {}

fn refuse(line: u64, message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, Refusal { line, message })
}

/// Tracks whether the input is inside a quoted cell, as the csv crate's parser does (quote
/// doubling, no escape character), so that a quote never closed is seen: the parser itself
/// would take the rest of the file as one cell and say nothing.
struct Quotes {
    delimiter: u8,
    state: QuoteState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a cell (and of the file): a quote here opens a quoted cell.
    CellStart,
    /// In a cell that did not start with a quote: quotes are plain text.
    Unquoted,
    /// In a quoted cell opened on `line`, `len` bytes ago.
    Quoted { line: u64, len: u64 },
    /// Just after a quote inside a quoted cell: the close, or the first of a doubled quote.
    QuoteInQuoted { line: u64, len: u64 },
}

impl Quotes {
    fn new(delimiter: u8) -> Self {
        Quotes {
            delimiter,
            state: QuoteState::CellStart,
        }
    }

    /// Moves past byte `b` on `line`; `Err` when a quoted cell grows past the line bound.
    fn step(&mut self, b: u8, line: u64) -> Result<(), String> {
        use QuoteState::*;
        let boundary = b == self.delimiter || b == b'\n';
        self.state = match self.state {
            CellStart if b == b'"' => Quoted { line, len: 0 },
            CellStart | Unquoted if boundary => CellStart,
            CellStart | Unquoted => Unquoted,
            Quoted { line, len } | QuoteInQuoted { line, len } if len >= MAX_LINE_BYTES => {
                return Err(format!(
                    "the quoted cell opened on line {line} runs on for more than {} KiB; is its closing quote missing?",
                    MAX_LINE_BYTES / 1024
                ));
            }
            Quoted { line, len } if b == b'"' => QuoteInQuoted { line, len: len + 1 },
            Quoted { line, len } => Quoted { line, len: len + 1 },
            QuoteInQuoted { line, len } if b == b'"' => Quoted { line, len: len + 1 },
            QuoteInQuoted { .. } if boundary => CellStart,
            QuoteInQuoted { .. } => Unquoted,
        };
        Ok(())
    }

    /// At the end of the input: the line of a quoted cell still open.
    fn unclosed(&self) -> Option<u64> {
        match self.state {
            QuoteState::Quoted { line, .. } => Some(line),
            _ => None,
        }
    }
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(line) = self.quotes.unclosed()
        {
            return Err(refuse(
                line,
                "a quoted cell opened on this line is never closed: a closing quote is missing, and the rest of the file would be read as one cell".into(),
            ));
        }
        let mut newlines = self.newlines.lock().expect("newlines");
        for (i, b) in buf[..n].iter().enumerate() {
            let at = self.offset + i as u64;
            // The csv crate drops a UTF-8 BOM at the very start; so does the quote tracking.
            if at < 3 && self.bom && *b == b"\xEF\xBB\xBF"[at as usize] {
                continue;
            }
            self.bom = false;
            if *b == 0 {
                return Err(refuse(
                    self.line,
                    "the line holds a NUL byte: this is a binary file or UTF-16 text, not a UTF-8 CSV; save it as UTF-8".into(),
                ));
            }
            self.quotes
                .step(*b, self.line)
                .map_err(|m| refuse(self.line, m))?;
            if *b == b'\n' {
                newlines.pending.push_back(at);
                self.line += 1;
                self.line_len = 0;
            } else {
                self.line_len += 1;
                if self.line_len > MAX_LINE_BYTES {
                    return Err(refuse(
                        self.line,
                        format!(
                            "the line is longer than {} KiB; this is not a payment file",
                            MAX_LINE_BYTES / 1024
                        ),
                    ));
                }
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// A cell's text for a message: trimmed, and cut after 40 characters.
fn shown(cell: &str) -> String {
    let cell = cell.trim();
    match cell.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &cell[..at]),
        None => cell.to_string(),
    }
}

/// Whether every cell of a record is blank.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace))
}

/// The line a record starts on. The csv crate numbers a record from where the previous one
/// ended, before the blank lines it skips, so count instead: the line of the record's last
/// byte (from the newlines the input held before it) less the line breaks inside the record.
fn start_line<R: Read>(
    reader: &csv::Reader<LineCounting<R>>,
    newlines: &Mutex<Newlines>,
    record: &csv::ByteRecord,
) -> u64 {
    let end = reader.position().byte();
    let last_line = 1 + newlines
        .lock()
        .expect("newlines")
        .before(end.saturating_sub(1));
    let inside: u64 = record
        .iter()
        .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
        .sum();
    last_line.saturating_sub(inside).max(1)
}

/// A hint for a header that has none of the expected columns because the file is cut into
/// cells or lines differently than expected.
fn header_hint(names: &[String], delimiter: u8) -> String {
    if names.len() == 1 {
        for (sep, name) in [(b';', "';'"), (b'\t', "tabs"), (b'|', "'|'"), (b',', "','")] {
            if sep != delimiter && names[0].as_bytes().contains(&sep) {
                return format!(
                    "; the cells seem to be separated by {name}: set `delimiter` for this source"
                );
            }
        }
    }
    String::new()
}

/// A CSV file states no control totals.
impl<R: Read> PaymentReader for CsvReader<R> {}

fn not_utf8(file: &Arc<str>, line: u64) -> FileError {
    FileError::new(
        file,
        Some(line),
        "the text is not UTF-8 (the file may be Latin-1 or UTF-16); save it as UTF-8",
    )
}

fn csv_error(file: &Arc<str>, e: csv::Error) -> FileError {
    if let csv::ErrorKind::Io(io) = e.kind()
        && let Some(r) = io.get_ref().and_then(|r| r.downcast_ref::<Refusal>())
    {
        return FileError::new(file, Some(r.line), r.message.clone());
    }
    let line = e.position().map(|p| p.line());
    FileError::new(file, line, format!("cannot read CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8], columns: &Columns) -> Result<Vec<RawRow>, FileError> {
        CsvReader::new("f.csv".into(), text, columns, b',')?.collect()
    }

    #[test]
    fn default_headers_bom_crlf_and_quotes() {
        let text = b"\xEF\xBB\xBFloan,amount,date,reference\r\n12,\"$1,234.50\",2026-11-20,\"chk, 1042\"\r\n\r\n,,,\r\n7,5,11/20/2026,\r\n";
        let rows = read(text, &Columns::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].pos.line, 2);
        assert_eq!(rows[0].fields.loan, "12");
        assert_eq!(rows[0].fields.amount, RawAmount::Text("$1,234.50".into()));
        assert_eq!(rows[0].fields.reference, "chk, 1042");
        assert_eq!(rows[1].pos.line, 5);
        assert_eq!(rows[1].fields.reference, "");
        assert_eq!(rows[1].fields.extra, None);
        let lines = |text: &[u8]| -> Vec<u64> {
            let rows = read(text, &Columns::default()).unwrap();
            rows.iter().map(|r| r.pos.line).collect()
        };
        assert_eq!(
            lines(b"loan,amount,date\n1,2,2026-01-01\n\n3,4,2026-01-01\n"),
            [2, 4]
        );
        assert_eq!(
            lines(b"loan,amount,date\r\n\r\n1,2,x\r\n\r\n\r\n3,4,x"),
            [3, 6]
        );
        assert_eq!(
            lines(b"loan,amount,date,reference\n1,2,x,\"two\nlines\"\n3,4,x,y\n"),
            [2, 4]
        );
        assert_eq!(lines(b"loan,amount,date\n\n\n1,2,x"), [4]);
    }

    #[test]
    fn mapped_headers_are_matched_without_case_or_blanks() {
        let columns = Columns {
            loan: "Loan Number".into(),
            amount: "Amount".into(),
            date: "Payment Date".into(),
            reference: "Check Number".into(),
            ..Columns::default()
        };
        let rows = read(b" loan number ,AMOUNT,Payment Date,Check Number,extra\n5,10,2026-01-02,99,payment.extra.tx.classic\n", &columns).unwrap();
        assert_eq!(rows[0].fields.loan, "5");
        assert_eq!(rows[0].fields.reference, "99");
        assert_eq!(
            rows[0].fields.extra.as_deref(),
            Some("payment.extra.tx.classic")
        );
    }

    #[test]
    fn missing_or_duplicate_header_is_a_file_error() {
        let e = read(b"loan,date\n1,2026-01-01\n", &Columns::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv:1: no column \"amount\" for the required field `amount`; the header has \"loan\", \"date\""
        );
        let e = read(b"loan,amount,date,Amount\n", &Columns::default()).unwrap_err();
        assert!(
            e.to_string().contains("appears twice, in columns 2 and 4"),
            "{e}"
        );
        let e = read(b"", &Columns::default()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn an_overlong_line_is_a_file_error() {
        let mut text = b"loan,amount,date\n1,2,2026-01-01\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        let e = read(&text, &Columns::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv:3: the line is longer than 64 KiB; this is not a payment file"
        );
    }

    #[test]
    fn a_quote_never_closed_refuses_the_file_instead_of_swallowing_rows() {
        // The csv crate would read the rest of the file into the reference of line 2 and post it.
        let e = read(
            b"loan,amount,date,reference\n1,10,2026-11-20,\"chk 1\n2,11,2026-11-20,r2\n",
            &Columns::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv:2: a quoted cell opened on this line is never closed: a closing quote is missing, and the rest of the file would be read as one cell"
        );
        // A quoted cell that runs on over many short lines is bounded like a line.
        let mut text =
            b"loan,amount,date,reference\n1,10,2026-11-20,r1\n2,11,2026-11-20,\"memo\n".to_vec();
        for _ in 0..10_000 {
            text.extend_from_slice(b"more memo\n");
        }
        text.extend_from_slice(b"\"\n");
        let e = read(&text, &Columns::default()).unwrap_err();
        assert_eq!(e.line, Some(6557), "{e}");
        assert_eq!(
            e.message,
            "the quoted cell opened on line 3 runs on for more than 64 KiB; is its closing quote missing?"
        );
        // Quotes that close, doubled quotes, quotes inside an unquoted cell and a BOM are fine.
        let rows = read(
            b"\xEF\xBB\xBF\"loan\",amount,date,reference\n1,10,2026-11-20,\"a \"\"b\"\" c\"\n2,11,2026-11-20,x\"y\n",
            &Columns::default(),
        )
        .unwrap();
        let refs: Vec<_> = rows.iter().map(|r| r.fields.reference.as_str()).collect();
        assert_eq!(refs, ["a \"b\" c", "x\"y"]);
    }

    #[test]
    fn nul_bytes_refuse_the_file() {
        let e = read(
            b"loan,amount,date,reference\n1,10,2026-11-20,r\x001\n",
            &Columns::default(),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("NUL byte"), "{e}");
        // UTF-16 without a BOM is ASCII with NULs between: refused on line 1.
        let utf16: Vec<u8> = "loan,amount,date\n".bytes().flat_map(|b| [0, b]).collect();
        let e = read(&utf16, &Columns::default()).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("UTF-16"), "{e}");
    }

    #[test]
    fn a_cell_beyond_the_header_refuses_the_file() {
        // `1,234.50` unquoted: the amount column holds 1, and 234.50 falls off the end.
        let e = read(
            b"loan,date,amount\n1,2026-11-20,10\n7,2026-11-20,1,234.50\n",
            &Columns::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv:3: the row has 4 cells but the header only 3, and cell 4 holds \"234.50\": a comma inside an unquoted value (such as 1,234.50) shifts the cells; quote that value"
        );
        // Empty cells past the header (trailing commas) and short rows are left to validation.
        let rows = read(
            b"loan,amount,date\n1,10,2026-11-20,, \n2,11\n",
            &Columns::default(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].fields.date, "");
    }

    #[test]
    fn a_file_without_payment_rows_is_refused() {
        for text in [
            &b"loan,amount,date\n"[..],
            b"loan,amount,date",
            b"loan,amount,date\n,,\n  , ,\n\n",
        ] {
            let e = read(text, &Columns::default()).unwrap_err();
            assert_eq!(
                e.to_string(),
                "f.csv:1: the file has a header row but no payment rows; it may have been cut short in transfer"
            );
        }
        // Blank lines above the header are skipped; a file of nothing else is empty.
        let rows = read(b"\n\r\n  \nloan,amount,date\n1,2,x\n", &Columns::default()).unwrap();
        assert_eq!(rows[0].pos.line, 5);
        let e = read(b"\n\r\n   \n", &Columns::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv: the file is empty; expected a header row"
        );
        let e = read(b"\n\nloan,date\n1,x\n", &Columns::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("f.csv:3: no column \"amount\""),
            "{e}"
        );
    }

    #[test]
    fn a_header_cut_wrongly_says_why() {
        let e = read(b"loan;amount;date\n1;2;x\n", &Columns::default()).unwrap_err();
        assert!(
            e.message.ends_with(
                "; the cells seem to be separated by ';': set `delimiter` for this source"
            ),
            "{e}"
        );
    }

    #[test]
    fn lines_ended_by_a_carriage_return_alone_are_read() {
        let input =
            crate::read::line_ends::LineEnds::new(&b"loan,amount,date\r1,2,x\r\r3,4,y\r"[..]);
        let rows: Vec<RawRow> = CsvReader::new("f.csv".into(), input, &Columns::default(), b',')
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let got: Vec<(u64, &str)> = rows
            .iter()
            .map(|r| (r.pos.line, r.fields.loan.as_str()))
            .collect();
        assert_eq!(got, [(2, "1"), (4, "3")]);
    }

    #[test]
    fn latin1_is_a_file_error_naming_the_line() {
        let e = read(
            b"loan,amount,date,reference\n1,5,2026-01-01,Jos\xe9\n",
            &Columns::default(),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("not UTF-8"));
    }
}
