//! Money: [`Cents`], the one amount type of the crate, its one formatter, [`Amount`] (cents or
//! text, as read and as the ledger keeps it), the amount rules every
//! reader and validation share ([`parse_amount`], [`check_cents`]) and the currencies' decimals.
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

/// An amount as read and as the ledger keeps it: integer cents, or text. A reader hands over
/// the cell as written (CSV; validation parses it, once) or the cents it decoded from its own
/// amount field (checked as they are, never passing through text); the ledger keeps valid
/// amounts as cents and one that was never valid as the file gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    /// Text: a cell as written, or an amount that was never valid.
    Text(String),
    /// Integer cents.
    Cents(Cents),
}

impl Amount {
    /// The amount as text: the cell as written, or the cents as [`Cents`] shows them. This is
    /// what messages show and what a rejected row's key is made from.
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Amount::Text(text) => std::borrow::Cow::Borrowed(text),
            Amount::Cents(cents) => std::borrow::Cow::Owned(cents.to_string()),
        }
    }

    /// The amount for totals: text (an invalid amount, in the ledger) counts nothing.
    pub fn cents(&self) -> Cents {
        match self {
            Amount::Cents(c) => *c,
            Amount::Text(_) => Cents::ZERO,
        }
    }
}

impl Default for Amount {
    fn default() -> Self {
        Amount::Text(String::new())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Text(text) => f.pad(text),
            Amount::Cents(cents) => fmt::Display::fmt(cents, f),
        }
    }
}

impl serde::Serialize for Amount {
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

/// The largest amount accepted: anything bigger is a broken file, not a loan payment.
const MAX_INTEGER_DIGITS: usize = 12;

const NEGATIVE: &str = "must be greater than zero (a negative amount is no payment)";
const ZERO: &str = "must be greater than zero";

fn too_large() -> String {
    format!("is too large (more than {MAX_INTEGER_DIGITS} digits before the point)")
}

/// Checks cents a bank reader decoded by the rules [`parse_amount`] applies to text, with the
/// same messages: what the cents show as text would be refused for the same reason.
pub fn check_cents(amount: Cents) -> Result<Cents, String> {
    if amount.0 < 0 {
        return Err(NEGATIVE.into());
    }
    if amount.0 / 100 >= 10_i64.pow(MAX_INTEGER_DIGITS as u32) {
        return Err(too_large());
    }
    if amount == Cents::ZERO {
        return Err(ZERO.into());
    }
    Ok(amount)
}

/// Parses `1234.5`, `1,234.50` or `$1,234.50`: ASCII digits, comma grouping, at most two decimals.
pub fn parse_amount(s: &str) -> Result<Cents, String> {
    const EXPECTED: &str = "expected an amount such as 1234.50, 1,234.50 or $1,234.50";
    if s.is_empty() {
        return Err(EXPECTED.into());
    }
    if s.starts_with('-') || s.starts_with("$-") || (s.starts_with('(') && s.ends_with(')')) {
        return Err(NEGATIVE.into());
    }
    let body = s.strip_prefix('$').unwrap_or(s).trim_start();
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let int_ok = if int.contains(',') {
        let mut groups = int.split(',');
        let first = groups.next().unwrap_or("");
        digits_only(first) && first.len() <= 3 && groups.all(|g| g.len() == 3 && digits_only(g))
    } else {
        digits_only(int) || (int.is_empty() && frac.is_some())
    };
    if !int_ok {
        return Err(EXPECTED.into());
    }
    if let Some(f) = frac {
        if !digits_only(f) {
            return Err(EXPECTED.into());
        }
        if f.len() > 2 {
            return Err("has more than two decimals; cents are the smallest unit".into());
        }
    }
    let int: String = int.chars().filter(|c| *c != ',').collect();
    if int.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
        return Err(too_large());
    }
    // Digits only by now, at most 12 before the point and 2 after: integer cents, exactly.
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| EXPECTED.to_string())?
    };
    let frac = frac.unwrap_or("");
    let hundredths: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| EXPECTED.to_string())? * 10,
        _ => frac.parse().map_err(|_| EXPECTED.to_string())?,
    };
    let amount = Cents(whole * 100 + hundredths);
    if amount == Cents::ZERO {
        return Err(ZERO.into());
    }
    Ok(amount)
}

/// The implied decimals of the currencies payimport reads.
pub fn currency_decimals(code: &str) -> Result<u32, String> {
    const TWO: &[&str] = &[
        "USD", "CAD", "EUR", "GBP", "AUD", "NZD", "CHF", "MXN", "HKD", "SGD", "SEK", "NOK", "DKK",
        "PLN", "CZK", "HUF", "ZAR", "INR", "CNY", "BRL", "ILS", "AED", "SAR", "PHP", "THB", "MYR",
        "TWD", "TRY", "COP", "ARS", "PEN", "RON", "BGN", "QAR",
    ];
    const ZERO: &[&str] = &[
        "JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX", "XAF", "XOF", "XPF", "KMF", "GNF", "RWF",
        "VUV", "DJF", "BIF",
    ];
    let upper = code.to_ascii_uppercase();
    if TWO.contains(&upper.as_str()) {
        Ok(2)
    } else if ZERO.contains(&upper.as_str()) {
        Ok(0)
    } else {
        Err(format!(
            "unsupported currency code {code:?}; payimport reads amounts in {} (two decimals) and {} (no decimals)",
            TWO.join(", "),
            ZERO.join(", ")
        ))
    }
}

/// Minor units of a currency with `decimals` implied decimals (0 or 2) as cents; `None` when
/// they are too many to count in cents.
pub fn minor_to_cents(minor: i64, decimals: u32) -> Option<Cents> {
    match decimals {
        0 => minor.checked_mul(100).map(Cents),
        _ => Some(Cents(minor)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_the_spec_forms() {
        for s in ["1234.5", "1,234.50", "$1,234.50", "$ 1234.50"] {
            assert_eq!(parse_amount(s).unwrap(), Cents(123_450), "{s}");
        }
        assert_eq!(parse_amount(".5").unwrap(), Cents(50));
        for s in [
            "NaN",
            "--5",
            "1.2.3",
            "12,34",
            "$",
            "1234567890123.00",
            "+5",
        ] {
            assert!(parse_amount(s).is_err(), "{s}");
        }
    }

    #[test]
    fn cents_are_checked_as_the_text_they_show_would_be() {
        for cents in [
            1,
            99,
            100,
            123_450,
            99_999_999_999_999,
            100_000_000_000_000,
            100_000_000_000_099,
            i64::MAX,
            0,
            -1,
            -50,
            -123_450,
            i64::MIN,
        ] {
            let c = Cents(cents);
            assert_eq!(check_cents(c), parse_amount(&c.to_string()), "{cents}");
        }
    }

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
