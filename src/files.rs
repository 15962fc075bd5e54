//! A bank file as an import sees it: its fingerprint (to spot an echo of an earlier file), its
//! reader chosen by the source's format, and its rows validated into what the ledger stores.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use crate::ledger::{NewReturn, NewRow};
use crate::read::line_ends::LineEnds;
use crate::read::{FileError, PaymentReader, RawRow};
use crate::settings::{Payments, Source, SourceFormat};
use crate::validate::Validator;

/// The largest file accepted: about 60 million CSV rows, far beyond any bank's nightly file.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// SHA-256 of a file's bytes and of everything that decides how they are read and validated
/// (this payimport's version, the source and the payment settings): two files with the same
/// fingerprint give the same rows and keys.
pub struct Fingerprint {
    pub hash: String,
    /// The file's length and modification time when it was hashed.
    stamp: (u64, Option<std::time::SystemTime>),
}

impl Fingerprint {
    /// Whether the file still has the length and modification time it had when hashed.
    pub fn still_matches(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| (m.len(), m.modified().ok()) == self.stamp)
    }
}

/// The file's fingerprint; `None` when the file cannot be read or is too large, which
/// [`open_rows`] then reports.
pub fn fingerprint(path: &Path, source: &Source, payments: &Payments) -> Option<Fingerprint> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut hash = Sha256::new();
    let settings = format!(
        "payimport-file-v1 {} {source:?} {payments:?}",
        env!("CARGO_PKG_VERSION")
    );
    hash.update((settings.len() as u64).to_le_bytes());
    hash.update(settings.as_bytes());
    std::io::copy(&mut file, &mut hash).ok()?;
    Some(Fingerprint {
        hash: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        stamp: (meta.len(), meta.modified().ok()),
    })
}

/// Opens a file with the reader of its source's format; an error here refuses the file.
pub fn open_rows(path: &Path, source: &Source) -> Result<Box<dyn PaymentReader + Send>, FileError> {
    let name: Arc<str> = path.display().to_string().into();
    let file =
        File::open(path).map_err(|e| FileError::new(&name, None, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(FileError::new(
            &name,
            None,
            format!(
                "the file is {size} bytes; files over {} GiB are refused as not a bank payment file",
                MAX_FILE_BYTES >> 30
            ),
        ));
    }
    // Every reader sees LF alone, whatever the bank's line ends (docs/loanpro.md).
    let input = LineEnds::new(BufReader::with_capacity(1 << 16, file));
    // A CSV header error may mean the wrong `--source` (docs/states.md): it names the source.
    let csv = matches!(source.format, SourceFormat::Csv { .. });
    source
        .format
        .open(name, input)
        .map_err(|e| if csv { e.in_source(source) } else { e })
}

impl FileError {
    /// The error of a file's header, naming the source it was read with: the header may be
    /// right and the `--source` wrong.
    fn in_source(mut self, source: &Source) -> Self {
        self.message = format!("{} (read as source {:?})", self.message, source.name);
        self
    }
}

/// Validates a row into what the ledger stores.
pub fn to_new_row(row: &RawRow, validator: &mut Validator) -> NewRow {
    match validator.validate(row) {
        Ok(p) => {
            // A return sends no payment fields: it reverses a payment that has them.
            let payment = p.ret.is_none();
            NewRow {
                file: row.pos.file.clone(),
                line: row.pos.line,
                key: p.key,
                loan: p.loan,
                loan_id: p.loan_id,
                amount: p.amount.to_string(),
                amount_cents: Some(p.amount),
                date: crate::payment::iso_date(p.date),
                reference: p.reference,
                payment_method_id: payment.then_some(p.payment_method_id),
                payment_type_id: payment.then_some(p.payment_type_id),
                extra: payment.then_some(p.extra),
                info: (payment || !p.info.is_empty()).then_some(p.info),
                rejection: None,
                repeat_of: p.repeat_of,
                ret: p.ret.map(|r| NewReturn {
                    code: r.code,
                    original_reference: r.original_reference,
                    original_key: r.original_key,
                    reverse_reason: Some(r.reverse_reason),
                    trace_reference: r.trace_reference,
                }),
            }
        }
        Err((key, e)) => {
            tracing::debug!("rejected: {e}");
            let f = &row.fields;
            NewRow {
                file: row.pos.file.clone(),
                line: row.pos.line,
                key,
                loan: f.loan.clone(),
                loan_id: None,
                amount: f.amount.to_string(),
                amount_cents: None,
                date: f.date.clone(),
                reference: f.reference.clone(),
                payment_method_id: None,
                payment_type_id: None,
                extra: f.extra.clone(),
                info: None,
                ret: f.ret.as_ref().map(|r| NewReturn {
                    code: r.code.clone(),
                    original_reference: r.original_reference.clone(),
                    original_key: None,
                    reverse_reason: None,
                    trace_reference: r.trace_reference,
                }),
                repeat_of: None,
                rejection: Some(format!(
                    "field `{}`{}: {}",
                    e.field,
                    if e.value.is_empty() {
                        " is empty".to_string()
                    } else {
                        format!(" value {:?}", e.value)
                    },
                    e.message
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_no_longer_matches_a_file_changed_after_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::testkit::settings();
        let source = settings.source(Some("bank")).unwrap();
        let path = dir.path().join("bank.csv");
        std::fs::write(&path, "loan,amount,date\n7,1.00,2026-11-20\n").unwrap();
        let before = fingerprint(&path, source, &settings.payments).unwrap();
        assert!(before.still_matches(&path));
        assert_eq!(
            before.hash,
            fingerprint(&path, source, &settings.payments).unwrap().hash
        );

        std::fs::write(
            &path,
            "loan,amount,date\n7,1.00,2026-11-20\n8,2.00,2026-11-20\n",
        )
        .unwrap();
        assert!(!before.still_matches(&path), "a row appended after hashing");
        assert_ne!(
            before.hash,
            fingerprint(&path, source, &settings.payments).unwrap().hash
        );
    }
}
