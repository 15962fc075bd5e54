//! `payimport check` against the sandbox: every check passing, and each failure mode, one
//! line each, exit 2, and never a payment logged.

use std::collections::BTreeSet;

use payimport::sandbox::{Fault, SandboxConfig};

use crate::util::{Env, Limits, Run};

/// The line of `check`'s output that starts with `mark` and mentions `what`.
fn line<'a>(r: &'a Run, mark: char, what: &str) -> &'a str {
    r.stdout
        .lines()
        .find(|l| l.starts_with(mark) && l.contains(what))
        .unwrap_or_else(|| panic!("no {mark} line about {what:?}:\n{}{}", r.stdout, r.stderr))
}

fn failures(r: &Run) -> usize {
    r.stdout.lines().filter(|l| l.starts_with('✗')).count()
}

async fn env_with_periods_loan() -> Env {
    let config = SandboxConfig {
        periods_loans: BTreeSet::from([7]),
        ..SandboxConfig::default()
    };
    Env::with(config, Limits::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_pass_and_nothing_is_logged() {
    let env = env_with_periods_loan().await;
    let r = env.run(&["check", "--loan", "bank_csv=3"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(failures(&r), 0, "{}", r.stdout);
    line(&r, '✓', "settings:");
    line(&r, '✓', "token: $TEST_LOANPRO_TOKEN is set");
    line(&r, '✓', "answers as LoanPro");
    line(&r, '✓', "credentials");
    line(
        &r,
        '✓',
        "reverse reasons: each of `returns.reverse_reasons`",
    );
    line(
        &r,
        '✓',
        "source bank_csv, loan 3: exists, accrues betweenTransactions",
    );
    line(&r, '✓', "does not exist yet; the first import creates it");
    assert!(!env.ledger().exists(), "check creates no ledger");

    // With a ledger: it opens, is sound, is free, and nothing waits.
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    let puts = env.sandbox.stats().puts;
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    line(&r, '✓', "ledger lock: no run holds");
    line(&r, '✓', "passes SQLite's integrity check");
    line(&r, '✓', "0 row(s) wait in `unknown`");
    line(&r, '✓', "0 row(s) wait in `unsent`");
    line(&r, '✓', "0 row(s) wait in `unmatched`");
    assert_eq!(env.sandbox.stats().puts, puts, "check logs nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_token_and_base_url_failures() {
    let env = Env::new().await;
    // A wrong token.
    let r = env.run_with_token("not-the-token", &["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "credentials");
    assert!(l.contains("refused") && l.contains("tenant_id"), "{l}");

    // The token variable not set at all.
    let out = env
        .command(&["check"])
        .env_remove("TEST_LOANPRO_TOKEN")
        .output()
        .await
        .unwrap();
    let r = Run::from(out);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "token:");
    assert!(l.contains("TEST_LOANPRO_TOKEN"), "{l}");
    line(&r, '✗', "LoanPro not checked");

    // A base URL that redirects: named as such, the token not sent on.
    env.sandbox.push_faults([Fault::GetRedirect]);
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "LoanPro API");
    assert!(
        l.contains("HTTP 301") && l.contains("loanpro.base_url"),
        "{l}"
    );
    line(&r, '✗', "credentials not checked");

    // Another tenant.
    let settings = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(
        &env.settings,
        settings.replace("tenant_id = \"5200243\"", "tenant_id = \"999\""),
    )
    .unwrap();
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "credentials");
    assert!(l.contains("tenant 999"), "{l}");
    assert_eq!(env.sandbox.stats().puts, 0, "check logs nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_loan_and_an_extra_that_does_not_suit_it() {
    let env = env_with_periods_loan().await;
    let r = env
        .run(&["check", "--loan", "bank_csv=5000", "--loan", "7"])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "loan 5000");
    assert!(l.contains("Loan 5000 not found"), "{l}");
    let l = line(&r, '✗', "loan 7");
    assert!(
        l.contains("betweenPeriods") && l.contains("sources.bank_csv.extra"),
        "{l}"
    );
    // The source sends a periods extra: loan 7 suits it.
    env.add_settings("extra = \"payment.extra.periods.next\"\n");
    let r = env.run(&["check", "--loan", "7"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    line(&r, '✓', "loan 7: exists, accrues betweenPeriods");
    // A source name that is not in the settings is a usage error.
    let r = env.run(&["check", "--loan", "nosuch=7"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no source \"nosuch\""), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_damaged_and_waiting_ledgers() {
    let env = Env::new().await;
    // Rows left `unsent` by a run the credentials stopped.
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    let r = env
        .run_with_token("wrong", &["import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    // Rows waiting need a person but do not stop tonight's run: a warning, exit 0.
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(failures(&r), 0, "{}", r.stdout);
    let l = line(&r, '!', "1 row(s) wait in `unsent`");
    assert!(l.contains("payimport retry"), "{l}");

    // A run holds the lock (this test, as another process would).
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(env.path("ledger.sqlite.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "ledger lock");
    assert!(l.contains("wait for that run to end"), "{l}");
    lock.unlock().unwrap();
    drop(lock);

    // A damaged ledger.
    std::fs::write(env.ledger(), b"this is not a database, it was overwritten").unwrap();
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "ledger:");
    assert!(l.contains("restore it from a backup"), "{l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_settings_error_at_once_then_nothing_else() {
    let env = Env::new().await;
    let settings = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(
        &env.settings,
        settings
            .replace("concurrency = 8", "concurency = 8")
            .replace("timeout_secs = 5", "timeout_secs = 0")
            .replace("loan = \"id\"", "loan = \"id\"\ndelimiter = \";;\""),
    )
    .unwrap();
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    line(&r, '✗', "concurency");
    line(&r, '✗', "loanpro.timeout_secs");
    line(&r, '✗', "sources.bank_csv.delimiter");
    line(&r, '✗', "the other checks need valid settings");
    assert_eq!(failures(&r), 4, "{}", r.stdout);
    assert_eq!(env.sandbox.stats().gets, 0, "nothing asked of LoanPro");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverse_reason_the_tenant_does_not_have_is_named() {
    // A tenant whose payment.reverse collection lacks "checkBounce", which the settings (the
    // default reasons of docs/returns.md) may send.
    let config = SandboxConfig {
        reverse_reasons: BTreeSet::from([
            "payment.reverse.nsf".to_string(),
            "payment.reverse.nacha".to_string(),
            "payment.reverse.other".to_string(),
        ]),
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let l = line(&r, '✗', "reverse reasons:");
    assert!(l.contains("payment.reverse.checkBounce"), "{l}");
    assert!(!l.contains("payment.reverse.nsf not"), "{l}");
    assert_eq!(failures(&r), 1, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_return_warns_and_check_passes() {
    let env = Env::new().await;
    env.add_settings(
        "\n[sources.returns_csv]\nformat = \"csv\"\nkind = \"returns\"\nloan = \"id\"\n",
    );
    // A return of a payment never logged: nothing to reverse, so it waits for a person.
    let returns = env.write(
        "returns.csv",
        "loan,amount,date,return_code\n1,10.00,2026-11-21,R01\n",
    );
    let r = env
        .run(&[
            "import",
            "--source",
            "returns_csv",
            returns.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // It needs a person, but tonight's run goes ahead: `!`, exit 0 (issue 20 item 8).
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(failures(&r), 0, "{}", r.stdout);
    let l = line(&r, '!', "1 row(s) wait in `unmatched`");
    assert!(l.contains("payimport retry"), "{l}");
}
