//! Shared test fixtures: a sandbox, a settings file pointing at it, and a way to run the binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;

use payimport::sandbox::{Sandbox, SandboxConfig};

/// The date every test runs on (`PAYIMPORT_TODAY`): the fixtures are dated November 2026, and
/// a test must not start failing when they grow older than a source's `max_age_days`.
pub const TODAY: &str = "2026-12-01";

/// [`TODAY`] as a date.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap()
}

/// One test's world: its own folder, sandbox, settings file and ledger.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub settings: PathBuf,
    pub token: String,
}

/// Limits for a test: fast, and no rate limit worth mentioning unless a test asks for one.
pub struct Limits {
    pub requests_per_second: f64,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub timeout_secs: f64,
    pub settle_secs: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            requests_per_second: 100_000.0,
            concurrency: 8,
            max_attempts: 5,
            timeout_secs: 5.0,
            settle_secs: 0.0,
        }
    }
}

impl Env {
    pub async fn new() -> Env {
        Env::with(SandboxConfig::default(), Limits::default()).await
    }

    pub async fn with(config: SandboxConfig, limits: Limits) -> Env {
        let token = config.token.clone();
        let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("payimport.toml");
        std::fs::write(
            &settings,
            format!(
                r#"
[loanpro]
base_url = "{base}"
tenant_id = "5200243"
token_env = "TEST_LOANPRO_TOKEN"
timeout_secs = {timeout}

[ledger]
path = "ledger.sqlite"
# Every fixture is dated before TODAY on a new ledger: `auto` would read each loan from LoanPro
# first, in every test. That read is tested on its own (tests/nevertwice.rs), with `auto`.
verify = "never"

[limits]
requests_per_second = {rps}
concurrency = {concurrency}
max_attempts = {attempts}
settle_secs = {settle}
# Tests write a file and import it at once: the age guard (docs/states.md) is tested on its own
# (tests/nevertwice.rs), with its default.
min_file_age_secs = 0

[payments]
payment_methods = {{ 3 = "Credit/Debit Card", 4 = "Check", 5 = "ACH" }}
payment_types = {{ 1 = "Regular", 2 = "Payoff" }}
extra = ["payment.extra.tx.principal", "payment.extra.tx.principalonly", "payment.extra.tx.classic",
         "payment.extra.periods.next", "payment.extra.periods.principalonly"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
info = "{{date}} {{source}} {{reference}}"

[sources.bank_csv]
format = "csv"
loan = "id"
"#,
                base = sandbox.base_url(),
                timeout = limits.timeout_secs,
                rps = limits.requests_per_second,
                concurrency = limits.concurrency,
                attempts = limits.max_attempts,
                settle = limits.settle_secs,
            ),
        )
        .unwrap();
        Env {
            dir,
            sandbox,
            settings,
            token,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn ledger(&self) -> PathBuf {
        self.path("ledger.sqlite")
    }

    /// Writes a file into the test folder and returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Runs `payimport --settings ... ARGS` with the right token.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_token(&self.token, args).await
    }

    pub async fn run_with_token(&self, token: &str, args: &[&str]) -> Run {
        let out = self
            .command(args)
            .env("TEST_LOANPRO_TOKEN", token)
            .output()
            .await
            .expect("payimport runs");
        Run::from(out)
    }

    /// The reconciliation report as parsed CSV records (header excluded).
    pub async fn report(&self, extra: &[&str]) -> Vec<Record> {
        let mut args = vec!["report"];
        args.extend_from_slice(extra);
        let r = self.run(&args).await;
        assert_eq!(r.code, 0, "report failed: {}", r.stderr);
        parse_report(&r.stdout)
    }
}

/// What a run of the binary printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A report row by column name.
#[derive(Debug, Clone)]
pub struct Record(pub std::collections::HashMap<String, String>);

impl Record {
    pub fn get(&self, column: &str) -> &str {
        self.0
            .get(column)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
}

pub fn parse_report(text: &str) -> Vec<Record> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Record(
                headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// The key in a payment's info: the text between `[k:` and `]`.
pub fn key_of(info: &str) -> &str {
    let start = info.rfind("[k:").expect("info carries a key") + 3;
    &info[start..start + 16]
}

/// The row count the summary gives for a status.
pub fn summary_count(stdout: &str, status: &str) -> Option<u64> {
    stdout.lines().find_map(|l| {
        let mut cells = l.split_whitespace();
        (cells.next() == Some(status)).then(|| cells.next()?.parse().ok())?
    })
}

impl Env {
    /// `payimport --settings ... ARGS` with the right token, not started yet: for tests that set
    /// more environment (`PAYIMPORT_CRASH_AT`), redirect output, or kill the process. The child
    /// is killed if its handle is dropped.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_with_settings(&self.settings, args)
    }

    /// [`Env::command`] with another settings file (a second tenant on the same ledger, say).
    pub fn command_with_settings(
        &self,
        settings: &std::path::Path,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_payimport"));
        c.arg("--settings")
            .arg(settings)
            .args(args)
            .current_dir(self.dir.path())
            .env("TEST_LOANPRO_TOKEN", &self.token)
            .env_remove("PAYIMPORT_SETTINGS")
            .env_remove("RUST_LOG")
            .env_remove("PAYIMPORT_CRASH_AT")
            .env("PAYIMPORT_TODAY", TODAY)
            .kill_on_drop(true);
        c
    }

    /// Runs `payimport --settings ... ARGS` with extra environment variables; also returns the
    /// raw exit status, which tells a signal (`ExitStatusExt::signal`) from an exit code.
    pub async fn run_with_env(
        &self,
        vars: &[(&str, &str)],
        args: &[&str],
    ) -> (Run, std::process::ExitStatus) {
        let mut c = self.command(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().await.expect("payimport runs");
        let status = out.status;
        (Run::from(out), status)
    }
}

impl Env {
    /// Appends settings (e.g. more `[sources.NAME]`) to the settings file.
    pub fn add_settings(&self, text: &str) {
        let mut s = std::fs::read_to_string(&self.settings).unwrap();
        s.push_str(text);
        std::fs::write(&self.settings, s).unwrap();
    }

    /// Copies a fixture from `tests/data/` into the test folder.
    pub fn fixture(&self, rel: &str) -> PathBuf {
        let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(rel);
        let to = self.path(from.file_name().unwrap().to_str().unwrap());
        std::fs::copy(&from, &to).unwrap();
        to
    }
}

impl Env {
    /// Starts `payimport --settings ... ARGS` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("payimport starts")
    }
}

/// A CSV of `n` valid rows with default headers: loan `1 + i % 1000`, varied amounts and dates.
pub use payimport::testkit::valid_csv;

/// Every payment in the sandbox once, and `rows` of them.
pub fn assert_each_once(env: &Env, rows: usize) {
    let payments = env.sandbox.payments();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for p in &payments {
        *seen.entry(key_of(&p.info)).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    assert_eq!(payments.len(), rows, "every row posted once: {payments:?}");
}
