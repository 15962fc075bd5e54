//! The one file writer (docs/loanpro.md) through the binary: the metrics file and the report refuse
//! devices, FIFOs and the ledger before anything is written, and get the mode they promise
//! whatever the umask.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use crate::util::{Env, Run, TODAY, valid_csv};

/// `payimport --settings ... ARGS` under `umask 077`, as a cron job of a careful admin runs.
async fn run_under_umask_077(env: &Env, args: &[&str]) -> Run {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_payimport"))
        .arg("--settings")
        .arg(&env.settings)
        .args(args)
        .current_dir(env.dir.path())
        .env("TEST_LOANPRO_TOKEN", &env.token)
        .env_remove("PAYIMPORT_SETTINGS")
        .env_remove("RUST_LOG")
        .env_remove("PAYIMPORT_CRASH_AT")
        .env("PAYIMPORT_TODAY", TODAY)
        .kill_on_drop(true)
        .output()
        .await
        .expect("payimport runs");
    Run::from(out)
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_or_fifo_as_metrics_file_is_refused_before_the_run_and_left_as_it_is() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    let fifo = env.path("metrics.prom");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (target, says) in [("/dev/null", "a device"), ("metrics.prom", "a FIFO")] {
        let r = env
            .run(&["--metrics-file", target, "import", file.to_str().unwrap()])
            .await;
        assert_eq!(r.code, 2, "{target}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains(&format!("--metrics-file {target} is {says}")),
            "{}",
            r.stderr
        );
        assert!(env.sandbox.payments().is_empty(), "nothing was imported");
    }
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // The ledger, by another name, is no metrics file either.
    env.write("first.csv", &valid_csv(1));
    let r = env.run(&["import", "first.csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::os::unix::fs::symlink(env.ledger(), env.path("ledger.prom")).unwrap();
    let before = std::fs::read(env.ledger()).unwrap();
    let r = env
        .run(&["--metrics-file", "ledger.prom", "import", "first.csv"])
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is the ledger"), "{}", r.stderr);
    assert_eq!(std::fs::read(env.ledger()).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_get_their_promised_mode_whatever_the_umask() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(2));
    let r = run_under_umask_077(
        &env,
        &[
            "--metrics-file",
            "night.prom",
            "import",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        mode(&env.path("night.prom")),
        0o644,
        "node_exporter reads it"
    );
    // A report over a world-readable file is for the operator's eyes only, all the same.
    std::fs::write(env.path("night.csv"), "old").unwrap();
    std::fs::set_permissions(
        env.path("night.csv"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let r = run_under_umask_077(&env, &["report", "--output", "night.csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mode(&env.path("night.csv")), 0o600);
    assert!(
        std::fs::read_to_string(env.path("night.csv"))
            .unwrap()
            .starts_with("run_id,")
    );
    // Nothing left behind in the folder.
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_node_exporter_would_ignore_is_warned_about() {
    let env = Env::new().await;
    let file = env.write("bank.csv", &valid_csv(1));
    let r = env
        .run(&[
            "--metrics-file",
            "night.txt",
            "import",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("night.txt") && r.stderr.contains("`.prom`"),
        "{}",
        r.stderr
    );
    assert!(env.path("night.txt").is_file(), "written all the same");
    let r = env
        .run(&[
            "--metrics-file",
            "night.prom",
            "import",
            file.to_str().unwrap(),
        ])
        .await;
    assert!(!r.stderr.contains("`.prom`"), "{}", r.stderr);
}
