//! Never twice, never the wrong way (docs/states.md, §8 rules 3–4, issue 19): the ways around the key
//! that could log a payment twice or reverse the wrong one, each counted in what the sandbox
//! (LoanPro) holds afterwards, not only in exit codes.

use crate::returns::{env as returns_env, import_payments, import_returns};
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
    let first = env.write(
        "monday.csv",
        &format!("loan,amount,date,Trace Number\n{rows}"),
    );
    let r = env.run(&["import", first.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env).0, 5);

    // The bank renamed the column: the same five payments, their references unread.
    let again = env.write("again.csv", &format!("loan,amount,date,Trace No\n{rows}"));
    let r = env.run(&["import", again.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("columns.reference"), "{said}");
    assert!(
        said.contains("\"Trace No\""),
        "the header is listed: {said}"
    );
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
    let path = env.write(
        "bank.csv",
        "loan,amount,date,reference\n7,200.00,2026-11-20,1",
    );
    let r = env.run(&["import", path.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("may still be being written"), "{said}");
    assert!(said.contains("--min-file-age 0"), "{said}");
    assert_eq!(held_by_loanpro(&env).0, 0);
    assert_eq!(ledger_rows(&env).await, 0, "nothing staged");

    // The next night the file is complete and old enough: logged once, with its reference.
    std::fs::write(
        &path,
        "loan,amount,date,reference\n7,200.00,2026-11-20,1042\n",
    )
    .unwrap();
    age(&path, 3600);
    let r = env.run(&["import", path.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 1);
    assert!(payments[0].info.contains("1042"), "{}", payments[0].info);

    // `--min-file-age 0` imports a fresh file now.
    let fresh = env.write(
        "fresh.csv",
        "loan,amount,date,reference\n8,5.00,2026-11-20,9\n",
    );
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

/// The report's rows for a key.
async fn row_of(env: &Env, key: &str) -> crate::util::Record {
    env.report(&[])
        .await
        .into_iter()
        .rfind(|r| r.get("key") == key)
        .unwrap_or_else(|| panic!("no row with key {key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_possible_duplicate_is_held_until_released_and_then_sent_once() {
    let env = Env::new().await;
    let monday = env.write(
        "monday.csv",
        "loan,amount,date,reference\n7,250.00,2026-11-20,CHK1\n",
    );
    let r = env.run(&["import", monday.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let first = crate::util::key_of(&env.sandbox.payments()[0].info).to_string();

    // The bank delivers the same payment again in another file, under another reference.
    let tuesday = env.write(
        "tuesday.csv",
        "loan,amount,date,reference\n7,250.00,2026-11-20,TR555\n",
    );
    let r = env.run(&["import", tuesday.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        crate::util::summary_count(&r.stdout, "held"),
        Some(1),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&first),
        "the summary names the row it repeats: {}",
        r.stdout
    );
    assert_eq!(env.sandbox.payments().len(), 1, "not sent");
    let report = env.report(&[]).await;
    let held = report.iter().find(|r| r.get("status") == "held").unwrap();
    assert!(
        held.get("message").contains(&first),
        "{}",
        held.get("message")
    );
    assert!(
        held.get("message").contains("monday.csv:2"),
        "{}",
        held.get("message")
    );
    let key = held.get("key").to_string();

    // `retry` leaves it; `release` sends it, once.
    env.run(&["retry"]).await;
    let r = env.run(&["retry", &key]).await;
    assert!(r.stdout.contains("payimport release"), "{}", r.stdout);
    assert_eq!(
        env.sandbox.payments().len(),
        1,
        "retry never sends a held row"
    );
    let r = env.run(&["release", &key]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 2);
    assert_eq!(row_of(&env, &key).await.get("status"), "posted");
    let r = env.run(&["release", &key]).await;
    assert!(r.stdout.contains("nothing to release"), "{}", r.stdout);
    assert_eq!(env.sandbox.payments().len(), 2, "released once");
    // The same file again: nothing more.
    let r = env.run(&["import", tuesday.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_reference_in_one_file_is_held_but_twins_are_not() {
    let env = Env::new().await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n\
         8,100.00,2026-11-21,CHK9\n\
         8,100.00,2026-11-21,CHK9\n\
         9,50.00,2026-11-21,\n\
         9,50.00,2026-11-21,\n\
         10,60.00,2026-11-21,A\n\
         10,60.00,2026-11-21,B\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        crate::util::summary_count(&r.stdout, "held"),
        Some(1),
        "{}",
        r.stdout
    );
    assert_eq!(
        crate::util::summary_count(&r.stdout, "posted"),
        Some(5),
        "{}",
        r.stdout
    );
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 5);
    assert_eq!(payments.iter().filter(|p| p.loan_id == 8).count(), 1);
    let report = env.report(&[]).await;
    let held = report.iter().find(|r| r.get("status") == "held").unwrap();
    assert_eq!(held.get("line"), "3");
    assert!(
        held.get("message").contains("bank.csv:2"),
        "{}",
        held.get("message")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_post_sends_a_possible_duplicate() {
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.settings).unwrap();
    let text = text.replace(
        "info = \"{date} {source} {reference}\"\n",
        "info = \"{date} {source} {reference}\"\nduplicates = \"post\"\n",
    );
    std::fs::write(&env.settings, text).unwrap();
    let a = env.write(
        "a.csv",
        "loan,amount,date,reference\n7,250.00,2026-11-20,CHK1\n",
    );
    let b = env.write(
        "b.csv",
        "loan,amount,date,reference\n7,250.00,2026-11-20,TR555\n",
    );
    for f in [a, b] {
        let r = env.run(&["import", f.to_str().unwrap()]).await;
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    assert_eq!(env.sandbox.payments().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ledger_reads_loanpro_first_and_logs_nothing_twice() {
    let env = Env::new().await;
    // The default, as an operator's settings have it.
    let text = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(&env.settings, text.replace("verify = \"never\"\n", "")).unwrap();
    // Last night's file: 120 payments on one loan (three pages in LoanPro) and two on another.
    let mut rows = String::from("loan,amount,date,reference\n");
    for i in 0..120 {
        rows.push_str(&format!("7,{}.00,2026-11-20,CHK{i}\n", 10 + i));
    }
    rows.push_str("8,5.00,2026-11-20,A\n8,6.00,2026-11-20,B\n");
    let file = env.write("last-night.csv", &rows);
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(env.sandbox.payments().len(), 122);
    assert!(
        r.stdout.contains("verified: 2 loan(s)"),
        "a new ledger: {}",
        r.stdout
    );

    // The ledger is lost (a new host, a deleted file): last night's file runs again.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(env.path(&format!("ledger.sqlite{suffix}")));
    }
    let puts = env.sandbox.stats().puts;
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verified: 2 loan(s)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("122 payment(s) found there"),
        "{}",
        r.stdout
    );
    assert_eq!(env.sandbox.stats().puts, puts, "nothing sent");
    assert_eq!(
        env.sandbox.payments().len(),
        122,
        "each payment once in LoanPro"
    );
    let report = env.report(&[]).await;
    assert!(report.iter().all(|r| r.get("status") == "already_posted"));
    assert!(report[0].get("message").contains("found in LoanPro"));

    // Once the ledger has posted a payment, a night's import reads nothing first.
    let next = env.write(
        "next.csv",
        "loan,amount,date,reference\n9,1.00,2026-11-21,N\n",
    );
    let r = env.run(&["import", next.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r2 = env.run(&["import", next.to_str().unwrap()]).await;
    assert_eq!(r2.code, 0);
    assert!(!r2.stdout.contains("verified:"), "{}", r2.stdout);
    assert_eq!(env.sandbox.payments().len(), 123);
}

/// A NACHA return file of one entry (R01) for `loan`, `cents`, effective 2026-11-24.
fn nacha_return(loan: &str, cents: i64) -> String {
    use payimport::read::nacha::{ReturnEntry, return_file};
    return_file(
        "261124",
        &[ReturnEntry {
            loan: loan.into(),
            cents,
            code: "R01".into(),
            original_trace: "091000010000042".into(),
            trace: "091000019999999".into(),
            notice: false,
        }],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_named_by_key_settles_the_ambiguous_return_and_retry_never_reverses_the_other() {
    let env = returns_env().await;
    import_payments(&env, "5,40.00,2026-11-10,\n5,40.00,2026-11-10,\n").await;
    let ach = env.write("returns.ach", &nacha_return("5", 4_000));
    let r = env
        .run(&["import", "--source", "ach_returns", ach.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (2, 0), "ambiguous: nothing reversed");

    // As the README says: a returns CSV row naming twin B by key.
    let report = env.report(&[]).await;
    let twins: Vec<String> = report
        .iter()
        .filter(|r| r.get("kind") == "payment")
        .map(|r| r.get("key").to_string())
        .collect();
    let r = import_returns(
        &env,
        "named.csv",
        &format!("5,40.00,2026-11-24,R01,,{}\n", twins[1]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (2, 1));
    let report = env.report(&[]).await;
    let nacha_row = report
        .iter()
        .find(|r| r.get("kind") == "return" && r.get("file").ends_with("returns.ach"))
        .unwrap();
    assert_eq!(
        nacha_row.get("status"),
        "already_posted",
        "settled by the named one"
    );

    // Neither retry nor the NACHA file again reverses twin A: one bounce, one reversal.
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = env
        .run(&["import", "--source", "ach_returns", ach.to_str().unwrap()])
        .await;
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (2, 1));
    assert_eq!(row_of(&env, &twins[0]).await.get("status"), "posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_return_is_never_matched_by_elimination() {
    let env = returns_env().await;
    import_payments(&env, "5,40.00,2026-11-10,\n5,40.00,2026-11-10,\n").await;
    let ach = env.write("returns.ach", &nacha_return("5", 4_000));
    env.run(&["import", "--source", "ach_returns", ach.to_str().unwrap()])
        .await;
    // Twin B reversed by another return (named by key, different code): A is "the only one
    // left", which is still a guess.
    let report = env.report(&[]).await;
    let b = report
        .iter()
        .filter(|r| r.get("kind") == "payment")
        .nth(1)
        .unwrap()
        .get("key")
        .to_string();
    let r = import_returns(&env, "other.csv", &format!("5,40.00,2026-11-25,R09,,{b}\n")).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (2, 1));
    let report = env.report(&[]).await;
    let nacha_row = report
        .iter()
        .find(|r| r.get("file").ends_with("returns.ach"))
        .unwrap();
    assert_eq!(
        nacha_row.get("status"),
        "unmatched",
        "another code: not settled"
    );
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("not matched again by elimination"),
        "{}",
        r.stdout
    );
    assert_eq!(held_by_loanpro(&env), (2, 1), "twin A not reversed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_naming_another_payment_or_none_reverses_nothing() {
    let env = returns_env().await;
    import_payments(
        &env,
        "6,300.00,2026-09-15,CHK-MARCH\n6,300.00,2026-10-15,CHK-APRIL\n4,99.00,2026-10-20,CHK42-OCT\n",
    )
    .await;
    let r = import_returns(&env, "march.csv", "6,300.00,2026-11-20,R01,CHK-MARCH,\n").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (3, 1));

    // CHK-MARCH again (already reversed): never April's payment in its place.
    let r = import_returns(
        &env,
        "march-again.csv",
        "6,300.00,2026-11-24,R01,CHK-MARCH,\n",
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("reversed already"), "{}", r.stdout);
    // CHK42-NOV, not imported yet: never October's.
    let r = import_returns(&env, "nov.csv", "4,99.00,2026-11-24,R01,CHK42-NOV,\n").await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (3, 1), "nothing more reversed");
    let r = env.run(&["retry"]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(held_by_loanpro(&env), (3, 1), "nor by retry");
    let report = env.report(&[]).await;
    for key in ["CHK-APRIL", "CHK42-OCT"] {
        let p = report.iter().find(|r| r.get("reference") == key).unwrap();
        assert_eq!(p.get("status"), "posted", "{key}");
    }
}
