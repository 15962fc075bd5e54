//! `report --output` never destroys what it should not (the ledger, a FIFO, a device or socket,
//! a directory: each is refused, docs/loanpro.md), and `report | head` is not an error.

use std::os::unix::fs::FileTypeExt;

use crate::util::{Env, valid_csv};

/// An environment whose ledger holds `rows` posted payments.
async fn posted(rows: usize) -> Env {
    let env = Env::new().await;
    let csv = env.write("bank.csv", &valid_csv(rows));
    let r = env.run(&["import", csv.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    env
}

#[tokio::test]
async fn the_ledger_and_its_files_are_refused_by_any_name() {
    let env = posted(3).await;
    let ledger = env.ledger();
    let before = std::fs::read(&ledger).unwrap();
    std::os::unix::fs::symlink(&ledger, env.path("link.csv")).unwrap();
    std::fs::hard_link(&ledger, env.path("hard.csv")).unwrap();
    for out in [
        ledger.to_str().unwrap().to_string(),
        "./ledger.sqlite".into(),
        "ledger.sqlite-wal".into(),
        "ledger.sqlite-shm".into(),
        "ledger.sqlite.lock".into(),
        env.path("link.csv").to_str().unwrap().into(),
        env.path("hard.csv").to_str().unwrap().into(),
    ] {
        let r = env.run(&["report", "--output", &out]).await;
        assert_eq!(r.code, 2, "--output {out}: {}", r.stdout);
        assert!(
            r.stderr.contains("is the ledger") && r.stderr.contains(&out),
            "--output {out}: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        before,
        "the ledger is untouched"
    );
    assert!(
        std::fs::symlink_metadata(env.path("link.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The ledger still works.
    assert_eq!(env.report(&[]).await.len(), 3);
}

#[tokio::test]
async fn special_files_and_directories_are_left_as_they_are() {
    let env = posted(2).await;
    let socket_path = env.path("report.sock");
    let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    std::fs::create_dir(env.path("reports")).unwrap();
    for (out, kind) in [
        (socket_path.to_str().unwrap(), "special file"),
        ("reports", "directory"),
    ] {
        let r = env.run(&["report", "--output", out]).await;
        assert_eq!(r.code, 2, "--output {out}");
        assert!(r.stderr.contains(kind), "{}", r.stderr);
    }
    assert!(
        std::fs::metadata(&socket_path)
            .unwrap()
            .file_type()
            .is_socket()
    );
    assert!(env.path("reports").is_dir());
}

#[tokio::test]
async fn a_fifo_is_refused_and_stays_a_fifo() {
    // docs/loanpro.md: the one file writer writes regular files only; a reader of a FIFO gets the
    // report from stdout (`payimport report > fifo`).
    let env = posted(4).await;
    let fifo = env.path("report.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let r = env
        .run(&["report", "--output", fifo.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("a FIFO") && r.stderr.contains(fifo.to_str().unwrap()),
        "{}",
        r.stderr
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[tokio::test]
async fn a_reader_that_stops_early_is_not_an_error() {
    use tokio::io::AsyncReadExt;
    // Far more than a pipe's 64 KiB buffer, so the writer meets the closed pipe.
    let env = posted(2000).await;
    for args in [&["report"][..], &["report", "--format", "json"]] {
        let mut child = env.spawn(args);
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 100];
        stdout.read_exact(&mut first).await.unwrap();
        drop(stdout);
        let out = child.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{stderr}");
    }
}
