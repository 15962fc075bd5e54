//! What a new user meets first: log lines without colour codes off a terminal, unknown run ids
//! refused, a missing file not recorded as a good run, read-only commands that need no settings
//! file, a closed pipe that is no error, and one clear line when LoanPro refuses the token.

use std::process::Stdio;

use crate::util::{Env, Run, valid_csv};

/// The last column of `payimport runs` for run `id`: how it ended.
async fn outcome_of(env: &Env, id: &str) -> String {
    let r = env.run(&["runs"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .find(|l| l.split('\t').next() == Some(id))
        .and_then(|l| l.rsplit('\t').next())
        .unwrap_or_else(|| panic!("no run {id}:\n{}", r.stdout))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_carry_no_colour_codes_into_a_pipe() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(3));
    let file = file.to_str().unwrap();
    // stderr is a pipe here, as under cron or `2>> payimport.log`.
    let r = env.run(&["import", file]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("INFO"), "the run logs: {}", r.stderr);
    assert!(!r.stderr.contains('\x1b'), "ESC in {:?}", r.stderr);
    // NO_COLOR too (on a terminal it turns colour off; off one it must change nothing).
    let (r, _) = env
        .run_with_env(&[("NO_COLOR", "1")], &["-v", "import", file])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains('\x1b'), "ESC in {:?}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_run_id_is_an_error_and_records_nothing() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);

    let r = env.run(&["report", "--run", "999"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "no report for no run: {}", r.stdout);
    assert!(
        r.stderr.contains("has no run 999") && r.stderr.contains("payimport runs"),
        "{}",
        r.stderr
    );

    let r = env.run(&["retry", "--run", "99"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("has no run 99"), "{}", r.stderr);
    let runs = env.run(&["runs"]).await.stdout;
    assert_eq!(
        runs.lines().count(),
        2,
        "no retry run was recorded:\n{runs}"
    );

    // The runs that exist still answer.
    assert_eq!(env.run(&["report", "--run", "1"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_file_is_missing_is_refused_not_completed() {
    let env = Env::new().await;
    let r = env.run(&["import", "nosuch.csv"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("file refused: nosuch.csv"),
        "{}",
        r.stdout
    );
    assert_eq!(outcome_of(&env, "1").await, "refused");

    // A good run after it is `completed`, as before.
    let file = env.write("bank.csv", &valid_csv(2));
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    assert_eq!(outcome_of(&env, "2").await, "completed");
}

/// `payimport ARGS` in `dir`, with no settings file there and none in the environment.
fn without_settings(dir: &std::path::Path, args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
        .args(args)
        .current_dir(dir)
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .output()
        .expect("payimport runs");
    Run::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_ledger_needs_no_settings_file() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);
    let elsewhere = tempfile::tempdir().unwrap();
    let ledger = env.ledger();
    let ledger = ledger.to_str().unwrap();

    // What the summary prints as the way to the full report.
    let r = without_settings(
        elsewhere.path(),
        &["--ledger", ledger, "report", "--run", "1"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.lines().count(),
        3,
        "header and two rows: {}",
        r.stdout
    );
    let r = without_settings(elsewhere.path(), &["--ledger", ledger, "runs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Without --ledger the settings are needed, and the error says so once.
    let r = without_settings(elsewhere.path(), &["report", "--run", "1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read settings file payimport.toml"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "the cause once: {}",
        r.stderr
    );
}

/// Runs `payimport ARGS` with stdout a pipe whose reader is already gone, as in
/// `payimport check | head -2` once head has its lines.
async fn into_a_closed_pipe(env: &Env, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = env
        .command(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    Run::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_is_no_error() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    assert_eq!(env.run(&["import", file.to_str().unwrap()]).await.code, 0);

    let piped = into_a_closed_pipe(&env, &["check"]).await;
    assert!(!piped.stderr.contains("Broken pipe"), "{}", piped.stderr);
    assert!(!piped.stderr.contains("error"), "{}", piped.stderr);
    // The exit status still says how the checks went.
    let r = env.run(&["check"]).await;
    assert_eq!(piped.code, r.code, "{}", r.stdout);
    // And with a failing check too: the missing token.
    let piped_fail = env
        .command(&["check"])
        .env_remove("TEST_LOANPRO_TOKEN")
        .stdout(Stdio::from({
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            writer
        }))
        .output()
        .await
        .unwrap();
    assert_eq!(piped_fail.status.code(), Some(2));

    for args in [&["runs"][..], &["report"], &["report", "--format", "json"]] {
        let r = into_a_closed_pipe(&env, args).await;
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stderr.is_empty(), "{args:?}: {}", r.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_one_line_saying_what_to_do() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(50));
    let r = env
        .run_with_token("wrong-token", &["import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one ERROR line:\n{}", r.stderr);
    assert!(
        errors[0].contains("refused the credentials")
            && errors[0].contains("check the token's value and `loanpro.tenant_id`"),
        "{}",
        errors[0]
    );
}

/// What a terminal shows of `text`: each line as left after its last carriage return or
/// erase-line (how a progress bar redraws itself in place).
fn visible_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| {
            let after_cr = line.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("");
            after_cr.rsplit("\x1b[2K").next().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn the_demo_on_a_terminal_tells_its_story_without_log_lines_or_a_leftover_bar() {
    let dir = tempfile::tempdir().unwrap();
    // `script` gives the demo a terminal for stdout and stderr, as a person's shell does.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} demo", env!("CARGO_BIN_EXE_payimport")),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .output()
        .expect("`script` (util-linux) is installed");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("demo: done."), "{shown}");
    // The bar was drawn (a terminal), and no line is left showing it.
    assert!(
        shown.contains(" rows ("),
        "no progress bar was drawn:\n{shown}"
    );
    for line in visible_lines(&shown) {
        assert!(!line.contains(" rows ("), "a bar left on screen: {line:?}");
        assert!(!line.contains("INFO"), "a log line in the story: {line:?}");
    }
    // A reversal with no bank reference: no dangling `ref` label.
    assert!(
        shown.contains("\"R01 Insufficient Funds; returned 2026-11-24\""),
        "{shown}"
    );
}

#[test]
fn the_demo_logs_with_v() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
        .args(["-v", "demo"])
        .current_dir(dir.path())
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("INFO") && stderr.contains("run started"),
        "{stderr}"
    );
}
