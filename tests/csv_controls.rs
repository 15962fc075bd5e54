//! Control totals for CSV files (docs/report.md): `import --expect-count N --expect-total AMOUNT`, or a
//! `FILE.ctl` beside each file under `control_file = true`, checked like a bank trailer.

use crate::util::{Env, parse_report};

const NIGHT: &str = "loan,amount,date,reference\n1,10.00,2026-11-20,a\n2,20.50,2026-11-20,b\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_totals_refuse_a_csv_that_disagrees_and_pass_one_that_agrees() {
    let env = Env::new().await;
    let file = env.write("night.csv", NIGHT);
    let f = file.to_str().unwrap();
    let r = env
        .run(&[
            "import",
            "--expect-count",
            "2",
            "--expect-total",
            "30.00",
            f,
        ])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("file amount: stated 30.00, computed 30.50"),
        "{}",
        r.stderr
    );
    assert_eq!(
        env.sandbox.stats().puts,
        0,
        "nothing of a refused file is sent"
    );
    let r = env
        .run(&[
            "import",
            "--expect-count",
            "2",
            "--expect-total",
            "30.50",
            f,
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.stats().puts, 2);
    // The tie-out takes the expected total as the file's stated total.
    let t = env
        .run(&["report", "--format", "csv", "--by", "file", "--run", "2"])
        .await;
    let t = parse_report(&t.stdout);
    assert_eq!((t[0].get("stated"), t[0].get("balances")), ("30.50", "yes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_file_beside_the_csv_is_checked_under_the_sources_mode() {
    let env = Env::new().await;
    env.add_settings(
        "\n[sources.ctl_csv]\nformat = \"csv\"\nloan = \"id\"\ncontrol_file = true\ncontrol_totals = \"warn\"\n",
    );
    let file = env.write("night.csv", NIGHT);
    let f = file.to_str().unwrap();
    // No control file: the file is refused, naming the one it looked for.
    let r = env.run(&["import", "--source", "ctl_csv", f]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("night.csv.ctl"), "{}", r.stderr);
    // A control file that disagrees, under warn: imported, the mismatch logged and recorded.
    env.write(
        "night.csv.ctl",
        "# from the bank's portal\ncount = 3\ntotal = 30.50\n",
    );
    let r = env.run(&["import", "--source", "ctl_csv", f]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("control total does not match")
            && r.stderr.contains("stated 3, computed 2"),
        "{}",
        r.stderr
    );
    let json = env.run(&["report", "--format", "json"]).await.stdout;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let checks = &json["summary"][1]["files"][0]["control_checks"];
    assert_eq!(checks.as_array().unwrap().len(), 2, "{checks}");
}
