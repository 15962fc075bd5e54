//! The command line: the clap types and logging set-up.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;
use crate::settings::Settings;
// Kept here too so that `cli::Exit` still names it (commands import it from either).
pub use crate::exit::Exit;

/// Imports bank payment files into LoanPro as log-only payments, exactly once.
#[derive(Debug, Parser)]
#[command(name = "payimport", version, about)]
pub struct Cli {
    /// The settings file [default: $PAYIMPORT_SETTINGS, else ./payimport.toml]
    #[arg(long, global = true, env = "PAYIMPORT_SETTINGS", value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// The SQLite ledger [default: `[ledger] path` of the settings, relative to their folder]
    #[arg(long, global = true, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// After `import` and `retry`, write Prometheus metrics here (node_exporter's textfile
    /// collector; a name ending in .prom) [default: `[metrics] textfile` of the settings]
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Log lines on stderr as text, or one JSON object per line (for cron and log shippers)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More logging (-v debug, -vv trace); RUST_LOG works too
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less logging (-q warnings and errors only, -qq errors only)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate, stage in the ledger, send, print a summary
    Import(cmd::import::ImportArgs),
    /// Re-send rows that are failed, unsent or unknown (all runs, one run, or the named keys)
    Retry(cmd::retry::RetryArgs),
    /// List runs: id, start, end, source, files, counts per status
    Runs,
    /// Reconciliation export: one line per row
    Report(cmd::report::ReportArgs),
    /// Serve a local LoanPro stand-in on loopback
    Sandbox(crate::sandbox::SandboxArgs),
    /// Start the sandbox in-process, import the bundled samples, print the summary and report
    Demo,
    /// Verify settings, token, LoanPro, loans and ledger without logging anything (a canary)
    Check(cmd::check::CheckArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page (roff) on stdout
    Man,
}

/// A write to stdout that stopped because its reader went away (`payimport report | head`) is
/// not an error: the reader had what it wanted (ripgrep's rule).
pub fn ignore_broken_pipe(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        let csv = cause
            .downcast_ref::<csv::Error>()
            .and_then(|e| match e.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            });
        [io, json, csv].contains(&Some(std::io::ErrorKind::BrokenPipe))
    })
}

impl Cli {
    /// The settings file: `--settings`, else `$PAYIMPORT_SETTINGS`, else `./payimport.toml`.
    pub fn settings_path(&self) -> PathBuf {
        self.settings
            .clone()
            .unwrap_or_else(|| PathBuf::from("payimport.toml"))
    }

    /// The settings file, loaded and validated.
    pub fn load_settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(&self.settings_path())?)
    }

    /// The ledger: `--ledger`, else the settings' `[ledger] path`.
    pub fn ledger_path(&self, settings: &Settings) -> PathBuf {
        self.ledger
            .clone()
            .unwrap_or_else(|| settings.ledger_path.clone())
    }
}

/// Sets up logging on stderr. The token never reaches a log line: it is only ever in a
/// sensitive header and in [`settings::Token`], whose `Debug` is redacted.
pub fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.verbose as i8) - (cli.quiet as i8) {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level; the HTTP stack's chatter only when asked for by RUST_LOG.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,payimport={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}
