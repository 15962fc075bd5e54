//! The allowed range of each number in the settings. Each bound is what an operator could
//! mean: past them a value is a typo (and a huge one made `Duration` panic, a tiny rate hang).

use std::fmt;
use std::ops::RangeInclusive;

/// `loanpro.timeout_secs`: from a tenth of a second (tests use under one) to ten minutes.
pub const TIMEOUT_SECS: RangeInclusive<f64> = 0.1..=600.0;
/// `limits.requests_per_second`: one request every ten seconds up to a million a second,
/// which benchmarks use to mean "no limit" (the limiter's period stays above a nanosecond).
pub const REQUESTS_PER_SECOND: RangeInclusive<f64> = 0.1..=1_000_000.0;
/// `limits.concurrency`: requests in flight.
pub const CONCURRENCY: RangeInclusive<i64> = 1..=256;
/// `limits.max_attempts`: per row.
pub const MAX_ATTEMPTS: RangeInclusive<i64> = 1..=100;
/// `limits.settle_secs`: up to an hour before a timed-out request is read back.
pub const SETTLE_SECS: RangeInclusive<f64> = 0.0..=3600.0;
/// `sources.NAME.max_age_days`: a day to ten years.
pub const MAX_AGE_DAYS: RangeInclusive<i64> = 1..=3650;

/// Checks that a number is in its range (NaN and infinities are not); the message gives the
/// range, in `unit`, and the value found.
pub fn check_range<T: PartialOrd + fmt::Debug>(
    value: T,
    range: &RangeInclusive<T>,
    unit: &str,
) -> Result<(), String> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "must be from {:?} to {:?}{unit}, got {value:?}",
            range.start(),
            range.end()
        ))
    }
}
