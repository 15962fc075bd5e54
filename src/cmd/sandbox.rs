//! `payimport sandbox`: the LoanPro stand-in served on loopback until Ctrl-C or SIGTERM.

use crate::cli::Cli;
use crate::exit::Exit;
use crate::sandbox::{self, SandboxArgs, SandboxConfig};
use crate::settings::Settings;

/// Serves the sandbox, holding the payment methods and types of the settings file when one is
/// there (so that what the settings allow, the sandbox accepts).
pub async fn run(cli: &Cli, args: &SandboxArgs) -> anyhow::Result<Exit> {
    let path = cli.settings_path();
    let (methods, types) = if path.exists() || cli.settings.is_some() {
        let s = Settings::load(&path)?;
        (
            s.payments.payment_methods.keys().copied().collect(),
            s.payments.payment_types.keys().copied().collect(),
        )
    } else {
        let d = SandboxConfig::default();
        (d.payment_methods, d.payment_types)
    };
    sandbox::run_cli(args.clone(), methods, types).await?;
    Ok(Exit::Done)
}
