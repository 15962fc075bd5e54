//! payimport: imports bank payment files into LoanPro as log-only payments, exactly once.

pub mod sandbox;
