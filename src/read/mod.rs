//! Readers turn a bank file into [`RawRow`]s, streaming, each with its position in the file.
//!
//! A reader reports two kinds of trouble: a [`FileError`] means the file as a whole cannot be
//! trusted (nothing of it may be staged); anything wrong with one row is left to validation.
//!
//! Readers take their own option types ([`csv::Columns`], [`lockbox::LockboxLayout`],
//! [`bai2::Bai2Options`], [`ControlTotals`]), which the settings file is parsed into; they import
//! nothing above `money` and `payment` (not the settings, not validation), so a reader can be
//! used, tested and fuzzed on its own. Every reader's `next()` is `until_file_error`.

pub mod background;
pub mod bai2;
pub mod camt;
pub mod control;
#[cfg(test)]
mod corpus;
pub mod csv;
pub mod expect;
pub mod line_ends;
pub mod lockbox;
pub mod nacha;

use std::fmt;
use std::sync::Arc;

// A row's amount: text as written, or cents a bank reader decoded (the ledger's type too).
pub use crate::money::Amount as RawAmount;

// The ledger stores the checks a file's reader made; they are part of what a reader yields.
pub use control::{ControlCheck, ControlModes, ControlTotals};

/// Where a row came from: the file as given on the command line, and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: Arc<str>,
    pub line: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One payment as the file states it: cells as text (the amount as text or cents), not yet
/// validated. Optional cells are `None` when the file has no such column or leaves it blank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFields {
    pub loan: String,
    pub amount: RawAmount,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<String>,
    pub payment_type_id: Option<String>,
    pub extra: Option<String>,
    pub info: Option<String>,
    /// Set when the row is a return of an earlier payment (docs/returns.md), not a payment.
    pub ret: Option<Box<RawReturn>>,
}

/// What a return states beyond a payment's fields (docs/returns.md). Empty text means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawReturn {
    /// The return code: an R-code (`R01`), a check-return code, or a BAI2 type code.
    pub code: String,
    /// The reference of the payment returned, as the bank states it (a NACHA original trace
    /// number, a BAI2 customer reference, a CSV cell).
    pub original_reference: String,
    /// The key of the ledger row returned, when the file names it (CSV only).
    pub original_key: String,
    /// A reverse reason for this row, in place of the one its code maps to.
    pub reverse_reason: Option<String>,
    /// A comment for this row, in place of the `comments` template.
    pub comments: Option<String>,
    /// The original reference is a NACHA original trace number: it rarely equals the reference
    /// the payment was logged with, so one that names no payment says nothing (docs/returns.md rule 3).
    pub trace_reference: bool,
}

/// A row read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    pub pos: Position,
    pub fields: RawFields,
}

/// An entry a reader read and skipped as no payment (docs/report.md): a BAI2 detail of a type code
/// that is not a payment, or one in a test, deletion or interim group. Never sent; the ledger
/// keeps it so that the file's tie-out accounts for its amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPayment {
    pub line: u64,
    /// The type code (BAI2), or what the entry is.
    pub code: String,
    /// Its amount, when it could be read.
    pub cents: Option<crate::money::Cents>,
    /// Why it is not a payment.
    pub why: &'static str,
}

/// A problem that makes a whole file unusable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub file: Arc<str>,
    pub line: Option<u64>,
    pub message: String,
}

impl FileError {
    pub fn new(file: &Arc<str>, line: Option<u64>, message: impl Into<String>) -> Self {
        FileError {
            file: file.clone(),
            line,
            message: message.into(),
        }
    }
}

/// A reader of one bank file: rows, then (once the rows are exhausted) the control totals the
/// file stated and what was computed for them. A reader in `enforce` mode turns a mismatch into
/// a [`FileError`] item; in `warn` mode it logs it and goes on.
pub trait PaymentReader: Iterator<Item = Result<RawRow, FileError>> {
    /// Every control total checked so far (complete once the iterator has returned `None`).
    fn control_checks(&self) -> &[ControlCheck] {
        &[]
    }

    /// Entries the file holds that are counted but never sent: NACHA notifications of change
    /// (complete once the iterator has returned `None`).
    fn notices(&self) -> u64 {
        0
    }

    /// Entries read and skipped as no payment, with their amounts (complete once the
    /// iterator has returned `None`).
    fn not_payments(&self) -> &[NotPayment] {
        &[]
    }
}

/// Every reader's [`Iterator::next`]: the reader's next row, until the end or the first file
/// error, after which it yields nothing more, because the rest of the file cannot be trusted.
/// `ended` is the reader's flag for it, `next_row` its reading of one row.
pub(crate) fn until_file_error<T>(
    reader: &mut T,
    ended: fn(&mut T) -> &mut bool,
    next_row: fn(&mut T) -> Result<Option<RawRow>, FileError>,
) -> Option<Result<RawRow, FileError>> {
    if *ended(reader) {
        return None;
    }
    let item = next_row(reader).transpose();
    if matches!(item, None | Some(Err(_))) {
        *ended(reader) = true;
    }
    item
}
