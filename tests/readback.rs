//! Exactly once under faults: uncertain rows are read back from LoanPro and sent again only when
//! their key is not there (issue #3).

use payimport::sandbox::{Fault, Faults, SandboxConfig};

use crate::util::{Env, Limits, assert_each_once, key_of, summary_count, valid_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_ends_in_exactly_one_payment() {
    for fault in [
        Fault::ErrorBeforeCommit,
        Fault::DropBeforeCommit,
        Fault::ErrorAfterCommit,
        Fault::DropAfterCommit,
        Fault::TooManyRequests,
    ] {
        let env = Env::new().await;
        env.sandbox.push_faults([fault]);
        let file = env.write("bank.csv", &valid_csv(5));
        let r = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(r.code, 0, "{fault:?}\n{}\n{}", r.stdout, r.stderr);
        assert_each_once(&env, 5);
        let uncertain = !matches!(fault, Fault::TooManyRequests);
        let stats = env.sandbox.stats();
        assert_eq!(
            stats.gets,
            u64::from(uncertain),
            "{fault:?}: one read-back of one loan"
        );
        let resent = matches!(
            fault,
            Fault::ErrorBeforeCommit | Fault::DropBeforeCommit | Fault::TooManyRequests
        );
        assert_eq!(stats.puts, 5 + u64::from(resent), "{fault:?}");
        if uncertain {
            assert!(
                r.stdout.contains("reconciled: 1 row(s) on 1 loan(s)"),
                "{fault:?}: {}",
                r.stdout
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_commit_is_waited_out_before_the_read_back() {
    // The sandbox commits 1.5 s after the PUT arrives; the client gives up after 0.5 s. Only
    // the settle delay keeps the read-back from missing the payment and sending it twice.
    let config = SandboxConfig {
        faults: Faults {
            slow_secs: 1.5,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let limits = Limits {
        timeout_secs: 0.5,
        settle_secs: 2.5,
        ..Limits::default()
    };
    let env = Env::with(config, limits).await;
    env.sandbox.push_faults([Fault::SlowCommit]);
    let file = env.write("bank.csv", &valid_csv(3));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_each_once(&env, 3);
    assert_eq!(
        env.sandbox.stats().puts,
        3,
        "found by the read-back, not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_back_sends_nothing_and_a_later_run_settles_it() {
    let limits = Limits {
        max_attempts: 2,
        ..Limits::default()
    };
    let env = Env::with(SandboxConfig::default(), limits).await;
    env.sandbox.push_faults([
        Fault::ErrorBeforeCommit,
        Fault::GetFailure,
        Fault::GetFailure,
    ]);
    let file = env.write("bank.csv", &valid_csv(4));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "unknown"), Some(1), "{}", r.stdout);
    assert_eq!(
        env.sandbox.payments().len(),
        3,
        "the uncertain row was not sent again"
    );

    // The next import of anything reads it back first, finds it missing and sends it.
    let other = env.write("other.csv", "loan,amount,date\n900,1.00,2026-11-20\n");
    let r = env.run(&["import", other.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 5);
    let keys: std::collections::HashSet<_> = env
        .sandbox
        .payments()
        .iter()
        .map(|p| key_of(&p.info).to_string())
        .collect();
    assert_eq!(keys.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loans_with_many_earlier_payments_are_read_back_page_by_page() {
    let config = SandboxConfig {
        faults: Faults {
            first_attempt: Some(Fault::ErrorAfterCommit),
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let env = Env::with(config, Limits::default()).await;
    for loan in 1..=3 {
        for i in 0..120 {
            env.sandbox
                .add_payment(loan, "10.00", "2026-10-01", &format!("earlier payment {i}"));
        }
    }
    // Two rows per loan: each first attempt is logged but answered with a 500.
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,5,2026-11-20,a\n2,5,2026-11-20,b\n3,5,2026-11-20,c\n1,6,2026-11-20,d\n2,6,2026-11-20,e\n3,6,2026-11-20,f\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ours: Vec<_> = env
        .sandbox
        .payments()
        .into_iter()
        .filter(|p| p.info.contains("[k:"))
        .collect();
    assert_eq!(ours.len(), 6, "no duplicates: {ours:?}");
    let stats = env.sandbox.stats();
    assert_eq!(stats.puts, 6);
    // 122 payments a loan are three pages of 50; rows of one loan share one read-back.
    assert_eq!(stats.gets, 3 * 3, "one paged read-back per loan");
    assert!(
        r.stdout.contains("reconciled: 6 row(s) on 3 loan(s)"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rows_through_every_fault_kind_post_exactly_once() {
    let config = SandboxConfig {
        faults: Faults {
            seed: 20261123,
            error_before_commit: 0.05,
            drop_before_commit: 0.05,
            error_after_commit: 0.05,
            drop_after_commit: 0.05,
            slow_commit: 0.05,
            slow_secs: 0.6,
            burst_429: 0.05,
            get_failure: 0.05,
            first_attempt: None,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let limits = Limits {
        concurrency: 16,
        max_attempts: 8,
        timeout_secs: 0.4,
        settle_secs: 0.8,
        ..Limits::default()
    };
    let env = Env::with(config, limits).await;
    let file = env.write("bank.csv", &valid_csv(1000));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    if r.code == 1 {
        // A row whose every read-back failed stays unknown; the next run settles it.
        let again = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    }
    assert_each_once(&env, 1000);
    assert!(r.stdout.contains("reconciled: "), "{}", r.stdout);
    // The report says how many rows went through reconciliation.
    let json = env.run(&["report", "--format", "json", "--run", "1"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        v["summary"][0]["reconciled"].as_u64().unwrap() > 0,
        "{}",
        v["summary"][0]
    );
    let stats = env.sandbox.stats();
    eprintln!("faults: {stats:?}\n{}", r.stdout);
}
