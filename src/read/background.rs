//! Reading (and validating) a file on a thread of its own, so that parsing overlaps what the
//! caller does with the rows: writing them to the ledger, or printing the dry run.
//!
//! Rows travel in chunks over a bounded channel, so memory stays flat for any file size and the
//! per-row cost of the hand-over is a move into a `Vec`.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use super::{ControlCheck, FileError, NotPayment, PaymentReader, RawRow};

/// Rows per chunk: large enough that the channel costs nothing per row, small enough that
/// the first rows reach the caller at once.
const CHUNK: usize = 1024;
/// Chunks in flight: the reading thread runs at most this far ahead.
const CHUNKS_AHEAD: usize = 4;

enum Message<T> {
    Rows(Vec<T>),
    /// The file ended: the control totals checked (a failed one among them when that is what
    /// stopped the file), and the file error if there was one.
    End(Vec<ControlCheck>, Option<FileError>, u64, Vec<NotPayment>),
}

/// The rows of a file read on another thread, each turned into a `T` there; a file error ends
/// the iteration as the reader's own would.
pub struct Background<T> {
    rx: Receiver<Message<T>>,
    chunk: std::vec::IntoIter<T>,
    checks: Vec<ControlCheck>,
    notices: u64,
    not_payments: Vec<NotPayment>,
    done: bool,
}

/// Starts reading `rows` on a thread of `scope`, applying `each` to every row there.
pub fn spawn<'scope, 'env, T, F>(
    scope: &'scope Scope<'scope, 'env>,
    mut rows: Box<dyn PaymentReader + Send + 'env>,
    mut each: F,
) -> Background<T>
where
    T: Send + 'scope,
    F: FnMut(RawRow) -> T + Send + 'scope,
{
    let (tx, rx) = sync_channel(CHUNKS_AHEAD);
    scope.spawn(move || {
        let Some(ended) = fill(&mut rows, &mut each, &tx) else {
            return; // the caller stopped listening
        };
        let _ = tx.send(Message::End(
            rows.control_checks().to_vec(),
            ended.err(),
            rows.notices(),
            rows.not_payments().to_vec(),
        ));
    });
    Background {
        rx,
        chunk: Vec::new().into_iter(),
        checks: Vec::new(),
        notices: 0,
        not_payments: Vec::new(),
        done: false,
    }
}

/// Sends every row in chunks; `None` when the receiving side has gone away.
fn fill<T, F: FnMut(RawRow) -> T>(
    rows: &mut Box<dyn PaymentReader + Send + '_>,
    each: &mut F,
    tx: &SyncSender<Message<T>>,
) -> Option<Result<(), FileError>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    for row in rows.by_ref() {
        match row {
            Ok(row) => chunk.push(each(row)),
            Err(e) => {
                tx.send(Message::Rows(chunk)).ok()?;
                return Some(Err(e));
            }
        }
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            tx.send(Message::Rows(full)).ok()?;
        }
    }
    tx.send(Message::Rows(chunk)).ok()?;
    Some(Ok(()))
}

impl<T> Background<T> {
    /// The file's control totals (complete once the iteration has ended).
    pub fn control_checks(&self) -> &[ControlCheck] {
        &self.checks
    }

    /// Entries counted but never sent (NACHA notifications of change), once the iteration ended.
    pub fn notices(&self) -> u64 {
        self.notices
    }

    /// Entries read and skipped as no payment, once the iteration ended.
    pub fn not_payments(&self) -> &[NotPayment] {
        &self.not_payments
    }
}

impl<T> Iterator for Background<T> {
    type Item = Result<T, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.chunk.next() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            match self.rx.recv() {
                Ok(Message::Rows(rows)) => self.chunk = rows.into_iter(),
                Ok(Message::End(checks, error, notices, not_payments)) => {
                    self.checks = checks;
                    self.notices = notices;
                    self.not_payments = not_payments;
                    self.done = true;
                    if let Some(e) = error {
                        return Some(Err(e));
                    }
                }
                // The reading thread panicked; the scope passes the panic on when it joins.
                Err(_) => self.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::csv::Columns;
    use crate::read::csv::CsvReader;

    fn reader(text: &'static str) -> Box<dyn PaymentReader + Send> {
        Box::new(
            CsvReader::new("f.csv".into(), text.as_bytes(), &Columns::default(), b',')
                .expect("header"),
        )
    }

    #[test]
    fn rows_arrive_in_order_across_chunks() {
        let mut text = String::from("loan,amount,date\n");
        for i in 0..(CHUNK * 3 + 7) {
            text.push_str(&format!("{i},1.00,2026-11-20\n"));
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        let loans: Vec<String> = std::thread::scope(|s| {
            spawn(s, reader(text), |row| row.fields.loan)
                .collect::<Result<_, _>>()
                .expect("no file error")
        });
        let expected: Vec<String> = (0..(CHUNK * 3 + 7)).map(|i| i.to_string()).collect();
        assert_eq!(loans, expected);
    }

    #[test]
    fn a_file_error_comes_after_the_rows_before_it_and_ends_the_rows() {
        let text =
            "loan,amount,date\n1,1.00,2026-11-20\n2,1.00,2026-11-20,1,234.50\n3,1.00,2026-11-20\n";
        let items: Vec<Result<u64, FileError>> =
            std::thread::scope(|s| spawn(s, reader(text), |row| row.pos.line).collect());
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], Ok(2));
        let e = items[1].as_ref().expect_err("file error");
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn a_caller_that_stops_early_does_not_hang_the_reading_thread() {
        let mut text = String::from("loan,amount,date\n");
        for i in 0..(CHUNK * (CHUNKS_AHEAD + 4)) {
            text.push_str(&format!("{i},1.00,2026-11-20\n"));
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        let first = std::thread::scope(|s| spawn(s, reader(text), |row| row.pos.line).next());
        assert_eq!(first, Some(Ok(2)));
    }
}
