-- The payimport ledger: every run, every file, every row, its key and its result.

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT    NOT NULL,          -- import | retry
    source      TEXT,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,                      -- NULL: still running, or the process died
    pid         INTEGER NOT NULL
);

CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    path            TEXT    NOT NULL,
    status          TEXT    NOT NULL,      -- staged | refused
    message         TEXT,                  -- why a refused file was refused
    rows            INTEGER NOT NULL DEFAULT 0,
    control_checks  TEXT                   -- JSON: every control total the file states, stated vs computed
);

-- Display ids (the loan number on a coupon) resolved to LoanPro loan ids, so a rerun asks nothing.
CREATE TABLE loan_ids (
    display_id   TEXT    PRIMARY KEY,
    loan_id      INTEGER NOT NULL,
    resolved_at  TEXT    NOT NULL
);

CREATE TABLE rows (
    id                  INTEGER PRIMARY KEY,
    run_id              INTEGER NOT NULL REFERENCES runs(id),
    file                TEXT    NOT NULL,
    line                INTEGER NOT NULL,
    key                 TEXT    NOT NULL,
    -- The one row that speaks for its key: the one to send, retry or reconcile. Other rows with
    -- the same key are history (an earlier failed attempt) or echoes (already_posted).
    live                INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL,  -- pending sending posted failed unsent unknown rejected already_posted
    loan                TEXT    NOT NULL,  -- as the file gives it
    loan_id             INTEGER,           -- LoanPro's id, once known
    amount              TEXT    NOT NULL,  -- two decimals for valid rows; as given for rejected ones
    amount_cents        INTEGER,           -- valid rows only: totals are summed in integer cents
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
    updated_at          TEXT    NOT NULL
);

CREATE UNIQUE INDEX rows_one_live_row_per_key ON rows(key) WHERE live = 1;
CREATE INDEX rows_by_run_status ON rows(run_id, status);
CREATE INDEX rows_queue ON rows(sent_by_run, status);
-- Rows that may need a later run's attention; pending rows are reached through rows_queue.
CREATE INDEX rows_open ON rows(status) WHERE status IN ('sending', 'unknown', 'failed', 'unsent');
