//! The corpus of bank files under `tests/data/real/` (docs/formats.md): small BAI2 and lockbox files,
//! each beside a `.expected` file that says what reading it must give. One test reads them all.
//!
//! A `.expected` file holds, one a line (`#` lines are comments):
//! - `options final_only counts_warn`: the source options to read with (BAI2 type codes are
//!   always `[165, "170-179"]`, lockbox layouts the default);
//! - `row LINE | LOAN | AMOUNT | DATE | REFERENCE`: each row, in order; the amount as cents show
//!   it (`1250.00`), or quoted when handed over as text (`""`);
//! - `skipped MESSAGE`: each group of details skipped as not payments;
//! - `refused LINE | MESSAGE`: the file error that ends the file, and the rows before it.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::bai2::{Bai2Options, Bai2Reader, CodeSpec, TypeCodes};
use super::control::{ControlModes, ControlTotals, Counted};
use super::lockbox::{LockboxLayout, LockboxReader};
use super::{PaymentReader, RawAmount};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real");

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    rows: Vec<String>,
    skipped: Vec<String>,
    refused: Option<String>,
}

fn expected(text: &str) -> (Outcome, Vec<String>) {
    let mut out = Outcome::default();
    let mut options = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "options" => options.extend(rest.split_whitespace().map(String::from)),
            "row" => out.rows.push(rest.to_string()),
            "skipped" => out.skipped.push(rest.to_string()),
            "refused" => out.refused = Some(rest.to_string()),
            other => panic!("unknown line kind {other:?} in an .expected file"),
        }
    }
    (out, options)
}

fn read(path: &Path, options: &[String]) -> Outcome {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let input = BufReader::new(File::open(path).unwrap());
    let counts = if options.iter().any(|o| o == "counts_warn") {
        ControlTotals::Warn
    } else {
        ControlTotals::Enforce
    };
    let modes = ControlModes {
        amounts: ControlTotals::Enforce,
        counts,
    };
    let mut reader: Box<dyn PaymentReader> = if name.ends_with(".bai") {
        let codes =
            TypeCodes::parse(&[CodeSpec::Number(165), CodeSpec::Text("170-179".into())]).unwrap();
        Box::new(
            Bai2Reader::new(
                name.as_str().into(),
                input,
                &Bai2Options::default(),
                &codes,
                modes,
            )
            .unwrap()
            .final_only(options.iter().any(|o| o == "final_only")),
        )
    } else {
        Box::new(
            LockboxReader::new(
                name.as_str().into(),
                input,
                &LockboxLayout::default(),
                modes,
            )
            .unwrap(),
        )
    };
    let mut out = Outcome::default();
    for item in reader.by_ref() {
        match item {
            Ok(row) => {
                let f = &row.fields;
                let amount = match &f.amount {
                    RawAmount::Cents(c) => c.to_string(),
                    RawAmount::Text(t) => format!("{t:?}"),
                };
                out.rows.push(format!(
                    "{} | {} | {amount} | {} | {}",
                    row.pos.line, f.loan, f.date, f.reference
                ));
            }
            Err(e) => {
                assert_eq!(e.file.as_ref(), name);
                out.refused = Some(format!("{} | {}", e.line.unwrap_or(0), e.message));
            }
        }
    }
    for check in reader.control_checks() {
        if check.what == Counted::Skipped {
            out.skipped.push(check.to_string());
        } else if counts == ControlTotals::Enforce && out.refused.is_none() {
            assert!(check.matches(), "{name}: {check}");
        }
    }
    out
}

#[test]
fn every_file_of_the_corpus_gives_its_rows() {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("bai" | "lbx")))
        .collect();
    files.sort();
    let (mut read_files, mut rows, mut refused) = (0, 0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{}: no .expected beside it: {e}", path.display()));
        let (mut want, options) = expected(&text);
        let got = read(path, &options);
        // The message may go on (quoting the record); the expected one is its beginning.
        if let (Some(w), Some(g)) = (&want.refused, &got.refused)
            && g.starts_with(w.as_str())
        {
            want.refused = Some(g.clone());
        }
        assert_eq!(got, want, "{}", path.display());
        read_files += 1;
        rows += got.rows.len();
        refused += usize::from(got.refused.is_some());
    }
    assert!(read_files >= 20, "the corpus has {read_files} files");
    eprintln!("corpus: {read_files} files, {rows} rows, {refused} refused");
}
