//! The HTTP surface: the OData routes LoanPro exposes to payimport, and the test-only
//! `/__sandbox/*` endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;
use tokio::sync::oneshot;

use super::faults::{Fault, HUGE_BODY, HUGE_TOTAL, Paging};
use super::odata::{self, PageQuery, error_body, error_response, json_response};
use super::payload;
use super::server::drop_connection;
use super::state::{Kind, Refusal, Shared};
use super::{API_PREFIX, SandboxPayment};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__sandbox/payments", get(all_payments))
        .route("/__sandbox/stats", get(stats))
        .route(&format!("{API_PREFIX}/odata.svc/{{*path}}"), any(odata))
        .fallback(not_found)
        .with_state(shared)
}

/// What an OData path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    Loans,
    Loan(u64),
    Payments(u64),
    LoanSetup(u64),
    /// `Loans(id)/VoidPayment(pid)` (docs/returns.md).
    VoidPayment(u64, u64),
    /// `collections(payment.reverse)/items`.
    ReverseReasons,
}

impl Resource {
    /// `Loans`, `Loans(7)` or `Loans(id=7)`, optionally followed by `/Payments` or `/LoanSetup`.
    fn parse(path: &str) -> Option<Resource> {
        if path == "collections(payment.reverse)/items" {
            return Some(Resource::ReverseReasons);
        }
        let mut parts = path.split('/');
        let entity = parts.next()?;
        let sub = parts.next();
        if parts.next().is_some() {
            return None;
        }
        if entity == "Loans" {
            return sub.is_none().then_some(Resource::Loans);
        }
        let key = entity.strip_prefix("Loans(")?.strip_suffix(')')?;
        let id: u64 = key.strip_prefix("id=").unwrap_or(key).parse().ok()?;
        match sub {
            None => Some(Resource::Loan(id)),
            Some("Payments") => Some(Resource::Payments(id)),
            Some("LoanSetup") => Some(Resource::LoanSetup(id)),
            Some(sub) => {
                let pid = sub.strip_prefix("VoidPayment(")?.strip_suffix(')')?;
                Some(Resource::VoidPayment(id, pid.parse().ok()?))
            }
        }
    }
}

/// Every API request: count, rate limit, credentials, then the route.
async fn odata(
    State(s): State<Arc<Shared>>,
    method: Method,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = match method {
        Method::PUT => Kind::Put,
        Method::GET => Kind::Get,
        Method::POST => Kind::Post,
        _ => Kind::Other,
    };
    match s.admit(kind, &headers) {
        Ok(()) => {}
        Err(Refusal::RateLimited(secs)) => return odata::too_many_requests(secs),
        Err(Refusal::Unauthorized) => return odata::unauthorized(),
    }
    let Some(resource) = Resource::parse(&path) else {
        return not_found(uri).await;
    };
    match (kind, resource) {
        (Kind::Put, Resource::Loan(loan_id)) => {
            put_payment(&s, loan_id, &uri, &headers, &body).await
        }
        (Kind::Post, Resource::VoidPayment(loan_id, payment_id)) => {
            void_payment(&s, loan_id, payment_id, &uri, &headers, &body).await
        }
        (Kind::Get, resource) => match s.get_fault() {
            Some(Fault::GetHugeBody) => {
                s.note_fault(Fault::GetHugeBody);
                padded(get_resource(&s, resource, &uri)).await
            }
            Some(fault) => {
                s.note_fault(fault);
                fault_response(&s, fault, &uri, &headers)
            }
            None => get_resource(&s, resource, &uri),
        },
        _ => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method {method} is not allowed on {path}"),
        ),
    }
}

/// `PUT Loans(id)`: faults that strike before the commit, then strict validation, then the
/// commit and any fault that strikes after it.
async fn put_payment(
    s: &Arc<Shared>,
    loan_id: u64,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let fault = s.put_fault(payload::lenient_info(body).as_deref());
    if let Some(f) = fault.filter(|f| f.strikes_before_commit()) {
        s.note_fault(f);
        return fault_response(s, f, uri, headers);
    }
    let value = match payload::parse_json(headers, body) {
        Ok(value) => value,
        Err(e) => return e.into_response(),
    };
    if !s.loan_exists(loan_id) {
        return odata::loan_not_found(loan_id);
    }
    let p = match payload::validate(&value, &s.payment_methods, &s.payment_types) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(message) = payload::extra_mismatch(&p.extra, s.is_periods_loan(loan_id)) {
        // Yes, 200: LoanPro reports this one with a success status and an error body.
        return json_response(StatusCode::OK, error_body(&message));
    }
    let payment = SandboxPayment {
        id: 0,
        loan_id,
        amount: p.amount,
        date: p.date,
        info: p.info,
        payment_method_id: p.payment_method_id,
        payment_type_id: p.payment_type_id,
        extra: p.extra,
        reversal: None,
    };
    // From here to `record` nothing awaits, so a client hanging up cannot stop the commit:
    // hyper drops this future at an await point, never between two statements.
    match fault {
        Some(
            f @ (Fault::ErrorAfterCommit
            | Fault::HtmlAfterCommit
            | Fault::EmptyAfterCommit
            | Fault::NoDAfterCommit),
        ) => {
            s.record(payment);
            s.note_fault(f);
            fault_response(s, f, uri, headers)
        }
        Some(Fault::HugeBody) => {
            let recorded = s.record(payment);
            s.note_fault(Fault::HugeBody);
            padded(put_success(s, &recorded)).await
        }
        Some(Fault::DropAfterCommit) => {
            s.record(payment);
            s.note_fault(Fault::DropAfterCommit);
            drop_connection()
        }
        Some(Fault::SlowCommit) => {
            s.note_fault(Fault::SlowCommit);
            slow_commit(s, payment).await
        }
        _ => {
            let recorded = s.record(payment);
            put_success(s, &recorded)
        }
    }
}

/// `collections(payment.reverse)/items`: the tenant's reverse reasons.
fn reverse_reasons(s: &Shared) -> Response {
    let results: Vec<serde_json::Value> = s
        .reverse_reasons
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let title = value.rsplit('.').next().unwrap_or(value);
            json!({"id": i + 1, "collectionId": "payment.reverse", "value": value, "title": title})
        })
        .collect();
    let total = results.len();
    json_response(StatusCode::OK, odata::collection(results, 0, total, total))
}

/// `POST Loans(id)/VoidPayment(pid)` (docs/returns.md): the PUT's faults before the commit, strict
/// validation of the body, the reversal (refused for an unknown reason or a second reversal,
/// with an error body), then the faults that strike after a commit.
async fn void_payment(
    s: &Arc<Shared>,
    loan_id: u64,
    payment_id: u64,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // First attempts are told apart by the payment reversed.
    let fault = s.put_fault(Some(&format!("VoidPayment({loan_id},{payment_id})")));
    if let Some(f) = fault.filter(|f| f.strikes_before_commit()) {
        s.note_fault(f);
        return fault_response(s, f, uri, headers);
    }
    let value = match payload::parse_json(headers, body) {
        Ok(value) => value,
        Err(e) => return e.into_response(),
    };
    if !s.loan_exists(loan_id) {
        return odata::loan_not_found(loan_id);
    }
    let reversal = match payload::validate_void(&value, &s.reverse_reasons) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let commit = || s.reverse(loan_id, payment_id, reversal.clone());
    let refused = |message: String| json_response(StatusCode::CONFLICT, error_body(&message));
    // Nothing awaits between here and the commit, as in `put_payment`.
    match fault {
        Some(
            f @ (Fault::ErrorAfterCommit
            | Fault::HtmlAfterCommit
            | Fault::EmptyAfterCommit
            | Fault::NoDAfterCommit
            | Fault::SlowCommit),
        ) => match commit() {
            Ok(_) => {
                s.note_fault(f);
                fault_response(s, f, uri, headers)
            }
            Err(message) => refused(message),
        },
        Some(Fault::HugeBody) => match commit() {
            Ok(p) => {
                s.note_fault(Fault::HugeBody);
                padded(json_response(
                    StatusCode::OK,
                    json!({"d": odata::payment_json(&s.base_url, &p)}),
                ))
                .await
            }
            Err(message) => refused(message),
        },
        Some(Fault::DropAfterCommit) => match commit() {
            Ok(_) => {
                s.note_fault(Fault::DropAfterCommit);
                drop_connection()
            }
            Err(message) => refused(message),
        },
        _ => match commit() {
            Ok(p) => json_response(
                StatusCode::OK,
                json!({"d": odata::payment_json(&s.base_url, &p)}),
            ),
            Err(message) => refused(message),
        },
    }
}

/// Waits, records and answers. The wait and the record run in their own task, so the payment
/// is recorded even when the client times out and hyper drops this handler.
async fn slow_commit(s: &Arc<Shared>, payment: SandboxPayment) -> Response {
    let delay = Duration::from_secs_f64(s.slow_secs());
    let (tx, rx) = oneshot::channel();
    let shared = s.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = tx.send(shared.record(payment));
    });
    match rx.await {
        Ok(recorded) => put_success(s, &recorded),
        // Only if the runtime is shutting down under us.
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

fn put_success(s: &Shared, p: &SandboxPayment) -> Response {
    let mut loan = odata::loan_json(&s.base_url, p.loan_id);
    loan["Payments"] = json!({"results": [odata::payment_json(&s.base_url, p)]});
    json_response(StatusCode::OK, json!({"d": loan}))
}

/// The answer a fault gives in place of the route's own; `uri` is the request's, for redirects.
fn fault_response(s: &Shared, fault: Fault, uri: &Uri, headers: &HeaderMap) -> Response {
    let authorization = || {
        headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    match fault {
        Fault::TooManyRequests => odata::too_many_requests(s.retry_after_secs()),
        Fault::DropBeforeCommit | Fault::DropAfterCommit => drop_connection(),
        // What LoanPro answers when its own processing times out, after it may have committed.
        Fault::ErrorAfterCommit | Fault::SlowCommit => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Request timeout: the operation took too long to complete",
        ),
        Fault::ErrorBeforeCommit | Fault::GetFailure => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        // A load balancer's maintenance page, with a success status.
        Fault::HtmlBeforeCommit | Fault::HtmlAfterCommit => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            MAINTENANCE_PAGE,
        )
            .into_response(),
        Fault::EmptyBeforeCommit | Fault::EmptyAfterCommit => StatusCode::OK.into_response(),
        // JSON, but the proxy's own: no `d`, and neither of LoanPro's error shapes.
        Fault::NoDBeforeCommit | Fault::NoDAfterCommit => json_response(
            StatusCode::OK,
            json!({"status": "OK", "requestId": "lb-7f3a9c"}),
        ),
        Fault::Redirect => redirect(s, StatusCode::TEMPORARY_REDIRECT, uri),
        Fault::GetRedirect => redirect(s, StatusCode::MOVED_PERMANENTLY, uri),
        // Padding needs the route's real answer, which only the callers make.
        Fault::HugeBody | Fault::GetHugeBody => unreachable!("padded by the caller"),
        Fault::EchoToken => error_response(
            StatusCode::BAD_REQUEST,
            &format!(
                "Request rejected: header Authorization: {} is not valid for this operation",
                authorization()
            ),
        ),
        Fault::GetEchoToken => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "502 Bad Gateway: upstream closed the connection. Request: GET {uri}; Authorization: {}; Autopal-Instance-Id: {}",
                authorization(),
                headers
                    .get("Autopal-Instance-Id")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default()
            ),
        )
            .into_response(),
    }
}

const MAINTENANCE_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n<body><h1>Down for maintenance</h1><p>We will be back shortly.</p></body></html>\n";

/// A redirect to the same path and query under `redirect_to`, as a web server in front of a
/// moved service sends it.
fn redirect(s: &Shared, status: StatusCode, uri: &Uri) -> Response {
    let below = uri.path().strip_prefix(API_PREFIX).unwrap_or(uri.path());
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("{}{below}{query}", s.redirect_to);
    let reason = status.canonical_reason().unwrap_or("Redirect");
    let page = format!(
        "<html><head><title>{} {reason}</title></head><body><h1>{} {reason}</h1></body></html>\n",
        status.as_u16(),
        status.as_u16()
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
            response
        }
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("sandbox: redirect_to gives an invalid Location {location:?}"),
        ),
    }
}

/// The same answer followed by whitespace up to [`HUGE_BODY`] bytes: still valid JSON with a
/// valid `d`, so only a client that bounds what it reads notices.
async fn padded(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let mut bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b.to_vec(),
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("sandbox: cannot pad the answer: {e}"),
            );
        }
    };
    bytes.resize(bytes.len().max(HUGE_BODY), b' ');
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn get_resource(s: &Shared, resource: Resource, uri: &Uri) -> Response {
    let loan_id = match resource {
        Resource::Loans => return list_loans(s, uri),
        Resource::ReverseReasons => return reverse_reasons(s),
        Resource::VoidPayment(..) => {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method GET is not allowed on VoidPayment",
            );
        }
        Resource::Loan(id) | Resource::Payments(id) | Resource::LoanSetup(id) => id,
    };
    if !s.loan_exists(loan_id) {
        return odata::loan_not_found(loan_id);
    }
    match resource {
        Resource::Loan(_) => json_response(
            StatusCode::OK,
            json!({"d": odata::loan_json(&s.base_url, loan_id)}),
        ),
        Resource::LoanSetup(_) => {
            let setup = odata::loan_setup_json(&s.base_url, loan_id, s.is_periods_loan(loan_id));
            json_response(StatusCode::OK, json!({"d": setup}))
        }
        Resource::Payments(_) => list_payments(s, loan_id, uri),
        Resource::Loans | Resource::ReverseReasons | Resource::VoidPayment(..) => {
            unreachable!("handled above")
        }
    }
}

/// The paging options, or the message of a 400.
fn page_query(s: &Shared, uri: &Uri) -> Result<PageQuery, String> {
    let Query(params) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| format!("Invalid query string: {e}"))?;
    PageQuery::parse(&params, s.page_size)
}

/// `GET Loans(id)/Payments`: oldest first, paged, optionally `substringof('..', info)`.
fn list_payments(s: &Shared, loan_id: u64, uri: &Uri) -> Response {
    let query = match page_query(s, uri) {
        Ok(q) => q,
        Err(m) => return error_response(StatusCode::BAD_REQUEST, &m),
    };
    let needle = match query
        .filter
        .as_deref()
        .map(odata::parse_info_filter)
        .transpose()
    {
        Ok(needle) => needle.map(|n| n.to_lowercase()),
        Err(m) => return error_response(StatusCode::BAD_REQUEST, &m),
    };
    // Case-insensitive, like the MySQL collation behind LoanPro: a client must check what it gets.
    let matching = s.loan_payments(loan_id, |p| {
        needle
            .as_deref()
            .is_none_or(|n| p.info.to_lowercase().contains(n))
    });
    let total = matching.len();
    let paging = s.paging();
    let query = match paging {
        Paging::Honest => query,
        // The broken server's: every request gets the first page.
        Paging::IgnoreSkip | Paging::IgnoreSkipNoTotal | Paging::IgnoreSkipHugeTotal => {
            PageQuery { skip: 0, ..query }
        }
    };
    let results = query.page(matching.iter().map(|p| odata::payment_json(&s.base_url, p)));
    let mut body = odata::collection(results, query.skip, query.top, total);
    let summary = &mut body["d"]["summary"];
    match paging {
        Paging::Honest | Paging::IgnoreSkip => {}
        Paging::IgnoreSkipNoTotal => {
            summary.as_object_mut().map(|o| o.remove("total"));
        }
        Paging::IgnoreSkipHugeTotal => summary["total"] = json!(HUGE_TOTAL),
    }
    json_response(StatusCode::OK, body)
}

/// `GET Loans`, optionally `$filter=displayId eq 'LN000123'`.
fn list_loans(s: &Shared, uri: &Uri) -> Response {
    let query = match page_query(s, uri) {
        Ok(q) => q,
        Err(m) => return error_response(StatusCode::BAD_REQUEST, &m),
    };
    let ids: Vec<u64> = match query.filter.as_deref() {
        None => {
            // Computed, not iterated: a sandbox may hold millions of loans.
            let first = (query.skip as u64).saturating_add(1);
            let last = (query.skip as u64)
                .saturating_add(query.top as u64)
                .min(s.loan_count());
            let results = (first..=last)
                .map(|id| odata::loan_json(&s.base_url, id))
                .collect();
            let body = odata::collection(results, query.skip, query.top, s.loan_count() as usize);
            return json_response(StatusCode::OK, body);
        }
        Some(filter) => match odata::parse_display_id_filter(filter) {
            Ok(wanted) => loan_by_display_id(s, &wanted).into_iter().collect(),
            Err(m) => return error_response(StatusCode::BAD_REQUEST, &m),
        },
    };
    let total = ids.len();
    let results = query.page(ids.into_iter().map(|id| odata::loan_json(&s.base_url, id)));
    json_response(
        StatusCode::OK,
        odata::collection(results, query.skip, query.top, total),
    )
}

/// The loan whose display id is `wanted` (compared case-insensitively, like MySQL would).
fn loan_by_display_id(s: &Shared, wanted: &str) -> Option<u64> {
    let digits = wanted
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("LN"))
        .map(|_| &wanted[2..])?;
    let id: u64 = digits.parse().ok()?;
    (s.loan_exists(id) && odata::display_id(id).eq_ignore_ascii_case(wanted)).then_some(id)
}

async fn all_payments(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.payments()).into_response()
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.stats()).into_response()
}

async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Resource not found: {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::Resource;

    #[test]
    fn resources() {
        assert_eq!(Resource::parse("Loans"), Some(Resource::Loans));
        assert_eq!(Resource::parse("Loans(7)"), Some(Resource::Loan(7)));
        assert_eq!(
            Resource::parse("Loans(id=7)/Payments"),
            Some(Resource::Payments(7))
        );
        assert_eq!(
            Resource::parse("Loans(7)/LoanSetup"),
            Some(Resource::LoanSetup(7))
        );
        assert_eq!(Resource::parse("Loans(x)"), None);
        assert_eq!(Resource::parse("Loans(7)/Payments/1"), None);
        assert_eq!(Resource::parse("Loans/Payments"), None);
        assert_eq!(Resource::parse("Customers(7)"), None);
        assert_eq!(
            Resource::parse("Loans(7)/VoidPayment(12)"),
            Some(Resource::VoidPayment(7, 12))
        );
        assert_eq!(
            Resource::parse("collections(payment.reverse)/items"),
            Some(Resource::ReverseReasons)
        );
        assert_eq!(Resource::parse("Loans(7)/VoidPayment(x)"), None);
    }
}
