-- Rows hold only the states of src/ledger/status.rs (the CHECK lists `Status::ALL`, which a
-- test holds it to), and one form of their amount: integer cents for rows with a valid amount,
-- the text as the file gave it only for rows whose amount was never valid.
--
-- SQLite adds a CHECK only by rebuilding the table: create, copy, drop, rename, then every
-- index of `rows` recreated as 0001 and 0002 made it (a test compares them). Foreign keys are
-- on, and cannot be turned off inside the migration's transaction; nothing needs them off:
-- no table references `rows` (it references `runs`, which stays), so dropping the old table
-- neither deletes nor orphans anything, and every copied row still finds its run.

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
        CHECK (status IN ('posted', 'already_posted', 'rejected', 'failed', 'unsent', 'unknown', 'pending', 'sending')),
    loan                TEXT    NOT NULL,  -- as the file gives it
    loan_id             INTEGER,           -- LoanPro's id, once known
    amount_cents        INTEGER,           -- a valid amount, in integer cents
    amount_as_given     TEXT,              -- an amount that was never valid, as the file gives it
    date                TEXT    NOT NULL,
    reference           TEXT    NOT NULL,
    payment_method_id   INTEGER,
    payment_type_id     INTEGER,
    extra               TEXT,
    info                TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    http_status         INTEGER,
    message             TEXT,
    loanpro_payment_id  INTEGER,
    sent_by_run         INTEGER,           -- the run that sends (or last sent) this row: its queue
    sent_at             TEXT,              -- when its last request left (settle delay before a read-back)
    reconciled          INTEGER NOT NULL DEFAULT 0,  -- how often it was read back from LoanPro
    updated_at          TEXT    NOT NULL,
    file_id             INTEGER,           -- the file a row came from (NULL for rows staged before 0002)
    CHECK ((amount_cents IS NULL) <> (amount_as_given IS NULL))
);

INSERT INTO rows_new (id, run_id, file, line, key, live, status, loan, loan_id, amount_cents,
    amount_as_given, date, reference, payment_method_id, payment_type_id, extra, info, attempts,
    http_status, message, loanpro_payment_id, sent_by_run, sent_at, reconciled, updated_at, file_id)
SELECT id, run_id, file, line, key, live, status, loan, loan_id, amount_cents,
    CASE WHEN amount_cents IS NULL THEN amount END, date, reference, payment_method_id,
    payment_type_id, extra, info, attempts, http_status, message, loanpro_payment_id, sent_by_run,
    sent_at, reconciled, updated_at, file_id
FROM rows ORDER BY id;

DROP TABLE rows;
ALTER TABLE rows_new RENAME TO rows;

CREATE UNIQUE INDEX rows_one_live_row_per_key ON rows(key) WHERE live = 1;
CREATE INDEX rows_by_run_status ON rows(run_id, status);
CREATE INDEX rows_queue ON rows(sent_by_run, status);
-- Rows that may need a later run's attention; pending rows are reached through rows_queue.
CREATE INDEX rows_open ON rows(status) WHERE status IN ('sending', 'unknown', 'failed', 'unsent');
CREATE INDEX rows_by_file_status ON rows(file_id, status);
