//! The CSV reader (SPEC §3): a header row, columns mapped by name, rows streamed one at a time.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

use super::{FileError, PaymentReader, Position, RawFields, RawRow};
use crate::settings::Columns;

/// Streams the rows of one CSV file.
pub struct CsvReader<R: Read> {
    file: Arc<str>,
    reader: csv::Reader<LineCounting<R>>,
    newlines: Arc<Mutex<Newlines>>,
    map: ColumnMap,
    record: csv::ByteRecord,
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
}

impl<R: Read> CsvReader<R> {
    /// Reads the header row and maps the configured columns onto it.
    pub fn new(
        file: Arc<str>,
        input: R,
        columns: &Columns,
        delimiter: u8,
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
                line_len: 0,
                newlines: newlines.clone(),
            });
        let mut header = csv::ByteRecord::new();
        match reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => {
                return Err(FileError::new(
                    &file,
                    None,
                    "the file is empty; expected a header row",
                ));
            }
            Err(e) => return Err(csv_error(&file, e)),
        }
        let line = header.position().map(|p| p.line()).unwrap_or(1);
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
        let required =
            |field: &str, wanted: &str| -> Result<usize, FileError> {
                find(field, wanted)?.ok_or_else(|| {
                FileError::new(
                    &file,
                    Some(line),
                    format!(
                        "no column {wanted:?} for the required field `{field}`; the header has {}",
                        names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
            };
        let map = ColumnMap {
            loan: required("loan", &columns.loan)?,
            amount: required("amount", &columns.amount)?,
            date: required("date", &columns.date)?,
            reference: find("reference", &columns.reference)?,
            payment_method_id: find("payment_method_id", &columns.payment_method_id)?,
            payment_type_id: find("payment_type_id", &columns.payment_type_id)?,
            extra: find("extra", &columns.extra)?,
            info: find("info", &columns.info)?,
        };
        Ok(CsvReader {
            file,
            reader,
            newlines,
            map,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    /// The line a record starts on. The csv crate numbers a record from where the previous one
    /// ended, before the blank lines it skips, so count instead: the line of the record's last
    /// byte (from the newlines the input held before it) less the line breaks inside the record.
    fn start_line(&self) -> u64 {
        let end = self.reader.position().byte();
        let last_line = 1 + self
            .newlines
            .lock()
            .expect("newlines")
            .before(end.saturating_sub(1));
        let inside: u64 = self
            .record
            .iter()
            .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
            .sum();
        last_line.saturating_sub(inside).max(1)
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            if !self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.file, e))?
            {
                return Ok(None);
            }
            let line = self.start_line();
            // Spreadsheets leave rows of empty cells at the end of an export; they are no payment.
            if self
                .record
                .iter()
                .all(|c| c.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
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
                amount: cell(m.amount)?,
                date: cell(m.date)?,
                reference: optional(m.reference)?.unwrap_or_default(),
                payment_method_id: optional(m.payment_method_id)?,
                payment_type_id: optional(m.payment_type_id)?,
                extra: optional(m.extra)?,
                info: optional(m.info)?,
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
/// wrong file (a binary, an unterminated quote), to be refused before it fills memory.
pub const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Passes the input through, noting where its newlines are and refusing an overlong line.
struct LineCounting<R> {
    inner: R,
    offset: u64,
    line_len: u64,
    newlines: Arc<Mutex<Newlines>>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.lock().expect("newlines");
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                newlines.pending.push_back(self.offset + i as u64);
                self.line_len = 0;
            } else {
                self.line_len += 1;
                if self.line_len > MAX_LINE_BYTES {
                    let line = 1 + newlines.counted + newlines.pending.len() as u64;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "line {line} is longer than {} KiB; this is not a payment file",
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
        assert_eq!(rows[0].fields.amount, "$1,234.50");
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
        assert!(e.message.contains("line 3 is longer than 64 KiB"), "{e}");
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
