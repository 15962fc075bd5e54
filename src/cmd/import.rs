//! `payimport import`: read and validate every file, stage it in the ledger, send what is
//! pending, print the summary; or, with `--dry-run`, only show what would be sent.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::exit::Exit;
use crate::files::{fingerprint, open_rows, to_new_row};
use crate::ledger::{Ledger, ToMatch};
use crate::metrics::Meter;
use crate::money::Cents;
use crate::payment::Payment;
use crate::read::PaymentReader;
use crate::read::control::Counted;
use crate::read::expect::{Checked, Expected};
use crate::read::{ControlCheck, FileError, background};
use crate::returns::Match;
use crate::session::Session;
use crate::settings::{Duplicates, Settings, Source, SourceFormat, Token};
use crate::validate::Validator;

/// `payimport import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The `[sources.NAME]` these files come from (default: the only source)
    #[arg(long, value_hint = clap::ValueHint::Other)]
    pub source: Option<String>,
    /// Parse and validate, print what would be sent and every rejection; write and send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A CSV's expected number of rows, checked like a bank trailer (one file only)
    #[arg(long, value_name = "N")]
    pub expect_count: Option<u64>,
    /// A CSV's expected total amount, checked like a bank trailer (one file only)
    #[arg(long, value_name = "AMOUNT", value_parser = parse_total)]
    pub expect_total: Option<crate::money::Cents>,
    /// After the run's outcome is committed, move each file it finished with into
    /// DIR/done/YYYY-MM-DD/ and each refused one into DIR/failed/YYYY-MM-DD/ (same filesystem;
    /// never overwriting: a numbered suffix)
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Refuse files modified less than SECS seconds ago: they may still be being written
    /// [default: `[limits] min_file_age_secs`, 60; 0 reads every file]
    #[arg(long, value_name = "SECS")]
    pub min_file_age: Option<u64>,
    /// The bank files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

fn parse_total(s: &str) -> Result<crate::money::Cents, String> {
    crate::money::parse_amount(s)
}

/// Opens a file with its source's reader; a CSV with an expected count or total (given, or in
/// its `FILE.ctl` under `control_file = true`) is checked like a bank trailer (docs/report.md).
fn open_checked(
    path: &Path,
    source: &Source,
    given: Expected,
) -> Result<Box<dyn PaymentReader + Send>, FileError> {
    let rows = open_rows(path, source)?;
    let SourceFormat::Csv { control, .. } = &source.format else {
        return Ok(rows);
    };
    let expected = if !given.is_empty() {
        given
    } else if control.control_file {
        Expected::from_control_file(path)?
    } else {
        return Ok(rows);
    };
    let name: std::sync::Arc<str> = path.display().to_string().into();
    Ok(Box::new(Checked::new(rows, &name, expected, control.modes)))
}

/// Runs an import. `token` overrides the environment (the demo's in-process sandbox).
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &ImportArgs,
    token: Option<Token>,
    meter: &Meter,
) -> anyhow::Result<Exit> {
    let today = crate::validate::today();
    run_on(settings, ledger_path, args, token, today, meter).await
}

/// [`run`] on a given date: the demo's samples are one night of November 2026, and checking
/// them against another date would make the demo age with the calendar.
pub async fn run_on(
    settings: &Settings,
    ledger_path: &Path,
    args: &ImportArgs,
    token: Option<Token>,
    today: NaiveDate,
    meter: &Meter,
) -> anyhow::Result<Exit> {
    let source = settings
        .source(args.source.as_deref())
        .map_err(anyhow::Error::msg)?;
    let given = Expected {
        count: args.expect_count,
        total: args.expect_total,
    };
    if !given.is_empty() {
        if !matches!(source.format, SourceFormat::Csv { .. }) {
            anyhow::bail!(
                "--expect-count and --expect-total are for CSV files; source {} is a bank format whose file states its own totals",
                source.name
            );
        }
        if args.files.len() != 1 {
            anyhow::bail!(
                "--expect-count and --expect-total check one file; {} were given (import them one by one, or use a FILE.ctl beside each with control_file = true)",
                args.files.len()
            );
        }
    }
    if args.dry_run {
        return dry_run(settings, ledger_path, source, &args.files, today, given);
    }
    let mut session = Session::start(
        settings,
        ledger_path,
        token,
        "import",
        Some(&source.name),
        meter,
    )
    .await?;
    let run = session.run;
    session
        .ledger()
        .set_hold_duplicates(settings.payments.duplicates == Duplicates::Hold);
    session.verify_before_sending(settings.verify, today);

    let mut refused = Vec::new();
    // Files a signal kept from being staged: nothing of them is in the ledger or sent.
    let mut not_staged = Vec::new();
    // Details a reader skipped as not payments (BAI2 test, deletion and interim groups): never
    // sent, but the summary says so, as the report does (they are among the control checks).
    let mut skipped = Vec::new();
    let mut notices = 0u64;
    // What to do with each file once the run's outcome is committed (`--archive`).
    let mut finished: Vec<(&Path, crate::archive::Outcome)> = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        if let Some(signal) = session.interrupted() {
            not_staged.push(format!(
                "file not imported: {name}: the run was interrupted by {signal} before it was read; import it again"
            ));
            continue;
        }
        let min_age = args
            .min_file_age
            .unwrap_or(settings.limits.min_file_age_secs);
        let stamp = FileStamp::of(path);
        let mut ledger = session.ledger();
        let file_id = ledger.add_file(run, &name)?;
        if let Some(e) = stamp.as_ref().and_then(|s| s.too_young(&name, min_age)) {
            tracing::error!("{e}; nothing of this file is sent");
            ledger.refuse_file(file_id, &e.to_string())?;
            refused.push(e);
            continue;
        }
        let fingerprint = fingerprint(path, source, &settings.payments);
        if let Some(original) = match &fingerprint {
            Some(f) => ledger.settled_original(&f.hash)?,
            None => None,
        } {
            let s = ledger.stage_echo(file_id, original)?;
            finished.push((path, crate::archive::Outcome::Done));
            tracing::info!(
                file = %name,
                already_posted = s.already_posted,
                "staged: the same file with the same settings as an earlier one whose payments are all posted"
            );
            continue;
        }
        let staged = match open_checked(path, source, given) {
            // Reading and validating run on their own thread, overlapping the ledger's writes.
            Ok(rows) => std::thread::scope(|scope| {
                let mut validator = Validator::new(source, &settings.payments, today)
                    .with_returns(&settings.returns);
                let mut rows =
                    background::spawn(scope, rows, move |row| to_new_row(&row, &mut validator));
                // A signal mid-file rolls the file back (one transaction): staging a large
                // file takes a while, and a person who asked to stop should not wait for it.
                // A file that changed while it was read (a transfer still writing it) is
                // refused whole: what was read may be a part of it (docs/states.md).
                let mut checked = false;
                let items = std::iter::from_fn(|| match session.interrupted() {
                    Some(signal) => Some(Err(Halt::Interrupted(signal))),
                    None => match rows.next() {
                        None if !checked => {
                            checked = true;
                            stamp
                                .as_ref()
                                .and_then(|s| s.changed(&name, path))
                                .map(|e| Err(Halt::File(e)))
                        }
                        next => next.map(|r| r.map_err(Halt::File)),
                    },
                });
                let staged = ledger.stage_file(run, file_id, items)?;
                ledger.set_control_checks(file_id, rows.control_checks())?;
                ledger.set_not_payments(file_id, rows.not_payments())?;
                skipped.extend(skipped_notes(&name, rows.control_checks()));
                notices += rows.notices();
                anyhow::Ok(staged)
            })?,
            Err(e) => Err(Halt::File(e)),
        };
        match staged {
            Ok(s) => {
                finished.push((path, crate::archive::Outcome::Done));
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
                    held = s.held,
                    "staged"
                )
            }
            Err(Halt::File(e)) => {
                tracing::error!("{e}; nothing of this file is sent");
                ledger.refuse_file(file_id, &e.to_string())?;
                refused.push(e);
                finished.push((path, crate::archive::Outcome::Failed));
                drop(ledger);
                session.file_refused();
            }
            Err(Halt::Interrupted(signal)) => {
                let why = format!(
                    "not staged: the run was interrupted by {signal} while this file was read; nothing of it was sent: import it again"
                );
                ledger.refuse_file(file_id, &why)?;
                not_staged.push(format!("file not imported: {name}: {why}"));
            }
        }
    }

    crate::crashpoint::reached("staged");
    let sent = session.send().await?;
    let mut notes: Vec<String> = refused
        .iter()
        .map(|e| format!("file refused: {e}; nothing of it was sent"))
        .chain(skipped)
        .collect();
    notes.extend(not_staged);
    if let Some(dir) = &args.archive {
        // `send` ended the run: its outcome is committed, so a crash from here on leaves
        // only files the next run recognises as echoes.
        crate::crashpoint::reached("archive");
        notes.extend(archive(dir, &finished, today));
    }
    if let Some(signal) = sent.interrupted {
        notes.push(interrupted_note(signal));
    }
    if notices > 0 {
        notes.push(format!(
            "{notices} notification(s) of change (NACHA 98 addenda) counted, not sent: update the borrowers' bank details as the bank asks"
        ));
    }
    let title = format!(
        "payimport import: run {run}, source {}, {} file(s)",
        source.name,
        args.files.len()
    );
    let attention = session.print_summary(&title, &notes)?;
    Ok(if sent.stopped.is_some() || !refused.is_empty() {
        Exit::Fatal
    } else if sent.interrupted.is_some() {
        Exit::Attention
    } else {
        Exit::for_attention(attention)
    })
}

/// Moves the run's files into the done and failed folders; a file that cannot be moved stays
/// where it is (its outcome is in the ledger whatever happens to it) and gets a note.
fn archive(
    dir: &Path,
    files: &[(&Path, crate::archive::Outcome)],
    today: NaiveDate,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (file, outcome) in files {
        match crate::archive::move_into(file, dir, *outcome, today) {
            Ok(to) => tracing::info!(file = %file.display(), to = %to.display(), "archived"),
            Err(e) => {
                tracing::warn!(file = %file.display(), "not archived: {e}");
                notes.push(format!(
                    "not archived: {}: {e} (the archive folder must be on the same filesystem); it stays where it is",
                    file.display()
                ));
            }
        }
    }
    notes
}

/// A file's length and modification time when an import first looked at it.
struct FileStamp {
    len: u64,
    modified: std::time::SystemTime,
}

impl FileStamp {
    /// `None` when the file cannot be read: opening it then says why.
    fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            len: m.len(),
            modified: m.modified().ok()?,
        })
    }

    /// The refusal of a file modified less than `min_age` seconds ago (0: never).
    fn too_young(&self, name: &str, min_age: u64) -> Option<FileError> {
        if min_age == 0 {
            return None;
        }
        let age = std::time::SystemTime::now()
            .duration_since(self.modified)
            .unwrap_or_default();
        (age.as_secs() < min_age).then(|| {
            FileError::new(
                &name.into(),
                None,
                format!(
                    "the file was modified {}s ago, less than {min_age}s (limits.min_file_age_secs): it may still be being written; import it later, or now with `payimport import --min-file-age 0`",
                    age.as_secs()
                ),
            )
        })
    }

    /// The refusal of a file whose length or modification time changed since the stamp.
    fn changed(&self, name: &str, path: &Path) -> Option<FileError> {
        let now = FileStamp::of(path);
        let same = now
            .as_ref()
            .is_some_and(|n| n.len == self.len && n.modified == self.modified);
        (!same).then(|| {
            FileError::new(
                &name.into(),
                None,
                format!(
                    "the file changed while it was read ({} bytes, now {}): it may still be being written; import it again once it is complete",
                    self.len,
                    now.map_or("gone".into(), |n| format!("{} bytes", n.len))
                ),
            )
        })
    }
}

/// Why staging a file stopped early.
enum Halt {
    /// The file failed file-level validation: refused.
    File(FileError),
    /// A signal interrupted the run.
    Interrupted(&'static str),
}

/// The summary's line for a run a signal stopped (import and retry).
pub(crate) fn interrupted_note(signal: &str) -> String {
    format!(
        "the run was interrupted by {signal}: answers in flight were recorded; rows not sent are `unsent` (`payimport retry` sends them)"
    )
}

/// One line per group of details a reader skipped as not payments.
fn skipped_notes(file: &str, checks: &[ControlCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.what == Counted::Skipped)
        .map(|c| format!("skipped   {file}:{}: {c}", c.line))
        .collect()
}

/// `--dry-run`: everything but writing and sending.
fn dry_run(
    settings: &Settings,
    ledger_path: &Path,
    source: &Source,
    files: &[PathBuf],
    today: NaiveDate,
    given: Expected,
) -> anyhow::Result<Exit> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut valid, mut rejected, mut cents_total) = (0u64, 0u64, Cents::ZERO);
    let mut refused = 0;
    // Returns are matched against what the ledger holds now; it is only read.
    let ledger = Ledger::open_read_only(ledger_path).ok();
    for path in files {
        let rows = match open_checked(path, source, given) {
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
        let (mut file_valid, mut file_rejected, mut file_cents) = (0u64, 0u64, Cents::ZERO);
        let name = path.display().to_string();
        let file_error = std::thread::scope(|scope| -> std::io::Result<Option<FileError>> {
            let mut validator =
                Validator::new(source, &settings.payments, today).with_returns(&settings.returns);
            let mut rows = background::spawn(scope, rows, move |row| {
                let checked = validator.validate(&row);
                (row.pos.line, checked)
            });
            for row in rows.by_ref() {
                let (line, checked) = match row {
                    Ok(row) => row,
                    Err(e) => return Ok(Some(e)),
                };
                match checked {
                    Ok(p) if p.ret.is_some() => {
                        file_valid += 1;
                        file_cents = file_cents.saturating_add(p.amount);
                        let found = preview_match(ledger.as_ref(), settings, &name, line, &p);
                        let r = p.ret.as_ref().expect("a return");
                        writeln!(
                            out,
                            "would reverse {name}:{line}  loan {}  {}  {}  code {}  reason {}  key {}: {found}",
                            p.loan,
                            p.amount,
                            crate::payment::iso_date(p.date),
                            if r.code.is_empty() { "-" } else { &r.code },
                            r.reverse_reason,
                            p.key
                        )?;
                    }
                    Ok(p) => {
                        file_valid += 1;
                        file_cents = file_cents.saturating_add(p.amount);
                        writeln!(
                            out,
                            "would send {name}:{line}  loan {}  {}  {}  method {}  type {}  {}  key {}",
                            p.loan,
                            p.amount,
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
            for note in skipped_notes(&name, rows.control_checks()) {
                writeln!(out, "{note}")?;
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
                cents_total = cents_total.saturating_add(file_cents);
            }
        }
    }
    writeln!(
        out,
        "dry run: {valid} row(s) would be sent, total {}; {rejected} rejected; {refused} file(s) refused; nothing was written or sent",
        cents_total
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

/// What matching would find for a return of a dry run, in words: the original's key, or why
/// there is none.
fn preview_match(
    ledger: Option<&Ledger>,
    settings: &Settings,
    file: &str,
    line: u64,
    p: &Payment,
) -> String {
    let Some(ledger) = ledger else {
        return "no match: the ledger holds no payments yet".into();
    };
    let loan_id = match p.loan_id {
        Some(id) => Some(id as i64),
        None => ledger.cached_loan_id(&p.loan).ok().flatten(),
    };
    let Some(loan_id) = loan_id else {
        return format!(
            "no match yet: display id {:?} is looked up in LoanPro only when the file is imported",
            p.loan
        );
    };
    let r = p.ret.as_ref().expect("a return");
    let row = ToMatch {
        id: 0,
        key: p.key.to_string(),
        file: file.to_string(),
        line,
        loan: p.loan.clone(),
        loan_id,
        amount: p.amount,
        date: crate::payment::iso_date(p.date),
        reference: p.reference.clone(),
        original_reference: r.original_reference.clone(),
        trace_reference: r.trace_reference,
        original_key: r.original_key.clone(),
        return_code: r.code.clone(),
        comments: None,
    };
    match ledger.preview_match(&row, settings.returns.match_window_days) {
        Ok(Match::Original(c)) => format!("matches the payment with key {}", c.key),
        Ok(Match::Unmatched { why, .. }) => {
            format!("unmatched: {why} (payments of files not imported yet are not seen)")
        }
        Err(e) => format!("cannot be matched now: {e}"),
    }
}
