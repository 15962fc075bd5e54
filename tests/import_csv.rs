//! `payimport import` of CSV files, end to end (issue #2).

use std::collections::{HashMap, HashSet};

use payimport::sandbox::{Fault, SandboxConfig};

use crate::util::{Env, Limits, key_of, summary_count, valid_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_rows_post_exactly_once_with_their_fields() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(1000));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(
        summary_count(&r.stdout, "posted"),
        Some(1000),
        "{}",
        r.stdout
    );

    let stats = env.sandbox.stats();
    assert_eq!(stats.puts, 1000);
    assert_eq!(stats.gets, 0);
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 1000);

    // Every row of the file is in the sandbox once, with its loan, amount, date and key.
    let report = env.report(&[]).await;
    assert_eq!(report.len(), 1000);
    let by_key: HashMap<&str, _> = payments.iter().map(|p| (key_of(&p.info), p)).collect();
    assert_eq!(by_key.len(), 1000, "every payment has its own key");
    let text = valid_csv(1000);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    for row in &report {
        assert_eq!(row.get("status"), "posted");
        let p = by_key[row.get("key")];
        let line: usize = row.get("line").parse().unwrap();
        let cells: Vec<&str> = lines[line - 2].split(',').collect();
        assert_eq!(p.loan_id.to_string(), cells[0]);
        assert_eq!(p.amount, cells[1]);
        assert_eq!(p.date, cells[2]);
        assert!(
            p.info
                .starts_with(&format!("{} bank_csv {} [k:", cells[2], cells[3])),
            "{}",
            p.info
        );
        assert_eq!(p.payment_method_id, 4);
        assert_eq!(p.payment_type_id, 1);
        assert_eq!(p.extra, "payment.extra.tx.principal");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_and_renamed_copy_send_nothing() {
    let env = Env::new().await;
    let content = valid_csv(50);
    let file = env.write("bank.csv", &content);
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    assert_eq!(env.sandbox.stats().puts, 50);

    let again = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let renamed = env.write("bank-copy-2026-11-21.csv", &content);
    let copy = env.run(&["import", renamed.to_str().unwrap()]).await;
    assert_eq!(copy.code, 0, "{}", copy.stderr);
    assert_eq!(
        summary_count(&copy.stdout, "already_posted"),
        Some(50),
        "{}",
        copy.stdout
    );

    assert_eq!(env.sandbox.stats().puts, 50, "no PUT on a rerun");
    assert_eq!(env.sandbox.payments().len(), 50);
    for run in ["2", "3"] {
        let rows = env.report(&["--run", run]).await;
        assert_eq!(rows.len(), 50);
        assert!(
            rows.iter().all(|r| r.get("status") == "already_posted"),
            "run {run}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_rows_in_one_file_are_distinct_payments() {
    let env = Env::new().await;
    let file = env.write(
        "twice.csv",
        "loan,amount,date,reference\n7,25.00,2026-11-20,\n7,25.00,2026-11-20,\n",
    );
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    assert_eq!(env.sandbox.payments().len(), 2);
    let keys: HashSet<_> = env
        .sandbox
        .payments()
        .iter()
        .map(|p| key_of(&p.info).to_string())
        .collect();
    assert_eq!(keys.len(), 2);
}

const MIXED: &str = "\
loan,amount,date,reference,payment_method_id,payment_type_id,extra
1,10.00,2026-11-20,r1,,,
2,abc,2026-11-20,r2,,,
3,-5.00,2026-11-20,r3,,,
4,1.005,2026-11-20,r4,,,
5,10.00,2026-13-45,r5,,,
6,10.00,2026-11-20,r6,9,,
7,10.00,2026-11-20,r7,,8,
8,10.00,2026-11-20,r8,,,payment.extra.bogus
,10.00,2026-11-20,r9,,,
10,$1,234.50,2026-11-20,r10,,,
11,\"$1,234.50\",11/19/2026,r11,3,2,payment.extra.tx.classic
";

/// The field each bad line of MIXED must be rejected for.
const MIXED_REJECTIONS: [(u64, &str); 9] = [
    (3, "amount"),
    (4, "amount"),
    (5, "amount"),
    (6, "date"),
    (7, "payment_method_id"),
    (8, "payment_type_id"),
    (9, "extra"),
    (10, "loan"),
    (11, "date"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_rejected_and_the_rest_posted() {
    let env = Env::new().await;
    let file = env.write("mixed.csv", MIXED);
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("row(s) need attention"), "{}", r.stdout);

    let rows = env.report(&[]).await;
    let status: HashMap<u64, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get("line").parse().unwrap(),
                (r.get("status").to_string(), r.get("message").to_string()),
            )
        })
        .collect();
    for (line, field) in MIXED_REJECTIONS {
        let (st, msg) = &status[&line];
        assert_eq!(st, "rejected", "line {line}: {msg}");
        assert!(
            msg.contains(&format!("field `{field}`")),
            "line {line}: {msg}"
        );
    }
    // Line 11's amount ran into the next cell because it was not quoted: the date cell is wrong.
    assert_eq!(status[&2].0, "posted");
    assert_eq!(status[&12].0, "posted");
    let posted = env.sandbox.payments();
    assert_eq!(posted.len(), 2);
    let eleven = posted.iter().find(|p| p.loan_id == 11).unwrap();
    assert_eq!(
        (eleven.amount.as_str(), eleven.date.as_str()),
        ("1234.50", "2026-11-19")
    );
    assert_eq!((eleven.payment_method_id, eleven.payment_type_id), (3, 2));
    assert_eq!(eleven.extra, "payment.extra.tx.classic");
    // The summary names the line and field of rejected rows.
    assert!(r.stdout.contains("mixed.csv:3 rejected"), "{}", r.stdout);
    assert!(
        r.stdout.contains("field `amount` value \"abc\""),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_the_same_and_writes_and_sends_nothing() {
    let env = Env::new().await;
    let file = env.write("mixed.csv", MIXED);
    let r = env
        .run(&["import", "--dry-run", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    for (line, field) in MIXED_REJECTIONS {
        assert!(
            r.stdout
                .contains(&format!("mixed.csv:{line}: field `{field}`")),
            "line {line} {field}:\n{}",
            r.stdout
        );
    }
    assert_eq!(r.stdout.matches("would send").count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains("2 row(s) would be sent"), "{}", r.stdout);
    assert!(!env.ledger().exists(), "dry run leaves no ledger");
    assert!(
        !env.path("ledger.sqlite.lock").exists(),
        "dry run leaves no lock file"
    );
    assert_eq!(env.sandbox.stats().puts + env.sandbox.stats().gets, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_are_waited_out() {
    let env = Env::new().await;
    env.sandbox.push_faults([Fault::TooManyRequests; 3]);
    let file = env.write("bank.csv", &valid_csv(40));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stats = env.sandbox.stats();
    assert_eq!(stats.too_many_requests, 3);
    assert_eq!(stats.puts, 43);
    let keys: HashSet<_> = env
        .sandbox
        .payments()
        .iter()
        .map(|p| key_of(&p.info).to_string())
        .collect();
    assert_eq!((env.sandbox.payments().len(), keys.len()), (40, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_sandbox_still_gets_every_row_once() {
    let config = SandboxConfig {
        requests_per_second: Some(40.0),
        ..SandboxConfig::default()
    };
    let limits = Limits {
        requests_per_second: 200.0,
        concurrency: 4,
        max_attempts: 10,
        ..Limits::default()
    };
    let env = Env::with(config, limits).await;
    let file = env.write("bank.csv", &valid_csv(60));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        env.sandbox.stats().too_many_requests > 0,
        "the test must provoke 429s"
    );
    assert_eq!(env.sandbox.payments().len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_stops_the_run_at_once() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(200));
    let r = env
        .run_with_token("wrong-token", &["import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refused the credentials"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("wrong-token"),
        "the token never reaches a log line"
    );
    let stats = env.sandbox.stats();
    assert!(
        stats.puts <= 8,
        "at most `concurrency` PUTs, got {}",
        stats.puts
    );
    assert_eq!(env.sandbox.payments().len(), 0);
    let rows = env.report(&[]).await;
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|r| r.get("status") == "unsent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_fatal_before_anything_is_written() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(3));
    let r = env
        .run_with_token("", &["import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TEST_LOANPRO_TOKEN"), "{}", r.stderr);
    assert!(!env.ledger().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loanpro_refusals_fail_the_row_with_loanpros_message() {
    let config = SandboxConfig {
        loans: 10,
        periods_loans: [3].into(),
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date\n1,10,2026-11-20\n3,10,2026-11-20\n99,10,2026-11-20\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1);
    let rows = env.report(&[]).await;
    let by_loan: HashMap<&str, _> = rows.iter().map(|r| (r.get("loan"), r)).collect();
    assert_eq!(by_loan["1"].get("status"), "posted");
    // 200 without `d`: the extra does not fit a loan that accrues between periods.
    assert_eq!(by_loan["3"].get("status"), "failed");
    assert_eq!(by_loan["3"].get("http_status"), "200");
    assert!(
        by_loan["3"].get("message").contains("interest application"),
        "{:?}",
        by_loan["3"]
    );
    assert_eq!(by_loan["99"].get("status"), "failed");
    assert_eq!(by_loan["99"].get("http_status"), "409");
    assert!(
        by_loan["99"].get("message").contains("99"),
        "{:?}",
        by_loan["99"]
    );
    assert_eq!(env.sandbox.stats().puts, 3, "refusals are not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_missing_a_required_column_is_refused_whole() {
    let env = Env::new().await;
    let good = env.write("good.csv", &valid_csv(3));
    let bad = env.write("bad.csv", "loan,date\n1,2026-11-20\n");
    let r = env
        .run(&["import", good.to_str().unwrap(), bad.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("bad.csv:1: no column \"amount\""),
        "{}",
        r.stdout
    );
    assert_eq!(
        env.sandbox.payments().len(),
        3,
        "the good file still goes through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_exit_2_naming_the_key() {
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(
        &env.settings,
        text.replace("concurrency = 8", "concurrency = 8\nconcurency = 2"),
    )
    .unwrap();
    let file = env.write("bank.csv", &valid_csv(1));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown field `concurency`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("payimport.toml"), "{}", r.stderr);
}
