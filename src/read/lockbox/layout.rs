//! Where each field of a lockbox record sits: [`Span`]s of 1-based columns, gathered in a
//! [`LockboxLayout`] that a source may override field by field, and its validation.

use std::fmt;

use serde::Deserialize;

/// The last column a layout may name. Real transmissions are 80 columns, some up to 160.
pub const MAX_COLUMN: u32 = 400;

/// A field's place in a record: 1-based, inclusive columns, written `[start, end]` in settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "[u32; 2]")]
pub struct Span {
    /// The first column, from 1.
    pub start: u32,
    /// The last column, inclusive.
    pub end: u32,
}

impl Span {
    /// Columns `start` to `end`, both included.
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
}

impl From<[u32; 2]> for Span {
    fn from([start, end]: [u32; 2]) -> Self {
        Span { start, end }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "columns {}-{}", self.start, self.end)
    }
}

/// Where the loan number of a payment is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoanFrom {
    /// The data (`overflow_data`) of the first overflow (4) record after the detail: the
    /// coupon's loan number.
    #[default]
    Overflow,
    /// The `detail_loan` columns of the detail (6) record itself.
    Detail,
}

/// Where each field sits in the records (1-based, inclusive columns); every position can be
/// overridden per source in `[sources.NAME.layout]`, e.g. `detail_amount = [8, 17]`.
///
/// Names are `{record}_{field}`, the records being `lockbox` (5, lockbox header), `detail` (6),
/// `overflow` (4), `batch_total` (7), `lockbox_total` (8) and `trailer` (9). Amounts are whole
/// cents and counts whole numbers, digits only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockboxLayout {
    /// Where the loan number comes from: `"overflow"` (default) or `"detail"`.
    pub loan_from: LoanFrom,
    /// Two-digit years below the pivot are 20YY, the others 19YY (default 70: `69` is 2069,
    /// `70` is 1970).
    pub year_pivot: u32,

    /// 5: lockbox number (default 8–14).
    pub lockbox_number: Span,
    /// 5: deposit date, YYMMDD: the payment date of every detail in the lockbox (default 15–20).
    pub lockbox_deposit_date: Span,

    /// 6: batch number (default 2–4).
    pub detail_batch: Span,
    /// 6: item number within the batch (default 5–7).
    pub detail_item: Span,
    /// 6: amount in cents (default 8–17).
    pub detail_amount: Span,
    /// 6: check number (default 37–46).
    pub detail_check_number: Span,
    /// 6: the loan number when `loan_from = "detail"` (default 53–82, the remitter field).
    pub detail_loan: Span,

    /// 4: batch number of the detail it belongs to (default 2–4).
    pub overflow_batch: Span,
    /// 4: item number of the detail it belongs to (default 5–7).
    pub overflow_item: Span,
    /// 4: sequence within the detail's overflow chain, from 1 (default 9–10).
    pub overflow_sequence: Span,
    /// 4: last-overflow flag, `9` on the chain's last record (default 11).
    pub overflow_last: Span,
    /// 4: remittance data: the coupon's loan number, by default (default 12–41).
    pub overflow_data: Span,

    /// 7: batch number (default 2–4).
    pub batch_total_batch: Span,
    /// 7: lockbox number (default 8–14).
    pub batch_total_lockbox: Span,
    /// 7: number of details in the batch (default 21–23).
    pub batch_total_item_count: Span,
    /// 7: amount total of the batch in cents (default 24–33).
    pub batch_total_amount: Span,

    /// 8: lockbox number (default 8–14).
    pub lockbox_total_lockbox: Span,
    /// 8: number of details in the lockbox (default 21–24).
    pub lockbox_total_item_count: Span,
    /// 8: amount total of the lockbox in cents (default 25–34).
    pub lockbox_total_amount: Span,

    /// 9: number of records in the file, header and trailer included (default 2–7).
    pub trailer_record_count: Span,
}

impl Default for LockboxLayout {
    /// The layout of docs/formats.md, from a real bank's transmission.
    fn default() -> Self {
        LockboxLayout {
            loan_from: LoanFrom::Overflow,
            year_pivot: 70,
            lockbox_number: Span::new(8, 14),
            lockbox_deposit_date: Span::new(15, 20),
            detail_batch: Span::new(2, 4),
            detail_item: Span::new(5, 7),
            detail_amount: Span::new(8, 17),
            detail_check_number: Span::new(37, 46),
            detail_loan: Span::new(53, 82),
            overflow_batch: Span::new(2, 4),
            overflow_item: Span::new(5, 7),
            overflow_sequence: Span::new(9, 10),
            overflow_last: Span::new(11, 11),
            overflow_data: Span::new(12, 41),
            batch_total_batch: Span::new(2, 4),
            batch_total_lockbox: Span::new(8, 14),
            batch_total_item_count: Span::new(21, 23),
            batch_total_amount: Span::new(24, 33),
            lockbox_total_lockbox: Span::new(8, 14),
            lockbox_total_item_count: Span::new(21, 24),
            lockbox_total_amount: Span::new(25, 34),
            trailer_record_count: Span::new(2, 7),
        }
    }
}

impl LockboxLayout {
    /// Every field position with its setting name.
    fn spans(&self) -> [(&'static str, Span); 20] {
        [
            ("lockbox_number", self.lockbox_number),
            ("lockbox_deposit_date", self.lockbox_deposit_date),
            ("detail_batch", self.detail_batch),
            ("detail_item", self.detail_item),
            ("detail_amount", self.detail_amount),
            ("detail_check_number", self.detail_check_number),
            ("detail_loan", self.detail_loan),
            ("overflow_batch", self.overflow_batch),
            ("overflow_item", self.overflow_item),
            ("overflow_sequence", self.overflow_sequence),
            ("overflow_last", self.overflow_last),
            ("overflow_data", self.overflow_data),
            ("batch_total_batch", self.batch_total_batch),
            ("batch_total_lockbox", self.batch_total_lockbox),
            ("batch_total_item_count", self.batch_total_item_count),
            ("batch_total_amount", self.batch_total_amount),
            ("lockbox_total_lockbox", self.lockbox_total_lockbox),
            ("lockbox_total_item_count", self.lockbox_total_item_count),
            ("lockbox_total_amount", self.lockbox_total_amount),
            ("trailer_record_count", self.trailer_record_count),
        ]
    }

    /// Checks the layout; the message is shown under the key `sources.NAME.layout`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, Span { start, end }) in self.spans() {
            let at = format!("`{name}` = [{start}, {end}]");
            if start == 0 {
                return Err(format!("{at}: columns are counted from 1"));
            }
            if start > end {
                return Err(format!("{at}: the start column is after the end column"));
            }
            if end > MAX_COLUMN {
                return Err(format!("{at}: columns go up to {MAX_COLUMN}"));
            }
        }
        let date = self.lockbox_deposit_date;
        if date.end - date.start != 5 {
            return Err(format!(
                "`lockbox_deposit_date` = [{}, {}]: a YYMMDD date is 6 columns wide",
                date.start, date.end
            ));
        }
        if self.year_pivot > 100 {
            return Err(format!(
                "`year_pivot` = {}: must be from 0 to 100",
                self.year_pivot
            ));
        }
        Ok(())
    }
}
