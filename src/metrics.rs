//! The metrics file: after every `import` and `retry` (also one that failed or stopped), the
//! Prometheus text format for node_exporter's textfile collector, written atomically.
//!
//! What monitoring alerts on: how old the last fully successful run is, the last run's exit
//! code, and its rows per status. Every series is about the *last* run (the file is replaced,
//! not added to), except `payimport_last_success_timestamp_seconds`, which is carried over from
//! the previous file (or, without one, found in the ledger) until a run succeeds again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::exit::Exit;
use crate::ledger::{Ledger, RunId, Status};

/// The series that carries the last fully successful run over from one file to the next.
const LAST_SUCCESS: &str = "payimport_last_success_timestamp_seconds";

/// The run this process started, once it has one (0: none yet). Set by the session, read here:
/// a run that fails before it has an id still writes its metrics, with no rows.
static CURRENT_RUN: AtomicI64 = AtomicI64::new(0);

/// Notes the run this process started, for the metrics written when it ends.
pub fn run_started(run: RunId) {
    CURRENT_RUN.store(run, Ordering::Relaxed);
}

/// When the command started.
pub struct Clock {
    started: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            started: Instant::now(),
        }
    }
}

/// What the metrics file says about the run that just ended.
pub struct RunEnd<'a> {
    /// `import` or `retry`.
    pub command: &'a str,
    /// The `--source` of an import, when it named one.
    pub source: Option<&'a str>,
    /// How the command ended: its exit status (an error is 2).
    pub exit: Exit,
    /// The ledger, when the settings could be read.
    pub ledger: Option<&'a Path>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowLabels {
    /// `payment` or `return` (SPEC §8).
    kind: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    /// The HTTP status, or `none` when no answer came (refused connection, timeout, reset).
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    command: String,
    source: String,
}

type IntGauge = Gauge<i64, AtomicI64>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Writes the metrics file for a run that ended, logging (not failing) if it cannot: the run's
/// own outcome matters more, and a file that stops changing is what monitoring alerts on.
pub fn write_after_run(path: &Path, clock: &Clock, end: &RunEnd<'_>) {
    if let Err(e) = try_write(path, clock, end) {
        tracing::error!(
            "cannot write the metrics file {}: {e:#}; monitoring will see the previous one",
            path.display()
        );
    }
}

fn try_write(path: &Path, clock: &Clock, end: &RunEnd<'_>) -> anyhow::Result<()> {
    let now = unix_seconds(SystemTime::now());
    let run = CURRENT_RUN.load(Ordering::Relaxed);
    let ledger = end
        .ledger
        .filter(|p| p.exists())
        .and_then(|p| Ledger::open_read_only(p).ok());
    // Payments and returns apart, as the summary shows them (SPEC §8).
    let (payments, returns) = match (&ledger, run) {
        (Some(l), run) if run > 0 => {
            let returns = l.return_totals(run)?;
            (crate::output::minus(&l.totals(run)?, &returns), returns)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let last_success = if end.exit == Exit::Done {
        Some(now)
    } else {
        previous_success(path).or_else(|| ledger.as_ref().and_then(success_in_ledger))
    };

    let mut registry = Registry::default();
    let rows = Family::<RowLabels, IntGauge>::default();
    let amounts = Family::<RowLabels, IntGauge>::default();
    // Every status, zeros included: an alert on `unknown > 0` needs the series to exist.
    for (kind, totals) in [("payment", &payments), ("return", &returns)] {
        for status in Status::ALL {
            let labels = RowLabels {
                kind,
                status: status.as_str(),
            };
            let t = totals.iter().find(|t| t.status == status);
            rows.get_or_create(&labels)
                .set(t.map_or(0, |t| t.count as i64));
            amounts
                .get_or_create(&labels)
                .set(t.map_or(0, |t| t.cents.0));
        }
    }
    registry.register(
        "payimport_last_run_rows",
        "Rows of the last run per kind and status (staged by it, or sent again by it)",
        rows,
    );
    registry.register(
        "payimport_last_run_amount_cents",
        "Amounts of the last run per kind and status, in cents (exact, unlike a float of dollars)",
        amounts,
    );
    let requests = Family::<CodeLabels, IntGauge>::default();
    for (status, n) in crate::loanpro::REQUESTS.snapshot() {
        let code = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        requests.get_or_create(&CodeLabels { code }).set(n as i64);
    }
    registry.register(
        "payimport_last_run_requests",
        "Requests the last run made to LoanPro, per HTTP status (none: no answer came)",
        requests,
    );
    let gauge = |v: f64| {
        let g = FloatGauge::default();
        g.set(v);
        g
    };
    registry.register(
        "payimport_last_run_duration_seconds",
        "How long the last run took",
        gauge(clock.started.elapsed().as_secs_f64()),
    );
    registry.register(
        "payimport_last_run_timestamp_seconds",
        "When the last run ended (Unix time)",
        gauge(now),
    );
    let exit = IntGauge::default();
    exit.set(end.exit as i64);
    registry.register(
        "payimport_last_run_exit_code",
        "The last run's exit status: 0 all posted, 1 rows need attention, 2 fatal",
        exit,
    );
    let info = Family::<InfoLabels, IntGauge>::default();
    info.get_or_create(&InfoLabels {
        command: end.command.to_string(),
        source: end.source.unwrap_or("").to_string(),
    })
    .set(1);
    registry.register(
        "payimport_last_run_info",
        "The last run's command and source (always 1)",
        info,
    );
    let run_id = IntGauge::default();
    run_id.set(run);
    registry.register(
        "payimport_last_run_id",
        "The ledger's id of the last run (0: it failed before it started one)",
        run_id,
    );
    registry.register(
        LAST_SUCCESS,
        "When the last run that ended with exit 0 ended (Unix time; 0: none known)",
        gauge(last_success.unwrap_or(0.0)),
    );

    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .context("cannot encode the metrics")?;
    write_atomically(path, text.as_bytes())
}

/// Seconds since the Unix epoch, with milliseconds.
fn unix_seconds(t: SystemTime) -> f64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// The last success the previous metrics file recorded, if it has a usable one.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let value = l.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
    })
}

/// The end of the newest run whose every row is settled (posted or already posted) and whose
/// files were all staged: the best the ledger knows of a fully successful run.
fn success_in_ledger(ledger: &Ledger) -> Option<f64> {
    let runs = ledger.runs().ok()?;
    runs.iter().rev().find_map(|r| {
        let ended = r.ended_at.as_deref()?;
        let all_settled = r
            .totals
            .iter()
            .all(|t| t.count == 0 || t.status.is_settled());
        let files_ok = ledger
            .files_of_run(r.id)
            .ok()?
            .iter()
            .all(|f| f.status != "refused");
        if !(all_settled && files_ok) {
            return None;
        }
        let t = chrono::NaiveDateTime::parse_from_str(ended, crate::ledger::TIME_FORMAT).ok()?;
        Some(t.and_utc().timestamp_millis() as f64 / 1000.0)
    })
}

/// Replaces the file so node_exporter reads the old one or the whole new one, never a part.
/// World-readable (0644): node_exporter usually runs as its own user. The temporary name does
/// not end in `.prom`, so the collector never reads it.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?
        .to_string_lossy();
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o644);
        }
        let mut f = o
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
