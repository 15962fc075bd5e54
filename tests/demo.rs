//! `payimport demo` tells its story on a fresh folder: payments posted once (a timeout read back,
//! a bad row rejected), nothing sent on the rerun, two returns reversed, the report written to
//! `payimport-demo/`, and no temporary path in anything it prints.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_the_night_and_writes_its_report_in_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        // Twice: a second demo in the same folder starts a fresh story.
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
            .arg("demo")
            .current_dir(dir.path())
            .env_remove("PAYIMPORT_SETTINGS")
            .env_remove("PAYIMPORT_TODAY")
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        for expected in [
            "== 1. The night's payments",
            "2 rows rejected with their messages",
            "the coupon is posted on loan LN000999",
            "has more than two decimals",
            "payimport import: run 4, source camt, 1 file(s)",
            "debit entries totalling 15.00: 1 payment detail(s) skipped, not sent",
            "1 row(s) on 1 loan(s) read back from LoanPro: 1 found there, 0 sent again",
            "LoanPro received 0 new payment(s)",
            "2 payment(s) reversed in LoanPro, once each",
            "every file ties out to the cent",
            "not a payment: ach.bai line 7, type code 475, 25.00",
            "1 difference(s)",
            "is listed as drift",
            "payimport-demo/report.html",
            "demo: done.",
        ] {
            assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
        }
        let temp = std::env::temp_dir();
        let temp = temp.to_str().unwrap().trim_end_matches('/');
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains(temp),
                "a temporary path was printed:\n{text}"
            );
            assert!(
                !text.contains(dir.path().to_str().unwrap()),
                "an absolute path was printed:\n{text}"
            );
        }
        let html = std::fs::read_to_string(dir.path().join("payimport-demo/report.html")).unwrap();
        assert!(html.contains("reversed"), "the report shows the reversals");
        assert!(
            html.contains("Returns and the payments they reverse") && html.contains("R01"),
            "the report lists the returns with their originals"
        );
        assert!(dir.path().join("payimport-demo/report.csv").exists());
        assert!(
            html.contains("id=\"drift\"") && html.contains("missing"),
            "the report shows the drift reconcile found"
        );
    }
}
