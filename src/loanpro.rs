//! The LoanPro API client: requests, one shared rate limiter, and the classification of answers.
//!
//! Classifying an answer ([`classify`]) is kept apart from deciding what to do about it (the
//! dispatcher), so the rules of docs/loanpro.md can be tested on their own.
//!
//! Only LoanPro's own answers are trusted: a 200 with `d` is a yes and a JSON error body in one
//! of LoanPro's shapes is a no. Anything else between the two (a proxy's page, an empty body, a
//! body past [`MAX_BODY`]) may have come after the payment was logged, so it is uncertain.
//! Redirects are never followed: they would carry the payment and the token to another address.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use tokio::time::Instant;

use crate::payment::{PaymentBody, VoidBody};
use crate::settings::Token;

/// The most of an answer's body that is read. LoanPro's answers are a few KiB (a page of 50
/// payments is tens of KiB); a body past this is not LoanPro's, and reading it all would let a
/// misbehaving server fill the memory.
pub const MAX_BODY: usize = 1 << 20;

/// How every refusal of the credentials begins, wherever it is found (a PUT, a read-back).
pub const CREDENTIALS_REFUSED: &str = "LoanPro refused the credentials";

/// What a person does about refused credentials: `check` and a stopped run say the same.
pub const CREDENTIALS_ADVICE: &str = "check the token's value and `loanpro.tenant_id` (the Autopal-Instance-Id), in LoanPro under Settings > Company > API";

/// Requests per HTTP status a client made to LoanPro, for the metrics file: a counter per
/// HTTP status (100..=599), and one for requests that got no answer at all (refused
/// connection, timeout, reset); lock-free, as every worker counts.
pub struct RequestCounts {
    /// Index `status - 100` for an answer; [`NO_ANSWER`] for none.
    counts: [AtomicU64; 501],
}

const NO_ANSWER: usize = 500;

impl Default for RequestCounts {
    fn default() -> RequestCounts {
        RequestCounts {
            counts: [const { AtomicU64::new(0) }; 501],
        }
    }
}

impl RequestCounts {
    /// Counts one request: its status, or `None` when no answer came.
    pub fn count(&self, status: Option<u16>) {
        let i = match status {
            Some(s @ 100..=599) => usize::from(s - 100),
            _ => NO_ANSWER,
        };
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Every status counted so far, with its count; `None` for no answer.
    pub fn snapshot(&self) -> Vec<(Option<u16>, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = c.load(Ordering::Relaxed);
                let status = (i != NO_ANSWER).then(|| i as u16 + 100);
                (n > 0).then_some((status, n))
            })
            .collect()
    }
}

/// What LoanPro's answer to a PUT means for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with `d`: the payment is logged.
    Posted {
        http_status: u16,
        payment_id: Option<u64>,
    },
    /// LoanPro said no (4xx, 409, or a JSON error body in one of LoanPro's shapes, even with a
    /// 200): not logged, and sending again won't help.
    Refused { http_status: u16, message: String },
    /// 401/403: the credentials are wrong; the whole run must stop.
    AuthRefused { http_status: u16, message: String },
    /// 3xx: `base_url` is not LoanPro's API; the whole run must stop. Not followed. `message`
    /// names the `Location`.
    Redirected { http_status: u16, message: String },
    /// Certainly not logged, worth trying again (429, connection refused).
    RetryLater {
        http_status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Sent, but no trustworthy answer (5xx, timeout, reset, a 2xx that is not LoanPro's
    /// answer, a body past [`MAX_BODY`]): it may have been logged.
    Unknown {
        http_status: Option<u16>,
        message: String,
    },
}

/// An answer's body, as far as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// All of it.
    Complete(&'a [u8]),
    /// More than [`MAX_BODY`] bytes: the rest was not read, and none of it is trusted.
    TooLarge,
}

/// Classifies an HTTP answer to a PUT of a payment. `location` is the `Location` header.
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    location: Option<&str>,
    body: Body<'_>,
) -> Answer {
    let body = match body {
        Body::Complete(b) => b,
        Body::TooLarge if (300..400).contains(&status) => b"",
        Body::TooLarge => {
            return Answer::Unknown {
                http_status: Some(status),
                message: format!(
                    "HTTP {status} with a body of more than {} MiB, which is not LoanPro's answer; it may have been logged",
                    MAX_BODY >> 20
                ),
            };
        }
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = || error_message(json.as_ref(), body, status);
    match status {
        200..=299 => {
            if status == 200
                && let Some(d) = json.as_ref().and_then(|j| j.get("d"))
                && d.is_object()
                && d.get("error").is_none()
            {
                return Answer::Posted {
                    http_status: status,
                    payment_id: d
                        .pointer("/Payments/results/0/id")
                        .and_then(serde_json::Value::as_u64),
                };
            }
            match json.as_ref().and_then(loanpro_error) {
                // LoanPro has answered 200 with an error body.
                Some(m) => Answer::Refused {
                    http_status: status,
                    message: m.to_string(),
                },
                // A proxy or load balancer answered, maybe after LoanPro logged the payment.
                None => Answer::Unknown {
                    http_status: Some(status),
                    message: format!(
                        "{} (not LoanPro's answer: no `d`); it may have been logged",
                        error_message(None, body, status)
                    ),
                },
            }
        }
        300..=399 => Answer::Redirected {
            http_status: status,
            message: redirect_message(status, location),
        },
        401 | 403 => Answer::AuthRefused {
            http_status: status,
            message: message(),
        },
        429 => Answer::RetryLater {
            http_status: Some(status),
            retry_after: retry_after.and_then(parse_retry_after),
            message: message(),
        },
        400..=499 => Answer::Refused {
            http_status: status,
            message: message(),
        },
        _ => Answer::Unknown {
            http_status: Some(status),
            message: message(),
        },
    }
}

/// The message of a JSON error body in one of LoanPro's shapes: `{"error":{"message":..}}`
/// (the message a string or `{"value":..}`), the same inside `d`, or
/// `{"code":N,"message":"..",..}`. `None` for any other JSON, which LoanPro did not send.
pub fn loanpro_error(json: &serde_json::Value) -> Option<&str> {
    let root = json
        .get("d")
        .filter(|d| d.get("error").is_some())
        .unwrap_or(json);
    if let Some(m) = root.get("error").and_then(|e| e.get("message")) {
        return m
            .as_str()
            .or_else(|| m.get("value").and_then(|v| v.as_str()));
    }
    if root.get("code").is_some_and(serde_json::Value::is_u64) {
        return root.get("message").and_then(|m| m.as_str());
    }
    None
}

/// Pulls LoanPro's message out of either documented error shape, or says what came instead.
pub fn error_message(json: Option<&serde_json::Value>, body: &[u8], status: u16) -> String {
    if let Some(j) = json {
        let root = j.get("d").filter(|d| d.get("error").is_some()).unwrap_or(j);
        let found = root
            .pointer("/error/message/value")
            .or_else(|| root.pointer("/error/message"))
            .or_else(|| root.get("message"))
            .and_then(|m| m.as_str());
        if let Some(m) = found {
            return m.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        let cut: String = text.chars().take(200).collect();
        format!("HTTP {status}: {cut}")
    }
}

/// Why a 3xx stops the run, naming where it pointed so the operator can see what is wrong.
fn redirect_message(status: u16, location: Option<&str>) -> String {
    let to = match location {
        Some(l) => {
            let cut: String = l.chars().take(300).collect();
            format!("a redirect to {cut}")
        }
        None => "a redirect without a Location header".to_string(),
    };
    format!(
        "`loanpro.base_url` answered HTTP {status} with {to}; redirects are never followed (they would take the payment and the token elsewhere): set `loanpro.base_url` in the settings to the API's own URL"
    )
}

/// Reads a body up to [`MAX_BODY`], chunk by chunk, so a huge answer costs at most that.
async fn read_body(resp: &mut reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn location_header(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn retry_after_header(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(600.0)))
}

/// How to reach LoanPro.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub tenant_id: String,
    pub token: Token,
    pub timeout: Duration,
    pub requests_per_second: f64,
}

/// The API client. Every request, GETs included, waits on one rate limiter, and a 429's
/// Retry-After pauses every request, not just the one that got it.
pub struct Client {
    http: reqwest::Client,
    odata: String,
    /// What of the token an answer may echo, replaced before any message leaves the client.
    redact: Redact,
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
    /// Every request's status, for the metrics file.
    requests: Arc<RequestCounts>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Arc<Client>, String> {
        Client::counted(config, Arc::default())
    }

    /// A client that counts its requests in `requests`.
    pub fn counted(
        config: ClientConfig,
        requests: Arc<RequestCounts>,
    ) -> Result<Arc<Client>, String> {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                "the LoanPro token contains characters not allowed in a header".to_string()
            })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            "Autopal-Instance-Id",
            HeaderValue::from_str(&config.tenant_id).map_err(|_| {
                "loanpro.tenant_id contains characters not allowed in a header".to_string()
            })?,
        );
        let http = http_client_builder()
            .default_headers(headers)
            // A redirect would re-send the PUT, its body and the token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        // One request per period, no burst: the ceiling holds over any window.
        let period = Duration::from_secs_f64(1.0 / config.requests_per_second);
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .expect("positive period")
            .allow_burst(NonZeroU32::MIN);
        Ok(Arc::new(Client {
            http,
            odata: format!("{}/odata.svc", config.base_url.trim_end_matches('/')),
            redact: Redact::new(config.token.expose()),
            limiter: RateLimiter::direct(quota),
            paused_until: Mutex::new(None),
            requests,
        }))
    }

    /// Holds every request back for `d` (a 429's Retry-After).
    pub fn pause_all(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = self.paused_until.lock().expect("pause lock");
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }

    /// Waits for any pause, then for the rate limiter.
    async fn ready(&self) {
        loop {
            let until = *self.paused_until.lock().expect("pause lock");
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        self.limiter.until_ready().await;
    }

    /// Sends a request that writes to LoanPro and classifies the answer, after waiting for any
    /// pause (a 429's Retry-After) and for the rate limiter. `None`: `stop` came during that
    /// wait, so nothing left. Once the request leaves it is not cancelled: its answer is awaited
    /// (at most `timeout_secs`) so that the row's outcome is known.
    pub async fn send(&self, request: &Request, stop: impl Future<Output = ()>) -> Option<Answer> {
        tokio::select! {
            biased;
            () = stop => return None,
            () = self.ready() => {}
        }
        let (builder, void) = match request {
            Request::Payment { loan_id, .. } => (
                self.http.put(format!("{}/Loans({loan_id})", self.odata)),
                false,
            ),
            Request::Reversal {
                loan_id,
                payment_id,
                ..
            } => (
                self.http.post(format!(
                    "{}/Loans({loan_id})/VoidPayment({payment_id})",
                    self.odata
                )),
                true,
            ),
        };
        Some(self.send_json(builder, request.body().to_vec(), void).await)
    }

    /// Sends a JSON body and classifies the answer; no message it carries holds the token.
    /// A reversal's answer is classified as a PUT's is, and a 200 whose `d` is `true` is a yes too.
    async fn send_json(
        &self,
        request: reqwest::RequestBuilder,
        body: Vec<u8>,
        void: bool,
    ) -> Answer {
        let answer = self.send_unredacted(request, body, void).await;
        self.redact.answer(answer)
    }

    async fn send_unredacted(
        &self,
        request: reqwest::RequestBuilder,
        body: Vec<u8>,
        void: bool,
    ) -> Answer {
        let sent = request
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        self.requests
            .count(sent.as_ref().ok().map(|r| r.status().as_u16()));
        match sent {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after_header(&resp);
                let location = location_header(&resp);
                let (retry_after, location) = (retry_after.as_deref(), location.as_deref());
                match read_body(&mut resp).await {
                    Ok(Some(body))
                        if void
                            && status == 200
                            && serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(
                                |j| j.get("d") == Some(&serde_json::Value::Bool(true)),
                            ) =>
                    {
                        Answer::Posted {
                            http_status: status,
                            payment_id: None,
                        }
                    }
                    Ok(Some(body)) => {
                        // Before a message is cut from it, so no part of the token survives.
                        let body = self.redact.bytes(body);
                        classify(status, retry_after, location, Body::Complete(&body))
                    }
                    Ok(None) => classify(status, retry_after, location, Body::TooLarge),
                    Err(e) => Answer::Unknown {
                        http_status: Some(status),
                        message: format!("the answer was cut off: {}", describe(&e)),
                    },
                }
            }
            Err(e) => transport_error(&e),
        }
    }
}

/// A request that writes to LoanPro, encoded once and sent as often as its answers allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Logs one payment: `PUT Loans(id)` (docs/loanpro.md).
    Payment { loan_id: i64, body: Vec<u8> },
    /// Reverses one payment: `POST Loans(id)/VoidPayment(pid)` (docs/returns.md).
    Reversal {
        loan_id: i64,
        payment_id: u64,
        body: Vec<u8>,
    },
}

impl Request {
    pub fn payment(loan_id: i64, body: &PaymentBody<'_>) -> Request {
        Request::Payment {
            loan_id,
            body: encode(body),
        }
    }

    pub fn reversal(loan_id: i64, payment_id: u64, body: &VoidBody<'_>) -> Request {
        Request::Reversal {
            loan_id,
            payment_id,
            body: encode(body),
        }
    }

    fn body(&self) -> &[u8] {
        match self {
            Request::Payment { body, .. } | Request::Reversal { body, .. } => body,
        }
    }
}

/// Our own bodies are structs of strings, numbers and booleans: JSON always encodes them.
fn encode(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).expect("a request body of strings and numbers encodes as JSON")
}

/// A payment as LoanPro lists it: enough to find a key again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPayment {
    pub id: Option<u64>,
    pub info: String,
    /// `active` = 0 means the payment is reversed (docs/returns.md); missing reads as active.
    pub active: bool,
    pub reverse_reason: Option<String>,
    /// The amount LoanPro holds (`reconcile` compares it with the ledger's).
    pub amount: Option<crate::money::Cents>,
    /// The payment date, `YYYY-MM-DD`.
    pub date: Option<String>,
}

/// An amount as LoanPro gives it: `"250.00"` or `250.0`.
fn json_amount(v: &serde_json::Value) -> Option<crate::money::Cents> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let d: rust_decimal::Decimal = text.trim().parse().ok()?;
    let cents = (d * rust_decimal::Decimal::ONE_HUNDRED).round();
    i64::try_from(cents).ok().map(crate::money::Cents)
}

/// A date as LoanPro gives it, `/Date(1763596800)/` (seconds, midnight UTC), as `YYYY-MM-DD`.
fn json_date(v: &serde_json::Value) -> Option<String> {
    let s = v.as_str()?;
    let secs: i64 = s.strip_prefix("/Date(")?.strip_suffix(")/")?.parse().ok()?;
    let at = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(crate::payment::iso_date(at.date_naive()))
}

/// Why a read-back failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// 401/403: the credentials are wrong; the run must stop.
    AuthRefused(String),
    /// 3xx: `base_url` is not LoanPro's API; the run must stop. The message says so, naming
    /// the `Location`.
    Redirected(String),
    /// Anything else, after the retries a GET deserves.
    Failed(String),
}

/// The page size LoanPro uses (and caps `$top` at).
const PAGE: usize = 50;

impl Client {
    /// Every payment of a loan: `GET Loans(id)/Payments`, page after page until `total` or an
    /// empty page. A server that ignores `$skip` or whose pages never end is an error, not a
    /// loop (docs/loanpro.md): see [`PageGuard`].
    pub async fn loan_payments(
        &self,
        loan_id: i64,
        max_attempts: u32,
    ) -> Result<Vec<LoggedPayment>, ReadError> {
        let mut all = Vec::new();
        let mut guard = PageGuard::default();
        loop {
            let url = format!(
                "{}/Loans({loan_id})/Payments?$top={PAGE}&$skip={}&$orderby=id",
                self.odata,
                all.len()
            );
            let mut d = self.get_d(&url, max_attempts).await?;
            let total = d
                .pointer("/summary/total")
                .and_then(serde_json::Value::as_u64);
            let page = results(&mut d, &url)?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page.iter().map(|p| {
                LoggedPayment {
                    id: p.get("id").and_then(serde_json::Value::as_u64),
                    info: p
                        .get("info")
                        .and_then(|i| i.as_str())
                        .unwrap_or("")
                        .to_string(),
                    active: !p.get("active").is_some_and(|a| {
                        a.as_i64() == Some(0)
                            || a.as_bool() == Some(false)
                            || a.as_str() == Some("0")
                    }),
                    reverse_reason: p
                        .get("reverseReason")
                        .and_then(|r| r.as_str())
                        .filter(|r| !r.is_empty())
                        .map(str::to_string),
                    amount: p.get("amount").and_then(json_amount),
                    date: p.get("date").and_then(json_date),
                }
            }));
            guard.check(std::mem::take(page), all.len(), total, &url)?;
            // Page until LoanPro's own total, or until it has nothing more to give.
            if total.is_some_and(|t| all.len() as u64 >= t) {
                return Ok(all);
            }
        }
    }

    /// The loan id of a display id (the loan number on a coupon): `GET Loans?$filter=displayId eq '...'`.
    pub async fn loan_by_display_id(
        &self,
        display_id: &str,
        max_attempts: u32,
    ) -> Result<Option<i64>, ReadError> {
        // OData string literals double their quotes; the rest is percent-encoded by hand because
        // the filter's `$`, spaces and quotes must reach LoanPro intact.
        let literal = display_id.replace('\'', "''");
        let filter: String = format!("displayId eq '{literal}'")
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'\'' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let url = format!("{}/Loans?$filter={filter}", self.odata);
        let mut d = self.get_d(&url, max_attempts).await?;
        let found = results(&mut d, &url)?;
        Ok(found
            .iter()
            .find(|l| {
                l.get("displayId")
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| v.eq_ignore_ascii_case(display_id))
            })
            .and_then(|l| l.get("id"))
            .and_then(serde_json::Value::as_i64))
    }

    /// One authenticated GET that proves the base URL, token and tenant (`payimport check`):
    /// `GET Loans?$top=1`, its `d` as LoanPro gives it. Nothing is written.
    pub async fn probe(&self, max_attempts: u32) -> Result<serde_json::Value, ReadError> {
        let url = format!("{}/Loans?$top=1", self.odata);
        let mut d = self.get_d(&url, max_attempts).await?;
        results(&mut d, &url)?;
        Ok(d)
    }

    /// The tenant's reverse reasons (`GET collections(payment.reverse)/items`, docs/returns.md): the
    /// `value` of every item, every page.
    pub async fn reverse_reasons(&self, max_attempts: u32) -> Result<Vec<String>, ReadError> {
        let mut reasons = Vec::new();
        let mut guard = PageGuard::default();
        loop {
            let url = format!(
                "{}/collections(payment.reverse)/items?$top={PAGE}&$skip={}",
                self.odata,
                reasons.len()
            );
            let mut d = self.get_d(&url, max_attempts).await?;
            let page = results(&mut d, &url)?;
            let before = reasons.len();
            reasons.extend(
                page.iter()
                    .filter_map(|item| item.get("value").and_then(|v| v.as_str()))
                    .map(str::to_string),
            );
            if page.len() < PAGE || reasons.len() == before {
                return Ok(reasons);
            }
            guard.check(std::mem::take(page), reasons.len(), None, &url)?;
        }
    }

    /// A loan's setup (`GET Loans(id)/LoanSetup`): its `d`, where `interestApplication` says
    /// which `extra` values suit it (docs/settings.md).
    pub async fn loan_setup(
        &self,
        loan_id: i64,
        max_attempts: u32,
    ) -> Result<serde_json::Value, ReadError> {
        let url = format!("{}/Loans({loan_id})/LoanSetup", self.odata);
        self.get_d(&url, max_attempts).await
    }

    /// GETs `url` and returns its `d`. GETs are safe to repeat, so transient failures (429,
    /// 5xx, timeouts, resets) are retried up to `max_attempts`. No error it gives holds the token.
    async fn get_d(&self, url: &str, max_attempts: u32) -> Result<serde_json::Value, ReadError> {
        self.get_d_unredacted(url, max_attempts)
            .await
            .map_err(|e| self.redact.read_error(e))
    }

    async fn get_d_unredacted(
        &self,
        url: &str,
        max_attempts: u32,
    ) -> Result<serde_json::Value, ReadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.ready().await;
            let sent = self.http.get(url).send().await;
            self.requests
                .count(sent.as_ref().ok().map(|r| r.status().as_u16()));
            let failure = match sent {
                Ok(mut resp) => 'answer: {
                    let status = resp.status().as_u16();
                    let retry_after = retry_after_header(&resp)
                        .as_deref()
                        .and_then(parse_retry_after);
                    if (300..400).contains(&status) {
                        let location = location_header(&resp);
                        return Err(ReadError::Redirected(redirect_message(
                            status,
                            location.as_deref(),
                        )));
                    }
                    let body = match read_body(&mut resp).await {
                        Ok(Some(body)) => self.redact.bytes(body),
                        // Not LoanPro's answer, and likely the same next time: give up on it
                        // rather than fetch several MiB again.
                        Ok(None) => {
                            return Err(ReadError::Failed(format!(
                                "the answer to {url} (HTTP {status}) is larger than {} MiB, which is not LoanPro's",
                                MAX_BODY >> 20
                            )));
                        }
                        Err(e) => {
                            break 'answer format!("the answer was cut off: {}", describe(&e));
                        }
                    };
                    let mut json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                    let message = error_message(json.as_ref(), &body, status);
                    match status {
                        200 => match json
                            .as_mut()
                            .and_then(|j| j.get_mut("d"))
                            .map(serde_json::Value::take)
                        {
                            Some(d) if d.get("error").is_none() => return Ok(d),
                            _ => return Err(ReadError::Failed(message)),
                        },
                        401 | 403 => return Err(ReadError::AuthRefused(message)),
                        429 => {
                            if let Some(wait) = retry_after {
                                self.pause_all(wait);
                            }
                            message
                        }
                        400..=499 => return Err(ReadError::Failed(message)),
                        _ => message,
                    }
                }
                Err(e) => describe(&e),
            };
            if attempt >= max_attempts {
                return Err(ReadError::Failed(format!(
                    "the GET failed {attempt} times: {failure}"
                )));
            }
            tracing::debug!(attempt, "GET failed ({failure}); trying again");
            tokio::time::sleep(Duration::from_millis(100u64 << attempt.min(6))).await;
        }
    }
}

/// What replaces the token wherever an answer echoes it (docs/loanpro.md).
pub const REDACTED: &str = "[redacted]";

/// Replaces the token in what LoanPro (or a gateway in front of it) answers, before any of it
/// becomes a message that is logged, stored in the ledger, written to a report or printed:
/// the token as sent, and as a JSON string would escape it.
#[derive(Clone)]
struct Redact {
    forms: Vec<String>,
}

impl Redact {
    fn new(token: &str) -> Self {
        let mut forms = Vec::new();
        if !token.is_empty() {
            forms.push(token.to_string());
            let escaped = serde_json::to_string(token).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != token {
                forms.push(escaped.to_string());
            }
        }
        Redact { forms }
    }

    fn text(&self, text: String) -> String {
        self.forms.iter().fold(text, |text, form| {
            if text.contains(form.as_str()) {
                text.replace(form.as_str(), REDACTED)
            } else {
                text
            }
        })
    }

    /// A body, before a message is cut from it. Bytes that are not UTF-8 are compared as they
    /// are, so an echo inside a binary body goes too.
    fn bytes(&self, body: Vec<u8>) -> Vec<u8> {
        let mut body = body;
        for form in &self.forms {
            let form = form.as_bytes();
            if body.windows(form.len()).any(|w| w == form) {
                let mut out = Vec::with_capacity(body.len());
                let mut rest = body.as_slice();
                while let Some(at) = rest.windows(form.len()).position(|w| w == form) {
                    out.extend_from_slice(&rest[..at]);
                    out.extend_from_slice(REDACTED.as_bytes());
                    rest = &rest[at + form.len()..];
                }
                out.extend_from_slice(rest);
                body = out;
            }
        }
        body
    }

    fn answer(&self, mut answer: Answer) -> Answer {
        if let Answer::Refused { message, .. }
        | Answer::AuthRefused { message, .. }
        | Answer::Redirected { message, .. }
        | Answer::RetryLater { message, .. }
        | Answer::Unknown { message, .. } = &mut answer
        {
            *message = self.text(std::mem::take(message));
        }
        answer
    }

    fn read_error(&self, e: ReadError) -> ReadError {
        match e {
            ReadError::AuthRefused(m) => ReadError::AuthRefused(self.text(m)),
            ReadError::Redirected(m) => ReadError::Redirected(self.text(m)),
            ReadError::Failed(m) => ReadError::Failed(self.text(m)),
        }
    }
}

/// The `results` array of a collection's `d`.
fn results<'a>(
    d: &'a mut serde_json::Value,
    url: &str,
) -> Result<&'a mut Vec<serde_json::Value>, ReadError> {
    d.get_mut("results")
        .and_then(|r| r.as_array_mut())
        .ok_or_else(|| ReadError::Failed(format!("the answer to {url} has no `d.results` list")))
}

/// The most pages of one collection read when LoanPro gives no total: 500,000 payments of one
/// loan, far beyond any real loan. Also the ceiling with a total, which a broken server can
/// make as large as it likes.
pub const MAX_PAGES: u64 = 10_000;

/// Keeps paging finite (docs/loanpro.md): a page that repeats the previous one (`$skip` ignored),
/// more items than `summary.total`, or more than [`MAX_PAGES`] pages end the reading with an
/// error, so that what was being looked for is left uncertain rather than guessed, and the run
/// goes on to release the ledger's lock.
#[derive(Default)]
struct PageGuard {
    previous: Vec<serde_json::Value>,
    pages: u64,
}

impl PageGuard {
    /// Checks a non-empty page read from `url`, after which `read` items have been read in all.
    fn check(
        &mut self,
        page: Vec<serde_json::Value>,
        read: usize,
        total: Option<u64>,
        url: &str,
    ) -> Result<(), ReadError> {
        self.pages += 1;
        let fail = |why: String| {
            Err(ReadError::Failed(format!(
                "LoanPro's pages do not end ({why}, at {url}); reading stopped after {} pages",
                self.pages
            )))
        };
        if page == self.previous {
            return fail("a page repeats the previous one: is `$skip` ignored?".into());
        }
        if let Some(total) = total
            && read as u64 > total
        {
            return fail(format!("{read} items read of a `summary.total` of {total}"));
        }
        if self.pages > MAX_PAGES {
            return fail(format!("more than {MAX_PAGES} pages"));
        }
        self.previous = page;
        Ok(())
    }
}

/// A request that got no HTTP answer. Only a refused connection proves nothing was sent.
fn transport_error(e: &reqwest::Error) -> Answer {
    if e.is_connect() {
        Answer::RetryLater {
            http_status: None,
            retry_after: None,
            message: format!("cannot connect to LoanPro: {}", describe(e)),
        }
    } else if e.is_timeout() {
        Answer::Unknown {
            http_status: None,
            message: "no answer before the timeout (loanpro.timeout_secs)".into(),
        }
    } else {
        Answer::Unknown {
            http_status: None,
            message: format!(
                "the connection failed after the request was sent: {}",
                describe(e)
            ),
        }
    }
}

/// The error and its causes: reqwest's own text rarely says what actually happened.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A reqwest client builder with rustls on *ring* as its crypto provider, installed once per
/// process (reqwest is built without a provider of its own: see Cargo.toml).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    // An Err means a provider is installed already, which serves as well.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a row becomes, without the details; for the table below.
    #[derive(Debug, PartialEq, Eq)]
    enum Kind {
        Posted,
        Refused,
        AuthRefused,
        Redirected,
        RetryLater,
        Unknown,
    }

    fn kind(a: &Answer) -> Kind {
        match a {
            Answer::Posted { .. } => Kind::Posted,
            Answer::Refused { .. } => Kind::Refused,
            Answer::AuthRefused { .. } => Kind::AuthRefused,
            Answer::Redirected { .. } => Kind::Redirected,
            Answer::RetryLater { .. } => Kind::RetryLater,
            Answer::Unknown { .. } => Kind::Unknown,
        }
    }

    fn message(a: &Answer) -> &str {
        match a {
            Answer::Posted { .. } => "",
            Answer::Refused { message, .. }
            | Answer::AuthRefused { message, .. }
            | Answer::Redirected { message, .. }
            | Answer::RetryLater { message, .. }
            | Answer::Unknown { message, .. } => message,
        }
    }

    const POSTED: &[u8] = br#"{"d":{"id":5,"Payments":{"results":[{"id":77}]}}}"#;
    const ERROR: &[u8] =
        br#"{"error":{"message":{"lang":"en-US","value":"extra does not match"}}}"#;
    const D_ERROR: &[u8] = br#"{"d":{"error":{"message":{"value":"Invalid paymentMethodId 9"}}}}"#;
    const D_ERROR_STRING: &[u8] = br#"{"d":{"error":{"message":"nope"}}}"#;
    const CODE: &[u8] = br#"{"code":409,"message":"Loan 99 not found","context":{}}"#;
    const HTML: &[u8] = b"<html><body>Down for maintenance</body></html>";

    /// Every answer by status and body: (status, body, what it means, text in its message).
    #[test]
    fn answers_by_status_and_body() {
        let table: &[(u16, Body, Kind, &str)] = &[
            // LoanPro's yes.
            (200, Body::Complete(POSTED), Kind::Posted, ""),
            // LoanPro's no, in each of its shapes, with a 200 as with a 4xx.
            (
                200,
                Body::Complete(ERROR),
                Kind::Refused,
                "extra does not match",
            ),
            (
                200,
                Body::Complete(D_ERROR),
                Kind::Refused,
                "Invalid paymentMethodId 9",
            ),
            (200, Body::Complete(D_ERROR_STRING), Kind::Refused, "nope"),
            (
                200,
                Body::Complete(CODE),
                Kind::Refused,
                "Loan 99 not found",
            ),
            (
                409,
                Body::Complete(D_ERROR),
                Kind::Refused,
                "Invalid paymentMethodId 9",
            ),
            (
                409,
                Body::Complete(CODE),
                Kind::Refused,
                "Loan 99 not found",
            ),
            (
                400,
                Body::Complete(ERROR),
                Kind::Refused,
                "extra does not match",
            ),
            // A 2xx that is not LoanPro's answer: a proxy's, perhaps after the payment was logged.
            (
                200,
                Body::Complete(HTML),
                Kind::Unknown,
                "HTTP 200: <html><body>Down",
            ),
            (
                200,
                Body::Complete(b""),
                Kind::Unknown,
                "HTTP 200 with an empty body",
            ),
            (200, Body::Complete(b"  \n"), Kind::Unknown, "empty body"),
            (
                200,
                Body::Complete(br#"{"status":"OK"}"#),
                Kind::Unknown,
                "no `d`",
            ),
            (
                200,
                Body::Complete(br#"{"message":"hi"}"#),
                Kind::Unknown,
                "not LoanPro's",
            ),
            (
                200,
                Body::Complete(br#"{"d":null}"#),
                Kind::Unknown,
                "no `d`",
            ),
            (
                200,
                Body::Complete(br#"{"d":"ok"}"#),
                Kind::Unknown,
                "no `d`",
            ),
            (
                200,
                Body::Complete(br#"{"d":{"error":null}}"#),
                Kind::Unknown,
                "",
            ),
            (
                200,
                Body::Complete(br#"{"error":"boom"}"#),
                Kind::Unknown,
                "",
            ),
            (200, Body::Complete(b"[1,2]"), Kind::Unknown, ""),
            (
                200,
                Body::Complete(br#"{"d":{"id":5}"#),
                Kind::Unknown,
                "it may have been logged",
            ),
            (201, Body::Complete(POSTED), Kind::Unknown, ""),
            (
                204,
                Body::Complete(b""),
                Kind::Unknown,
                "HTTP 204 with an empty body",
            ),
            (
                202,
                Body::Complete(ERROR),
                Kind::Refused,
                "extra does not match",
            ),
            // Past the bound: not read, not trusted, whatever it began with.
            (200, Body::TooLarge, Kind::Unknown, "more than 1 MiB"),
            (409, Body::TooLarge, Kind::Unknown, "more than 1 MiB"),
            // Credentials, rate, server errors.
            (
                401,
                Body::Complete(b"{}"),
                Kind::AuthRefused,
                "HTTP 401: {}",
            ),
            (
                403,
                Body::Complete(b""),
                Kind::AuthRefused,
                "HTTP 403 with an empty body",
            ),
            (
                429,
                Body::Complete(b""),
                Kind::RetryLater,
                "HTTP 429 with an empty body",
            ),
            (
                500,
                Body::Complete(b"oops"),
                Kind::Unknown,
                "HTTP 500: oops",
            ),
            // LoanPro's own timeout body is an error shape, but a 500: it may have been logged.
            (
                500,
                Body::Complete(ERROR),
                Kind::Unknown,
                "extra does not match",
            ),
            (502, Body::Complete(HTML), Kind::Unknown, ""),
            (504, Body::Complete(b""), Kind::Unknown, ""),
            // Redirects, whatever the body.
            (301, Body::Complete(HTML), Kind::Redirected, "HTTP 301"),
            (302, Body::Complete(b""), Kind::Redirected, "HTTP 302"),
            (303, Body::Complete(POSTED), Kind::Redirected, "HTTP 303"),
            (307, Body::Complete(b""), Kind::Redirected, "HTTP 307"),
            (308, Body::TooLarge, Kind::Redirected, "HTTP 308"),
        ];
        for (status, body, want, text) in table {
            let a = classify(*status, None, Some("https://elsewhere.example/x"), *body);
            assert_eq!(kind(&a), *want, "{status} {body:?}: {a:?}");
            assert!(message(&a).contains(text), "{status} {body:?}: {a:?}");
        }
    }

    #[test]
    fn paging_ends_on_a_repeated_page_past_the_total_or_past_the_ceiling() {
        let page = |i: u64| vec![serde_json::json!({"id": i, "info": "x"})];
        let failed = |r: Result<(), ReadError>, why: &str| match r {
            Err(ReadError::Failed(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{other:?}"),
        };
        let mut g = PageGuard::default();
        g.check(page(1), 1, None, "u").unwrap();
        failed(g.check(page(1), 2, None, "u"), "repeats the previous one");

        let mut g = PageGuard::default();
        g.check(page(1), 1, Some(2), "u").unwrap();
        g.check(page(2), 2, Some(2), "u").unwrap();
        failed(
            g.check(page(3), 3, Some(2), "u"),
            "3 items read of a `summary.total` of 2",
        );

        let mut g = PageGuard::default();
        for i in 1..=MAX_PAGES {
            g.check(page(i), i as usize, None, "u").unwrap();
        }
        failed(g.check(page(0), 0, None, "u"), "more than 10000 pages");
    }

    #[test]
    fn an_echoed_token_is_redacted_even_where_a_message_is_cut() {
        let r = Redact::new("s3cr\"et/tok");
        let body = format!("{}Authorization: Bearer s3cr\\\"et/tok", "x".repeat(190));
        // The body is cut to 200 characters in its message: redacted first, no prefix is left.
        let body = r.bytes(body.into_bytes());
        let cut = error_message(None, &body, 502);
        assert!(!cut.contains("s3cr"), "{cut}");
        let a = r.answer(Answer::Refused {
            http_status: 400,
            message: "bad header: Bearer s3cr\"et/tok, again s3cr\"et/tok".into(),
        });
        assert_eq!(
            message(&a),
            "bad header: Bearer [redacted], again [redacted]"
        );
        assert_eq!(Redact::new("").text("anything".into()), "anything");
    }

    #[test]
    fn posted_carries_the_payment_id() {
        assert_eq!(
            classify(200, None, None, Body::Complete(POSTED)),
            Answer::Posted {
                http_status: 200,
                payment_id: Some(77)
            }
        );
    }

    #[test]
    fn retry_after_is_kept() {
        assert_eq!(
            classify(429, Some("2"), None, Body::Complete(b"")),
            Answer::RetryLater {
                http_status: Some(429),
                retry_after: Some(Duration::from_secs(2)),
                message: "HTTP 429 with an empty body".into()
            }
        );
    }

    #[test]
    fn a_redirect_names_its_location_and_the_setting() {
        let a = classify(
            307,
            None,
            Some("http://127.0.0.1:9/api/odata.svc/Loans(1)"),
            Body::Complete(b""),
        );
        let m = message(&a);
        assert!(m.contains("HTTP 307"), "{m}");
        assert!(
            m.contains("http://127.0.0.1:9/api/odata.svc/Loans(1)"),
            "{m}"
        );
        assert!(m.contains("`loanpro.base_url`"), "{m}");
        let a = classify(302, None, None, Body::Complete(b""));
        assert!(message(&a).contains("without a Location header"), "{a:?}");
    }

    #[test]
    fn loanpro_error_shapes() {
        let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(loanpro_error(&parse(ERROR)), Some("extra does not match"));
        assert_eq!(
            loanpro_error(&parse(D_ERROR)),
            Some("Invalid paymentMethodId 9")
        );
        assert_eq!(loanpro_error(&parse(D_ERROR_STRING)), Some("nope"));
        assert_eq!(loanpro_error(&parse(CODE)), Some("Loan 99 not found"));
        for other in [
            &br#"{"message":"Internal server error"}"#[..],
            br#"{"status":"OK"}"#,
            br#"{"error":"boom"}"#,
            br#"{"code":"E1","message":"x"}"#,
            POSTED,
        ] {
            assert_eq!(loanpro_error(&parse(other)), None, "{other:?}");
        }
    }
}
