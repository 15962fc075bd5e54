//! The command line: the clap types and logging set-up.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
    /// Send a corrected copy of a rejected or failed payment (loan, type, extra), or name an
    /// unmatched return's original
    Amend(cmd::amend::AmendArgs),
    /// Close rows settled elsewhere (entered or reversed by hand in LoanPro): `dismissed`
    Dismiss(cmd::dismiss::DismissArgs),
    /// Send payments held as possible duplicates, once a person decided they are payments
    Release(cmd::release::ReleaseArgs),
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

/// An error's message followed by its causes, each once: an error that already prints its
/// cause (`cannot read X: No such file`) is not followed by the same text a second time.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Whether an error is, somewhere in its chain, a write to a reader that went away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
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

/// The options declared once, at the top, though accepted after any command too (`payimport
/// report --ledger L`): each command's `--help` leaves them out, the top-level help has them.
const SHOWN_ONCE: [&str; 2] = ["ledger", "metrics_file"];

/// The command line as help, completions, the man page and parsing all see it.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Global options reach the commands when clap builds the tree; hide them there after.
    cmd.build();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        // `mut_args` changes them in place (`mut_arg` would move them, out of the built order).
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.mut_args(|a| {
                let shown_once = SHOWN_ONCE.contains(&a.get_id().as_str());
                a.hide(shown_once)
            })
        });
    }
    cmd
}

impl Cli {
    /// Parses the process's arguments (exits with clap's message and status 2 on a bad one).
    pub fn parse_args() -> Cli {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

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

    /// The ledger of a command that only reads it (`runs`, `report`): `--ledger` needs no
    /// settings file, so the summary's `payimport --ledger L report --run N` works anywhere.
    pub fn ledger_to_read(&self) -> anyhow::Result<PathBuf> {
        match &self.ledger {
            Some(path) => Ok(path.clone()),
            None => Ok(self.load_settings()?.ledger_path),
        }
    }

    /// The ledger: `--ledger`, else the settings' `[ledger] path`.
    pub fn ledger_path(&self, settings: &Settings) -> PathBuf {
        self.ledger
            .clone()
            .unwrap_or_else(|| settings.ledger_path.clone())
    }
}

/// Colour only for a person at a terminal: never in a file, a pipe or cron's mail, and never
/// when `NO_COLOR` is set to anything but the empty string (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

/// Sets up logging on stderr. The token never reaches a log line: it is only ever in a
/// sensitive header and in [`settings::Token`], whose `Debug` is redacted.
pub fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    // The demo tells its own story on stdout: its log lines only with -v.
    let demo = i8::from(matches!(cli.command, Command::Demo));
    let level = match (cli.verbose as i8) - (cli.quiet as i8) - demo {
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
        .with_writer(crate::output::log_writer)
        .with_ansi(colour_on_stderr())
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}
