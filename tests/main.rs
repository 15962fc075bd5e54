//! Integration tests: the real `payimport` binary against the in-process LoanPro sandbox over
//! loopback, with a real SQLite ledger in a temporary folder per test.

mod bounds;
mod camt;
mod chaos;
mod check;
mod completions;
mod crash_points;
mod csv_controls;
mod demo;
mod drift;
mod echo;
mod file_writer;
mod first_use;
mod hardening;
mod hostile;
mod html_hardening;
mod import_bank;
mod import_csv;
mod line_ends;
mod metrics;
mod nevertwice;
mod operator;
mod properties;
mod readback;
mod readme;
mod report_html;
mod report_output;
mod resolve;
mod returns;
mod signals;
mod stops;
mod tenant;
mod tieout;
mod token;
mod util;
