//! The LoanPro API client: requests, one shared rate limiter, and the classification of answers.
//!
//! Classifying an answer ([`classify`]) is kept apart from deciding what to do about it (the
//! dispatcher), so the rules of SPEC §4 can be tested on their own.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use crate::payment::PaymentBody;
use crate::settings::Token;

/// What LoanPro's answer to a PUT means for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with `d`: the payment is logged.
    Posted {
        http_status: u16,
        payment_id: Option<u64>,
    },
    /// LoanPro said no (4xx, 409, or 200 without `d`): not logged, and sending again won't help.
    Refused { http_status: u16, message: String },
    /// 401/403: the credentials are wrong; the whole run must stop.
    AuthRefused { http_status: u16, message: String },
    /// Certainly not logged, worth trying again (429, connection refused).
    RetryLater {
        http_status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Sent, but no trustworthy answer (5xx, timeout, reset): it may have been logged.
    Unknown {
        http_status: Option<u16>,
        message: String,
    },
}

/// Classifies an HTTP answer to a PUT of a payment.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Answer {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = || error_message(json.as_ref(), body, status);
    match status {
        200 => match json.as_ref().and_then(|j| j.get("d")) {
            Some(d) if d.is_object() && d.get("error").is_none() => Answer::Posted {
                http_status: status,
                payment_id: d
                    .pointer("/Payments/results/0/id")
                    .and_then(serde_json::Value::as_u64),
            },
            // LoanPro has answered 200 with an error body.
            _ => Answer::Refused {
                http_status: status,
                message: message(),
            },
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
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Arc<Client>, String> {
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
        let http = reqwest::Client::builder()
            .default_headers(headers)
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
            limiter: RateLimiter::direct(quota),
            paused_until: Mutex::new(None),
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

    /// Logs one payment: `PUT Loans(id)`.
    pub async fn put_payment(&self, loan_id: i64, body: &PaymentBody<'_>) -> Answer {
        self.ready().await;
        let url = format!("{}/Loans({loan_id})", self.odata);
        let body = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(e) => {
                return Answer::Refused {
                    http_status: 0,
                    message: format!("cannot encode the payment: {e}"),
                };
            }
        };
        let sent = self
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after_header(&resp);
                match resp.bytes().await {
                    Ok(body) => classify(status, retry_after.as_deref(), &body),
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

/// A payment as LoanPro lists it: enough to find a key again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPayment {
    pub id: Option<u64>,
    pub info: String,
}

/// Why a read-back failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// 401/403: the credentials are wrong; the run must stop.
    AuthRefused(String),
    /// Anything else, after the retries a GET deserves.
    Failed(String),
}

/// The page size LoanPro uses (and caps `$top` at).
const PAGE: usize = 50;

impl Client {
    /// Every payment of a loan: `GET Loans(id)/Payments`, page after page until `total`.
    pub async fn loan_payments(
        &self,
        loan_id: i64,
        max_attempts: u32,
    ) -> Result<Vec<LoggedPayment>, ReadError> {
        let mut all = Vec::new();
        loop {
            let url = format!(
                "{}/Loans({loan_id})/Payments?$top={PAGE}&$skip={}&$orderby=id",
                self.odata,
                all.len()
            );
            let d = self.get_d(&url, max_attempts).await?;
            let page = results(&d, &url)?;
            let got = page.len();
            all.extend(page.iter().map(|p| {
                LoggedPayment {
                    id: p.get("id").and_then(serde_json::Value::as_u64),
                    info: p
                        .get("info")
                        .and_then(|i| i.as_str())
                        .unwrap_or("")
                        .to_string(),
                }
            }));
            // Page until LoanPro's own total, or until it has nothing more to give.
            let total = d
                .pointer("/summary/total")
                .and_then(serde_json::Value::as_u64);
            if got == 0 || total.is_some_and(|t| all.len() as u64 >= t) {
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
        let d = self.get_d(&url, max_attempts).await?;
        let found = results(&d, &url)?;
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

    /// GETs `url` and returns its `d`. GETs are safe to repeat, so transient failures (429,
    /// 5xx, timeouts, resets) are retried up to `max_attempts`.
    async fn get_d(&self, url: &str, max_attempts: u32) -> Result<serde_json::Value, ReadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.ready().await;
            let failure = match self.http.get(url).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = retry_after_header(&resp)
                        .as_deref()
                        .and_then(parse_retry_after);
                    let body = resp.bytes().await.unwrap_or_default();
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

/// The `results` array of a collection's `d`.
fn results<'a>(
    d: &'a serde_json::Value,
    url: &str,
) -> Result<&'a Vec<serde_json::Value>, ReadError> {
    d.get("results")
        .and_then(|r| r.as_array())
        .ok_or_else(|| ReadError::Failed(format!("the answer to {url} has no `d.results` list")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_needs_200_with_d() {
        let a = classify(
            200,
            None,
            br#"{"d":{"id":5,"Payments":{"results":[{"id":77}]}}}"#,
        );
        assert_eq!(
            a,
            Answer::Posted {
                http_status: 200,
                payment_id: Some(77)
            }
        );
        let a = classify(
            200,
            None,
            br#"{"error":{"message":{"lang":"en-US","value":"extra does not match"}}}"#,
        );
        assert_eq!(
            a,
            Answer::Refused {
                http_status: 200,
                message: "extra does not match".into()
            }
        );
        let a = classify(200, None, b"<html>maintenance</html>");
        assert!(
            matches!(a, Answer::Refused { ref message, .. } if message == "HTTP 200: <html>maintenance</html>")
        );
    }

    #[test]
    fn both_error_shapes_give_the_message() {
        let a = classify(
            409,
            None,
            br#"{"d":{"error":{"message":{"value":"Invalid paymentMethodId 9"}}}}"#,
        );
        assert_eq!(
            a,
            Answer::Refused {
                http_status: 409,
                message: "Invalid paymentMethodId 9".into()
            }
        );
        let a = classify(
            409,
            None,
            br#"{"code":409,"message":"Loan 99 not found","context":{}}"#,
        );
        assert_eq!(
            a,
            Answer::Refused {
                http_status: 409,
                message: "Loan 99 not found".into()
            }
        );
        let a = classify(200, None, br#"{"d":{"error":{"message":"nope"}}}"#);
        assert_eq!(
            a,
            Answer::Refused {
                http_status: 200,
                message: "nope".into()
            }
        );
    }

    #[test]
    fn auth_retry_and_unknown() {
        assert!(matches!(
            classify(401, None, b"{}"),
            Answer::AuthRefused {
                http_status: 401,
                ..
            }
        ));
        assert!(matches!(
            classify(403, None, b""),
            Answer::AuthRefused {
                http_status: 403,
                ..
            }
        ));
        assert_eq!(
            classify(429, Some("2"), b""),
            Answer::RetryLater {
                http_status: Some(429),
                retry_after: Some(Duration::from_secs(2)),
                message: "HTTP 429 with an empty body".into()
            }
        );
        assert!(matches!(
            classify(500, None, b"oops"),
            Answer::Unknown {
                http_status: Some(500),
                ..
            }
        ));
        assert!(matches!(classify(504, None, b""), Answer::Unknown { .. }));
    }
}
