//! Integration tests: the real `payimport` binary against the in-process LoanPro sandbox over
//! loopback, with a real SQLite ledger in a temporary folder per test.

mod bounds;
mod camt;
mod chaos;
mod check;
mod completions;
mod crash_points;
mod demo;
mod echo;
mod hardening;
mod hostile;
mod import_bank;
mod import_csv;
mod metrics;
mod operator;
mod properties;
mod reconcile;
mod report_html;
mod report_output;
mod returns;
mod signals;
mod tenant;
mod util;
