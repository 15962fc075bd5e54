//! The lockbox reader (SPEC §3): fixed-width bank lockbox transmissions.

use serde::Deserialize;

/// Where each field sits in the records (1-based, inclusive columns); every position can be
/// overridden per source in `[sources.NAME.layout]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockboxLayout {}

impl LockboxLayout {
    /// Checks the layout; the message is shown under the key `sources.NAME.layout`.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
