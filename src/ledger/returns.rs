//! Returns in the ledger (docs/returns.md): a run's queued returns matched to the payment rows they
//! return, claimed for reversal once matched, and the original row made `reversed` in the same
//! transaction that records its reversal.
//!
//! Matching runs in one transaction, return after return, so two returns of one run never
//! claim the same payment: each one's candidates are read after the last one's claim.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::status::Step;
use super::{Ledger, LedgerError, RunId, Status, now, sql};
use crate::money::Cents;
use crate::payment::Key;
use crate::returns::{Candidate, Match, Named, decide};

/// What a claimed return's reversal needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    /// The payment row it reverses, and that row's key (found in LoanPro by it).
    pub original_row: i64,
    pub original_key: Key,
    pub reverse_reason: String,
    pub comments: String,
    pub return_code: String,
}

/// A queued return not matched yet, as matching and the comments template need it.
#[derive(Debug, Clone)]
pub struct ToMatch {
    pub id: i64,
    pub key: String,
    pub file: String,
    pub line: u64,
    pub loan: String,
    pub loan_id: i64,
    pub amount: Cents,
    pub date: String,
    pub reference: String,
    pub original_reference: String,
    /// The original reference is a NACHA trace number (docs/returns.md rule 3).
    pub trace_reference: bool,
    pub original_key: Option<String>,
    pub return_code: String,
    /// The row's own comment, if its file gave one.
    pub comments: Option<String>,
}

/// What matching did with one return.
#[derive(Debug, Clone)]
pub struct Matched {
    pub file: String,
    pub line: u64,
    pub key: String,
    /// `Ok(original key)`, or why it is `unmatched`.
    pub result: Result<String, String>,
}

/// The first date (`YYYY-MM-DD`) inside a window of `days` ending on `date`.
fn window_start(date: &str, days: u32) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_sub_days(chrono::Days::new(u64::from(days))))
        .map(crate::payment::iso_date)
        .unwrap_or_default()
}

/// The original of one return, by the rules of docs/returns.md, in the ledger as `conn` sees it now.
pub(super) fn find_match(
    conn: &Connection,
    r: &ToMatch,
    window_days: u32,
) -> rusqlite::Result<Match> {
    // A payment row claimed by a live return (not unmatched) other than this one (`me`, a
    // parameter) is no candidate.
    let claimed = |me: &str| {
        format!(
            "EXISTS (SELECT 1 FROM rows c WHERE c.original_row = p.id
             AND c.live = 1 AND c.status <> 'unmatched' AND c.id <> {me})"
        )
    };
    if let Some(key) = &r.original_key {
        let found = conn
            .query_row(
                &format!(
                    "SELECT p.id, p.kind, p.status, p.loan_id, p.amount_cents, {}
                     FROM rows p WHERE p.key = ?1 AND p.live = 1",
                    claimed("?2")
                ),
                params![key, r.id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Status>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                        row.get::<_, Option<Cents>>(4)?,
                        row.get::<_, bool>(5)?,
                    ))
                },
            )
            .optional()?;
        let why = match found {
            None => format!("original_key {key} names no row of this ledger"),
            Some((_, kind, ..)) if kind != "payment" => {
                format!("original_key {key} names a {kind}, not a payment")
            }
            Some((_, _, Status::Reversed, ..)) => {
                format!("the payment with original_key {key} is reversed already")
            }
            Some((_, _, status, ..)) if status != Status::Posted => {
                format!("the payment with original_key {key} is {status}, not posted")
            }
            Some((_, _, _, loan_id, amount, _))
                if loan_id != Some(r.loan_id) || amount != Some(r.amount) =>
            {
                format!(
                    "the payment with original_key {key} is of loan id {} for {}, not loan {} for {}",
                    loan_id.map_or("?".into(), |l| l.to_string()),
                    amount.map_or("?".into(), |a| a.to_string()),
                    r.loan,
                    r.amount
                )
            }
            Some((.., true)) => {
                format!("the payment with original_key {key} is claimed by another return")
            }
            Some((id, ..)) => {
                return Ok(Match::Original(Candidate {
                    id,
                    key: key.clone(),
                    reference: String::new(),
                }));
            }
        };
        // A key is no guess: matching it again later (once it is posted, say) is safe.
        return Ok(Match::Unmatched {
            why: format!("{why}; nothing was sent"),
            candidates: 0,
        });
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT p.id, p.key, p.reference FROM rows p
         WHERE p.status = 'posted' AND p.loan_id = ?1 AND p.amount_cents = ?2
           AND p.date <= ?3 AND p.date >= ?4 AND p.kind = 'payment' AND p.live = 1
           AND NOT {}
         ORDER BY p.id",
        claimed("?5")
    ))?;
    let candidates = stmt
        .query_map(
            params![
                r.loan_id,
                r.amount,
                r.date,
                window_start(&r.date, window_days),
                r.id
            ],
            |row| {
                Ok(Candidate {
                    id: row.get(0)?,
                    key: row.get(1)?,
                    reference: row.get(2)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let reference = r.original_reference.trim();
    let named =
        if reference.is_empty() || candidates.iter().any(|c| c.reference.trim() == reference) {
            None
        } else {
            Some(named_elsewhere(conn, r, reference, window_days)?)
        };
    Ok(decide(
        &r.loan,
        r.amount,
        &r.original_reference,
        r.trace_reference,
        &candidates,
        named,
    ))
}

/// The payment of the return's loan that its reference names, when no candidate has it: why
/// that one is no candidate, or that none has it. Posted and reversed rows are looked at (one
/// seek each in rows_posted_by_loan and rows_reversed_by_loan).
fn named_elsewhere(
    conn: &Connection,
    r: &ToMatch,
    reference: &str,
    window_days: u32,
) -> rusqlite::Result<Named> {
    let found = conn
        .prepare_cached(
            "SELECT key, status, file, line, amount_cents, date,
                (SELECT c.key FROM rows c WHERE c.original_row = p.id AND c.live = 1
                 AND c.status <> 'unmatched' AND c.id <> ?3 LIMIT 1)
             FROM rows p WHERE p.loan_id = ?1 AND p.status = 'posted' AND p.kind = 'payment'
               AND trim(p.reference) = ?2
             UNION ALL
             SELECT key, status, file, line, amount_cents, date, NULL
             FROM rows p WHERE p.loan_id = ?1 AND p.status = 'reversed' AND trim(p.reference) = ?2
             LIMIT 1",
        )?
        .query_row(params![r.loan_id, reference, r.id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Status>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<Cents>>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .optional()?;
    let Some((key, status, file, line, amount, date, claimed_by)) = found else {
        return Ok(Named::Nothing);
    };
    let at = format!("the payment {file}:{line} (key {key})");
    let why = if status == Status::Reversed {
        "reversed already".to_string()
    } else if let Some(other) = claimed_by {
        format!("claimed by the return with key {other}")
    } else if amount != Some(r.amount) {
        format!(
            "for {}, not {}",
            amount.map_or("?".into(), |a| a.to_string()),
            r.amount
        )
    } else if date.as_str() > r.date.as_str() {
        format!("dated {date}, after the return")
    } else if date < window_start(&r.date, window_days) {
        format!("dated {date}, before the match window (returns.match_window_days)")
    } else {
        "not a candidate".to_string()
    };
    Ok(Named::Other(format!("{at}, {why}")))
}

/// A return that names its original by key settles the oldest earlier `unmatched` return of
/// the same loan, amount, date and code (docs/returns.md rule 4): the same bounced item, reported
/// first without a usable reference. It becomes `already_posted` and stays live, so a rerun of
/// its file finds it handled instead of matching it again to the twin that is left.
fn settle_repeated_unmatched(
    tx: &Transaction<'_>,
    r: &ToMatch,
    original_key: &str,
    t: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "UPDATE rows SET status = ?1, updated_at = ?2,
             message = 'settled by the return with key ' || ?3 || ', which names its original (key '
                 || ?4 || '); nothing more is sent for this one'
             WHERE id = (SELECT id FROM rows WHERE kind = 'return' AND live = 1 AND status = ?5
                         AND loan_id = ?6 AND amount_cents = ?7 AND date = ?8
                         AND COALESCE(return_code, '') = ?9 AND id <> ?10 ORDER BY id LIMIT 1)
               AND {}",
            Step::Settle.guard_to(Status::AlreadyPosted)
        ),
        params![
            Status::AlreadyPosted,
            t,
            r.key,
            original_key,
            Status::Unmatched,
            r.loan_id,
            r.amount,
            r.date,
            r.return_code,
            r.id
        ],
    )
}

const TO_MATCH: &str = "SELECT id, key, file, line, loan, loan_id, amount_cents, date, reference,
        COALESCE(original_reference, ''), original_key, COALESCE(return_code, ''), info,
        trace_reference
    FROM rows WHERE sent_by_run = ?1 AND status = ?2 AND kind = 'return'
      AND original_row IS NULL AND loan_id IS NOT NULL AND id > ?3 ORDER BY id LIMIT ?4";

/// Returns read for matching at a time: a run of a million returns is matched a page after
/// another, so memory stays flat (docs/loanpro.md).
const MATCH_PAGE: i64 = 1_000;

fn to_match(r: &rusqlite::Row) -> rusqlite::Result<ToMatch> {
    Ok(ToMatch {
        id: r.get(0)?,
        key: r.get(1)?,
        file: r.get(2)?,
        line: r.get::<_, i64>(3)? as u64,
        loan: r.get(4)?,
        loan_id: r.get(5)?,
        amount: r.get(6)?,
        date: r.get(7)?,
        reference: r.get(8)?,
        original_reference: r.get(9)?,
        original_key: r.get(10)?,
        return_code: r.get(11)?,
        comments: r.get(12)?,
        trace_reference: r.get(13)?,
    })
}

impl Ledger {
    /// Matches every return queued for `run` and not matched yet (docs/returns.md), in one transaction:
    /// a matched one stays `pending` with its original and the comment its reversal sends
    /// (`comments(row, original key)`); one without a single original becomes `unmatched`.
    /// `each` hears what became of every return, in order; nothing of them is kept here.
    pub fn match_returns(
        &mut self,
        run: RunId,
        window_days: u32,
        comments: impl Fn(&ToMatch, &str) -> String,
        mut each: impl FnMut(Matched),
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let t = now();
        let mut after = 0i64;
        loop {
            let rows: Vec<ToMatch> = tx
                .prepare_cached(TO_MATCH)
                .and_then(|mut s| {
                    s.query_map(params![run, Status::Pending, after, MATCH_PAGE], to_match)?
                        .collect()
                })
                .map_err(&err)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.id;
            for r in rows {
                let result = match_one(&tx, &self.path, &r, window_days, &comments, &t)?;
                each(Matched {
                    file: r.file,
                    line: r.line,
                    key: r.key,
                    result,
                });
            }
        }
        tx.commit().map_err(&err)?;
        Ok(())
    }

    /// What matching would find for a return now, without writing anything (`--dry-run`).
    pub fn preview_match(&self, r: &ToMatch, window_days: u32) -> Result<Match, LedgerError> {
        find_match(&self.conn, r, window_days).map_err(sql(&self.path))
    }

    /// Within a transaction that records a return `posted`: its original payment row becomes
    /// `reversed`. The original must be `posted` (matching saw to it); otherwise the whole
    /// transaction is refused.
    pub(super) fn reverse_original(
        tx: &Transaction<'_>,
        path: &Path,
        return_id: i64,
        original: i64,
    ) -> Result<(), LedgerError> {
        let changed = tx
            .prepare_cached(&format!(
                "UPDATE rows SET status = ?3, updated_at = ?4,
                 message = 'reversed in LoanPro by the return with key '
                     || (SELECT key FROM rows WHERE id = ?2)
                 WHERE id = ?1 AND {}",
                Step::Reverse.guard_to(Status::Reversed)
            ))
            .and_then(|mut s| s.execute(params![original, return_id, Status::Reversed, now()]))
            .map_err(sql(path))?;
        if changed != 1 {
            let from = Step::Reverse.sources(Status::Reversed);
            return Err(Ledger::unexpected_row(
                tx,
                path,
                original,
                &from,
                Status::Reversed,
            ));
        }
        Ok(())
    }
}

/// Matches one return, in `tx`: `Ok(original key)`, or why it is `unmatched` (and made so).
fn match_one(
    tx: &Transaction,
    path: &Path,
    r: &ToMatch,
    window_days: u32,
    comments: &impl Fn(&ToMatch, &str) -> String,
    t: &str,
) -> Result<Result<String, String>, LedgerError> {
    let err = sql(path);
    Ok(match find_match(tx, r, window_days).map_err(&err)? {
        Match::Original(c) => {
            let text = r.comments.clone().unwrap_or_else(|| comments(r, &c.key));
            let changed = tx
                .execute(
                    "UPDATE rows SET original_row = ?2, original_key = ?3, info = ?4,
                     message = ?5, updated_at = ?6
                     WHERE id = ?1 AND status = 'pending' AND original_row IS NULL",
                    params![
                        r.id,
                        c.id,
                        c.key,
                        text,
                        format!("matched to the payment with key {}", c.key),
                        t
                    ],
                )
                .map_err(&err)?;
            if changed != 1 {
                return Err(Ledger::unexpected_row(
                    tx,
                    path,
                    r.id,
                    &[Status::Pending],
                    Status::Pending,
                ));
            }
            if r.original_key.is_some() {
                settle_repeated_unmatched(tx, r, &c.key, t).map_err(&err)?;
            }
            Ok(c.key)
        }
        Match::Unmatched {
            why: message,
            candidates,
        } => {
            let changed = tx
                .execute(
                    &format!(
                        "UPDATE rows SET status = ?2, message = ?3, updated_at = ?4,
                         match_candidates = ?5
                         WHERE id = ?1 AND {}",
                        Step::Match.guard_to(Status::Unmatched)
                    ),
                    params![r.id, Status::Unmatched, message, t, candidates as i64],
                )
                .map_err(&err)?;
            if changed != 1 {
                let from = Step::Match.sources(Status::Unmatched);
                return Err(Ledger::unexpected_row(
                    tx,
                    path,
                    r.id,
                    &from,
                    Status::Unmatched,
                ));
            }
            Err(message)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Claim, Kind, NewReturn, NewRow, Outcome};
    use crate::payment::Key;

    fn payment(line: u64, loan: i64, cents: i64, date: &str, reference: &str) -> NewRow {
        NewRow {
            file: "bank.csv".into(),
            line,
            key: Key::of_rejected(&["p", &line.to_string()], 0),
            loan: loan.to_string(),
            loan_id: Some(loan as u64),
            amount: Cents(cents).to_string(),
            amount_cents: Some(Cents(cents)),
            date: date.into(),
            reference: reference.into(),
            payment_method_id: Some(4),
            payment_type_id: Some(1),
            extra: Some("payment.extra.tx.principal".into()),
            info: Some("info".into()),
            rejection: None,
            ret: None,
            repeat_of: None,
        }
    }

    fn ret(line: u64, loan: i64, cents: i64, date: &str, original_reference: &str) -> NewRow {
        NewRow {
            key: Key::of_rejected(&["r", &line.to_string()], 0),
            payment_method_id: None,
            payment_type_id: None,
            extra: None,
            info: None,
            ret: Some(NewReturn {
                code: "R01".into(),
                original_reference: original_reference.into(),
                original_key: None,
                reverse_reason: Some("payment.reverse.nsf".into()),
                trace_reference: false,
            }),
            ..payment(line, loan, cents, date, "trace")
        }
    }

    fn status_of(ledger: &Ledger, id: i64) -> Status {
        ledger
            .conn
            .query_row("SELECT status FROM rows WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    }

    /// Posts every payment of a run.
    fn post_all(ledger: &mut Ledger, run: RunId) {
        let claimed = ledger.claim(run, 10_000, Kind::Payment).unwrap();
        let outcomes: Vec<Outcome> = claimed
            .iter()
            .map(|c| Outcome {
                id: c.id,
                status: Status::Posted,
                attempts: 1,
                http_status: Some(200),
                message: None,
                loanpro_payment_id: None,
                sent_at: None,
                reverses: None,
            })
            .collect();
        ledger.record(&outcomes).unwrap();
    }

    #[test]
    fn returns_match_once_and_a_twin_leaves_it_unmatched() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let run = ledger.begin_run("import", None).unwrap();
        let file = ledger.add_file(run, "bank.csv").unwrap();
        let rows = vec![
            payment(2, 7, 100, "2026-11-01", "a"), // 1: the one of loan 7
            payment(3, 8, 100, "2026-11-01", "b"), // 2: twins of loan 8
            payment(4, 8, 100, "2026-11-02", "c"), // 3
            payment(5, 9, 100, "2026-01-01", "d"), // 4: too old for loan 9's return
            ret(6, 7, 100, "2026-11-20", ""),      // 5: matched to 1
            ret(7, 7, 100, "2026-11-21", ""),      // 6: 1 is claimed by 5: unmatched
            ret(8, 8, 100, "2026-11-20", ""),      // 7: twins: unmatched
            ret(9, 8, 100, "2026-11-20", "c"),     // 8: narrowed by reference to 3
            ret(10, 9, 100, "2026-11-20", ""),     // 9: outside the window
            ret(11, 7, 100, "2026-10-01", ""),     // 10: before the payment
        ];
        ledger
            .stage_file::<std::convert::Infallible>(run, file, rows.into_iter().map(Ok))
            .unwrap()
            .unwrap();
        post_all(&mut ledger, run);
        assert!(
            ledger.claim(run, 100, Kind::Payment).unwrap().is_empty(),
            "returns are not payments"
        );
        let mut matched = Vec::new();
        ledger
            .match_returns(
                run,
                120,
                |r, k| format!("{} {k}", r.return_code),
                |m| matched.push(m),
            )
            .unwrap();
        let results: Vec<_> = matched.iter().map(|m| m.result.clone()).collect();
        let keys: Vec<String> = (0..=10)
            .map(|id| {
                ledger
                    .conn
                    .query_row("SELECT key FROM rows WHERE id = ?1", [id], |r| r.get(0))
                    .unwrap_or_default()
            })
            .collect();
        let key = |id: i64| keys[id as usize].clone();
        assert_eq!(results[0], Ok(key(1)));
        assert!(
            results[1]
                .as_ref()
                .unwrap_err()
                .contains("no posted payment of loan 7")
        );
        let twins = results[2].as_ref().unwrap_err();
        assert!(
            twins.contains(&key(2)) && twins.contains(&key(3)),
            "{twins}"
        );
        assert_eq!(results[3], Ok(key(3)));
        assert!(results[4].is_err());
        assert!(results[5].is_err());
        for (id, s) in [
            (5, Status::Pending),
            (6, Status::Unmatched),
            (8, Status::Pending),
        ] {
            assert_eq!(status_of(&ledger, id), s);
        }

        let claimed = ledger.claim(run, 10, Kind::Return).unwrap();
        assert_eq!(claimed.len(), 2);
        let Claim::Reversal(r) = claimed[0].request.clone() else {
            panic!("a return claimed as a payment: {:?}", claimed[0]);
        };
        assert_eq!(
            (r.original_row, r.comments.as_str()),
            (1, &*format!("R01 {}", key(1)))
        );
        ledger
            .record(&[Outcome {
                id: claimed[0].id,
                status: Status::Posted,
                attempts: 1,
                http_status: Some(200),
                message: None,
                loanpro_payment_id: Some(1),
                sent_at: None,
                reverses: Some(1),
            }])
            .unwrap();
        assert_eq!(status_of(&ledger, 1), Status::Reversed);
        assert_eq!(status_of(&ledger, 5), Status::Posted);
        // The same payment is never reversed twice: a second record is refused whole.
        let twice = ledger.record(&[Outcome {
            id: claimed[1].id,
            status: Status::Posted,
            attempts: 1,
            http_status: Some(200),
            message: None,
            loanpro_payment_id: None,
            sent_at: None,
            reverses: Some(1),
        }]);
        assert!(twice.is_err());
        assert_eq!(status_of(&ledger, 8), Status::Sending);
    }

    #[test]
    fn returns_are_matched_page_after_page_each_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let run = ledger.begin_run("import", None).unwrap();
        let file = ledger.add_file(run, "bank.csv").unwrap();
        let n = 2 * MATCH_PAGE as u64 + 500;
        // A payment of each loan, and a return of each; every third return is of a loan
        // without a payment.
        let payments = (0..n).map(|i| payment(2 + i, 1 + i as i64, 100, "2026-11-01", ""));
        let returns = (0..n).map(|i| {
            let loan = if i % 3 == 0 { 1_000_000 } else { 1 } + i as i64;
            ret(2 + n + i, loan, 100, "2026-11-20", "")
        });
        ledger
            .stage_file::<std::convert::Infallible>(run, file, payments.chain(returns).map(Ok))
            .unwrap()
            .unwrap();
        post_all(&mut ledger, run);
        let mut lines = Vec::new();
        let mut matched = 0;
        ledger
            .match_returns(
                run,
                120,
                |_, k| k.to_string(),
                |m| {
                    matched += u64::from(m.result.is_ok());
                    lines.push(m.line);
                },
            )
            .unwrap();
        assert_eq!(lines, (2 + n..2 + 2 * n).collect::<Vec<_>>());
        assert_eq!(matched, n - n.div_ceil(3));
        assert_eq!(
            ledger.claim(run, 10_000, Kind::Return).unwrap().len() as u64,
            matched
        );
    }
}
