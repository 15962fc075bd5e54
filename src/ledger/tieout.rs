//! The tie-out of bank files (docs/report.md): for each file (and each deposit in it) where every
//! cent it states went, each row counted once at its latest state, however many runs saw it.
//!
//! A bank file is one content: the instances of a file imported again (same fingerprint) and
//! its echo files are one file here, read through its first staged instance; each row's latest
//! state is that of the row that speaks for its key now (`live`), wherever it was staged.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, LedgerError, RunId, Status, sql};
use crate::money::Cents;

/// A count and an amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sum {
    pub count: u64,
    pub amount: Cents,
}

impl Sum {
    fn add(&mut self, cents: Cents) {
        self.count += 1;
        self.amount = self.amount.saturating_add(cents);
    }
}

/// Where the amounts of a file or deposit went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Posted by this file's rows (reversed since or not).
    pub posted: Sum,
    /// Posted earlier from another file, by file.
    pub already_posted: BTreeMap<String, Sum>,
    /// Rejected, at the amount as given where it can be read.
    pub rejected: Sum,
    /// Rejected rows whose amount could not be read at all (they count as zero).
    pub rejected_unreadable: u64,
    /// Read and skipped as no payment.
    pub not_payments: Sum,
    /// Not settled yet: held, pending, sending, unsent, unknown, failed, unmatched.
    pub open: Sum,
    /// Settled elsewhere: a person dismissed the row (`payimport dismiss`), so payimport sent
    /// nothing of it; listed apart from what payimport posted.
    pub dismissed: Sum,
    /// Of `posted`: reversed since by a return.
    pub reversed: Sum,
}

impl Tally {
    /// Every amount the file's entries account for.
    pub fn accounted(&self) -> Cents {
        let already = self
            .already_posted
            .values()
            .fold(Cents::ZERO, |t, s| t.saturating_add(s.amount));
        self.posted
            .amount
            .saturating_add(already)
            .saturating_add(self.rejected.amount)
            .saturating_add(self.not_payments.amount)
            .saturating_add(self.open.amount)
            .saturating_add(self.dismissed.amount)
    }

    /// What stands in LoanPro from this file now: posted less reversed.
    pub fn net(&self) -> Cents {
        Cents(self.posted.amount.0.saturating_sub(self.reversed.amount.0))
    }

    fn already_total(&self) -> Sum {
        self.already_posted
            .values()
            .fold(Sum::default(), |mut t, s| {
                t.count += s.count;
                t.amount = t.amount.saturating_add(s.amount);
                t
            })
    }

    /// Already posted, all files together.
    pub fn already_posted_total(&self) -> Sum {
        self.already_total()
    }
}

/// One deposit inside a file: a lockbox batch, a BAI2 account.
#[derive(Debug, Clone, Serialize)]
pub struct DepositTieOut {
    pub scope: String,
    /// The line of the trailer that states its total.
    pub line: u64,
    pub stated: Cents,
    pub tally: Tally,
    /// posted + already posted + rejected + not payments + open + dismissed.
    pub accounted: Cents,
    pub balances: bool,
}

/// An entry read and skipped as no payment.
#[derive(Debug, Clone, Serialize)]
pub struct NotPaymentEntry {
    pub line: u64,
    pub code: String,
    pub amount: Option<Cents>,
    pub why: String,
}

/// The tie-out of one bank file.
#[derive(Debug, Clone, Serialize)]
pub struct FileTieOut {
    /// The file as given on the command line the first time it was imported.
    pub file: String,
    /// The runs that imported it (again), first first.
    pub runs: Vec<RunId>,
    /// `staged` or `refused` (then nothing of it was staged, and `message` says why).
    pub status: String,
    pub message: Option<String>,
    /// The total the file states: its control total, else the sum of every readable amount.
    pub stated: Cents,
    /// Where `stated` comes from.
    pub stated_from: String,
    pub tally: Tally,
    /// posted + already posted + rejected + not payments + open + dismissed.
    pub accounted: Cents,
    /// What stands in LoanPro from this file now: posted less reversed since.
    pub net: Cents,
    /// Whether stated = posted + already posted + rejected + not payments + open + dismissed, to
    /// the cent.
    pub balances: bool,
    pub deposits: Vec<DepositTieOut>,
    pub not_payments: Vec<NotPaymentEntry>,
}

/// A stated amount control total of a file: scope, line, cents.
struct StatedAmount {
    scope: String,
    line: u64,
    stated: i64,
}

/// Which control totals a file's stated total is taken from, outermost first; and the scopes
/// that are deposits.
const FILE_SCOPES: [&str; 3] = ["file", "group ", "lockbox "];
const DEPOSIT_SCOPES: [&str; 2] = ["account ", "batch "];

/// A file instance: id, run, path, fingerprint, the file it echoes.
type Instance = (i64, RunId, String, Option<String>, Option<i64>);

/// A file's record: path, status, message, control checks, fingerprint, first and last row.
type FileRecord = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// How a row counts, from its own state and that of the row that speaks for its key now.
enum Counts {
    Posted { reversed: bool },
    AlreadyPosted(String),
    Rejected(Option<Cents>),
    Open,
    Dismissed,
}

impl Ledger {
    /// The tie-out of every bank file the runs in `runs` imported (a file imported again, or
    /// echoed, counts once), in the order first imported. `file` keeps only files whose path
    /// or file name is that.
    pub fn tie_out(
        &self,
        runs: &BTreeSet<RunId>,
        file: Option<&str>,
    ) -> Result<Vec<FileTieOut>, LedgerError> {
        let err = sql(&self.path);
        // Every file instance of the runs, mapped to its bank file's first staged instance.
        let mut instances: Vec<Instance> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, run_id, path, fingerprint, echo_of FROM files ORDER BY id")
                .map_err(&err)?;
            let mut q = stmt.query([]).map_err(&err)?;
            while let Some(r) = q.next().map_err(&err)? {
                let run: RunId = r.get(1).map_err(&err)?;
                if !runs.contains(&run) {
                    continue;
                }
                let path: String = r.get(2).map_err(&err)?;
                if let Some(want) = file
                    && path != want
                    && std::path::Path::new(&path)
                        .file_name()
                        .and_then(|n| n.to_str())
                        != Some(want)
                {
                    continue;
                }
                instances.push((
                    r.get(0).map_err(&err)?,
                    run,
                    path,
                    r.get(3).map_err(&err)?,
                    r.get(4).map_err(&err)?,
                ));
            }
        }
        // The bank file of an instance: its echo's original, else the first staged instance
        // of the same content, else itself.
        let mut first_of = self
            .conn
            .prepare(
                "SELECT MIN(id) FROM files WHERE fingerprint = ?1 AND status = 'staged' AND echo_of IS NULL",
            )
            .map_err(&err)?;
        let mut order: Vec<i64> = Vec::new();
        let mut runs_of: BTreeMap<i64, Vec<RunId>> = BTreeMap::new();
        for (id, run, _path, fingerprint, echo_of) in &instances {
            let root = match (echo_of, fingerprint) {
                (Some(original), _) => *original,
                (None, Some(f)) => first_of
                    .query_row([f], |r| r.get::<_, Option<i64>>(0))
                    .map_err(&err)?
                    .unwrap_or(*id),
                (None, None) => *id,
            };
            let list = runs_of.entry(root).or_default();
            if list.is_empty() {
                order.push(root);
            }
            if !list.contains(run) {
                list.push(*run);
            }
        }
        let mut out = Vec::with_capacity(order.len());
        for root in order {
            let mut t = self.tie_out_file(root)?;
            t.runs = runs_of.remove(&root).unwrap_or_default();
            out.push(t);
        }
        Ok(out)
    }

    /// The tie-out of one bank file, read through its instance `root`.
    fn tie_out_file(&self, root: i64) -> Result<FileTieOut, LedgerError> {
        let err = sql(&self.path);
        let (path, status, message, checks, fingerprint, first_row, last_row): FileRecord = self
            .conn
            .query_row(
                "SELECT path, status, message, control_checks, fingerprint, first_row, last_row
                 FROM files WHERE id = ?1",
                [root],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .map_err(&err)?;
        let amounts = stated_amounts(checks.as_deref());
        let mut deposits: Vec<DepositTieOut> = amounts
            .iter()
            .filter(|a| DEPOSIT_SCOPES.iter().any(|p| a.scope.starts_with(p)))
            .map(|a| DepositTieOut {
                scope: a.scope.clone(),
                line: a.line,
                stated: Cents(a.stated),
                tally: Tally::default(),
                accounted: Cents::ZERO,
                balances: true,
            })
            .collect();
        deposits.sort_by_key(|d| d.line);
        // The deposit a line belongs to: the first whose trailer is at or after it.
        let deposit_of = |deposits: &[DepositTieOut], line: u64| {
            let i = deposits.partition_point(|d| d.line < line);
            (i < deposits.len()).then_some(i)
        };
        let mut tally = Tally::default();
        let mut readable = Cents::ZERO;
        if let (Some(first), Some(last)) = (first_row, last_row) {
            // The file's rows are one id range; each joined to the row that speaks for its
            // key now, and that row's file (to tell this file's posting from another's).
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT r.line, r.status, r.amount_cents, r.amount_as_given,
                            l.status, l.file_id, l.file, lf.fingerprint, r.key
                     FROM rows r
                     LEFT JOIN rows l ON l.key = r.key AND l.live = 1
                     LEFT JOIN files lf ON lf.id = l.file_id
                     WHERE r.id BETWEEN ?1 AND ?2 AND r.file_id = ?3
                     ORDER BY r.id",
                )
                .map_err(&err)?;
            // Amended rows are few (a person amends them one by one): a look-up each, no index.
            let mut copy = self
                .conn
                .prepare(
                    "SELECT key, status FROM rows WHERE amends = ?1 AND kind = 'payment'
                     ORDER BY live DESC, id DESC LIMIT 1",
                )
                .map_err(&err)?;
            let mut q = stmt.query(params![first, last, root]).map_err(&err)?;
            while let Some(r) = q.next().map_err(&err)? {
                let line: i64 = r.get(0).map_err(&err)?;
                let own: Status = r.get(1).map_err(&err)?;
                let cents: Option<Cents> = r.get(2).map_err(&err)?;
                let as_given: Option<String> = r.get(3).map_err(&err)?;
                let live: Option<Status> = r.get(4).map_err(&err)?;
                let live_file_id: Option<i64> = r.get(5).map_err(&err)?;
                let live_file: Option<String> = r.get(6).map_err(&err)?;
                let live_fingerprint: Option<String> = r.get(7).map_err(&err)?;
                let same_file = live_file_id == Some(root)
                    || (fingerprint.is_some() && live_fingerprint == fingerprint);
                let mut state = live.unwrap_or(own);
                // An amended row was replaced by its corrected copy (`payimport amend`): its
                // money counts once, where the copy (or the copy's copy) stands now. A copy has
                // no file of its own, so no file counts it a second time.
                let mut key = r.get::<_, String>(8).map_err(&err)?;
                while state == Status::Amended {
                    match copy
                        .query_row([&key], |c| Ok((c.get(0)?, c.get(1)?)))
                        .optional()
                        .map_err(&err)?
                    {
                        Some((k, s)) => (key, state) = (k, s),
                        None => break,
                    }
                }
                let counts = match state {
                    Status::Rejected => Counts::Rejected(
                        cents.or_else(|| as_given.as_deref().and_then(readable_amount)),
                    ),
                    Status::Posted | Status::AlreadyPosted | Status::Reversed => {
                        if same_file || live.is_none() {
                            Counts::Posted {
                                reversed: state == Status::Reversed,
                            }
                        } else {
                            Counts::AlreadyPosted(live_file.unwrap_or_default())
                        }
                    }
                    Status::Dismissed => Counts::Dismissed,
                    _ => Counts::Open,
                };
                let amount = cents.unwrap_or(Cents::ZERO);
                let d = deposit_of(&deposits, line as u64);
                for t in std::iter::once(&mut tally)
                    .chain(d.and_then(|i| deposits.get_mut(i)).map(|d| &mut d.tally))
                {
                    count(t, &counts, amount);
                }
                if let Counts::Rejected(Some(c)) = counts {
                    readable = readable.saturating_add(c);
                } else {
                    readable = readable.saturating_add(amount);
                }
            }
        }
        let mut not_payments = Vec::new();
        if self.has_table("not_payments")? {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT line, code, cents, why FROM not_payments WHERE file_id = ?1 ORDER BY line, id",
                )
                .map_err(&err)?;
            let mut q = stmt.query([root]).map_err(&err)?;
            while let Some(r) = q.next().map_err(&err)? {
                let e = NotPaymentEntry {
                    line: r.get::<_, i64>(0).map_err(&err)? as u64,
                    code: r.get(1).map_err(&err)?,
                    amount: r.get(2).map_err(&err)?,
                    why: r.get(3).map_err(&err)?,
                };
                let amount = e.amount.unwrap_or(Cents::ZERO);
                tally.not_payments.add(amount);
                readable = readable.saturating_add(amount);
                if let Some(i) = deposit_of(&deposits, e.line) {
                    deposits[i].tally.not_payments.add(amount);
                }
                not_payments.push(e);
            }
        }
        for d in &mut deposits {
            d.accounted = d.tally.accounted();
            d.balances = d.accounted == d.stated;
        }
        let (stated, stated_from) = match stated_total(&amounts) {
            Some((stated, from)) => (Cents(stated), from),
            None => (
                readable,
                "the sum of every readable amount (the file states no total)".to_string(),
            ),
        };
        let balances = status == "staged" && tally.accounted() == stated;
        Ok(FileTieOut {
            file: path,
            runs: Vec::new(),
            status,
            message,
            stated,
            stated_from,
            accounted: tally.accounted(),
            net: tally.net(),
            tally,
            balances,
            deposits,
            not_payments,
        })
    }

    pub(super) fn has_table(&self, name: &str) -> Result<bool, LedgerError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(sql(&self.path))
    }
}

/// A rejected row's amount as given, where it reads as one: `-20.00` is minus twenty.
fn readable_amount(given: &str) -> Option<Cents> {
    let given = given.trim();
    match given.strip_prefix('-') {
        Some(rest) => crate::money::parse_amount(rest.trim())
            .ok()
            .map(|c| Cents(-c.0)),
        None => crate::money::parse_amount(given).ok(),
    }
}

fn count(t: &mut Tally, counts: &Counts, amount: Cents) {
    match counts {
        Counts::Posted { reversed } => {
            t.posted.add(amount);
            if *reversed {
                t.reversed.add(amount);
            }
        }
        Counts::AlreadyPosted(file) => t
            .already_posted
            .entry(file.clone())
            .or_default()
            .add(amount),
        Counts::Rejected(cents) => {
            t.rejected.add(cents.unwrap_or(Cents::ZERO));
            if cents.is_none() {
                t.rejected_unreadable += 1;
            }
        }
        Counts::Open => t.open.add(amount),
        Counts::Dismissed => t.dismissed.add(amount),
    }
}

/// The amount control totals a file stated (JSON of `files.control_checks`).
fn stated_amounts(checks: Option<&str>) -> Vec<StatedAmount> {
    checks
        .and_then(|c| serde_json::from_str::<Vec<serde_json::Value>>(c).ok())
        .unwrap_or_default()
        .iter()
        .filter(|c| c["what"] == "amount")
        .map(|c| StatedAmount {
            scope: c["scope"].as_str().unwrap_or("").to_string(),
            line: c["line"].as_u64().unwrap_or(0),
            stated: c["stated"].as_i64().unwrap_or(0),
        })
        .collect()
}

/// A file's stated total: its file trailer's, else the sum of its outermost stated totals
/// (groups, lockboxes), else of its deposits'.
fn stated_total(amounts: &[StatedAmount]) -> Option<(i64, String)> {
    for prefix in FILE_SCOPES.iter().chain(DEPOSIT_SCOPES.iter()) {
        let of: Vec<&StatedAmount> = amounts
            .iter()
            .filter(|a| a.scope.starts_with(prefix))
            .collect();
        if of.is_empty() {
            continue;
        }
        let sum = of.iter().fold(0i64, |t, a| t.saturating_add(a.stated));
        let from = if of.len() == 1 {
            format!("stated by the {} total on line {}", of[0].scope, of[0].line)
        } else {
            format!(
                "the sum of the {} {} totals it states",
                of.len(),
                prefix.trim()
            )
        };
        return Some((sum, from));
    }
    None
}

/// A return's original payment, as the report shows it beside the return (docs/report.md).
#[derive(Debug, Clone, Serialize)]
pub struct OriginalPayment {
    pub file: String,
    pub line: i64,
    pub date: String,
    pub reference: String,
    pub amount: Option<Cents>,
    pub status: Status,
}

/// The first rows of a list, and how many the whole list has.
#[derive(Debug, Clone, Default)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub total: u64,
}

/// `run_id IN (1, 2)`: run ids are integers, so the list is safe to write into SQL.
fn runs_in(column: &str, runs: &BTreeSet<RunId>) -> String {
    let ids: Vec<String> = runs.iter().map(|r| r.to_string()).collect();
    format!("{column} IN ({})", ids.join(", "))
}

impl Ledger {
    /// The rows of `runs` that need a person, each key once at its latest state (the row that
    /// speaks for it, else its last), the first `limit` in ledger order, and how many there are.
    pub fn open_problems(
        &self,
        runs: &BTreeSet<RunId>,
        limit: u64,
    ) -> Result<Listed<super::ReportRow>, LedgerError> {
        let attention =
            super::status::in_states(Status::ALL.into_iter().filter(|s| s.needs_attention()));
        let latest = format!(
            "SELECT COALESCE(MAX(CASE WHEN live = 1 THEN id END), MAX(id)) FROM rows
             WHERE ({} OR {}) GROUP BY key",
            runs_in("run_id", runs),
            runs_in("sent_by_run", runs)
        );
        self.listed(
            &format!("r.id IN ({latest}) AND r.{attention}"),
            limit,
            |r| Ok(super::queries::report_row(r)?.0),
        )
    }

    /// The return rows of `runs`, each key once at its latest state, with the payment each
    /// reverses (once matched).
    pub fn returns_with_originals(
        &self,
        runs: &BTreeSet<RunId>,
        limit: u64,
    ) -> Result<Listed<(super::ReportRow, Option<OriginalPayment>)>, LedgerError> {
        let latest = format!(
            "SELECT COALESCE(MAX(CASE WHEN live = 1 THEN id END), MAX(id)) FROM rows
             WHERE kind = 'return' AND {} GROUP BY key",
            runs_in("run_id", runs)
        );
        self.listed(&format!("r.id IN ({latest})"), limit, |r| {
            let row = super::queries::report_row(r)?.0;
            // After the 24 report columns: the original's.
            let original = match r.get::<_, Option<String>>(24)? {
                None => None,
                Some(file) => Some(OriginalPayment {
                    file,
                    line: r.get(25)?,
                    date: r.get(26)?,
                    reference: r.get(27)?,
                    amount: r.get(28)?,
                    status: r.get(29)?,
                }),
            };
            Ok((row, original))
        })
    }

    fn listed<T>(
        &self,
        condition: &str,
        limit: u64,
        each: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Listed<T>, LedgerError> {
        let err = sql(&self.path);
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM rows r WHERE {condition}"),
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {}, o.file, o.line, o.date, o.reference, o.amount_cents, o.status
                 FROM rows r LEFT JOIN rows o ON o.id = r.original_row
                 WHERE {condition} ORDER BY r.id LIMIT ?1",
                super::queries::COLUMNS_OF_R
            ))
            .map_err(&err)?;
        let rows = stmt
            .query_map([limit as i64], |r| each(r))
            .and_then(|m| m.collect::<Result<Vec<T>, _>>())
            .map_err(&err)?;
        Ok(Listed {
            rows,
            total: total as u64,
        })
    }
}
