//! `payimport check`: before the first night, and from cron as a canary, everything a run
//! needs, verified without logging anything in LoanPro and without writing to the ledger.
//!
//! One line per check, `✓`, `!` or `✗` with what to do; exit 0 when none fails, 2 otherwise. A
//! `!` warns of rows that need a person but would not stop tonight's run (a cron canary that
//! fails every night for a return a person reversed by hand is soon ignored); `✗` is only for
//! what would. A check that depends on one that failed says it was not made, rather than
//! failing for the same cause.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::cli::Cli;
use crate::exit::Exit;
use crate::ledger::{Ledger, Status};
use crate::loanpro::{Client, ClientConfig, ReadError};
use crate::settings::{Settings, SettingsError};

/// `payimport check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// A loan to check a source against, as SOURCE=ID (or ID for every source): the loan must
    /// exist and each `extra` the source sends must suit its interest application. Repeatable.
    #[arg(long = "loan", value_name = "[SOURCE=]ID")]
    pub loans: Vec<String>,
}

/// How many times a check's GET is tried: enough to ride out a blip, few enough for cron.
const ATTEMPTS: u32 = 3;

/// The lines printed so far and whether any failed.
struct Report<W: Write> {
    out: W,
    failed: bool,
    /// The reader went away (`check | head -2`): not an error, the checks go on unprinted
    /// and the exit status still tells.
    closed: bool,
}

impl<W: Write> Report<W> {
    fn pass(&mut self, what: &str) -> std::io::Result<()> {
        self.write(format_args!("✓ {what}\n"))
    }
    fn fail(&mut self, what: &str) -> std::io::Result<()> {
        self.failed = true;
        self.write(format_args!("✗ {what}\n"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.out.flush();
        self.unless_closed(result)
    }
    fn write(&mut self, line: std::fmt::Arguments) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.out.write_fmt(line);
        self.unless_closed(result)
    }
    fn unless_closed(&mut self, result: std::io::Result<()>) -> std::io::Result<()> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
    /// Rows that need a person but do not stop a run: said, without failing the check.
    fn warn(&mut self, what: &str) -> std::io::Result<()> {
        writeln!(self.out, "! {what}")
    }
}

/// `payimport check`.
pub async fn run(cli: &Cli, args: &CheckArgs) -> anyhow::Result<Exit> {
    let stdout = std::io::stdout();
    let mut r = Report {
        out: stdout.lock(),
        failed: false,
        closed: false,
    };
    let path = cli.settings_path();
    let settings = match settings_errors(&path) {
        Ok(s) => {
            r.pass(&format!("settings: {} is valid", path.display()))?;
            s
        }
        Err(errors) => {
            for e in errors {
                r.fail(&format!("settings: {}", one_line(&e)))?;
            }
            r.fail("the other checks need valid settings: correct the settings file, then run `payimport check` again")?;
            r.flush()?;
            return Ok(Exit::Fatal);
        }
    };
    let loans = match parse_loans(&args.loans, &settings) {
        Ok(l) => l,
        Err(m) => anyhow::bail!(m),
    };

    check_loanpro(&mut r, &settings, &loans).await?;
    check_ledger(&mut r, &cli.ledger_path(&settings))?;
    r.flush()?;
    Ok(if r.failed { Exit::Fatal } else { Exit::Done })
}

/// `--loan` values as (source, loan id) pairs; a bare id is for every source.
fn parse_loans(values: &[String], settings: &Settings) -> Result<Vec<(String, i64)>, String> {
    let mut loans = Vec::new();
    for v in values {
        let (source, id) = match v.split_once('=') {
            Some((s, id)) => (Some(s.trim()), id),
            None => (None, v.as_str()),
        };
        let id: i64 =
            id.trim().parse().ok().filter(|id| *id > 0).ok_or_else(|| {
                format!("--loan {v:?}: give a LoanPro loan id, as SOURCE=ID or ID")
            })?;
        match source {
            Some(s) => {
                let source = settings.source(Some(s))?;
                loans.push((source.name.clone(), id));
            }
            None => loans.extend(settings.sources.keys().map(|s| (s.clone(), id))),
        }
    }
    Ok(loans)
}

/// The token, then one GET that proves the base URL, the credentials and the tenant, then the
/// loans asked for.
async fn check_loanpro<W: Write>(
    r: &mut Report<W>,
    settings: &Settings,
    loans: &[(String, i64)],
) -> anyhow::Result<()> {
    let lp = &settings.loanpro;
    let token = match lp.token() {
        Ok(t) => {
            r.pass(&format!("token: ${} is set", lp.token_env))?;
            t
        }
        Err(m) => {
            r.fail(&format!("token: {m}; set it in the job's environment"))?;
            r.fail("LoanPro not checked: it needs the token")?;
            return Ok(());
        }
    };
    let client = Client::new(ClientConfig {
        base_url: lp.base_url.clone(),
        tenant_id: lp.tenant_id.clone(),
        token,
        timeout: Duration::from_secs_f64(lp.timeout_secs),
        requests_per_second: settings.limits.requests_per_second,
    })
    .map_err(anyhow::Error::msg)?;
    let credentials = format!(
        "credentials: the token in ${} for tenant {}",
        lp.token_env, lp.tenant_id
    );
    match client.probe(ATTEMPTS).await {
        Ok(_) => {
            r.pass(&format!(
                "LoanPro API: {} answers as LoanPro (a `d` answer, no redirect)",
                lp.base_url
            ))?;
            r.pass(&format!("{credentials} are accepted"))?;
        }
        Err(ReadError::AuthRefused(m)) => {
            r.pass(&format!("LoanPro API: {} answers", lp.base_url))?;
            r.fail(&format!(
                "{credentials} are refused ({m}): {}",
                crate::loanpro::CREDENTIALS_ADVICE
            ))?;
            return Ok(());
        }
        Err(ReadError::Redirected(m)) => {
            r.fail(&format!("LoanPro API: {m}"))?;
            r.fail("credentials not checked: the token is never sent on to a redirect")?;
            return Ok(());
        }
        Err(ReadError::Failed(m)) => {
            r.fail(&format!(
                "LoanPro API: {} did not answer as LoanPro's API ({m}): check `loanpro.base_url` (it ends in /api/public/api/1) and the network",
                lp.base_url
            ))?;
            r.fail("credentials not checked: LoanPro did not answer")?;
            return Ok(());
        }
    }
    match client.reverse_reasons(ATTEMPTS).await {
        Ok(known) => {
            let missing: Vec<&str> = settings
                .returns
                .reverse_reasons
                .iter()
                .map(String::as_str)
                .filter(|reason| !known.iter().any(|k| k == reason))
                .collect();
            if missing.is_empty() {
                r.pass(&format!(
                    "reverse reasons: each of `returns.reverse_reasons` is in the tenant's payment.reverse collection ({})",
                    known.join(", ")
                ))?;
            } else {
                r.fail(&format!(
                    "reverse reasons: {} not in the tenant's payment.reverse collection ({}): a reversal with it would be refused; fix `returns.reverse_reasons` and the keys that use it",
                    missing.join(", "),
                    known.join(", ")
                ))?;
            }
        }
        Err(ReadError::Failed(m))
        | Err(ReadError::AuthRefused(m))
        | Err(ReadError::Redirected(m)) => {
            r.fail(&format!(
                "reverse reasons: could not read the tenant's payment.reverse collection ({m})"
            ))?;
        }
    }
    for (source, loan) in loans {
        check_loan(r, &client, settings, source, *loan).await?;
    }
    Ok(())
}

/// A loan exists and each `extra` the source sends suits its interest application.
async fn check_loan<W: Write>(
    r: &mut Report<W>,
    client: &Client,
    settings: &Settings,
    source_name: &str,
    loan: i64,
) -> anyhow::Result<()> {
    let source = &settings.sources[source_name];
    let what = format!("source {source_name}, loan {loan}");
    let setup = match client.loan_setup(loan, ATTEMPTS).await {
        Ok(d) => d,
        Err(ReadError::Failed(m))
        | Err(ReadError::AuthRefused(m))
        | Err(ReadError::Redirected(m)) => {
            return r.fail(&format!(
                "{what}: LoanPro has no such loan, or did not say ({m}); give the id of a loan this source pays (`id` in LoanPro, not the display id)"
            )).map_err(Into::into);
        }
    };
    let application = setup
        .get("interestApplication")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let family = match application {
        "loan.interestApplication.betweenTransactions" => "payment.extra.tx.",
        "loan.interestApplication.betweenPeriods" => "payment.extra.periods.",
        other => {
            return r
                .fail(&format!(
                    "{what}: LoanPro gave no interest application this check knows ({other:?}); compare `extra` with the loan's setup by hand"
                ))
                .map_err(Into::into);
        }
    };
    let short = application.trim_start_matches("loan.interestApplication.");
    if !source.extra.starts_with(family) {
        return r
            .fail(&format!(
                "{what}: the source sends extra {:?}, but the loan accrues {short}: LoanPro refuses it; set `sources.{source_name}.extra` (or `payments.default_extra`) to a {family}* value, or give a loan of the other kind",
                source.extra
            ))
            .map_err(Into::into);
    }
    // A CSV row may name its own `extra`: those that cannot suit this loan are said, not failed,
    // as the bank file chooses them per loan.
    let per_row: Vec<&str> = if source.format.rows_name_their_extra() {
        settings
            .payments
            .extra
            .iter()
            .map(String::as_str)
            .filter(|e| !e.starts_with(family))
            .collect()
    } else {
        Vec::new()
    };
    let note = if per_row.is_empty() {
        String::new()
    } else {
        format!(
            " (a row's `extra` column naming {} would be refused for it)",
            per_row.join(" or ")
        )
    };
    r.pass(&format!(
        "{what}: exists, accrues {short}; extra {:?} suits it{note}",
        source.extra
    ))
    .map_err(Into::into)
}

/// The ledger: opens, passes SQLite's integrity check, is not held by a run; what waits in it.
fn check_ledger<W: Write>(r: &mut Report<W>, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    if !path.exists() {
        r.pass(&format!(
            "ledger: {shown} does not exist yet; the first import creates it (its folder must be writable)"
        ))?;
        return Ok(());
    }
    match Ledger::lock_holder(path) {
        Ok(None) => r.pass(&format!("ledger lock: no run holds {shown}"))?,
        Ok(Some(holder)) => r.fail(&format!(
            "ledger lock: {shown} is held by {holder}; an import now would exit 2: wait for that run to end (a stuck one: end that process)"
        ))?,
        Err(e) => r.fail(&format!("ledger lock: {e}"))?,
    }
    let ledger = match Ledger::open_read_only(path).and_then(|l| l.integrity_check().map(|_| l)) {
        Ok(l) => {
            r.pass(&format!(
                "ledger: {shown} opens and passes SQLite's integrity check"
            ))?;
            l
        }
        Err(e) => {
            r.fail(&format!("ledger: {e}"))?;
            return Ok(());
        }
    };
    for (status, what) in [
        (
            Status::Unknown,
            "the next import or retry reads them back from LoanPro first; `payimport report` lists them",
        ),
        (
            Status::Unsent,
            "send them with `payimport retry` once LoanPro is reachable",
        ),
        (
            Status::Unmatched,
            "returns whose payment was not found alone: see their messages in `payimport report`; `payimport retry` matches them again",
        ),
    ] {
        // None of these stops tonight's run: the import reads `unknown` rows back first,
        // `unsent` ones wait for `retry`, and an `unmatched` return waits for a person.
        let n = ledger.live_count(status)?;
        if n == 0 {
            r.pass(&format!("{n} row(s) wait in `{status}`"))?;
        } else {
            r.warn(&format!("{n} row(s) wait in `{status}`: {what}"))?;
        }
    }
    Ok(())
}

/// A message on one line: a TOML parse error's picture of the line (`13 | key = ..`, `^^^`)
/// is left out, as its text names the line and column.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim_start()
                    .starts_with('|')
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// Loads the settings; when they are refused, collects every error it can find, not only the
/// first: each key found wrong is blanked out and the file read again, as long as what comes
/// next is another key's error. A wrong key that is required ends the search (without it the
/// file cannot be read on), and so do sources when `[payments]` is wrong (they are checked
/// against it): what is found after those is found on the next check.
pub fn settings_errors(path: &Path) -> Result<Settings, Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Err(vec![
                SettingsError::Read {
                    path: path.to_path_buf(),
                    source: e,
                }
                .to_string(),
            ]);
        }
    };
    let first = match Settings::from_toml(&text, path) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let mut errors = vec![first.to_string()];
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut last = first;
    for _ in 0..50 {
        let Some(at) = offending_line(&last, &lines) else {
            break;
        };
        // Blanked, not removed, so later errors keep the file's line numbers.
        lines[at] = String::new();
        let next = match Settings::from_toml(&lines.join("\n"), path) {
            Ok(_) => break,
            Err(e) => e,
        };
        let message = next.to_string();
        let another_key = match &next {
            SettingsError::Invalid { .. } => true,
            SettingsError::Parse { message, .. } => {
                message.contains("unknown field") || message.contains("unknown variant")
            }
            SettingsError::Read { .. } => false,
        };
        if !another_key || errors.contains(&message) {
            break;
        }
        errors.push(message);
        last = next;
    }
    Err(errors)
}

/// The index of the line an error is about: the line a parse error names, or the line that
/// sets an invalid key (`a.b.c`: `c = ...` under `[a.b]`, or `b.c = ...` under `[a]`, ...).
fn offending_line(e: &SettingsError, lines: &[String]) -> Option<usize> {
    match e {
        SettingsError::Parse { message, .. } => {
            let n: usize = message
                .split("line ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            // Only a one-line `key = value`: blanking part of a multi-line value breaks the file.
            let line = lines.get(n.checked_sub(1)?)?;
            let complete = line.contains('=')
                && line.matches('[').count() == line.matches(']').count()
                && line.matches('{').count() == line.matches('}').count();
            complete.then(|| n - 1)
        }
        SettingsError::Invalid { key, .. } => {
            let mut table = String::new();
            lines.iter().position(|line| {
                let t = line.trim();
                if let Some(h) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
                    table = h.trim().trim_matches('[').to_string();
                    return false;
                }
                let Some((k, value)) = t.split_once('=') else {
                    return false;
                };
                let full = if table.is_empty() {
                    k.trim().to_string()
                } else {
                    format!("{table}.{}", k.trim())
                };
                let value = value.trim();
                full == *key
                    && value.matches('[').count() == value.matches(']').count()
                    && value.matches('{').count() == value.matches('}').count()
            })
        }
        SettingsError::Read { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settings file with three mistakes, each in another place.
    const THREE_WRONG: &str = r#"
[loanpro]
base_url = "https://loanpro.simnang.com/api/public/api/1"
tenant_id = "5200243"
timeout_secs = -1

[limits]
concurency = 4

[payments]
payment_methods = { 3 = "Card", 4 = "Check" }
payment_types = { 1 = "Regular" }
extra = ["payment.extra.tx.principal"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"

[sources.bank_csv]
format = "csv"
payment_method_id = 9
"#;

    #[test]
    fn every_settings_error_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payimport.toml");
        std::fs::write(&path, THREE_WRONG).unwrap();
        let errors = settings_errors(&path).unwrap_err();
        let all = errors.join("\n");
        assert_eq!(errors.len(), 3, "{all}");
        assert!(all.contains("concurency"), "{all}");
        assert!(all.contains("loanpro.timeout_secs"), "{all}");
        assert!(all.contains("sources.bank_csv.payment_method_id"), "{all}");
        // The file's own line numbers, not those of an edited copy.
        assert!(all.contains("line 8"), "{all}");
    }

    #[test]
    fn a_missing_required_key_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payimport.toml");
        std::fs::write(&path, "[loanpro]\ntenant_id = \"1\"\n").unwrap();
        let errors = settings_errors(&path).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn loans_per_source_or_for_all() {
        let text = format!(
            "{}\n[sources.other]\nformat = \"csv\"\n",
            THREE_WRONG
                .replace("timeout_secs = -1", "")
                .replace("concurency = 4", "")
                .replace("payment_method_id = 9", "")
        );
        let s = Settings::from_toml(&text, Path::new("/x/payimport.toml")).unwrap();
        let l = parse_loans(&["bank_csv=7".into(), "9".into()], &s).unwrap();
        assert_eq!(
            l,
            [
                ("bank_csv".to_string(), 7),
                ("bank_csv".to_string(), 9),
                ("other".to_string(), 9)
            ]
        );
        assert!(parse_loans(&["nosuch=7".into()], &s).is_err());
        assert!(parse_loans(&["bank_csv=LN1".into()], &s).is_err());
    }
}
