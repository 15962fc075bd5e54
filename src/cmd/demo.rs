//! `payimport demo`: one night of bank files told as a story against the sandbox, in-process:
//! payments posted (one bad row rejected, one LoanPro timeout settled by reading back, one
//! unidentified lockbox coupon amended to its loan), the same
//! files again with nothing sent, two returned payments reversed, and the reconciliation report
//! written to `payimport-demo/` in the working folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;

use super::import::{self, ImportArgs};
use super::report::REPORT_MODE;
use crate::exit::Exit;
use crate::fsutil::Target;
use crate::ledger::{Ledger, Status};
use crate::metrics::Meter;
use crate::sandbox::{Fault, Sandbox, SandboxConfig};
use crate::settings::{Settings, Token};

/// The bundled samples, so `demo` works from any folder on a fresh checkout.
pub const SAMPLE_SETTINGS: &str = include_str!("../../samples/payimport.toml");
/// The night's payment files: (source, file name, content).
const PAYMENT_FILES: &[(&str, &str, &str)] = &[
    (
        "bank_csv",
        "bank.csv",
        include_str!("../../samples/bank.csv"),
    ),
    (
        "lockbox",
        "lockbox.lbx",
        include_str!("../../samples/lockbox.lbx"),
    ),
    ("ach", "ach.bai", include_str!("../../samples/ach.bai")),
    (
        "camt",
        "statement.053.xml",
        include_str!("../../samples/statement.053.xml"),
    ),
];
/// Two of the night's payments come back (docs/returns.md).
const RETURN_FILE: (&str, &str, &str) = (
    "returns_csv",
    "returns.csv",
    include_str!("../../samples/returns.csv"),
);
/// The base URL the sample settings carry (that of `payimport sandbox` on its default port).
const SAMPLE_BASE_URL: &str = "http://127.0.0.1:8080/api/public/api/1";
/// The folder the demo writes, relative to the working folder.
const DEMO_DIR: &str = "payimport-demo";

/// Writes one of the demo's files through the one file writer ([`crate::fsutil`]): the demo's
/// folder is the person's, and a symlink or FIFO found there is not followed.
fn write_file(path: &Path, mode: u32, bytes: &[u8]) -> anyhow::Result<()> {
    Target {
        option: "the demo's file",
        path,
        mode,
        ledger: None,
    }
    .write(|w| Ok(w.write_all(bytes)?))
}

/// `payimport demo`. Exits 0 when the story went as told (the sample night itself has a row
/// that needs attention, by design), 2 when it did not.
pub async fn run() -> anyhow::Result<Exit> {
    let dir = PathBuf::from(DEMO_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {DEMO_DIR}/"))?;
    // A fresh ledger each time, so the story is the same every time: only the demo's own
    // files are replaced.
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(dir.join(format!("payimport.sqlite{suffix}")));
    }
    let sandbox = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse()?)
        .await
        .context("cannot start the sandbox")?;
    let result = tell(&sandbox, &dir).await;
    sandbox.shutdown().await;
    result
}

async fn tell(sandbox: &Sandbox, dir: &Path) -> anyhow::Result<Exit> {
    let token = Token::new(SandboxConfig::default().token);
    let settings_path = dir.join("payimport.toml");
    // Read-backs after the timeout below wait a second, not the minute a real night waits.
    let text = SAMPLE_SETTINGS
        .replace(SAMPLE_BASE_URL, &sandbox.base_url())
        .replace("settle_secs = 60", "settle_secs = 1");
    write_file(&settings_path, 0o644, text.as_bytes())?;
    let settings = Settings::from_toml(&text, &settings_path)?;
    let ledger = &settings.ledger_path;
    // The samples are the night of 20 November 2026; the demo is told as of a few days later.
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let import = |(source, name, content): (&'static str, &'static str, &'static str)| {
        let path = dir.join(name);
        let settings = &settings;
        let token = token.clone();
        async move {
            write_file(&path, 0o644, content.as_bytes())?;
            let args = ImportArgs {
                source: Some(source.to_string()),
                dry_run: false,
                expect_count: None,
                expect_total: None,
                archive: None,
                // The samples were just written (or checked out): their age says nothing.
                min_file_age: Some(0),
                files: vec![path],
            };
            import::run_on(
                settings,
                ledger,
                &args,
                Some(token),
                today,
                &Meter::default(),
            )
            .await
        }
    };
    let mut surprises = Vec::new();

    println!(
        "payimport demo: one night of bank files, imported into a LoanPro sandbox running in this\n\
         process ({}); nothing leaves this machine. Files, ledger and reports: {DEMO_DIR}/\n",
        sandbox.base_url()
    );

    println!(
        "== 1. The night's payments: a CSV export (one row has an amount with three decimals),\n\
         ==    a lockbox transmission, a BAI2 statement and an ISO 20022 camt.053 statement (its\n\
         ==    bank fee is counted, not sent). LoanPro answers the first payment with a 500 after\n\
         ==    logging it, as it does when it times out.\n"
    );
    sandbox.push_faults([Fault::ErrorAfterCommit]);
    for file in PAYMENT_FILES {
        import(*file).await?;
        println!();
    }
    let night = count(ledger)?;
    let payments_logged = sandbox.payments().len();
    if night.rejected != 2 {
        surprises.push(format!("{} rejected rows, not 2", night.rejected));
    }
    if night.read_back != 1 {
        surprises.push(format!("{} rows read back, not 1", night.read_back));
    }
    if night.posted as usize != payments_logged {
        surprises.push(format!(
            "{} rows posted but {payments_logged} payments in LoanPro",
            night.posted
        ));
    }
    println!(
        "-> {} payments posted, each exactly once (the one that timed out was read back and found\n\
         \x20  logged, not sent again); 2 rows rejected with their messages (a bad amount, and a\n\
         \x20  lockbox coupon whose loan number LN009990 is no loan). Exit status 1: a person must\n\
         \x20  look at the rejected rows.\n",
        night.posted
    );

    println!(
        "== 1b. The coupon's loan number was misread: the lockbox image shows LN000999. A person\n\
         ==     amends it; payimport sends a corrected copy, once, and keeps who did it and why:\n\
         ==     payimport amend KEY --loan LN000999 --note \"coupon image shows LN000999\"\n"
    );
    let puts_before = sandbox.stats().puts;
    let coupon = unidentified_coupon(ledger)?;
    let amend = super::amend::AmendArgs {
        key: coupon,
        loan: Some("LN000999".into()),
        payment_type: None,
        extra: None,
        original: None,
        move_posted: false,
        note: Some("coupon image shows LN000999".into()),
        audit: super::dismiss::AuditArgs {
            by: Some("demo".into()),
        },
    };
    super::amend::run(&settings, ledger, &amend, Some(token.clone())).await?;
    let amended = sandbox.stats().puts - puts_before;
    if amended != 1 || !sandbox.payments().iter().any(|p| p.loan_id == 999) {
        surprises.push(format!(
            "the amend sent {amended} payment(s), not 1 on loan 999"
        ));
    }
    println!("-> the coupon is posted on loan LN000999; its original row is `amended`.\n");

    println!("== 2. The same four files again, as a rerun of the cron job would bring them.\n");
    let puts_before = sandbox.stats().puts;
    for file in PAYMENT_FILES {
        import(*file).await?;
        println!();
    }
    let resent = sandbox.stats().puts - puts_before;
    if resent != 0 {
        surprises.push(format!("{resent} payments sent again on the rerun"));
    }
    println!("-> LoanPro received {resent} new payment(s): every row was already posted.\n");

    println!(
        "== 3. Two of the night's payments come back: a check returned unpaid and an ACH debit\n\
         ==    returned R01 (insufficient funds).\n"
    );
    import(RETURN_FILE).await?;
    println!();
    let reversed: Vec<_> = sandbox
        .payments()
        .into_iter()
        .filter(|p| p.reversal.is_some())
        .collect();
    if reversed.len() != 2 {
        surprises.push(format!("{} payments reversed, not 2", reversed.len()));
    }
    println!(
        "-> {} payment(s) reversed in LoanPro, once each:",
        reversed.len()
    );
    for p in &reversed {
        let r = p.reversal.as_ref().expect("reversed");
        println!(
            "   loan {} {}: {}, \"{}\"",
            p.loan_id, p.amount, r.reverse_reason, r.comments
        );
    }
    println!();

    println!(
        "== 4. The night tied out: for each bank file, what it states = posted + already posted\n\
         ==    + rejected + not payments + still open + dismissed (then reversed since, and net);\n\
         ==    the amended coupon counts once, as its corrected copy.\n"
    );
    {
        let ledger = Ledger::open_read_only(ledger)?;
        let night = crate::report::select::select(&ledger, &Default::default())?;
        let files = ledger.tie_out(&night.runs, None)?;
        println!(
            "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  ties out",
            "file", "stated", "posted", "rejected", "not pmt", "open", "reversed", "net"
        );
        for f in &files {
            let t = &f.tally;
            let name = Path::new(&f.file)
                .file_name()
                .map_or(f.file.clone(), |n| n.to_string_lossy().into_owned());
            println!(
                "  {name:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
                f.stated.to_string(),
                t.posted.amount.to_string(),
                t.rejected.amount.to_string(),
                t.not_payments.amount.to_string(),
                t.open.amount.to_string(),
                t.reversed.amount.to_string(),
                t.net().to_string(),
                if f.balances { "yes" } else { "NO" }
            );
            for n in &f.not_payments {
                println!(
                    "    not a payment: {name} line {}, type code {}, {} ({})",
                    n.line,
                    n.code,
                    n.amount.map_or("unreadable".to_string(), |a| a.to_string()),
                    n.why
                );
            }
            if !f.balances {
                surprises.push(format!("{} does not tie out", f.file));
            }
        }
        let not_payments: i64 = files.iter().map(|f| f.tally.not_payments.amount.0).sum();
        if files.len() != 5 || not_payments != 2500 {
            surprises.push(format!(
                "{} files tied out with {} not payments, not 5 with 25.00",
                files.len(),
                crate::money::Cents(not_payments)
            ));
        }
    }
    println!(
        "\n-> every file ties out to the cent; the rerun added nothing; the BAI2 detail of type\n\
         \x20  code 475 (25.00, not a payment) is accounted for, never sent.\n"
    );

    println!(
        "== 5. Days later someone deletes one of these payments in LoanPro by hand.\n\
         ==    `payimport reconcile` reads every loan's payments back and compares (read only).\n"
    );
    let victim = sandbox
        .payments()
        .into_iter()
        .find(|p| p.reversal.is_none())
        .context("a payment to delete")?;
    sandbox.delete_payment(victim.id);
    let exit = super::reconcile::run_with(
        &settings,
        ledger,
        &super::reconcile::ReconcileArgs {
            since: None,
            until: None,
        },
        Some(token.clone()),
    )
    .await?;
    if exit != Exit::Attention {
        surprises.push("reconcile did not find the deleted payment".to_string());
    }
    println!(
        "\n-> the deleted payment (loan {}, {}) is listed as drift, with what to do; exit status 1.\n",
        victim.loan_id, victim.amount
    );

    let html = dir.join("report.html");
    let csv = dir.join("report.csv");
    {
        let ledger = Ledger::open_read_only(ledger)?;
        let mut page = Vec::new();
        let night = crate::report::select::select(&ledger, &Default::default())?;
        crate::report::html::write_html(&ledger, &night, &mut page)?;
        write_file(&html, REPORT_MODE, &page)?;
        let mut rows = Vec::new();
        crate::report::write_csv(&ledger, None, &mut rows)?;
        write_file(&csv, REPORT_MODE, &rows)?;
    }
    println!(
        "== 6. The reconciliation report for accounting: {} (open it in a browser)\n\
         ==    and {}. The ledger is {}: try\n\
         ==    payimport --settings {} runs\n",
        html.display(),
        csv.display(),
        ledger.display(),
        settings_path.display()
    );

    if surprises.is_empty() {
        println!("demo: done.");
        Ok(Exit::Done)
    } else {
        eprintln!(
            "demo: the story did not go as told: {}",
            surprises.join("; ")
        );
        Ok(Exit::Fatal)
    }
}

/// The key of the lockbox coupon no loan matched (the demo's sample has one).
fn unidentified_coupon(ledger: &Path) -> anyhow::Result<String> {
    let ledger = Ledger::open_read_only(ledger)?;
    let mut key = None;
    ledger.for_each_report_row(None, |r| -> anyhow::Result<()> {
        if r.status == Status::Rejected && r.loan == "LN009990" {
            key = Some(r.key);
        }
        Ok(())
    })?;
    key.context("the sample lockbox's unidentified coupon is not in the ledger")
}

/// What the ledger says of the rows of every run so far.
struct Counts {
    posted: u64,
    rejected: u64,
    read_back: u64,
}

fn count(ledger: &Path) -> anyhow::Result<Counts> {
    let ledger = Ledger::open_read_only(ledger)?;
    let mut counts = Counts {
        posted: 0,
        rejected: 0,
        read_back: 0,
    };
    for run in ledger.runs()? {
        for t in ledger.totals(run.id)? {
            match t.status {
                Status::Posted => counts.posted += t.count,
                Status::Rejected => counts.rejected += t.count,
                _ => {}
            }
        }
        counts.read_back += ledger.reconciled_count(run.id)?;
    }
    Ok(counts)
}
