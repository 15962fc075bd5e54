//! Never twice, never the wrong way (SPEC §12, §8 rules 3–4, issue 19): the ways around the key
//! that could log a payment twice or reverse the wrong one, each counted in what the sandbox
//! (LoanPro) holds afterwards, not only in exit codes.

use crate::returns::{env as returns_env, import_payments};
use crate::util::Env;

/// Payments the sandbox holds, and how many of them are reversed.
fn held_by_loanpro(env: &Env) -> (usize, usize) {
    let payments = env.sandbox.payments();
    let voids = payments.iter().filter(|p| p.reversal.is_some()).count();
    (payments.len(), voids)
}

/// Rows the ledger holds (the report's lines).
async fn ledger_rows(env: &Env) -> usize {
    env.report(&[]).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_file_given_a_returns_source_is_refused_and_nothing_is_reversed() {
    let env = returns_env().await;
    let rows: String = (1..=20)
        .map(|i| format!("{i},{i}0.00,2026-11-10,CHK{i}\n"))
        .collect();
    import_payments(&env, &rows).await;
    assert_eq!(held_by_loanpro(&env), (20, 0));
    let staged = ledger_rows(&env).await;

    // The same payments file, imported by mistake with the returns source.
    let r = env
        .run(&["import", "--source", "returns_csv", "payments.csv"])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("\"returns_csv\""), "{said}");
    assert!(said.contains("\"return_code\""), "{said}");
    assert_eq!(held_by_loanpro(&env), (20, 0), "not one payment reversed");
    assert_eq!(ledger_rows(&env).await, staged, "nothing staged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returns_list_given_a_payments_source_is_refused_and_nothing_is_logged() {
    let env = returns_env().await;
    import_payments(&env, "7,250.00,2026-11-10,1042\n").await;
    for header in [
        "loan,amount,date,return_code",
        "loan,amount,date,reference,original_key",
    ] {
        let file = env.write(
            "returned.csv",
            &format!("{header}\n7,250.00,2026-11-24,R01\n"),
        );
        let r = env
            .run(&["import", "--source", "bank_csv", file.to_str().unwrap()])
            .await;
        assert_eq!(r.code, 2, "{header}\n{}\n{}", r.stdout, r.stderr);
        let said = format!("{}{}", r.stdout, r.stderr);
        assert!(said.contains("\"bank_csv\""), "{said}");
        let column = header.rsplit(',').next().unwrap();
        assert!(said.contains(&format!("\"{column}\"")), "{said}");
        assert_eq!(held_by_loanpro(&env), (1, 0), "{header}: no new payment");
    }
    assert_eq!(ledger_rows(&env).await, 1, "nothing staged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_column_missing_from_the_header_refuses_the_file() {
    let env = Env::new().await;
    env.add_settings("[sources.bank_csv.columns]\nreference = \"Trace Number\"\n");
    let rows = "1,10.00,2026-11-20,T1\n2,20.00,2026-11-20,T2\n3,30.00,2026-11-20,T3\n4,40.00,2026-11-20,T4\n5,50.00,2026-11-20,T5\n";
    let first = env.write("monday.csv", &format!("loan,amount,date,Trace Number\n{rows}"));
    let r = env.run(&["import", first.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env).0, 5);

    // The bank renamed the column: the same five payments, their references unread.
    let again = env.write("again.csv", &format!("loan,amount,date,Trace No\n{rows}"));
    let r = env.run(&["import", again.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("columns.reference"), "{said}");
    assert!(said.contains("\"Trace No\""), "the header is listed: {said}");
    assert_eq!(held_by_loanpro(&env).0, 5, "not logged a second time");
    assert_eq!(ledger_rows(&env).await, 5, "nothing staged");
}

/// Sets a file's modification time `secs` seconds into the past.
fn age(path: &std::path::Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_still_being_written_is_not_read_and_the_complete_one_logs_once() {
    let env = Env::new().await;
    // The default of 60 seconds, as an operator's settings have it.
    let text = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(&env.settings, text.replace("min_file_age_secs = 0\n", "")).unwrap();

    // A transfer in progress when cron starts: the file is cut mid-line.
    let path = env.write("bank.csv", "loan,amount,date,reference\n7,200.00,2026-11-20,1");
    let r = env.run(&["import", path.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("may still be being written"), "{said}");
    assert!(said.contains("--min-file-age 0"), "{said}");
    assert_eq!(held_by_loanpro(&env).0, 0);
    assert_eq!(ledger_rows(&env).await, 0, "nothing staged");

    // The next night the file is complete and old enough: logged once, with its reference.
    std::fs::write(&path, "loan,amount,date,reference\n7,200.00,2026-11-20,1042\n").unwrap();
    age(&path, 3600);
    let r = env.run(&["import", path.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 1);
    assert!(payments[0].info.contains("1042"), "{}", payments[0].info);

    // `--min-file-age 0` imports a fresh file now.
    let fresh = env.write("fresh.csv", "loan,amount,date,reference\n8,5.00,2026-11-20,9\n");
    let r = env
        .run(&["import", "--min-file-age", "0", fresh.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env).0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changes_while_it_is_read_is_refused_whole() {
    let env = Env::new().await;
    let path = env.write("growing.csv", &crate::util::valid_csv(100_000));
    let mut child = env.spawn(&["import", path.to_str().unwrap()]);
    // The transfer goes on writing while payimport reads: a row every few milliseconds.
    let writer = {
        let path = path.clone();
        tokio::spawn(async move {
            for i in 0.. {
                use std::io::Write;
                let mut f = std::fs::File::options().append(true).open(&path).unwrap();
                writeln!(f, "{},1.00,2026-11-20,late{i}", 1 + i % 1000).unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    let status = child.wait().await.unwrap();
    writer.abort();
    let mut stdout = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("changed while it was read"), "{stdout}");
    assert_eq!(held_by_loanpro(&env).0, 0, "nothing sent");
    assert_eq!(ledger_rows(&env).await, 0, "nothing staged");
}
