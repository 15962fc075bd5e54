//! camt.053 and camt.054 files end to end (docs/formats.md, issue 23): the real binary against the
//! sandbox, with the fixtures of tests/data/camt/.

use crate::util::{Env, summary_count};

const CAMT_SOURCES: &str = r#"
[sources.camt]
format = "camt"
loan = "id"
loan_pattern = "LOAN\\s*#?\\s*(\\d+)"

[sources.camt_warn]
format = "camt"
loan = "id"
loan_pattern = "LOAN\\s*#?\\s*(\\d+)"
control_totals = "warn"
"#;

async fn env() -> Env {
    let env = Env::new().await;
    env.add_settings(CAMT_SOURCES);
    env
}

async fn import(env: &Env, source: &str, fixtures: &[&str]) -> crate::util::Run {
    let paths: Vec<String> = fixtures
        .iter()
        .map(|f| env.fixture(&format!("camt/{f}")).display().to_string())
        .collect();
    let mut args = vec!["import", "--source", source];
    args.extend(paths.iter().map(String::as_str));
    env.run(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_posts_its_booked_credits_and_lists_the_debit_it_skipped() {
    let env = env().await;
    let r = import(&env, "camt", &["basic.053.xml"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut paid: Vec<(u64, String, String)> = env
        .sandbox
        .payments()
        .into_iter()
        .map(|p| (p.loan_id, p.amount, p.date))
        .collect();
    paid.sort();
    assert_eq!(
        paid,
        [
            (101, "250.00".into(), "2026-11-20".into()),
            (102, "125.50".into(), "2026-11-20".into())
        ]
    );
    assert!(
        r.stdout
            .contains("debit entries totalling 12.00: 1 payment detail(s) skipped"),
        "{}",
        r.stdout
    );
    let report = env.report(&[]).await;
    assert_eq!(report.len(), 2);
    let references: Vec<&str> = report.iter().map(|r| r.get("reference")).collect();
    assert!(references.contains(&"E2E-LOAN-101"), "{references:?}");
    assert!(references.contains(&"BANKREF-0002"), "{references:?}");

    // The report's summary lists what was not a payment, with its amount, and the totals.
    let json = env.run(&["report", "--format", "json"]).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert!(
        json.stdout.contains("debit entries totalling 12.00"),
        "{}",
        json.stdout
    );
    assert!(
        json.stdout
            .contains("statement STMT-20261120-1 account 123456789 credit entries"),
        "{}",
        json.stdout
    );

    // The same statement again: nothing sent twice.
    let again = import(&env, "camt", &["basic.053.xml"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(env.sandbox.stats().puts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_prefixes_envelopes_and_iso_8859_15_in_one_run() {
    let env = env().await;
    let r = import(
        &env,
        "camt",
        &[
            "v02-prefixed.053.xml",
            "no-namespace.053.xml",
            "national-latin9.053.xml",
            "envelope.054.xml",
            "batches.053.xml",
        ],
    )
    .await;
    // The batch entry whose three details name three loans, read as one entry, is not the
    // case here (auto splits it): every row is identified.
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut loans: Vec<u64> = env.sandbox.payments().iter().map(|p| p.loan_id).collect();
    loans.sort();
    assert_eq!(
        loans,
        [201, 202, 301, 302, 401, 501, 701, 702, 703, 704, 705]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_with_a_nacha_code_reverses_the_payment_its_end_to_end_id_names_a_reversal_naming_none_is_unmatched()
 {
    let env = env().await;
    let r = import(&env, "camt", &["basic.053.xml"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = import(&env, "camt", &["returns.053.xml"]).await;
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    let payments = env.sandbox.payments();
    let reversed = payments
        .iter()
        .find(|p| p.loan_id == 101)
        .and_then(|p| p.reversal.as_ref())
        .expect("loan 101's payment reversed");
    assert_eq!(
        reversed.nacha_return_code.as_deref(),
        Some("nacha.returnCode.r02")
    );
    let report = env.report(&[]).await;
    let ret = report
        .iter()
        .find(|r| r.get("kind") == "return" && r.get("return_code") == "R02")
        .expect("the R02 return");
    assert_eq!(ret.get("status"), "posted");
    assert_eq!(ret.get("amount"), "250.00");
    assert_eq!(ret.get("date"), "2026-11-24");
    let original = report
        .iter()
        .find(|r| r.get("key") == ret.get("original_key"))
        .expect("its original");
    assert_eq!(original.get("reference"), "E2E-LOAN-101");
    assert_eq!(original.get("status"), "reversed");
    // The reversal (RvslInd) is a return too, with its ISO code. Its InstrId names no payment
    // (loan 102's was logged under its AcctSvcrRef): a camt reference that names nothing is
    // `unmatched` (docs/returns.md, rule 3), never the loan's only payment of that amount.
    let reversal = report
        .iter()
        .find(|r| r.get("kind") == "return" && r.get("return_code") == "AC04")
        .expect("the AC04 reversal");
    assert_eq!(reversal.get("status"), "unmatched");
    assert_eq!(reversal.get("original_key"), "");
    assert!(
        payments
            .iter()
            .filter(|p| p.loan_id == 102)
            .all(|p| p.reversal.is_none()),
        "loan 102's payment is not reversed"
    );
    assert_eq!(r.code, 1, "an unmatched return needs attention");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_one_well_formed_camt_053_or_054_are_refused_whole() {
    let env = env().await;
    for (fixture, says) in [
        (
            "not-well-formed.053.xml",
            "not-well-formed.053.xml:7: not well-formed XML",
        ),
        ("two-documents.053.xml", "two documents"),
        ("intraday.052.xml", "camt.052"),
    ] {
        let r = import(&env, "camt", &[fixture]).await;
        assert_eq!(r.code, 2, "{fixture}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(says), "{fixture}: {}", r.stdout);
    }
    assert_eq!(env.sandbox.stats().puts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stated_totals_enforced_refuse_warned_read_with_the_odd_amounts_rejected() {
    let env = env().await;
    let r = import(&env, "camt", &["totals-and-decimals.053.xml"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("items: stated 3, computed 2"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().puts, 0);

    let r = import(
        &env,
        "camt_warn",
        &["totals-and-decimals.053.xml", "two-statements.053.xml"],
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // 100.500 posted as 100.50; 100.005 and the CAD entry rejected, never rounded or converted.
    assert_eq!(
        summary_count(&r.stdout, "rejected"),
        Some(2),
        "{}",
        r.stdout
    );
    let report = env.report(&[]).await;
    let rejected: Vec<(&str, &str)> = report
        .iter()
        .filter(|r| r.get("status") == "rejected")
        .map(|r| (r.get("loan"), r.get("amount")))
        .collect();
    assert_eq!(rejected, [("912", "100.005"), ("602", "50.00 CAD")]);
    let mut amounts: Vec<String> = env
        .sandbox
        .payments()
        .into_iter()
        .map(|p| p.amount)
        .collect();
    amounts.sort();
    assert_eq!(amounts, ["100.00", "100.50", "70.00"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_payments_and_what_is_not_a_payment() {
    let env = env().await;
    env.add_settings(
        r#"
[sources.camt_filtered]
format = "camt"
loan = "id"
bank_transaction_codes = ["PMNT-RCDT-ESCT", "175"]
unit = "entry"
"#,
    );
    let file = env.fixture("camt/not-payments.054.xml");
    let r = env
        .run(&[
            "import",
            "--dry-run",
            "--source",
            "camt_filtered",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("would send"), "{}", r.stdout);
    for what in [
        "pending (PDNG) entries totalling 40.00",
        "information (INFO) entries totalling 41.00",
        "credits outside `bank_transaction_codes` totalling 42.00",
    ] {
        assert!(r.stdout.contains(what), "{what}: {}", r.stdout);
    }
    assert!(
        r.stdout.contains("2 row(s) would be sent, total 87.00"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().puts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camt_keys_are_checked_and_refused_on_other_formats() {
    let env = env().await;
    env.add_settings(
        r#"
[sources.camt_bad]
format = "camt"
loan = "id"
loan_pattern = "LOAN"
"#,
    );
    let r = env.run(&["import", "--source", "camt", "x.xml"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("sources.camt_bad.loan_pattern"),
        "{}",
        r.stderr
    );

    let env = Env::new().await;
    env.add_settings("\n[sources.csv_unit]\nformat = \"csv\"\nunit = \"entry\"\n");
    let r = env.run(&["import", "x.csv"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("sources.csv_unit.unit") && r.stderr.contains("camt"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_knows_a_camt_source_and_names_its_bad_keys() {
    let env = env().await;
    let r = env.run(&["check", "--loan", "camt=21"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("source camt, loan 21: exists"),
        "{}",
        r.stdout
    );

    let gets = env.sandbox.stats().gets;
    env.add_settings(
        "\n[sources.camt_typo]\nformat = \"camt\"\nloan = \"id\"\nbank_transaction_codes = [\"PMNT-RCDT\"]\n",
    );
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("sources.camt_typo.bank_transaction_codes"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().gets, gets, "nothing asked of LoanPro");
}
