//! A local stand-in for the subset of LoanPro that payimport uses (docs/loanpro.md#the-sandbox).
//!
//! It is deliberately as strict and awkward as the real service: exact headers, 409s in two body
//! shapes, a 200 that carries an error, pages capped at 50, a request-rate ceiling, and injected
//! faults (errors and dropped connections before or after a payment is recorded, slow commits,
//! bursts of 429), and what a proxy or a wrong base URL puts in between: 200s that are not
//! LoanPro's answer, redirects to another server, bodies of several MiB. A friendlier stand-in would hide exactly the bugs it exists to find.
//!
//! Every integration test starts one in-process with [`Sandbox::start`]; `payimport sandbox`
//! serves one from the command line through [`run_cli`].

mod cli;
mod faults;
mod odata;
mod payload;
mod routes;
mod server;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cli::{SandboxArgs, run_cli};
pub use faults::{Fault, Faults, HUGE_BODY, HUGE_TOTAL, Paging};

use state::Shared;

/// Path of the OData service below the server root; `base_url()` ends just before `/odata.svc`.
pub(crate) const API_PREFIX: &str = "/api/public/api/1";

/// What the sandbox holds and how it behaves.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Loans with ids `1..=loans`, display ids `LN000001`, `LN000002`, ...
    pub loans: u64,
    /// The only accepted bearer token.
    pub token: String,
    /// The only accepted `Autopal-Instance-Id`.
    pub tenant_id: String,
    /// Accepted `paymentMethodId` values.
    pub payment_methods: BTreeSet<u32>,
    /// Accepted `paymentTypeId` values.
    pub payment_types: BTreeSet<u32>,
    /// Loans whose interest application is between periods; all others are between transactions.
    pub periods_loans: BTreeSet<u64>,
    /// Request ceiling over all API requests (GETs too); above it the answer is 429.
    pub requests_per_second: Option<f64>,
    /// Default and maximum `$top`, 50 like LoanPro.
    pub page_size: usize,
    /// Random and scripted faults.
    pub faults: Faults,
    /// The tenant's `payment.reverse` collection: the reasons `VoidPayment` accepts.
    pub reverse_reasons: BTreeSet<String>,
    /// Where `Redirect` and `GetRedirect` point: another server's base URL, in place of the
    /// sandbox's own (the default). The path below `/odata.svc` is kept.
    pub redirect_to: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            loans: 1000,
            token: "sandbox-token".to_owned(),
            tenant_id: "5200243".to_owned(),
            payment_methods: BTreeSet::from([3, 4, 5]),
            payment_types: BTreeSet::from([1, 2]),
            periods_loans: BTreeSet::new(),
            requests_per_second: None,
            page_size: 50,
            faults: Faults::default(),
            reverse_reasons: [
                "payment.reverse.checkBounce",
                "payment.reverse.nsf",
                "payment.reverse.nacha",
                "payment.reverse.other",
            ]
            .map(str::to_owned)
            .into(),
            redirect_to: None,
        }
    }
}

impl SandboxConfig {
    /// Rejects settings that would make the sandbox meaningless (a zero page size, a
    /// probability outside 0..=1, a non-positive rate).
    fn validate(&self) -> Result<(), String> {
        if self.page_size == 0 {
            return Err("page_size must be at least 1".to_owned());
        }
        if let Some(rps) = self.requests_per_second
            && !(rps.is_finite() && rps > 0.0)
        {
            return Err(format!("requests_per_second must be positive, got {rps}"));
        }
        self.faults.validate()
    }
}

/// A payment the sandbox recorded (or was pre-loaded with), as the client sent it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct SandboxPayment {
    /// The payment id the sandbox assigned (1, 2, ... in recording order).
    pub id: u64,
    pub loan_id: u64,
    /// The amount exactly as sent, e.g. `"250.00"`.
    pub amount: String,
    /// `YYYY-MM-DD` as sent.
    pub date: String,
    pub info: String,
    pub payment_method_id: u32,
    pub payment_type_id: u32,
    pub extra: String,
    /// Set once the payment is reversed (`VoidPayment`, docs/returns.md): it reads back `active` = 0.
    #[serde(default)]
    pub reversal: Option<SandboxReversal>,
}

/// How a payment was reversed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SandboxReversal {
    pub reverse_reason: String,
    pub comments: String,
    /// `YYYY-MM-DD`, the day it was reversed.
    pub reverse_date: String,
    pub nacha_return_code: Option<String>,
}

/// Request and payment counters.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SandboxStats {
    /// Every API PUT received, including refused and faulted ones.
    pub puts: u64,
    /// Every API GET received, including refused and faulted ones.
    pub gets: u64,
    /// Every API POST received (`VoidPayment`), including refused and faulted ones.
    #[serde(default)]
    pub posts: u64,
    /// Payments reversed by a `VoidPayment` (or by [`Sandbox::reverse_payment`]).
    #[serde(default)]
    pub reversals: u64,
    /// Every 429 answered (rate limit, bursts, scripted).
    pub too_many_requests: u64,
    /// Every 401 answered.
    pub unauthorized: u64,
    /// Every fault actually applied (a 429 burst, a 500, a dropped connection, a slow commit).
    pub faults_injected: u64,
    /// Payments stored, pre-loaded ones included (equals `payments().len()`).
    pub payments: u64,
}

/// A running sandbox server. Dropping it (or [`Sandbox::shutdown`]) stops it.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    // Dropping the sender is itself the shutdown signal, so `Drop` needs no code of its own.
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves in a background task of the
    /// current tokio runtime.
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        config
            .validate()
            .map_err(|m| std::io::Error::new(std::io::ErrorKind::InvalidInput, m))?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, base_url_for(addr)));
        let router = routes::router(shared.clone());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, router, stopped));
        tracing::debug!(%addr, "sandbox started");
        Ok(Sandbox {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/api/public/api/1`; clients append `/odata.svc/...`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Every payment stored, in recording order.
    pub fn payments(&self) -> Vec<SandboxPayment> {
        self.shared.payments()
    }

    /// The counters so far.
    pub fn stats(&self) -> SandboxStats {
        self.shared.stats()
    }

    /// Queues scripted faults: the next PUTs get them in order (a GET fault such as
    /// `GetFailure` goes to the next GET instead), before any `first_attempt` or random fault.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.push_faults(faults);
    }

    /// Replaces the random faults (and reseeds from `faults.seed`); queued faults stay.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Makes loans `1..=loans` exist from now on, as when an operator creates a missing loan.
    pub fn set_loans(&self, loans: u64) {
        self.shared
            .loans
            .store(loans, std::sync::atomic::Ordering::SeqCst);
    }

    /// Pre-loads an earlier payment on a loan (method, type and `extra` get defaults that suit
    /// the loan). Panics if the loan does not exist: that is a broken test, not a runtime case.
    pub fn add_payment(
        &self,
        loan_id: u64,
        amount: &str,
        date: &str,
        info: &str,
    ) -> SandboxPayment {
        let extra = if self.shared.is_periods_loan(loan_id) {
            "payment.extra.periods.next"
        } else {
            "payment.extra.tx.principal"
        };
        let method = self.shared.payment_methods.first().copied().unwrap_or(4);
        let kind = self.shared.payment_types.first().copied().unwrap_or(1);
        self.insert_payment(SandboxPayment {
            id: 0,
            loan_id,
            amount: amount.to_owned(),
            date: date.to_owned(),
            info: info.to_owned(),
            payment_method_id: method,
            payment_type_id: kind,
            extra: extra.to_owned(),
            reversal: None,
        })
    }

    /// Pre-loads a payment with every field chosen by the caller; its `id` is ignored and a new
    /// one assigned. Panics if the loan does not exist.
    pub fn insert_payment(&self, payment: SandboxPayment) -> SandboxPayment {
        assert!(
            self.shared.loan_exists(payment.loan_id),
            "sandbox has no loan {} (loans are 1..={})",
            payment.loan_id,
            self.shared.loan_count()
        );
        self.shared.record(payment)
    }

    /// Reverses a payment as someone working in LoanPro would (not through payimport).
    /// Panics if there is no such payment or it is reversed already.
    pub fn reverse_payment(&self, payment_id: u64, reverse_reason: &str) -> SandboxPayment {
        let loan_id = self
            .payments()
            .iter()
            .find(|p| p.id == payment_id)
            .map(|p| p.loan_id)
            .expect("a payment of the sandbox");
        self.shared
            .reverse(
                loan_id,
                payment_id,
                SandboxReversal {
                    reverse_reason: reverse_reason.to_owned(),
                    comments: "reversed by hand".to_owned(),
                    reverse_date: chrono::Utc::now().date_naive().to_string(),
                    nacha_return_code: None,
                },
            )
            .expect("a payment not reversed yet")
    }

    /// Stops accepting, lets requests in flight finish (for a short grace period) and waits for
    /// the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Also happens implicitly when `stop` is dropped; explicit for readers.
        let _ = self.stop.send(true);
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    format!("http://{addr}{API_PREFIX}")
}
