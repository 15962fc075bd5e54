//! Stopping a run from outside (issue 14 items 4 and 5, issue 15 item 5): SIGTERM, SIGINT and
//! SIGHUP stop it gracefully and a second signal at once; a ledger that cannot be written stops
//! it with exit 2 instead of hanging; `runs` tells a running run from an interrupted one. The
//! real binary, signalled with `kill`, against a sandbox whose every PUT commits slowly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use payimport::sandbox::{Faults, SandboxConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::util::{Env, Limits, Record, key_of, parse_report, summary_count, valid_csv};

/// Generous: the machine running the tests may be busy. Nothing asserts on speed.
const DEADLINE: Duration = Duration::from_secs(120);

fn kill(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}: {status:?}");
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < DEADLINE, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A world where every PUT takes `slow_secs` before LoanPro records and answers it.
async fn slow_env(slow_secs: f64, settle_secs: f64) -> Env {
    let config = SandboxConfig {
        faults: Faults {
            slow_commit: 1.0,
            slow_secs,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let limits = Limits {
        concurrency: 2,
        timeout_secs: 30.0,
        settle_secs,
        ..Limits::default()
    };
    Env::with(config, limits).await
}

/// How many times each key is in LoanPro.
fn in_loanpro(env: &Env) -> BTreeMap<String, usize> {
    let mut per_key = BTreeMap::new();
    for p in env.sandbox.payments() {
        *per_key.entry(key_of(&p.info).to_string()).or_default() += 1;
    }
    per_key
}

/// Every payment of the file in LoanPro exactly once.
fn exactly_once(env: &Env, rows: usize) {
    let per_key = in_loanpro(env);
    let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "POSTED MORE THAN ONCE: {twice:?}");
    assert_eq!(per_key.len(), rows, "payments in LoanPro");
}

/// `payimport runs`, each line split into its tab-separated cells (header first).
async fn runs(env: &Env) -> Vec<Vec<String>> {
    let r = env.run(&["runs"]).await;
    assert_eq!(r.code, 0, "runs: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The `runs` line of run `id` as column name → cell.
async fn run_line(env: &Env, id: &str) -> BTreeMap<String, String> {
    let lines = runs(env).await;
    let header = lines[0].clone();
    let line = lines
        .iter()
        .find(|l| l[0] == id)
        .unwrap_or_else(|| panic!("no run {id} in {lines:?}"));
    header.into_iter().zip(line.iter().cloned()).collect()
}

async fn report(env: &Env) -> Vec<Record> {
    let r = env.run(&["report"]).await;
    assert_eq!(r.code, 0, "report: {}", r.stderr);
    parse_report(&r.stdout)
}

/// Reads the child's stderr until a line contains `what`; returns what it read.
async fn read_stderr_until(
    stderr: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    what: &str,
) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = stderr.next_line().await.expect("stderr") {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(what) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no {what:?} on stderr:\n{seen}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_stop_a_run_gracefully_and_a_later_run_posts_the_rest_once() {
    for (signal, rows) in [("TERM", 60), ("INT", 60), ("HUP", 60)] {
        let env = slow_env(0.2, 0.0).await;
        let file = env.write("bank.csv", &valid_csv(rows));
        let file = file.to_str().unwrap();
        let child = env.spawn(&["import", file]);
        let pid = child.id().expect("pid");
        wait_until("a few payments", || env.sandbox.stats().payments >= 4).await;
        kill(signal, pid);
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .expect("the run ends after the signal")
            .expect("wait");
        let r = crate::util::Run::from(out);
        assert_eq!(
            r.code, 1,
            "SIG{signal}\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        assert!(
            r.stdout.starts_with("payimport import: run 1"),
            "the summary: {}",
            r.stdout
        );
        let posted = summary_count(&r.stdout, "posted").expect("posted count");
        let unsent = summary_count(&r.stdout, "unsent").expect("unsent count");
        assert_eq!(posted + unsent, rows as u64, "{}", r.stdout);
        assert!(r.stdout.contains("interrupted by SIG"), "{}", r.stdout);

        let run = run_line(&env, "1").await;
        assert_eq!(run["outcome"], "interrupted", "{run:?}");
        assert!(run["ended"].starts_with("20"), "{run:?}");

        // Each row is posted, and in LoanPro once, or unsent, and not in LoanPro at all.
        let in_lp = in_loanpro(&env);
        for rec in report(&env).await {
            let key = rec.get("key");
            match rec.get("status") {
                "posted" => assert_eq!(in_lp.get(key), Some(&1), "{key}"),
                "unsent" => {
                    assert_eq!(in_lp.get(key), None, "{key} is unsent but in LoanPro");
                    assert!(rec.get("message").contains("interrupted by SIG"), "{rec:?}");
                }
                other => panic!("row {key} is `{other}` after SIG{signal}: {rec:?}"),
            }
        }
        assert_eq!(in_lp.len() as u64, posted);

        let retry = env.run(&["retry"]).await;
        assert_eq!(retry.code, 0, "{}\n{}", retry.stdout, retry.stderr);
        exactly_once(&env, rows);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_next_run_reads_back_before_sending() {
    const ROWS: usize = 20;
    // Each PUT takes 2 s; the next run waits 3 s after the last request before reading back,
    // so the requests cut off by the second signal are in LoanPro when it looks.
    let env = slow_env(2.0, 3.0).await;
    let file = env.write("bank.csv", &valid_csv(ROWS));
    let file = file.to_str().unwrap();
    let mut child = env.spawn(&["import", file]);
    let pid = child.id().expect("pid");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    wait_until("two requests in flight", || env.sandbox.stats().puts >= 2).await;
    kill("TERM", pid);
    // The second signal only once the first was taken (two at once may arrive as one).
    read_stderr_until(&mut stderr, "stopping the run").await;
    kill("TERM", pid);
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the run ends at the second signal")
        .expect("wait");
    let rest = tokio::time::timeout(DEADLINE, async {
        let mut rest = String::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "stderr: {rest}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.is_empty(),
        "no summary after a second signal: {stdout}"
    );
    assert!(rest.contains("second signal"), "{rest}");

    let rerun = env.run(&["import", file]).await;
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(rerun.stdout.contains("reconciled:"), "{}", rerun.stdout);
    exactly_once(&env, ROWS);
    assert_eq!(run_line(&env, "1").await["outcome"], "interrupted");
    assert_eq!(run_line(&env, "2").await["outcome"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_that_cannot_be_written_stops_the_run_with_exit_2_and_the_next_run_posts_once() {
    const ROWS: usize = 600;
    let env = Env::with(
        SandboxConfig::default(),
        Limits {
            requests_per_second: 50.0,
            // Requests abandoned when the ledger failed may still be arriving.
            settle_secs: 1.0,
            ..Limits::default()
        },
    )
    .await;
    let file = env.write("bank.csv", &valid_csv(ROWS));
    let file = file.to_str().unwrap();
    let mut c = env.command(&["import", file]);
    // Every write fails once the second batch is claimed: the writer cannot record the first
    // batch's answers while the claimer waits to hand over the second (where it used to hang).
    c.env("PAYIMPORT_LEDGER_FAIL_AFTER", "2");
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("a ledger that cannot be written stops the run; it must not hang")
        .expect("wait");
    let r = crate::util::Run::from(out);
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let ledger = env.ledger().display().to_string();
    assert!(r.stderr.contains(&ledger), "names the ledger: {}", r.stderr);
    assert!(
        r.stderr.contains("readonly"),
        "SQLite's error: {}",
        r.stderr
    );
    assert!(env.sandbox.stats().puts > 0, "it failed while sending");

    // With room again: the lock is free, uncertain rows are read back, each payment once.
    let rerun = env.run(&["import", file]).await;
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    exactly_once(&env, ROWS);
    assert_eq!(run_line(&env, "1").await["outcome"], "interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_shows_a_live_run_as_running_and_a_killed_one_as_interrupted() {
    const ROWS: usize = 200;
    // Killed, its requests in flight still commit (0.1 s later): the rerun must let them
    // settle before reading back, as `settle_secs` is there for.
    let env = slow_env(0.1, 1.0).await;
    let file = env.write("bank.csv", &valid_csv(ROWS));
    let file = file.to_str().unwrap();
    let mut child = env.spawn(&["import", file]);
    let pid = child.id().expect("pid");
    wait_until("a few payments", || env.sandbox.stats().payments >= 3).await;

    let live = run_line(&env, "1").await;
    assert_eq!(live["outcome"], "running", "{live:?}");

    kill("KILL", pid);
    tokio::time::timeout(DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    let killed = run_line(&env, "1").await;
    assert_eq!(killed["outcome"], "interrupted", "{killed:?}");
    let last_row = report(&env)
        .await
        .iter()
        .map(|r| r.get("updated_at").to_string())
        .max()
        .unwrap();
    assert_eq!(
        killed["ended"], last_row,
        "the time of its last recorded row"
    );

    // The next run marks it so for good, with the same time, and ends as completed.
    let rerun = env.run(&["import", file]).await;
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    exactly_once(&env, ROWS);
    let after = run_line(&env, "1").await;
    assert_eq!(after["outcome"], "interrupted");
    assert_eq!(after["ended"], last_row);
    assert_eq!(run_line(&env, "2").await["outcome"], "completed");
    assert!(
        !runs(&env)
            .await
            .iter()
            .flatten()
            .any(|c| c == "(not ended)")
    );
}
