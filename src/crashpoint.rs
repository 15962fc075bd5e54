//! A test hook for crash tests: `PAYIMPORT_CRASH_AT=POINT[:N]` makes the process SIGKILL itself
//! the N-th time (default 1) it reaches POINT, so tests can stop it at an exact step.
//!
//! Points: `staged` (files staged, nothing claimed), `claimed` (a batch marked `sending`, nothing
//! sent), `answered` (an answer received, not yet recorded), `recorded` (a group of results
//! committed), `archive` (the run's outcome committed, its files not moved yet). Without the
//! variable this is one relaxed atomic load per call.
//!
//! Only with the `test-hooks` feature (which `cargo test` turns on): a release build has
//! neither hook, and the variables mean nothing to it.

#[cfg(not(feature = "test-hooks"))]
pub fn reached(_point: &str) {}

#[cfg(not(feature = "test-hooks"))]
pub fn ledger_fails_now() -> bool {
    false
}

#[cfg(feature = "test-hooks")]
pub use hooks::{ledger_fails_now, reached};

#[cfg(feature = "test-hooks")]
mod hooks {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Target {
        point: String,
        nth: u64,
        seen: AtomicU64,
    }

    fn target() -> Option<&'static Target> {
        static TARGET: OnceLock<Option<Target>> = OnceLock::new();
        TARGET
            .get_or_init(|| {
                let spec = std::env::var("PAYIMPORT_CRASH_AT").ok()?;
                let (point, nth) = match spec.split_once(':') {
                    Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
                    None => (spec, 1),
                };
                Some(Target {
                    point,
                    nth,
                    seen: AtomicU64::new(0),
                })
            })
            .as_ref()
    }

    /// Marks that the process reached `point`.
    pub fn reached(point: &str) {
        let Some(t) = target() else { return };
        if t.point == point && t.seen.fetch_add(1, Ordering::SeqCst) + 1 == t.nth {
            // SIGKILL, like `kill -9`: no destructor, no flush, no goodbye.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::process::abort();
        }
    }

    /// A test hook for a ledger that can no longer be written (a full disk, a failing device):
    /// `PAYIMPORT_LEDGER_FAIL_AFTER=N` makes every write to the ledger fail (SQLite's `query_only`)
    /// once the N-th batch of rows has been claimed for sending, so the results of requests already
    /// sent cannot be recorded. True exactly once, at that claim.
    pub fn ledger_fails_now() -> bool {
        static AFTER: OnceLock<Option<(u64, AtomicU64)>> = OnceLock::new();
        let Some((n, seen)) = AFTER.get_or_init(|| {
            let n = std::env::var("PAYIMPORT_LEDGER_FAIL_AFTER")
                .ok()?
                .parse()
                .ok()?;
            Some((n, AtomicU64::new(0)))
        }) else {
            return false;
        };
        seen.fetch_add(1, Ordering::SeqCst) + 1 == *n
    }
}
