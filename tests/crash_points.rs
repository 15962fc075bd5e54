//! A table over the sending state machine: every kind of fault on the first PUT, crossed with a
//! SIGKILL at every crash point (`PAYIMPORT_CRASH_AT`), then a clean rerun. Whatever the step
//! the process died at, each row ends in LoanPro exactly once (docs/states.md).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Instant;

use payimport::sandbox::{Fault, SandboxConfig};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::util::{Env, Limits, key_of, parse_report, valid_csv};

const ROWS: usize = 6;
const SIGKILL: i32 = 9;

const FAULTS: [Option<Fault>; 6] = [
    None,
    Some(Fault::ErrorBeforeCommit),
    Some(Fault::DropBeforeCommit),
    Some(Fault::ErrorAfterCommit),
    Some(Fault::DropAfterCommit),
    Some(Fault::TooManyRequests),
];

const POINTS: [&str; 4] = ["staged", "claimed", "answered", "recorded"];

/// What one case saw, for the table printed at the end.
struct Seen {
    puts_before_crash: u64,
    stats: payimport::sandbox::SandboxStats,
    rerun_summary: String,
}

/// One case: a fresh world, the fault queued for the first PUT, a run killed at `point`, a
/// clean rerun. `Err` carries everything needed to see what went wrong.
async fn case(fault: Option<Fault>, point: &'static str) -> Result<Seen, String> {
    let limits = Limits {
        concurrency: 1,
        max_attempts: 5,
        timeout_secs: 2.0,
        settle_secs: 0.0,
        ..Limits::default()
    };
    let env = Env::with(SandboxConfig::default(), limits).await;
    env.sandbox.push_faults(fault);
    let file = env.write("bank.csv", &valid_csv(ROWS));
    let file = file.to_str().unwrap();

    let mut problems = Vec::new();
    let (crashed, status) = env
        .run_with_env(&[("PAYIMPORT_CRASH_AT", point)], &["import", file])
        .await;
    if status.signal() != Some(SIGKILL) {
        problems.push(format!(
            "the run with PAYIMPORT_CRASH_AT={point} was not killed by SIGKILL: {status:?}\nstdout: {}\nstderr: {}",
            crashed.stdout, crashed.stderr
        ));
    }
    let puts_before_crash = env.sandbox.stats().puts;
    if matches!(point, "staged" | "claimed") && puts_before_crash != 0 {
        problems.push(format!(
            "{puts_before_crash} PUT(s) left before the `{point}` crash point"
        ));
    }
    if matches!(point, "answered" | "recorded") && puts_before_crash == 0 {
        problems.push(format!("no PUT left before the `{point}` crash point"));
    }

    let rerun = env.run(&["import", file]).await;
    if rerun.code != 0 {
        problems.push(format!(
            "the rerun exited {}\nstdout: {}\nstderr: {}",
            rerun.code, rerun.stdout, rerun.stderr
        ));
    }

    // Exactly once in LoanPro.
    let payments = env.sandbox.payments();
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for p in &payments {
        *per_key.entry(key_of(&p.info).to_string()).or_default() += 1;
    }
    let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    if !twice.is_empty() {
        problems.push(format!("POSTED MORE THAN ONCE: {twice:?}"));
    }

    // The rerun's rows in the report: every one posted or already posted, and all of them in
    // LoanPro.
    let report = env.run(&["report"]).await;
    let records = if report.code == 0 {
        parse_report(&report.stdout)
    } else {
        problems.push(format!("report exited {}: {}", report.code, report.stderr));
        Vec::new()
    };
    let last_run = records
        .iter()
        .map(|r| r.get("run_id").parse::<i64>().unwrap())
        .max();
    let last: Vec<_> = records
        .iter()
        .filter(|r| Some(r.get("run_id").parse::<i64>().unwrap()) == last_run)
        .collect();
    if last.len() != ROWS {
        problems.push(format!(
            "the rerun (run {last_run:?}) has {} row(s) in the report, not {ROWS}",
            last.len()
        ));
    }
    for r in &last {
        let status = r.get("status");
        if status != "posted" && status != "already_posted" {
            problems.push(format!(
                "rerun row line {} key {} is `{status}`: {}",
                r.get("line"),
                r.get("key"),
                r.get("message")
            ));
        }
        if !per_key.contains_key(r.get("key")) {
            problems.push(format!(
                "ROW LOST: line {} key {} is not in LoanPro",
                r.get("line"),
                r.get("key")
            ));
        }
    }
    if payments.len() != ROWS || per_key.len() != ROWS {
        problems.push(format!(
            "LoanPro holds {} payment(s) under {} key(s), not {ROWS}",
            payments.len(),
            per_key.len()
        ));
    }

    if problems.is_empty() {
        Ok(Seen {
            puts_before_crash,
            stats: env.sandbox.stats(),
            rerun_summary: rerun.stdout,
        })
    } else {
        let payments: Vec<String> = payments
            .iter()
            .map(|p| {
                format!(
                    "  #{} loan {} {} {} {}",
                    p.id, p.loan_id, p.amount, p.date, p.info
                )
            })
            .collect();
        Err(format!(
            "{}\n-- report (all runs) --\n{}-- sandbox payments --\n{}\n-- sandbox stats --\n{:?}",
            problems.join("\n"),
            report.stdout,
            payments.join("\n"),
            env.sandbox.stats()
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_and_crash_point_ends_in_exactly_one_payment_per_row() {
    let started = Instant::now();
    // A few cases at a time: each is two short processes, and a 429 costs a second of Retry-After.
    let permits = Arc::new(Semaphore::new(6));
    let mut cases = JoinSet::new();
    for fault in FAULTS {
        for point in POINTS {
            let permits = permits.clone();
            cases.spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let t = Instant::now();
                let result = case(fault, point).await;
                (fault, point, t.elapsed(), result)
            });
        }
    }
    let mut results = HashMap::new();
    while let Some(done) = cases.join_next().await {
        let (fault, point, took, result) = done.expect("case task");
        results.insert((format!("{fault:?}"), point), (took, result));
    }

    let mut failures = Vec::new();
    for fault in FAULTS {
        for point in POINTS {
            let name = format!("{fault:?}");
            let (took, result) = &results[&(name.clone(), point)];
            match result {
                Ok(seen) => {
                    let reconciled = seen
                        .rerun_summary
                        .lines()
                        .find(|l| l.contains("reconciled"))
                        .unwrap_or("")
                        .trim();
                    eprintln!(
                        "ok   {name:<28} at {point:<8} {:>5} ms  puts before crash {}  then {:?}  {reconciled}",
                        took.as_millis(),
                        seen.puts_before_crash,
                        seen.stats
                    );
                }
                Err(why) => {
                    eprintln!("FAIL {name:<28} at {point:<8} {:>5} ms", took.as_millis());
                    failures.push(format!("=== fault {name}, crash at {point} ===\n{why}"));
                }
            }
        }
    }
    eprintln!(
        "{} case(s) in {:.1} s, {} failed",
        results.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The crash points, `PAYIMPORT_TODAY` and `PAYIMPORT_LEDGER_FAIL_AFTER` are compiled only with
/// the `test-hooks` feature. Only the tests turn it on (the crate's dev-dependency on itself,
/// which `cargo build --release` and `cargo install` never see); no default or other feature
/// does, so a production binary ignores the variables.
#[test]
fn only_the_tests_build_the_test_hooks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let names = |v: &toml::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let features = manifest["features"].as_table().expect("[features]");
    assert_eq!(names(&features["test-hooks"]), Vec::<String>::new());
    for (feature, enables) in features {
        assert!(
            !names(enables).iter().any(|f| f.contains("test-hooks")),
            "feature {feature} turns the test hooks on"
        );
    }
    let dependencies = manifest["dependencies"].as_table().unwrap();
    assert!(!dependencies.contains_key("payimport"));
    let itself = &manifest["dev-dependencies"]["payimport"];
    assert_eq!(names(&itself["features"]), ["test-hooks"]);
}
