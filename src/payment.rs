//! The payment LoanPro receives (docs/loanpro.md) and its idempotency key (docs/states.md).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::money::Cents;

/// A payment's identity, shown as 16 hex digits. The same payment delivered again, in the same
/// file, a renamed one or a re-sent one, gets the same key; identical rows of one file are told
/// apart by their occurrence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(u64);

impl Key {
    /// The key of a valid payment. `occurrence` counts earlier identical rows of the same file.
    /// The amount enters as integer cents and the date as a day number, so `250.5` and `250.50`,
    /// or two spellings of one date, are the same payment.
    pub fn of(loan: &str, amount: Cents, date: NaiveDate, reference: &str, occurrence: u32) -> Key {
        // As i128, the width an earlier Decimal mantissa had: the key of a payment never changes.
        let cents = i128::from(amount.0);
        let mut h = Sha256::new();
        h.update(b"payimport-key-v2");
        for part in [loan.as_bytes(), reference.as_bytes()] {
            // Length-prefixed, so that no two different field lists hash alike.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(cents.to_le_bytes());
        h.update(date.num_days_from_ce().to_le_bytes());
        h.update(occurrence.to_le_bytes());
        Key::from_digest(h)
    }

    /// The key of a return (docs/returns.md): `return`, loan, amount, date, reference, original
    /// reference, code and occurrence. It never meets a payment's key.
    #[allow(clippy::too_many_arguments)]
    pub fn of_return(
        loan: &str,
        amount: Cents,
        date: NaiveDate,
        reference: &str,
        original_reference: &str,
        code: &str,
        occurrence: u32,
    ) -> Key {
        let mut h = Sha256::new();
        h.update(b"payimport-return-v1");
        for part in [loan, reference, original_reference, code] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(i128::from(amount.0).to_le_bytes());
        h.update(date.num_days_from_ce().to_le_bytes());
        h.update(occurrence.to_le_bytes());
        Key::from_digest(h)
    }

    /// The key of a corrected copy (`payimport amend`, docs/states.md): the original's key and the
    /// correction (loan, payment type, extra). The same correction of the same row has the
    /// same key, so it is never staged twice; it never meets a file's key.
    pub fn of_amend(original: Key, loan: &str, payment_type_id: u32, extra: &str) -> Key {
        let original = original.to_string();
        let payment_type = payment_type_id.to_string();
        Key::hash(&["payimport-amend-v1", &original, loan, &payment_type, extra])
    }

    /// The key of a row that could not be validated: a hash of its raw cells, so that the report
    /// can still name it; it never meets a valid payment's key.
    pub fn of_rejected(cells: &[&str], occurrence: u32) -> Key {
        let occ = occurrence.to_string();
        let mut parts = vec!["payimport-rejected-v1", &occ];
        parts.extend_from_slice(cells);
        Key::hash(&parts)
    }

    fn hash(parts: &[&str]) -> Key {
        let mut h = Sha256::new();
        for p in parts {
            // Length-prefixed, so that no two different field lists hash alike.
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        Key::from_digest(h)
    }

    fn from_digest(h: Sha256) -> Key {
        let digest = h.finalize();
        Key(u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")))
    }

    /// The key as a number, for hash tables.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The 16-hex-digit form, without going through `fmt`'s padding machinery (which showed in
    /// the dry run's profile: every row prints and stores its key).
    pub fn hex(self) -> KeyHex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = DIGITS[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        KeyHex(out)
    }

    /// Parses the 16-hex-digit form.
    pub fn parse(s: &str) -> Option<Key> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

/// The ledger stores a key as its 16 hex digits, as it shows it.
impl rusqlite::ToSql for Key {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.to_string().into())
    }
}

/// A malformed key in the ledger is an error, not "no key": read as "not found", it would let
/// a payment be looked for under no key at all.
impl rusqlite::types::FromSql for Key {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Key::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(
                format!("{text:?} is not a payment key (16 hex digits)").into(),
            )
        })
    }
}

/// A key's 16 hex digits, on the stack.
pub struct KeyHex([u8; 16]);

impl KeyHex {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

/// A date as LoanPro, the ledger and the report show it: `YYYY-MM-DD`. (chrono's `format`
/// parses its pattern on every call, which showed at the top of the import profile.)
pub fn iso_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// The ` [k:KEY]` suffix of `info` that lets a payment be found in LoanPro again.
pub fn key_marker(key: Key) -> String {
    let mut marker = String::with_capacity(20);
    push_key_marker(&mut marker, key);
    marker
}

/// Appends the `[k:KEY]` marker to `out`.
pub fn push_key_marker(out: &mut String, key: Key) {
    out.push_str("[k:");
    out.push_str(key.hex().as_str());
    out.push(']');
}

/// One validated payment, ready to be staged and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub key: Key,
    /// The loan as the file names it (an id, or a display id to resolve).
    pub loan: String,
    /// LoanPro's loan id, when known.
    pub loan_id: Option<u64>,
    pub amount: Cents,
    pub date: NaiveDate,
    pub reference: String,
    pub payment_method_id: u32,
    pub payment_type_id: u32,
    pub extra: String,
    /// The info text sent, ending with ` [k:KEY]`. For a return: its own comment, if any.
    pub info: String,
    /// Set for a return (docs/returns.md): what its reversal needs.
    pub ret: Option<Return>,
    /// For a row that repeats an earlier row of its file (same loan, amount, date and a
    /// non-empty reference): that row's key. A possible duplicate (docs/states.md).
    pub repeat_of: Option<Key>,
}

/// What a validated return carries beyond a payment's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    pub code: String,
    pub original_reference: String,
    /// The original row's key, when the file names it.
    pub original_key: Option<String>,
    /// A reason of `returns.reverse_reasons`.
    pub reverse_reason: String,
    /// The original reference is a NACHA trace number ([`crate::read::RawReturn`]).
    pub trace_reference: bool,
}

/// The body of `POST Loans(id)/VoidPayment(pid)` (docs/returns.md), field for field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoidBody<'a> {
    pub reverse_reason: &'a str,
    pub comments: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nacha_return_code: Option<String>,
    #[serde(rename = "__logOnly")]
    pub log_only: bool,
}

/// The log-only payment body of `PUT Loans(id)`, field for field as docs/loanpro.md gives it.
#[derive(Serialize)]
pub struct PaymentBody<'a> {
    #[serde(rename = "Payments")]
    payments: Results<'a>,
}

#[derive(Serialize)]
struct Results<'a> {
    results: [LogOnlyPayment<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogOnlyPayment<'a> {
    selected_processor: &'static str,
    payment_method_id: u32,
    early: u8,
    amount: String,
    date: String,
    info: &'a str,
    payment_type_id: u32,
    active: u8,
    reset_past_due: u8,
    payoff_payment: bool,
    #[serde(rename = "_saveProfile")]
    save_profile: u8,
    extra: &'a str,
    card_fee_type: &'static str,
    card_fee_amount: &'static str,
    card_fee_percent: &'static str,
    #[serde(rename = "__logOnly")]
    log_only: bool,
    payoff_flag: u8,
}

impl<'a> PaymentBody<'a> {
    /// The body of a row as stored in the ledger.
    pub fn new(
        amount: Cents,
        date: &str,
        info: &'a str,
        payment_method_id: u32,
        payment_type_id: u32,
        extra: &'a str,
    ) -> Self {
        PaymentBody {
            payments: Results {
                results: [LogOnlyPayment {
                    selected_processor: "0",
                    payment_method_id,
                    early: 0,
                    amount: amount.to_string(),
                    date: date.to_string(),
                    info,
                    payment_type_id,
                    active: 1,
                    reset_past_due: 0,
                    payoff_payment: false,
                    save_profile: 0,
                    extra,
                    card_fee_type: "loan.cardfee.types.1",
                    card_fee_amount: "0",
                    card_fee_percent: "0",
                    log_only: true,
                    payoff_flag: 0,
                }],
            },
        }
    }

    /// The body of a validated payment.
    pub fn of(p: &'a Payment) -> Self {
        PaymentBody::new(
            p.amount,
            &iso_date(p.date),
            &p.info,
            p.payment_method_id,
            p.payment_type_id,
            &p.extra,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_exactly_the_spec_payload() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let p = Payment {
            key: Key::parse("3f9a0c21d4e5b6a7").unwrap(),
            loan: "515".into(),
            loan_id: Some(515),
            amount: Cents(25_000),
            date,
            reference: "1042".into(),
            payment_method_id: 4,
            payment_type_id: 1,
            extra: "payment.extra.tx.principal".into(),
            info: "2026-11-20 bank_csv 1042 [k:3f9a0c21d4e5b6a7]".into(),
            ret: None,
            repeat_of: None,
        };
        let spec = r#"{"Payments":{"results":[{"selectedProcessor":"0","paymentMethodId":4,"early":0,"amount":"250.00",
"date":"2026-11-20","info":"2026-11-20 bank_csv 1042 [k:3f9a0c21d4e5b6a7]","paymentTypeId":1,
"active":1,"resetPastDue":0,"payoffPayment":false,"_saveProfile":0,
"extra":"payment.extra.tx.principal","cardFeeType":"loan.cardfee.types.1","cardFeeAmount":"0",
"cardFeePercent":"0","__logOnly":true,"payoffFlag":0}]}}"#
            .replace('\n', "");
        assert_eq!(serde_json::to_string(&PaymentBody::of(&p)).unwrap(), spec);
    }

    #[test]
    fn void_body_is_exactly_the_spec_body() {
        let spec = r#"{"reverseReason":"payment.reverse.nsf","comments":"R01 Insufficient funds; returned 2026-11-24; ref 0910000123","nachaReturnCode":"nacha.returnCode.r01","__logOnly":true}"#;
        let body = VoidBody {
            reverse_reason: "payment.reverse.nsf",
            comments: "R01 Insufficient funds; returned 2026-11-24; ref 0910000123",
            nacha_return_code: crate::returns::nacha_return_code("R01"),
            log_only: true,
        };
        assert_eq!(serde_json::to_string(&body).unwrap(), spec);
        let body = VoidBody {
            nacha_return_code: crate::returns::nacha_return_code("CHK"),
            ..body
        };
        assert!(!serde_json::to_string(&body).unwrap().contains("nacha"));
    }

    #[test]
    fn key_is_stable_and_distinguishes_occurrences() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let a = Cents(25_050);
        let k0 = Key::of("12", a, d, "1042", 0);
        // Pinned: a key that changed would let a rerun post every earlier payment again.
        assert_eq!(k0.to_string(), "5499bfb63b995b18");
        assert_ne!(k0, Key::of("12", a, d, "1042", 1));
        assert_ne!(k0, Key::of("12", a, d, "1043", 0));
        assert_ne!(
            k0,
            Key::of("1", a, d, "21042", 0),
            "fields do not run together"
        );
        assert_eq!(k0.to_string().len(), 16);
        let r = Key::of_return("12", a, d, "1042", "", "R01", 0);
        assert_ne!(r, k0);
        assert_ne!(r, Key::of_return("12", a, d, "1042", "", "R02", 0));
        assert_ne!(r, Key::of_return("12", a, d, "1042", "", "R01", 1));
        assert_ne!(r, Key::of_return("12", a, d, "1042", "9", "R01", 0));
        assert_eq!(Key::parse(&k0.to_string()), Some(k0));
    }

    #[test]
    fn a_key_goes_through_sqlite_as_its_hex_and_a_malformed_one_is_an_error() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let key = Key::parse("3f9a0c21d4e5b6a7").unwrap();
        let (back, text): (Key, String) = db
            .query_row("SELECT ?1, ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((back, text.as_str()), (key, "3f9a0c21d4e5b6a7"));
        for bad in [
            "",
            "3f9a0c21d4e5b6a",
            "not a key at all",
            "3f9a0c21d4e5b6ag",
        ] {
            let e = db
                .query_row("SELECT ?1", [bad], |r| r.get::<_, Key>(0))
                .unwrap_err();
            assert!(
                e.to_string().contains("is not a payment key"),
                "{bad:?}: {e}"
            );
        }
        let e = db
            .query_row("SELECT 7", [], |r| r.get::<_, Key>(0))
            .unwrap_err();
        assert!(matches!(e, rusqlite::Error::InvalidColumnType(..)), "{e}");
    }
}
