//! payimport: imports bank payment files into LoanPro as log-only payments, exactly once.
//!
//! The command line (clap derive) and [`run`] live here so that tests can drive the whole tool;
//! `main.rs` only maps the result to an exit status.

pub mod crashpoint;
pub mod dispatch;
pub mod import;
pub mod ledger;
pub mod loanpro;
pub mod output;
pub mod payment;
pub mod read;
pub mod reconcile;
pub mod report;
pub mod retry;
pub mod sandbox;
pub mod session;
pub mod settings;
pub mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::settings::Settings;

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
    Import(import::ImportArgs),
    /// Re-send rows that are failed, unsent or unknown (all runs, one run, or the named keys)
    Retry(retry::RetryArgs),
    /// List runs: id, start, end, source, files, counts per status
    Runs,
    /// Reconciliation export: one line per row
    Report(report::ReportArgs),
    /// Serve a local LoanPro stand-in on loopback
    Sandbox(sandbox::SandboxArgs),
    /// Start the sandbox in-process, import the bundled samples, print the summary and report
    Demo,
}

/// How a command ended (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every row is `posted` or `already_posted`.
    Done = 0,
    /// Done, but some rows need attention.
    Attention = 1,
    /// Bad arguments or settings, a refused file, refused credentials, ledger in use, I/O error.
    Fatal = 2,
}

/// Runs a command. An `Err` is fatal (exit 2); its message is for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Import(args) => {
            let settings = load_settings(&cli)?;
            let ledger = ledger_path(&cli, &settings);
            import::run(&settings, &ledger, args, None).await
        }
        Command::Retry(args) => {
            let settings = load_settings(&cli)?;
            let ledger = ledger_path(&cli, &settings);
            retry::run(&settings, &ledger, args, None).await
        }
        Command::Runs => {
            let settings = load_settings(&cli)?;
            report::print_runs(&ledger_path(&cli, &settings))
        }
        Command::Report(args) => {
            let settings = load_settings(&cli)?;
            report::run(&ledger_path(&cli, &settings), args)
        }
        Command::Sandbox(args) => {
            // The sandbox holds the methods and types of a settings file when one is there.
            let (methods, types) = match settings_path(&cli) {
                p if p.exists() || cli.settings.is_some() => {
                    let s = Settings::load(&p)?;
                    (
                        s.payments.payment_methods.keys().copied().collect(),
                        s.payments.payment_types.keys().copied().collect(),
                    )
                }
                _ => {
                    let d = sandbox::SandboxConfig::default();
                    (d.payment_methods, d.payment_types)
                }
            };
            sandbox::run_cli(args.clone(), methods, types).await?;
            Ok(Exit::Done)
        }
        Command::Demo => import::demo().await,
    }
}

fn settings_path(cli: &Cli) -> PathBuf {
    cli.settings
        .clone()
        .unwrap_or_else(|| PathBuf::from("payimport.toml"))
}

fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(Settings::load(&settings_path(cli))?)
}

fn ledger_path(cli: &Cli, settings: &Settings) -> PathBuf {
    cli.ledger
        .clone()
        .unwrap_or_else(|| settings.ledger_path.clone())
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
