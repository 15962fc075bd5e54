//! The camt reader on any bytes: no panic, it ends, and valid payments and returns validate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payimport::read::PaymentReader;
use payimport::read::camt::{CamtOptions, CamtReader, Unit};
use payimport::read::control::ControlTotals;

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the control-total mode, the unit, an account filter and a code filter.
    let (flags, input) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let mode = if flags & 1 == 0 {
        ControlTotals::Enforce
    } else {
        ControlTotals::Warn
    };
    let options = CamtOptions {
        unit: [Unit::Auto, Unit::Detail, Unit::Entry, Unit::Auto][usize::from(flags >> 1 & 3)],
        loan_pattern: Some(r"LOAN\s*#?\s*(\d+)".into()),
        accounts: if flags & 8 == 0 {
            Vec::new()
        } else {
            vec!["123456789".into()]
        },
        bank_transaction_codes: if flags & 16 == 0 {
            Vec::new()
        } else {
            vec!["PMNT-RCDT-*".into(), "165".into()]
        },
        ..CamtOptions::default()
    };
    let Ok(mut reader) = CamtReader::new("fuzz.xml".into(), input, &options, mode) else {
        return;
    };
    common::drain("camt", input.len(), reader.by_ref());
    for c in reader.control_checks() {
        let _ = c.to_string();
    }
});
