//! One file per command. A command reads its settings and arguments, calls the domain modules,
//! prints what a person reads, and decides the [`Exit`] status; domain modules never do.

pub mod check;
pub mod completions;
pub mod demo;
pub mod import;
pub mod report;
pub mod retry;
pub mod runs;
pub mod sandbox;

use std::path::Path;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::metrics::{Clock, RunEnd};
use crate::settings::Settings;

/// Runs a command. An `Err` is fatal (exit 2); its message is for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Import(args) => {
            metered(&cli, "import", args.source.as_deref(), async |s, ledger| {
                import::run(s, ledger, args, None).await
            })
            .await
        }
        Command::Retry(args) => {
            metered(&cli, "retry", None, async |s, ledger| {
                retry::run(s, ledger, args, None).await
            })
            .await
        }
        Command::Runs => {
            let settings = cli.load_settings()?;
            runs::run(&cli.ledger_path(&settings))
        }
        Command::Report(args) => {
            let settings = cli.load_settings()?;
            report::run(&cli.ledger_path(&settings), args)
        }
        Command::Sandbox(args) => sandbox::run(&cli, args).await,
        Command::Demo => demo::run().await,
        Command::Check(args) => check::run(&cli, args).await,
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
    }
}

/// Runs `import` or `retry` and then, however it ended (settings refused, the run stopped, an
/// error), writes the metrics file when `--metrics-file` or `[metrics] textfile` names one.
async fn metered(
    cli: &Cli,
    command: &str,
    source: Option<&str>,
    run: impl AsyncFnOnce(&Settings, &Path) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    let clock = Clock::start();
    let (result, target, ledger) = match cli.load_settings() {
        Ok(settings) => {
            let ledger = cli.ledger_path(&settings);
            let target = cli
                .metrics_file
                .clone()
                .or_else(|| settings.metrics_textfile.clone());
            (run(&settings, &ledger).await, target, Some(ledger))
        }
        Err(e) => (Err(e), cli.metrics_file.clone(), None),
    };
    if let Some(path) = target {
        let end = RunEnd {
            command,
            source,
            exit: *result.as_ref().unwrap_or(&Exit::Fatal),
            ledger: ledger.as_deref(),
        };
        crate::metrics::write_after_run(&path, &clock, &end);
    }
    result
}
