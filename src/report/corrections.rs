//! The corrections file (docs/states.md): `payimport report --rejected --format csv`. Rejected rows
//! of a CSV source come out in that source's own columns, as the file gave them, plus an
//! `error` column: corrected in a spreadsheet, the file imports again (rows already posted are
//! skipped as usual). Rows of bank formats are listed with their fields; `amend` is their way.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use crate::ledger::{Ledger, RejectedRow, RunId};
use crate::read::RawFields;
use crate::report::neutralise;
use crate::settings::{CsvKind, Settings, SourceFormat};

/// The columns of bank-format rows (and of CSV rows whose source is gone from the settings).
const FIELDS: [&str; 8] = [
    "file",
    "line",
    "key",
    "loan",
    "amount",
    "date",
    "reference",
    "error",
];

/// Writes the rejected rows of `run` (or of every run) still waiting for a correction.
pub fn write_rejected(
    ledger: &Ledger,
    settings: &Settings,
    run: Option<RunId>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let rows = ledger.rejected_rows(run)?;
    let csv_source = |r: &RejectedRow| {
        settings
            .source(r.source.as_deref())
            .ok()
            .filter(|s| matches!(s.format, SourceFormat::Csv { .. }))
    };
    let mut names: Vec<&str> = rows
        .iter()
        .map(|r| csv_source(r).map_or("", |s| s.name.as_str()))
        .collect();
    names.sort();
    names.dedup();
    let mut w = csv::Writer::from_writer(out);
    match names.as_slice() {
        [name] if !name.is_empty() => {
            let source = settings.source(Some(name)).map_err(anyhow::Error::msg)?;
            let SourceFormat::Csv { columns, kind, .. } = &source.format else {
                unreachable!("a csv source")
            };
            let returns = matches!(kind, CsvKind::Returns);
            let mut header: Vec<&str> = vec![&columns.loan, &columns.amount, &columns.date];
            if returns {
                header.extend([
                    columns.return_code.as_str(),
                    &columns.original_reference,
                    &columns.original_key,
                    &columns.reverse_reason,
                    &columns.comments,
                ]);
            } else {
                header.extend([
                    columns.reference.as_str(),
                    &columns.payment_method_id,
                    &columns.payment_type_id,
                    &columns.extra,
                    &columns.info,
                ]);
            }
            header.push("error");
            w.write_record(&header)?;
            // Each file read again once, for the cells as it gave them.
            let mut by_file: BTreeMap<&str, Vec<&RejectedRow>> = BTreeMap::new();
            for r in &rows {
                by_file.entry(&r.file).or_default().push(r);
            }
            for (file, rejected) in by_file {
                let mut as_given = as_given(file, source, &rejected);
                for r in rejected {
                    let f = as_given.remove(&r.line).unwrap_or_else(|| r.fields());
                    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
                    let mut cells = vec![f.loan.clone(), f.amount.to_string(), f.date.clone()];
                    match (&f.ret, returns) {
                        (Some(ret), true) => cells.extend([
                            ret.code.clone(),
                            ret.original_reference.clone(),
                            ret.original_key.clone(),
                            opt(&ret.reverse_reason),
                            opt(&ret.comments),
                        ]),
                        (None, true) => cells.extend(std::iter::repeat_n(String::new(), 5)),
                        (_, false) => cells.extend([
                            f.reference.clone(),
                            opt(&f.payment_method_id),
                            opt(&f.payment_type_id),
                            opt(&f.extra),
                            opt(&f.info),
                        ]),
                    }
                    cells.push(r.message.clone());
                    w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
                }
            }
        }
        [_, _, ..] if names.iter().any(|n| !n.is_empty()) => anyhow::bail!(
            "the rejected rows come from several sources ({}); choose one run with --run",
            names
                .iter()
                .map(|n| if n.is_empty() { "bank formats" } else { n })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => {
            w.write_record(FIELDS)?;
            for r in &rows {
                let cells = [
                    r.file.clone(),
                    r.line.to_string(),
                    r.key.clone(),
                    r.loan.clone(),
                    r.amount.clone(),
                    r.date.clone(),
                    r.reference.clone(),
                    r.message.clone(),
                ];
                w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// The rejected rows' cells as the file gives them, by line: empty when the file is gone or
/// no longer readable (then the ledger's copy of the fields is used).
fn as_given(
    file: &str,
    source: &crate::settings::Source,
    rejected: &[&RejectedRow],
) -> HashMap<u64, RawFields> {
    let mut wanted: HashMap<u64, Option<RawFields>> =
        rejected.iter().map(|r| (r.line, None)).collect();
    if let Ok(rows) = crate::files::open_rows(Path::new(file), source) {
        for row in rows.map_while(Result::ok) {
            if let Some(slot) = wanted.get_mut(&row.pos.line) {
                *slot = Some(row.fields);
            }
        }
    }
    wanted
        .into_iter()
        .filter_map(|(line, f)| Some((line, f?)))
        .collect()
}
