//! Stopping a run gracefully on SIGTERM, SIGINT (Ctrl-C) and SIGHUP (docs/states.md).
//!
//! Killed at once, a run would lose the answers of the requests in flight (their rows stay
//! `sending` and must be read back), print no summary, and leave the run without an end. So
//! the first signal only asks the run to stop: no row is claimed and no request leaves after
//! it, requests in flight finish (each bounded by `timeout_secs`) and their answers are
//! recorded, rows never sent become `unsent`, the run ends as `interrupted`, and the summary is
//! printed (exit 1). An operator who does not want to wait sends a second signal: the process
//! exits at once (128 + the signal's number, as a shell reports a killed process). That is as
//! safe as `kill -9`: every row whose request may have left is durably `sending`, and the next
//! run reads it back before anything is sent again.

use std::sync::Arc;

use tokio::sync::watch;

/// A request to stop, shared by everything a run does: the name of the signal once one came.
#[derive(Clone)]
pub struct Interrupt {
    signal: watch::Receiver<Option<&'static str>>,
    /// The task that listens for signals; it ends with the last handle.
    _listener: Option<Arc<Listener>>,
}

struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Interrupt {
    /// Starts listening for SIGTERM, SIGINT and SIGHUP; from now on they no longer kill the
    /// process. Must be called inside the Tokio runtime.
    pub fn install() -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, before returning, so no signal slips between this call and the
        // listener task's first poll.
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let (tx, rx) = watch::channel(None);
        let listener = tokio::spawn(async move {
            let mut first = true;
            loop {
                let (name, number) = tokio::select! {
                    Some(()) = term.recv() => ("SIGTERM", 15),
                    Some(()) = int.recv() => ("SIGINT", 2),
                    Some(()) = hup.recv() => ("SIGHUP", 1),
                    else => return,
                };
                if first {
                    first = false;
                    tracing::warn!(
                        "{name}: stopping the run: no new payment is sent; the answers of requests in flight are awaited (up to timeout_secs) and recorded. A second signal stops at once."
                    );
                    let _ = tx.send(Some(name));
                } else {
                    // Written directly: the log may be a pipe being torn down too.
                    eprintln!(
                        "payimport: second signal ({name}): exiting at once; rows being sent stay `sending` and the next run reads them back from LoanPro before sending anything again"
                    );
                    std::process::exit(128 + number);
                }
            }
        });
        Ok(Interrupt {
            signal: rx,
            _listener: Some(Arc::new(Listener(listener))),
        })
    }

    /// An interrupt that never comes (tests, and callers that handle signals themselves).
    pub fn never() -> Interrupt {
        let (_, rx) = watch::channel(None);
        Interrupt {
            signal: rx,
            _listener: None,
        }
    }

    /// The signal that asked the run to stop, if one did.
    pub fn signal(&self) -> Option<&'static str> {
        *self.signal.borrow()
    }

    pub fn is_set(&self) -> bool {
        self.signal().is_some()
    }

    /// Waits for a signal; returns its name. Pending forever if none can come.
    pub async fn wait(&self) -> &'static str {
        let mut rx = self.signal.clone();
        // Copied out at once: the watch's guard must not be held across an await.
        let signal = rx.wait_for(Option::is_some).await.map(|s| *s);
        match signal {
            Ok(s) => s.expect("waited for Some"),
            Err(_) => std::future::pending().await,
        }
    }

    /// What rows and the log say about a stop by this signal.
    pub fn reason(signal: &str) -> String {
        format!("interrupted by {signal}")
    }
}
