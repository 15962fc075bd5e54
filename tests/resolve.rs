//! Resolving rows inside payimport (SPEC §13, issue 22): dismiss, amend, the audit trail, the
//! corrections file and the archive folders, end to end against the sandbox, counting what
//! LoanPro holds.

use crate::returns::RETURN_SOURCES;
use crate::util::{Env, Record};

async fn env() -> Env {
    let env = Env::new().await;
    env.add_settings(RETURN_SOURCES);
    env
}

fn by_key<'a>(report: &'a [Record], key: &str) -> &'a Record {
    report
        .iter()
        .find(|r| r.get("key") == key)
        .unwrap_or_else(|| panic!("no row {key} in {report:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_once_the_only_problem_is_dismissed() {
    let env = env().await;
    // A return of a payment never logged here: reversed by hand in LoanPro.
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
    assert_eq!(env.run(&["check"]).await.code, 2);
    let report = env.report(&[]).await;
    let key = report[0].get("key").to_string();
    assert_eq!(report[0].get("status"), "unmatched");

    // A note is required; a key that names nothing changes nothing.
    let r = env.run(&["dismiss", &key]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = env
        .run(&["dismiss", &key, "0123456789abcdef", "--note", "x"])
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("0123456789abcdef: no row"),
        "{}",
        r.stderr
    );
    assert_eq!(env.report(&[]).await[0].get("status"), "unmatched");

    let r = env
        .run(&[
            "dismiss",
            &key,
            "--note",
            "reversed by hand, ticket 81",
            "--by",
            "alice",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("unmatched -> dismissed"), "{}", r.stdout);
    let report = env.report(&[]).await;
    assert_eq!(report[0].get("status"), "dismissed");
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Dismissed once: a second dismiss is refused, as for anything settled.
    let r = env.run(&["dismiss", &key, "--note", "again"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is `dismissed`"), "{}", r.stderr);
    assert_eq!(env.sandbox.stats().posts, 0, "nothing is sent");
    // `runs` shows the dismiss run.
    let runs = env.run(&["runs"]).await;
    assert!(
        runs.stdout
            .lines()
            .any(|l| l.split('\t').nth(1) == Some("dismiss")),
        "{}",
        runs.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_row_cannot_be_dismissed() {
    let env = env().await;
    let file = env.write(
        "p.csv",
        "loan,amount,date,reference\n3,25.00,2026-11-20,A1\n",
    );
    let r = env
        .run(&["import", "--source", "bank_csv", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let key = env.report(&[]).await[0].get("key").to_string();
    let r = env.run(&["dismiss", &key, "--note", "oops"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("never dismissed"), "{}", r.stderr);
    assert_eq!(by_key(&env.report(&[]).await, &key).get("status"), "posted");
}
