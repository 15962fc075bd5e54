//! `payimport amend`: a corrected copy of a payment that was rejected or refused (wrong loan,
//! payment type or extra), sent in a new run in its place; or an unmatched return given its
//! original payment, then reversed (docs/states.md). Amount and date are the bank's: never amended.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::cli::Exit;
use crate::ledger::{NamedRow, NewRow, Status, Step, resolvable};
use crate::metrics::Meter;
use crate::payment::{Key, push_key_marker};
use crate::read::{Position, RawAmount, RawFields, RawRow};
use crate::session::Session;
use crate::settings::{Settings, Token};
use crate::validate::Validator;

use super::dismiss::{AuditArgs, named_rows};

/// `payimport amend`.
#[derive(Debug, Clone, clap::Args)]
pub struct AmendArgs {
    /// The row's key (16 hex digits, as in the report)
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The right loan: an id or a display id, as the row's source names loans
    #[arg(long, value_name = "ID|DISPLAY_ID")]
    pub loan: Option<String>,
    /// The right payment type id
    #[arg(long, value_name = "N")]
    pub payment_type: Option<u32>,
    /// The right "extra towards" value
    #[arg(long, value_name = "VALUE")]
    pub extra: Option<String>,
    /// For an unmatched return: the key of the payment it returns
    #[arg(long, value_name = "PAYMENT_KEY", conflicts_with_all = ["loan", "payment_type", "extra"])]
    pub original: Option<String>,
    /// Move a posted payment to another loan (not available yet: refused)
    #[arg(long = "move")]
    pub move_posted: bool,
    /// Why (kept beside the row)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub audit: AuditArgs,
}

/// Runs an amend.
pub async fn run(
    settings: &Settings,
    ledger_path: &Path,
    args: &AmendArgs,
    token: Option<Token>,
) -> anyhow::Result<Exit> {
    // Read first, without the lock, to know the row's source; checked again under the lock.
    let row = {
        let ledger = super::dismiss::open_existing(ledger_path)?;
        named_rows(&ledger, std::slice::from_ref(&args.key))?.remove(0)
    };
    let who = args.audit.resolver(args.note.as_deref());
    // Everything that can be refused is checked before a run is begun.
    let change = match &args.original {
        Some(original) => {
            check_return(&row)?;
            let original = original.to_ascii_lowercase();
            super::retry::check_key("--original ", &original)?;
            Change::Original(original)
        }
        None => Change::Copy(Box::new(corrected_copy(settings, &row, args)?)),
    };
    let mut session = Session::start(
        settings,
        ledger_path,
        token,
        "amend",
        row.source.as_deref(),
        // Not metered: the metrics file is about the nightly import and retry.
        &Meter::default(),
    )
    .await?;
    let title = match change {
        Change::Original(original) => {
            session
                .ledger()
                .amend_return(session.run, row.id, &original, &who)?;
            format!(
                "payimport amend: run {}, return {} given its original {original}",
                session.run, row.key
            )
        }
        Change::Copy(copy) => {
            session
                .ledger()
                .stage_amend(session.run, row.id, &copy, &who)?;
            format!(
                "payimport amend: run {}, {} amended by the corrected copy {}",
                session.run, row.key, copy.key
            )
        }
    };
    let sent = session.send().await?;
    let mut notes = Vec::new();
    if let Some(signal) = sent.interrupted {
        notes.push(super::import::interrupted_note(signal));
    }
    let attention = session.print_summary(&title, &notes)?;
    std::io::stdout().flush()?;
    Ok(if sent.stopped.is_some() {
        Exit::Fatal
    } else if sent.interrupted.is_some() {
        Exit::Attention
    } else {
        Exit::for_attention(attention)
    })
}

/// What an amend does: name an unmatched return's original, or stage a corrected copy.
enum Change {
    Original(String),
    Copy(Box<NewRow>),
}

fn check_return(row: &NamedRow) -> anyhow::Result<()> {
    if row.kind != "return" {
        anyhow::bail!(
            "{}: is a {}; --original names the payment an unmatched return reverses",
            row.key,
            row.kind
        );
    }
    if !Step::Amend.sources(Status::Pending).contains(&row.status) {
        anyhow::bail!(
            "{}: is `{}`; only a return in {} is given its original; nothing was changed",
            row.key,
            row.status,
            resolvable(Step::Amend, Status::Pending)
        );
    }
    Ok(())
}

/// The corrected copy of a payment row, validated as its source validates a file's row: the
/// original's amount, date and reference with the loan, payment type or extra corrected.
fn corrected_copy(settings: &Settings, row: &NamedRow, args: &AmendArgs) -> anyhow::Result<NewRow> {
    if row.kind != "payment" {
        anyhow::bail!(
            "{}: is a {}; a return is amended with --original PAYMENT_KEY",
            row.key,
            row.kind
        );
    }
    if matches!(row.status, Status::Posted | Status::AlreadyPosted) {
        anyhow::bail!(
            "{}: is `{}`: it is in LoanPro, and a corrected copy would log it twice; {}",
            row.key,
            row.status,
            if args.move_posted {
                "moving a posted payment to another loan (--move) is not available yet"
            } else {
                "a posted payment on the wrong loan is moved with --move"
            }
        );
    }
    if !Step::Amend.sources(Status::Amended).contains(&row.status) {
        anyhow::bail!(
            "{}: is `{}`; only a payment in {} can be amended; nothing was changed",
            row.key,
            row.status,
            resolvable(Step::Amend, Status::Amended)
        );
    }
    if args.loan.is_none() && args.payment_type.is_none() && args.extra.is_none() {
        anyhow::bail!(
            "nothing to amend: give the correction (--loan, --payment-type or --extra); `payimport retry KEY` sends a row again as it is"
        );
    }
    let source = settings
        .source(row.source.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: its source: {e}", row.key))?;
    // Dates are judged as on the night the bank delivered them, not today; a row that was
    // valid when it was staged (its amount in cents, its date `YYYY-MM-DD`) keeps its date.
    let day = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let staged_on = match row.amount_cents {
        Some(_) => day(&row.date),
        None => None,
    }
    .or_else(|| day(row.run_started.get(..10).unwrap_or("")))
    .unwrap_or_else(crate::validate::today);
    let mut validator =
        Validator::new(source, &settings.payments, staged_on).with_returns(&settings.returns);
    validator = validator.for_ledger_rows();
    let raw = RawRow {
        pos: Position {
            file: Arc::from(row.file.as_str()),
            line: row.line,
        },
        fields: RawFields {
            loan: args.loan.clone().unwrap_or_else(|| row.loan.clone()),
            amount: match (row.amount_cents, &row.amount_as_given) {
                (Some(cents), _) => RawAmount::Cents(cents),
                (None, given) => RawAmount::Text(given.clone().unwrap_or_default()),
            },
            date: row.date.clone(),
            reference: row.reference.clone(),
            payment_method_id: row.payment_method_id.map(|m| m.to_string()),
            payment_type_id: args
                .payment_type
                .or(row.payment_type_id)
                .map(|t| t.to_string()),
            extra: args.extra.clone().or_else(|| row.extra.clone()),
            info: None,
            ret: None,
        },
    };
    let mut p = validator.validate(&raw).map_err(|(_, e)| {
        anyhow::anyhow!(
            "the corrected copy of {} is not valid: {e}; nothing was changed",
            row.key
        )
    })?;
    let original = Key::parse(&row.key).expect("ledger keys parse");
    let key = Key::of_amend(original, &p.loan, p.payment_type_id, &p.extra);
    // The info the source gives it, with the copy's own key marker.
    let mut info = p
        .info
        .strip_suffix(&crate::payment::key_marker(p.key))
        .unwrap_or(&p.info)
        .to_string();
    if !info.is_empty() && !info.ends_with(' ') {
        info.push(' ');
    }
    push_key_marker(&mut info, key);
    p.key = key;
    p.info = info;
    Ok(NewRow {
        file: raw.pos.file.clone(),
        line: row.line,
        key,
        loan: p.loan,
        loan_id: p.loan_id,
        amount: p.amount.to_string(),
        amount_cents: Some(p.amount),
        date: crate::payment::iso_date(p.date),
        reference: p.reference,
        payment_method_id: Some(p.payment_method_id),
        payment_type_id: Some(p.payment_type_id),
        extra: Some(p.extra),
        info: Some(p.info),
        rejection: None,
        ret: None,
        // A corrected copy repeats no row of a file; a posted twin still holds it (docs/states.md).
        repeat_of: None,
    })
}
