//! Headers every answer of the fulfill handler carries, whatever its status.

use super::*;
use crate::doubles::ScriptedSource;

fn landing(id: &str) -> lambda_http::Request {
    let uri = format!("https://tickets.example/fulfill?session_id={id}");
    ::http::Request::builder().uri(uri).header("accept", "text/html").body(lambda_http::Body::Empty).unwrap()
}

fn completed(id: &str) -> lambda_http::Request {
    let body = serde_json::json!({ "id": "evt_ns", "type": "checkout.session.completed", "data": { "object": { "id": id, "object": "checkout.session" } } });
    let body = body.to_string();
    let signature = crate::webhook::sign(body.as_bytes(), "whsec_local_development_secret", T0);
    let request = ::http::Request::builder().method("POST").uri("https://tickets.example/fulfill");
    request.header("stripe-signature", signature).body(lambda_http::Body::Text(body)).unwrap()
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_ns"));
    let emailed = bed.fulfill.handle(completed("cs_test_ns")).await;
    let thanks = bed.fulfill.handle(landing("cs_test_ns")).await;
    let malformed = bed.fulfill.handle(landing("%22%3Cscript%3E")).await;
    let down = ConfigCache::new(Box::new(ScriptedSource::new(vec![Err("SSM is down".into())])), Duration::from_secs(1));
    let fulfill = Fulfill::new(Arc::new(down), bed.payments.clone(), bed.ledger.clone(), Arc::new(MemoryMailer::new()));
    let unavailable = fulfill.handle(landing("cs_test_ns")).await;
    for (response, status) in [(emailed, 200), (thanks, 303), (malformed, 400), (unavailable, 503)] {
        assert_eq!(response.status(), status, "{:?}", response.body());
        assert_eq!(response.headers()[::http::header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{status}");
    }
}
