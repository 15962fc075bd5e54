//! The tie-out (docs/report.md): every cent of a bank file accounted for, each row once at its
//! latest state, in the CSV `--by file` table, the JSON `tieout` and the HTML page alike.

use std::path::Path;

use crate::util::{Env, parse_report};

/// `payimport --settings SETTINGS ARGS` in `dir`; stdout, and the exit code.
async fn payimport(dir: &Path, args: &[&str]) -> (String, i32) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
        .args(args)
        .current_dir(dir)
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_night_ties_out_to_the_cent_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (out, code) = payimport(dir.path(), &["demo"]).await;
    assert_eq!(code, 0, "{out}");
    let report = |args: &'static [&'static str]| {
        let mut all = vec!["--settings", "payimport-demo/payimport.toml", "report"];
        all.extend_from_slice(args);
        let dir = dir.path().to_path_buf();
        async move { payimport(&dir, &all).await }
    };

    // CSV --by file: one line per file and deposit, every one balancing.
    let (csv, code) = report(&["--format", "csv", "--by", "file"]).await;
    assert_eq!(code, 0, "{csv}");
    let lines = parse_report(&csv);
    let files: Vec<_> = lines
        .iter()
        .filter(|l| l.get("deposit").is_empty())
        .collect();
    assert_eq!(
        files.len(),
        5,
        "bank.csv, lockbox.lbx, ach.bai, statement.053.xml, returns.csv:\n{csv}"
    );
    for l in &lines {
        assert_eq!(l.get("balances"), "yes", "{csv}");
        assert_eq!(l.get("difference"), "0.00", "{csv}");
    }
    let file = |name: &str| {
        files
            .iter()
            .find(|l| l.get("file").ends_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{csv}"))
    };
    // The BAI2 file states 1,787.16: 1,762.16 posted and the 25.00 detail of type code 475.
    let bai = file("ach.bai");
    assert_eq!(
        (
            bai.get("stated"),
            bai.get("posted"),
            bai.get("not_payments")
        ),
        ("1787.16", "1762.16", "25.00")
    );
    // The lockbox coupon the demo amends (run 4) counts once, where its copy was posted.
    let lockbox = file("lockbox.lbx");
    assert_eq!(
        (
            lockbox.get("stated"),
            lockbox.get("posted"),
            lockbox.get("open")
        ),
        ("3473.90", "3473.90", "0.00")
    );
    // Reruns add nothing: bank.csv was imported twice (runs 1 and 6), its total counted once,
    // and the two returns show as reversed since, against the net.
    let bank = file("bank.csv");
    assert_eq!(bank.get("runs"), "1 6");
    assert_eq!(
        (
            bank.get("stated"),
            bank.get("posted"),
            bank.get("already_posted")
        ),
        ("9458.94", "9458.94", "0.00")
    );
    assert_eq!(
        (bank.get("reversed"), bank.get("net")),
        ("1484.50", "7974.44")
    );
    // Only the rerun selected: the same file, the same totals.
    let (rerun, _) = report(&["--format", "csv", "--by", "file", "--run", "6"]).await;
    let rerun = parse_report(&rerun);
    assert_eq!(rerun.len(), 1);
    assert_eq!(rerun[0].get("posted"), "9458.94");
    assert_eq!(rerun[0].get("runs"), "6");

    // JSON carries the same tie-out.
    let (json, code) = report(&["--format", "json"]).await;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let tieout = json["tieout"].as_array().unwrap();
    assert_eq!(tieout.len(), 5);
    for f in tieout {
        assert_eq!(f["balances"], true, "{f}");
        assert_eq!(f["stated"], f["accounted"], "{f}");
    }
    let bai = tieout
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("ach.bai"))
        .unwrap();
    assert_eq!(bai["not_payments"][0]["code"], "475");
    assert_eq!(bai["not_payments"][0]["amount"], "25.00");

    // HTML: the tie-out first, every file balancing, then what needs attention once.
    let (html, code) = report(&["--format", "html"]).await;
    assert_eq!(code, 0);
    let tie = html.find("id=\"tieout\"").expect("a tie-out table");
    let attention = html.find("id=\"attention\"").expect("an attention table");
    assert!(tie < attention, "the tie-out comes first");
    assert_eq!(html.matches("data-balances=\"no\"").count(), 0, "{html}");
    assert_eq!(html.matches("tr class=\"file\"").count(), 5, "{html}");
    assert!(html.contains("475") && html.contains("25.00"));
    // The bad row of bank.csv was seen by runs 1 and 5: one open problem, listed once.
    let returns_at = html.find("id=\"returns\"").expect("returns");
    let listed = html[attention..returns_at].matches("<tr data-key=").count();
    assert_eq!(listed, 1, "{html}");
    // The returns beside their originals: file, line, date, reference, amount, state.
    let returns = &html[returns_at..];
    assert!(
        returns.contains("bank.csv:2, 2026-11-19, ref 1040, 1234.50")
            && returns.contains("reversed"),
        "{returns}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_count_at_their_amount_and_a_retry_changes_no_total() {
    let env = Env::new().await;
    // Loan 5000 does not exist: failed, then retried (still failed); -20.00 rejected.
    let file = env.write(
        "night.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n2,-20.00,2026-11-20,b\n5000,7.00,2026-11-20,c\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let before = by_file(&env).await;
    let lines = parse_report(&before);
    assert_eq!(lines.len(), 1, "{before}");
    let l = &lines[0];
    assert_eq!(
        (
            l.get("stated"),
            l.get("posted"),
            l.get("rejected"),
            l.get("open")
        ),
        ("-3.00", "10.00", "-20.00", "7.00")
    );
    assert_eq!(l.get("balances"), "yes");
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let after = by_file(&env).await;
    let a = parse_report(&after);
    assert_eq!(a.len(), 1, "{after}");
    for col in ["stated", "posted", "rejected", "open", "balances"] {
        assert_eq!(a[0].get(col), l.get(col), "{col}: {before}\n{after}");
    }
    // The row export writes -20.00 as a number, not as text.
    let rows = env.run(&["report"]).await.stdout;
    assert!(rows.contains(",-20.00,"), "{rows}");
}

/// `report --format csv --by file` of the last night.
async fn by_file(env: &Env) -> String {
    let r = env
        .run(&["report", "--format", "csv", "--by", "file"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_is_open_an_amended_row_counts_once_on_its_copy_and_dismissed_apart() {
    let env = Env::new().await;
    let monday = env.write(
        "monday.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    let r = env.run(&["import", monday.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // 10.00 on loan 1 again (held: a possible duplicate of monday's), two payments on loans
    // that do not exist (failed), one that posts.
    let tuesday = env.write(
        "tuesday.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,b\n5000,7.00,2026-11-20,c\n5001,4.00,2026-11-20,d\n2,5.00,2026-11-20,e\n",
    );
    let r = env.run(&["import", tuesday.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let rows = env.report(&[]).await;
    let key_of = |reference: &str| {
        rows.iter()
            .find(|r| r.get("reference") == reference)
            .unwrap()
            .get("key")
            .to_string()
    };
    assert_eq!(
        rows.iter()
            .find(|r| r.get("reference") == "b")
            .unwrap()
            .get("status"),
        "held"
    );
    let r = env.run(&["amend", &key_of("c"), "--loan", "3"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = env
        .run(&["dismiss", &key_of("d"), "--note", "paid by wire"])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let csv = by_file(&env).await;
    let lines = parse_report(&csv);
    let t = lines
        .iter()
        .find(|l| l.get("file").ends_with("tuesday.csv"))
        .unwrap_or_else(|| panic!("{csv}"));
    // 26.00 stated = 12.00 posted (5.00, and 7.00 through the amended row's copy, once)
    // + 10.00 still open (held) + 4.00 settled elsewhere (dismissed).
    assert_eq!(
        (
            t.get("stated"),
            t.get("posted"),
            t.get("open"),
            t.get("dismissed"),
            t.get("rejected"),
            t.get("balances"),
        ),
        ("26.00", "12.00", "10.00", "4.00", "0.00", "yes"),
        "{csv}"
    );
    let m = lines
        .iter()
        .find(|l| l.get("file").ends_with("monday.csv"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(
        (m.get("posted"), m.get("balances")),
        ("10.00", "yes"),
        "{csv}"
    );
}
