//! LF, CRLF and CR alone are line ends in every format (docs/loanpro.md): the same bank file with
//! each of the three imports the same rows.

use payimport::read::nacha::{ReturnEntry, return_file};

use crate::import_bank::BANK_SOURCES;
use crate::returns::RETURN_SOURCES;
use crate::util::{Env, valid_csv};

/// `text` with every line ended by `eol`.
fn with_line_ends(text: &str, eol: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', eol)
}

/// Imports `text` (as `name`, through `source`) into a world of its own; returns the exit
/// code and what the report says of each row, sorted.
async fn import(source: &str, name: &str, text: &str) -> (i32, Vec<String>) {
    let env = Env::new().await;
    env.add_settings(BANK_SOURCES);
    env.add_settings(RETURN_SOURCES);
    let file = env.write(name, text);
    let r = env
        .run(&["import", "--source", source, file.to_str().unwrap()])
        .await;
    let mut rows: Vec<String> = env
        .report(&[])
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r.get("line"),
                r.get("status"),
                r.get("loan"),
                r.get("amount"),
                r.get("date")
            )
        })
        .collect();
    rows.sort();
    assert!(r.code != 2, "{name}: {}\n{}", r.stdout, r.stderr);
    (r.code, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_reads_the_same_with_lf_crlf_or_cr_alone() {
    let fixture = |rel: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(rel),
        )
        .unwrap()
    };
    let entry = |loan: &str, cents| ReturnEntry {
        loan: loan.into(),
        cents,
        code: "R01".into(),
        original_trace: "091000010000042".into(),
        trace: format!("09100001{cents:07}"),
        notice: false,
    };
    let files = [
        ("bank_csv", "bank.csv", valid_csv(5)),
        ("lockbox", "box.lbx", fixture("lockbox/good_lf.lbx")),
        ("ach", "statement.bai", fixture("bai2/good.bai")),
        (
            "ach_returns",
            "returns.ach",
            return_file("261124", &[entry("12", 25_000), entry("13", 1_050)]),
        ),
    ];
    for (source, name, text) in files {
        let lf = import(source, name, &with_line_ends(&text, "\n")).await;
        assert!(!lf.1.is_empty(), "{name}: no rows");
        for eol in ["\r\n", "\r"] {
            let other = import(source, name, &with_line_ends(&text, eol)).await;
            assert_eq!(other, lf, "{name} with {eol:?} line ends");
        }
    }
}
