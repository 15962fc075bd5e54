//! LoanPro's OData v2 dialect: response bodies, error shapes, `/Date(..)/`, and the query
//! options the sandbox understands (`$top`, `$skip`, a few `$filter` forms).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, NaiveTime};
use serde_json::{Value, json};

use super::SandboxPayment;

/// `{"error":{"message":{"lang":"en-US","value":MSG}}}`: LoanPro's usual error shape.
pub(crate) fn error_body(message: &str) -> Value {
    json!({"error": {"message": {"lang": "en-US", "value": message}}})
}

/// The same error wrapped in `d`, which LoanPro uses for some payload errors: a client that
/// takes "has `d`" for success without looking at the status is wrong.
pub(crate) fn d_error_body(message: &str) -> Value {
    json!({"d": error_body(message)})
}

/// LoanPro's other error shape: `{"code":409,"message":...,"context":{...}}`.
pub(crate) fn code_body(status: StatusCode, message: &str, context: Value) -> Value {
    json!({"code": status.as_u16(), "message": message, "context": context})
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, error_body(message))
}

/// 429 with `Retry-After`, counted by the caller.
pub(crate) fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        code_body(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests: API rate limit exceeded",
            json!({"retryAfter": retry_after_secs}),
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

pub(crate) fn unauthorized() -> Response {
    error_response(StatusCode::UNAUTHORIZED, "Unauthorized: invalid token")
}

pub(crate) fn loan_not_found(loan_id: u64) -> Response {
    error_response(StatusCode::CONFLICT, &format!("Loan {loan_id} not found"))
}

pub(crate) fn display_id(loan_id: u64) -> String {
    format!("LN{loan_id:06}")
}

fn loan_uri(base_url: &str, loan_id: u64) -> String {
    format!("{base_url}/odata.svc/Loans(id={loan_id})")
}

pub(crate) fn interest_application(periods: bool) -> &'static str {
    if periods {
        "loan.interestApplication.betweenPeriods"
    } else {
        "loan.interestApplication.betweenTransactions"
    }
}

/// A loan as `GET Loans` lists it: the scalar fields, navigation properties deferred.
pub(crate) fn loan_json(base_url: &str, loan_id: u64) -> Value {
    let uri = loan_uri(base_url, loan_id);
    json!({
        "__metadata": {"uri": uri, "type": "Entity.Loan"},
        "id": loan_id,
        "displayId": display_id(loan_id),
        "title": format!("{} - Sandbox Borrower {loan_id}", display_id(loan_id)),
        "settingsId": loan_id,
        "setupId": loan_id,
        "modId": 0,
        "active": 1,
        "archived": 0,
        "loanAlert": null,
        "temporaryAccount": 0,
        "deleted": 0,
        "LoanSetup": {"__deferred": {"uri": format!("Loans(id={loan_id})/LoanSetup")}},
        "Payments": {"__deferred": {"uri": format!("Loans(id={loan_id})/Payments")}},
    })
}

pub(crate) fn loan_setup_json(base_url: &str, loan_id: u64, periods: bool) -> Value {
    json!({
        "__metadata": {
            "uri": format!("{base_url}/odata.svc/LoanSetup(id={loan_id})"),
            "type": "Entity.LoanSetup",
        },
        "id": loan_id,
        "loanId": loan_id,
        "modId": 0,
        "active": 1,
        "loanAmount": "10000.00",
        "loanRate": "4.5000",
        "loanTerm": "36.0000",
        "loanClass": "loan.class.consumer",
        "loanType": "loan.type.installment",
        "paymentFrequency": "loan.frequency.monthly",
        "calcType": "loan.calcType.simpleInterest",
        "interestApplication": interest_application(periods),
        "isSetupValid": true,
    })
}

/// A payment as LoanPro returns it: amount normalised to two decimals, date as `/Date(..)/`.
pub(crate) fn payment_json(base_url: &str, p: &SandboxPayment) -> Value {
    json!({
        "__metadata": {
            "uri": format!("{base_url}/odata.svc/Payments(id={})", p.id),
            "type": "Entity.Payment",
        },
        "id": p.id,
        "loanId": p.loan_id,
        "displayId": format!("PMT{:06}", p.id),
        "amount": normalise_amount(&p.amount),
        "date": odata_date(&p.date),
        "info": p.info,
        "paymentMethodId": p.payment_method_id,
        "paymentTypeId": p.payment_type_id,
        "extra": p.extra,
        "active": if p.reversal.is_some() { 0 } else { 1 },
        "reverseReason": p.reversal.as_ref().map(|r| r.reverse_reason.as_str()),
        "reverseDate": p.reversal.as_ref().map(|r| odata_date(&r.reverse_date)),
        "nachaReturnCode": p.reversal.as_ref().and_then(|r| r.nacha_return_code.as_deref()),
        "status": "payment.status.none",
        "__logOnly": true,
    })
}

/// `{"d":{"results":[...],"summary":{...}}}`, LoanPro's paged collection.
pub(crate) fn collection(
    results: Vec<Value>,
    start: usize,
    page_size: usize,
    total: usize,
) -> Value {
    json!({"d": {"results": results, "summary": {"start": start, "pageSize": page_size, "total": total}}})
}

/// `"250"` → `"250.00"`; anything unparsable (pre-loaded by a test) is returned as is.
fn normalise_amount(amount: &str) -> String {
    match amount.parse::<rust_decimal::Decimal>() {
        Ok(mut d) => {
            d.rescale(2);
            d.to_string()
        }
        Err(_) => amount.to_owned(),
    }
}

/// `2025-11-20` → `/Date(1763596800)/` (seconds since the epoch, midnight UTC).
pub(crate) fn odata_date(date: &str) -> String {
    match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => format!(
            "/Date({})/",
            d.and_time(NaiveTime::MIN).and_utc().timestamp()
        ),
        Err(_) => date.to_owned(),
    }
}

/// `$top`, `$skip` and `$filter` of a collection request.
#[derive(Debug, PartialEq)]
pub(crate) struct PageQuery {
    pub(crate) top: usize,
    pub(crate) skip: usize,
    pub(crate) filter: Option<String>,
}

impl PageQuery {
    /// `$top` defaults to `page_size` and is silently capped at it, like LoanPro; other
    /// options (`$orderby`, `$select`, `$expand`, ...) are ignored.
    pub(crate) fn parse(params: &[(String, String)], page_size: usize) -> Result<Self, String> {
        let mut query = PageQuery {
            top: page_size,
            skip: 0,
            filter: None,
        };
        for (name, value) in params {
            match name.as_str() {
                "$top" => {
                    let top: usize = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("Invalid $top '{value}'"))?;
                    query.top = top.min(page_size);
                }
                "$skip" => {
                    query.skip = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("Invalid $skip '{value}'"))?;
                }
                "$filter" => query.filter = Some(value.clone()),
                _ => {}
            }
        }
        Ok(query)
    }

    /// The page of `items` this query selects.
    pub(crate) fn page<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items.into_iter().skip(self.skip).take(self.top).collect()
    }
}

/// `substringof('TEXT', info)` (OData v2, optionally `... eq true`) → `TEXT`.
pub(crate) fn parse_info_filter(filter: &str) -> Result<String, String> {
    let unsupported = || format!("Unsupported $filter: {filter}");
    let rest = filter
        .trim()
        .strip_prefix("substringof(")
        .ok_or_else(unsupported)?;
    let (text, rest) = parse_literal(rest.trim_start()).ok_or_else(unsupported)?;
    let rest = rest
        .trim_start()
        .strip_prefix(',')
        .ok_or_else(unsupported)?;
    let rest = rest
        .trim_start()
        .strip_prefix("info")
        .ok_or_else(unsupported)?;
    let rest = rest
        .trim_start()
        .strip_prefix(')')
        .ok_or_else(unsupported)?;
    let rest = rest.trim();
    if rest.is_empty() || is_eq_true(rest) {
        Ok(text)
    } else {
        Err(unsupported())
    }
}

fn is_eq_true(rest: &str) -> bool {
    let mut words = rest.split_whitespace();
    matches!(
        (words.next(), words.next(), words.next()),
        (Some("eq"), Some("true"), None)
    )
}

/// `displayId eq 'LN000123'` → `LN000123`.
pub(crate) fn parse_display_id_filter(filter: &str) -> Result<String, String> {
    let unsupported = || format!("Unsupported $filter: {filter}");
    let rest = filter
        .trim()
        .strip_prefix("displayId")
        .ok_or_else(unsupported)?;
    if !rest.starts_with(char::is_whitespace) {
        return Err(unsupported());
    }
    let rest = rest
        .trim_start()
        .strip_prefix("eq")
        .ok_or_else(unsupported)?;
    if !rest.starts_with(char::is_whitespace) {
        return Err(unsupported());
    }
    let (text, rest) = parse_literal(rest.trim_start()).ok_or_else(unsupported)?;
    if rest.trim().is_empty() {
        Ok(text)
    } else {
        Err(unsupported())
    }
}

/// An OData string literal at the start of `s` (`'it''s'` is `it's`); returns it and the rest.
fn parse_literal(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('\'')?;
    let mut chars = body.char_indices().peekable();
    let mut text = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                chars.next();
                text.push('\'');
            } else {
                return Some((text, &body[i + 1..]));
            }
        } else {
            text.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_filter_forms() {
        assert_eq!(
            parse_info_filter("substringof('[k:ab12]', info)").unwrap(),
            "[k:ab12]"
        );
        assert_eq!(
            parse_info_filter(" substringof( 'a''b' ,info ) eq true").unwrap(),
            "a'b"
        );
        assert!(parse_info_filter("contains(info, 'x')").is_err());
        assert!(parse_info_filter("substringof('x', info) and 1").is_err());
        assert!(parse_info_filter("substringof('x, info)").is_err());
    }

    #[test]
    fn display_id_filter_forms() {
        assert_eq!(
            parse_display_id_filter("displayId eq 'LN000123'").unwrap(),
            "LN000123"
        );
        assert!(parse_display_id_filter("displayIdeq 'LN1'").is_err());
        assert!(parse_display_id_filter("displayId ne 'LN1'").is_err());
        assert!(parse_display_id_filter("displayId eq 'LN1' or 1").is_err());
    }

    #[test]
    fn dates_and_amounts() {
        assert_eq!(odata_date("2025-11-20"), "/Date(1763596800)/");
        assert_eq!(normalise_amount("10"), "10.00");
        assert_eq!(normalise_amount("250.5"), "250.50");
    }

    #[test]
    fn top_is_capped() {
        let params = vec![
            ("$top".to_owned(), "500".to_owned()),
            ("$skip".to_owned(), "100".to_owned()),
        ];
        let q = PageQuery::parse(&params, 50).unwrap();
        assert_eq!((q.top, q.skip), (50, 100));
        assert!(PageQuery::parse(&[("$top".to_owned(), "-1".to_owned())], 50).is_err());
    }
}
