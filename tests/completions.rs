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

/// The bash completion script's case for an option of `import`: what follows `--source)`.
fn bash_case<'a>(script: &'a str, option: &str) -> &'a str {
    let at = script
        .find(&format!("{option})"))
        .unwrap_or_else(|| panic!("no {option} in the bash script"));
    let rest = &script[at..];
    &rest[..rest.find(";;").unwrap()]
}

#[test]
fn source_completes_to_the_settings_sources_never_to_file_names() {
    // No settings file: nothing to offer, and no file names either.
    let (code, script, stderr) = payimport(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let case = bash_case(&script, "--source");
    assert!(!case.contains("compgen -f"), "{case}");
    // With the samples' settings: their five sources.
    let settings = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/payimport.toml");
    let (code, script, stderr) = payimport(&["--settings", settings, "completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let case = bash_case(&script, "--source");
    assert!(
        case.contains(r#"compgen -W "ach bank_csv camt lockbox returns_csv""#),
        "{case}"
    );
}

#[test]
fn ledger_and_metrics_file_are_shown_once_and_accepted_anywhere() {
    let (_, top, _) = payimport(&["--help"]);
    assert!(
        top.contains("--ledger") && top.contains("--metrics-file"),
        "{top}"
    );
    for command in ["import", "retry", "report", "runs", "check"] {
        let (code, help, stderr) = payimport(&[command, "--help"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            !help.contains("--ledger") && !help.contains("--metrics-file"),
            "{command} --help repeats the global options:\n{help}"
        );
    }
    // Still accepted after the command, as global options.
    let (code, _, stderr) = payimport(&["report", "--ledger", "/nonexistent/l.sqlite"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/l.sqlite"), "{stderr}");
}

#[test]
fn man_page_has_exit_status_environment_and_files_and_no_missing_pages() {
    let (code, page, stderr) = payimport(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    for section in [
        ".SH COMMANDS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
    ] {
        assert!(page.contains(section), "man page misses {section}");
    }
    assert!(
        !page.contains("(1)\n"),
        "refers to a page that does not exist:\n{page}"
    );
    assert!(!page.contains("payimport\\-import"), "{page}");
    for variable in ["PAYIMPORT_SETTINGS", "NO_COLOR", "RUST_LOG", "token_env"] {
        assert!(page.contains(variable), "ENVIRONMENT misses {variable}");
    }
    // It renders: man(1) reads it without a warning, when man is installed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payimport.1");
    std::fs::write(&path, &page).unwrap();
    if let Ok(out) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
    {
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.trim().is_empty(), "groff: {warnings}");
    }
}
