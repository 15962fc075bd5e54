-- Resolving rows inside payimport (SPEC §13). Two settled states join the CHECK list:
-- `amended` (a corrected copy was made of the row: `payimport amend`, linked by the copy's
-- `amends` column) and `dismissed` (a person settled it elsewhere: `payimport dismiss`). Neither
-- is open: no later run acts on them. Every amend, release and dismiss is recorded in
-- `resolutions`: who, when, the note, and the run it was made in (so `payimport runs` shows it).
--
-- It keeps 0007's columns and `held`. Rebuilt as 0006 rebuilt it (create, copy, drop, rename, every index recreated).

CREATE TABLE rows_new (
    id                  INTEGER PRIMARY KEY,
    run_id              INTEGER NOT NULL REFERENCES runs(id),
    file                TEXT    NOT NULL,
    line                INTEGER NOT NULL,
    key                 TEXT    NOT NULL,
    -- The one row that speaks for its key: the one to send, retry or reconcile. Other rows with
    -- the same key are history (an earlier failed attempt) or echoes (already_posted).
    live                INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL
        CHECK (status = 'posted'
            OR status = 'already_posted'
            OR status = 'reversed'
            OR status = 'amended'
            OR status = 'dismissed'
            OR status = 'rejected'
            OR status = 'unmatched'
            OR status = 'held'
            OR status = 'failed'
            OR status = 'unsent'
            OR status = 'unknown'
            OR status = 'pending'
            OR status = 'sending'),
    loan                TEXT    NOT NULL,  -- as the file gives it
    loan_id             INTEGER,           -- LoanPro's id, once known
    amount_cents        INTEGER,           -- a valid amount, in integer cents
    amount_as_given     TEXT,              -- an amount that was never valid, as the file gives it
    date                TEXT    NOT NULL,
    reference           TEXT    NOT NULL,
    payment_method_id   INTEGER,
    payment_type_id     INTEGER,
    extra               TEXT,
    info                TEXT,              -- a payment's info; a return's comments (once known)
    attempts            INTEGER NOT NULL DEFAULT 0,
    http_status         INTEGER,
    message             TEXT,
    loanpro_payment_id  INTEGER,           -- a return's: the id of the payment it reversed
    sent_by_run         INTEGER,           -- the run that sends (or last sent) this row: its queue
    sent_at             TEXT,              -- when its last request left (settle delay before a read-back)
    reconciled          INTEGER NOT NULL DEFAULT 0,  -- how often it was read back from LoanPro
    updated_at          TEXT    NOT NULL,
    file_id             INTEGER,           -- the file a row came from (NULL for rows staged before 0002)
    kind                TEXT    NOT NULL DEFAULT 'payment' CHECK (kind = 'payment' OR kind = 'return'),
    original_key        TEXT,              -- a return's original payment row: its key ...
    original_row        INTEGER,           -- ... and its id, once matched
    return_code         TEXT,              -- R01, CHK, a BAI2 type code
    original_reference  TEXT,              -- as the bank states it (a NACHA original trace number)
    reverse_reason      TEXT,              -- a value of the tenant's payment.reverse collection
    trace_reference     INTEGER NOT NULL DEFAULT 0,  -- a return's original_reference is a NACHA trace number
    match_candidates    INTEGER,           -- a return: how many candidates its last matching found
    amends              TEXT,              -- a corrected copy's original row: its key (`payimport amend`)
    CHECK ((amount_cents IS NULL) <> (amount_as_given IS NULL)),
    CHECK (kind = 'return' OR (original_key IS NULL AND original_row IS NULL AND return_code IS NULL))
);

INSERT INTO rows_new (id, run_id, file, line, key, live, status, loan, loan_id, amount_cents,
    amount_as_given, date, reference, payment_method_id, payment_type_id, extra, info, attempts,
    http_status, message, loanpro_payment_id, sent_by_run, sent_at, reconciled, updated_at, file_id,
    kind, original_key, original_row, return_code, original_reference, reverse_reason,
    trace_reference, match_candidates)
SELECT id, run_id, file, line, key, live, status, loan, loan_id, amount_cents,
    amount_as_given, date, reference, payment_method_id, payment_type_id, extra, info, attempts,
    http_status, message, loanpro_payment_id, sent_by_run, sent_at, reconciled, updated_at, file_id,
    kind, original_key, original_row, return_code, original_reference, reverse_reason,
    trace_reference, match_candidates
FROM rows ORDER BY id;

DROP TABLE rows;
ALTER TABLE rows_new RENAME TO rows;

CREATE UNIQUE INDEX rows_one_live_row_per_key ON rows(key) WHERE live = 1;
CREATE INDEX rows_by_run_status ON rows(run_id, status);
CREATE INDEX rows_queue ON rows(sent_by_run, status);
-- Rows that may need a later run's attention; pending rows are reached through rows_queue.
CREATE INDEX rows_open ON rows(status) WHERE status IN ('sending', 'unknown', 'failed', 'unsent', 'unmatched', 'held');
CREATE INDEX rows_by_file_status ON rows(file_id, status);
-- A return's candidates (SPEC §8), and a payment's possible duplicates (SPEC §12): posted
-- rows of a loan and amount, by date. One seek per staged payment.
CREATE INDEX rows_posted_by_loan ON rows(loan_id, amount_cents, date) WHERE status = 'posted';
-- Whether a payment row is claimed by a return already.
CREATE INDEX rows_by_original ON rows(original_row) WHERE original_row IS NOT NULL;
-- Whether a return's reference names a payment already reversed (SPEC §8 rule 3).
CREATE INDEX rows_reversed_by_loan ON rows(loan_id, reference) WHERE status = 'reversed';

-- IF NOT EXISTS: like the rebuild above, this migration may run again on a ledger whose
-- user_version was set back (tests/tenant.rs) without losing the trail.
CREATE TABLE IF NOT EXISTS resolutions (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    row_id   INTEGER NOT NULL,          -- the row resolved (rows.id)
    key      TEXT    NOT NULL,
    action   TEXT    NOT NULL CHECK (action = 'amend' OR action = 'dismiss' OR action = 'release' OR action = 'move'),
    by       TEXT    NOT NULL,          -- $USER or --by
    at       TEXT    NOT NULL,
    note     TEXT,
    new_key  TEXT                       -- an amend's corrected copy
);
CREATE INDEX IF NOT EXISTS resolutions_by_row ON resolutions(row_id);
