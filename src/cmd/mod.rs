//! One file per command. A command reads its settings and arguments, calls the domain modules,
//! prints what a person reads, and decides the [`Exit`] status. Domain modules do not print,
//! with one exception: `session::Session::print_summary`, the end-of-run summary that `import`
//! and `retry` share (they call it; it writes to stdout). Log lines go through `tracing`.

pub mod amend;
pub mod check;
pub mod completions;
pub mod demo;
pub mod dismiss;
pub mod import;
pub mod release;
pub mod report;
pub mod retry;
pub mod runs;
pub mod sandbox;

use std::path::Path;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::metrics::{Clock, Meter, RunEnd};
use crate::settings::Settings;

/// Runs a command. An `Err` is fatal (exit 2); its message is for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Import(args) => {
            metered(
                &cli,
                "import",
                args.source.as_deref(),
                async |s, ledger, meter| import::run(s, ledger, args, None, meter).await,
            )
            .await
        }
        Command::Retry(args) => {
            metered(&cli, "retry", None, async |s, ledger, meter| {
                retry::run(s, ledger, args, None, meter).await
            })
            .await
        }
        Command::Amend(args) => {
            let settings = cli.load_settings()?;
            amend::run(&settings, &cli.ledger_path(&settings), args, None).await
        }
        Command::Release(args) => {
            metered(&cli, "release", None, async |s, ledger, meter| {
                release::run(s, ledger, args, None, meter).await
            })
            .await
        }
        Command::Runs => runs::run(&cli.ledger_to_read()?),
        Command::Report(args) if args.rejected => {
            // The corrections file is written in each source's own columns: it needs them.
            let settings = cli.load_settings()?;
            report::run(Some(&settings), &cli.ledger_path(&settings), args)
        }
        Command::Report(args) => report::run(None, &cli.ledger_to_read()?, args),
        Command::Dismiss(args) => {
            let settings = cli.load_settings()?;
            dismiss::run(&cli.ledger_path(&settings), args)
        }
        Command::Sandbox(args) => sandbox::run(&cli, args).await,
        Command::Demo => demo::run().await,
        Command::Check(args) => check::run(&cli, args).await,
        Command::Completions(args) => completions::completions(&cli, args),
        Command::Man => completions::man(),
    }
}

/// Runs `import` or `retry` and then, however it ended (settings refused, the run stopped, an
/// error), writes the metrics file when `--metrics-file` or `[metrics] textfile` names one.
async fn metered(
    cli: &Cli,
    command: &str,
    source: Option<&str>,
    run: impl AsyncFnOnce(&Settings, &Path, &Meter) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    let clock = Clock::start();
    let meter = Meter::default();
    let option = if cli.metrics_file.is_some() {
        "--metrics-file"
    } else {
        "metrics.textfile"
    };
    let (result, target, ledger) = match cli.load_settings() {
        Ok(settings) => {
            let ledger = cli.ledger_path(&settings);
            let target = cli
                .metrics_file
                .clone()
                .or_else(|| settings.metrics_textfile.clone());
            // A metrics file that can never be written stops the command before it starts.
            if let Some(path) = &target {
                crate::metrics::check_file(option, path, Some(&ledger))?;
            }
            (run(&settings, &ledger, &meter).await, target, Some(ledger))
        }
        Err(e) => (Err(e), cli.metrics_file.clone(), None),
    };
    if let Some(path) = target {
        let end = RunEnd {
            command,
            source,
            exit: *result.as_ref().unwrap_or(&Exit::Fatal),
            ledger: ledger.as_deref(),
            meter: &meter,
        };
        crate::metrics::write_after_run(option, &path, &clock, &end);
    }
    result
}
