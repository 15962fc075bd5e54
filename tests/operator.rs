//! The operator's workflow: retry, report, runs, and cron safety (issue #4).

use std::time::Duration;

use payimport::sandbox::{Fault, SandboxConfig};

use crate::util::{Env, Limits, summary_count, valid_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_posts_a_row_once_its_missing_loan_exists() {
    let config = SandboxConfig {
        loans: 10,
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n5,10.00,2026-11-20,a\n12,20.00,2026-11-20,b\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("failed"), "{}", r.stdout);

    // The operator creates loan 12 in LoanPro, then retries.
    env.sandbox.set_loans(20);
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("payimport retry: run 2, 1 row(s) sent again"),
        "{}",
        r.stdout
    );
    assert_eq!(summary_count(&r.stdout, "posted"), Some(1), "{}", r.stdout);
    assert_eq!(
        env.sandbox.stats().puts,
        3,
        "the posted row is never touched"
    );
    assert_eq!(env.sandbox.payments().len(), 2);

    // Nothing left to retry: a second retry sends nothing.
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().puts, 3);

    let runs = env.run(&["runs"]).await;
    assert_eq!(runs.code, 0);
    let lines: Vec<&str> = runs.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", runs.stdout);
    assert!(
        lines[1].starts_with("1\timport\t") && lines[1].contains("bank.csv"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("posted=2"), "{}", lines[1]);
    assert!(
        lines[2].starts_with("2\tretry\t") && lines[2].contains("posted=1"),
        "{}",
        lines[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_takes_one_run_or_named_keys_and_explains_what_it_cannot_retry() {
    let config = SandboxConfig {
        loans: 10,
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    let one = env.write(
        "one.csv",
        "loan,amount,date,reference\n11,1.00,2026-11-20,a\nx,2.00,2026-11-20,b\n",
    );
    let two = env.write(
        "two.csv",
        "loan,amount,date,reference\n12,3.00,2026-11-20,c\n",
    );
    assert_eq!(env.run(&["import", one.to_str().unwrap()]).await.code, 1);
    assert_eq!(env.run(&["import", two.to_str().unwrap()]).await.code, 1);
    env.sandbox.set_loans(20);

    let r = env.run(&["retry", "--run", "2"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let posted: Vec<u64> = env.sandbox.payments().iter().map(|p| p.loan_id).collect();
    assert_eq!(posted, vec![12], "only run 2's row");

    let report = env.report(&["--run", "1"]).await;
    let key = |loan: &str| {
        report
            .iter()
            .find(|r| r.get("loan") == loan)
            .unwrap()
            .get("key")
            .to_string()
    };
    let (failed, rejected) = (key("11"), key("x"));
    let r = env
        .run(&["retry", &rejected, &failed, "0123456789abcdef"])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{rejected}: rejected rows are not retryable")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("0123456789abcdef: no row with this key"),
        "{}",
        r.stdout
    );
    assert_eq!(
        env.sandbox.payments().len(),
        2,
        "the failed key was retried"
    );

    let r = env.run(&["retry", "not-a-key"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("16 hex digits"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_reads_unknown_rows_back_before_sending_them() {
    let limits = Limits {
        max_attempts: 2,
        ..Limits::default()
    };
    let env = Env::with(SandboxConfig::default(), limits).await;
    env.sandbox.push_faults([
        Fault::ErrorAfterCommit,
        Fault::GetFailure,
        Fault::GetFailure,
    ]);
    let file = env.write("bank.csv", &valid_csv(3));
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 1);
    assert_eq!(
        env.sandbox.payments().len(),
        3,
        "the 500 came after the commit"
    );

    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 found there"), "{}", r.stdout);
    assert_eq!(
        env.sandbox.payments().len(),
        3,
        "found by its key, not sent twice"
    );
    assert_eq!(env.sandbox.stats().puts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_unsent_by_a_refused_token_post_on_retry() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(20));
    assert_eq!(
        env.run_with_token("bad", &["import", file.to_str().unwrap()])
            .await
            .code,
        2
    );
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_has_the_spec_columns_and_neutralises_formulas() {
    let env = Env::new().await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n3,10.00,2026-11-20,=HYPERLINK(\"http://x\")\n@SUM,1.00,2026-11-20,r\n",
    );
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 1);
    let out = env.path("out/report.csv");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let r = env
        .run(&["report", "--output", out.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "run_id,file,line,key,status,loan,loan_id,amount,date,reference,payment_method_id,payment_type_id,extra,attempts,http_status,message,updated_at,kind,original_key,return_code"
    );
    assert!(text.contains(",\"'=HYPERLINK("), "{text}");
    assert!(text.contains(",'@SUM,"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the report holds borrowers' payments");
        let mode = std::fs::metadata(env.ledger())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "so does the ledger");
    }
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 1);

    let json = env.run(&["report", "--format", "json", "--run", "1"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["summary"][0]["totals"]["posted"]["amount"], "10.00");
    assert_eq!(
        v["summary"][0]["files"][0]["totals"]["rejected"]["count"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_a_ledger_in_use_exits_2_at_once_naming_the_first() {
    let config = SandboxConfig::default();
    let limits = Limits {
        requests_per_second: 20.0,
        concurrency: 2,
        ..Limits::default()
    };
    let env = Env::with(config, limits).await;
    let file = env.write("bank.csv", &valid_csv(200));
    let mut first = env.spawn(&["import", file.to_str().unwrap()]);
    // Wait until the first run holds the ledger (its lock file names it).
    let lock = env.path("ledger.sqlite.lock");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("run 1")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first run never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(second.code, 2, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second
            .stderr
            .contains("is in use by another payimport run (run 1, pid "),
        "{}",
        second.stderr
    );
    let retry = env.run(&["retry"]).await;
    assert_eq!(retry.code, 2, "{}", retry.stderr);
    // Reading is fine while a run is going on.
    assert_eq!(env.run(&["runs"]).await.code, 0);
    first.start_kill().unwrap();
    first.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_no_progress_bar_without_a_terminal() {
    let env = Env::new().await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date\n1,1.00,2026-11-20\nx,1.00,2026-11-20\n",
    );
    let r = env
        .run(&[
            "--log-format",
            "json",
            "-v",
            "import",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 1);
    assert!(!r.stderr.is_empty());
    for line in r.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
    assert!(
        !r.stderr.contains('\r') && !r.stdout.contains('\r'),
        "no progress bar on a pipe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_statuses_follow_the_spec() {
    let env = Env::new().await;
    let good = env.write("good.csv", &valid_csv(2));
    let bad_row = env.write("bad_row.csv", "loan,amount,date\n1,abc,2026-11-20\n");
    assert_eq!(env.run(&["import", good.to_str().unwrap()]).await.code, 0);
    assert_eq!(
        env.run(&["import", bad_row.to_str().unwrap()]).await.code,
        1
    );
    assert_eq!(env.run(&["import"]).await.code, 2, "no file: bad arguments");
    assert_eq!(
        env.run(&["import", "--no-such-flag", good.to_str().unwrap()])
            .await
            .code,
        2
    );
    let missing = env.run(&["import", "missing.csv"]).await;
    assert_eq!(missing.code, 2, "an unreadable file is refused");
    assert!(
        missing.stdout.contains("missing.csv: cannot open"),
        "{}",
        missing.stdout
    );
    let nowhere = env
        .run(&["--ledger", "/nonexistent/dir/l.sqlite", "report"])
        .await;
    assert_eq!(nowhere.code, 2);
    assert!(
        nowhere.stderr.contains("does not exist"),
        "{}",
        nowhere.stderr
    );
}
