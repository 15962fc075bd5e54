//! `payimport reconcile` (docs/report.md): LoanPro's side compared with the ledger, each kind of
//! drift staged by hand in the sandbox, found, stored in the ledger, shown by `report`, exit 1;
//! nothing written to LoanPro.

use crate::util::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_each_kind_of_drift_and_writes_nothing_to_loanpro() {
    let env = Env::new().await;
    let file = env.write(
        "night.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n2,20.00,2026-11-20,b\n3,30.00,2026-11-20,c\n4,40.00,2026-11-20,d\n5,50.00,2026-11-20,e\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Nothing changed by hand: no drift, exit 0.
    let r = env.run(&["reconcile"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("5 loan(s), 5 payment(s)") && r.stdout.contains("no drift"),
        "{}",
        r.stdout
    );

    // Someone works in LoanPro: deletes loan 1's payment (over the admin route), changes loan
    // 2's amount and loan 3's date, reverses loan 4's; and a payment with a key this ledger
    // never made lands on loan 5 (another ledger, or a copy, posted it).
    let id = |loan: u64| {
        env.sandbox
            .payments()
            .iter()
            .find(|p| p.loan_id == loan)
            .map(|p| p.id)
            .unwrap()
    };
    let deleted = payimport::loanpro::http_client_builder()
        .build()
        .unwrap()
        .delete(format!(
            "http://{}/__sandbox/payments/{}",
            env.sandbox.addr(),
            id(1)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    env.sandbox.edit_payment(id(2), Some("25.00"), None);
    env.sandbox.edit_payment(id(3), None, Some("2026-11-19"));
    env.sandbox.reverse_payment(id(4), "payment.reverse.other");
    env.sandbox.add_payment(
        5,
        "5.00",
        "2026-11-20",
        "2026-11-20 bank_csv z [k:00000000000000ff]",
    );
    let before = env.sandbox.stats();

    let r = env.run(&["reconcile"]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    for (kind, loan) in [
        ("missing", 1),
        ("amount_changed", 2),
        ("date_changed", 3),
        ("reversed_in_loanpro", 4),
        ("unknown_key", 5),
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.contains(kind) && l.contains(&format!("loan {loan},"))),
            "{kind} on loan {loan}:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("5 difference(s)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("LoanPro 25.00") && r.stdout.contains("ledger 20.00"),
        "{}",
        r.stdout
    );
    // Read only: GETs, no PUT and no reversal.
    let after = env.sandbox.stats();
    assert_eq!(
        (after.puts, after.reversals),
        (before.puts, before.reversals)
    );

    // Stored in the ledger and shown by report (JSON and HTML).
    let json = env.run(&["report", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let rec = &json["reconciliation"];
    assert_eq!(rec["drift_count"], 5, "{rec}");
    assert_eq!(rec["drift"].as_array().unwrap().len(), 5);
    let html = env.run(&["report", "--format", "html"]).await.stdout;
    assert!(
        html.contains("id=\"drift\"") && html.contains("unknown_key"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_only_looks_at_its_range() {
    let env = Env::new().await;
    let file = env.write(
        "n.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    let id = env.sandbox.payments()[0].id;
    env.sandbox.delete_payment(id);
    // Logged today: a range that ended before today compares nothing.
    let r = env
        .run(&[
            "reconcile",
            "--since",
            "2020-01-01",
            "--until",
            "2020-01-31",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("0 loan(s)"), "{}", r.stdout);
    let r = env.run(&["reconcile"]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("missing"), "{}", r.stdout);
}
