//! One file per command. A command reads its settings and arguments, calls the domain modules,
//! prints what a person reads, and decides the [`Exit`] status; domain modules never do.

pub mod completions;
pub mod demo;
pub mod import;
pub mod report;
pub mod retry;
pub mod runs;
pub mod sandbox;

use crate::cli::{Cli, Command, Exit};

/// Runs a command. An `Err` is fatal (exit 2); its message is for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Import(args) => {
            let settings = cli.load_settings()?;
            import::run(&settings, &cli.ledger_path(&settings), args, None).await
        }
        Command::Retry(args) => {
            let settings = cli.load_settings()?;
            retry::run(&settings, &cli.ledger_path(&settings), args, None).await
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
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
    }
}
