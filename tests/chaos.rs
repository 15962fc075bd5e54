//! Kill -9 chaos: the real binary is SIGKILLed at random moments while it sends 400 rows (with a
//! few answers lost after LoanPro logged the payment), rerun each time, and finally run to the
//! end. Every row must be in LoanPro exactly once (docs/states.md: no payment is ever posted twice).
//! The same kill loop runs a return file naming 200 posted payments: each is reversed exactly
//! once (docs/returns.md), with a few `VoidPayment` answers lost after LoanPro logged the reversal.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use payimport::sandbox::{Faults, SandboxConfig};

use crate::util::{Env, Limits, Run, key_of, parse_report, valid_csv};

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
    folded_csv(ROWS, LOANS)
}

/// `valid_csv(rows)` with the loans folded onto `1..=loans`. Amounts stay distinct (below 490
/// rows), so no two payments of a loan are twins.
fn folded_csv(rows: usize, loans: usize) -> String {
    let text = valid_csv(rows);
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        let (_, rest) = line.split_once(',').unwrap();
        out.push_str(&format!("{},{rest}\n", 1 + i % loans));
    }
    out
}

/// What a kill loop did.
struct Chaos {
    /// Runs SIGKILLed while running.
    kills: usize,
    /// ...of which had sent a request (PUT or POST) before the kill.
    kills_while_sending: usize,
    /// Runs started (killed or not).
    iterations: usize,
    /// Runs that ended by themselves, and the stdout of each (their summaries).
    ended: Vec<String>,
    /// One line a run.
    log: Vec<String>,
}

/// Runs `payimport ARGS` again and again, each run SIGKILLed after a random delay if it is still
/// running, until [`MIN_KILLS`] kills have landed and either [`KILLS`] have or a run finished the
/// work by itself (exit 0). Panics past [`MAX_ITERATIONS`] runs or the [`DEADLINE`].
async fn kill_until_done(env: &Env, args: &[&str], rng: &mut Rng, started: Instant) -> Chaos {
    let mut chaos = Chaos {
        kills: 0,
        kills_while_sending: 0,
        iterations: 0,
        ended: Vec::new(),
        log: Vec::new(),
    };
    let mut finished = false;
    // Once a run has finished the file by itself, later runs send nothing and are over in a
    // blink, so only keep killing until then (or until KILLS).
    while chaos.kills < MIN_KILLS || (chaos.kills < KILLS && !finished) {
        chaos.iterations += 1;
        let iteration = chaos.iterations;
        assert!(
            iteration <= MAX_ITERATIONS && started.elapsed() < DEADLINE,
            "chaos did not get {MIN_KILLS} kills in {MAX_ITERATIONS} runs / {DEADLINE:?}: {} kill(s) after {} run(s) in {:.1} s\n{}",
            chaos.kills,
            iteration - 1,
            started.elapsed().as_secs_f64(),
            chaos.log.join("\n")
        );
        let delay = Duration::from_millis(rng.between(50, 900));
        let before = env.sandbox.stats();
        let out = std::fs::File::create(env.path(&format!("run{iteration}.out"))).unwrap();
        let err = std::fs::File::create(env.path(&format!("run{iteration}.err"))).unwrap();
        let mut child = env
            .command(args)
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
            "{} PUT(s), {} POST(s), {} GET(s) during the run; LoanPro holds {} payment(s), {} reversed",
            after.puts - before.puts,
            after.posts - before.posts,
            after.gets - before.gets,
            after.payments,
            after.reversals
        );
        if status.signal() == Some(SIGKILL) {
            chaos.kills += 1;
            if after.puts + after.posts > before.puts + before.posts {
                chaos.kills_while_sending += 1;
            }
            chaos.log.push(format!(
                "run {iteration}: killed after {delay:?}; {activity}"
            ));
        } else {
            // It finished before the kill (or at the same instant): a normal end, never fatal.
            let stdout = std::fs::read_to_string(env.path(&format!("run{iteration}.out"))).unwrap();
            let stderr = std::fs::read_to_string(env.path(&format!("run{iteration}.err"))).unwrap();
            chaos.log.push(format!(
                "run {iteration}: ended by itself within {delay:?}: {status:?}; {activity}"
            ));
            finished |= status.code() == Some(0);
            assert!(
                matches!(status.code(), Some(0 | 1)),
                "run {iteration} ended {status:?}\nstdout: {stdout}\nstderr: {stderr}"
            );
            chaos.ended.push(stdout);
        }
    }
    chaos
}

/// The run after the kills: left alone until the [`DEADLINE`], logged as run `iterations + 1`.
async fn undisturbed_run(
    env: &Env,
    args: &[&str],
    started: Instant,
    iterations: usize,
    log: &mut Vec<String>,
) -> Run {
    let last = tokio::time::timeout(DEADLINE.saturating_sub(started.elapsed()), env.run(args))
        .await
        .unwrap_or_else(|_| panic!("the last run did not finish before the {DEADLINE:?} deadline"));
    log.push(format!(
        "run {}: left alone: exit {}",
        iterations + 1,
        last.code
    ));
    last
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

    let chaos = kill_until_done(&env, &["import", file], &mut rng, started).await;
    let Chaos {
        kills,
        kills_while_sending,
        iterations,
        mut log,
        ..
    } = chaos;

    // The last run is left alone and must finish cleanly.
    let last = undisturbed_run(&env, &["import", file], started, iterations, &mut log).await;
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

/// Payments posted (cleanly) before the returns chaos, each of them returned once.
const RETURNED: usize = 200;
const RETURNED_LOANS: usize = 20;
const RETURNS_SEED: u64 = 0x7e7a_c4a0_0f5e;

/// The sums of the `reconciled:` lines of run summaries: (rows read back, found, sent again).
fn read_backs<'a>(summaries: impl IntoIterator<Item = &'a str>) -> (u64, u64, u64) {
    let mut sums = (0, 0, 0);
    for line in summaries
        .into_iter()
        .flat_map(str::lines)
        .filter(|l| l.trim_start().starts_with("reconciled:"))
    {
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        // rows, loans, found, sent again, given up, could not be read
        sums.0 += numbers[0];
        sums.1 += numbers[2];
        sums.2 += numbers[3];
    }
    sums
}

/// docs/returns.md under kill -9: 200 posted payments, then a return file naming each of them, imported
/// while the importer is SIGKILLed at random moments and LoanPro loses a few VoidPayment
/// answers after logging the reversal. Every payment must be reversed exactly once: no
/// VoidPayment ever reaches a payment reversed already (LoanPro would refuse it, 409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_still_reverses_each_return_once() {
    let started = Instant::now();
    let limits = Limits {
        // A return is a GET and a POST: 400 requests at 100/s, four seconds of sending, so
        // MIN_KILLS land mid-flight (at 300/s three kills were enough to finish the file).
        requests_per_second: 100.0,
        concurrency: 4,
        max_attempts: 8,
        timeout_secs: 2.0,
        settle_secs: 0.5,
    };
    let env = Env::with(SandboxConfig::default(), limits).await;
    env.add_settings(crate::returns::RETURN_SOURCES);

    // The payments: one clean import, no faults.
    let payments_file = env.write("bank.csv", &folded_csv(RETURNED, RETURNED_LOANS));
    let posted = env
        .run(&[
            "import",
            "--source",
            "bank_csv",
            payments_file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(posted.code, 0, "{}\n{}", posted.stdout, posted.stderr);
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), RETURNED);

    // A return of each, a day later, naming its original by key.
    let mut returns = String::from("loan,amount,date,return_code,original_key\n");
    for p in &payments {
        let date =
            chrono::NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").unwrap() + chrono::Days::new(1);
        returns.push_str(&format!(
            "{},{},{date},R01,{}\n",
            p.loan_id,
            p.amount,
            key_of(&p.info)
        ));
    }
    let file = env.write("returns.csv", &returns);
    let file = file.to_str().unwrap();
    let args = ["import", "--source", "returns_csv", file];

    // From here on LoanPro loses a few answers after logging the reversal.
    env.sandbox.set_faults(Faults {
        seed: RETURNS_SEED,
        error_after_commit: 0.03,
        drop_after_commit: 0.03,
        ..Faults::default()
    });
    let before = env.sandbox.stats();
    let chaos_started = Instant::now();
    let mut rng = Rng(RETURNS_SEED);
    let mut chaos = kill_until_done(&env, &args, &mut rng, started).await;
    let last = undisturbed_run(&env, &args, started, chaos.iterations, &mut chaos.log).await;
    let mut summaries: Vec<&str> = chaos.ended.iter().map(String::as_str).collect();
    summaries.push(&last.stdout);
    // Rows the runs could not settle are `payimport retry`'s.
    let retry = if last.code == 0 {
        None
    } else {
        let retry = env.run(&["retry"]).await;
        chaos.log.push(format!("retry: exit {}", retry.code));
        Some(retry)
    };
    if let Some(r) = &retry {
        summaries.push(&r.stdout);
    }
    let took = chaos_started.elapsed();
    let stats = env.sandbox.stats();
    let runs = env.run(&["runs"]).await;

    let report = env.report(&[]).await;
    let of_kind = |kind: &str| -> Vec<&crate::util::Record> {
        report.iter().filter(|r| r.get("kind") == kind).collect()
    };
    let messages = |text: &str| {
        report
            .iter()
            .filter(|r| r.get("message").contains(text))
            .count()
    };
    let (read_back, found, resent) = read_backs(summaries);
    let posts = stats.posts - before.posts;
    let reversals = stats.reversals - before.reversals;
    eprintln!(
        "reversal chaos: {} kill(s) ({} after the run had sent a POST) in {} interrupted run(s), then one undisturbed run{}; {:.1} s for the returns ({:.1} s in all)\n\
         sandbox during the returns: {posts} POST(s), {reversals} reversal(s), {} GET(s), {} PUT(s), {} fault(s) injected\n\
         read back (summaries of the runs that ended): {read_back} row(s), {found} found reversed, {resent} sent again; \
         rows settled by a read-back: {}, found reversed before any POST: {}\n{}\nruns:\n{}\nlast run: {}",
        chaos.kills,
        chaos.kills_while_sending,
        chaos.iterations,
        if retry.is_some() { " and a retry" } else { "" },
        took.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        stats.gets - before.gets,
        stats.puts - before.puts,
        stats.faults_injected - before.faults_injected,
        messages("reads back reversed after an uncertain answer"),
        messages("was already reversed in LoanPro"),
        chaos.log.join("\n"),
        runs.stdout,
        last.stdout
    );

    // LoanPro: every payment reversed, by a VoidPayment that was the only one it got.
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), RETURNED, "no payment sent again");
    assert_eq!(stats.puts, before.puts, "a return sends no payment");
    let active: Vec<u64> = payments
        .iter()
        .filter(|p| p.reversal.is_none())
        .map(|p| p.id)
        .collect();
    assert!(active.is_empty(), "payments left active: {active:?}");
    for p in &payments {
        let rev = p.reversal.as_ref().unwrap();
        assert_eq!(
            rev.reverse_reason, "payment.reverse.nsf",
            "payment {}",
            p.id
        );
        assert_eq!(
            rev.nacha_return_code.as_deref(),
            Some("nacha.returnCode.r01")
        );
    }
    assert_eq!(reversals, RETURNED as u64, "each payment reversed once");
    // Every POST here commits (the faults strike after the commit), so a POST more than the
    // reversals is a VoidPayment LoanPro refused: a payment reversed twice over.
    assert_eq!(
        posts, reversals,
        "VoidPayment POSTs beyond the reversals: a payment was sent for reversal twice"
    );

    // The ledger: each original `reversed`, each return `posted` in one row only, none failed.
    let originals = of_kind("payment");
    assert_eq!(originals.len(), RETURNED, "one row per payment");
    for p in &originals {
        assert_eq!(p.get("status"), "reversed", "payment {}", p.get("key"));
    }
    let returned_rows = of_kind("return");
    // A VoidPayment LoanPro refused (a second reversal is a 409) leaves its row `failed`; rows
    // of killed runs are otherwise history (`unsent`, taken over by a later run).
    let failed: Vec<String> = returned_rows
        .iter()
        .filter(|r| r.get("status") == "failed")
        .map(|r| {
            format!(
                "run {} line {} `{}`: {}",
                r.get("run_id"),
                r.get("line"),
                r.get("status"),
                r.get("message")
            )
        })
        .collect();
    let mut posted_rows: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in returned_rows.iter().filter(|r| r.get("status") == "posted") {
        posted_rows
            .entry(r.get("key"))
            .or_default()
            .push(r.get("original_key"));
    }
    let twice: Vec<_> = posted_rows.iter().filter(|(_, o)| o.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "returns posted in more than one row: {twice:?}"
    );
    assert_eq!(
        posted_rows.len(),
        RETURNED,
        "each return has its `posted` row"
    );
    let originals_reversed: HashSet<&str> = posted_rows.values().map(|o| o[0]).collect();
    let payment_keys: HashSet<&str> = originals.iter().map(|p| p.get("key")).collect();
    assert_eq!(
        originals_reversed, payment_keys,
        "each return reversed its own payment"
    );
    let last_run = returned_rows
        .iter()
        .map(|r| r.get("run_id").parse::<i64>().unwrap())
        .max()
        .unwrap();
    let in_last: Vec<_> = returned_rows
        .iter()
        .filter(|r| r.get("run_id").parse::<i64>().unwrap() == last_run)
        .collect();
    assert_eq!(
        in_last.len(),
        RETURNED,
        "the last run staged the whole file"
    );
    assert!(
        failed.is_empty(),
        "{} return row(s) failed, e.g.\n{}",
        failed.len(),
        failed[..failed.len().min(5)].join("\n")
    );
    let unsettled: Vec<String> = in_last
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
        unsettled.is_empty() || retry.is_some(),
        "{} return row(s) of the last run neither posted nor already posted, e.g.\n{}",
        unsettled.len(),
        unsettled[..unsettled.len().min(5)].join("\n")
    );
    let final_code = retry.as_ref().map_or(last.code, |r| r.code);
    assert_eq!(
        final_code, 0,
        "the last run\nstdout: {}\nstderr: {}\nretry: {retry:?}",
        last.stdout, last.stderr
    );
    assert!(started.elapsed() < DEADLINE, "took {:?}", started.elapsed());
}
