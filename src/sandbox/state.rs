//! The sandbox's shared state: loans, recorded payments, counters, rate limiter and faults.
//!
//! One `std::sync::Mutex` guards everything that changes; no code awaits while holding it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::faults::{Fault, FaultState, Faults};
use super::{SandboxConfig, SandboxPayment, SandboxStats};

/// Which counter a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Put,
    Get,
    Post,
    Other,
}

/// Why a request was refused before it reached its route.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Over the rate ceiling; retry after this many whole seconds.
    RateLimited(u64),
    Unauthorized,
}

pub(crate) struct Shared {
    /// How many loans exist (ids 1..=loans); tests may add loans while the sandbox runs.
    pub(crate) loans: std::sync::atomic::AtomicU64,
    pub(crate) token: String,
    pub(crate) tenant_id: String,
    pub(crate) payment_methods: BTreeSet<u32>,
    pub(crate) payment_types: BTreeSet<u32>,
    pub(crate) periods_loans: BTreeSet<u64>,
    pub(crate) reverse_reasons: BTreeSet<String>,
    pub(crate) page_size: usize,
    pub(crate) base_url: String,
    /// The base URL that redirects point to.
    pub(crate) redirect_to: String,
    inner: Mutex<Inner>,
}

struct Inner {
    payments: Vec<SandboxPayment>,
    // Indexes into `payments`, per loan, in recording order.
    by_loan: HashMap<u64, Vec<usize>>,
    stats: SandboxStats,
    faults: FaultState,
    limiter: Option<TokenBucket>,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig, base_url: String) -> Self {
        Shared {
            loans: std::sync::atomic::AtomicU64::new(config.loans),
            token: config.token,
            tenant_id: config.tenant_id,
            payment_methods: config.payment_methods,
            payment_types: config.payment_types,
            periods_loans: config.periods_loans,
            reverse_reasons: config.reverse_reasons,
            page_size: config.page_size,
            redirect_to: config
                .redirect_to
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| base_url.clone()),
            base_url,
            inner: Mutex::new(Inner {
                payments: Vec::new(),
                by_loan: HashMap::new(),
                stats: SandboxStats::default(),
                faults: FaultState::new(config.faults),
                limiter: config.requests_per_second.map(TokenBucket::new),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not take every later request down with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn loan_exists(&self, loan_id: u64) -> bool {
        (1..=self.loan_count()).contains(&loan_id)
    }

    pub(crate) fn loan_count(&self) -> u64 {
        self.loans.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn is_periods_loan(&self, loan_id: u64) -> bool {
        self.periods_loans.contains(&loan_id)
    }

    /// Counts the request, then applies the rate ceiling (first, like the real gateway) and
    /// the credentials check.
    pub(crate) fn admit(&self, kind: Kind, headers: &HeaderMap) -> Result<(), Refusal> {
        let mut inner = self.lock();
        match kind {
            Kind::Put => inner.stats.puts += 1,
            Kind::Get => inner.stats.gets += 1,
            Kind::Post => inner.stats.posts += 1,
            Kind::Other => {}
        }
        if let Some(limiter) = inner.limiter.as_mut()
            && let Err(wait) = limiter.try_acquire(Instant::now())
        {
            inner.stats.too_many_requests += 1;
            return Err(Refusal::RateLimited(
                wait.as_secs_f64().ceil().max(1.0) as u64
            ));
        }
        if !self.authorized(headers) {
            inner.stats.unauthorized += 1;
            return Err(Refusal::Unauthorized);
        }
        Ok(())
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let token_ok = header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t == self.token);
        let tenant_ok = header("autopal-instance-id").is_some_and(|t| t == self.tenant_id);
        token_ok && tenant_ok
    }

    pub(crate) fn put_fault(&self, info: Option<&str>) -> Option<Fault> {
        self.lock().faults.for_put(info)
    }

    pub(crate) fn get_fault(&self) -> Option<Fault> {
        self.lock().faults.for_get()
    }

    /// Counts a fault that was actually applied.
    pub(crate) fn note_fault(&self, fault: Fault) {
        let mut inner = self.lock();
        inner.stats.faults_injected += 1;
        if fault == Fault::TooManyRequests {
            inner.stats.too_many_requests += 1;
        }
        tracing::debug!(?fault, "sandbox injected a fault");
    }

    pub(crate) fn slow_secs(&self) -> f64 {
        self.lock().faults.slow_secs()
    }

    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.lock().faults.retry_after_secs()
    }

    pub(crate) fn paging(&self) -> super::faults::Paging {
        self.lock().faults.paging()
    }

    pub(crate) fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.push(faults);
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        self.lock().faults.replace(faults);
    }

    /// Stores a payment under a fresh id and returns it as stored.
    pub(crate) fn record(&self, mut payment: SandboxPayment) -> SandboxPayment {
        let mut inner = self.lock();
        payment.id = inner.payments.len() as u64 + 1;
        let index = inner.payments.len();
        inner
            .by_loan
            .entry(payment.loan_id)
            .or_default()
            .push(index);
        inner.payments.push(payment.clone());
        inner.stats.payments += 1;
        payment
    }

    /// Reverses a payment of a loan: the error body's message when there is no such payment
    /// of that loan, or it is reversed already (LoanPro refuses a second reversal).
    pub(crate) fn reverse(
        &self,
        loan_id: u64,
        payment_id: u64,
        reversal: super::SandboxReversal,
    ) -> Result<SandboxPayment, String> {
        let mut inner = self.lock();
        let index = inner
            .by_loan
            .get(&loan_id)
            .and_then(|ids| {
                ids.iter()
                    .copied()
                    .find(|&i| inner.payments[i].id == payment_id)
            })
            .ok_or_else(|| format!("Payment {payment_id} not found on loan {loan_id}"))?;
        let payment = &mut inner.payments[index];
        if payment.reversal.is_some() {
            return Err(format!("Payment {payment_id} has already been reversed"));
        }
        payment.reversal = Some(reversal);
        let done = payment.clone();
        inner.stats.reversals += 1;
        Ok(done)
    }

    /// The loan's payments in recording order, filtered.
    pub(crate) fn loan_payments(
        &self,
        loan_id: u64,
        keep: impl Fn(&SandboxPayment) -> bool,
    ) -> Vec<SandboxPayment> {
        let inner = self.lock();
        inner
            .by_loan
            .get(&loan_id)
            .into_iter()
            .flatten()
            .map(|&i| &inner.payments[i])
            .filter(|p| keep(p))
            .cloned()
            .collect()
    }

    pub(crate) fn payments(&self) -> Vec<SandboxPayment> {
        self.lock().payments.clone()
    }

    pub(crate) fn stats(&self) -> SandboxStats {
        self.lock().stats
    }
}

/// A token bucket holding up to `max(1, rate)` requests, refilled at `rate` per second.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

/// A request may arrive this fraction of an interval early and still pass: network jitter
/// between a client's limiter and ours must not turn an exactly-on-rate client into 429s.
const JITTER_ALLOWANCE: f64 = 0.1;

impl TokenBucket {
    fn new(rate: f64) -> Self {
        let capacity = rate.max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Takes one token, or says how long until one is available.
    fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 - JITTER_ALLOWANCE {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(4.0);
        bucket.last = start;
        for _ in 0..4 {
            assert!(bucket.try_acquire(start).is_ok());
        }
        assert!(bucket.try_acquire(start).is_err());
        // A quarter second later exactly one more is allowed.
        let later = start + Duration::from_millis(250);
        assert!(bucket.try_acquire(later).is_ok());
        assert!(bucket.try_acquire(later).is_err());
    }

    #[test]
    fn slow_rate_has_capacity_one() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(0.5);
        bucket.last = start;
        assert!(bucket.try_acquire(start).is_ok());
        let wait = bucket.try_acquire(start).unwrap_err();
        assert!(wait > Duration::from_secs(1));
    }
}
