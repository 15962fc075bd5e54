//! Sending: workers take claimed rows, send them through the shared client, retry what is safe
//! to retry, and hand results to one ledger writer that commits them in groups. Payments and
//! returns go the same way (one claim, one retry loop), returns in a phase of their own
//! (docs/returns.md): a claimed return first finds its payment's system id by reading the loan's
//! payments, then POSTs `VoidPayment`. A stop ends every wait at once; only requests in flight
//! are awaited (docs/loanpro.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;
use rand::Rng;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

use crate::crashpoint;
use crate::interrupt::Interrupt;
use crate::ledger::{Claim, Claimed, Kind, Ledger, LedgerError, Outcome, Reversal, RunId, Status};
use crate::loanpro::{Answer, Client, ReadError, Request};
use crate::payment::{PaymentBody, VoidBody, key_marker};
use crate::readback::{ReadBackConfig, ReadBackReport, read_back};
use crate::returns::nacha_return_code;

/// How hard to press.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub concurrency: usize,
    pub max_attempts: u32,
    /// Rows claimed per ledger transaction.
    pub batch: usize,
    /// The first backoff step; each retry doubles the ceiling of a random wait.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl DispatchConfig {
    /// About one second of sending per claim, so a crash leaves few rows `sending` while each
    /// claim still covers many rows with one fsync.
    pub fn new(concurrency: usize, max_attempts: u32, requests_per_second: f64) -> Self {
        DispatchConfig {
            concurrency,
            max_attempts,
            batch: (requests_per_second.ceil() as usize).clamp(16, 256),
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
        }
    }
}

/// Why a run stopped sending before it was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub reason: String,
    /// The signal that interrupted the run, when that is why.
    pub signal: Option<&'static str>,
}

/// Shared stop signal: once set, no new request leaves.
#[derive(Default)]
struct StopFlag {
    set: AtomicBool,
    why: Mutex<Option<Stopped>>,
    wake: Notify,
}

impl StopFlag {
    fn stop(&self, why: Stopped) {
        let mut w = self.why.lock().expect("stop lock");
        if w.is_none() {
            *w = Some(why);
        }
        self.set.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }
    fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }
    fn reason(&self) -> Option<String> {
        self.stopped().map(|s| s.reason)
    }
    fn stopped(&self) -> Option<Stopped> {
        self.why.lock().expect("stop lock").clone()
    }
    /// Waits until the flag is set.
    async fn wait(&self) {
        let woken = self.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if !self.is_set() {
            woken.await;
        }
    }
}

/// Sends every pending row of `kind` of `run`. Returns `Err(Stopped)` inside `Ok` when LoanPro refused
/// the credentials or a signal interrupted the run; rows not sent by then stay `pending` for the
/// caller to close. A ledger error stops everything at once: requests in flight are abandoned
/// (their rows are durably `sending`, read back by the next run) rather than awaited for
/// results that could not be recorded anyway.
pub async fn dispatch(
    ledger: Arc<Mutex<Ledger>>,
    run: RunId,
    client: Arc<Client>,
    config: DispatchConfig,
    progress: ProgressBar,
    interrupt: Interrupt,
    kind: Kind,
) -> Result<Result<(), Stopped>, LedgerError> {
    let stop = Arc::new(StopFlag::default());
    let (row_tx, row_rx) = mpsc::channel::<Claimed>(config.batch);
    let (out_tx, mut out_rx) = mpsc::channel::<Outcome>(config.batch * 2);
    let mut tasks = JoinSet::new();
    if let Some(signal) = interrupt.signal() {
        // Already: nothing is claimed at all.
        stop.stop(Stopped {
            reason: Interrupt::reason(signal),
            signal: Some(signal),
        });
    }

    // A signal stops the run like a refusal of the credentials: nothing new leaves, what is in
    // flight finishes and is recorded.
    {
        let stop = stop.clone();
        tasks.spawn(async move {
            tokio::select! {
                signal = interrupt.wait() => stop.stop(Stopped {
                    reason: Interrupt::reason(signal),
                    signal: Some(signal),
                }),
                // Ends with the others: the run stopped for another reason, or is done.
                () = stop.wait() => {}
            }
            Ok::<(), LedgerError>(())
        });
    }

    // The producer claims a batch at a time, durably marking it `sending` before it goes out.
    {
        let ledger = ledger.clone();
        let stop = stop.clone();
        let batch = config.batch;
        let out_tx = out_tx.clone();
        tasks.spawn(async move {
            loop {
                if stop.is_set() {
                    return Ok(());
                }
                let l = ledger.clone();
                let rows = tokio::task::spawn_blocking(move || {
                    let mut l = l.lock().expect("ledger");
                    let rows = l.claim(run, batch, kind)?;
                    if crashpoint::ledger_fails_now() {
                        l.refuse_writes()?;
                    }
                    Ok::<_, LedgerError>(rows)
                })
                .await
                .expect("claim task")?;
                if rows.is_empty() {
                    return Ok::<(), LedgerError>(());
                }
                crashpoint::reached("claimed");
                let mut rows = rows.into_iter();
                while let Some(row) = rows.next() {
                    // Also woken by a stop: the workers may be busy or gone, and the channel
                    // full. The rest of the batch was claimed but never sent: `unsent`.
                    let permit = tokio::select! {
                        permit = row_tx.reserve() => permit.ok(),
                        () = stop.wait() => None,
                    };
                    match permit {
                        Some(permit) => permit.send(row),
                        None => {
                            for row in std::iter::once(row).chain(rows) {
                                if out_tx.send(not_sent(&row, &stop)).await.is_err() {
                                    break;
                                }
                            }
                            return Ok(());
                        }
                    }
                }
            }
        });
    }

    let row_rx = Arc::new(tokio::sync::Mutex::new(row_rx));
    for _ in 0..config.concurrency {
        let row_rx = row_rx.clone();
        let out_tx = out_tx.clone();
        let client = client.clone();
        let stop = stop.clone();
        let config = config.clone();
        tasks.spawn(async move {
            loop {
                let row = row_rx.lock().await.recv().await;
                let Some(row) = row else { break };
                let outcome = send_row(&row, &client, &stop, &config).await;
                crashpoint::reached("answered");
                if out_tx.send(outcome).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
    }
    drop(out_tx);
    drop(row_rx);

    // One writer commits results in groups: as many as have arrived, one transaction.
    {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let mut buf = Vec::with_capacity(512);
            while out_rx.recv_many(&mut buf, 512).await > 0 {
                let group = std::mem::take(&mut buf);
                let n = group.len() as u64;
                let l = ledger.clone();
                tokio::task::spawn_blocking(move || l.lock().expect("ledger").record(&group))
                    .await
                    .expect("record task")?;
                crashpoint::reached("recorded");
                progress.inc(n);
            }
            Ok::<(), LedgerError>(())
        });
    }

    while let Some(done) = tasks.join_next().await {
        let done = match done {
            Ok(done) => done,
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        if let Err(e) = done {
            // The ledger cannot be written: stop now, whatever is in flight.
            tracing::error!("{e}; stopping the run at once");
            stop.stop(Stopped {
                reason: e.to_string(),
                signal: None,
            });
            tasks.abort_all();
            return Err(e);
        }
        // Everything else ended: the interrupt watcher must not keep the run waiting.
        if tasks.len() == 1 && !stop.is_set() {
            tasks.abort_all();
        }
    }
    Ok(match stop.stopped() {
        Some(why) => Err(why),
        None => Ok(()),
    })
}

/// What sending a run's queue came to.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Why the run stopped early (refused credentials, a redirect), if it did.
    pub stopped: Option<String>,
    /// The signal that interrupted the run, if one did.
    pub interrupted: Option<&'static str>,
    pub reconciled: ReadBackReport,
}

/// What one run sends with, in both of its phases (payments, then reversals).
#[derive(Clone, Copy)]
pub struct Sending<'a> {
    pub ledger: &'a Arc<Mutex<Ledger>>,
    pub run: RunId,
    pub client: &'a Arc<Client>,
    pub config: &'a DispatchConfig,
    pub read_back: &'a ReadBackConfig,
    pub progress: &'a ProgressBar,
    pub interrupt: &'a Interrupt,
}

/// Sends everything queued for `run`; then reads back the rows whose outcome is unknown, sends
/// again those LoanPro does not have, and repeats until no row is left to send. Rows still
/// queued when the run stops are closed as `unsent`.
pub async fn send_all(sending: &Sending<'_>, kind: Kind) -> Result<SendReport, LedgerError> {
    let Sending {
        ledger,
        run,
        client,
        config,
        read_back: read_back_config,
        progress,
        interrupt,
    } = *sending;
    let mut report = SendReport::default();
    loop {
        if let Err(stop) = dispatch(
            ledger.clone(),
            run,
            client.clone(),
            config.clone(),
            progress.clone(),
            interrupt.clone(),
            kind,
        )
        .await?
        {
            match stop.signal {
                Some(signal) => report.interrupted = Some(signal),
                None => report.stopped = Some(stop.reason),
            }
            break;
        }
        let mut uncertain = ledger.lock().expect("ledger").uncertain(Some(run))?;
        // Each phase reads back its own rows: a payment whose read-back failed is not read
        // again in the returns phase (one read-back round per uncertain answer).
        uncertain.retain(|u| u.original.is_some() == (kind == Kind::Return));
        if uncertain.is_empty() {
            break;
        }
        // Read-backs only read, so a signal may cut them short: the rows stay `unknown` for
        // the next run. Results already being recorded are recorded (that runs on its own).
        let round = tokio::select! {
            round = read_back(ledger, client, uncertain, run, read_back_config) => round?,
            signal = interrupt.wait() => {
                report.interrupted = Some(signal);
                break;
            }
        };
        report.reconciled.add(&round);
        if let Some(reason) = round.auth_refused {
            report.stopped = Some(reason);
            break;
        }
        if round.resent == 0 {
            break;
        }
        progress.inc_length(round.resent);
    }
    let reason = match (&report.stopped, report.interrupted) {
        (Some(reason), _) => Some(reason.clone()),
        (None, Some(signal)) => Some(Interrupt::reason(signal)),
        (None, None) => None,
    };
    if let Some(reason) = reason {
        let l = ledger.clone();
        tokio::task::spawn_blocking(move || {
            l.lock()
                .expect("ledger")
                .unsend_pending(run, &format!("not sent: the run stopped ({reason})"))
        })
        .await
        .expect("unsend task")?;
    }
    Ok(report)
}

/// Where sending one row ended, before it is an [`Outcome`].
struct Sent {
    status: Status,
    attempts: u32,
    http_status: Option<u16>,
    message: String,
    payment_id: Option<u64>,
    sent_at: Option<String>,
    /// Ended by the run's stop, before any answer (nothing of this attempt left).
    stopped: bool,
    /// The credentials were refused or `base_url` redirected: no request may leave after this
    /// one (the message says why).
    stop_run: bool,
}

impl Sent {
    /// Not sent (again): the run stopped first.
    fn stopped(attempts: u32, sent_at: Option<String>, stop: &StopFlag) -> Sent {
        Sent {
            status: Status::Unsent,
            attempts,
            http_status: None,
            message: format!(
                "not sent: the run stopped ({})",
                stop.reason().unwrap_or_default()
            ),
            payment_id: None,
            sent_at,
            stopped: true,
            stop_run: false,
        }
    }

    /// An outcome reached without a request to LoanPro's write API.
    fn without_request(status: Status, message: String, payment_id: Option<u64>) -> Sent {
        Sent {
            status,
            attempts: 1,
            http_status: None,
            message,
            payment_id,
            sent_at: None,
            stopped: false,
            stop_run: false,
        }
    }
}

/// The outcome of a row claimed but never sent because the run stopped.
fn not_sent(row: &Claimed, stop: &StopFlag) -> Outcome {
    outcome(row, Sent::stopped(0, None, stop), stop)
}

/// The one place a row's outcome is made, and where a refusal stops the run.
fn outcome(row: &Claimed, sent: Sent, stop: &StopFlag) -> Outcome {
    if sent.stop_run {
        // Logged once, when the run has stopped (`Session::send`), not once per worker.
        tracing::debug!("{}; stopping the run", sent.message);
        stop.stop(Stopped {
            reason: sent.message.clone(),
            signal: None,
        });
    }
    let reverses = match &row.request {
        Claim::Reversal(r) if sent.status == Status::Posted => Some(r.original_row),
        _ => None,
    };
    Outcome {
        id: row.id,
        status: sent.status,
        attempts: sent.attempts,
        http_status: sent.http_status,
        message: Some(sent.message).filter(|m| !m.is_empty()),
        loanpro_payment_id: sent.payment_id,
        sent_at: sent.sent_at,
        reverses,
    }
}

/// Sends one claimed row until it has an outcome: a payment is PUT; a return first finds the
/// payment it reverses (docs/returns.md), then POSTs `VoidPayment`. Both go through one retry loop.
async fn send_row(
    row: &Claimed,
    client: &Client,
    stop: &StopFlag,
    config: &DispatchConfig,
) -> Outcome {
    let sent = match &row.request {
        Claim::Payment(p) => {
            let body = PaymentBody::new(
                p.amount,
                &p.date,
                &p.info,
                p.payment_method_id,
                p.payment_type_id,
                &p.extra,
            );
            send_until_done(
                Request::payment(row.loan_id, &body),
                row,
                client,
                stop,
                config,
            )
            .await
        }
        Claim::Reversal(reversal) => match find_original(row, reversal, client, stop, config).await
        {
            Ok(payment_id) => {
                let body = VoidBody {
                    reverse_reason: &reversal.reverse_reason,
                    comments: &reversal.comments,
                    nacha_return_code: nacha_return_code(&reversal.return_code),
                    log_only: true,
                };
                let request = Request::reversal(row.loan_id, payment_id, &body);
                let mut sent = send_until_done(request, row, client, stop, config).await;
                if !sent.stopped {
                    // The payment an answer is about.
                    sent.payment_id = Some(payment_id);
                }
                sent
            }
            Err(sent) => sent,
        },
    };
    outcome(row, sent, stop)
}

/// Sends `request` until LoanPro's answer gives the row an outcome: again after answers that
/// prove it was not logged (429, a refused connection), up to `max_attempts`. A stop ends
/// every wait (Retry-After, backoff, the rate limiter) at once; a request already sent is
/// awaited.
async fn send_until_done(
    request: Request,
    row: &Claimed,
    client: &Client,
    stop: &StopFlag,
    config: &DispatchConfig,
) -> Sent {
    let mut attempts = 0u32;
    let mut sent_at = None;
    loop {
        if stop.is_set() {
            return Sent::stopped(attempts, sent_at, stop);
        }
        let Some(answer) = client.send(&request, stop.wait()).await else {
            return Sent::stopped(attempts, sent_at, stop);
        };
        attempts += 1;
        // Taken once the answer is in: never earlier than the request left, so the settle
        // wait before a read-back counts from no earlier than LoanPro may have logged it.
        sent_at = Some(crate::ledger::now());
        match verdict(answer, attempts, config.max_attempts) {
            Verdict::Done {
                status,
                http_status,
                message,
                payment_id,
                stop_run,
            } => {
                return Sent {
                    status,
                    attempts,
                    http_status,
                    message,
                    payment_id,
                    sent_at,
                    stopped: false,
                    stop_run,
                };
            }
            Verdict::Again {
                retry_after,
                message,
            } => {
                tracing::debug!(key = %row.key, attempts, "{message}; trying again");
                if let Some(wait) = retry_after {
                    client.pause_all(wait);
                }
                // Nothing is in flight while waiting: a stop ends the wait.
                tokio::select! {
                    () = tokio::time::sleep(backoff(attempts, config)) => {}
                    () = stop.wait() => {}
                }
            }
        }
    }
}

/// The LoanPro id of the payment a return reverses, read from the loan's payments (every page)
/// by the original row's key; or the return's outcome when there is nothing to send: not
/// found, already reversed by someone (recorded, not reversed again), or not readable.
async fn find_original(
    row: &Claimed,
    reversal: &Reversal,
    client: &Client,
    stop: &StopFlag,
    config: &DispatchConfig,
) -> Result<u64, Sent> {
    // Only reads: a stop may cut it short.
    let read = tokio::select! {
        biased;
        () = stop.wait() => return Err(Sent::stopped(0, None, stop)),
        read = client.loan_payments(row.loan_id, config.max_attempts) => read,
    };
    let payments = match read {
        Ok(p) => p,
        Err(e) => {
            let (message, stop_run) = match e {
                ReadError::AuthRefused(m) => {
                    (format!("LoanPro refused the credentials ({m})"), true)
                }
                ReadError::Redirected(m) => (m, true),
                ReadError::Failed(m) => (
                    format!(
                        "could not read loan {}'s payments to find the one to reverse: {m}; nothing was sent",
                        row.loan_id
                    ),
                    false,
                ),
            };
            return Err(Sent {
                stop_run,
                ..Sent::without_request(Status::Unsent, message, None)
            });
        }
    };
    let marker = key_marker(reversal.original_key);
    let found = payments.iter().find(|p| p.info.contains(&marker));
    match found {
        None => Err(Sent::without_request(
            Status::Failed,
            format!(
                "the payment with key {} is not among loan {}'s payments in LoanPro; nothing was reversed",
                reversal.original_key, row.loan_id
            ),
            None,
        )),
        Some(p) if !p.active => Err(Sent::without_request(
            Status::Posted,
            format!(
                "the payment (id {}) was already reversed in LoanPro{}; recorded, not reversed again",
                p.id.map_or("?".into(), |i| i.to_string()),
                p.reverse_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            p.id,
        )),
        Some(p) => p.id.ok_or_else(|| {
            Sent::without_request(
                Status::Failed,
                format!(
                    "LoanPro lists the payment with key {} without an id; nothing was reversed",
                    reversal.original_key
                ),
                None,
            )
        }),
    }
}

/// What one answer from LoanPro means for the row it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// The row's outcome. `stop_run`: the credentials were refused, so no request may leave
    /// after this one (the message says why).
    Done {
        status: Status,
        http_status: Option<u16>,
        message: String,
        payment_id: Option<u64>,
        stop_run: bool,
    },
    /// Certainly not logged, and attempts are left: wait, then send it again. `retry_after`
    /// pauses every worker.
    Again {
        retry_after: Option<Duration>,
        message: String,
    },
}

/// The state a classified LoanPro answer puts a row in (docs/states.md), after `attempts` of at most
/// `max_attempts`. Every `Answer` is matched by name, so a new kind of answer must be given a
/// meaning here before anything compiles.
fn verdict(answer: Answer, attempts: u32, max_attempts: u32) -> Verdict {
    let done = |status, http_status, message, payment_id| Verdict::Done {
        status,
        http_status,
        message,
        payment_id,
        stop_run: false,
    };
    match answer {
        Answer::Posted {
            http_status,
            payment_id,
        } => done(Status::Posted, Some(http_status), String::new(), payment_id),
        Answer::Refused {
            http_status,
            message,
        } => done(Status::Failed, Some(http_status), message, None),
        Answer::AuthRefused {
            http_status,
            message,
        } => Verdict::Done {
            status: Status::Unsent,
            http_status: Some(http_status),
            message: format!(
                "{} (HTTP {http_status}: {message})",
                crate::loanpro::CREDENTIALS_REFUSED
            ),
            payment_id: None,
            stop_run: true,
        },
        // Not followed, so the payment reached only the server at `base_url`, which answered
        // with a redirect instead of logging it: like a 401, LoanPro never took it. The row is
        // left as a 401 leaves it, `unsent` with the reason, so `retry` sends it once
        // `base_url` is right; never `failed` (LoanPro said no such thing) nor `posted`.
        Answer::Redirected {
            http_status,
            message,
        } => Verdict::Done {
            status: Status::Unsent,
            http_status: Some(http_status),
            message,
            payment_id: None,
            stop_run: true,
        },
        Answer::Unknown {
            http_status,
            message,
        } => done(Status::Unknown, http_status, message, None),
        Answer::RetryLater {
            http_status,
            message,
            ..
        } if attempts >= max_attempts => done(
            Status::Unsent,
            http_status,
            format!("gave up after {attempts} attempts: {message}"),
            None,
        ),
        Answer::RetryLater {
            retry_after,
            message,
            ..
        } => Verdict::Again {
            retry_after,
            message,
        },
    }
}

/// Exponential backoff with full jitter: a random wait below `base * 2^(attempt-1)`, capped.
fn backoff(attempt: u32, config: &DispatchConfig) -> Duration {
    let ceiling = config
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(config.backoff_cap);
    ceiling.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_a_doubling_ceiling() {
        let c = DispatchConfig::new(4, 5, 5.0);
        for attempt in 1..=20 {
            let ceiling = (c.backoff_base * 2u32.pow((attempt - 1).min(16))).min(c.backoff_cap);
            for _ in 0..50 {
                assert!(backoff(attempt, &c) <= ceiling);
            }
        }
    }

    #[test]
    fn every_answer_has_one_meaning_for_the_row() {
        let s = Duration::from_secs;
        let done = |status, http_status, message: &str, payment_id| Verdict::Done {
            status,
            http_status,
            message: message.into(),
            payment_id,
            stop_run: false,
        };
        let again = |retry_after, message: &str| Verdict::Again {
            retry_after,
            message: message.into(),
        };
        let retry_later = |http_status, retry_after| Answer::RetryLater {
            http_status,
            retry_after,
            message: "HTTP 429: slow down".into(),
        };
        let refused = |http_status: u16, message: &str| Answer::Refused {
            http_status,
            message: message.into(),
        };
        let unknown = |http_status, message: &str| Answer::Unknown {
            http_status,
            message: message.into(),
        };
        // (answer, attempts so far of at most 3, what becomes of the row)
        let table = [
            (
                Answer::Posted {
                    http_status: 200,
                    payment_id: Some(77),
                },
                1,
                done(Status::Posted, Some(200), "", Some(77)),
            ),
            (
                Answer::Posted {
                    http_status: 200,
                    payment_id: None,
                },
                3,
                done(Status::Posted, Some(200), "", None),
            ),
            (
                refused(409, "Loan 13 not found"),
                1,
                done(Status::Failed, Some(409), "Loan 13 not found", None),
            ),
            (
                refused(200, "an error body"),
                2,
                done(Status::Failed, Some(200), "an error body", None),
            ),
            (
                unknown(Some(500), "HTTP 500: oops"),
                1,
                done(Status::Unknown, Some(500), "HTTP 500: oops", None),
            ),
            (
                unknown(None, "timed out"),
                3,
                done(Status::Unknown, None, "timed out", None),
            ),
            (
                retry_later(Some(429), Some(s(2))),
                1,
                again(Some(s(2)), "HTTP 429: slow down"),
            ),
            (
                retry_later(None, None),
                2,
                again(None, "HTTP 429: slow down"),
            ),
            (
                retry_later(Some(429), Some(s(2))),
                3,
                done(
                    Status::Unsent,
                    Some(429),
                    "gave up after 3 attempts: HTTP 429: slow down",
                    None,
                ),
            ),
            (
                Answer::AuthRefused {
                    http_status: 401,
                    message: "bad token".into(),
                },
                1,
                Verdict::Done {
                    status: Status::Unsent,
                    http_status: Some(401),
                    message: "LoanPro refused the credentials (HTTP 401: bad token)".into(),
                    payment_id: None,
                    stop_run: true,
                },
            ),
            (
                Answer::Redirected {
                    http_status: 307,
                    message: "redirected to https://elsewhere.example/".into(),
                },
                1,
                Verdict::Done {
                    status: Status::Unsent,
                    http_status: Some(307),
                    message: "redirected to https://elsewhere.example/".into(),
                    payment_id: None,
                    stop_run: true,
                },
            ),
        ];
        for (answer, attempts, want) in table {
            let shown = format!("{answer:?} after {attempts}");
            let got = verdict(answer, attempts, 3);
            assert_eq!(got, want, "{shown}");
            // Whatever the answer, the row's new state is one an answer leads to.
            if let Verdict::Done { status, .. } = got {
                assert!(Status::allows(Status::Sending, status), "{shown}");
            }
        }
    }

    #[test]
    fn batch_is_about_a_second_of_sending() {
        assert_eq!(DispatchConfig::new(4, 5, 5.0).batch, 16);
        assert_eq!(DispatchConfig::new(4, 5, 100.0).batch, 100);
        assert_eq!(DispatchConfig::new(4, 5, 1e6).batch, 256);
    }
}
