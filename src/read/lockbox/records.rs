//! A lockbox record as text: its type, the characters in a span of columns, the values read
//! from them, and how a message quotes it.

use chrono::NaiveDate;

use super::Span;
use crate::read::FileError;

/// How much of a record an error message shows.
const SHOWN: usize = 40;

/// The record types, by their column-1 character.
pub(super) fn record_name(kind: char) -> Option<&'static str> {
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

pub(super) fn add(a: i64, b: i64, err: impl FnOnce() -> FileError) -> Result<i64, FileError> {
    a.checked_add(b).ok_or_else(err)
}

/// The characters of `text` in `span`, and whether the span is wholly on the line. A span that
/// starts past the end of the line is empty.
pub(super) fn cut(text: &str, span: Span) -> (&str, bool) {
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
pub(super) fn optional(text: &str, span: Span) -> &str {
    cut(text, span).0
}

/// A YYMMDD date; two-digit years below `pivot` are 20YY, the others 19YY.
pub(super) fn yymmdd(value: &str, pivot: u32) -> Option<NaiveDate> {
    if value.len() != 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |i: usize| value.get(i..i + 2)?.parse::<u32>().ok();
    let yy = part(0)?;
    let year = if yy < pivot { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, part(2)?, part(4)?)
}

/// A record as an error message quotes it: its start, blanks at the end trimmed.
pub(super) fn show(text: &str) -> String {
    let text = text.trim_end();
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        shown.push_str("...");
    }
    format!("{shown:?}")
}
