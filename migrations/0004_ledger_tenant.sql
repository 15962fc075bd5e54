-- The LoanPro tenant a ledger belongs to (SPEC §5). A key in the ledger says that *this*
-- tenant holds the payment; read by another tenant (or by the same tenant id at another base
-- URL: a sandbox ledger later pointed at production) it would skip that tenant's payments as
-- `already_posted`. One row, written by the first `import` or `retry` on the ledger (on a
-- ledger older than this migration: the first one after it), and compared at every later one.
CREATE TABLE ledger_tenant (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    tenant_id    TEXT    NOT NULL,     -- `loanpro.tenant_id`, without surrounding blanks
    base_url     TEXT    NOT NULL,     -- `loanpro.base_url`: scheme and host lower case, no trailing `/`
    recorded_at  TEXT    NOT NULL
);
