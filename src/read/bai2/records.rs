//! BAI2 records as text: physical lines gathered into logical records, split into fields; the
//! fields of a 16 across its continuations ([`Detail`]); and the parsing of the values in them.

use chrono::NaiveDate;

use crate::money::Cents;

/// One physical line, trimmed.
pub(super) struct Part {
    pub(super) line: u64,
    pub(super) text: String,
}

/// A logical record: a physical record and its 88 continuations.
pub(super) struct Record {
    pub(super) parts: Vec<Part>,
    pub(super) bytes: usize,
}

/// A field of a logical record: the part it is in, and its trimmed text.
pub(super) type Field<'a> = (usize, &'a str);

/// The fields of a 16, gathered across its continuations: the fixed fields, then the text.
#[derive(Default)]
pub(super) struct Detail {
    /// Type code, amount, funds type, the funds type's own fields, bank and customer reference.
    fixed: Vec<(usize, String)>,
    /// `None` until the text field has begun.
    text: Option<String>,
}

impl Detail {
    /// Takes the body of one physical record (the 16 or an 88 after it).
    pub(super) fn feed(&mut self, body: &str, part: usize) -> Result<(), String> {
        if let Some(text) = &mut self.text {
            push_text(text, body);
            return Ok(());
        }
        let mut rest = body;
        loop {
            if self.fixed.len() >= self.needed()? {
                let mut text = String::new();
                push_text(&mut text, rest);
                self.text = Some(text);
                return Ok(());
            }
            if rest.is_empty() {
                return Ok(());
            }
            match rest.find([',', '/']) {
                Some(at) if rest.as_bytes()[at] == b',' => {
                    self.fixed.push((part, rest[..at].trim().to_string()));
                    rest = &rest[at + 1..];
                }
                Some(at) => {
                    // `/` before the text ends the record; the fields left are defaulted.
                    if !rest[at + 1..].trim().is_empty() {
                        return Err(format!(
                            "text after the / that ends the 16 transaction detail's field {:?}",
                            rest[..at].trim()
                        ));
                    }
                    self.fixed.push((part, rest[..at].trim().to_string()));
                    return Ok(());
                }
                None => {
                    self.fixed.push((part, rest.trim().to_string()));
                    return Ok(());
                }
            }
        }
    }

    /// How many fixed fields precede the text, as far as the fields read so far tell.
    pub(super) fn needed(&self) -> Result<usize, String> {
        let Some((_, funds)) = self.fixed.get(2) else {
            return Ok(3);
        };
        let count = self.fixed.get(3).map_or("", |(_, c)| c.as_str());
        if funds.eq_ignore_ascii_case("D") && self.fixed.len() < 4 {
            return Ok(4);
        }
        let extra =
            funds_fields(funds, count).map_err(|m| format!("16 transaction detail: {m}"))?;
        Ok(extra.saturating_add(5))
    }

    pub(super) fn fixed(&self, index: usize) -> (usize, &str) {
        self.fixed
            .get(index)
            .map_or((0, ""), |(p, f)| (*p, f.as_str()))
    }

    pub(super) fn reference(&self, from_end: usize) -> &str {
        // Until the references are reached the fixed fields are all before them.
        let needed = self.needed().unwrap_or(5);
        needed.checked_sub(from_end).map_or("", |i| self.fixed(i).1)
    }

    pub(super) fn bank_reference(&self) -> &str {
        self.reference(2)
    }

    pub(super) fn customer_reference(&self) -> &str {
        self.reference(1)
    }

    pub(super) fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// Appends one segment of a 16's text: trimmed, one closing `/` dropped, joined by a space.
pub(super) fn push_text(text: &mut String, segment: &str) {
    let segment = segment.trim();
    let segment = segment.strip_suffix('/').unwrap_or(segment).trim_end();
    if segment.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(segment);
}

/// The record code and the body after it (`,` dropped; a `/` right after the code kept).
pub(super) fn split_code(text: &str) -> (&str, &str) {
    match text.find([',', '/']) {
        Some(at) if text.as_bytes()[at] == b',' => (text[..at].trim(), &text[at + 1..]),
        Some(at) => (text[..at].trim(), &text[at..]),
        None => (text.trim(), ""),
    }
}

pub(super) fn field<'a>(fields: &[Field<'a>], index: usize) -> Field<'a> {
    fields.get(index).copied().unwrap_or((0, ""))
}

/// How many fields follow a funds type: S has three amounts, V a value date and time, D a count
/// and that many (days, amount) pairs.
pub(super) fn funds_fields(funds: &str, distributions: &str) -> Result<usize, String> {
    match funds.to_ascii_uppercase().as_str() {
        "" | "0" | "1" | "2" | "Z" => Ok(0),
        "S" => Ok(3),
        "V" => Ok(2),
        "D" => match parse_unsigned(distributions) {
            Some(n) => Ok((n as usize).saturating_mul(2).saturating_add(1)),
            None => Err(format!(
                "number of distributions {distributions:?} of funds type D is not a whole number"
            )),
        },
        other => Err(format!(
            "unknown funds type {other:?} (BAI2 funds types are 0, 1, 2, S, V, D and Z)"
        )),
    }
}

pub(super) fn parse_type_code(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Digits only; `None` if anything else (or too large).
pub(super) fn parse_unsigned(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A summary amount or stated total: optional sign, digits; blank is `Some(None)`.
pub(super) fn parse_signed(s: &str) -> Option<Option<i64>> {
    if s.is_empty() {
        return Some(None);
    }
    let (negative, digits) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let value = parse_unsigned(digits)?;
    Some(Some(if negative { -value } else { value }))
}

/// YYMMDD, the century taken as 20YY.
pub(super) fn parse_as_of(s: &str) -> Option<NaiveDate> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(2000 + n(0..2)? as i32, n(2..4)?, n(4..6)?)
}

/// The implied decimals of the currencies payimport reads.
pub(super) fn currency_decimals(code: &str) -> Result<u32, String> {
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
pub(super) fn minor_to_cents(minor: i64, decimals: u32) -> Option<Cents> {
    match decimals {
        0 => minor.checked_mul(100).map(Cents),
        _ => Some(Cents(minor)),
    }
}

/// A record as quoted in a message, cut short if long.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}", format!("{}...", &text[..at])),
        None => format!("{text:?}"),
    }
}
