//! `payimport sandbox`: the command-line options and the serve-until-signalled loop.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, bail};

use super::{Fault, Faults, Paging, Sandbox, SandboxConfig};

/// Options of `payimport sandbox`.
#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Address to listen on; loopback only unless --allow-remote.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (the sandbox has no real security).
    #[arg(long)]
    pub allow_remote: bool,
    /// Number of loans: ids 1..=N, display ids LN000001...
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub loans: u64,
    /// The only accepted bearer token.
    #[arg(long, value_name = "TOKEN", default_value = "sandbox-token")]
    pub token: String,
    /// The only accepted Autopal-Instance-Id.
    #[arg(long, value_name = "ID", default_value = "5200243")]
    pub tenant_id: String,
    /// Loans whose interest application is between periods (comma-separated ids).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub periods_loans: Vec<u64>,
    /// Request ceiling per second over all requests; above it the answer is 429.
    #[arg(long, value_name = "RPS", value_parser = positive)]
    pub rps: Option<f64>,
    /// Default and maximum $top.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub page_size: u64,
    /// Seed of the fault generator: the same seed and request order give the same faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Probability that a PUT answers 500 without recording.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub error_before_commit: f64,
    /// Probability that a PUT's connection is closed without recording or answering.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub drop_before_commit: f64,
    /// Probability that a PUT records the payment, then answers 500.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub error_after_commit: f64,
    /// Probability that a PUT records the payment, then closes the connection unanswered.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub drop_after_commit: f64,
    /// Probability that a PUT waits --slow-secs, then records and answers.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub slow_commit: f64,
    /// Delay of a slow commit, in seconds (longer than a client's usual 30 s timeout).
    #[arg(long, value_name = "SECS", default_value_t = 35.0, value_parser = non_negative)]
    pub slow_secs: f64,
    /// Probability that a request starts a burst of 429s (it and the next 3 requests).
    #[arg(long = "burst-429", value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub burst_429: f64,
    /// Probability that a GET answers 500.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub get_failure: f64,
    /// A fault for the first PUT of every payment (by its info), for scripted tests.
    #[arg(long, value_name = "FAULT", value_enum)]
    pub first_attempt: Option<Fault>,
    /// The Retry-After of every injected 429, in seconds [default: 1]
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,
    /// How `GET Loans(id)/Payments` pages: honestly, or ignoring `$skip` as a broken server does
    #[arg(long, value_name = "HOW", value_enum, default_value = "honest")]
    pub paging: Paging,
    /// Base URL that the `redirect` and `get-redirect` faults point to (default: the sandbox's own).
    #[arg(long, value_name = "URL")]
    pub redirect_to: Option<String>,
}

impl SandboxArgs {
    /// The configuration these options describe; empty method or type sets fall back to the
    /// sandbox defaults rather than refusing every payment.
    pub fn config(
        &self,
        payment_methods: BTreeSet<u32>,
        payment_types: BTreeSet<u32>,
    ) -> SandboxConfig {
        let defaults = SandboxConfig::default();
        SandboxConfig {
            loans: self.loans,
            token: self.token.clone(),
            tenant_id: self.tenant_id.clone(),
            payment_methods: if payment_methods.is_empty() {
                defaults.payment_methods
            } else {
                payment_methods
            },
            payment_types: if payment_types.is_empty() {
                defaults.payment_types
            } else {
                payment_types
            },
            periods_loans: self.periods_loans.iter().copied().collect(),
            reverse_reasons: defaults.reverse_reasons,
            requests_per_second: self.rps,
            page_size: usize::try_from(self.page_size).unwrap_or(usize::MAX),
            faults: Faults {
                seed: self.seed,
                error_before_commit: self.error_before_commit,
                drop_before_commit: self.drop_before_commit,
                error_after_commit: self.error_after_commit,
                drop_after_commit: self.drop_after_commit,
                slow_commit: self.slow_commit,
                slow_secs: self.slow_secs,
                burst_429: self.burst_429,
                get_failure: self.get_failure,
                first_attempt: self.first_attempt,
                retry_after_secs: self.retry_after,
                paging: self.paging,
            },
            redirect_to: self.redirect_to.clone(),
        }
    }
}

/// Starts the sandbox, prints `sandbox listening on BASE_URL` on stdout, and serves until
/// Ctrl-C or SIGTERM.
pub async fn run_cli(
    args: SandboxArgs,
    payment_methods: BTreeSet<u32>,
    payment_types: BTreeSet<u32>,
) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!(
            "refusing to listen on non-loopback address {}: the sandbox is for local testing (pass --allow-remote to override)",
            args.listen
        );
    }
    let config = args.config(payment_methods, payment_types);
    let sandbox = Sandbox::start(config, args.listen)
        .await
        .with_context(|| format!("cannot start the sandbox on {}", args.listen))?;
    {
        // Scripts wait for this exact line, so flush it at once even when stdout is a pipe.
        let mut out = std::io::stdout().lock();
        writeln!(out, "sandbox listening on {}", sandbox.base_url())?;
        out.flush()?;
    }
    tracing::info!(loans = args.loans, tenant_id = %args.tenant_id, "sandbox ready");
    wait_for_signal().await?;
    tracing::info!("sandbox stopping");
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

fn positive(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{x} must be greater than 0"))
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("{x} must not be negative"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn parses_options() {
        let cli = Cli::try_parse_from([
            "x",
            "--periods-loans",
            "10,20",
            "--rps",
            "5",
            "--error-after-commit",
            "0.25",
            "--first-attempt",
            "drop-after-commit",
            "--redirect-to",
            "http://127.0.0.1:9/api",
        ])
        .unwrap();
        let config = cli.args.config(BTreeSet::new(), BTreeSet::from([1]));
        assert_eq!(config.periods_loans, BTreeSet::from([10, 20]));
        assert_eq!(config.requests_per_second, Some(5.0));
        assert_eq!(config.faults.error_after_commit, 0.25);
        assert_eq!(config.faults.first_attempt, Some(Fault::DropAfterCommit));
        assert_eq!(
            config.redirect_to.as_deref(),
            Some("http://127.0.0.1:9/api")
        );
        let cli = Cli::try_parse_from(["x", "--first-attempt", "html-after-commit"]).unwrap();
        assert_eq!(cli.args.first_attempt, Some(Fault::HtmlAfterCommit));
        let cli = Cli::try_parse_from(["x", "--first-attempt", "no-d-before-commit"]).unwrap();
        assert_eq!(cli.args.first_attempt, Some(Fault::NoDBeforeCommit));
        assert_eq!(config.payment_methods, BTreeSet::from([3, 4, 5]));
        assert_eq!(config.payment_types, BTreeSet::from([1]));
        assert_eq!(cli.args.listen.to_string(), "127.0.0.1:8080");
        assert!(Cli::try_parse_from(["x", "--slow-commit", "1.5"]).is_err());
        assert!(Cli::try_parse_from(["x", "--rps", "0"]).is_err());
    }
}
