//! payimport: imports bank payment files into LoanPro as log-only payments, exactly once.
//! What it does, in full, is in `docs/` (settings, formats, states, exit status, the report);
//! comments point there.
//!
//! Where each concern lives (the flow is read → validate → stage → dispatch → record → report):
//!
//! - `cli` — the clap types, [`Exit`], logging. `cmd/` — one file per command; only commands
//!   print for a person and choose an exit status. **Add a command:** a variant in `cli::Command`
//!   and a file in `cmd/` (wired in `cmd::run`).
//! - `settings` — the TOML file, validated strictly; a source's options are a
//!   `settings::SourceFormat`, tagged by `format`. `read/` — one reader per bank format with its
//!   own options type, streaming `RawRow`s (bank readers hand over cents); `read/control.rs` —
//!   control totals, enforce or warn (amounts and counts each). Readers never import settings.
//!   **Add a bank format:** a reader in `read/`, a variant of `SourceFormat` (its keys in
//!   `settings::FORMAT_KEYS`) and its arm in `files::open_rows`.
//! - `validate` — a `RawRow` into a `payment::Payment` or a `RowError`; `payment` — the docs/loanpro.md
//!   body and the key; `money` — `Cents`, the one amount type and its one formatter;
//!   `files` — a file's fingerprint, reader and validated rows for the ledger.
//! - `ledger/` — the SQLite ledger, split by concern: `file.rs` (header checks, lock),
//!   `migrate.rs` (the numbered `migrations/`), `stage.rs` (runs, files, rows staged),
//!   `queue.rs` (claim, record, retry, read-back results), `queries.rs` (totals, runs, report
//!   rows); `status.rs` is the row state machine. **Add a status:** a line in `status.rs`'s
//!   `states!` with its transitions, a migration rebuilding `rows` with the new `CHECK` list
//!   (its tests fail until they agree), and the code of the step that moves rows into it
//!   (a ledger method, or `dispatch::verdict` for a LoanPro answer).
//! - `session` — one run that talks to LoanPro; `interrupt` — SIGTERM, SIGINT and SIGHUP stop
//!   it gracefully (a second signal at once); `dispatch` — the worker pool; `reconcile` —
//!   reading uncertain rows back; `loanpro` — the API client, the one rate limiter every
//!   request waits on, and how an answer is classified.
//! - `metrics` — the Prometheus textfile written after every `import` and `retry`.
//! - `returns` — returns and reversals (docs/returns.md): `[returns]`, the NACHA reason texts, the
//!   matching rule; the ledger matches (`ledger/returns.rs`), `dispatch` sends the reversals
//!   in a phase after the payments, `read/nacha/` reads ACH return files.
//! - `report` — the reconciliation export; `output` — progress bar and summary text;
//!   `sandbox/` — the LoanPro stand-in every test runs against.

pub mod cli;
pub mod cmd;
pub mod crashpoint;
pub mod dispatch;
pub mod files;
pub mod interrupt;
pub mod ledger;
pub mod loanpro;
pub mod metrics;
pub mod money;
pub mod output;
pub mod payment;
pub mod read;
pub mod reconcile;
pub mod report;
pub mod returns;
pub mod sandbox;
pub mod session;
pub mod settings;
pub mod validate;

pub use cli::{Cli, Exit, init_logging};
pub use cmd::run;
