//! A ledger belongs to one LoanPro tenant and base URL (docs/states.md): another settings file's tenant
//! or base URL on it exits 2 naming both, before anything is staged or sent, because its keys
//! say which payments *that* tenant holds, not which the other one does.

use payimport::sandbox::{Sandbox, SandboxConfig};

use crate::util::{Env, Run, summary_count, valid_csv};

/// Writes settings that are the test's own with `from` replaced by `to`, beside the first ones
/// (so the relative `[ledger] path` names the same ledger), and returns their path.
fn other_settings(env: &Env, name: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(&env.settings).unwrap();
    assert!(text.contains(from), "{from} not in the settings");
    let path = env.path(name);
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `payimport --settings SETTINGS ARGS`, with the test's token.
async fn run_with(env: &Env, settings: &str, args: &[&str]) -> Run {
    let out = env
        .command_with_settings(std::path::Path::new(settings), args)
        .output()
        .await
        .expect("payimport runs");
    Run::from(out)
}

fn runs_in_ledger(env: &Env) -> i64 {
    let conn = rusqlite::Connection::open(env.ledger()).unwrap();
    conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_on_the_ledger_exits_2_naming_both() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(3));
    let file = file.to_str().unwrap();
    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 3);
    let stats = env.sandbox.stats();

    // Tenant 7777777's payments are not tenant 5200243's: its import is refused, not skipped
    // as `already_posted`, and nothing is staged or sent.
    let other = other_settings(
        &env,
        "other.toml",
        "tenant_id = \"5200243\"",
        "tenant_id = \"7777777\"",
    );
    for args in [&["import", file][..], &["retry"][..]] {
        let r = run_with(&env, &other, args).await;
        assert_eq!(r.code, 2, "{args:?}\n{}\n{}", r.stdout, r.stderr);
        for named in ["5200243", "7777777", &env.sandbox.base_url()] {
            assert!(r.stderr.contains(named), "{named} in: {}", r.stderr);
        }
        assert!(!r.stderr.contains(&env.token), "the token is never shown");
        assert!(!r.stdout.contains("already_posted"), "{}", r.stdout);
    }
    assert_eq!(
        runs_in_ledger(&env),
        1,
        "no run was started for the other tenant"
    );
    assert_eq!(env.sandbox.stats(), stats, "nothing was sent");

    // The ledger's own tenant goes on using it.
    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "already_posted"), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_ledger_pointed_at_another_base_url_exits_2() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    let file = file.to_str().unwrap();
    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // "Production": another LoanPro at another base URL, same tenant id, same ledger.
    let production = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let other = other_settings(
        &env,
        "production.toml",
        &env.sandbox.base_url(),
        &production.base_url(),
    );
    let r = run_with(&env, &other, &["import", file]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&env.sandbox.base_url()) && r.stderr.contains(&production.base_url()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("5200243"), "{}", r.stderr);
    assert!(production.payments().is_empty());
    assert_eq!(production.stats().puts + production.stats().gets, 0);
    assert_eq!(runs_in_ledger(&env), 1);

    // The same base URL written with a trailing `/` (or another case of its scheme and host)
    // is the same LoanPro.
    let base = env.sandbox.base_url();
    let same = base.replacen("http://", "HTTP://", 1) + "/";
    let slash = other_settings(&env, "slash.toml", &base, &same);
    let r = run_with(&env, &slash, &["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "already_posted"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_from_before_the_tenant_was_recorded_adopts_the_next_runs() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    let file = file.to_str().unwrap();
    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // As a ledger of schema 3 was: no tenant recorded (and no run outcomes, migration 0005).
    {
        let conn = rusqlite::Connection::open(env.ledger()).unwrap();
        conn.execute_batch(
            "DROP TABLE ledger_tenant; ALTER TABLE runs DROP COLUMN outcome; PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    // `report` and `runs` only read: they neither need nor record a tenant.
    let r = env.run(&["runs"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "already_posted"), Some(2));
    let other = other_settings(
        &env,
        "other.toml",
        "tenant_id = \"5200243\"",
        "tenant_id = \"42\"",
    );
    let r = run_with(&env, &other, &["import", file]).await;
    assert_eq!(
        r.code, 2,
        "the tenant was adopted: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains("5200243") && r.stderr.contains("\"42\""),
        "{}",
        r.stderr
    );
}
