//! Waits and loops that end (docs/loanpro.md, issue 20 items 4 and 5): a signal ends a 429's
//! Retry-After at once, for payments and reversals alike; a server whose pages never end makes
//! the read-back give up, not loop. The real binary against the sandbox, signalled with `kill`.

use std::time::Duration;

use payimport::sandbox::{Fault, Faults, Paging, SandboxConfig};

use crate::returns::RETURN_SOURCES;
use crate::util::{Env, Limits, Run, summary_count, valid_csv};

/// How long a run may take to end after SIGTERM while held by a 600 s Retry-After: far below
/// the wait it cuts short, far above what a busy machine needs to end a run.
const PROMPTLY: Duration = Duration::from_secs(60);

/// The longest Retry-After payimport honours (600 s).
const LONG_RETRY_AFTER: u64 = 600;

/// A sandbox whose first answer to each payment or reversal is a 429 with a 600 s Retry-After.
fn slow_down() -> Faults {
    Faults {
        first_attempt: Some(Fault::TooManyRequests),
        retry_after_secs: Some(LONG_RETRY_AFTER),
        ..Faults::default()
    }
}

/// Waits for the first 429, gives the run a moment to be held by its Retry-After (past the
/// short backoff of the first attempt), sends SIGTERM, and returns how the run ended, failing
/// if it did not end promptly.
async fn sigterm_during_retry_after(env: &Env, child: tokio::process::Child) -> Run {
    let started = std::time::Instant::now();
    while env.sandbox.stats().too_many_requests == 0 {
        assert!(started.elapsed() < PROMPTLY, "no 429 was ever answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = tokio::time::timeout(PROMPTLY, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the run was still waiting {} s after SIGTERM (the Retry-After was {LONG_RETRY_AFTER} s)",
                PROMPTLY.as_secs()
            )
        })
        .expect("wait");
    Run::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_long_retry_after_at_once_and_the_payments_stay_unsent() {
    let config = SandboxConfig {
        faults: slow_down(),
        ..SandboxConfig::default()
    };
    let limits = Limits {
        concurrency: 2,
        ..Limits::default()
    };
    let env = Env::with(config, limits).await;
    let file = env.write("bank.csv", &valid_csv(4));
    let child = env.spawn(&["import", file.to_str().unwrap()]);
    let r = sigterm_during_retry_after(&env, child).await;

    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "unsent"), Some(4), "{}", r.stdout);
    assert!(r.stdout.contains("interrupted by SIGTERM"), "{}", r.stdout);
    for row in env.report(&[]).await {
        assert_eq!(row.get("status"), "unsent", "{row:?}");
        assert!(
            row.get("message")
                .contains("not sent: the run stopped (interrupted by SIGTERM)"),
            "{row:?}"
        );
    }
    assert_eq!(env.sandbox.stats().payments, 0, "nothing was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_long_retry_after_at_once_and_the_reversals_stay_unsent() {
    let limits = Limits {
        concurrency: 2,
        ..Limits::default()
    };
    let env = Env::with(SandboxConfig::default(), limits).await;
    env.add_settings(RETURN_SOURCES);
    let payments = env.write(
        "payments.csv",
        "loan,amount,date,reference\n7,250.00,2026-11-10,1042\n8,99.00,2026-11-10,1043\n",
    );
    let r = env
        .run(&["import", "--source", "bank_csv", payments.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // From now on every reversal's first POST gets a 429 with a 600 s Retry-After.
    env.sandbox.set_faults(slow_down());
    let returns = env.write(
        "returns.csv",
        "loan,amount,date,return_code\n7,250.00,2026-11-24,R01\n8,99.00,2026-11-24,R01\n",
    );
    let child = env.spawn(&[
        "import",
        "--source",
        "returns_csv",
        returns.to_str().unwrap(),
    ]);
    let r = sigterm_during_retry_after(&env, child).await;

    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("interrupted by SIGTERM"), "{}", r.stdout);
    let report = env.report(&[]).await;
    let (returns, payments): (Vec<_>, Vec<_>) =
        report.iter().partition(|row| row.get("kind") == "return");
    assert_eq!(returns.len(), 2, "{report:?}");
    for row in returns {
        assert_eq!(row.get("status"), "unsent", "{row:?}");
        assert!(
            row.get("message")
                .contains("not sent: the run stopped (interrupted by SIGTERM)"),
            "{row:?}"
        );
    }
    for row in payments {
        assert_eq!(row.get("status"), "posted", "{row:?}");
    }
    assert_eq!(env.sandbox.stats().reversals, 0, "nothing was reversed");
}

/// A server that ignores `$skip` (no total, or a total of 10^9) would keep the read-back
/// paging forever, holding the ledger's lock. It gives up: the rows stay `unknown` with a
/// message, nothing is sent again, the run ends and the next one can take the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_back_of_pages_that_never_end_gives_up_and_the_rows_stay_unknown() {
    for paging in [Paging::IgnoreSkipNoTotal, Paging::IgnoreSkipHugeTotal] {
        let config = SandboxConfig {
            faults: Faults {
                // Logged, then a 500: each row's outcome is unknown and must be read back.
                first_attempt: Some(Fault::ErrorAfterCommit),
                paging,
                ..Faults::default()
            },
            ..SandboxConfig::default()
        };
        let env = Env::with(config, Limits::default()).await;
        let file = env.write("bank.csv", &valid_csv(3));
        let child = env.spawn(&["import", file.to_str().unwrap()]);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{paging:?}: the read-back was still paging after 60 s ({} GETs)",
                    env.sandbox.stats().gets
                )
            })
            .expect("wait");
        let r = Run::from(out);
        assert_eq!(r.code, 1, "{paging:?}\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(summary_count(&r.stdout, "unknown"), Some(3), "{}", r.stdout);
        for row in env.report(&[]).await {
            assert_eq!(row.get("status"), "unknown", "{paging:?}: {row:?}");
            assert!(
                row.get("message")
                    .contains("a page repeats the previous one"),
                "{paging:?}: {row:?}"
            );
        }
        // Each payment logged once, and never sent again on a guess.
        let stats = env.sandbox.stats();
        assert_eq!(stats.payments, 3, "{paging:?}: {stats:?}");
        assert!(stats.gets < 100, "{paging:?}: {stats:?}");

        // The ledger is free: the next run reads the rows back again and gives up again.
        let again = env.run(&["retry"]).await;
        assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
        assert_eq!(env.sandbox.stats().payments, 3, "{paging:?}");
    }
}
