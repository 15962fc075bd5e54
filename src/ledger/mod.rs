//! The SQLite ledger (docs/states.md): runs, files and rows with their keys and states.
//!
//! The ledger, not memory, is the queue: rows are staged here before anything is sent, claimed
//! in batches for sending, and their results recorded in groups. Because a row is marked
//! `sending` (and that mark is durable, `synchronous=FULL`) before its request leaves, a crash at
//! any point leaves every row in a state the next run can recover from.
//!
//! This file holds [`Ledger`], [`LedgerError`] and opening; the rest is split by concern:
//! `file` (the file itself: header checks, lock, permissions), `migrate` (schema), `stage`
//! (runs, files and their rows going in), `queue` (claiming, recording, retrying, reconciling),
//! `queries` (totals, runs, report rows), `returns` (matching returns, their reversals),
//! `resolve` (what a person resolves: dismiss, amend, the `resolutions` trail, rejected rows),
//! `status` (the row state machine) and `tenant` (the one LoanPro tenant a ledger belongs to).

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

mod file;
mod migrate;
mod queries;
mod queue;
mod reconciliations;
mod resolve;
mod returns;
mod stage;
mod status;
mod tenant;
mod tieout;

mod verify;

pub use crate::money::Amount;
pub use queries::{AttentionRow, FileInfo, ReportRow, RunInfo, StatusTotal};
pub use queue::{
    Claim, Claimed, ClaimedPayment, Kind, Outcome, Reconciled, RetryCandidate, Uncertain,
};
pub use reconciliations::{Reconciliation, StoredDrift};
pub use resolve::{NamedRow, RejectedRow, Resolver, resolvable};
pub use returns::{Matched, Reversal, ToMatch};
pub use stage::{NewReturn, NewRow, RunOutcome, Staged};
pub use status::{Status, Step};
pub use tenant::OtherTenant;
pub use tieout::{DepositTieOut, FileTieOut, Listed, NotPaymentEntry, OriginalPayment, Sum, Tally};

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
    #[error("ledger {path} has no run {run}; `payimport runs` lists the runs it has")]
    NoSuchRun { path: PathBuf, run: RunId },
    #[error(
        "ledger {path} {problem}; it was left as it is: restore it from a backup (a new, empty ledger would not know which payments were already posted)"
    )]
    Corrupt { path: PathBuf, problem: String },
    /// A row was not in a state the change asked of it may start from: nothing was changed
    /// (the whole group is rolled back), as overwriting it could lose a result.
    #[error(
        "ledger {path}: {row} is {found}, but only a row in {wanted} may become `{to}`; nothing was changed"
    )]
    UnexpectedState {
        path: PathBuf,
        /// Which row(s): id and key, or the rows of a display id.
        row: String,
        /// Its state, or what else was found (not in the ledger, not live).
        found: String,
        /// The states it may come from, as `a`, `b`.
        wanted: String,
        to: Status,
    },
    /// The ledger records another LoanPro tenant or base URL than the settings name (docs/states.md).
    #[error("{0}")]
    OtherTenant(Box<OtherTenant>),
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

/// The one way a SQLite error becomes a [`LedgerError`]: "not a database" and "malformed" mean
/// a damaged file, said so plainly; anything else names the ledger and SQLite's message.
fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |source| {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match source.sqlite_error_code() {
            Some(NotADatabase | DatabaseCorrupt) => LedgerError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("is damaged ({source})"),
            },
            _ => LedgerError::Sqlite {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// The id of a run.
pub type RunId = i64;

/// An open ledger. Opened for writing it also holds the ledger's lock.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    lock: Option<File>,
    /// `[payments] duplicates = "hold"`: staging holds possible duplicates (docs/states.md).
    hold_duplicates: bool,
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
        let lock = file::take_lock(path)?;
        file::create_private(path).map_err(io)?;
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
        // `connect` refuses a ledger from a newer payimport; nothing is migrated here.
        Ledger::connect(path, None)
    }

    fn connect(path: &Path, lock: Option<File>) -> Result<Ledger, LedgerError> {
        file::check_file(path)?;
        let conn = Connection::open(path).map_err(sql(path))?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
            lock,
            hold_duplicates: true,
        };
        // Before the pragmas below, which write to the file: a ledger this payimport cannot
        // use is left exactly as it is. (Waiting out a writer does not write.)
        ledger
            .conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql(path))?;
        ledger.check_schema()?;
        // FULL, not NORMAL: a `sending` mark lost in a power cut would let a rerun post twice.
        ledger
            .conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-32768;",
            )
            .map_err(sql(path))?;
        // Every statement of the hot paths stays prepared (the default keeps 16).
        ledger.conn.set_prepared_statement_cache_capacity(64);
        Ok(ledger)
    }

    /// SQLite's full integrity check (`payimport check`): `Ok` when the ledger is sound, else
    /// [`LedgerError::Corrupt`] with SQLite's first finding.
    pub fn integrity_check(&self) -> Result<(), LedgerError> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
            .map_err(sql(&self.path))?;
        if result != "ok" {
            return Err(LedgerError::Corrupt {
                path: self.path.clone(),
                problem: format!("is damaged (SQLite's integrity_check: {result})"),
            });
        }
        Ok(())
    }

    /// Whether a run holds the ledger's lock now (`payimport check`): takes the lock and lets it
    /// go at once, so it never keeps a run out. With no lock file, nothing has held it.
    pub fn lock_holder(path: &Path) -> Result<Option<String>, LedgerError> {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        if !Path::new(&lock_path).exists() {
            return Ok(None);
        }
        match file::take_lock(path) {
            Ok(_released_on_drop) => Ok(None),
            Err(LedgerError::InUse { holder, .. }) => Ok(Some(holder)),
            Err(e) => Err(e),
        }
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For a test hook (`PAYIMPORT_LEDGER_FAIL_AFTER`, see `crashpoint`): from now on every write
    /// fails with an SQLite error, as on a disk that has just filled up.
    pub fn refuse_writes(&self) -> Result<(), LedgerError> {
        self.conn
            .pragma_update(None, "query_only", true)
            .map_err(sql(&self.path))
    }

    /// The error for a row (by id) that an `UPDATE` guarded by `wanted` did not change: names
    /// the row's key and the state it is in. Only reached when something is wrong, so the
    /// extra read costs nothing on the way that works.
    fn unexpected_row(
        conn: &Connection,
        path: &Path,
        id: i64,
        wanted: &[Status],
        to: Status,
    ) -> LedgerError {
        let found = conn
            .query_row(
                "SELECT key, status, live FROM rows WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                },
            )
            .ok();
        let (row, found) = match found {
            Some((key, status, live)) => (
                format!("row {id} (key {key})"),
                format!("`{status}`{}", if live { "" } else { " and not live" }),
            ),
            None => (format!("row {id}"), "not in the ledger".to_string()),
        };
        LedgerError::UnexpectedState {
            path: path.to_path_buf(),
            row,
            found,
            wanted: names(wanted),
            to,
        }
    }
}

/// `` `a`, `b` ``: states for a message.
fn names(states: &[Status]) -> String {
    if states.is_empty() {
        return "no state".into();
    }
    let names: Vec<String> = states.iter().map(|s| format!("`{s}`")).collect();
    names.join(", ")
}
