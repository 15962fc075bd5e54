//! What every target does with the rows a reader yields: `payimport::testkit::drain` validates
//! them against the shared test settings and serialises the valid ones into the payload LoanPro
//! receives, so that the fuzzer reaches validation and the payment body too. Any panic is a
//! crash; so is a reader that yields more items than its input has bytes (it would never end)
//! or goes on after an error.

pub use payimport::testkit::drain;
