//! payimport: imports bank payment files into LoanPro as log-only payments, exactly once.
//! What it does, in full, is in `docs/` (settings, formats, states, exit status, the report);
//! comments point there.
//!
//! Where each concern lives (the flow is read → validate → stage → dispatch → record → report):
//!
//! - `cli` — the clap types, logging; `exit` — [`Exit`], how a command ends. `cmd/` — one file
//!   per command; only commands choose an exit status and print for a person (and
//!   `session`'s summary, which `import` and `retry` share).
//! - `settings/` — the TOML file, validated strictly: `mod.rs` (the sections), `raw.rs` (the
//!   TOML as written), `ranges.rs` (every number's bounds), `source.rs` (the bank formats: one
//!   `FormatSpec` each in `FORMATS`, and `SourceFormat`, a source's options, which opens its
//!   reader). `read/` — one reader per bank format with its own options type, streaming
//!   `RawRow`s (bank readers hand over cents); `read/control.rs` — control totals, enforce or
//!   warn. Readers import nothing above `money` and `payment`.
//! - `validate` — a `RawRow` into a `payment::Payment` or a `RowError`; `payment` — the body of
//!   docs/loanpro.md and the key; `money` — `Cents`, amount parsing (every reader's), the currencies'
//!   decimals, the one formatter; `template` — `{placeholder}` templates (info, return
//!   comments); `files` — a file's fingerprint, reader and validated rows for the ledger.
//! - `ledger/` — the SQLite ledger, split by concern: `file.rs` (header checks, lock),
//!   `migrate.rs` (the numbered `migrations/`), `stage.rs` (runs, files, rows staged),
//!   `queue.rs` (claim, record, retry, read-back results), `queries.rs` (totals, runs, report
//!   rows), `resolve.rs` (amend, dismiss and their audit trail, docs/states.md), `verify.rs` (a new
//!   or lost ledger reads LoanPro first, docs/states.md); `status.rs` is the row state machine.
//! - `session` — one run that talks to LoanPro; `interrupt` — SIGTERM, SIGINT and SIGHUP stop
//!   it gracefully (a second signal at once); `dispatch` — the worker pool: one claim
//!   and one retry loop for payments and reversals; `readback` — reading uncertain rows back;
//!   `loanpro` — the API client, the rate limiter and how an answer is classified.
//!   `crashpoint` — test hooks, compiled only with the `test-hooks` feature (`cargo test`).
//! - `archive` — `import --archive DIR`: done and failed folders, moves that never overwrite.
//! - `metrics` — the Prometheus textfile written after every `import` and `retry`.
//! - `fsutil` — the one writer of every file payimport writes (report, metrics, ...): regular
//!   files only, through an exclusive temporary file, with the promised mode (docs/loanpro.md).
//! - `returns` — returns and reversals (docs/returns.md): `[returns]`, the NACHA reason texts, the
//!   matching rule; the ledger matches (`ledger/returns.rs`), `dispatch` sends the reversals
//!   in a phase after the payments, `read/nacha/` reads ACH return files.
//! - `report` — the reconciliation export (rows, `report/tieout.rs` the tie-out table,
//!   `report/html.rs` the page, `report/select.rs` which runs and files, `report/corrections.rs`
//!   the corrections file); the tie-out itself is computed in `ledger/tieout.rs`
//!   (docs/report.md). `drift` — comparing LoanPro's payments with the ledger for
//!   `payimport reconcile` (`cmd/reconcile.rs`, stored by `ledger/reconciliations.rs`).
//!   `read/expect.rs` — a CSV's expected count and total. `output` — progress bar and summary
//!   text; `sandbox/` — the LoanPro stand-in every test runs against; `testkit` — test support
//!   shared by tests, benches and fuzz targets (settings with a source per format, `drain`).
//!
//! The files each change touches (the compiler or a test points to every one but the first):
//!
//! - **Add a bank format:** `read/NAME.rs` (or `read/NAME/`) with its reader and options type,
//!   and `pub mod NAME;` in `read/mod.rs`; in `settings/source.rs` its `FormatSpec` in `FORMATS`
//!   (name, keys, parse function), its `SourceFormat` variant and that variant's arm in each
//!   `match` there (`spec`, `date_formats`, `rows_name_their_extra`, `open`); a key of its own
//!   is a field of `RawSource` and a line of `RawSource::format_keys_set` in `settings/raw.rs`,
//!   and a sample value in `settings/tests.rs`.
//! - **Add a status:** a line in `ledger/status.rs`'s `states!` with its transitions (and `OPEN`
//!   if a later run must find it); a migration in `migrations/` rebuilding `rows` with the new
//!   `CHECK` list (listed in `ledger/migrate.rs`; its tests fail until they agree); its arm in
//!   `report/html.rs` `status_class` and `cmd/retry.rs`; and the code of the step that moves
//!   rows into it (a ledger method, or `dispatch::verdict` for a LoanPro answer).
//! - **Add a command:** a variant in `cli::Command`, a file in `cmd/`, and its `mod` line and arm
//!   in `cmd::run` (`cmd/mod.rs`).

pub mod archive;
pub mod cli;
pub mod cmd;
pub mod crashpoint;
pub mod dispatch;
pub mod drift;
pub mod exit;
pub mod files;
pub mod fsutil;
pub mod interrupt;
pub mod ledger;
pub mod loanpro;
pub mod metrics;
pub mod money;
pub mod output;
pub mod payment;
pub mod read;
pub mod readback;
pub mod report;
pub mod returns;
pub mod sandbox;
pub mod session;
pub mod settings;
pub mod template;
pub mod testkit;
pub mod validate;

pub use cli::{Cli, init_logging};
pub use cmd::run;
pub use exit::Exit;
