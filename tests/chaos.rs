//! Kill -9 chaos: the real binary is SIGKILLed at random moments while it sends 400 rows (with a
//! few answers lost after LoanPro logged the payment), rerun each time, and finally run to the
//! end. Every row must be in LoanPro exactly once (SPEC §5: no payment is ever posted twice).

use std::collections::{BTreeMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use payimport::sandbox::{Faults, SandboxConfig};

use crate::util::{Env, Limits, key_of, parse_report, valid_csv};

const ROWS: usize = 400;
/// The rows are spread over this many loans, ten a loan: uncertain rows of a loan share one
/// read-back, so a restarted run is soon sending again and the kills land in every phase.
const LOANS: usize = 40;
const SEED: u64 = 0x5eed_c4a0_5eed;
/// Kills that must land on a running importer before the last, undisturbed run...
const MIN_KILLS: usize = 5;
/// ...and how many to aim for while there is still something to send.
const KILLS: usize = 10;
const MAX_ITERATIONS: usize = 30;
const DEADLINE: Duration = Duration::from_secs(60);
const SIGKILL: i32 = 9;

/// xorshift64*: a deterministic sequence of kill delays without another crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `lo..=hi` for picking delays.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// `valid_csv(ROWS)` with the loans folded onto `1..=LOANS`.
fn chaos_csv() -> String {
    let text = valid_csv(ROWS);
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        let (_, rest) = line.split_once(',').unwrap();
        out.push_str(&format!("{},{rest}\n", 1 + i % LOANS));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_still_posts_each_row_once() {
    let started = Instant::now();
    let config = SandboxConfig {
        faults: Faults {
            seed: SEED,
            error_after_commit: 0.02,
            drop_after_commit: 0.01,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let limits = Limits {
        // 400 rows at 300/s: a run sends for well over a second, so kills land mid-flight.
        requests_per_second: 300.0,
        concurrency: 4,
        max_attempts: 8,
        timeout_secs: 2.0,
        settle_secs: 0.5,
    };
    let env = Env::with(config, limits).await;
    let file = env.write("bank.csv", &chaos_csv());
    let file = file.to_str().unwrap();
    let mut rng = Rng(SEED);

    // Kill phase: start, wait a random moment, SIGKILL if still running; until enough kills hit.
    let mut kills = 0;
    let mut kills_while_sending = 0;
    let mut iterations = 0;
    let mut log = Vec::new();
    let mut finished = false;
    // Once a run has finished the file by itself, later runs send nothing and are over in a
    // blink, so only keep killing until then (or until KILLS).
    while kills < MIN_KILLS || (kills < KILLS && !finished) {
        iterations += 1;
        assert!(
            iterations <= MAX_ITERATIONS && started.elapsed() < DEADLINE,
            "chaos did not get {MIN_KILLS} kills in {MAX_ITERATIONS} runs / {DEADLINE:?}: {kills} kill(s) after {} run(s) in {:.1} s\n{}",
            iterations - 1,
            started.elapsed().as_secs_f64(),
            log.join("\n")
        );
        let delay = Duration::from_millis(rng.between(50, 900));
        let before = env.sandbox.stats();
        let out = std::fs::File::create(env.path(&format!("run{iterations}.out"))).unwrap();
        let err = std::fs::File::create(env.path(&format!("run{iterations}.err"))).unwrap();
        let mut child = env
            .command(&["import", file])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("payimport starts");
        let status = match tokio::time::timeout(delay, child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                child.start_kill().expect("SIGKILL sent");
                child.wait().await.unwrap()
            }
        };
        let after = env.sandbox.stats();
        let activity = format!(
            "{} PUT(s), {} GET(s) during the run; LoanPro holds {}",
            after.puts - before.puts,
            after.gets - before.gets,
            after.payments
        );
        if status.signal() == Some(SIGKILL) {
            kills += 1;
            if after.puts > before.puts {
                kills_while_sending += 1;
            }
            log.push(format!(
                "run {iterations}: killed after {delay:?}; {activity}"
            ));
        } else {
            // It finished before the kill (or at the same instant): a normal end, never fatal.
            let stdout =
                std::fs::read_to_string(env.path(&format!("run{iterations}.out"))).unwrap();
            let stderr =
                std::fs::read_to_string(env.path(&format!("run{iterations}.err"))).unwrap();
            log.push(format!(
                "run {iterations}: ended by itself within {delay:?}: {status:?}; {activity}"
            ));
            finished |= status.code() == Some(0);
            assert!(
                matches!(status.code(), Some(0 | 1)),
                "run {iterations} ended {status:?}\nstdout: {stdout}\nstderr: {stderr}"
            );
        }
    }

    // The last run is left alone and must finish cleanly.
    let last = tokio::time::timeout(
        DEADLINE.saturating_sub(started.elapsed()),
        env.run(&["import", file]),
    )
    .await
    .unwrap_or_else(|_| panic!("the last run did not finish before the {DEADLINE:?} deadline"));
    log.push(format!(
        "run {}: left alone: exit {}",
        iterations + 1,
        last.code
    ));
    let took = started.elapsed();
    let stats = env.sandbox.stats();
    let reconciled: Vec<&str> = last
        .stdout
        .lines()
        .filter(|l| l.contains("reconciled"))
        .collect();
    eprintln!(
        "chaos: {kills} kill(s) survived ({kills_while_sending} after the run had sent PUTs) in {iterations} interrupted run(s), then one clean run; {:.1} s\n{}\nsandbox: {stats:?}\nlast run: {}\n{}",
        took.as_secs_f64(),
        log.join("\n"),
        reconciled.join(" | "),
        last.stdout
    );
    // Exactly once: every payment has its own key, and there are as many as rows.
    let payments = env.sandbox.payments();
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &payments {
        *per_key.entry(key_of(&p.info)).or_default() += 1;
    }
    let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    assert_eq!(payments.len(), ROWS, "one payment per row, no extra");

    // The last run's report: every row of the file, posted or already posted, and in LoanPro.
    let report = env.run(&["report"]).await;
    assert_eq!(report.code, 0, "report: {}", report.stderr);
    let records = parse_report(&report.stdout);
    let last_run = records
        .iter()
        .map(|r| r.get("run_id").parse::<i64>().unwrap())
        .max()
        .expect("the report has rows");
    let rows: Vec<_> = records
        .iter()
        .filter(|r| r.get("run_id").parse::<i64>().unwrap() == last_run)
        .collect();
    assert_eq!(
        rows.len(),
        ROWS,
        "the last run (run {last_run}) staged the whole file"
    );
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *by_status.entry(r.get("status")).or_default() += 1;
    }
    eprintln!("last run {last_run} in the report: {by_status:?}");
    // Over all runs, the ledger holds each key `posted` in one row only.
    let mut posted_rows: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records.iter().filter(|r| r.get("status") == "posted") {
        *posted_rows.entry(r.get("key")).or_default() += 1;
    }
    let posted_twice: Vec<_> = posted_rows.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        posted_twice.is_empty(),
        "posted in more than one ledger row: {posted_twice:?}"
    );
    assert_eq!(posted_rows.len(), ROWS, "every key has its `posted` row");
    let keys: HashSet<&str> = rows.iter().map(|r| r.get("key")).collect();
    assert_eq!(keys.len(), ROWS, "a key per row");
    for r in &rows {
        assert_eq!(
            per_key.get(r.get("key")),
            Some(&1),
            "line {} in LoanPro once",
            r.get("line")
        );
    }
    let unsettled: Vec<String> = rows
        .iter()
        .filter(|r| !matches!(r.get("status"), "posted" | "already_posted"))
        .map(|r| {
            format!(
                "line {} `{}`: {}",
                r.get("line"),
                r.get("status"),
                r.get("message")
            )
        })
        .collect();
    assert!(
        unsettled.is_empty(),
        "{} row(s) of the last run are neither posted nor already posted (though each is in LoanPro once), e.g.\n{}",
        unsettled.len(),
        unsettled[..unsettled.len().min(5)].join("\n")
    );
    assert_eq!(
        last.code, 0,
        "the last run\nstdout: {}\nstderr: {}",
        last.stdout, last.stderr
    );
    assert!(took < DEADLINE, "took {took:?}");
}
