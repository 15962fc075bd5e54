-- Reconciliation (docs/report.md). Two things the report needs that the ledger did not keep:
--
-- `not_payments`: what a reader read and skipped as no payment (a BAI2 detail of another type
-- code, a detail in a test, deletion or interim group), with its amount and line, so that a
-- file's tie-out can account for every cent it states. Never sent.
--
-- `reconciliations` and `drift`: each `payimport reconcile` (LoanPro's side compared with the
-- ledger) and every difference it found, for `report` to show.

CREATE TABLE IF NOT EXISTS not_payments (
    id        INTEGER PRIMARY KEY,
    file_id   INTEGER NOT NULL REFERENCES files(id),
    line      INTEGER NOT NULL,
    code      TEXT    NOT NULL,   -- a BAI2 type code, or what the entry is
    cents     INTEGER,            -- NULL when its amount could not be read
    why       TEXT    NOT NULL    -- `type code not a payment`, `test only, group status 4`, ...
);
CREATE INDEX IF NOT EXISTS not_payments_by_file ON not_payments(file_id, line);

CREATE TABLE IF NOT EXISTS reconciliations (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    since       TEXT    NOT NULL,  -- the range of when payimport logged (YYYY-MM-DD, inclusive)
    until       TEXT    NOT NULL,
    loans       INTEGER NOT NULL DEFAULT 0,  -- loans read
    payments    INTEGER NOT NULL DEFAULT 0,  -- ledger rows compared
    drift       INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT               -- completed | failed (and why, in message)
        CHECK (outcome IS NULL OR outcome = 'completed' OR outcome = 'failed'),
    message     TEXT
);

CREATE TABLE IF NOT EXISTS drift (
    id                  INTEGER PRIMARY KEY,
    reconciliation_id   INTEGER NOT NULL REFERENCES reconciliations(id),
    kind                TEXT    NOT NULL
        CHECK (kind = 'missing' OR kind = 'reversed_in_loanpro' OR kind = 'not_reversed'
            OR kind = 'amount_changed' OR kind = 'date_changed' OR kind = 'unknown_key'
            OR kind = 'duplicate'),
    loan_id             INTEGER NOT NULL,
    key                 TEXT,      -- the ledger row's key, or the unknown [k:KEY] found
    loanpro_payment_id  INTEGER,
    ledger_value        TEXT,      -- what the ledger says (amount, date, state)
    loanpro_value       TEXT,      -- what LoanPro says
    message             TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_by_reconciliation ON drift(reconciliation_id);
