//! Hostile surroundings (docs/loanpro.md): redirects are never followed and stop the run; a 2xx that is
//! not LoanPro's answer, or a body past the size bound, is uncertain and read back before
//! anything is sent again.

use payimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxStats};

use crate::util::{Env, Limits, assert_each_once, summary_count, valid_csv};

/// A second LoanPro stand-in for redirects to point at: it would take a payment and answer
/// 200 with `d`, so it must be proven to receive nothing at all.
async fn redirect_target() -> Sandbox {
    Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("target sandbox starts")
}

fn assert_untouched(target: &Sandbox) {
    assert_eq!(
        target.stats(),
        SandboxStats::default(),
        "the redirect was followed"
    );
    assert!(target.payments().is_empty());
}

async fn env_redirecting_to(target: &Sandbox, limits: Limits) -> Env {
    let config = SandboxConfig {
        redirect_to: Some(target.base_url()),
        ..SandboxConfig::default()
    };
    Env::with(config, limits).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_put_stops_the_run_and_is_not_followed() {
    let target = redirect_target().await;
    // One request at a time, so the redirect is the first answer and nothing else goes out.
    let limits = Limits {
        concurrency: 1,
        ..Limits::default()
    };
    let env = env_redirecting_to(&target, limits).await;
    env.sandbox.push_faults([Fault::Redirect]);
    let file = env.write("bank.csv", &valid_csv(5));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let location = format!("{}/odata.svc/Loans(1)", target.base_url());
    assert!(r.stderr.contains(&location), "{}", r.stderr);
    assert!(r.stderr.contains("loanpro.base_url"), "{}", r.stderr);
    assert_untouched(&target);
    assert_eq!(
        env.sandbox.stats().puts,
        1,
        "the run stopped at the redirect"
    );
    assert!(env.sandbox.payments().is_empty());

    // The redirected row is left like a row refused with a 401: `unsent`, with the reason.
    let rows = env.report(&[]).await;
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.get("status") == "unsent"), "{rows:?}");
    let first = rows.iter().find(|r| r.get("line") == "2").unwrap();
    assert_eq!(first.get("http_status"), "307");
    assert!(first.get("message").contains(&location), "{first:?}");

    // Once the base URL answers again, `retry` sends each payment once.
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_each_once(&env, 5);
    assert_untouched(&target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_read_back_stops_the_run_and_sends_nothing() {
    let target = redirect_target().await;
    let env = env_redirecting_to(&target, Limits::default()).await;
    // The first PUT is logged but answered 500; reading it back is redirected.
    env.sandbox
        .push_faults([Fault::ErrorAfterCommit, Fault::GetRedirect]);
    let file = env.write("bank.csv", &valid_csv(5));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{}/odata.svc/Loans(", target.base_url())),
        "{}",
        r.stderr
    );
    assert_untouched(&target);
    assert_each_once(&env, 5);
    assert_eq!(env.sandbox.stats().puts, 5, "nothing sent again");
    assert_eq!(summary_count(&r.stdout, "unknown"), Some(1), "{}", r.stdout);

    // The next run reads it back from the right place and finds it.
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_each_once(&env, 5);
    assert_eq!(env.sandbox.stats().puts, 5);
    assert_untouched(&target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_display_id_lookup_stops_the_run_before_any_put() {
    let target = redirect_target().await;
    let env = env_redirecting_to(&target, Limits::default()).await;
    env.add_settings("\n[sources.coupons]\nformat = \"csv\"\nloan = \"display_id\"\n");
    env.sandbox.push_faults([Fault::GetRedirect]);
    let file = env.write(
        "coupons.csv",
        "loan,amount,date,reference\nLN000007,10.00,2026-11-20,r1\n",
    );
    let r = env
        .run(&["import", "--source", "coupons", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{}/odata.svc/Loans?", target.base_url())),
        "{}",
        r.stderr
    );
    assert_untouched(&target);
    assert_eq!(env.sandbox.stats().puts, 0);
}

/// A 200 that is not LoanPro's answer, after LoanPro logged the payment or before it did: the
/// row is read back, `posted` if LoanPro has it, sent again only if it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_that_is_not_loanpros_answer_is_read_back_before_anything_is_sent_again() {
    for (fault, logged) in [
        (Fault::HtmlBeforeCommit, false),
        (Fault::HtmlAfterCommit, true),
        (Fault::EmptyBeforeCommit, false),
        (Fault::EmptyAfterCommit, true),
        (Fault::NoDBeforeCommit, false),
        (Fault::NoDAfterCommit, true),
        (Fault::HugeBody, true),
    ] {
        let env = Env::new().await;
        env.sandbox.push_faults([fault]);
        let file = env.write("bank.csv", &valid_csv(5));
        let r = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(r.code, 0, "{fault:?}\n{}\n{}", r.stdout, r.stderr);
        assert_each_once(&env, 5);
        let stats = env.sandbox.stats();
        assert_eq!(stats.gets, 1, "{fault:?}: one read-back");
        assert_eq!(
            stats.puts,
            5 + u64::from(!logged),
            "{fault:?}: sent again only when the read-back did not find it"
        );
        assert!(
            r.stdout.contains("reconciled: 1 row(s) on 1 loan(s)"),
            "{fault:?}: {}",
            r.stdout
        );
        let rows = env.report(&[]).await;
        assert!(rows.iter().all(|r| r.get("status") == "posted"), "{rows:?}");

        // Neither `retry` nor importing the file again sends anything more.
        let r = env.run(&["retry"]).await;
        assert_eq!(r.code, 0, "{fault:?}\n{}\n{}", r.stdout, r.stderr);
        let r = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(r.code, 0, "{fault:?}\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(env.sandbox.stats().puts, stats.puts, "{fault:?}");
        assert_each_once(&env, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_back_past_the_size_bound_fails_and_sends_nothing() {
    let env = Env::new().await;
    env.sandbox
        .push_faults([Fault::ErrorAfterCommit, Fault::GetHugeBody]);
    let file = env.write("bank.csv", &valid_csv(5));
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "unknown"), Some(1), "{}", r.stdout);
    assert_eq!(env.sandbox.stats().puts, 5, "nothing sent again");
    let rows = env.report(&[]).await;
    let unknown = rows.iter().find(|r| r.get("status") == "unknown").unwrap();
    assert!(unknown.get("message").contains("MiB"), "{unknown:?}");

    // A later run reads it back whole and finds it.
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_each_once(&env, 5);
    assert_eq!(env.sandbox.stats().puts, 5);
}
