//! Resolving rows inside payimport (docs/states.md, issue 22): dismiss, amend, the audit trail, the
//! corrections file and the archive folders, end to end against the sandbox, counting what
//! LoanPro holds.

use crate::returns::RETURN_SOURCES;
use crate::util::{Env, Record};

async fn env() -> Env {
    let env = Env::new().await;
    env.add_settings(RETURN_SOURCES);
    env
}

/// The JSON report's rows, which carry `amends` and `resolution` (the CSV keeps docs/report.md's
/// columns).
async fn json_rows(env: &Env) -> Vec<serde_json::Value> {
    let r = env.run(&["report", "--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["rows"].as_array().unwrap().clone()
}

/// The corrected copy of `original`, from the JSON report.
async fn copy_of(env: &Env, original: &str) -> serde_json::Value {
    json_rows(env)
        .await
        .into_iter()
        .find(|r| r["amends"] == original)
        .unwrap_or_else(|| panic!("no corrected copy of {original}"))
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
    // Waiting for a person is a warning (`!`, exit 0), not a failure (issue 20 item 8).
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("! 1 row(s) wait in `unmatched`"),
        "{}",
        r.stdout
    );
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
    let message = report[0].get("message");
    assert!(message.starts_with("dismissed by alice at 20"), "{message}");
    assert!(
        message.ends_with(": reversed by hand, ticket 81"),
        "{message}"
    );
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("✓ 0 row(s) wait in `unmatched`"),
        "{}",
        r.stdout
    );
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

/// Payments on `loan` in the sandbox whose info carries `key`.
fn logged(env: &Env, loan: u64, key: &str) -> usize {
    let marker = format!("[k:{key}]");
    env.sandbox
        .payments()
        .iter()
        .filter(|p| p.loan_id == loan && p.info.contains(&marker))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unidentified_coupon_is_amended_to_its_loan_and_sent_exactly_once() {
    let env = env().await;
    env.add_settings("\n[sources.coupons]\nformat = \"csv\"\nloan = \"display_id\"\n");
    let file = env.write(
        "coupons.csv",
        "loan,amount,date,reference\nLN999999,61.50,2026-11-20,C7\nLN000002,10.00,2026-11-20,C8\n",
    );
    let import = ["import", "--source", "coupons", file.to_str().unwrap()];
    let r = env.run(&import).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    let original = report
        .iter()
        .find(|r| r.get("status") == "rejected")
        .expect("the unidentified coupon is rejected")
        .get("key")
        .to_string();
    let puts = env.sandbox.stats().puts;

    // A correction that is no loan either is refused, and nothing changes.
    let r = env.run(&["amend", &original, "--loan", ""]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        by_key(&env.report(&[]).await, &original).get("status"),
        "rejected"
    );

    let r = env
        .run(&[
            "amend",
            &original,
            "--loan",
            "LN000007",
            "--note",
            "coupon misread",
            "--by",
            "bob",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let copy = copy_of(&env, &original).await;
    assert_eq!(copy["status"], "posted");
    assert_eq!(copy["loan_id"], 7);
    assert_eq!(copy["amount"], "61.50");
    assert_eq!(copy["date"], "2026-11-20");
    let copy_key = copy["key"].as_str().unwrap().to_string();
    assert_ne!(copy_key, original);
    let report = env.report(&[]).await;
    let orig = by_key(&report, &original);
    assert_eq!(orig.get("status"), "amended");
    // The trail beside the row: in the CSV's message, and in the JSON's resolution.
    let message = orig.get("message");
    assert!(message.starts_with("amended by bob at 20"), "{message}");
    assert!(message.contains(&copy_key), "{message}");
    assert!(message.ends_with(": coupon misread"), "{message}");
    let json = json_rows(&env).await;
    let orig = json.iter().find(|r| r["key"] == original.as_str()).unwrap();
    let resolution = orig["resolution"].as_str().unwrap();
    assert!(resolution.starts_with("amend by bob at "), "{resolution}");
    assert!(
        resolution.contains(&format!("as {copy_key}: coupon misread")),
        "{resolution}"
    );
    assert_eq!(env.sandbox.stats().puts, puts + 1);
    assert_eq!(logged(&env, 7, &copy_key), 1);

    // Amended once: again is refused; the same file again sends nothing; all is settled.
    let r = env.run(&["amend", &original, "--loan", "LN000007"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = env.run(&import).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().puts, puts + 1);
    assert_eq!(logged(&env, 7, &copy_key), 1);
    let runs = env.run(&["runs"]).await;
    assert!(
        runs.stdout
            .lines()
            .any(|l| l.split('\t').nth(1) == Some("amend")),
        "{}",
        runs.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_wrongly_typed_payment_is_amended_and_a_posted_one_refused() {
    let env = env().await;
    let file = env.write(
        "p.csv",
        "loan,amount,date,reference,payment_type_id\n5000,25.00,2026-11-20,F1,1\n3,12.00,2026-11-20,T1,9\n4,8.00,2026-11-20,P1,1\n",
    );
    let r = env
        .run(&["import", "--source", "bank_csv", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    let key_of = |reference: &str| {
        report
            .iter()
            .find(|r| r.get("reference") == reference)
            .unwrap()
            .get("key")
            .to_string()
    };
    let (failed, wrong_type, posted) = (key_of("F1"), key_of("T1"), key_of("P1"));
    assert_eq!(by_key(&report, &failed).get("status"), "failed");
    assert_eq!(by_key(&report, &wrong_type).get("status"), "rejected");

    let r = env.run(&["amend", &posted, "--loan", "5"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--move"), "{}", r.stderr);
    // Nothing to correct is no amend.
    let r = env.run(&["amend", &failed]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);

    let r = env.run(&["amend", &failed, "--loan", "50"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = env
        .run(&["amend", &wrong_type, "--payment-type", "2"])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    for (original, loan, type_id) in [(&failed, 50, 1), (&wrong_type, 3, 2)] {
        assert_eq!(by_key(&report, original).get("status"), "amended");
        let copy = copy_of(&env, original).await;
        assert_eq!(copy["status"], "posted");
        assert_eq!(copy["payment_type_id"], type_id);
        assert_eq!(logged(&env, loan, copy["key"].as_str().unwrap()), 1);
    }
    assert_eq!(env.sandbox.payments().len(), 3);
    assert_eq!(env.run(&["check"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_return_is_amended_with_its_original_and_reversed_once() {
    let env = env().await;
    let payments = env.write(
        "payments.csv",
        "loan,amount,date,reference\n5,40.00,2026-11-10,\n5,40.00,2026-11-12,\n",
    );
    let r = env
        .run(&["import", "--source", "bank_csv", payments.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let returns = env.write(
        "returns.csv",
        "loan,amount,date,return_code\n5,40.00,2026-11-24,R01\n",
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
    let report = env.report(&[]).await;
    let ret = report.iter().find(|r| r.get("kind") == "return").unwrap();
    assert_eq!(ret.get("status"), "unmatched");
    let ret_key = ret.get("key").to_string();
    let second = report
        .iter()
        .find(|r| r.get("date") == "2026-11-12")
        .unwrap()
        .get("key")
        .to_string();
    // A key that is not a posted payment of that loan and amount leaves it unmatched.
    let r = env.run(&["amend", &ret_key, "--original", &ret_key]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().posts, 0);

    let r = env
        .run(&[
            "amend",
            &ret_key,
            "--original",
            &second,
            "--note",
            "bank letter",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().posts, 1);
    let report = env.report(&[]).await;
    assert_eq!(by_key(&report, &ret_key).get("status"), "posted");
    assert_eq!(by_key(&report, &ret_key).get("original_key"), second);
    assert_eq!(by_key(&report, &second).get("status"), "reversed");
    let reversed: Vec<_> = env
        .sandbox
        .payments()
        .into_iter()
        .filter(|p| p.reversal.is_some())
        .collect();
    assert_eq!(reversed.len(), 1);
    assert!(reversed[0].info.contains(&second));
    // Done once: again is refused and sends nothing.
    let r = env.run(&["amend", &ret_key, "--original", &second]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(env.sandbox.stats().posts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corrections_file_is_the_sources_own_columns_and_imports_once_corrected() {
    let env = env().await;
    env.add_settings(
        "\n[sources.branch]\nformat = \"csv\"\nloan = \"id\"\n[sources.branch.columns]\nloan = \"Loan Number\"\namount = \"Amt\"\n",
    );
    let file = env.write(
        "branch.csv",
        "Loan Number,Amt,date,reference,payment_type_id\n3,10.00,2026-11-20,B1,\n4,12;50,2026-11-20,B2,\n6,7.00,2026-11-20,B3,9\n",
    );
    let r = env
        .run(&["import", "--source", "branch", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let r = env.run(&["report", "--rejected", "--format", "csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Loan Number,Amt,date,reference,payment_method_id,payment_type_id,extra,info,error"
    );
    let bad_amount = lines.next().unwrap();
    assert!(
        bad_amount.starts_with("4,12;50,2026-11-20,B2,,,,,"),
        "{bad_amount}"
    );
    assert!(bad_amount.contains("amount"), "{bad_amount}");
    let bad_type = lines.next().unwrap();
    assert!(
        bad_type.starts_with("6,7.00,2026-11-20,B3,,9,,,"),
        "{bad_type}"
    );
    assert_eq!(lines.next(), None, "only the rejected rows");

    // Corrected in a spreadsheet, imported again through the same source.
    let corrected = r
        .stdout
        .replace("4,12;50,", "4,12.50,")
        .replace("B3,,9,", "B3,,2,");
    let corrected = env.write("corrected.csv", &corrected);
    let puts = env.sandbox.stats().puts;
    let r = env
        .run(&["import", "--source", "branch", corrected.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().puts, puts + 2);
    assert!(
        env.sandbox
            .payments()
            .iter()
            .any(|p| p.loan_id == 4 && p.amount == "12.50")
    );

    // The corrections file is a CSV.
    let r = env.run(&["report", "--rejected", "--format", "json"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_moves_finished_and_refused_files_and_a_crash_before_the_move_is_harmless() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new().await;
    let archive = env.path("archive");
    let done = archive.join("done").join(crate::util::TODAY);
    let payments = "loan,amount,date,reference\n3,10.00,2026-11-20,A\n4,11.00,2026-11-20,B\n";
    let file = env.write("bank.csv", payments);
    let (path, dir) = (file.to_str().unwrap(), archive.to_str().unwrap());

    // Killed once the run's outcome is committed, before the move: the file stays.
    let (r, status) = env
        .run_with_env(
            &[("PAYIMPORT_CRASH_AT", "archive")],
            &["import", "--archive", dir, path],
        )
        .await;
    assert_eq!(status.signal(), Some(9), "{}\n{}", r.stdout, r.stderr);
    assert!(file.exists());
    assert_eq!(env.sandbox.stats().puts, 2);
    // The next run finds it an echo: nothing sent, and now it is moved.
    let r = env.run(&["import", "--archive", dir, path]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().puts, 2);
    assert_eq!(env.sandbox.payments().len(), 2);
    assert!(!file.exists());
    assert_eq!(
        std::fs::read_to_string(done.join("bank.csv")).unwrap(),
        payments
    );

    // The same name again is never overwritten; a refused file goes to failed/.
    let again = env.write(
        "bank.csv",
        "loan,amount,date,reference\n5,1.00,2026-11-20,C\n",
    );
    let broken = env.write("broken.csv", "no header we know\n1\n");
    let r = env
        .run(&[
            "import",
            "--archive",
            dir,
            again.to_str().unwrap(),
            broken.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(done.join("bank.csv")).unwrap(),
        payments
    );
    assert!(done.join("bank.1.csv").exists());
    assert!(
        archive
            .join("failed")
            .join(crate::util::TODAY)
            .join("broken.csv")
            .exists()
    );
    assert!(!again.exists() && !broken.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corrections_file_lists_a_bank_formats_rows_with_their_fields() {
    let env = Env::new().await;
    env.add_settings(
        "\n[sources.lockbox]\nformat = \"lockbox\"\nloan = \"display_id\"\ncontrol_totals = \"enforce\"\n",
    );
    // The demo's lockbox: one coupon (LN009990) names no loan.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/lockbox.lbx");
    let r = env.run(&["import", "--source", "lockbox", file]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let r = env.run(&["report", "--rejected", "--format", "csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "file,line,key,loan,amount,date,reference,error");
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[1].contains(",LN009990,500.00,2026-11-18,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("unidentified"), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amend_killed_or_timed_out_still_logs_its_copy_exactly_once() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new().await;
    let file = env.write(
        "p.csv",
        "loan,amount,date,reference\n5000,25.00,2026-11-20,F1\n5000,26.00,2026-11-20,F2\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    let (first, second) = (report[0].get("key"), report[1].get("key"));

    // Killed with the copy claimed for sending: the next run reads it back, then sends it.
    let (r, status) = env
        .run_with_env(
            &[("PAYIMPORT_CRASH_AT", "claimed")],
            &["amend", first, "--loan", "50"],
        )
        .await;
    assert_eq!(status.signal(), Some(9), "{}\n{}", r.stdout, r.stderr);
    // (Run 2 is the amend's; `second` still waits, failed, in run 1.)
    let r = env.run(&["retry", "--run", "2"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // LoanPro logs the copy but answers 500: read back, found, not sent again.
    env.sandbox
        .push_faults([payimport::sandbox::Fault::ErrorAfterCommit]);
    let r = env.run(&["amend", second, "--loan", "51"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert_eq!(payments.iter().filter(|p| p.loan_id == 50).count(), 1);
    assert_eq!(payments.iter().filter(|p| p.loan_id == 51).count(), 1);
    assert_eq!(env.run(&["check"]).await.code, 0);
}
