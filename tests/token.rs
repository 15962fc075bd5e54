//! The token never appears in anything payimport prints or stores (docs/loanpro.md), even when
//! LoanPro or a gateway in front of it echoes it in an error body.

use payimport::sandbox::Fault;

use crate::util::{Env, Run};

/// Every byte of the ledger's files (the database, its WAL, its lock).
fn ledger_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
        let mut p = env.ledger().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(p) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_token_is_redacted_in_output_ledger_reports_and_check() {
    let env = Env::new().await;
    let token = env.token.clone();
    let mut runs: Vec<Run> = Vec::new();
    // LoanPro refuses one payment, quoting the Authorization header back.
    env.sandbox.push_faults([Fault::EchoToken]);
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    let r = env.run(&["-v", "import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = env.report(&[]).await;
    let message = report[0].get("message").to_string();
    assert!(
        message.contains("Authorization: Bearer [redacted]"),
        "the message is kept, the token is not: {message}"
    );
    runs.push(r);
    // A gateway echoes the request's headers on every try of `check`'s first GET.
    env.sandbox.push_faults([
        Fault::GetEchoToken,
        Fault::GetEchoToken,
        Fault::GetEchoToken,
    ]);
    let r = env.run(&["check"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[redacted]"), "{}", r.stdout);
    runs.push(r);
    // The same through `retry` and with JSON logs.
    env.sandbox.push_faults([Fault::EchoToken]);
    runs.push(env.run(&["--log-format", "json", "-v", "retry"]).await);

    for r in &runs {
        assert!(!r.stdout.contains(&token), "stdout: {}", r.stdout);
        assert!(!r.stderr.contains(&token), "stderr: {}", r.stderr);
    }
    assert!(
        !contains(&ledger_bytes(&env), &token),
        "the ledger holds the token"
    );
    for format in ["csv", "json", "html"] {
        let out = env.path(&format!("report.{format}"));
        let r = env
            .run(&[
                "report",
                "--format",
                format,
                "--output",
                out.to_str().unwrap(),
            ])
            .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("[redacted]"),
            "{format}: the message is there"
        );
        assert!(
            !text.contains(&token),
            "the {format} report holds the token"
        );
    }
}
