//! Row states (docs/states.md) as one state machine: the states, every change of state the ledger
//! makes and why, what each state means (open, settled, needs attention), and the SQL that
//! names them. Every list of states elsewhere is generated from here or tested against it.
//!
//! **Adding a status:** a line in `states!` below (where it goes is where summaries show it),
//! the transitions that lead to and from it (and `OPEN` if a later run must find it), and a
//! migration that rebuilds `rows` with the new `CHECK` list (and the `rows_open` index when the
//! state is open). The tests here and in `migrate.rs` fail until the migration agrees.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// Declares [`Status`], its name in the ledger and the report, and `Status::ALL`, from one
/// list: a state cannot be added to one of them and missed in another.
macro_rules! states {
    ($($(#[$doc:meta])* $state:ident = $name:literal,)+) => {
        /// The state of one row. Declared (and so ordered) as the summary shows them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Status {
            $($(#[$doc])* $state,)+
        }

        impl Status {
            /// Every state, in the order summaries show them.
            pub const ALL: [Status; [$(Status::$state),+].len()] = [$(Status::$state),+];

            /// Its name in the ledger, the report and the summary.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Status::$state => $name,)+
                }
            }
        }
    };
}

states! {
    /// LoanPro said yes.
    Posted = "posted",
    /// Its key was posted by an earlier run: skipped.
    AlreadyPosted = "already_posted",
    /// A payment that was posted, and whose return has been reversed in LoanPro (docs/returns.md).
    Reversed = "reversed",
    /// A payment a person corrected with `payimport amend`: a corrected copy (its `amends`
    /// names this row's key) is sent in its place (docs/states.md).
    Amended = "amended",
    /// A row a person settled elsewhere and closed with `payimport dismiss` (docs/states.md).
    Dismissed = "dismissed",
    /// Invalid: never sent.
    Rejected = "rejected",
    /// A return whose original payment was not found, or not found alone: nothing was sent
    /// (docs/returns.md). `retry` matches it again.
    Unmatched = "unmatched",
    /// A payment that may be a duplicate (docs/states.md): the same loan, amount and date as a
    /// payment posted under another key, or the same reference too as another row of its
    /// file. Not sent until a person releases it (`payimport release`).
    Held = "held",
    /// LoanPro said no (4xx, 409, or 200 with an error), with its message.
    Failed = "failed",
    /// Never reached LoanPro: transient failures used up the attempts, or the run stopped first.
    Unsent = "unsent",
    /// Sent, but the answer never came (timeout, reset, 5xx): it may have been logged.
    Unknown = "unknown",
    /// Staged, waiting to be sent.
    Pending = "pending",
    /// Claimed by a run; its request may be in flight.
    Sending = "sending",
}

use Status::*;

/// Why a row changes state: each ledger operation that moves rows is one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A run takes its queued rows for sending (`claim`).
    Claim,
    /// A claimed row's request was answered, refused, given up, or never answered (`record`).
    Answer,
    /// A run killed while rows were `sending`: they may have been logged (`recover_interrupted`).
    Recover,
    /// A run stopped, or was killed, before its queued rows were sent.
    Stop,
    /// A newer file brings the payment again and its row speaks for the key from now on: a
    /// queued row is no longer sent, a failed or unsent one stays as it is, as history.
    TakeOver,
    /// A display id was looked up: no such loan (`rejected`), or the look-up failed.
    Resolve,
    /// An uncertain row was read back from LoanPro: found, not found (sent again or given up),
    /// or the read-back failed and it stays `unknown`.
    ReadBack,
    /// `payimport retry` queues a row again.
    Retry,
    /// A queued return was matched to its original payment, or found none (`unmatched`).
    Match,
    /// A return's reversal was logged: its original payment row is `reversed`.
    Reverse,
    /// `payimport amend`: a payment gets a corrected copy (it is `amended`), or an unmatched
    /// return is given its original and queued to be matched again (docs/states.md).
    Amend,
    /// `payimport dismiss`: a person settled the row elsewhere (docs/states.md).
    Dismiss,
    /// A person decided a held payment is a payment of its own: `payimport release`.
    Release,
    /// A new or lost ledger read LoanPro before sending, and found the row's key there
    /// (docs/states.md): `already_posted`.
    Verify,
    /// A return that names its original by key settles an earlier `unmatched` return of the
    /// same loan, amount, date and code (docs/returns.md rule 4): that one is `already_posted`.
    Settle,
}

use Step::*;

/// Every change of state a row may make, and the step that makes it. Nothing else changes a
/// row's state: every `UPDATE` of `rows.status` is guarded by the states its step moves from.
const TRANSITIONS: &[(Step, Status, Status)] = &[
    (Claim, Pending, Sending),
    (Answer, Sending, Posted),
    (Answer, Sending, Failed),
    (Answer, Sending, Unsent),
    (Answer, Sending, Unknown),
    (Recover, Sending, Unknown),
    (Stop, Pending, Unsent),
    (TakeOver, Pending, Unsent),
    (TakeOver, Failed, Failed),
    (TakeOver, Unsent, Unsent),
    (Resolve, Pending, Rejected),
    (Resolve, Pending, Unsent),
    (ReadBack, Unknown, Posted),
    (ReadBack, Unknown, Pending),
    (ReadBack, Unknown, Unsent),
    (ReadBack, Unknown, Unknown),
    (Retry, Failed, Pending),
    (Retry, Unsent, Pending),
    (Retry, Unmatched, Pending),
    (Match, Pending, Unmatched),
    (TakeOver, Unmatched, Unmatched),
    (Reverse, Posted, Reversed),
    // A display id resolved to a loan that already has this payment under another key.
    (Resolve, Pending, Held),
    (TakeOver, Held, Held),
    (Release, Held, Pending),
    (Verify, Pending, AlreadyPosted),
    (Verify, Pending, Unsent),
    (Settle, Unmatched, AlreadyPosted),
    (Amend, Rejected, Amended),
    (Amend, Failed, Amended),
    (Amend, Held, Amended),
    (Amend, Unmatched, Pending),
    (Dismiss, Rejected, Dismissed),
    (Dismiss, Unmatched, Dismissed),
    (Dismiss, Failed, Dismissed),
    (Dismiss, Held, Dismissed),
    (Dismiss, Unsent, Dismissed),
    (Dismiss, Unknown, Dismissed),
];

/// The states a row is staged in; the others are reached only through [`TRANSITIONS`].
pub(super) const STAGED: [Status; 5] = [Pending, Rejected, AlreadyPosted, Unknown, Held];

impl Status {
    /// The open states, in the order the `rows_open` index condition names them (SQLite
    /// matches a query's condition to a partial index's term by term, so the order is part of
    /// the condition).
    const OPEN: [Status; 6] = [Sending, Unknown, Failed, Unsent, Unmatched, Held];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a row may go from `from` to `to` (by any step).
    pub fn allows(from: Status, to: Status) -> bool {
        TRANSITIONS.iter().any(|&(_, f, t)| (f, t) == (from, to))
    }

    /// Its payment (or reversal) is in LoanPro: nothing is left to do for it.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Posted | AlreadyPosted | Reversed | Amended | Dismissed
        )
    }

    /// Whether a row in this state needs a person (exit status 1).
    pub fn needs_attention(self) -> bool {
        !self.is_settled()
    }

    /// A state a later run may have to act on (recover, read back, retry, take over): the rows
    /// of the `rows_open` index. Pending rows are queued for a run and reached through
    /// `rows_queue` instead.
    pub fn is_open(self) -> bool {
        Status::OPEN.contains(&self)
    }
}

impl Step {
    /// The states this step moves a row from.
    pub fn from_states(self) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|&s| TRANSITIONS.iter().any(|&(st, f, _)| st == self && f == s))
            .collect()
    }

    /// The states this step moves a row from to `to` (none: the step never leads there).
    pub fn sources(self, to: Status) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|&s| TRANSITIONS.contains(&(self, s, to)))
            .collect()
    }

    /// `CASE status WHEN 'a' THEN 'b' ... ELSE status END`: the new state of a row this step
    /// moves, for a step whose target depends on where the row is (a state that stays is left).
    pub fn case(self) -> String {
        let whens: String = TRANSITIONS
            .iter()
            .filter(|&&(st, f, t)| st == self && f != t)
            .map(|(_, f, t)| format!(" WHEN '{f}' THEN '{t}'"))
            .collect();
        format!("CASE status{whens} ELSE status END")
    }

    /// `status IN (...)`: the states this step moves rows from, for an `UPDATE`'s guard.
    pub fn guard(self) -> String {
        in_states(self.from_states())
    }

    /// `status IN (...)`: the states this step moves rows from to `to`.
    pub fn guard_to(self, to: Status) -> String {
        in_states(self.sources(to))
    }
}

/// `status IN ('a', 'b')`, the states in the order given.
pub fn in_states(states: impl IntoIterator<Item = Status>) -> String {
    let names: Vec<String> = states
        .into_iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("status IN ({})", names.join(", "))
}

/// `status = 'a' OR status = 'b' ...`, every state: the `CHECK` of `rows.status` (migration
/// 0007), which a test holds the migration to. Not `status IN (...)`, which SQLite rebuilds
/// for every row written (BENCHMARKS.md).
#[cfg(test)]
pub fn check_condition() -> String {
    let states: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("status = '{}'", s.as_str()))
        .collect();
    states.join("\n            OR ")
}

/// The condition of the partial index `rows_open` (migrations 0001 and 0003), word for word: a
/// query must state it for SQLite to see that the index can serve it.
pub fn open_condition() -> String {
    in_states(Status::OPEN)
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        Status::parse(s).ok_or_else(|| FromSqlError::Other(format!("no row state {s:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        let mut names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Status::ALL.len());
        assert_eq!(Status::parse("Posted"), None);
    }

    #[test]
    fn all_is_in_declaration_order_which_is_the_summary_order() {
        let mut sorted = Status::ALL;
        sorted.sort();
        assert_eq!(sorted, Status::ALL);
        let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "posted",
                "already_posted",
                "reversed",
                "amended",
                "dismissed",
                "rejected",
                "unmatched",
                "held",
                "failed",
                "unsent",
                "unknown",
                "pending",
                "sending"
            ]
        );
    }

    #[test]
    fn the_lifecycle_of_spec_5_is_allowed() {
        for (from, to) in [
            (Pending, Sending),
            (Sending, Posted),
            (Sending, Failed),
            (Sending, Unsent),
            (Sending, Unknown),
            (Unknown, Posted),
            (Unknown, Pending),
            (Unknown, Unsent),
            (Failed, Pending),
            (Unsent, Pending),
            (Pending, Unsent),
            (Pending, Rejected),
            // docs/returns.md.
            (Pending, Unmatched),
            (Unmatched, Pending),
            (Posted, Reversed),
        ] {
            assert!(Status::allows(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn what_could_post_twice_or_undo_a_result_is_refused() {
        for (from, to) in [
            // Only a claim, durably `sending`, may lead to a request.
            (Pending, Posted),
            (Pending, Unknown),
            (Unsent, Sending),
            (Failed, Sending),
            // An uncertain row is read back before it is queued: never sent straight again.
            (Unknown, Sending),
            (Sending, Pending),
            (Sending, Sending),
            // What LoanPro has, or what was never valid, stays so.
            (Posted, Pending),
            (Posted, Unknown),
            (Posted, Failed),
            (AlreadyPosted, Pending),
            (Rejected, Pending),
            (Rejected, Sending),
            // A refusal is retried only by `payimport retry`, through `pending`.
            (Failed, Posted),
            (Unsent, Unknown),
            // A reversal is never undone, nor a payment reversed that was not posted.
            (Reversed, Posted),
            (Reversed, Pending),
            (Pending, Reversed),
            (Unknown, Reversed),
            (AlreadyPosted, Reversed),
            // An unmatched return is matched again only through `pending`.
            (Unmatched, Sending),
            (Unmatched, Posted),
            // What is in LoanPro is never closed or replaced by hand (docs/states.md) ...
            (Posted, Dismissed),
            (Posted, Amended),
            (AlreadyPosted, Dismissed),
            (Reversed, Dismissed),
            // ... nor what a run has queued or in flight; and a resolution is final.
            (Pending, Dismissed),
            (Sending, Dismissed),
            (Sending, Amended),
            (Amended, Pending),
            (Dismissed, Pending),
            (Amended, Dismissed),
            (Dismissed, Amended),
            // A held payment is sent only once a person releases it, through `pending`.
            (Held, Sending),
            (Held, Posted),
        ] {
            assert!(!Status::allows(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn settled_and_rejected_rows_never_change_but_a_posted_payment_is_reversed() {
        for s in Status::ALL
            .into_iter()
            .filter(|s| s.is_settled() || *s == Rejected)
        {
            for to in Status::ALL {
                let reversal = (s, to) == (Posted, Reversed);
                // A person may correct or close a rejected row (docs/states.md); it is never sent.
                let resolved = s == Rejected && matches!(to, Amended | Dismissed);
                assert_eq!(Status::allows(s, to), reversal || resolved, "{s} -> {to}");
            }
        }
        assert_eq!(Reverse.sources(Reversed), [Posted]);
        assert_eq!(Reverse.from_states(), [Posted]);
    }

    #[test]
    fn nothing_leads_to_already_posted_or_back_to_a_staged_only_state() {
        // already_posted is given at staging, by LoanPro's own word before a first send, or to
        // an unmatched return that a later one settled; rejected only at staging or by a look-up.
        for from in Status::ALL {
            let may = [(Verify, Pending), (Settle, Unmatched)]
                .iter()
                .any(|&(st, f)| f == from && st.sources(AlreadyPosted).contains(&f));
            assert_eq!(Status::allows(from, AlreadyPosted), may, "{from}");
        }
        assert_eq!(Verify.sources(AlreadyPosted), [Pending]);
        assert_eq!(Settle.sources(AlreadyPosted), [Unmatched]);
        assert_eq!(Resolve.sources(Rejected), [Pending]);
    }

    #[test]
    fn open_states_are_those_a_later_run_moves_other_than_pending() {
        // A posted payment is reversed through its return's row, never found as open itself;
        // what a person resolves (amend, dismiss) is found by its key, not by a run.
        for s in Status::ALL {
            let moves_on = TRANSITIONS
                .iter()
                .any(|&(st, f, t)| f == s && t != s && ![Reverse, Amend, Dismiss].contains(&st));
            assert_eq!(s.is_open(), moves_on && s != Pending, "{s}");
        }
    }

    #[test]
    fn every_state_is_staged_or_reached() {
        for s in Status::ALL {
            assert!(
                STAGED.contains(&s) || TRANSITIONS.iter().any(|&(_, _, t)| t == s),
                "{s} can never be reached"
            );
        }
    }

    #[test]
    fn attention_is_everything_not_settled() {
        let attention: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.needs_attention())
            .collect();
        assert_eq!(
            attention,
            [
                Rejected, Unmatched, Held, Failed, Unsent, Unknown, Pending, Sending
            ]
        );
    }

    #[test]
    fn guards_name_the_states_a_step_moves_from() {
        assert_eq!(Claim.guard(), "status IN ('pending')");
        assert_eq!(Retry.guard(), "status IN ('unmatched', 'failed', 'unsent')");
        assert_eq!(
            TakeOver.guard(),
            "status IN ('unmatched', 'held', 'failed', 'unsent', 'pending')"
        );
        assert_eq!(Match.guard_to(Unmatched), "status IN ('pending')");
        assert_eq!(Answer.guard_to(Posted), "status IN ('sending')");
        assert_eq!(ReadBack.guard_to(Posted), "status IN ('unknown')");
        assert!(Answer.sources(Pending).is_empty());
        assert_eq!(
            TakeOver.case(),
            "CASE status WHEN 'pending' THEN 'unsent' ELSE status END"
        );
        assert!(Retry.sources(Posted).is_empty());
        assert_eq!(
            open_condition(),
            "status IN ('sending', 'unknown', 'failed', 'unsent', 'unmatched', 'held')"
        );
    }

    #[test]
    fn sql_values_round_trip() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for s in Status::ALL {
            let back: Status = conn.query_row("SELECT ?1", [s], |r| r.get(0)).unwrap();
            assert_eq!(back, s);
        }
        let bad = conn.query_row("SELECT 'posted '", [], |r| r.get::<_, Status>(0));
        assert!(bad.is_err());
    }
}
