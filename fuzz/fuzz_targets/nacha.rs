//! The NACHA return reader on any bytes: no panic, it ends, and valid returns validate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payimport::read::PaymentReader;
use payimport::read::control::ControlTotals;
use payimport::read::nacha::NachaReader;

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the control-total mode.
    let (flags, input) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let mode = if flags & 1 == 0 {
        ControlTotals::Enforce
    } else {
        ControlTotals::Warn
    };
    let mut reader = NachaReader::new("fuzz.ach".into(), input, mode);
    common::drain("nacha", input.len(), reader.by_ref());
    for c in reader.control_checks() {
        let _ = c.to_string();
    }
    let _ = reader.notices();
});
