//! The local server's purchase flow over plain HTTP (no browser): ticket
//! form → 303 to the stand-in → pay → signed webhook → success URL →
//! thank-you page; one email in the outbox, the order emailed in the ledger.
//! The `browser` module does the same in headless Chromium.

use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tickets::ledger::OrderStatus;

type Http = Client<HttpConnector, Body>;

async fn send(client: &Http, method: Method, url: &str, form: Option<&str>) -> (StatusCode, Option<String>, String) {
    let mut request = Request::builder().method(method).uri(url).header(header::ACCEPT, "text/html");
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request.body(form.map_or_else(Body::empty, |f| Body::from(f.to_owned()))).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20).await.unwrap();
    (status, location, String::from_utf8_lossy(&body).into_owned())
}

async fn start() -> (tempfile::TempDir, local::Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = local::Options::defaults();
    options.addr = "127.0.0.1:0".parse().unwrap();
    options.data_dir = dir.path().to_path_buf();
    (dir, local::Server::start(options).await.unwrap())
}

#[tokio::test]
async fn bronze_l_from_form_to_votekey_email() {
    let (_dir, server) = start().await;
    let base = server.url().to_owned();
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());

    let (status, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("action=\"{base}checkout\"")), "the ticket page posts to /checkout");
    assert!(page.contains("name=\"tshirt\""));

    let (status, location, _) =
        send(&client, Method::POST, &format!("{base}checkout"), Some("type=bronze&tshirt=l")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let hosted = location.unwrap();
    assert!(hosted.starts_with(&format!("{base}stripe/pay/cs_test_")), "{hosted}");

    let (status, _, page) = send(&client, Method::GET, &hosted, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No real payment happens"));
    assert!(page.contains("Bronze ticket") && page.contains("T-shirt (L)") && page.contains("¥14,000"));
    assert!(page.contains("id=\"line1\""), "a shipping form for a shipped T-shirt");

    // Without the address the stand-in refuses, and nothing is paid.
    let (status, _, page) = send(&client, Method::POST, &hosted, Some("email=ada%40example.com&name=Ada")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("shipping address"), "{page}");
    assert!(server.webhook_deliveries().is_empty());

    let form =
        "email=ada%40example.com&name=Ada+Lovelace&line1=1-2-3+Jingumae&city=Tokyo&postal_code=150-0001&country=JP";
    let (status, location, _) = send(&client, Method::POST, &hosted, Some(form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session_id = hosted.rsplit('/').next().unwrap();
    assert_eq!(location.as_deref(), Some(format!("{base}fulfill?session_id={session_id}").as_str()));
    let deliveries = server.webhook_deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200), "{deliveries:?}");
    assert_eq!(deliveries[0].event_type, "checkout.session.completed");

    // The buyer's return finds the email sent and goes on to the thank-you page.
    let (status, location, _) = send(&client, Method::GET, &location.unwrap(), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(format!("{base}thanks").as_str()));
    let (status, _, page) = send(&client, Method::GET, &format!("{base}thanks"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Thank you"));

    // Paying twice is refused; still one email.
    let (status, _, page) = send(&client, Method::GET, &hosted, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("already paid"));
    let (status, _, _) = send(&client, Method::POST, &hosted, Some(form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let emails = server.outbox().list().await.unwrap();
    assert_eq!(emails.len(), 1);
    let orders = server.ledger().list().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, OrderStatus::Emailed);
    assert!(emails[0].text.contains(orders[0].votekey.as_deref().unwrap()));
    assert!(emails[0].text.contains("T-shirt size: L"));

    let (_, _, page) = send(&client, Method::GET, &format!("{base}outbox"), None).await;
    assert!(page.contains("Your votekey for Tokyo Demo Fest"));
    let (status, _, html) = send(&client, Method::GET, &format!("{base}outbox/{}/html", emails[0].id), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html, emails[0].html);
    let (_, _, page) = send(&client, Method::GET, &format!("{base}ledger"), None).await;
    assert!(page.contains("status-emailed") && page.contains("1-2-3 Jingumae"));
}

#[tokio::test]
async fn a_forged_webhook_is_refused_and_bad_forms_never_reach_stripe() {
    let (_dir, server) = start().await;
    let base = server.url().to_owned();
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let (status, _, _) = send(&client, Method::POST, &format!("{base}fulfill"), Some("{}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no Stripe-Signature");
    let (status, _, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=bronze")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "bronze needs a size");
    let (status, _, _) = send(&client, Method::GET, &format!("{base}stripe/pay/cs_test_nope"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn options_from_the_command_line() {
    let options = local::Options::from_env_and_args(["--port".into(), "4000".into(), "--reset".into()]).unwrap();
    assert_eq!(options.addr.to_string(), "127.0.0.1:4000");
    assert!(options.reset);
    assert!(local::Options::from_env_and_args(["--bogus".into()]).is_err());
    assert!(local::is_placeholder_key("sk_test_replace_with_your_test_key"));
    assert!(!local::is_placeholder_key("sk_test_51Habcdefghijklmnop"));
}
