//! Lockbox and BAI2 files end to end, with loans matched by display id (issue #5).

use std::collections::HashMap;

use crate::util::{Env, key_of, summary_count};

pub(crate) const BANK_SOURCES: &str = r#"
[sources.lockbox]
format = "lockbox"
loan = "display_id"

[sources.lockbox_warn]
format = "lockbox"
loan = "display_id"
control_totals = "warn"

[sources.ach]
format = "bai2"
loan = "id"
type_codes = [165, 175]

[sources.coupons]
format = "csv"
loan = "display_id"
"#;

async fn env() -> Env {
    let env = Env::new().await;
    env.add_settings(BANK_SOURCES);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockbox_file_posts_every_payment_once_with_display_ids_resolved() {
    let env = env().await;
    let file = env.fixture("lockbox/good.lbx");
    let r = env
        .run(&["import", "--source", "lockbox", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let by_loan: HashMap<u64, _> = env
        .sandbox
        .payments()
        .into_iter()
        .map(|p| (p.loan_id, p))
        .collect();
    assert_eq!(by_loan.len(), 7);
    let first = &by_loan[&123];
    assert_eq!(
        (first.amount.as_str(), first.date.as_str()),
        ("250.00", "2026-11-18")
    );
    assert!(
        first.info.contains("1234567-001-001 10442"),
        "{}",
        first.info
    );
    for loan in [456, 7, 999, 1000, 42, 314] {
        assert!(by_loan.contains_key(&loan), "loan {loan}");
    }
    // One GET per distinct display id, then one PUT per payment.
    assert_eq!(env.sandbox.stats().gets, 7);
    assert_eq!(env.sandbox.stats().puts, 7);

    // The same transmission again (LF this time): nothing asked, nothing sent.
    let again = env.fixture("lockbox/good_lf.lbx");
    let r = env
        .run(&["import", "--source", "lockbox", again.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        summary_count(&r.stdout, "already_posted"),
        Some(7),
        "{}",
        r.stdout
    );
    assert_eq!((env.sandbox.stats().gets, env.sandbox.stats().puts), (7, 7));

    // New payments on known coupons: the display ids come from the ledger's cache.
    let coupons = env.write(
        "coupons.csv",
        "loan,amount,date\nLN000123,10.00,2026-11-20\nLN000456,11.00,2026-11-20\n",
    );
    let r = env
        .run(&["import", "--source", "coupons", coupons.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((env.sandbox.stats().gets, env.sandbox.stats().puts), (7, 9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_display_id_is_rejected_as_unidentified() {
    let env = env().await;
    let coupons = env.write(
        "coupons.csv",
        "loan,amount,date\nLN000005,10.00,2026-11-20\nLN999999,75.00,2026-11-20\n",
    );
    let r = env
        .run(&["import", "--source", "coupons", coupons.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let rows = env.report(&[]).await;
    let unknown = rows.iter().find(|r| r.get("loan") == "LN999999").unwrap();
    assert_eq!(unknown.get("status"), "rejected");
    assert!(
        unknown.get("message").contains("unidentified"),
        "{:?}",
        unknown
    );
    assert!(
        unknown
            .get("message")
            .contains("payimport amend KEY --loan"),
        "{:?}",
        unknown
    );
    assert_eq!(unknown.get("amount"), "75.00");
    assert_eq!(env.sandbox.payments().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_control_total_refuses_the_whole_file() {
    let env = env().await;
    let file = env.fixture("lockbox/wrong_batch_total.lbx");
    let r = env
        .run(&["import", "--source", "lockbox", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("file refused: "), "{}", r.stdout);
    assert!(
        r.stdout.contains("stated") && r.stdout.contains("computed"),
        "{}",
        r.stdout
    );
    assert_eq!(
        env.sandbox.stats().puts + env.sandbox.stats().gets,
        0,
        "nothing of it sent or looked up"
    );

    // The JSON report shows the file refused, with stated vs computed.
    let json = env.run(&["report", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let file = &v["summary"][0]["files"][0];
    assert_eq!(file["status"], "refused");
    let checks = file["control_checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["matches"] == false && c["stated"] != c["computed"]),
        "{checks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_mode_imports_despite_a_wrong_total() {
    let env = env().await;
    let file = env.fixture("lockbox/wrong_batch_total.lbx");
    let r = env
        .run(&["import", "--source", "lockbox_warn", file.to_str().unwrap()])
        .await;
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("stated"),
        "the mismatch is logged: {}",
        r.stderr
    );
    assert!(!env.sandbox.payments().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bai2_file_posts_its_payment_details() {
    let env = env().await;
    let file = env.fixture("bai2/good.bai");
    let r = env
        .run(&["import", "--source", "ach", file.to_str().unwrap()])
        .await;
    // One 165 carries no customer reference: it is rejected, the rest post.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let payments = env.sandbox.payments();
    let by_loan: HashMap<u64, _> = payments.iter().map(|p| (p.loan_id, p)).collect();
    assert_eq!(by_loan[&482].amount, "1500.00");
    assert_eq!(by_loan[&482].date, "2026-11-19");
    assert!(
        by_loan[&482].info.contains("ACH0001"),
        "{}",
        by_loan[&482].info
    );
    assert!(by_loan.contains_key(&17) && by_loan.contains_key(&903) && by_loan.contains_key(&256));
    assert_eq!(by_loan[&1000].date, "2026-11-20");
    let keys: std::collections::HashSet<_> = payments.iter().map(|p| key_of(&p.info)).collect();
    assert_eq!(keys.len(), payments.len());
    let rows = env.report(&[]).await;
    let rejected: Vec<_> = rows
        .iter()
        .filter(|r| r.get("status") == "rejected")
        .collect();
    assert!(!rejected.is_empty());
    assert!(
        rejected
            .iter()
            .all(|r| r.get("message").contains("field `loan`")),
        "{rejected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bai2_file_with_a_wrong_file_total_sends_nothing() {
    let env = env().await;
    let file = env.fixture("bai2/wrong_file_total.bai");
    let r = env
        .run(&["import", "--source", "ach", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("wrong_file_total.bai:"), "{}", r.stdout);
    assert_eq!(env.sandbox.stats().puts, 0);
}

/// Sources for the corpus of tests/data/real/ (docs/formats.md).
const REAL_SOURCES: &str = r#"
[sources.real_bai2]
format = "bai2"
loan = "display_id"
type_codes = [165, "170-179"]
control_counts = "warn"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_transmissions_import_as_zero_rows_and_exit_0() {
    let env = env().await;
    env.add_settings(REAL_SOURCES);
    for (source, file) in [
        ("lockbox", "real/l03_empty_transmission.lbx"),
        ("lockbox", "real/l05_empty_lockbox_zero_totals.lbx"),
        ("real_bai2", "real/b17_empty_file.bai"),
    ] {
        let file = env.fixture(file);
        let r = env
            .run(&["import", "--source", source, file.to_str().unwrap()])
            .await;
        assert_eq!(r.code, 0, "{file:?}\n{}\n{}", r.stdout, r.stderr);
        let dry = env
            .run(&[
                "import",
                "--dry-run",
                "--source",
                source,
                file.to_str().unwrap(),
            ])
            .await;
        assert_eq!(dry.code, 0, "{file:?}\n{}\n{}", dry.stdout, dry.stderr);
    }
    assert_eq!(env.sandbox.stats().puts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_without_an_amount_is_rejected_and_a_test_group_is_skipped_not_sent() {
    let env = env().await;
    env.add_settings(REAL_SOURCES);
    let empty_amount = env.fixture("real/b09_empty_amount.bai");
    let test_group = env.fixture("real/b11_test_group.bai");
    let r = env
        .run(&[
            "import",
            "--source",
            "real_bai2",
            empty_amount.to_str().unwrap(),
            test_group.to_str().unwrap(),
        ])
        .await;
    // The rejected row needs a person; nothing was refused.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "b11_test_group.bai:2: group 1 (test only, group status 4): 2 payment detail(s) skipped, not sent"
        ),
        "{}",
        r.stdout
    );
    let mut loans: Vec<u64> = env.sandbox.payments().iter().map(|p| p.loan_id).collect();
    loans.sort();
    assert_eq!(loans, [2, 3]);
    let rows = env.report(&[]).await;
    let rejected = rows.iter().find(|r| r.get("status") == "rejected").unwrap();
    assert_eq!(rejected.get("line"), "4");
    assert!(rejected.get("message").contains("amount"), "{rejected:?}");

    let json = env.run(&["report", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let files = v["summary"][0]["files"].as_array().unwrap();
    let skipped: Vec<&serde_json::Value> = files
        .iter()
        .flat_map(|f| f["control_checks"].as_array().into_iter().flatten())
        .filter(|c| c["what"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{files:?}");
    assert_eq!(skipped[0]["stated"], 2);
}
