//! Dates a person would never mean (docs/formats.md) and settings that could crash payimport or point
//! it astray (docs/settings.md), through the binary.

use chrono::Days;

use crate::util::{Env, summary_count};

/// Rewrites the line `key = ...` of the test's settings to `key = value`.
fn set(env: &Env, key: &str, value: &str) {
    let text = std::fs::read_to_string(&env.settings).unwrap();
    let prefix = format!("{key} = ");
    assert!(
        text.lines().any(|l| l.starts_with(&prefix)),
        "no {key} in the settings"
    );
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&env.settings, text.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_digit_year_and_a_date_older_than_max_age_days_are_rejected() {
    let env = Env::new().await;
    let today = crate::util::today();
    let recent = today - Days::new(10);
    let old = today - Days::new(400);
    let file = env.write(
        "bank.csv",
        &format!(
            "loan,amount,date,reference\n1,10.00,11/25/26,r1\n2,10.00,0001-01-01,r2\n3,10.00,{},r3\n4,10.00,{},r4\n",
            old.format("%Y-%m-%d"),
            recent.format("%m/%d/%Y"),
        ),
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary_count(&r.stdout, "posted"), Some(1), "{}", r.stdout);
    assert_eq!(
        summary_count(&r.stdout, "rejected"),
        Some(3),
        "{}",
        r.stdout
    );
    let payments = env.sandbox.payments();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].date, recent.format("%Y-%m-%d").to_string());

    let rows = env.report(&[]).await;
    let message = |line: &str| {
        let row = rows.iter().find(|r| r.get("line") == line).unwrap();
        assert_eq!(row.get("status"), "rejected", "{row:?}");
        row.get("message").to_string()
    };
    let m = message("2");
    assert!(
        m.contains("field `date` value \"11/25/26\": expected a four-digit year"),
        "{m}"
    );
    let m = message("3");
    assert!(
        m.contains("field `date` value \"0001-01-01\": is more than 365 days old"),
        "{m}"
    );
    let m = message("4");
    assert!(m.contains("is more than 365 days old"), "{m}");

    // A bank format's dates are held to the source's own limit: the lockbox fixture's deposit
    // date is 2026-11-18.
    env.add_settings(
        "\n[sources.lockbox]\nformat = \"lockbox\"\nloan = \"display_id\"\nmax_age_days = 1\n",
    );
    let lockbox = env.fixture("lockbox/good.lbx");
    let r = env
        .run(&[
            "import",
            "--dry-run",
            "--source",
            "lockbox",
            lockbox.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("field `date` value \"2026-11-18\": is more than 1 day old"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("dry run: 0 row(s) would be sent"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_out_of_range_exit_2_naming_the_key_and_the_range() {
    let env = Env::new().await;
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,r1\n",
    );
    let original = std::fs::read_to_string(&env.settings).unwrap();
    let base = env.sandbox.base_url();
    let cases: &[(&str, String, &str)] = &[
        (
            "settle_secs",
            "1e20".into(),
            "`limits.settle_secs`: must be from 0.0 to 3600.0 seconds, got 1e20",
        ),
        (
            "timeout_secs",
            "1e30".into(),
            "`loanpro.timeout_secs`: must be from 0.1 to 600.0 seconds, got 1e30",
        ),
        (
            "requests_per_second",
            "1e-9".into(),
            "`limits.requests_per_second`: must be from 0.1 to 1000000.0, got 1e-9",
        ),
        (
            "concurrency",
            "-3".into(),
            "`limits.concurrency`: must be from 1 to 256, got -3",
        ),
        (
            "max_attempts",
            "1000".into(),
            "`limits.max_attempts`: must be from 1 to 100, got 1000",
        ),
        (
            "base_url",
            format!("\"{base}?tenant=1\""),
            "`loanpro.base_url`",
        ),
        ("base_url", format!("\"{base}#x\""), "`loanpro.base_url`"),
        ("base_url", format!("\"{base}/../1\""), "`loanpro.base_url`"),
    ];
    for (key, value, says) in cases {
        std::fs::write(&env.settings, &original).unwrap();
        set(&env, key, value);
        let r = env.run(&["import", file.to_str().unwrap()]).await;
        assert_eq!(r.code, 2, "{key} = {value}\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{key} = {value}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    assert_eq!(env.sandbox.stats().puts, 0);
    assert!(!env.ledger().exists(), "nothing was written");
}
