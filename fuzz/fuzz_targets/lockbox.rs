//! The lockbox reader on any bytes: no panic, it ends, and valid rows make a payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payimport::read::PaymentReader;
use payimport::read::lockbox::{LoanFrom, LockboxLayout, LockboxReader, Span};
use payimport::read::control::ControlTotals;

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the control-total mode and a layout: the default, or one with the
    // loan in the detail record and wide amounts (sums that can overflow i64).
    let (flags, input) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let mode = if flags & 1 == 0 {
        ControlTotals::Enforce
    } else {
        ControlTotals::Warn
    };
    let layout = if flags & 2 == 0 {
        LockboxLayout::default()
    } else {
        LockboxLayout {
            loan_from: LoanFrom::Detail,
            detail_amount: Span::new(8, 26),
            year_pivot: u32::from(flags >> 2) % 101,
            ..LockboxLayout::default()
        }
    };
    let mut reader = LockboxReader::new("fuzz.lbx".into(), input, &layout, mode).expect("layout");
    common::drain("lockbox", input.len(), reader.by_ref());
    for c in reader.control_checks() {
        let _ = c.to_string();
    }
});
