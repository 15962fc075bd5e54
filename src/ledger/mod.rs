//! The SQLite ledger (SPEC §5): runs, files and rows with their keys and states.
//!
//! The ledger, not memory, is the queue: rows are staged here before anything is sent, claimed
//! in batches for sending, and their results recorded in groups. Because a row is marked
//! `sending` (and that mark is durable, `synchronous=FULL`) before its request leaves, a crash at
//! any point leaves every row in a state the next run can recover from.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::money::Cents;
use crate::payment::Key;
use crate::read::ControlCheck;

mod status;
pub use status::Status;

/// The condition of the partial index `rows_open` (migrations/0001_init.sql), word for word: a
/// query must state it for SQLite to see that the index can serve it.
macro_rules! rows_open {
    () => {
        "status IN ('sending', 'unknown', 'failed', 'unsent')"
    };
}

/// The numbered migrations, applied in order at open; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_echo_files.sql"),
];

/// Something went wrong with the ledger file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "ledger {path} is in use by another payimport run ({holder}); one run at a time per ledger"
    )]
    InUse { path: PathBuf, holder: String },
    #[error(
        "ledger {path} was written by a newer payimport (schema version {found}, this one knows up to {known}); use a newer payimport"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("ledger {path} does not exist; nothing has been imported with it yet")]
    Missing { path: PathBuf },
    #[error(
        "ledger {path} {problem}; it was left as it is: restore it from a backup (a new, empty ledger would not know which payments were already posted)"
    )]
    Corrupt { path: PathBuf, problem: String },
    #[error("ledger {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("ledger {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The id of a run.
pub type RunId = i64;

/// An open ledger. Opened for writing it also holds the ledger's lock.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    _lock: Option<File>,
}

/// A row staged from a file, valid or not.
pub struct NewRow {
    pub file: std::sync::Arc<str>,
    pub line: u64,
    pub key: Key,
    pub loan: String,
    pub loan_id: Option<u64>,
    /// As the file gives it (rejected rows) or two decimals (valid rows).
    pub amount: String,
    pub amount_cents: Option<Cents>,
    pub date: String,
    pub reference: String,
    pub payment_method_id: Option<u32>,
    pub payment_type_id: Option<u32>,
    pub extra: Option<String>,
    pub info: Option<String>,
    /// `None` for a valid row; the reason for a rejected one.
    pub rejection: Option<String>,
}

/// A row taken for sending: what the request needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub loan_id: i64,
    pub amount: Cents,
    pub date: String,
    pub info: String,
    pub payment_method_id: u32,
    pub payment_type_id: u32,
    pub extra: String,
}

/// What became of a claimed row.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: i64,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub message: Option<String>,
    pub loanpro_payment_id: Option<u64>,
    /// When the last request for it left, if one did.
    pub sent_at: Option<String>,
}

/// A live row whose payment may or may not be in LoanPro.
#[derive(Debug, Clone)]
pub struct Uncertain {
    pub id: i64,
    pub key: String,
    pub loan_id: i64,
    pub attempts: u32,
    /// When its last request left; the read-back waits `settle_secs` after it.
    pub sent_at: Option<String>,
}

/// What a read-back found out about an uncertain row.
#[derive(Debug, Clone)]
pub enum Reconciled {
    /// Its key is in LoanPro: it was logged.
    Found { payment_id: Option<u64> },
    /// Not in LoanPro: queue it again for this run.
    Resend { run: RunId },
    /// Not in LoanPro and out of attempts: certainly not logged.
    GiveUp { message: String },
    /// The read-back itself failed: it stays `unknown`, nothing is sent.
    ReadFailed { message: String },
}

/// Counts and amounts of one status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusTotal {
    pub status: String,
    pub count: u64,
    pub cents: Cents,
}

/// A row that needs a person, for the summary.
#[derive(Debug, Clone)]
pub struct AttentionRow {
    pub file: String,
    pub line: u64,
    pub key: String,
    pub status: String,
    pub message: String,
}

/// One line of `payimport runs`.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: RunId,
    pub command: String,
    pub source: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub files: Vec<String>,
    pub totals: Vec<StatusTotal>,
}

/// What staging did with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Staged {
    pub pending: u64,
    pub rejected: u64,
    pub already_posted: u64,
    pub unknown: u64,
}

pub fn now() -> String {
    chrono::Utc::now().format(TIME_FORMAT).to_string()
}

/// Ledger times: UTC with milliseconds, so a settle delay can be measured from them.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

impl Ledger {
    /// Opens (creating if needed) the ledger for a run that will change it, taking its lock.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let io = |source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let lock = take_lock(path)?;
        create_private(path).map_err(io)?;
        let mut ledger = Ledger::connect(path, Some(lock))?;
        ledger.quick_check()?;
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Opens an existing ledger to read it (report, runs); takes no lock, as WAL lets readers be.
    pub fn open_read_only(path: &Path) -> Result<Ledger, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Missing {
                path: path.to_path_buf(),
            });
        }
        let ledger = Ledger::connect(path, None)?;
        let version = ledger.schema_version()?;
        if version as usize > MIGRATIONS.len() {
            return Err(ledger.too_new(version));
        }
        Ok(ledger)
    }

    fn connect(path: &Path, lock: Option<File>) -> Result<Ledger, LedgerError> {
        check_file(path)?;
        let conn = Connection::open(path).map_err(|source| LedgerError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
            _lock: lock,
        };
        // Before the pragmas below, which write to the file: a ledger this payimport cannot
        // use is left exactly as it is. (Waiting out a writer does not write.)
        ledger
            .conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| ledger.sql(e))?;
        ledger.check_schema()?;
        // FULL, not NORMAL: a `sending` mark lost in a power cut would let a rerun post twice.
        ledger
            .conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-32768;",
            )
            .map_err(|e| ledger.sql(e))?;
        Ok(ledger)
    }

    fn sql(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// An error met while opening: SQLite's "not a database" and "malformed" mean a damaged
    /// file, said so plainly.
    fn opening(&self, source: rusqlite::Error) -> LedgerError {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match source.sqlite_error_code() {
            Some(NotADatabase | DatabaseCorrupt) => LedgerError::Corrupt {
                path: self.path.clone(),
                problem: format!("is damaged ({source})"),
            },
            _ => self.sql(source),
        }
    }

    /// A ledger from a newer payimport, or a SQLite database that is no ledger at all (its
    /// tables were not made by our migrations), is refused.
    fn check_schema(&self) -> Result<(), LedgerError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.opening(e))?;
        if version as usize > MIGRATIONS.len() {
            return Err(self.too_new(version));
        }
        if version == 0 {
            let tables: Vec<String> = self
                .conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 5",
                )
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(|e| self.opening(e))?;
            if !tables.is_empty() {
                return Err(LedgerError::Corrupt {
                    path: self.path.clone(),
                    problem: format!(
                        "is not a payimport ledger: it is a SQLite database of other tables ({})",
                        tables.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// SQLite's quick check of every page and b-tree (not of index contents), before a run
    /// that writes: a damaged ledger may have lost the rows that say a payment was posted,
    /// and building on it could post that payment twice. About a second per million rows.
    fn quick_check(&self) -> Result<(), LedgerError> {
        let result: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| self.opening(e))?;
        if result != "ok" {
            return Err(LedgerError::Corrupt {
                path: self.path.clone(),
                problem: format!("is damaged (SQLite's quick_check: {result})"),
            });
        }
        Ok(())
    }

    fn too_new(&self, found: i64) -> LedgerError {
        LedgerError::TooNew {
            path: self.path.clone(),
            found,
            known: MIGRATIONS.len(),
        }
    }

    fn schema_version(&self) -> Result<i64, LedgerError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let version = self.schema_version()?;
        if version as usize > MIGRATIONS.len() {
            return Err(self.too_new(version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self
                .conn
                .transaction()
                .map_err(|e| sql_err(&self.path, e))?;
            tx.execute_batch(sql)
                .and_then(|_| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|_| tx.commit())
                .map_err(|e| sql_err(&self.path, e))?;
        }
        Ok(())
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a run and notes this process in the lock file, so a second run can name it.
    pub fn begin_run(&mut self, command: &str, source: Option<&str>) -> Result<RunId, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO runs (command, source, started_at, pid) VALUES (?1, ?2, ?3, ?4)",
                params![command, source, now(), std::process::id()],
            )
            .map_err(|e| self.sql(e))?;
        let run = self.conn.last_insert_rowid();
        if let Some(lock) = &self._lock {
            let mut f = lock;
            let _ = f.set_len(0);
            let _ = writeln!(
                f,
                "run {run}, pid {}, started {}",
                std::process::id(),
                now()
            );
        }
        Ok(run)
    }

    /// Ends a run.
    pub fn finish_run(&mut self, run: RunId) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?1 WHERE id = ?2",
                params![now(), run],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// After a crash or kill: rows caught `sending` may or may not have reached LoanPro, so they
    /// become `unknown`; rows still `pending` never left, so they become `unsent`. Returns both
    /// counts. Only called under the lock, so no other run can be sending right now.
    pub fn recover_interrupted(&mut self) -> Result<(usize, usize), LedgerError> {
        let t = now();
        let unknown = self
            .conn
            .execute(
                concat!(
                    "UPDATE rows SET status = 'unknown', updated_at = ?1,
                     message = 'the run stopped while this payment was being sent: it may or may not have been logged'
                     WHERE status = 'sending' AND ",
                    rows_open!()
                ),
                [&t],
            )
            .map_err(|e| self.sql(e))?;
        let unsent = self
            .conn
            .execute(
                // Every pending row is queued for a run (sent_by_run), so rows_queue finds
                // them run by run; `status = 'pending'` alone would read the whole table.
                "UPDATE rows SET status = 'unsent', updated_at = ?1,
                 message = 'the run stopped before this payment was sent'
                 WHERE sent_by_run IN (SELECT id FROM runs) AND status = 'pending'",
                [&t],
            )
            .map_err(|e| self.sql(e))?;
        Ok((unknown, unsent))
    }

    /// Closes a run's rows that were never sent because it stopped early.
    pub fn unsend_pending(&mut self, run: RunId, message: &str) -> Result<usize, LedgerError> {
        self.conn
            .execute(
                "UPDATE rows SET status = 'unsent', message = ?1, updated_at = ?2
                 WHERE sent_by_run = ?3 AND status = 'pending'",
                params![message, now(), run],
            )
            .map_err(|e| self.sql(e))
    }

    /// Records a file of a run.
    pub fn add_file(&mut self, run: RunId, path: &str) -> Result<i64, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO files (run_id, path, status) VALUES (?1, ?2, 'staged')",
                params![run, path],
            )
            .map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Notes what a file's bytes and the settings that read it hash to, so a later run can tell
    /// the same file again.
    pub fn set_fingerprint(&mut self, file_id: i64, fingerprint: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE files SET fingerprint = ?1 WHERE id = ?2",
                params![fingerprint, file_id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// An earlier file with this fingerprint whose payments are all in LoanPro (every row
    /// `posted` or `already_posted`), newest first: a file the same file again can echo.
    pub fn settled_original(&self, fingerprint: &str) -> Result<Option<i64>, LedgerError> {
        let candidates: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM files WHERE fingerprint = ?1 AND echo_of IS NULL
                 AND status = 'staged' AND rows > 0 ORDER BY id DESC",
            )
            .and_then(|mut s| s.query_map([fingerprint], |r| r.get(0))?.collect())
            .map_err(|e| self.sql(e))?;
        // Two seeks in rows_by_file_status: the states sorting between and after the two
        // settled ones are the unsettled ones.
        let mut open = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM rows WHERE file_id = ?1
                                AND status > 'already_posted' AND status < 'posted')
                     OR EXISTS (SELECT 1 FROM rows WHERE file_id = ?1 AND status > 'posted')
                     OR EXISTS (SELECT 1 FROM rows WHERE file_id = ?1 AND status < 'already_posted')",
            )
            .map_err(|e| self.sql(e))?;
        for id in candidates {
            let unsettled: bool = open
                .query_row([id], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            if !unsettled {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Records a file as the echo of `original` (see [`Ledger::settled_original`]): every one of
    /// its rows is `already_posted`, and none is copied.
    pub fn stage_echo(&mut self, file_id: i64, original: i64) -> Result<Staged, LedgerError> {
        let rows: i64 = self
            .conn
            .query_row(
                "UPDATE files SET echo_of = ?1, (rows, cents, control_checks) =
                 (SELECT rows, cents, control_checks FROM files WHERE id = ?1)
                 WHERE id = ?2 RETURNING rows",
                params![original, file_id],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        Ok(Staged {
            already_posted: rows as u64,
            ..Staged::default()
        })
    }

    /// Stores the control totals a file stated, stated vs computed.
    pub fn set_control_checks(
        &mut self,
        file_id: i64,
        checks: &[ControlCheck],
    ) -> Result<(), LedgerError> {
        if checks.is_empty() {
            return Ok(());
        }
        let json: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({"scope": c.scope, "what": c.what, "line": c.line,
                    "stated": c.stated, "computed": c.computed, "matches": c.matches()})
            })
            .collect();
        self.conn
            .execute(
                "UPDATE files SET control_checks = ?1 WHERE id = ?2",
                params![serde_json::Value::Array(json).to_string(), file_id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Display ids queued for a run whose loan id is not known yet.
    pub fn unresolved_display_ids(&self, run: RunId) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT loan FROM rows WHERE sent_by_run = ?1 AND status = 'pending' AND loan_id IS NULL ORDER BY loan",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map([run], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| sql_err(&self.path, e))
    }

    /// A display id resolved earlier, if any.
    pub fn cached_loan_id(&self, display_id: &str) -> Result<Option<i64>, LedgerError> {
        self.conn
            .query_row(
                "SELECT loan_id FROM loan_ids WHERE display_id = ?1",
                [display_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Records what a display id resolved to for a run's queued rows: a loan id (cached), or
    /// `Err(message)` with the status its rows take instead.
    pub fn resolve_display_id(
        &mut self,
        run: RunId,
        display_id: &str,
        result: Result<i64, (Status, String)>,
    ) -> Result<(), LedgerError> {
        let t = now();
        let r = match &result {
            Ok(loan_id) => self
                .conn
                .execute(
                    "INSERT OR REPLACE INTO loan_ids (display_id, loan_id, resolved_at) VALUES (?1, ?2, ?3)",
                    params![display_id, loan_id, t],
                )
                .and_then(|_| {
                    self.conn.execute(
                        "UPDATE rows SET loan_id = ?1 WHERE sent_by_run = ?2 AND status = 'pending' AND loan = ?3 AND loan_id IS NULL",
                        params![loan_id, run, display_id],
                    )
                }),
            Err((status, message)) => self.conn.execute(
                // A rejected row no longer speaks for its key: a corrected file may bring it again.
                "UPDATE rows SET status = ?1, message = ?2, updated_at = ?3,
                 live = CASE WHEN ?1 = 'rejected' THEN 0 ELSE live END
                 WHERE sent_by_run = ?4 AND status = 'pending' AND loan = ?5 AND loan_id IS NULL",
                params![status.as_str(), message, t, run, display_id],
            ),
        };
        r.map(|_| ()).map_err(|e| self.sql(e))
    }

    /// Marks a file refused: none of its rows are staged.
    pub fn refuse_file(&mut self, file_id: i64, message: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE files SET status = 'refused', message = ?1, rows = 0 WHERE id = ?2",
                params![message, file_id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Stages the rows of one file in one transaction: all of it, or (on a file error from the
    /// iterator) none of it.
    pub fn stage_file<E>(
        &mut self,
        run: RunId,
        file_id: i64,
        rows: impl Iterator<Item = Result<NewRow, E>>,
    ) -> Result<Result<Staged, E>, LedgerError> {
        let path = self.path.clone();
        let sql = |e| sql_err(&path, e);
        let tx = self.conn.transaction().map_err(sql)?;
        let mut staged = Staged::default();
        let (mut first_row, mut last_row, mut cents) = (None, None, Cents::ZERO);
        let t = now();
        {
            let mut find_live = tx
                .prepare_cached(
                    "SELECT id, run_id, status, file, line, loanpro_payment_id, loan_id
                     FROM rows WHERE key = ?1 AND live = 1",
                )
                .map_err(sql)?;
            // A row taken over stops speaking for its key; one still queued is no longer sent.
            let mut retire = tx
                .prepare_cached(
                    "UPDATE rows SET live = 0,
                     message = CASE WHEN status = 'pending' THEN ?2 ELSE message END,
                     sent_by_run = CASE WHEN status = 'pending' THEN NULL ELSE sent_by_run END,
                     status = CASE WHEN status = 'pending' THEN 'unsent' ELSE status END
                     WHERE id = ?1",
                )
                .map_err(sql)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO rows (run_id, file, line, key, live, status, loan, loan_id, amount,
                     amount_cents, date, reference, payment_method_id, payment_type_id, extra, info,
                     message, loanpro_payment_id, updated_at, sent_by_run, file_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                             CASE WHEN ?6 = 'pending' THEN ?1 END, ?20)",
                )
                .map_err(sql)?;
            for row in rows {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)), // dropping `tx` rolls the file back
                };
                let key = row.key.to_string();
                let (live, status, message, payment_id): (
                    bool,
                    Status,
                    Option<String>,
                    Option<i64>,
                ) = if let Some(reason) = &row.rejection {
                    staged.rejected += 1;
                    (false, Status::Rejected, Some(reason.clone()), None)
                } else {
                    let earlier = find_live
                        .query_row([&key], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, i64>(4)?,
                                r.get::<_, Option<i64>>(5)?,
                            ))
                        })
                        .optional()
                        .map_err(sql)?;
                    match earlier {
                        None => {
                            staged.pending += 1;
                            (true, Status::Pending, None, None)
                        }
                        Some((id, r, st, f, l, pid)) => {
                            let st = Status::parse(&st).unwrap_or(Status::Unknown);
                            match st {
                                Status::Posted => {
                                    staged.already_posted += 1;
                                    (
                                        false,
                                        Status::AlreadyPosted,
                                        Some(format!("posted by run {r} ({f}:{l})")),
                                        pid,
                                    )
                                }
                                _ if r == run => {
                                    staged.rejected += 1;
                                    (
                                        false,
                                        Status::Rejected,
                                        Some(format!(
                                            "the same payment (loan, amount, date, reference) as {f}:{l} in this run; not sent twice"
                                        )),
                                        None,
                                    )
                                }
                                Status::Failed | Status::Unsent | Status::Pending => {
                                    // This file brings the payment again: it takes over.
                                    retire
                                        .execute(params![id, format!("taken over by run {run}")])
                                        .map_err(sql)?;
                                    staged.pending += 1;
                                    (true, Status::Pending, None, None)
                                }
                                _ => {
                                    staged.unknown += 1;
                                    (
                                        false,
                                        Status::Unknown,
                                        Some(format!(
                                            "an earlier attempt (run {r}, {f}:{l}) may have been logged; it must be reconciled before this payment is sent"
                                        )),
                                        None,
                                    )
                                }
                            }
                        }
                    }
                };
                insert
                    .execute(params![
                        run,
                        &*row.file,
                        row.line as i64,
                        key,
                        live,
                        status.as_str(),
                        row.loan,
                        row.loan_id.map(|v| v as i64),
                        row.amount,
                        row.amount_cents,
                        row.date,
                        row.reference,
                        row.payment_method_id,
                        row.payment_type_id,
                        row.extra,
                        row.info,
                        message,
                        payment_id,
                        t,
                        file_id,
                    ])
                    .map_err(sql)?;
                last_row = Some(tx.last_insert_rowid());
                first_row = first_row.or(last_row);
                cents = cents.saturating_add(row.amount_cents.unwrap_or_default());
            }
            tx.execute(
                "UPDATE files SET rows = ?1, first_row = ?2, last_row = ?3, cents = ?4 WHERE id = ?5",
                params![
                    (staged.pending + staged.rejected + staged.already_posted + staged.unknown)
                        as i64,
                    first_row,
                    last_row,
                    cents,
                    file_id
                ],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(Ok(staged))
    }

    /// Takes up to `n` rows queued for a run for sending: one transaction marks them all
    /// `sending`, durably, before any of their requests leave.
    pub fn claim(&mut self, run: RunId, n: usize) -> Result<Vec<Claimed>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE rows SET status = 'sending', updated_at = ?3, sent_at = ?3
                 WHERE id IN (SELECT id FROM rows WHERE sent_by_run = ?1 AND status = 'pending' ORDER BY id LIMIT ?2)
                 RETURNING id, key, loan_id, amount_cents, date, info, payment_method_id, payment_type_id, extra",
            )
            .map_err(|e| sql_err(&self.path, e))?;
        let mut rows = stmt
            .query_map(params![run, n as i64, now()], |r| {
                Ok(Claimed {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    loan_id: r.get(2)?,
                    amount: r.get(3)?,
                    date: r.get(4)?,
                    info: r.get(5)?,
                    payment_method_id: r.get(6)?,
                    payment_type_id: r.get(7)?,
                    extra: r.get(8)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| sql_err(&self.path, e))?;
        rows.sort_by_key(|c| c.id);
        Ok(rows)
    }

    /// Records a group of results in one transaction.
    pub fn record(&mut self, outcomes: &[Outcome]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| sql_err(&path, e);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE rows SET status = ?2, attempts = attempts + ?3, http_status = ?4,
                     message = ?5, loanpro_payment_id = COALESCE(?6, loanpro_payment_id), updated_at = ?7,
                     sent_at = COALESCE(?8, sent_at)
                     WHERE id = ?1",
                )
                .map_err(sql)?;
            let t = now();
            for o in outcomes {
                stmt.execute(params![
                    o.id,
                    o.status.as_str(),
                    o.attempts,
                    o.http_status,
                    o.message,
                    o.loanpro_payment_id.map(|v| v as i64),
                    t,
                    o.sent_at
                ])
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Live rows a `retry` may take: `failed`, `unsent` or `unknown`, of one run or of all, or the
    /// rows (live or not) with the given keys, whatever their state, so `retry` can say why not.
    pub fn retry_candidates(
        &self,
        run: Option<RunId>,
        keys: &[String],
    ) -> Result<Vec<(i64, String, String)>, LedgerError> {
        let map = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
        let rows: Result<Vec<_>, _> = if keys.is_empty() {
            let mut stmt = self
                .conn
                .prepare_cached(
                    // INDEXED BY: the planner would otherwise walk the live-key index, a
                    // read of every payment ever posted.
                    concat!(
                        "SELECT id, key, status FROM rows INDEXED BY rows_open WHERE ",
                        rows_open!(),
                        " AND live = 1 AND status IN ('failed', 'unsent', 'unknown')
                         AND (?1 IS NULL OR run_id = ?1) ORDER BY id"
                    ),
                )
                .map_err(|e| self.sql(e))?;
            stmt.query_map([run], map).and_then(|r| r.collect())
        } else {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, key, status FROM rows WHERE key = ?1 AND (?2 IS NULL OR run_id = ?2)
                     ORDER BY live DESC, id DESC LIMIT 1",
                )
                .map_err(|e| self.sql(e))?;
            keys.iter()
                .filter_map(|k| stmt.query_row(params![k, run], map).optional().transpose())
                .collect()
        };
        rows.map_err(|e| self.sql(e))
    }

    /// Queues rows for `run` to send again, with a fresh count of attempts.
    pub fn queue_for_retry(&mut self, run: RunId, ids: &[i64]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sql_err(&path, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE rows SET status = 'pending', sent_by_run = ?2, attempts = 0,
                     message = 'queued again by `payimport retry`', updated_at = ?3
                     WHERE id = ?1 AND live = 1 AND status IN ('failed', 'unsent')",
                )
                .map_err(|e| sql_err(&path, e))?;
            let t = now();
            for id in ids {
                stmt.execute(params![id, run, t])
                    .map_err(|e| sql_err(&path, e))?;
            }
        }
        tx.commit().map_err(|e| sql_err(&path, e))
    }

    /// How many rows are queued for a run to send.
    pub fn queued(&self, run: RunId) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM rows WHERE sent_by_run = ?1 AND status = 'pending'",
                [run],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    /// Live rows whose outcome is unknown: those a run sent (`Some(run)`), or all of them.
    pub fn uncertain(&self, sent_by: Option<RunId>) -> Result<Vec<Uncertain>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                // INDEXED BY: see retry_candidates.
                concat!(
                    "SELECT id, key, loan_id, attempts, sent_at FROM rows INDEXED BY rows_open WHERE ",
                    rows_open!(),
                    " AND status = 'unknown' AND live = 1 AND loan_id IS NOT NULL
                     AND (?1 IS NULL OR sent_by_run = ?1) ORDER BY loan_id, id"
                ),
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map([sent_by], |r| {
            Ok(Uncertain {
                id: r.get(0)?,
                key: r.get(1)?,
                loan_id: r.get(2)?,
                attempts: r.get(3)?,
                sent_at: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_err(&self.path, e))
    }

    /// Records what read-backs found, in one transaction.
    pub fn record_reconciled(&mut self, results: &[(i64, Reconciled)]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| sql_err(&path, e);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE rows SET status = ?2, message = ?3,
                     loanpro_payment_id = COALESCE(?4, loanpro_payment_id),
                     sent_by_run = COALESCE(?5, sent_by_run),
                     reconciled = reconciled + 1, updated_at = ?6
                     WHERE id = ?1",
                )
                .map_err(sql)?;
            let t = now();
            for (id, r) in results {
                let (status, message, payment_id, run) = match r {
                    Reconciled::Found { payment_id } => (
                        Status::Posted,
                        Some("found in LoanPro by its key after an uncertain answer".to_string()),
                        payment_id.map(|p| p as i64),
                        None,
                    ),
                    Reconciled::Resend { run } => (
                        Status::Pending,
                        Some(
                            "not found in LoanPro after an uncertain answer: sent again"
                                .to_string(),
                        ),
                        None,
                        Some(*run),
                    ),
                    Reconciled::GiveUp { message } => {
                        (Status::Unsent, Some(message.clone()), None, None)
                    }
                    Reconciled::ReadFailed { message } => {
                        (Status::Unknown, Some(message.clone()), None, None)
                    }
                };
                stmt.execute(params![id, status.as_str(), message, payment_id, run, t])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// How many rows of a run were read back from LoanPro at least once.
    pub fn reconciled_count(&self, run: RunId) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM rows WHERE (run_id = ?1 OR sent_by_run = ?1) AND reconciled > 0",
                [run],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    /// Counts and amounts per status for one run: the rows it staged and the earlier ones it
    /// sent, and the rows of its echo files (those of their originals, each `already_posted`).
    pub fn totals(&self, run: RunId) -> Result<Vec<StatusTotal>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, SUM(n), SUM(cents) FROM (
                     SELECT status, COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS cents
                     FROM rows WHERE run_id = ?1 OR sent_by_run = ?1 GROUP BY status
                     UNION ALL
                     SELECT 'already_posted', rows, cents FROM files
                     WHERE run_id = ?1 AND echo_of IS NOT NULL)
                 GROUP BY status ORDER BY status",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map([run], |r| {
            Ok(StatusTotal {
                status: r.get(0)?,
                count: r.get::<_, i64>(1)? as u64,
                cents: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_err(&self.path, e))
    }

    /// The first rows of a run that need a person.
    pub fn needing_attention(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<Vec<AttentionRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT file, line, key, status, COALESCE(message, '') FROM rows
                 WHERE (run_id = ?1 OR sent_by_run = ?1) AND status IN ('rejected', 'failed', 'unsent', 'unknown')
                 ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map(params![run, limit as i64], |r| {
            Ok(AttentionRow {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                key: r.get(2)?,
                status: r.get(3)?,
                message: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_err(&self.path, e))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, command, source, started_at, ended_at FROM runs ORDER BY id")
            .map_err(|e| self.sql(e))?;
        let runs: Vec<RunInfo> = stmt
            .query_map([], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    source: r.get(2)?,
                    started_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    files: Vec::new(),
                    totals: Vec::new(),
                })
            })
            .and_then(|rows| rows.collect::<Result<_, _>>())
            .map_err(|e| self.sql(e))?;
        let mut files = self
            .conn
            .prepare("SELECT path FROM files WHERE run_id = ?1 ORDER BY id")
            .map_err(|e| self.sql(e))?;
        runs.into_iter()
            .map(|mut run| {
                run.files = files
                    .query_map([run.id], |r| r.get(0))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| self.sql(e))?;
                run.totals = self.totals(run.id)?;
                Ok(run)
            })
            .collect()
    }

    /// The id of the newest run.
    pub fn last_run(&self) -> Result<Option<RunId>, LedgerError> {
        self.conn
            .query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// The underlying connection, for read-only queries of other modules (the report).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn sql_err(path: &Path, source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// One run per ledger: an exclusive lock on `LEDGER.lock`, released by the OS when the process
/// ends however it ends, so a `kill -9` never leaves a stale lock behind.
fn take_lock(path: &Path) -> Result<File, LedgerError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let io = |source| LedgerError::Io {
        path: lock_path.clone(),
        source,
    };
    let file = open_private(&lock_path, false).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path)
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "a run that is starting".into());
            Err(LedgerError::InUse {
                path: path.to_path_buf(),
                holder,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Looks at a ledger file's header before SQLite opens it: a file that is not a SQLite
/// database, or is shorter than its header says (cut short by a full disk or a partial copy),
/// is refused as it is. A missing or empty file is a new ledger.
fn check_file(path: &Path) -> Result<(), LedgerError> {
    use std::io::Read;
    let corrupt = |problem: String| LedgerError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let io = |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(());
    }
    let mut header = Vec::with_capacity(100);
    (&mut file).take(100).read_to_end(&mut header).map_err(io)?;
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        return Err(corrupt(
            "is not a payimport ledger: it is not a SQLite database (it may be damaged, or another file)".into(),
        ));
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    // The page count in the header is trusted only when its change counter matches (SQLite's
    // own rule); a WAL with frames in it may hold pages the file does not have yet.
    let pages = u64::from(be32(28));
    let wal_frames = std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
    if be32(24) == be32(92) && wal_frames == 0 && len < pages * page_size {
        return Err(corrupt(format!(
            "is truncated: its header gives {pages} pages of {page_size} bytes ({} bytes), the file holds {len}",
            pages * page_size
        )));
    }
    Ok(())
}

/// Creates the ledger file readable by its owner only: it holds borrowers' payment data.
fn create_private(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        open_private(path, false)?;
    }
    Ok(())
}

fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_state_rows_open_as_its_migration_does() {
        assert!(MIGRATIONS[0].contains(concat!("ON rows(status) WHERE ", rows_open!(), ";")));
    }
}
