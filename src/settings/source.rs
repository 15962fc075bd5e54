//! The bank formats as the settings know them: one [`FormatSpec`] per format in [`FORMATS`]
//! (its name, its own keys, how they are parsed), and [`SourceFormat`], a source's format with
//! its options, which opens the format's reader. Everything that lists formats iterates
//! `FORMATS` or matches `SourceFormat` without a catch-all, so a new format that misses a place
//! fails to compile or fails a test.

use std::io::BufRead;
use std::sync::Arc;

use serde::Deserialize;

use super::raw::RawSource;
use crate::read::bai2::{Bai2Options, Bai2Reader, TypeCodes};
use crate::read::camt::{CamtOptions, CamtReader};
use crate::read::control::{ControlModes, ControlTotals};
use crate::read::csv::{Columns, CsvReader};
use crate::read::lockbox::{LockboxLayout, LockboxReader};
use crate::read::nacha::NachaReader;
use crate::read::{FileError, PaymentReader};

/// One bank format: the `format` name, the source keys only it has, and how they are parsed.
pub struct FormatSpec {
    pub name: &'static str,
    /// Its own keys; a key of another format is refused by name (see
    /// `RawSource::format_keys_set`).
    pub keys: &'static [&'static str],
    /// Its options from a source's keys (taken out of it); an error names the key (without
    /// `sources.NAME.`) and what is wrong.
    pub(super) parse: fn(&mut RawSource) -> Result<SourceFormat, (&'static str, String)>,
}

/// Every bank format payimport reads.
pub static FORMATS: &[FormatSpec] = SPECS;

const SPECS: &[FormatSpec] = &[
    FormatSpec {
        name: "csv",
        keys: &[
            "delimiter",
            "columns",
            "date_formats",
            "kind",
            "control_file",
            "control_totals",
        ],
        parse: parse_csv,
    },
    FormatSpec {
        name: "lockbox",
        keys: &["layout", "control_totals", "control_counts"],
        parse: parse_lockbox,
    },
    FormatSpec {
        name: "bai2",
        keys: &[
            "control_totals",
            "control_counts",
            "type_codes",
            "bai2",
            "bai2_final_only",
            "return_type_codes",
            "return_reference",
        ],
        parse: parse_bai2,
    },
    FormatSpec {
        name: "nacha",
        keys: &["control_totals"],
        parse: parse_nacha,
    },
    FormatSpec {
        name: "camt",
        keys: &[
            "control_totals",
            "loan_from",
            "loan_pattern",
            "accounts",
            "bank_transaction_codes",
            "unit",
        ],
        parse: parse_camt,
    },
];

/// The names of [`FORMATS`], for serde's "expected one of" message.
pub const FORMAT_NAMES: [&str; SPECS.len()] = {
    let mut names = [""; SPECS.len()];
    let mut i = 0;
    while i < SPECS.len() {
        names[i] = SPECS[i].name;
        i += 1;
    }
    names
};

/// A source's format with its own options. A key of another format is refused at load, like
/// any unknown key, so a setting can never sit in a file doing nothing.
#[derive(Debug, Clone)]
pub enum SourceFormat {
    Csv {
        delimiter: u8,
        columns: Columns,
        /// strftime formats tried in order.
        date_formats: Vec<String>,
        /// `kind`: payment rows, or return rows (docs/returns.md).
        kind: CsvKind,
        /// `control_file` and `control_totals`: a CSV's expected count and total (docs/report.md).
        control: CsvControl,
    },
    Lockbox {
        layout: LockboxLayout,
        /// `control_totals` for amounts, `control_counts` (default: the same) for counts.
        control: ControlModes,
    },
    Bai2 {
        /// The 16 (detail) type codes that are payments.
        type_codes: TypeCodes,
        bai2: Bai2Options,
        /// `control_totals` for amounts, `control_counts` (default: the same) for counts.
        control: ControlModes,
        /// `bai2_final_only`: skip interim groups (as-of-date modifier 1 or 3).
        final_only: bool,
        /// The 16 type codes that are returns (docs/returns.md), and whether a return's customer
        /// reference is its original reference.
        return_type_codes: TypeCodes,
        return_reference: ReturnReference,
    },
    /// An ACH return file (docs/returns.md): every row is a return.
    Nacha { control_totals: ControlTotals },
    /// ISO 20022 statements and notifications (docs/formats.md#camt).
    Camt {
        camt: CamtOptions,
        control_totals: ControlTotals,
    },
}

/// Control totals for a CSV source (docs/report.md): whether each file has a `FILE.ctl` beside it,
/// and what a mismatch does (`control_totals`, default enforce).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvControl {
    pub control_file: bool,
    pub modes: ControlModes,
}

/// What the rows of a CSV source are: the `kind` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CsvKind {
    #[default]
    Payments,
    Returns,
}

/// Where a BAI2 return's original reference comes from: the `return_reference` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnReference {
    /// None: a return is matched by loan and amount only.
    #[default]
    None,
    /// The 16's customer reference.
    Customer,
}

impl SourceFormat {
    /// Its description in [`FORMATS`].
    pub fn spec(&self) -> &'static FormatSpec {
        let name = match self {
            SourceFormat::Csv { .. } => "csv",
            SourceFormat::Lockbox { .. } => "lockbox",
            SourceFormat::Bai2 { .. } => "bai2",
            SourceFormat::Nacha { .. } => "nacha",
            SourceFormat::Camt { .. } => "camt",
        };
        FORMATS
            .iter()
            .find(|f| f.name == name)
            .expect("every format is in FORMATS")
    }

    /// The date formats of the rows' date cells: a CSV's own; bank readers decode their date
    /// fields themselves and hand over ISO dates (`None`).
    pub fn date_formats(&self) -> Option<&[String]> {
        match self {
            SourceFormat::Csv { date_formats, .. } => Some(date_formats),
            SourceFormat::Lockbox { .. }
            | SourceFormat::Bai2 { .. }
            | SourceFormat::Nacha { .. }
            | SourceFormat::Camt { .. } => None,
        }
    }

    /// Whether a row may name its own `extra` (a CSV column), rather than the source's.
    pub fn rows_name_their_extra(&self) -> bool {
        match self {
            SourceFormat::Csv { .. } => true,
            SourceFormat::Lockbox { .. }
            | SourceFormat::Bai2 { .. }
            | SourceFormat::Nacha { .. }
            | SourceFormat::Camt { .. } => false,
        }
    }

    /// The format's reader over `input`, the file named `name`; an error refuses the file.
    pub fn open<R: BufRead + Send + 'static>(
        &self,
        name: Arc<str>,
        input: R,
    ) -> Result<Box<dyn PaymentReader + Send>, FileError> {
        Ok(match self {
            SourceFormat::Csv {
                delimiter,
                columns,
                kind: CsvKind::Payments,
                ..
            } => Box::new(CsvReader::new(name, input, columns, *delimiter)?),
            SourceFormat::Csv {
                delimiter,
                columns,
                kind: CsvKind::Returns,
                ..
            } => Box::new(CsvReader::returns(name, input, columns, *delimiter)?),
            SourceFormat::Lockbox { layout, control } => {
                Box::new(LockboxReader::new(name, input, layout, *control)?)
            }
            SourceFormat::Bai2 {
                type_codes,
                bai2,
                control,
                final_only,
                return_type_codes,
                return_reference,
            } => Box::new(
                Bai2Reader::new(name, input, bai2, type_codes, *control)?
                    .final_only(*final_only)
                    .with_returns(
                        return_type_codes,
                        *return_reference == ReturnReference::Customer,
                    ),
            ),
            SourceFormat::Nacha { control_totals } => {
                Box::new(NachaReader::new(name, input, *control_totals))
            }
            SourceFormat::Camt {
                camt,
                control_totals,
            } => Box::new(CamtReader::new(name, input, camt, *control_totals)?),
        })
    }
}

/// The first key set in `raw` that is not one of its format's, with the formats it belongs to.
pub(super) fn foreign_key(raw: &RawSource) -> Option<(&'static str, Vec<&'static str>)> {
    let (key, _) = raw
        .format_keys_set()
        .into_iter()
        .find(|(key, set)| *set && !raw.format.keys.contains(key))?;
    let owners = FORMATS
        .iter()
        .filter(|f| f.keys.contains(&key))
        .map(|f| f.name)
        .collect();
    Some((key, owners))
}

fn parse_csv(s: &mut RawSource) -> Result<SourceFormat, (&'static str, String)> {
    let date_formats = s.date_formats.take().unwrap_or_else(default_date_formats);
    if date_formats.is_empty() {
        return Err(("date_formats", "needs at least one format".into()));
    }
    for f in &date_formats {
        check_date_format(f).map_err(|m| ("date_formats", m))?;
    }
    let delimiter = match s.delimiter.as_deref() {
        None => b',',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some("\\t") => b'\t',
        Some(d) => {
            return Err((
                "delimiter",
                format!("must be a single ASCII character, got {d:?}"),
            ));
        }
    };
    Ok(SourceFormat::Csv {
        delimiter,
        columns: s.columns.take().unwrap_or_default(),
        date_formats,
        kind: s.kind.unwrap_or_default(),
        control: CsvControl {
            control_file: s.control_file.unwrap_or(false),
            modes: s.control_totals.unwrap_or_default().into(),
        },
    })
}

fn parse_lockbox(s: &mut RawSource) -> Result<SourceFormat, (&'static str, String)> {
    let layout = s.layout.take().unwrap_or_default();
    layout.validate().map_err(|m| ("layout", m))?;
    Ok(SourceFormat::Lockbox {
        layout,
        control: control_modes(s.control_totals, s.control_counts),
    })
}

fn parse_bai2(s: &mut RawSource) -> Result<SourceFormat, (&'static str, String)> {
    let type_codes = TypeCodes::parse(s.type_codes.as_deref().unwrap_or_default())
        .map_err(|m| ("type_codes", m))?;
    let return_type_codes = TypeCodes::parse(s.return_type_codes.as_deref().unwrap_or_default())
        .map_err(|m| ("return_type_codes", m))?;
    if type_codes.is_empty() && return_type_codes.is_empty() {
        return Err((
            "type_codes",
            "a bai2 source must list the detail type codes that are payments".into(),
        ));
    }
    if let Some(both) = type_codes.iter().find(|&c| return_type_codes.contains(c)) {
        return Err((
            "return_type_codes",
            format!(
                "type code {both} is also in type_codes; a detail is a payment or a return, not both"
            ),
        ));
    }
    let bai2 = s.bai2.take().unwrap_or_default();
    bai2.validate().map_err(|m| ("bai2", m))?;
    Ok(SourceFormat::Bai2 {
        type_codes,
        bai2,
        control: control_modes(s.control_totals, s.control_counts),
        final_only: s.bai2_final_only.unwrap_or(false),
        return_type_codes,
        return_reference: s.return_reference.unwrap_or_default(),
    })
}

fn parse_nacha(s: &mut RawSource) -> Result<SourceFormat, (&'static str, String)> {
    Ok(SourceFormat::Nacha {
        control_totals: s.control_totals.unwrap_or_default(),
    })
}

fn parse_camt(s: &mut RawSource) -> Result<SourceFormat, (&'static str, String)> {
    let defaults = CamtOptions::default();
    let camt = CamtOptions {
        loan_from: s.loan_from.take().unwrap_or(defaults.loan_from),
        loan_pattern: s.loan_pattern.take(),
        accounts: s.accounts.take().unwrap_or_default(),
        bank_transaction_codes: s.bank_transaction_codes.take().unwrap_or_default(),
        unit: s.unit.take().unwrap_or_default(),
    };
    camt.validate()?;
    Ok(SourceFormat::Camt {
        camt,
        control_totals: s.control_totals.unwrap_or_default(),
    })
}

/// Amounts under `control_totals` (default enforce); counts under `control_counts`, which
/// defaults to whatever `control_totals` says.
fn control_modes(totals: Option<ControlTotals>, counts: Option<ControlTotals>) -> ControlModes {
    let amounts = totals.unwrap_or_default();
    ControlModes {
        amounts,
        counts: counts.unwrap_or(amounts),
    }
}

fn default_date_formats() -> Vec<String> {
    vec!["%Y-%m-%d".into(), "%m/%d/%Y".into()]
}

/// A date format must be strftime, and must read back a date it wrote: one without a year, a
/// month and a day (`MM/DD/YYYY`, written without `%`) would reject every row of every file.
fn check_date_format(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    use chrono::{NaiveDate, TimeZone, Utc};
    use std::fmt::Write;
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err(format!("{f:?} is not a valid strftime date format"));
    }
    // Two moments, so that no field can match by chance (day 5 and month 5, say); with a
    // time and a zone, as a format may read those too (and the date is what is kept).
    let reads_back = [(2026, 11, 20, 10), (1999, 2, 3, 23)]
        .into_iter()
        .all(|(y, m, d, h)| {
            let at = Utc
                .with_ymd_and_hms(y, m, d, h, 30, 45)
                .single()
                .expect("a real moment");
            let mut text = String::new();
            write!(text, "{}", at.format(f)).is_ok()
                && NaiveDate::parse_from_str(&text, f).is_ok_and(|read| read == at.date_naive())
        });
    if !reads_back {
        return Err(format!(
            "{f:?} cannot read a date: a format needs a year, a month and a day as strftime fields, e.g. \"%m/%d/%Y\" for 11/20/2026"
        ));
    }
    Ok(())
}
