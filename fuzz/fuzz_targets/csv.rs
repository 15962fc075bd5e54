//! The CSV reader on any bytes: no panic, it ends, and valid rows make a payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payimport::read::csv::{Columns, CsvReader};

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the delimiter, as a source may configure one.
    let (delimiter, input) = match data.split_first() {
        Some((b, rest)) if *b & 3 == 1 => (b';', rest),
        Some((b, rest)) if *b & 3 == 2 => (b'\t', rest),
        Some((_, rest)) => (b',', rest),
        None => (b',', data),
    };
    if let Ok(reader) = CsvReader::new("fuzz.csv".into(), input, &Columns::default(), delimiter) {
        common::drain("bank", input.len(), reader);
    }
});
