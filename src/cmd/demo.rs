//! `payimport demo`: the sandbox in-process, the bundled samples imported, the report printed.

use anyhow::Context;

use super::import::{self, ImportArgs};
use crate::cli::Exit;
use crate::ledger::Ledger;
use crate::settings::{Settings, Token};

/// The bundled samples, so `demo` works from any folder on a fresh checkout.
pub const SAMPLE_SETTINGS: &str = include_str!("../../samples/payimport.toml");
const SAMPLE_FILES: &[(&str, &str, &str)] = &[
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
    // After the payments: two of them come back, and are reversed (SPEC §8).
    (
        "returns_csv",
        "returns.csv",
        include_str!("../../samples/returns.csv"),
    ),
];
/// The base URL the sample settings carry (that of `payimport sandbox` on its default port).
const SAMPLE_BASE_URL: &str = "http://127.0.0.1:8080/api/public/api/1";

/// `payimport demo`: a sandbox in-process on a free loopback port, the samples imported into a
/// fresh ledger, the summary and the report printed.
pub async fn run() -> anyhow::Result<Exit> {
    use crate::sandbox::{Sandbox, SandboxConfig};

    let dir = std::env::temp_dir().join(format!("payimport-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = async {
        let config = SandboxConfig::default();
        let token = Token::new(config.token.clone());
        let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().expect("address"))
            .await
            .context("cannot start the sandbox")?;
        let settings_path = dir.join("payimport.toml");
        let text = SAMPLE_SETTINGS.replace(SAMPLE_BASE_URL, &sandbox.base_url());
        std::fs::write(&settings_path, &text)?;
        let settings = Settings::from_toml(&text, &settings_path)?;
        println!(
            "demo: LoanPro sandbox at {}; ledger {}",
            sandbox.base_url(),
            settings.ledger_path.display()
        );
        let mut worst = Exit::Done;
        for (source, name, content) in SAMPLE_FILES {
            let path = dir.join(name);
            std::fs::write(&path, content)?;
            let args = ImportArgs {
                source: Some(source.to_string()),
                dry_run: false,
                files: vec![path],
            };
            worst = worst.max(
                import::run(&settings, &settings.ledger_path, &args, Some(token.clone())).await?,
            );
        }
        println!();
        crate::report::write_csv(
            &Ledger::open_read_only(&settings.ledger_path)?,
            None,
            &mut std::io::stdout().lock(),
        )?;
        println!();
        let payments = sandbox.payments();
        println!(
            "demo: the sandbox holds {} payment(s), {} of them reversed:",
            payments.len(),
            payments.iter().filter(|p| p.reversal.is_some()).count()
        );
        for p in payments.iter().filter(|p| p.reversal.is_some()) {
            let r = p.reversal.as_ref().expect("reversed");
            println!(
                "  payment {} of loan {} ({}): {}, \"{}\"{}",
                p.id,
                p.loan_id,
                p.amount,
                r.reverse_reason,
                r.comments,
                r.nacha_return_code
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default()
            );
        }
        sandbox.shutdown().await;
        Ok(worst)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
