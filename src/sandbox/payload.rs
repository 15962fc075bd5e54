//! Strict validation of the log-only payment body of `PUT Loans(id)` (docs/loanpro.md).

use std::collections::BTreeSet;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::odata::{code_body, d_error_body, error_response, json_response};

/// The `extra` values LoanPro knows, by interest application.
const TX_EXTRAS: [&str; 3] = [
    "payment.extra.tx.principal",
    "payment.extra.tx.principalonly",
    "payment.extra.tx.classic",
];
const PERIODS_EXTRAS: [&str; 2] = [
    "payment.extra.periods.next",
    "payment.extra.periods.principalonly",
];

/// The fields of a valid payment that the sandbox keeps.
#[derive(Debug, PartialEq)]
pub(crate) struct PaymentIn {
    pub(crate) amount: String,
    pub(crate) date: String,
    pub(crate) info: String,
    pub(crate) payment_method_id: u32,
    pub(crate) payment_type_id: u32,
    pub(crate) extra: String,
}

/// Why a body was refused; each kind answers with its own status and body shape, because
/// LoanPro does not answer consistently either.
#[derive(Debug, PartialEq)]
pub(crate) enum PayloadError {
    /// 415: not `application/json`.
    ContentType(String),
    /// 400: not JSON at all.
    Malformed(String),
    /// 409, `{"code":409,"message":..,"context":{"field":..,"value":..}}`: structure or format.
    Field {
        field: &'static str,
        message: String,
        value: Value,
    },
    /// 409, `{"d":{"error":..}}`: a value the tenant's settings do not allow.
    Setting(String),
}

impl PayloadError {
    pub(crate) fn into_response(self) -> Response {
        match self {
            PayloadError::ContentType(m) => error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &m),
            PayloadError::Malformed(m) => error_response(StatusCode::BAD_REQUEST, &m),
            PayloadError::Field {
                field,
                message,
                value,
            } => json_response(
                StatusCode::CONFLICT,
                code_body(
                    StatusCode::CONFLICT,
                    &message,
                    json!({"field": field, "value": value}),
                ),
            ),
            PayloadError::Setting(m) => json_response(StatusCode::CONFLICT, d_error_body(&m)),
        }
    }
}

/// The payment's `info`, if the body has one where expected; used to recognise a first
/// attempt before the body is validated.
pub(crate) fn lenient_info(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .pointer("/Payments/results/0/info")?
        .as_str()
        .map(str::to_owned)
}

/// Checks the content type and parses the body as JSON.
pub(crate) fn parse_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, PayloadError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(PayloadError::ContentType(format!(
            "Unsupported Content-Type '{content_type}': expected application/json"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(format!("Malformed JSON body: {e}")))
}

/// Validates the `{"Payments":{"results":[{...}]}}` body field by field.
pub(crate) fn validate(
    body: &Value,
    methods: &BTreeSet<u32>,
    types: &BTreeSet<u32>,
) -> Result<PaymentIn, PayloadError> {
    let results = body
        .pointer("/Payments/results")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            field_error(
                "Payments",
                "Payments.results must be an array of payments",
                Value::Null,
            )
        })?;
    if results.len() != 1 {
        return Err(field_error(
            "Payments.results",
            &format!(
                "Payments.results must hold exactly one payment, got {}",
                results.len()
            ),
            json!(results.len()),
        ));
    }
    let p = &results[0];
    if !p.is_object() {
        return Err(field_error(
            "Payments.results",
            "A payment must be an object",
            p.clone(),
        ));
    }
    let get = |name: &str| p.get(name).cloned().unwrap_or(Value::Null);

    if p.get("__logOnly") != Some(&Value::Bool(true)) {
        return Err(field_error(
            "__logOnly",
            "Only log-only payments are accepted: __logOnly must be true",
            get("__logOnly"),
        ));
    }
    let amount = string_field(p, "amount")?;
    if !valid_amount(&amount) {
        return Err(field_error(
            "amount",
            &format!(
                "Invalid amount '{amount}': a positive decimal with at most 2 decimals is required"
            ),
            get("amount"),
        ));
    }
    let date = string_field(p, "date")?;
    if !valid_date(&date) {
        return Err(field_error(
            "date",
            &format!("Invalid date '{date}': expected YYYY-MM-DD"),
            get("date"),
        ));
    }
    let info = string_field(p, "info")?;
    let payment_method_id = id_field(p, "paymentMethodId")?;
    if !methods.contains(&payment_method_id) {
        return Err(PayloadError::Setting(format!(
            "Invalid paymentMethodId {payment_method_id}"
        )));
    }
    let payment_type_id = id_field(p, "paymentTypeId")?;
    if !types.contains(&payment_type_id) {
        return Err(PayloadError::Setting(format!(
            "Invalid paymentTypeId {payment_type_id}"
        )));
    }
    let extra = string_field(p, "extra")?;
    if !TX_EXTRAS.contains(&extra.as_str()) && !PERIODS_EXTRAS.contains(&extra.as_str()) {
        return Err(PayloadError::Setting(format!("Invalid extra '{extra}'")));
    }
    Ok(PaymentIn {
        amount,
        date,
        info,
        payment_method_id,
        payment_type_id,
        extra,
    })
}

/// LoanPro's message when `extra` belongs to the other interest application, or `None`.
pub(crate) fn extra_mismatch(extra: &str, periods_loan: bool) -> Option<String> {
    let is_tx = TX_EXTRAS.contains(&extra);
    if is_tx == periods_loan {
        let application = if periods_loan {
            "between periods"
        } else {
            "between transactions"
        };
        Some(format!(
            "Payment extra '{extra}' does not match loan's interest application ({application})"
        ))
    } else {
        None
    }
}

/// Validates the `VoidPayment` body (docs/returns.md): a `reverseReason` of the tenant's collection, a
/// `comments` string, `__logOnly` true, and `nachaReturnCode` (if any) `nacha.returnCode.rNN`.
pub(crate) fn validate_void(
    body: &Value,
    reasons: &BTreeSet<String>,
) -> Result<super::SandboxReversal, PayloadError> {
    let reason = body
        .get("reverseReason")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            field_error(
                "reverseReason",
                "reverseReason is required and must be a string",
                body.get("reverseReason").cloned().unwrap_or(Value::Null),
            )
        })?;
    if !reasons.contains(reason) {
        return Err(PayloadError::Setting(format!(
            "Invalid reverseReason {reason}: not in collection payment.reverse"
        )));
    }
    let comments = match body.get("comments") {
        None | Some(Value::Null) => "",
        Some(Value::String(c)) => c,
        Some(other) => {
            return Err(field_error(
                "comments",
                "comments must be a string",
                other.clone(),
            ));
        }
    };
    if body.get("__logOnly") != Some(&Value::Bool(true)) {
        return Err(field_error(
            "__logOnly",
            "__logOnly must be true: this tenant has no processor to forward a reversal to",
            body.get("__logOnly").cloned().unwrap_or(Value::Null),
        ));
    }
    let nacha = match body.get("nachaReturnCode") {
        None | Some(Value::Null) => None,
        Some(Value::String(c))
            if c.strip_prefix("nacha.returnCode.r")
                .is_some_and(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(c.clone())
        }
        Some(other) => {
            return Err(field_error(
                "nachaReturnCode",
                "nachaReturnCode must be nacha.returnCode.r followed by two digits",
                other.clone(),
            ));
        }
    };
    Ok(super::SandboxReversal {
        reverse_reason: reason.to_owned(),
        comments: comments.to_owned(),
        reverse_date: chrono::Utc::now().date_naive().to_string(),
        nacha_return_code: nacha,
    })
}

fn field_error(field: &'static str, message: &str, value: Value) -> PayloadError {
    PayloadError::Field {
        field,
        message: message.to_owned(),
        value,
    }
}

fn string_field(p: &Value, name: &'static str) -> Result<String, PayloadError> {
    match p.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(field_error(
            name,
            &format!("{name} is required and must be a string"),
            other.cloned().unwrap_or(Value::Null),
        )),
    }
}

fn id_field(p: &Value, name: &'static str) -> Result<u32, PayloadError> {
    let value = p.get(name);
    value
        .and_then(Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| {
            field_error(
                name,
                &format!("{name} is required and must be an integer id"),
                value.cloned().unwrap_or(Value::Null),
            )
        })
}

/// Digits, optionally a point and one or two digits, and more than zero: `"250.00"`, `"10"`.
fn valid_amount(amount: &str) -> bool {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let shape_ok = !whole.is_empty()
        && whole.len() <= 15
        && digits(whole)
        && digits(fraction)
        && fraction.len() <= 2
        && fraction.is_empty() != amount.contains('.');
    shape_ok && amount.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Exactly `YYYY-MM-DD`, and a real date.
fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        for ok in ["250.00", "10", "0.01", "1.5", "007.10"] {
            assert!(valid_amount(ok), "{ok}");
        }
        for bad in [
            "0", "0.00", "-1.00", "1.234", "1.", ".5", "1e3", "", " 1.00", "1,000.00", "+1",
        ] {
            assert!(!valid_amount(bad), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert!(valid_date("2026-11-20"));
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2025-02-29"));
        assert!(!valid_date("2026-1-5"));
        assert!(!valid_date("11/20/2026"));
        assert!(!valid_date("2026-11-20T00:00"));
    }

    #[test]
    fn mismatch() {
        assert!(extra_mismatch("payment.extra.tx.principal", false).is_none());
        assert!(extra_mismatch("payment.extra.periods.next", true).is_none());
        let m = extra_mismatch("payment.extra.tx.principal", true).unwrap();
        assert!(m.contains("(between periods)"), "{m}");
        assert!(extra_mismatch("payment.extra.periods.next", false).is_some());
    }
}
