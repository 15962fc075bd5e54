//! BAI2 records as text: physical lines gathered into logical records, split into fields; the
//! fields of a 16 across its continuations ([`Detail`]); and the parsing of the values in them.

use chrono::NaiveDate;

/// One physical record: a line, or one of several records on a line, trimmed.
pub(super) struct Part {
    pub(super) line: u64,
    pub(super) text: String,
    /// A 16's text or reference wrapped onto this line without an 88: there is no record code,
    /// the whole text goes on with the 16.
    pub(super) wrap: bool,
}

impl Part {
    /// The part's body: after its record code, or the whole of a wrapped line.
    pub(super) fn body(&self) -> &str {
        if self.wrap {
            &self.text
        } else {
            split_code(&self.text).1
        }
    }
}

/// A logical record: a physical record and its 88 continuations (and, for a 16, the lines its
/// text wrapped onto).
pub(super) struct Record {
    pub(super) parts: Vec<Part>,
    pub(super) bytes: usize,
}

impl Record {
    pub(super) fn is_detail(&self) -> bool {
        split_code(&self.parts[0].text).0 == "16"
    }

    /// Physical records as the file's counts count them: a wrapped line is part of the record
    /// the bank wrote, not a record of its own.
    pub(super) fn records(&self) -> i64 {
        self.parts.iter().filter(|p| !p.wrap).count() as i64
    }
}

/// A field of a logical record: the part it is in, and its trimmed text.
pub(super) type Field<'a> = (usize, &'a str);

/// How a physical record joins the 16 it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Join {
    /// The 16 itself.
    Start,
    /// An 88: it begins a new field (or, once the text has begun, more text).
    Continuation,
    /// A line break in the middle of the record: a field cut by it goes on.
    Wrap,
}

/// The fields of a 16, gathered across its continuations: the fixed fields, then the text.
///
/// Fixed fields are split at `,` only: a `/` inside a bank or customer reference is part of
/// it (docs/formats.md), and how many fixed fields there are is known from the funds type, so whatever
/// follows them is the text.
#[derive(Default)]
pub(super) struct Detail {
    /// Type code, amount, funds type, the funds type's own fields, bank and customer reference.
    fixed: Vec<(usize, String)>,
    /// The last fixed field ended with its line, neither `,` nor `/` after it: a wrapped line
    /// goes on with it.
    open: bool,
    /// `None` until the text field has begun.
    text: Option<String>,
}

impl Detail {
    /// Takes the body of one physical record (the 16, an 88 after it, or a wrapped line).
    pub(super) fn feed(&mut self, body: &str, part: usize, join: Join) -> Result<(), String> {
        if let Some(text) = &mut self.text {
            push_text(text, body, true);
            return Ok(());
        }
        let body = body.trim();
        // The `/` at the end of the physical record ends it (a `/` inside a field does not).
        let (mut rest, closed) = match body.strip_suffix('/') {
            Some(b) => (b, true),
            None => (body, false),
        };
        if join == Join::Wrap
            && self.open
            && let Some((_, last)) = self.fixed.last_mut()
        {
            match rest.find(',') {
                Some(at) => {
                    last.push_str(rest[..at].trim());
                    rest = &rest[at + 1..];
                }
                None => {
                    last.push_str(rest.trim());
                    self.open = !closed;
                    return Ok(());
                }
            }
        }
        self.open = false;
        loop {
            if self.fixed.len() >= self.needed()? {
                let mut text = String::new();
                push_text(&mut text, rest, false);
                self.text = Some(text);
                return Ok(());
            }
            if rest.is_empty() {
                return Ok(());
            }
            match rest.find(',') {
                Some(at) => {
                    self.fixed.push((part, rest[..at].trim().to_string()));
                    rest = &rest[at + 1..];
                }
                None => {
                    self.fixed.push((part, rest.trim().to_string()));
                    self.open = !closed;
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

/// Appends one segment of a 16's text: trimmed, one closing `/` dropped (unless the caller has
/// dropped it already), joined by a space.
pub(super) fn push_text(text: &mut String, segment: &str, strip_slash: bool) {
    let segment = segment.trim();
    let segment = if strip_slash {
        segment.strip_suffix('/').unwrap_or(segment).trim_end()
    } else {
        segment
    };
    if segment.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(segment);
}

/// The record codes BAI2 defines.
const CODES: [&str; 8] = ["01", "02", "03", "16", "49", "88", "98", "99"];

/// Whether `s` begins a record: two digits and `,` (any two digits, so that an unknown code is
/// reported as one), or `88:` which some banks write for `88,`.
pub(super) fn starts_record(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && (b[2] == b',' || (b[2] == b':' && &b[..2] == b"88"))
}

/// Whether a physical line begins with a record rather than going on with a wrapped 16: as
/// [`starts_record`], or a known code alone or right before its `/`.
pub(super) fn line_starts_record(s: &str) -> bool {
    starts_record(s)
        || (s.len() >= 2
            && s.is_char_boundary(2)
            && CODES.contains(&&s[..2])
            && matches!(s.as_bytes().get(2), None | Some(b'/')))
}

/// Where the next record on the same physical line begins (a byte offset into `seg`), if
/// another begins there. `is_detail`: `seg` is (part of) a 16, whose text may hold `/`.
///
/// A record other than a 16 ends at its first `/`; whatever follows is the next record (text
/// that is no record is left for [`super::Bai2Reader`]'s field check to refuse). A 16 (and an
/// 88 or wrapped line going on with it) ends only at a `/` followed by a blank and a known record
/// code with its `,`: text such as `INV 11/16, ACME` must stay text.
pub(super) fn next_record_at(seg: &str, is_detail: bool) -> Option<usize> {
    if is_detail {
        for (i, _) in seg.match_indices('/') {
            let rest = &seg[i + 1..];
            let after = rest.trim_start();
            if after.len() < rest.len() && starts_record(after) && CODES.contains(&&after[..2]) {
                return Some(seg.len() - after.len());
            }
        }
        None
    } else {
        let at = seg.find('/')?;
        let after = seg[at + 1..].trim_start();
        (!after.is_empty() && starts_record(after)).then(|| seg.len() - after.len())
    }
}

/// The record code and the body after it (`,` dropped; a `/` right after the code kept).
pub(super) fn split_code(text: &str) -> (&str, &str) {
    if let Some(body) = text.strip_prefix("88:") {
        return ("88", body);
    }
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
    // Asked several times for every 16: bytes, no upper-cased copy.
    match funds.as_bytes() {
        b"" | b"0" | b"1" | b"2" | b"Z" | b"z" => Ok(0),
        b"S" | b"s" => Ok(3),
        b"V" | b"v" => Ok(2),
        b"D" | b"d" => match parse_unsigned(distributions) {
            Some(n) => Ok((n as usize).saturating_mul(2).saturating_add(1)),
            None => Err(format!(
                "number of distributions {distributions:?} of funds type D is not a whole number"
            )),
        },
        _ => Err(format!(
            "unknown funds type {:?} (BAI2 funds types are 0, 1, 2, S, V, D and Z)",
            funds.to_ascii_uppercase()
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

/// A record as quoted in a message, cut short if long.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}", format!("{}...", &text[..at])),
        None => format!("{text:?}"),
    }
}
