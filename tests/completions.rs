//! `payimport completions SHELL` and `payimport man`: generated from the clap types, they
//! name every command, and need no settings file.

use std::process::Command;

/// Every command an operator types; the generated texts must name each.
const COMMANDS: [&str; 6] = ["import", "retry", "runs", "report", "sandbox", "demo"];

fn payimport(args: &[&str]) -> (i32, String, String) {
    // From an empty folder with no settings: these commands must not need any.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_payimport"))
        .args(args)
        .current_dir(dir.path())
        .env_remove("PAYIMPORT_SETTINGS")
        .output()
        .expect("payimport runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completion_scripts_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, script, stderr) = payimport(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.len() > 500, "{shell}: a script this short is empty");
        for c in COMMANDS {
            assert!(script.contains(c), "{shell} completion misses `{c}`");
        }
        assert!(script.contains("settings"), "{shell}: global options");
    }
    // The bash script is valid bash.
    let (_, script, _) = payimport(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payimport.bash");
    std::fs::write(&path, script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let (code, _, stderr) = payimport(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bash") && stderr.contains("fish"),
        "{stderr}"
    );
}

#[test]
fn man_page_is_roff_with_a_section_per_command() {
    let (code, page, stderr) = payimport(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(page.contains(".TH payimport 1"), "{page}");
    for c in COMMANDS {
        let heading = format!(".SH \"PAYIMPORT {}\"", c.to_uppercase());
        assert!(page.contains(&heading), "man page misses {heading}");
    }
    // A command's own options are on the page, not only its name.
    assert!(page.contains("dry\\-run"), "import's --dry-run");
}
