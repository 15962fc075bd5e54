//! The BAI2 reader on any bytes: no panic, it ends, and valid rows make a payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payimport::read::PaymentReader;
use payimport::read::bai2::{Bai2Options, Bai2Reader, LoanFrom};
use payimport::read::control::ControlTotals;

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the control-total mode and where the loan comes from.
    let (flags, input) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let mode = if flags & 1 == 0 {
        ControlTotals::Enforce
    } else {
        ControlTotals::Warn
    };
    let options = match (flags >> 1) % 3 {
        0 => Bai2Options::default(),
        1 => Bai2Options {
            loan_from: LoanFrom::BankReference,
            loan_pattern: None,
        },
        _ => Bai2Options {
            loan_from: LoanFrom::Text,
            loan_pattern: Some(r"LOAN\s*#?\s*(\d+)".into()),
        },
    };
    let mut reader =
        Bai2Reader::new("fuzz.bai".into(), input, &options, &[165, 175], mode).expect("options");
    common::drain("ach", input.len(), reader.by_ref());
    for c in reader.control_checks() {
        let _ = c.to_string();
    }
});
