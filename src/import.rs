//! The `import` command (and `demo`): read and validate every file, stage it in the ledger,
//! send what is pending, print the summary.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::Exit;
use crate::ledger::{Ledger, NewRow};
use crate::output;
use crate::payment::money;
use crate::read::bai2::Bai2Reader;
use crate::read::csv::CsvReader;
use crate::read::lockbox::LockboxReader;
use crate::read::{FileError, PaymentReader, RawRow, background};
use crate::session::Session;
use crate::settings::{Format, Settings, Source, Token};
use crate::validate::Validator;

/// `payimport import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The `[sources.NAME]` these files come from (default: the only source)
    #[arg(long)]
    pub source: Option<String>,
    /// Parse and validate, print what would be sent and every rejection; write and send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The bank files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Runs an import. `token` overrides the environment (the demo's in-process sandbox).
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &ImportArgs,
    token: Option<Token>,
) -> anyhow::Result<Exit> {
    let source = settings
        .source(args.source.as_deref())
        .map_err(anyhow::Error::msg)?;
    let today = chrono::Local::now().date_naive();
    if args.dry_run {
        return dry_run(settings, source, &args.files, today);
    }
    let mut session =
        Session::start(settings, ledger_path, token, "import", Some(&source.name)).await?;
    let run = session.run;

    let mut refused = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let mut ledger = session.ledger();
        let file_id = ledger.add_file(run, &name)?;
        let fingerprint = fingerprint(path, source, &settings.payments);
        if let Some(original) = match &fingerprint {
            Some(f) => ledger.settled_original(&f.hash)?,
            None => None,
        } {
            let s = ledger.stage_echo(file_id, original)?;
            tracing::info!(
                file = %name,
                already_posted = s.already_posted,
                "staged: the same file with the same settings as an earlier one whose payments are all posted"
            );
            continue;
        }
        let staged = match open_rows(path, source) {
            // Reading and validating run on their own thread, overlapping the ledger's writes.
            Ok(rows) => std::thread::scope(|scope| {
                let mut validator = Validator::new(source, &settings.payments, today);
                let mut rows =
                    background::spawn(scope, rows, move |row| to_new_row(&row, &mut validator));
                let staged = ledger.stage_file(run, file_id, rows.by_ref())?;
                ledger.set_control_checks(file_id, rows.control_checks())?;
                anyhow::Ok(staged)
            })?,
            Err(e) => Err(e),
        };
        match staged {
            Ok(s) => {
                // Only if the file did not change while it was read: the fingerprint must be
                // that of the bytes staged, or a later file could echo rows never staged.
                if let Some(f) = fingerprint.as_ref().filter(|f| f.still_matches(path)) {
                    ledger.set_fingerprint(file_id, &f.hash)?;
                }
                tracing::info!(
                    file = %name,
                    pending = s.pending,
                    rejected = s.rejected,
                    already_posted = s.already_posted,
                    "staged"
                )
            }
            Err(e) => {
                tracing::error!("{e}; nothing of this file is sent");
                ledger.refuse_file(file_id, &e.to_string())?;
                refused.push(e);
            }
        }
    }

    crate::crashpoint::reached("staged");
    let sent = session.send().await?;
    let notes: Vec<String> = refused
        .iter()
        .map(|e| format!("file refused: {e}; nothing of it was sent"))
        .collect();
    let title = format!(
        "payimport import: run {run}, source {}, {} file(s)",
        source.name,
        args.files.len()
    );
    let exit = session.print_summary(&title, &notes)?;
    Ok(if sent.stopped.is_some() || !refused.is_empty() {
        Exit::Fatal
    } else {
        exit
    })
}

/// The largest file accepted: about 60 million CSV rows, far beyond any bank's nightly file.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// SHA-256 of a file's bytes and of everything that decides how they are read and validated
/// (this payimport's version, the source and the payment settings): two files with the same
/// fingerprint give the same rows and keys.
struct Fingerprint {
    hash: String,
    /// The file's length and modification time when it was hashed.
    stamp: (u64, Option<std::time::SystemTime>),
}

impl Fingerprint {
    /// Whether the file still has the length and modification time it had when hashed.
    fn still_matches(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| (m.len(), m.modified().ok()) == self.stamp)
    }
}

/// The file's fingerprint; `None` when the file cannot be read or is too large, which
/// [`open_rows`] then reports.
fn fingerprint(
    path: &Path,
    source: &Source,
    payments: &crate::settings::Payments,
) -> Option<Fingerprint> {
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
fn open_rows(path: &Path, source: &Source) -> Result<Box<dyn PaymentReader + Send>, FileError> {
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
    let input = BufReader::with_capacity(1 << 16, file);
    Ok(match source.format {
        Format::Csv => Box::new(CsvReader::new(
            name,
            input,
            &source.columns,
            source.delimiter,
        )?),
        Format::Lockbox => Box::new(LockboxReader::new(
            name,
            input,
            &source.layout,
            source.control_totals,
        )?),
        Format::Bai2 => Box::new(Bai2Reader::new(
            name,
            input,
            &source.bai2,
            &source.type_codes,
            source.control_totals,
        )?),
    })
}

/// Validates a row into what the ledger stores.
fn to_new_row(row: &RawRow, validator: &mut Validator) -> NewRow {
    match validator.validate(row) {
        Ok(p) => NewRow {
            file: row.pos.file.clone(),
            line: row.pos.line,
            key: p.key,
            loan: p.loan,
            loan_id: p.loan_id,
            amount: money(p.amount),
            amount_cents: to_cents(p.amount),
            date: crate::payment::iso_date(p.date),
            reference: p.reference,
            payment_method_id: Some(p.payment_method_id),
            payment_type_id: Some(p.payment_type_id),
            extra: Some(p.extra),
            info: Some(p.info),
            rejection: None,
        },
        Err((key, e)) => {
            tracing::debug!("rejected: {e}");
            let f = &row.fields;
            NewRow {
                file: row.pos.file.clone(),
                line: row.pos.line,
                key,
                loan: f.loan.clone(),
                loan_id: None,
                amount: f.amount.clone(),
                amount_cents: None,
                date: f.date.clone(),
                reference: f.reference.clone(),
                payment_method_id: None,
                payment_type_id: None,
                extra: f.extra.clone(),
                info: None,
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

fn to_cents(amount: Decimal) -> Option<i64> {
    (amount * Decimal::ONE_HUNDRED).round().to_i64()
}

/// `--dry-run`: everything but writing and sending.
fn dry_run(
    settings: &Settings,
    source: &Source,
    files: &[PathBuf],
    today: NaiveDate,
) -> anyhow::Result<Exit> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut valid, mut rejected, mut cents_total) = (0u64, 0u64, 0i64);
    let mut refused = 0;
    for path in files {
        let rows = match open_rows(path, source) {
            Ok(rows) => rows,
            Err(e) => {
                writeln!(out, "refused   {e}")?;
                refused += 1;
                continue;
            }
        };
        // Rows are printed as they are read, so memory stays flat for any file size; a file
        // error found late says that the rows listed above it would not be sent after all.
        // Reading and validating run on their own thread, overlapping the printing.
        let (mut file_valid, mut file_rejected, mut file_cents) = (0u64, 0u64, 0i64);
        let name = path.display().to_string();
        let file_error = std::thread::scope(|scope| -> std::io::Result<Option<FileError>> {
            let mut validator = Validator::new(source, &settings.payments, today);
            let rows = background::spawn(scope, rows, move |row| {
                let checked = validator.validate(&row);
                (row.pos.line, checked)
            });
            for row in rows {
                let (line, checked) = match row {
                    Ok(row) => row,
                    Err(e) => return Ok(Some(e)),
                };
                match checked {
                    Ok(p) => {
                        file_valid += 1;
                        file_cents += to_cents(p.amount).unwrap_or(0);
                        writeln!(
                            out,
                            "would send {name}:{line}  loan {}  {}  {}  method {}  type {}  {}  key {}",
                            p.loan,
                            money(p.amount),
                            crate::payment::iso_date(p.date),
                            p.payment_method_id,
                            p.payment_type_id,
                            p.extra,
                            p.key
                        )?;
                    }
                    Err((_, e)) => {
                        file_rejected += 1;
                        writeln!(out, "rejected   {e}")?;
                    }
                }
            }
            Ok(None)
        })?;
        match file_error {
            Some(e) => {
                writeln!(
                    out,
                    "refused   {e}; nothing of this file would be sent, not even the rows listed above"
                )?;
                refused += 1;
            }
            None => {
                valid += file_valid;
                rejected += file_rejected;
                cents_total += file_cents;
            }
        }
    }
    writeln!(
        out,
        "dry run: {valid} row(s) would be sent, total {}; {rejected} rejected; {refused} file(s) refused; nothing was written or sent",
        output::cents(cents_total)
    )?;
    out.flush()?;
    Ok(if refused > 0 {
        Exit::Fatal
    } else if rejected > 0 {
        Exit::Attention
    } else {
        Exit::Done
    })
}

/// The bundled samples, so `demo` works from any folder on a fresh checkout.
const SAMPLE_SETTINGS: &str = include_str!("../samples/payimport.toml");
const SAMPLE_FILES: &[(&str, &str, &str)] = &[
    ("bank_csv", "bank.csv", include_str!("../samples/bank.csv")),
    (
        "lockbox",
        "lockbox.lbx",
        include_str!("../samples/lockbox.lbx"),
    ),
    ("ach", "ach.bai", include_str!("../samples/ach.bai")),
];
/// The base URL the sample settings carry (that of `payimport sandbox` on its default port).
const SAMPLE_BASE_URL: &str = "http://127.0.0.1:8080/api/public/api/1";

/// `payimport demo`: a sandbox in-process on a free loopback port, the samples imported into a
/// fresh ledger, the summary and the report printed.
pub async fn demo() -> anyhow::Result<Exit> {
    use crate::sandbox::{Sandbox, SandboxConfig};

    let dir = std::env::temp_dir().join(format!("payimport-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = async {
        let config = SandboxConfig::default();
        let token = Token::new(config.token.clone());
        let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().expect("address"))
            .await
            .context("cannot start the sandbox")?;
        let settings_path = dir.join("payimport.toml");
        let text = SAMPLE_SETTINGS.replace(SAMPLE_BASE_URL, &sandbox.base_url());
        std::fs::write(&settings_path, &text)?;
        let settings = Settings::from_toml(&text, &settings_path)?;
        println!(
            "demo: LoanPro sandbox at {}; ledger {}",
            sandbox.base_url(),
            settings.ledger_path.display()
        );
        let mut worst = Exit::Done;
        for (source, name, content) in SAMPLE_FILES {
            let path = dir.join(name);
            std::fs::write(&path, content)?;
            let args = ImportArgs {
                source: Some(source.to_string()),
                dry_run: false,
                files: vec![path],
            };
            worst =
                worst.max(run(&settings, &settings.ledger_path, &args, Some(token.clone())).await?);
        }
        println!();
        crate::report::write_csv(
            &Ledger::open_read_only(&settings.ledger_path)?,
            None,
            &mut std::io::stdout().lock(),
        )?;
        println!();
        println!(
            "demo: the sandbox holds {} payment(s)",
            sandbox.payments().len()
        );
        sandbox.shutdown().await;
        Ok(worst)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_no_longer_matches_a_file_changed_after_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_toml(SAMPLE_SETTINGS, &dir.path().join("payimport.toml")).unwrap();
        let source = settings.source(Some("bank_csv")).unwrap();
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
