//! Every command the README and the program print works as printed: the `payimport ...` lines
//! of the README's code blocks run against the sandbox from a copy of the clone's samples, the
//! commands table and the global options match the binary's own help, and the commands the demo
//! and a summary print run from the folder they were printed in, with no settings file.

use std::path::Path;

use payimport::sandbox::{Sandbox, SandboxConfig};

const README: &str = include_str!("../README.md");

/// A command line from the README: its environment assignments and its words.
#[derive(Debug)]
struct Line {
    env: Vec<(String, String)>,
    args: Vec<String>,
    text: String,
}

/// The `payimport` (or `cargo run --release --`) command lines of the README's fenced code
/// blocks, as a shell would run their first command: without `$ `, a trailing comment, `&`,
/// or what follows a pipe or redirection. Lines that need the operator's own machine (paths
/// under /srv, /var, /run or the home folder) and the long-running `sandbox` are left out.
fn readme_commands() -> Vec<Line> {
    let mut lines = Vec::new();
    let mut fenced = false;
    for raw in README.lines() {
        if raw.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            continue;
        }
        let mut line = raw.trim().trim_start_matches("$ ").to_string();
        if let Some(at) = line.find(" #") {
            line.truncate(at);
        }
        for segment in line.split(" && ") {
            let mut text = segment.trim().to_string();
            for cut in [" |", " >", " &"] {
                if let Some(at) = text.find(cut) {
                    text.truncate(at);
                }
            }
            if let Some(command) = parse(&text) {
                lines.push(command);
            }
        }
    }
    lines
}

/// One simple command (`NAME=value ... payimport ARGS`), if it is one the test can run here.
fn parse(text: &str) -> Option<Line> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut env = Vec::new();
    while let Some((k, v)) = words.first().and_then(|w| w.split_once('=')) {
        if !k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            break;
        }
        env.push((k.to_string(), v.to_string()));
        words.remove(0);
    }
    if words.starts_with(&["cargo", "run", "--release", "--"]) {
        words.splice(0..4, ["payimport"]);
    }
    let elsewhere = ["/srv", "/var", "/run", "~", "$("];
    if words.first() != Some(&"payimport")
        || words.get(1) == Some(&"sandbox")
        || words
            .iter()
            .any(|w| elsewhere.iter().any(|e| w.contains(e)))
    {
        return None;
    }
    Some(Line {
        env,
        args: words[1..].iter().map(|w| w.to_string()).collect(),
        text: text.to_string(),
    })
}

/// A copy of the clone's `samples/` (settings pointed at `sandbox`) in `dir`, and the same
/// settings as `dir/payimport.toml`, where commands without `--settings` look.
fn clone_in(dir: &Path, sandbox: &Sandbox) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::create_dir(dir.join("samples")).unwrap();
    for entry in std::fs::read_dir(&samples).unwrap() {
        let entry = entry.unwrap();
        let to = dir.join("samples").join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        // As in a clone made before tonight: a file written a moment ago may still be being
        // written, and `import` waits for `limits.min_file_age_secs` (docs/settings.md).
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&to)
            .and_then(|f| f.set_modified(an_hour_ago))
            .unwrap();
    }
    let settings = std::fs::read_to_string(samples.join("payimport.toml"))
        .unwrap()
        .replace(
            "http://127.0.0.1:8080/api/public/api/1",
            &sandbox.base_url(),
        );
    std::fs::write(dir.join("samples/payimport.toml"), &settings).unwrap();
    std::fs::write(dir.join("payimport.toml"), &settings).unwrap();
}

fn payimport(dir: &Path, env: &[(String, String)], args: &[String]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
        .args(args)
        .current_dir(dir)
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .env("PAYIMPORT_TODAY", crate::util::TODAY)
        .env("LOANPRO_TOKEN", "sandbox-token")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("payimport runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_commands_run_as_printed() {
    let sandbox = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    clone_in(dir.path(), &sandbox);
    let commands = readme_commands();
    let ran: Vec<&str> = commands
        .iter()
        .filter_map(|c| {
            c.args
                .iter()
                .find(|a| !a.starts_with('-') && !a.contains('/'))
        })
        .map(String::as_str)
        .collect();
    for expected in [
        "demo",
        "import",
        "runs",
        "report",
        "check",
        "completions",
        "man",
    ] {
        assert!(
            ran.contains(&expected),
            "no `{expected}` found in the README: {ran:?}"
        );
    }
    for c in &commands {
        let out = tokio::task::block_in_place(|| payimport(dir.path(), &c.env, &c.args));
        let code = out.status.code();
        // 1 is a run that went as designed with rows to look at (the samples' bad row).
        assert!(
            matches!(code, Some(0 | 1)),
            "`{}` exited {code:?}:\n{}\n{}",
            c.text,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        sandbox.payments().len() >= 24,
        "the by-hand import logged the samples' payments"
    );
    sandbox.shutdown().await;
}

/// The `--options` named in `text`.
fn options(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || "`[]|,()".contains(c))
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect()
}

#[test]
fn the_commands_table_and_global_options_match_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = payimport(dir.path(), &[], &args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&["--help"]);
    let mut rows = 0;
    for row in README.lines().filter(|l| l.starts_with("| `payimport ")) {
        let usage = row.split('`').nth(1).unwrap();
        let command = usage.split_whitespace().nth(1).unwrap();
        let own = help(&[command, "--help"]);
        for option in options(usage) {
            assert!(
                own.contains(option) || top.contains(option),
                "README's `{usage}`: `payimport {command}` has no {option}"
            );
        }
        rows += 1;
    }
    assert!(rows >= 9, "the commands table has a row per command");

    let global = README
        .split("Global options")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .expect("the README lists the global options");
    let listed = options(global);
    // -v and -q are listed by their short names; help and version go without saying.
    let unlisted = ["--help", "--version", "--verbose", "--quiet"];
    for option in options(&top).into_iter().filter(|o| !unlisted.contains(o)) {
        assert!(
            listed.contains(&option),
            "README's global options leave out {option}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_the_demo_prints_run_from_where_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::block_in_place(|| payimport(dir.path(), &[], &["demo".to_string()]));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("payimport --").map(|at| l[at..].trim()))
        .collect();
    assert!(
        printed.iter().any(|c| c.contains("report --run"))
            && printed.iter().any(|c| c.ends_with(" runs")),
        "{stdout}"
    );
    for command in printed {
        let args: Vec<String> = command
            .split_whitespace()
            .skip(1)
            .map(String::from)
            .collect();
        // As a person would, from the same folder, without the token or a settings file.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payimport"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("PAYIMPORT_SETTINGS")
            .env_remove("LOANPRO_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{command}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "`{command}` printed nothing");
    }
}
