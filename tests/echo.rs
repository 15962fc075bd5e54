//! A file brought again whose payments are all posted is recorded as an echo of the earlier
//! file (migration 0002): no request, no copy of its rows, and a report as if staged row by row.

use crate::util::{Env, summary_count, valid_csv};

fn ledger_rows(env: &Env) -> i64 {
    let conn = rusqlite::Connection::open(env.ledger()).unwrap();
    conn.query_row("SELECT COUNT(*) FROM rows", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_file_brought_again_is_an_echo_reported_row_by_row() {
    let env = Env::new().await;
    let content = valid_csv(120);
    let file = env.write("bank.csv", &content);
    let path = file.to_str().unwrap();
    assert_eq!(env.run(&["import", path]).await.code, 0);
    let first = env.report(&["--run", "1"]).await;
    assert_eq!(ledger_rows(&env), 120);

    // Run 2: the same file again, and a new file after it in the same run.
    let other = env.write(
        "other.csv",
        "loan,amount,date,reference\n9,12.34,2026-11-20,X1\n",
    );
    let again = env.run(&["import", path, other.to_str().unwrap()]).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(
        summary_count(&again.stdout, "already_posted"),
        Some(120),
        "{}",
        again.stdout
    );
    assert_eq!(
        summary_count(&again.stdout, "posted"),
        Some(1),
        "{}",
        again.stdout
    );
    let stats = env.sandbox.stats();
    assert_eq!(
        (stats.puts, stats.gets),
        (121, 0),
        "only the new file's payment is sent"
    );
    assert_eq!(ledger_rows(&env), 121, "the echo copies no rows");

    // The report shows the echo's rows in file order, as row-by-row staging would, then the
    // new file's row.
    let second = env.report(&["--run", "2"]).await;
    assert_eq!(second.len(), 121);
    for (echo, original) in second.iter().zip(&first) {
        assert_eq!(echo.get("run_id"), "2");
        assert_eq!(echo.get("file"), path);
        assert_eq!(echo.get("status"), "already_posted");
        for same in [
            "line",
            "key",
            "loan",
            "loan_id",
            "amount",
            "date",
            "reference",
            "extra",
        ] {
            assert_eq!(echo.get(same), original.get(same), "{same}");
        }
        assert_eq!(
            echo.get("message"),
            format!("posted by run 1 ({path}:{})", original.get("line"))
        );
    }
    assert_eq!(second[120].get("file"), other.to_str().unwrap());
    assert_eq!(second[120].get("status"), "posted");
    let all = env.report(&[]).await;
    let runs: Vec<&str> = all.iter().map(|r| r.get("run_id")).collect();
    assert!(runs.is_sorted(), "report rows come run by run");
    assert_eq!(all.len(), 241);

    // JSON totals and `runs` count the echo's rows with their amounts.
    let json = env.run(&["report", "--run", "2", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let cents: i64 = first
        .iter()
        .map(|r| r.get("amount").replace('.', "").parse::<i64>().unwrap())
        .sum();
    let files = &v["summary"][0]["files"];
    assert_eq!(files[0]["totals"]["already_posted"]["count"], 120);
    assert_eq!(
        files[0]["totals"]["already_posted"]["amount"],
        format!("{}.{:02}", cents / 100, cents % 100)
    );
    let runs = env.run(&["runs"]).await;
    assert!(
        runs.stdout.contains("already_posted=120"),
        "{}",
        runs.stdout
    );

    // A third time: an echo again, of the original file.
    let third = env.run(&["import", path]).await;
    assert_eq!(third.code, 0);
    assert_eq!(summary_count(&third.stdout, "already_posted"), Some(120));
    assert_eq!(ledger_rows(&env), 121);
    assert_eq!(env.sandbox.stats().puts, 121);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_or_one_with_a_failed_payment_is_staged_row_by_row() {
    let env = Env::new().await;
    // Loan 999999 does not exist: LoanPro refuses that row, so the file is not all posted.
    let content = format!("{}999999,10.00,2026-11-20,NOLOAN\n", valid_csv(30));
    let file = env.write("bank.csv", &content);
    let path = file.to_str().unwrap();
    assert_eq!(env.run(&["import", path]).await.code, 1);
    assert_eq!(env.sandbox.stats().puts, 31);

    // The same bytes again: the failed row is sent again, the others are already posted.
    let again = env.run(&["import", path]).await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert_eq!(summary_count(&again.stdout, "already_posted"), Some(30));
    assert_eq!(summary_count(&again.stdout, "failed"), Some(1));
    assert_eq!(env.sandbox.stats().puts, 32);
    assert_eq!(ledger_rows(&env), 62, "staged row by row");

    // One more row at the end: a different file, staged row by row.
    let longer = env.write(
        "longer.csv",
        &format!("{}5,1.00,2026-11-20,NEW\n", valid_csv(30)),
    );
    let r = env.run(&["import", longer.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(summary_count(&r.stdout, "already_posted"), Some(30));
    assert_eq!(summary_count(&r.stdout, "posted"), Some(1));
    assert_eq!(ledger_rows(&env), 93);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_staged_before_the_echo_migration_report_and_rerun_as_before() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(20));
    let path = file.to_str().unwrap();
    assert_eq!(env.run(&["import", path]).await.code, 0);
    // What a ledger staged before migration 0002 holds: no file ids, fingerprints or ranges.
    rusqlite::Connection::open(env.ledger())
        .unwrap()
        .execute_batch(
            "UPDATE rows SET file_id = NULL;
             UPDATE files SET fingerprint = NULL, first_row = NULL, last_row = NULL, cents = NULL;",
        )
        .unwrap();

    // No fingerprint to match: staged row by row, every row already posted.
    let again = env.run(&["import", path]).await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(summary_count(&again.stdout, "already_posted"), Some(20));
    assert_eq!(ledger_rows(&env), 40);
    // That run's file has a fingerprint: the next one is its echo.
    let third = env.run(&["import", path]).await;
    assert_eq!(summary_count(&third.stdout, "already_posted"), Some(20));
    assert_eq!(ledger_rows(&env), 40);
    assert_eq!(env.sandbox.stats().puts, 20);

    let all = env.report(&[]).await;
    assert_eq!(all.len(), 60);
    let order: Vec<(u64, u64)> = all
        .iter()
        .map(|r| {
            (
                r.get("run_id").parse().unwrap(),
                r.get("line").parse().unwrap(),
            )
        })
        .collect();
    assert!(order.is_sorted(), "{order:?}");
    assert_eq!(
        all[59].get("message"),
        format!("posted by run 1 ({path}:21)")
    );
}
