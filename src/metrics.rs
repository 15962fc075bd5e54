//! The metrics file: after every `import` and `retry` (also one that failed or stopped), the
//! Prometheus text format for node_exporter's textfile collector, written atomically.
//!
//! What monitoring alerts on: how old the last fully successful run is, the last run's exit
//! code, and its rows per status. Every series is about the *last* run (the file is replaced,
//! not added to), except `payimport_last_success_timestamp_seconds`, which is carried over from
//! the previous file (or, without one, found in the ledger) until a run succeeds again.

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::exit::Exit;
use crate::fsutil::Target;
use crate::ledger::{Ledger, RunId, Status};
use crate::loanpro::RequestCounts;

/// The series that carries the last fully successful run over from one file to the next.
const LAST_SUCCESS: &str = "payimport_last_success_timestamp_seconds";

/// What a command tells its metrics as it goes, handed to the session: the run it started
/// (none when it failed before it had one: its metrics have no rows) and the requests it made
/// to LoanPro (counted by the client, so a run that fails half-way still reports them).
#[derive(Default)]
pub struct Meter {
    run: OnceLock<RunId>,
    pub requests: Arc<RequestCounts>,
}

impl Meter {
    /// Notes the run this command started.
    pub fn run_started(&self, run: RunId) {
        let _ = self.run.set(run);
    }
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
    /// The run's id and requests.
    pub meter: &'a Meter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowLabels {
    /// `payment` or `return` (docs/returns.md).
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

/// The metrics file's mode, whatever the umask: node_exporter usually runs as its own user.
pub const METRICS_MODE: u32 = 0o644;

/// The metrics file as the one file writer sees it; `option` is how it was named
/// (`--metrics-file` or `metrics.textfile`), for messages.
fn target<'a>(option: &'a str, path: &'a Path, ledger: Option<&'a Path>) -> Target<'a> {
    Target {
        option,
        path,
        mode: METRICS_MODE,
        ledger,
    }
}

/// Checks the metrics file before a run starts: one that may never be written (a device, a
/// FIFO, the ledger...) stops the command with exit 2 before anything is imported, rather
/// than after the night's work. A name node_exporter ignores (not `*.prom`) is warned about.
pub fn check_file(option: &str, path: &Path, ledger: Option<&Path>) -> anyhow::Result<()> {
    target(option, path, ledger).check()?;
    if path.extension().is_none_or(|e| e != "prom") {
        tracing::warn!(
            "{option} {}: node_exporter's textfile collector reads only files whose name ends in `.prom`; this one will be ignored",
            path.display()
        );
    }
    Ok(())
}

/// Writes the metrics file for a run that ended, logging (not failing) if it cannot: the run's
/// own outcome matters more, and a file that stops changing is what monitoring alerts on.
pub fn write_after_run(option: &str, path: &Path, clock: &Clock, end: &RunEnd<'_>) {
    if let Err(e) = try_write(option, path, clock, end) {
        tracing::error!(
            "cannot write the metrics file {}: {e:#}; monitoring will see the previous one",
            path.display()
        );
    }
}

fn try_write(option: &str, path: &Path, clock: &Clock, end: &RunEnd<'_>) -> anyhow::Result<()> {
    let target = target(option, path, end.ledger);
    // Before the previous file is read: reading a FIFO would wait forever.
    target.check()?;
    let now = unix_seconds(SystemTime::now());
    let run = end.meter.run.get().copied().unwrap_or(0);
    let ledger = end
        .ledger
        .filter(|p| p.exists())
        .and_then(|p| Ledger::open_read_only(p).ok());
    // Payments and returns apart, as the summary shows them (docs/returns.md).
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
    for (status, n) in end.meter.requests.snapshot() {
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
    target.write(|w| Ok(w.write_all(text.as_bytes())?))
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
