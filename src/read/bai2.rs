//! The BAI2 reader (SPEC §3): comma-delimited, `/`-terminated bank statement records.

use serde::Deserialize;

/// BAI2 options of a source, `[sources.NAME.bai2]`: where the loan reference comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bai2Options {}

impl Bai2Options {
    /// Checks the options; the message is shown under the key `sources.NAME.bai2`.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
