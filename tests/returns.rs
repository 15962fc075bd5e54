//! Returns and reversals end to end (docs/returns.md, issue #12): each source of returns, matching
//! (and not guessing), and every returned payment reversed exactly once under faults, kills
//! and reruns, over real HTTP to the sandbox.

use std::os::unix::process::ExitStatusExt;

use payimport::read::nacha::{ReturnEntry, return_file};
use payimport::sandbox::Fault;

use crate::util::{Env, Record, key_of};

pub(crate) const RETURN_SOURCES: &str = r#"
[sources.returns_csv]
format = "csv"
kind = "returns"
loan = "id"

[sources.ach_returns]
format = "nacha"
loan = "id"

[sources.bai]
format = "bai2"
loan = "id"
type_codes = [165]
return_type_codes = [555]

[returns]
reasons_by_code = { R01 = "payment.reverse.nsf", R09 = "payment.reverse.nsf", "555" = "payment.reverse.checkBounce" }
match_window_days = 120
"#;

pub(crate) async fn env() -> Env {
    let env = Env::new().await;
    env.add_settings(RETURN_SOURCES);
    env
}

/// Imports payments (`loan,amount,date,reference` lines) and expects them all posted.
pub(crate) async fn import_payments(env: &Env, rows: &str) {
    let file = env.write(
        "payments.csv",
        &format!("loan,amount,date,reference\n{rows}"),
    );
    let r = env
        .run(&["import", "--source", "bank_csv", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// Imports a CSV return file; returns the run.
pub(crate) async fn import_returns(env: &Env, name: &str, rows: &str) -> crate::util::Run {
    let file = env.write(
        name,
        &format!("loan,amount,date,return_code,original_reference,original_key\n{rows}"),
    );
    env.run(&["import", "--source", "returns_csv", file.to_str().unwrap()])
        .await
}

fn rows_of_kind(report: &[Record], kind: &str) -> Vec<Record> {
    report
        .iter()
        .filter(|r| r.get("kind") == kind)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_reverses_its_payment_once_with_one_get_and_one_post() {
    let env = env().await;
    import_payments(&env, "7,250.00,2026-11-10,1042\n8,99.00,2026-11-10,1043\n").await;
    let before = env.sandbox.stats();
    let r = import_returns(&env, "returns.csv", "7,250.00,2026-11-24,R01,,\n").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("returns:"), "{}", r.stdout);
    let after = env.sandbox.stats();
    assert_eq!(after.posts - before.posts, 1, "one VoidPayment");
    assert_eq!(
        after.gets - before.gets,
        1,
        "one page of the loan's payments"
    );
    assert_eq!(after.puts, before.puts, "no payment sent");

    let payments = env.sandbox.payments();
    let reversed: Vec<_> = payments.iter().filter(|p| p.reversal.is_some()).collect();
    assert_eq!(reversed.len(), 1);
    let rev = reversed[0].reversal.as_ref().unwrap();
    assert_eq!(reversed[0].loan_id, 7);
    assert_eq!(rev.reverse_reason, "payment.reverse.nsf");
    assert_eq!(
        rev.nacha_return_code.as_deref(),
        Some("nacha.returnCode.r01")
    );
    assert_eq!(
        rev.comments, "R01 Insufficient Funds; returned 2026-11-24",
        "no reference: the `ref {{reference}}` part is left out, label and all"
    );

    let report = env.report(&[]).await;
    let original = report
        .iter()
        .find(|r| r.get("key") == key_of(&reversed[0].info))
        .unwrap();
    assert_eq!(original.get("status"), "reversed");
    assert_eq!(original.get("kind"), "payment");
    let returns = rows_of_kind(&report, "return");
    assert_eq!(returns.len(), 1);
    assert_eq!(returns[0].get("status"), "posted");
    assert_eq!(returns[0].get("original_key"), original.get("key"));
    assert_eq!(returns[0].get("return_code"), "R01");

    // The same return file again: already handled, nothing sent.
    let again = import_returns(&env, "returns-again.csv", "7,250.00,2026-11-24,R01,,\n").await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(env.sandbox.stats().posts, after.posts);
    let report = env.report(&[]).await;
    assert_eq!(
        rows_of_kind(&report, "return")[1].get("status"),
        "already_posted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_return_is_matched_again_by_retry_once_its_payment_is_posted() {
    let env = env().await;
    let r = import_returns(&env, "returns.csv", "9,120.00,2026-11-24,R02,,\n").await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("unmatched"), "{}", r.stdout);
    assert!(
        r.stdout.contains("no posted payment of loan 9 for 120.00"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().posts, 0);

    import_payments(&env, "9,120.00,2026-11-20,555\n").await;
    let retry = env.run(&["retry"]).await;
    assert_eq!(retry.code, 0, "{}\n{}", retry.stdout, retry.stderr);
    assert_eq!(env.sandbox.stats().posts, 1);
    let report = env.report(&[]).await;
    let ret = &rows_of_kind(&report, "return")[0];
    assert_eq!(ret.get("status"), "posted");
    let payment = &rows_of_kind(&report, "payment")[0];
    assert_eq!(payment.get("status"), "reversed");
    assert_eq!(ret.get("original_key"), payment.get("key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_payment_without_a_reference_leaves_the_return_unmatched() {
    let env = env().await;
    import_payments(&env, "5,40.00,2026-11-10,\n5,40.00,2026-11-12,\n").await;
    let r = import_returns(&env, "returns.csv", "5,40.00,2026-11-24,R01,,\n").await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    let keys: Vec<String> = rows_of_kind(&report, "payment")
        .iter()
        .map(|p| p.get("key").to_string())
        .collect();
    let ret = &rows_of_kind(&report, "return")[0];
    assert_eq!(ret.get("status"), "unmatched");
    for k in &keys {
        assert!(
            ret.get("message").contains(k.as_str()),
            "{}",
            ret.get("message")
        );
    }
    assert_eq!(env.sandbox.stats().posts, 0, "never a guess");

    // Naming the original settles it.
    let named = import_returns(
        &env,
        "named.csv",
        &format!("5,40.00,2026-11-24,R01,,{}\n", keys[1]),
    )
    .await;
    assert_eq!(named.code, 0, "{}\n{}", named.stdout, named.stderr);
    assert_eq!(env.sandbox.stats().posts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_after_the_reversal_is_settled_by_reading_back_never_a_second_post() {
    for fault in [
        Fault::ErrorAfterCommit,
        Fault::DropAfterCommit,
        Fault::ErrorBeforeCommit,
    ] {
        let env = env().await;
        import_payments(&env, "7,250.00,2026-11-10,1042\n").await;
        env.sandbox.push_faults([fault]);
        let r = import_returns(&env, "returns.csv", "7,250.00,2026-11-24,R01,,\n").await;
        assert_eq!(r.code, 0, "{fault:?}\n{}\n{}", r.stdout, r.stderr);
        let posts = env.sandbox.stats().posts;
        let committed = !matches!(fault, Fault::ErrorBeforeCommit);
        assert_eq!(posts, if committed { 1 } else { 2 }, "{fault:?}");
        assert_eq!(env.sandbox.stats().reversals, 1, "{fault:?}");
        let report = env.report(&[]).await;
        assert_eq!(rows_of_kind(&report, "return")[0].get("status"), "posted");
        assert_eq!(
            rows_of_kind(&report, "payment")[0].get("status"),
            "reversed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_already_reversed_in_loanpro_is_recorded_not_sent() {
    let env = env().await;
    import_payments(&env, "7,250.00,2026-11-10,1042\n").await;
    let pid = env.sandbox.payments()[0].id;
    env.sandbox.reverse_payment(pid, "payment.reverse.other");
    let r = import_returns(&env, "returns.csv", "7,250.00,2026-11-24,R01,,\n").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().posts, 0);
    let report = env.report(&[]).await;
    let ret = &rows_of_kind(&report, "return")[0];
    assert_eq!(ret.get("status"), "posted");
    assert!(
        ret.get("message").contains("already reversed"),
        "{}",
        ret.get("message")
    );
    assert_eq!(
        rows_of_kind(&report, "payment")[0].get("status"),
        "reversed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_every_step_of_a_reversal_then_a_rerun_reverses_exactly_once() {
    for point in ["staged", "claimed", "answered", "recorded"] {
        let env = env().await;
        import_payments(&env, "7,250.00,2026-11-10,1042\n8,60.00,2026-11-10,1043\n").await;
        let rows = "7,250.00,2026-11-24,R01,,\n8,60.00,2026-11-24,R09,,\n";
        let file = env.write(
            "returns.csv",
            &format!("loan,amount,date,return_code,original_reference,original_key\n{rows}"),
        );
        let file = file.to_str().unwrap();
        let (_, status) = env
            .run_with_env(
                &[("PAYIMPORT_CRASH_AT", point)],
                &["import", "--source", "returns_csv", file],
            )
            .await;
        assert_eq!(status.signal(), Some(9), "{point}: killed");
        let rerun = env.run(&["import", "--source", "returns_csv", file]).await;
        assert_eq!(rerun.code, 0, "{point}\n{}\n{}", rerun.stdout, rerun.stderr);
        let stats = env.sandbox.stats();
        assert_eq!(
            stats.reversals, 2,
            "{point}: each returned payment reversed"
        );
        assert_eq!(stats.posts, 2, "{point}: no VoidPayment sent twice");
        let report = env.report(&[]).await;
        for p in rows_of_kind(&report, "payment") {
            assert_eq!(p.get("status"), "reversed", "{point}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacha_return_file_reverses_its_returns_and_counts_its_notices() {
    let env = env().await;
    import_payments(
        &env,
        "12,250.00,2026-11-10,A1\n13,10.50,2026-11-10,A2\n14,7.00,2026-11-10,A3\n",
    )
    .await;
    let entry = |loan: &str, cents, code: &str, notice| ReturnEntry {
        loan: loan.into(),
        cents,
        code: code.into(),
        original_trace: "091000010000042".into(),
        trace: format!("09100001{cents:07}"),
        notice,
    };
    let text = return_file(
        "261124",
        &[
            entry("12", 25_000, "R01", false),
            entry("13", 1_050, "R02", false),
            entry("14", 700, "C01", true),
        ],
    );
    let file = env.write("returns.ach", &text);
    let r = env
        .run(&["import", "--source", "ach_returns", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 notification(s) of change"),
        "{}",
        r.stdout
    );
    let mut reversed: Vec<_> = env
        .sandbox
        .payments()
        .into_iter()
        .filter_map(|p| p.reversal.map(|r| (p.loan_id, r)))
        .collect();
    reversed.sort_by_key(|(loan, _)| *loan);
    assert_eq!(reversed.iter().map(|r| r.0).collect::<Vec<_>>(), [12, 13]);
    assert_eq!(reversed.len(), 2);
    assert_eq!(reversed[0].1.reverse_reason, "payment.reverse.nsf");
    assert_eq!(reversed[1].1.reverse_reason, "payment.reverse.nacha");
    assert_eq!(
        reversed[1].1.nacha_return_code.as_deref(),
        Some("nacha.returnCode.r02")
    );

    // A wrong control total refuses the file whole.
    let bad = text.replacen("8225000006", "8225000007", 1);
    assert_ne!(bad, text);
    let file = env.write("bad.ach", &bad);
    let r = env
        .run(&["import", "--source", "ach_returns", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("bad.ach:"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_and_its_return_in_one_bai2_file() {
    let env = env().await;
    let text = "01,122099999,123456789,261124,0200,1,,,2/
02,031001234,122099999,1,261124,2359,USD,2/
03,123456789,USD,010,500000,,/
16,165,25000,0,ACH1001,12,LOAN 12/
16,555,25000,0,RET1001,12,RETURNED ITEM/
49,50000,4/
98,50000,1,6/
99,50000,1,8/
";
    let file = env.write("day.bai", text);
    let r = env
        .run(&["import", "--source", "bai", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 1);
    let rev = payments[0].reversal.as_ref().expect("reversed");
    assert_eq!(rev.reverse_reason, "payment.reverse.checkBounce");
    assert_eq!(rev.nacha_return_code, None, "555 is no R-code");
    let report = env.report(&[]).await;
    assert_eq!(
        rows_of_kind(&report, "payment")[0].get("status"),
        "reversed"
    );
    assert_eq!(rows_of_kind(&report, "return")[0].get("return_code"), "555");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_each_returns_match_or_why_not() {
    let env = env().await;
    import_payments(&env, "7,250.00,2026-11-10,1042\n").await;
    let file = env.write(
        "returns.csv",
        "loan,amount,date,return_code\n7,250.00,2026-11-24,R01\n8,1.00,2026-11-24,R01\n",
    );
    let r = env
        .run(&[
            "import",
            "--source",
            "returns_csv",
            "--dry-run",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let key = key_of(&env.sandbox.payments()[0].info).to_string();
    assert!(
        r.stdout
            .contains(&format!("matches the payment with key {key}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("unmatched: no posted payment of loan 8"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().posts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reverse_reason_stops_at_the_settings() {
    let env = Env::new().await;
    env.add_settings("\n[returns]\nreasons_by_code = { R01 = \"payment.reverse.nfs\" }\n");
    let file = env.write("p.csv", "loan,amount,date\n1,1.00,2026-11-20\n");
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("`returns.reasons_by_code.R01`"),
        "{}",
        r.stderr
    );
}
