//! End-to-end tests of the sandbox over real HTTP on a loopback port.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

const TOKEN: &str = "sandbox-token";
const TENANT: &str = "5200243";

async fn start(config: SandboxConfig) -> Sandbox {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Sandbox::start(config, addr).await.expect("sandbox starts")
}

fn client() -> reqwest::Client {
    crate::loanpro::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The exact body of docs/loanpro.md.
fn body(info: &str, extra: &str) -> Value {
    json!({"Payments": {"results": [{
        "selectedProcessor": "0", "paymentMethodId": 4, "early": 0, "amount": "250.00",
        "date": "2026-11-20", "info": info, "paymentTypeId": 1, "active": 1, "resetPastDue": 0,
        "payoffPayment": false, "_saveProfile": 0, "extra": extra,
        "cardFeeType": "loan.cardfee.types.1", "cardFeeAmount": "0", "cardFeePercent": "0",
        "__logOnly": true, "payoffFlag": 0
    }]}})
}

fn tx_body(info: &str) -> Value {
    body(info, "payment.extra.tx.principal")
}

fn url(sb: &Sandbox, path: &str) -> String {
    format!("{}/odata.svc/{path}", sb.base_url())
}

async fn put(
    sb: &Sandbox,
    client: &reqwest::Client,
    loan: u64,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    client
        .put(url(sb, &format!("Loans({loan})")))
        .bearer_auth(TOKEN)
        .header("Autopal-Instance-Id", TENANT)
        .json(body)
        .send()
        .await
}

async fn get(
    sb: &Sandbox,
    client: &reqwest::Client,
    path: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .get(url(sb, path))
        .bearer_auth(TOKEN)
        .header("Autopal-Instance-Id", TENANT)
        .send()
        .await
}

async fn status_and_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

fn message(body: &Value) -> &str {
    body.pointer("/error/message/value")
        .or_else(|| body.pointer("/d/error/message/value"))
        .or_else(|| body.pointer("/message"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test]
async fn put_success_has_d_and_records() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let (status, body) =
        status_and_json(put(&sb, &c, 7, &tx_body("first [k:0001]")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["d"]["id"], 7);
    assert_eq!(body["d"]["displayId"], "LN000007");
    assert_eq!(body["d"]["__metadata"]["type"], "Entity.Loan");
    let payment = &body["d"]["Payments"]["results"][0];
    assert_eq!(payment["id"], 1);
    assert_eq!(payment["amount"], "250.00");
    assert_eq!(payment["date"], "/Date(1795132800)/");
    let recorded = sb.payments();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0],
        SandboxPayment {
            id: 1,
            loan_id: 7,
            amount: "250.00".into(),
            date: "2026-11-20".into(),
            info: "first [k:0001]".into(),
            payment_method_id: 4,
            payment_type_id: 1,
            extra: "payment.extra.tx.principal".into(),
            reversal: None,
        }
    );
}

#[tokio::test]
async fn credentials_are_required() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let wrong_token = c
        .put(url(&sb, "Loans(1)"))
        .bearer_auth("nope")
        .header("Autopal-Instance-Id", TENANT)
        .json(&tx_body("x"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(wrong_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(message(&body), "Unauthorized: invalid token");
    let no_tenant = c
        .get(url(&sb, "Loans(1)/Payments"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(no_tenant.status(), StatusCode::UNAUTHORIZED);
    let no_token = c
        .get(url(&sb, "Loans(1)"))
        .header("Autopal-Instance-Id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert!(sb.payments().is_empty());
    let stats = sb.stats();
    assert_eq!((stats.puts, stats.gets, stats.unauthorized), (1, 2, 3));
}

#[tokio::test]
async fn unknown_loan_is_409_with_message() {
    let sb = start(SandboxConfig {
        loans: 10,
        ..Default::default()
    })
    .await;
    let c = client();
    for loan in [0, 11, 999] {
        let (status, body) =
            status_and_json(put(&sb, &c, loan, &tx_body("x")).await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(message(&body), format!("Loan {loan} not found"));
        assert!(body.get("d").is_none());
    }
    let (status, body) = status_and_json(get(&sb, &c, "Loans(999)/Payments").await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(message(&body), "Loan 999 not found");
    assert!(sb.payments().is_empty());
}

#[tokio::test]
async fn extra_mismatch_is_200_without_d() {
    let sb = start(SandboxConfig {
        periods_loans: BTreeSet::from([10]),
        ..Default::default()
    })
    .await;
    let c = client();
    let (status, body) = status_and_json(put(&sb, &c, 10, &tx_body("x")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("d").is_none(), "{body}");
    assert_eq!(
        message(&body),
        "Payment extra 'payment.extra.tx.principal' does not match loan's interest application (between periods)"
    );
    let periods = body_with(|p| p["extra"] = json!("payment.extra.periods.next"));
    let (status, body) = status_and_json(put(&sb, &c, 11, &periods).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("d").is_none());
    assert!(message(&body).contains("(between transactions)"));
    // The right family works on the periods loan.
    let (status, body) = status_and_json(put(&sb, &c, 10, &periods).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("d").is_some());
    assert_eq!(sb.payments().len(), 1);
    let setup = get(&sb, &c, "Loans(10)/LoanSetup")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        setup["d"]["interestApplication"],
        "loan.interestApplication.betweenPeriods"
    );
    let setup = get(&sb, &c, "Loans(11)/LoanSetup")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        setup["d"]["interestApplication"],
        "loan.interestApplication.betweenTransactions"
    );
    assert_eq!(setup["d"]["loanId"], 11);
}

fn body_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut b = tx_body("edited");
    change(&mut b["Payments"]["results"][0]);
    b
}

#[tokio::test]
async fn invalid_payloads_are_refused_in_both_shapes() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let (status, body) = status_and_json(
        put(&sb, &c, 1, &body_with(|p| p["paymentMethodId"] = json!(9)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["d"]["error"]["message"]["value"],
        "Invalid paymentMethodId 9"
    );
    let (status, body) = status_and_json(
        put(&sb, &c, 1, &body_with(|p| p["paymentTypeId"] = json!(3)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["d"]["error"]["message"]["value"],
        "Invalid paymentTypeId 3"
    );

    type Edit = fn(&mut Value);
    let code_shaped: [(&str, Edit); 6] = [
        ("amount", |p| p["amount"] = json!("1.234")),
        ("amount", |p| p["amount"] = json!(250.0)),
        ("amount", |p| p["amount"] = json!("0.00")),
        ("date", |p| p["date"] = json!("11/20/2026")),
        ("date", |p| p["date"] = json!("2026-02-30")),
        ("__logOnly", |p| p["__logOnly"] = json!(false)),
    ];
    for (field, change) in code_shaped {
        let (status, body) =
            status_and_json(put(&sb, &c, 1, &body_with(change)).await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], 409);
        assert_eq!(body["context"]["field"], field, "{body}");
        assert!(body["message"].is_string());
    }
    let mut two = tx_body("a");
    let second = two["Payments"]["results"][0].clone();
    two["Payments"]["results"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let (status, body) = status_and_json(put(&sb, &c, 1, &two).await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], 409);

    let (status, body) = status_and_json(
        put(
            &sb,
            &c,
            1,
            &body_with(|p| p["extra"] = json!("payment.extra.tx.nonsense")),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["d"]["error"].is_object());

    let headers =
        |rb: reqwest::RequestBuilder| rb.bearer_auth(TOKEN).header("Autopal-Instance-Id", TENANT);
    let malformed = headers(c.put(url(&sb, "Loans(1)")))
        .header("Content-Type", "application/json")
        .body("{\"Payments\":")
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("Malformed JSON"));
    let text = headers(c.put(url(&sb, "Loans(1)")))
        .header("Content-Type", "text/plain")
        .body(tx_body("x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(sb.payments().is_empty());
    assert_eq!(sb.stats().puts, 12);
}

#[tokio::test]
async fn payments_are_paged_and_filtered() {
    let sb = start(SandboxConfig::default()).await;
    for i in 0..120 {
        sb.add_payment(
            5,
            "10.5",
            "2026-01-02",
            &format!("old payment {i} [k:{i:016x}]"),
        );
    }
    sb.add_payment(6, "1.00", "2026-01-02", "other loan");
    let c = client();
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        // Asking for more than a page is silently capped: clients must page until `total`.
        let page: Value = get(
            &sb,
            &c,
            &format!("Loans(5)/Payments?$top=500&$skip={skip}&$orderby=id"),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let summary = &page["d"]["summary"];
        assert_eq!(summary["total"], 120);
        assert_eq!(summary["start"], skip);
        assert_eq!(summary["pageSize"], 50);
        let results = page["d"]["results"].as_array().unwrap();
        if results.is_empty() {
            break;
        }
        assert!(results.len() <= 50);
        seen.extend(
            results
                .iter()
                .map(|p| p["info"].as_str().unwrap().to_owned()),
        );
        skip += results.len();
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(seen[119], format!("old payment 119 [k:{:016x}]", 119));
    let last: Value = get(&sb, &c, "Loans(5)/Payments?$skip=100")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["d"]["results"].as_array().unwrap().len(), 20);
    assert_eq!(last["d"]["results"][0]["amount"], "10.50");
    assert_eq!(last["d"]["results"][0]["loanId"], 5);

    // Sent raw: the URL parser percent-encodes the spaces and quotes, as a client's would.
    let filter = format!(
        "Loans(5)/Payments?$filter=substringof('[k:{:016x}]', info)",
        77
    );
    let filtered: Value = get(&sb, &c, &filter).await.unwrap().json().await.unwrap();
    assert_eq!(filtered["d"]["summary"]["total"], 1);
    assert_eq!(
        filtered["d"]["results"][0]["info"],
        format!("old payment 77 [k:{:016x}]", 77)
    );

    let bad = get(&sb, &c, "Loans(5)/Payments?$filter=contains(info,'x')")
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = get(&sb, &c, "Loans(5)/Payments?$top=ten").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn loans_are_found_by_display_id() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let found: Value = get(&sb, &c, "Loans?$filter=displayId eq 'LN000123'")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let results = found["d"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["id"], 123);
    assert_eq!(results[0]["displayId"], "LN000123");
    assert_eq!(found["d"]["summary"]["total"], 1);
    for missing in ["LN001001", "LN123", "XX000123"] {
        let response = get(&sb, &c, &format!("Loans?$filter=displayId eq '{missing}'"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["d"]["results"].as_array().unwrap().len(),
            0,
            "{missing}"
        );
    }
    let bad = get(&sb, &c, "Loans?$filter=id eq 5").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let all: Value = get(&sb, &c, "Loans?$skip=990")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["d"]["results"].as_array().unwrap().len(), 10);
    assert_eq!(all["d"]["summary"]["total"], 1000);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let sb = start(SandboxConfig {
        requests_per_second: Some(2.0),
        ..Default::default()
    })
    .await;
    let c = client();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let response = get(&sb, &c, "Loans(1)/Payments").await.unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], 429);
        }
    }
    assert_eq!(statuses[0], StatusCode::OK);
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(limited >= 2, "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    let stats = sb.stats();
    assert_eq!(stats.gets, 6);
    assert_eq!(stats.too_many_requests, limited as u64);
    // The test endpoints are neither limited nor counted.
    for _ in 0..5 {
        let r = c
            .get(format!("http://{}/__sandbox/stats", sb.addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(sb.stats().gets, 6);
}

#[tokio::test]
async fn scripted_put_faults_do_what_they_say() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    sb.push_faults([
        Fault::ErrorBeforeCommit,
        Fault::DropBeforeCommit,
        Fault::ErrorAfterCommit,
        Fault::DropAfterCommit,
        Fault::TooManyRequests,
    ]);

    let r = put(&sb, &c, 1, &tx_body("error before")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(sb.payments().is_empty());

    let err = put(&sb, &c, 1, &tx_body("drop before")).await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(sb.payments().is_empty());

    let r = put(&sb, &c, 1, &tx_body("error after")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sb.payments().last().unwrap().info, "error after");

    let err = put(&sb, &c, 1, &tx_body("drop after")).await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(sb.payments().last().unwrap().info, "drop after");

    let r = put(&sb, &c, 1, &tx_body("429")).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");

    // Queue used up: back to normal, and the after-commit payments are visible to GETs.
    let r = put(&sb, &c, 1, &tx_body("normal")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = get(&sb, &c, "Loans(1)/Payments")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let infos: Vec<&str> = listed["d"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["info"].as_str().unwrap())
        .collect();
    assert_eq!(infos, ["error after", "drop after", "normal"]);

    let stats = sb.stats();
    assert_eq!(stats.puts, 6);
    assert_eq!(stats.gets, 1);
    assert_eq!(stats.faults_injected, 5);
    assert_eq!(stats.too_many_requests, 1);
    assert_eq!(stats.payments, 3);
}

#[tokio::test]
async fn get_failure_and_queue_order() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    // A GetFailure waits for the next GET; the PUT fault behind it goes to the next PUT.
    sb.push_faults([Fault::GetFailure, Fault::ErrorBeforeCommit]);
    let r = put(&sb, &c, 2, &tx_body("p")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = get(&sb, &c, "Loans(2)/Payments").await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = get(&sb, &c, "Loans(2)/Payments").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn slow_commit_records_even_after_the_client_gave_up() {
    let sb = start(SandboxConfig {
        faults: Faults {
            slow_secs: 0.6,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let impatient = crate::loanpro::http_client_builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    sb.push_faults([Fault::SlowCommit]);
    let err = put(&sb, &impatient, 3, &tx_body("slow")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(sb.payments().is_empty(), "recorded only after the delay");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sb.payments().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow commit never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sb.payments()[0].info, "slow");

    // A patient client gets the normal answer.
    sb.push_faults([Fault::SlowCommit]);
    let r = put(&sb, &client(), 3, &tx_body("slow 2")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.payments().len(), 2);
    assert_eq!(sb.stats().faults_injected, 2);
}

#[tokio::test]
async fn first_attempt_fault_strikes_once_per_info() {
    let sb = start(SandboxConfig {
        faults: Faults {
            first_attempt: Some(Fault::ErrorAfterCommit),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = client();
    let r = put(&sb, &c, 4, &tx_body("a [k:1]")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = put(&sb, &c, 4, &tx_body("a [k:1]")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = put(&sb, &c, 4, &tx_body("b [k:2]")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Recorded every time: the client, not the sandbox, must avoid the duplicate.
    assert_eq!(sb.payments().len(), 3);
    assert_eq!(sb.stats().faults_injected, 2);
}

async fn put_statuses(sb: &Sandbox, n: usize) -> Vec<Option<u16>> {
    let c = client();
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            put(sb, &c, 1, &tx_body(&format!("r{i}")))
                .await
                .ok()
                .map(|r| r.status().as_u16()),
        );
    }
    out
}

#[tokio::test]
async fn random_faults_follow_the_seed() {
    let faults = Faults {
        seed: 42,
        error_before_commit: 0.2,
        drop_before_commit: 0.1,
        error_after_commit: 0.2,
        burst_429: 0.05,
        ..Default::default()
    };
    let a = start(SandboxConfig {
        faults: faults.clone(),
        ..Default::default()
    })
    .await;
    let b = start(SandboxConfig {
        faults: faults.clone(),
        ..Default::default()
    })
    .await;
    let (sa, sb_) = (put_statuses(&a, 40).await, put_statuses(&b, 40).await);
    assert_eq!(sa, sb_);
    assert!(
        sa.contains(&Some(500)) && sa.contains(&None) && sa.contains(&Some(200)),
        "{sa:?}"
    );
    assert_eq!(a.payments().len(), b.payments().len());
    assert_eq!(a.stats(), b.stats());

    // set_faults reseeds: the same sequence again.
    a.set_faults(faults);
    assert_eq!(put_statuses(&a, 40).await, sa);
    a.set_faults(Faults::default());
    assert!(put_statuses(&a, 10).await.iter().all(|s| *s == Some(200)));
}

#[tokio::test]
async fn burst_429_answers_with_retry_after() {
    let sb = start(SandboxConfig {
        faults: Faults {
            burst_429: 1.0,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = client();
    let r = get(&sb, &c, "Loans(1)").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    sb.set_faults(Faults::default());
    // The burst ended with the replacement; a fresh one lasts this request plus three.
    let r = get(&sb, &c, "Loans(1)").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    sb.set_faults(Faults {
        burst_429: 1.0,
        ..Default::default()
    });
    assert_eq!(put_statuses(&sb, 1).await, [Some(429)]);
}

#[tokio::test]
async fn test_endpoints_and_unknown_routes() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    put(&sb, &c, 9, &tx_body("one")).await.unwrap();
    let payments: Vec<SandboxPayment> = c
        .get(format!("http://{}/__sandbox/payments", sb.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(payments, sb.payments());
    let stats: SandboxStats = c
        .get(format!("http://{}/__sandbox/stats", sb.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, sb.stats());
    assert_eq!(stats.puts, 1);
    assert_eq!(stats.payments, 1);

    let (status, body) = status_and_json(
        c.get(format!("http://{}/nowhere", sb.addr()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("/nowhere"));
    let (status, _) = status_and_json(get(&sb, &c, "Customers(1)").await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = status_and_json(
        c.delete(url(&sb, "Loans(1)"))
            .bearer_auth(TOKEN)
            .header("Autopal-Instance-Id", TENANT)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let sb = start(SandboxConfig::default()).await;
    let addr = sb.addr();
    assert!(sb.base_url().starts_with(&format!(
        "http://127.0.0.1:{}/api/public/api/1",
        addr.port()
    )));
    sb.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let sb = start(SandboxConfig::default()).await;
    let addr = sb.addr();
    drop(sb);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bad_config_is_refused() {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let bad = SandboxConfig {
        faults: Faults {
            error_after_commit: 1.5,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(Sandbox::start(bad, addr).await.is_err());
    let bad = SandboxConfig {
        page_size: 0,
        ..Default::default()
    };
    assert!(Sandbox::start(bad, addr).await.is_err());
}

#[tokio::test]
async fn proxy_like_put_faults_answer_200_before_or_after_recording() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let cases = [
        (Fault::HtmlBeforeCommit, false, "text/html"),
        (Fault::HtmlAfterCommit, true, "text/html"),
        (Fault::EmptyBeforeCommit, false, ""),
        (Fault::EmptyAfterCommit, true, ""),
        (Fault::NoDBeforeCommit, false, "application/json"),
        (Fault::NoDAfterCommit, true, "application/json"),
    ];
    sb.push_faults(cases.iter().map(|(f, _, _)| *f));
    for (fault, records, content_type) in cases {
        let before = sb.payments().len();
        let info = format!("{fault:?}");
        let r = put(&sb, &c, 3, &tx_body(&info)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{fault:?}");
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(ct.starts_with(content_type), "{fault:?}: {ct}");
        let text = r.text().await.unwrap();
        match fault {
            Fault::EmptyBeforeCommit | Fault::EmptyAfterCommit => assert_eq!(text, ""),
            Fault::NoDBeforeCommit | Fault::NoDAfterCommit => {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert!(v.get("d").is_none() && v.get("error").is_none(), "{v}");
            }
            _ => assert!(text.contains("<html>"), "{text}"),
        }
        assert_eq!(
            sb.payments().len(),
            before + usize::from(records),
            "{fault:?}"
        );
        if records {
            assert_eq!(sb.payments().last().unwrap().info, info);
        }
    }
    assert_eq!(sb.stats().faults_injected, 6);
}

#[tokio::test]
async fn huge_bodies_are_real_answers_padded_past_several_mib() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    sb.push_faults([Fault::HugeBody, Fault::GetHugeBody]);
    let r = put(&sb, &c, 4, &tx_body("huge")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() >= HUGE_BODY, "{}", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["d"]["Payments"]["results"][0]["info"], "huge");
    assert_eq!(sb.payments().len(), 1, "recorded");

    let r = get(&sb, &c, "Loans(4)/Payments").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() >= HUGE_BODY, "{}", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["d"]["results"][0]["info"], "huge");
}

#[tokio::test]
async fn redirects_point_at_redirect_to_and_record_nothing() {
    let target = start(SandboxConfig::default()).await;
    let sb = start(SandboxConfig {
        redirect_to: Some(target.base_url()),
        ..Default::default()
    })
    .await;
    let c = crate::loanpro::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    sb.push_faults([Fault::Redirect, Fault::GetRedirect]);
    let r = put(&sb, &c, 5, &tx_body("moved")).await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        r.headers()["location"],
        format!("{}/odata.svc/Loans(5)", target.base_url()).as_str()
    );
    let r = get(&sb, &c, "Loans(5)/Payments?$top=2").await.unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.headers()["location"],
        format!("{}/odata.svc/Loans(5)/Payments?$top=2", target.base_url()).as_str()
    );
    assert!(sb.payments().is_empty());
    assert_eq!(target.stats(), SandboxStats::default());

    // Without `redirect_to` a redirect points at the sandbox itself.
    let own = start(SandboxConfig::default()).await;
    own.push_faults([Fault::Redirect]);
    let r = put(&own, &c, 5, &tx_body("moved")).await.unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("{}/odata.svc/Loans(5)", own.base_url()).as_str()
    );
}
