//! Money: [`Cents`], the one amount type of the crate, and its one formatter.
//!
//! Amounts are integer cents from the moment they are read (bank readers hand over cents, CSV
//! text is parsed once by validation) until they are shown or sent; they never pass through
//! `f64`, and never through `Decimal` or text where cents already exist.

use std::fmt;

/// An amount in integer cents (minor units). Negative only in control totals and sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// The sum, or `None` when it would overflow (a broken file's totals, never a real one).
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    /// The sum, saturating: for report totals, where an overflow cannot come from real money.
    pub fn saturating_add(self, other: Cents) -> Cents {
        Cents(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, Cents::saturating_add)
    }
}

/// Two decimals, no grouping, a `-` for negative amounts (also between -0.99 and -0.01): the
/// form LoanPro receives and the ledger, summary and report show.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let text = format!("{sign}{}.{:02}", abs / 100, abs % 100);
        f.pad(&text)
    }
}

impl serde::Serialize for Cents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl rusqlite::ToSql for Cents {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

impl rusqlite::types::FromSql for Cents {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Cents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimals_with_the_sign_kept_below_one() {
        for (cents, shown) in [
            (123_450, "1234.50"),
            (5, "0.05"),
            (0, "0.00"),
            (-50, "-0.50"),
            (-1, "-0.01"),
            (-99, "-0.99"),
            (-100, "-1.00"),
            (-123_456, "-1234.56"),
            (i64::MIN, "-92233720368547758.08"),
            (i64::MAX, "92233720368547758.07"),
        ] {
            assert_eq!(Cents(cents).to_string(), shown, "{cents}");
        }
    }

    #[test]
    fn width_pads_the_whole_amount() {
        assert_eq!(format!("{:>8}", Cents(-50)), "   -0.50");
    }

    #[test]
    fn sums_saturate_and_checked_adds_refuse_overflow() {
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
        assert_eq!(Cents(1).checked_add(Cents(2)), Some(Cents(3)));
        assert_eq!(
            [Cents(i64::MAX), Cents(5)].into_iter().sum::<Cents>(),
            Cents(i64::MAX)
        );
    }
}
