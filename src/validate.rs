//! Row validation (docs/formats.md): a [`RawRow`] and the settings become a [`Payment`] or a [`RowError`]
//! that names the position, the field and the value.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::format::{Item, Numeric, Parsed, StrftimeItems};
use chrono::{Days, NaiveDate};

use crate::money::{Cents, check_cents, parse_amount};
use crate::payment::{Key, Payment, Return, push_key_marker};
use crate::read::{Position, RawAmount, RawReturn, RawRow};
use crate::returns::Returns;
use crate::settings::{InfoValues, LoanRef, Payments, Source};

/// Today's local date, against which payment dates are checked. With the `test-hooks` feature
/// (tests only, like `PAYIMPORT_CRASH_AT`), `PAYIMPORT_TODAY=YYYY-MM-DD` pins it, so that
/// fixtures dated November 2026 stay within `max_age_days` for as long as the tests live.
pub fn today() -> NaiveDate {
    #[cfg(feature = "test-hooks")]
    if let Some(pinned) = std::env::var("PAYIMPORT_TODAY")
        .ok()
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
    {
        return pinned;
    }
    chrono::Local::now().date_naive()
}

/// How far ahead of today a payment date may be.
pub const MAX_DAYS_AHEAD: u64 = 7;

/// Why one row cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub pos: Position,
    pub field: &'static str,
    pub value: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: field `{}` ", self.pos, self.field)?;
        if self.value.is_empty() {
            write!(f, "is empty: {}", self.message)
        } else {
            write!(f, "value {:?}: {}", self.value, self.message)
        }
    }
}

impl std::error::Error for RowError {}

/// Validates the rows of one file, numbering identical rows so that each keeps its own key.
pub struct Validator<'a> {
    source: &'a Source,
    payments: &'a Payments,
    today: NaiveDate,
    /// The oldest payment date accepted: `max_age_days` before today.
    earliest: NaiveDate,
    occurrences: Occurrences,
    dates: DateFormats,
    returns: &'a Returns,
}

/// The `[returns]` a validator uses until it is given the settings' own.
static DEFAULT_RETURNS: std::sync::LazyLock<Returns> = std::sync::LazyLock::new(Returns::default);

impl<'a> Validator<'a> {
    /// A validator for one file; `today` bounds how far ahead, and with the source's
    /// `max_age_days` how far back, a payment date may be.
    pub fn new(source: &'a Source, payments: &'a Payments, today: NaiveDate) -> Self {
        Validator {
            source,
            payments,
            today,
            earliest: today
                .checked_sub_days(Days::new(source.max_age_days.into()))
                .unwrap_or(NaiveDate::MIN),
            occurrences: Occurrences::default(),
            // Lockbox and BAI2 readers decode their own date fields and hand over ISO dates.
            dates: match source.format.date_formats() {
                Some(formats) => DateFormats::new(formats),
                None => DateFormats::new(&["%Y-%m-%d".to_string()]),
            },
            returns: &DEFAULT_RETURNS,
        }
    }

    /// Validates return rows by these `[returns]` settings (their reasons).
    pub fn with_returns(mut self, returns: &'a Returns) -> Self {
        self.returns = returns;
        self
    }

    /// Validates rows the ledger kept (`payimport amend`): a date is as the file gave it, or
    /// `YYYY-MM-DD` once it was valid.
    pub fn for_ledger_rows(mut self) -> Self {
        let mut formats: Vec<String> = self.dates.compiled.iter().map(|(f, _)| f.clone()).collect();
        if !formats.iter().any(|f| f == "%Y-%m-%d") {
            formats.push("%Y-%m-%d".into());
        }
        self.dates = DateFormats::new(&formats);
        self
    }

    /// Validates one row; a rejected row still gets a key, from its raw cells.
    pub fn validate(&mut self, row: &RawRow) -> Result<Payment, (Key, RowError)> {
        match self.check(row) {
            Ok(p) => Ok(p),
            Err(e) => {
                let f = &row.fields;
                // Cents are keyed by the text they show, as the bank readers once handed them over.
                let amount = f.amount.as_text();
                let identity = Key::of_rejected(&[&f.loan, &amount, &f.date, &f.reference], 0);
                let n = self.occurrence(identity);
                let key = Key::of_rejected(&[&f.loan, &amount, &f.date, &f.reference], n);
                Err((key, e))
            }
        }
    }

    fn occurrence(&mut self, identity: Key) -> u32 {
        self.occurrences.next(identity)
    }

    fn check(&mut self, row: &RawRow) -> Result<Payment, RowError> {
        let f = &row.fields;
        let err = |field: &'static str, value: &str, message: String| RowError {
            pos: row.pos.clone(),
            field,
            value: value.to_string(),
            message,
        };
        let (loan, loan_id) = match self.source.loan {
            LoanRef::Id => {
                let id = parse_loan_id(&f.loan).map_err(|m| err("loan", &f.loan, m))?;
                (id.to_string(), Some(id))
            }
            LoanRef::DisplayId => {
                if f.loan.is_empty() {
                    return Err(err(
                        "loan",
                        "",
                        "expected a loan number such as LN000123".into(),
                    ));
                }
                (f.loan.clone(), None)
            }
        };
        let amount = match &f.amount {
            RawAmount::Text(text) => parse_amount(text),
            RawAmount::Cents(cents) => check_cents(*cents),
        }
        .map_err(|m| err("amount", &f.amount.as_text(), m))?;
        let date = self
            .dates
            .parse(&f.date)
            .map_err(|m| err("date", &f.date, m))?;
        let latest = self.today + Days::new(MAX_DAYS_AHEAD);
        if date > latest {
            return Err(err(
                "date",
                &f.date,
                format!(
                    "is more than {MAX_DAYS_AHEAD} days in the future (today is {})",
                    self.today
                ),
            ));
        }
        // Every format, bank ones too: a year mistyped (0026) or misread is no payment date.
        if date < self.earliest {
            let days = self.source.max_age_days;
            let unit = if days == 1 { "day" } else { "days" };
            return Err(err(
                "date",
                &f.date,
                format!(
                    "is more than {days} {unit} old (today is {}; the source's max_age_days is {days})",
                    self.today
                ),
            ));
        }
        if let Some(ret) = &f.ret {
            return self.check_return(row, ret, loan, loan_id, amount, date);
        }
        let payment_method_id = match &f.payment_method_id {
            None => self.source.payment_method_id,
            Some(v) => {
                let id = parse_setting_id(v).map_err(|m| err("payment_method_id", v, m))?;
                self.payments
                    .check_method(id)
                    .map_err(|m| err("payment_method_id", v, m))?;
                id
            }
        };
        let payment_type_id = match &f.payment_type_id {
            None => self.source.payment_type_id,
            Some(v) => {
                let id = parse_setting_id(v).map_err(|m| err("payment_type_id", v, m))?;
                self.payments
                    .check_type(id)
                    .map_err(|m| err("payment_type_id", v, m))?;
                id
            }
        };
        let extra = match &f.extra {
            None => self.source.extra.clone(),
            Some(v) => {
                self.payments
                    .check_extra(v)
                    .map_err(|m| err("extra", v, m))?;
                v.clone()
            }
        };

        let identity = Key::of(&loan, amount, date, &f.reference, 0);
        let (key, repeat_of) = match self.occurrence(identity) {
            0 => (identity, None),
            // Twins without a reference are two payments (docs/states.md); with the same reference,
            // the second may be the first delivered twice (docs/states.md).
            n => (
                Key::of(&loan, amount, date, &f.reference, n),
                (!f.reference.trim().is_empty()).then_some(identity),
            ),
        };
        // The info text and its ` [k:KEY]` marker, built in one buffer.
        let mut info = String::with_capacity(96);
        match &f.info {
            Some(text) => info.push_str(text),
            None => self.source.info.render_into(
                &mut info,
                &InfoValues {
                    date: &crate::payment::iso_date(date),
                    source: &self.source.name,
                    reference: &f.reference,
                    file: file_name(&row.pos.file),
                    line: row.pos.line,
                },
            ),
        }
        if !info.is_empty() {
            info.push(' ');
        }
        push_key_marker(&mut info, key);
        Ok(Payment {
            key,
            loan,
            loan_id,
            amount,
            date,
            reference: f.reference.clone(),
            payment_method_id,
            payment_type_id,
            extra,
            info,
            ret: None,
            repeat_of,
        })
    }

    /// The rest of a return row (docs/returns.md): its reason and the key of the original it names.
    fn check_return(
        &mut self,
        row: &RawRow,
        ret: &RawReturn,
        loan: String,
        loan_id: Option<u64>,
        amount: Cents,
        date: NaiveDate,
    ) -> Result<Payment, RowError> {
        let f = &row.fields;
        let err = |field: &'static str, value: &str, message: String| RowError {
            pos: row.pos.clone(),
            field,
            value: value.to_string(),
            message,
        };
        let code = ret.code.trim().to_ascii_uppercase();
        let reverse_reason = self
            .returns
            .reason_for(&code, ret.reverse_reason.as_deref())
            .map_err(|m| {
                err(
                    "reverse_reason",
                    ret.reverse_reason.as_deref().unwrap_or(""),
                    m,
                )
            })?;
        let original_key = match ret.original_key.trim() {
            "" => None,
            k => Some(
                Key::parse(&k.to_ascii_lowercase())
                    .ok_or_else(|| {
                        err(
                            "original_key",
                            k,
                            "is not a key: keys are 16 hex digits, as in the report's `key` column"
                                .into(),
                        )
                    })?
                    .to_string(),
            ),
        };
        let original_reference = ret.original_reference.trim().to_string();
        let identity = Key::of_return(
            &loan,
            amount,
            date,
            &f.reference,
            &original_reference,
            &code,
            0,
        );
        let key = match self.occurrence(identity) {
            0 => identity,
            n => Key::of_return(
                &loan,
                amount,
                date,
                &f.reference,
                &original_reference,
                &code,
                n,
            ),
        };
        Ok(Payment {
            key,
            loan,
            loan_id,
            amount,
            date,
            reference: f.reference.clone(),
            payment_method_id: self.source.payment_method_id,
            payment_type_id: self.source.payment_type_id,
            extra: self.source.extra.clone(),
            info: ret.comments.clone().unwrap_or_default(),
            ret: Some(Return {
                code,
                original_reference,
                original_key,
                reverse_reason,
                trace_reference: ret.trace_reference,
            }),
            repeat_of: None,
        })
    }
}

fn file_name(path: &str) -> &str {
    std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// A LoanPro loan id: a positive whole number that fits SQLite's integer.
pub fn parse_loan_id(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("expected a LoanPro loan id (a positive whole number)".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a LoanPro loan id: expected a positive whole number".into());
    }
    match s.parse::<u64>() {
        Ok(id) if id > 0 && id <= i64::MAX as u64 => Ok(id),
        Ok(0) => Err("loan id 0 does not exist: expected a positive whole number".into()),
        _ => Err("is too large for a LoanPro loan id".into()),
    }
}

fn parse_setting_id(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .map_err(|_| "expected a whole-number id from the settings file".to_string())
}

/// A source's date formats, compiled once: chrono re-reads a format string on every
/// `parse_from_str`, which dominated the import profile.
struct DateFormats {
    names: String,
    /// Each format as written (for messages) and compiled.
    compiled: Vec<(String, Vec<Item<'static>>)>,
}

/// Why a date does not fit one format.
enum Misfit<'s> {
    /// The date fits the format but for its year, of fewer than four digits (the text).
    ShortYear(&'s str),
    Other,
}

impl DateFormats {
    fn new(formats: &[String]) -> Self {
        DateFormats {
            names: formats.join(", "),
            // Settings have checked every format, so none fails to compile here.
            compiled: formats
                .iter()
                .filter_map(|f| Some((f.clone(), StrftimeItems::new(f).parse_to_owned().ok()?)))
                .collect(),
        }
    }

    /// The date in the first format that fits.
    fn parse(&self, s: &str) -> Result<NaiveDate, String> {
        let mut short_year = None;
        if !s.is_empty() {
            for (format, items) in &self.compiled {
                match parse_date(s, items) {
                    Ok(d) => return Ok(d),
                    Err(Misfit::ShortYear(year)) => {
                        short_year.get_or_insert((format, year));
                    }
                    Err(Misfit::Other) => {}
                }
            }
        }
        Err(match short_year {
            Some((format, year)) => format!(
                "expected a four-digit year: {format} reads {year:?} as the year (not a valid date in any of the formats {})",
                self.names
            ),
            None => format!("is not a valid date in any of the formats {}", self.names),
        })
    }
}

/// Parses `s` with the items of one format, as chrono does, except that a `%Y` takes exactly
/// four digits: chrono takes one to four (and a sign or blanks before them), so `11/25/26`
/// under `%m/%d/%Y` would be the year 26. A `%y` still takes two, for who means them.
///
/// A year of one to three digits is read on, so that it is named as the fault only when the
/// rest of the date fits the format: `11/25/26` under `%Y-%m-%d` is simply not that format.
fn parse_date<'s>(s: &'s str, items: &[Item<'static>]) -> Result<NaiveDate, Misfit<'s>> {
    let mut parsed = Parsed::new();
    let mut rest = s;
    let mut short_year = None;
    for item in items {
        if let Item::Numeric(Numeric::Year, _) = item {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(Misfit::Other);
            }
            // More than four are left for the items after (`%Y%m%d`).
            let taken = digits.min(4);
            if taken < 4 {
                short_year.get_or_insert(&rest[..taken]);
            }
            // At most four ASCII digits always make an i64.
            let year: i64 = rest[..taken].parse().map_err(|_| Misfit::Other)?;
            parsed.set_year(year).map_err(|_| Misfit::Other)?;
            rest = &rest[taken..];
        } else {
            rest = chrono::format::parse_and_remainder(&mut parsed, rest, std::iter::once(item))
                .map_err(|_| Misfit::Other)?;
        }
    }
    if !rest.is_empty() {
        return Err(Misfit::Other);
    }
    let date = parsed.to_naive_date().map_err(|_| Misfit::Other)?;
    match short_year {
        Some(year) => Err(Misfit::ShortYear(year)),
        None => Ok(date),
    }
}

/// Counts identical rows of a file. Keys are already uniform hashes, so a set of them needs
/// no further hashing; most rows are unique, so only repeats get a counter. About 10 bytes a
/// row: what a 1,000,000-row file costs in memory.
#[derive(Default)]
struct Occurrences {
    seen: HashSet<u64, BuildHasherDefault<KeyHasher>>,
    repeats: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
}

impl Occurrences {
    /// How many times `identity` was seen before, counting this one in.
    fn next(&mut self, identity: Key) -> u32 {
        let k = identity.as_u64();
        if self.seen.insert(k) {
            return 0;
        }
        let n = self.repeats.entry(k).or_insert(0);
        *n += 1;
        *n
    }
}

/// A `Hasher` for values that are hashes already.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::RawFields;
    use crate::settings::Settings;
    use std::path::Path;

    const SETTINGS_TEXT: &str = r#"
[loanpro]
base_url = "https://example.com/api"
tenant_id = "1"
[payments]
payment_methods = { 3 = "Card", 4 = "Check" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal", "payment.extra.periods.next"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
[sources.bank]
format = "csv"
"#;

    fn settings() -> Settings {
        Settings::from_toml(SETTINGS_TEXT, Path::new("s.toml")).unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn row(loan: &str, amount: &str, date: &str) -> RawRow {
        RawRow {
            pos: Position {
                file: "in/bank.csv".into(),
                line: 7,
            },
            fields: RawFields {
                loan: loan.into(),
                amount: RawAmount::Text(amount.into()),
                date: date.into(),
                reference: "1042".into(),
                ..RawFields::default()
            },
        }
    }

    #[test]
    fn valid_row_uses_source_defaults_and_ends_info_with_key() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        let p = v.validate(&row("12", "$1,234.5", "11/20/2026")).unwrap();
        assert_eq!(p.loan_id, Some(12));
        assert_eq!(p.amount, Cents(123_450));
        assert_eq!(p.payment_method_id, 4);
        assert_eq!(p.info, format!("2026-11-20 bank 1042 [k:{}]", p.key));
    }

    #[test]
    fn identical_rows_get_distinct_keys_in_order() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        let a = v.validate(&row("12", "10", "2026-11-20")).unwrap();
        let b = v.validate(&row("12", "10.00", "2026-11-20")).unwrap();
        assert_ne!(a.key, b.key);
        let mut again = Validator::new(s.source(None).unwrap(), &s.payments, today());
        assert_eq!(
            again.validate(&row("12", "10", "2026-11-20")).unwrap().key,
            a.key
        );
        assert_eq!(
            again.validate(&row("12", "10", "2026-11-20")).unwrap().key,
            b.key
        );
    }

    #[test]
    fn each_bad_field_is_named_with_its_value() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        let cases = [
            (row("", "10", "2026-11-20"), "loan"),
            (row("L12", "10", "2026-11-20"), "loan"),
            (row("99999999999999999999", "10", "2026-11-20"), "loan"),
            (row("12", "abc", "2026-11-20"), "amount"),
            (row("12", "-5", "2026-11-20"), "amount"),
            (row("12", "10.005", "2026-11-20"), "amount"),
            (row("12", "0", "2026-11-20"), "amount"),
            (row("12", "1e9", "2026-11-20"), "amount"),
            (row("12", "١٢٣", "2026-11-20"), "amount"),
            (row("12", "1,23.00", "2026-11-20"), "amount"),
            (row("12", "10", "2026-02-30"), "date"),
            (row("12", "10", "2026-12-01"), "date"),
        ];
        for (r, field) in cases {
            let (_, e) = v.validate(&r).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().starts_with("in/bank.csv:7: field"), "{e}");
        }
        let mut r = row("12", "10", "2026-11-20");
        r.fields.payment_method_id = Some("9".into());
        let (_, e) = v.validate(&r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in/bank.csv:7: field `payment_method_id` value \"9\": 9 is not in payments.payment_methods (3, 4)"
        );
        let mut r = row("12", "10", "2026-11-20");
        r.fields.extra = Some("payment.extra.tx.classic".into());
        assert_eq!(v.validate(&r).unwrap_err().1.field, "extra");
        let mut r = row("12", "10", "2026-11-20");
        r.fields.payment_type_id = Some("x".into());
        assert_eq!(v.validate(&r).unwrap_err().1.field, "payment_type_id");
    }

    #[test]
    fn bank_cents_give_the_keys_and_messages_their_text_gave() {
        let s = settings();
        let source = s.source(None).unwrap();
        let with = |amount: RawAmount| {
            let mut r = row("12", "", "2026-11-20");
            r.fields.amount = amount;
            r
        };
        // A valid row: the same payment whether the reader handed over cents or their text.
        let mut v = Validator::new(source, &s.payments, today());
        let by_cents = v.validate(&with(RawAmount::Cents(Cents(150_000)))).unwrap();
        let mut v = Validator::new(source, &s.payments, today());
        let by_text = v
            .validate(&with(RawAmount::Text("1500.00".into())))
            .unwrap();
        assert_eq!(by_cents, by_text);
        assert_eq!(by_cents.amount, Cents(150_000));

        // A rejected row: keyed by, and showing, the text its cents show.
        for (cents, text, message) in [
            (0, "0.00", "must be greater than zero"),
            (
                100_000_000_000_000,
                "1000000000000.00",
                "is too large (more than 12 digits before the point)",
            ),
        ] {
            let mut v = Validator::new(source, &s.payments, today());
            let (key, e) = v
                .validate(&with(RawAmount::Cents(Cents(cents))))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("in/bank.csv:7: field `amount` value {text:?}: {message}")
            );
            assert_eq!(
                key,
                Key::of_rejected(&["12", text, "2026-11-20", "1042"], 0),
                "{cents}"
            );
            let mut v = Validator::new(source, &s.payments, today());
            let (same, _) = v.validate(&with(RawAmount::Text(text.into()))).unwrap_err();
            assert_eq!(key, same, "{cents}");
        }
    }

    /// The test settings with `extra` added to `[sources.bank]`.
    fn settings_with(extra: &str) -> Settings {
        Settings::from_toml(
            &SETTINGS_TEXT.replace("format = \"csv\"", &format!("format = \"csv\"\n{extra}")),
            Path::new("s.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_year_has_four_digits() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        for (date, year, format) in [
            ("11/25/26", "26", "%m/%d/%Y"),
            ("11/20/026", "026", "%m/%d/%Y"),
            ("1/2/6", "6", "%m/%d/%Y"),
            ("26-11-20", "26", "%Y-%m-%d"),
        ] {
            let (_, e) = v.validate(&row("12", "10", date)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "in/bank.csv:7: field `date` value {date:?}: expected a four-digit year: {format} reads {year:?} as the year (not a valid date in any of the formats %Y-%m-%d, %m/%d/%Y)"
                )
            );
        }
        // Not a short year, just not a date of these formats.
        for date in [
            "11/25/20266",
            "+2026-11-20",
            " 2026-11-20",
            "2026-11-20x",
            "-0026-11-20",
        ] {
            let (_, e) = v.validate(&row("12", "10", date)).unwrap_err();
            assert!(
                e.message
                    .starts_with("is not a valid date in any of the formats"),
                "{date:?}: {e}"
            );
        }
        let p = v.validate(&row("12", "10", "11/20/2026")).unwrap();
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());

        // `%y` is two digits by choice; `%Y%m%d` reads four, then the rest.
        let s = settings_with("date_formats = [\"%m/%d/%y\", \"%Y%m%d\", \"%F\"]");
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        for date in ["11/20/26", "20261120", "2026-11-20"] {
            let p = v.validate(&row("12", "10", date)).unwrap();
            assert_eq!(
                p.date,
                NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                "{date}"
            );
        }
        let (_, e) = v.validate(&row("12", "10", "26-11-20")).unwrap_err();
        assert!(
            e.message.contains("four-digit year: %F reads \"26\""),
            "{e}"
        );
    }

    #[test]
    fn a_date_older_than_max_age_days_is_rejected() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        assert!(
            v.validate(&row("1", "1", "2025-11-23")).is_ok(),
            "365 days old"
        );
        for date in ["2025-11-22", "0001-01-01", "01/01/1970"] {
            let (_, e) = v.validate(&row("1", "1", date)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "in/bank.csv:7: field `date` value {date:?}: is more than 365 days old (today is 2026-11-23; the source's max_age_days is 365)"
                )
            );
        }
        let s = settings_with("max_age_days = 30");
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        assert!(v.validate(&row("1", "1", "2026-10-24")).is_ok());
        let (_, e) = v.validate(&row("1", "1", "2026-10-23")).unwrap_err();
        assert!(e.message.starts_with("is more than 30 days old"), "{e}");
    }

    #[test]
    fn bank_dates_have_an_age_limit_too() {
        for body in [
            "[sources.lockbox]\nformat = \"lockbox\"\nmax_age_days = 10",
            "[sources.ach]\nformat = \"bai2\"\ntype_codes = [165]\nmax_age_days = 10",
        ] {
            let s = Settings::from_toml(&format!("{SETTINGS_TEXT}\n{body}\n"), Path::new("s.toml"))
                .unwrap();
            let name = if body.contains("lockbox") {
                "lockbox"
            } else {
                "ach"
            };
            let mut v = Validator::new(s.source(Some(name)).unwrap(), &s.payments, today());
            // Bank readers hand over ISO dates.
            assert!(v.validate(&row("1", "1", "2026-11-13")).is_ok(), "{name}");
            let (_, e) = v.validate(&row("1", "1", "2026-11-12")).unwrap_err();
            assert_eq!(e.field, "date");
            assert!(
                e.message.starts_with("is more than 10 days old"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn a_date_seven_days_ahead_is_fine_eight_is_not() {
        let s = settings();
        let mut v = Validator::new(s.source(None).unwrap(), &s.payments, today());
        assert!(v.validate(&row("1", "1", "2026-11-30")).is_ok());
        assert!(v.validate(&row("1", "1", "2026-12-01")).is_err());
    }
}
