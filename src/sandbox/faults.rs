//! Fault injection: which request gets which failure, scripted or drawn from a seeded RNG.

use std::collections::{HashSet, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random fault probabilities (each 0.0..=1.0), drawn per request from a `StdRng` seeded with
/// `seed`, plus an optional fault for the first PUT of each payment.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub seed: u64,
    /// PUT answers 500; the payment is NOT recorded.
    pub error_before_commit: f64,
    /// PUT: the connection is closed with no response; NOT recorded.
    pub drop_before_commit: f64,
    /// PUT: the payment is recorded, then 500 (LoanPro does this on timeouts).
    pub error_after_commit: f64,
    /// PUT: recorded, then the connection is closed with no response.
    pub drop_after_commit: f64,
    /// PUT: waits `slow_secs`, then records and answers; it records even if the client gave up.
    pub slow_commit: f64,
    pub slow_secs: f64,
    /// Starts a burst: this request and the next [`BURST_TAIL`] answer 429 with `Retry-After: 1`.
    pub burst_429: f64,
    /// GETs answer 500.
    pub get_failure: f64,
    /// The first PUT carrying a given payment `info` gets this fault (deterministic tests).
    pub first_attempt: Option<Fault>,
    /// The `Retry-After` of every injected 429, in seconds (default 1; LoanPro's can be
    /// minutes).
    pub retry_after_secs: Option<u64>,
    /// How `GET Loans(id)/Payments` pages: honestly, or as a broken server does.
    pub paging: Paging,
}

/// How `GET Loans(id)/Payments` pages. The broken ways ignore `$skip` (every request gets the
/// first page), with no `summary.total` or with one of 10^9: a client that pages "until the
/// total" or "until an empty page" never ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Paging {
    #[default]
    Honest,
    /// `$skip` ignored, `summary.total` true.
    IgnoreSkip,
    /// `$skip` ignored, no `summary.total`.
    IgnoreSkipNoTotal,
    /// `$skip` ignored, `summary.total` 10^9.
    IgnoreSkipHugeTotal,
}

/// The `summary.total` of [`Paging::IgnoreSkipHugeTotal`].
pub const HUGE_TOTAL: u64 = 1_000_000_000;

/// One injected failure.
///
/// The `Html*`, `Empty*` and `NoD*` faults answer 200 with what a proxy or load balancer in
/// front of LoanPro sends (a maintenance page, an empty body, JSON of its own); `Redirect`,
/// `GetRedirect` and the huge bodies are what a wrong `base_url` or a broken proxy gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    ErrorBeforeCommit,
    DropBeforeCommit,
    ErrorAfterCommit,
    DropAfterCommit,
    SlowCommit,
    TooManyRequests,
    GetFailure,
    /// PUT: 200 with an HTML page; NOT recorded.
    HtmlBeforeCommit,
    /// PUT: recorded, then 200 with an HTML page.
    HtmlAfterCommit,
    /// PUT: 200 with an empty body; NOT recorded.
    EmptyBeforeCommit,
    /// PUT: recorded, then 200 with an empty body.
    EmptyAfterCommit,
    /// PUT: 200 with JSON that has no `d` and is no LoanPro error; NOT recorded.
    NoDBeforeCommit,
    /// PUT: recorded, then 200 with JSON that has no `d`.
    NoDAfterCommit,
    /// PUT: recorded, then LoanPro's 200 answer padded with spaces to 6 MiB.
    HugeBody,
    /// PUT: 307 to the same path under --redirect-to (default: the sandbox itself); NOT recorded.
    Redirect,
    /// GET: 301 to the same path under --redirect-to (default: the sandbox itself).
    GetRedirect,
    /// GET: the real answer padded with spaces to 6 MiB.
    GetHugeBody,
    /// PUT or POST: 400 in LoanPro's error shape whose message echoes the request's
    /// `Authorization` header, token and all (as some gateways and LoanPro's own validation
    /// do); NOT recorded.
    EchoToken,
    /// GET: a gateway's 502 page listing the request's headers, the token among them.
    GetEchoToken,
}

impl Fault {
    /// Faults a PUT or POST answers with before anything is recorded.
    pub fn strikes_before_commit(self) -> bool {
        matches!(
            self,
            Fault::TooManyRequests
                | Fault::ErrorBeforeCommit
                | Fault::DropBeforeCommit
                | Fault::HtmlBeforeCommit
                | Fault::EmptyBeforeCommit
                | Fault::NoDBeforeCommit
                | Fault::Redirect
                | Fault::EchoToken
        )
    }

    /// Faults that strike a GET; all others strike a PUT.
    pub fn is_get(self) -> bool {
        matches!(
            self,
            Fault::GetFailure | Fault::GetRedirect | Fault::GetHugeBody | Fault::GetEchoToken
        )
    }
}

/// The size of a `HugeBody` or `GetHugeBody` answer (6 MiB): several times what a client
/// should read.
pub const HUGE_BODY: usize = 6 << 20;

/// How many requests after the one that starts a burst also answer 429.
pub(crate) const BURST_TAIL: u32 = 3;

impl Faults {
    pub(crate) fn validate(&self) -> Result<(), String> {
        let probabilities = [
            ("error_before_commit", self.error_before_commit),
            ("drop_before_commit", self.drop_before_commit),
            ("error_after_commit", self.error_after_commit),
            ("drop_after_commit", self.drop_after_commit),
            ("slow_commit", self.slow_commit),
            ("burst_429", self.burst_429),
            ("get_failure", self.get_failure),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "fault probability {name} must be within 0..=1, got {p}"
                ));
            }
        }
        let put_total = self.error_before_commit
            + self.drop_before_commit
            + self.error_after_commit
            + self.drop_after_commit
            + self.slow_commit;
        if put_total > 1.0 + 1e-9 {
            return Err(format!(
                "PUT fault probabilities add up to {put_total}, more than 1"
            ));
        }
        if !(self.slow_secs.is_finite() && self.slow_secs >= 0.0) {
            return Err(format!(
                "slow_secs must be a non-negative number, got {}",
                self.slow_secs
            ));
        }
        Ok(())
    }
}

/// The mutable fault machinery; lives inside the sandbox's state mutex.
pub(crate) struct FaultState {
    faults: Faults,
    rng: StdRng,
    queue: VecDeque<Fault>,
    // Only filled while `first_attempt` is set, so long runs without it stay flat in memory.
    seen_infos: HashSet<String>,
    burst_left: u32,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultState {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            queue: VecDeque::new(),
            seen_infos: HashSet::new(),
            burst_left: 0,
        }
    }

    /// Replaces the random faults; reseeds and ends any burst, keeps queued faults.
    pub(crate) fn replace(&mut self, faults: Faults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.faults = faults;
        self.burst_left = 0;
    }

    pub(crate) fn slow_secs(&self) -> f64 {
        self.faults.slow_secs
    }

    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.faults.retry_after_secs.unwrap_or(1)
    }

    pub(crate) fn paging(&self) -> Paging {
        self.faults.paging
    }

    pub(crate) fn push(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.queue.extend(faults);
    }

    /// Every decision draws exactly two numbers, whatever the outcome, so the same seed and the
    /// same request order always give the same faults.
    fn draw(&mut self) -> (f64, f64) {
        (self.rng.random::<f64>(), self.rng.random::<f64>())
    }

    /// A burst already under way wins over everything else, as it would on a real server.
    fn burst_tail(&mut self) -> Option<Fault> {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            Some(Fault::TooManyRequests)
        } else {
            None
        }
    }

    fn start_burst(&mut self, u: f64) -> Option<Fault> {
        if u < self.faults.burst_429 {
            self.burst_left = BURST_TAIL;
            Some(Fault::TooManyRequests)
        } else {
            None
        }
    }

    /// The fault for a PUT whose payment carries `info` (if the body had one). Precedence:
    /// burst under way, queued, first attempt, new burst, random commit fault.
    pub(crate) fn for_put(&mut self, info: Option<&str>) -> Option<Fault> {
        let (u_burst, u_fault) = self.draw();
        let first_time = match (self.faults.first_attempt, info) {
            (Some(_), Some(info)) => self.seen_infos.insert(info.to_owned()),
            _ => false,
        };
        if let Some(fault) = self.burst_tail() {
            return Some(fault);
        }
        if let Some(pos) = self.queue.iter().position(|f| !f.is_get()) {
            return self.queue.remove(pos);
        }
        if first_time
            && let Some(fault) = self.faults.first_attempt
            && !fault.is_get()
        {
            return Some(fault);
        }
        if let Some(fault) = self.start_burst(u_burst) {
            return Some(fault);
        }
        let f = &self.faults;
        let ladder = [
            (f.error_before_commit, Fault::ErrorBeforeCommit),
            (f.drop_before_commit, Fault::DropBeforeCommit),
            (f.error_after_commit, Fault::ErrorAfterCommit),
            (f.drop_after_commit, Fault::DropAfterCommit),
            (f.slow_commit, Fault::SlowCommit),
        ];
        let mut upper = 0.0;
        for (p, fault) in ladder {
            upper += p;
            if u_fault < upper {
                return Some(fault);
            }
        }
        None
    }

    /// The fault for an API GET: a burst (under way or new), a queued GET fault, or a random one.
    pub(crate) fn for_get(&mut self) -> Option<Fault> {
        let (u_burst, u_fault) = self.draw();
        if let Some(fault) = self.burst_tail() {
            return Some(fault);
        }
        if let Some(pos) = self.queue.iter().position(|f| f.is_get()) {
            return self.queue.remove(pos);
        }
        if let Some(fault) = self.start_burst(u_burst) {
            return Some(fault);
        }
        (u_fault < self.faults.get_failure).then_some(Fault::GetFailure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_lasts_this_request_and_the_tail() {
        let mut state = FaultState::new(Faults {
            burst_429: 1.0,
            ..Default::default()
        });
        assert_eq!(state.for_get(), Some(Fault::TooManyRequests));
        // Stop new bursts without `replace`, which would also end this one.
        state.faults.burst_429 = 0.0;
        for _ in 0..BURST_TAIL {
            assert_eq!(state.for_put(Some("x")), Some(Fault::TooManyRequests));
        }
        assert_eq!(state.for_get(), None);
        assert_eq!(state.for_put(Some("x")), None);
    }

    #[test]
    fn precedence_queue_then_first_attempt() {
        let mut state = FaultState::new(Faults {
            first_attempt: Some(Fault::DropAfterCommit),
            ..Default::default()
        });
        state.push([Fault::GetFailure, Fault::SlowCommit]);
        // The queued PUT fault wins, and the first attempt of "a" is used up by it.
        assert_eq!(state.for_put(Some("a")), Some(Fault::SlowCommit));
        assert_eq!(state.for_put(Some("a")), None);
        assert_eq!(state.for_put(Some("b")), Some(Fault::DropAfterCommit));
        assert_eq!(state.for_put(None), None);
        assert_eq!(state.for_get(), Some(Fault::GetFailure));
        assert_eq!(state.for_get(), None);
    }

    #[test]
    fn same_seed_same_faults() {
        let faults = Faults {
            seed: 7,
            error_before_commit: 0.3,
            slow_commit: 0.3,
            get_failure: 0.5,
            ..Default::default()
        };
        let run = |faults: &Faults| {
            let mut state = FaultState::new(faults.clone());
            (0..50)
                .map(|i| {
                    if i % 3 == 0 {
                        state.for_get()
                    } else {
                        state.for_put(None)
                    }
                })
                .collect::<Vec<_>>()
        };
        let first = run(&faults);
        assert_eq!(first, run(&faults));
        assert_ne!(
            first,
            run(&Faults {
                seed: 8,
                ..faults.clone()
            })
        );
        assert!(
            Faults {
                error_before_commit: 0.6,
                drop_before_commit: 0.6,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
