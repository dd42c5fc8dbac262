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
    let back = format!("{base}fulfill?session_id={session_id}&stamp=");
    assert!(location.as_deref().is_some_and(|l| l.starts_with(&back)), "{location:?}: with checkout's return stamp");
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

/// The local server on a port of its own, with the example config plus
/// `extra` keys in a config file (its URLs pointing at that port).
pub(super) async fn start_with(extra: serde_json::Value) -> (tempfile::TempDir, local::Server) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let text = local::EXAMPLE_CONFIG.replace("127.0.0.1:3000", &format!("127.0.0.1:{port}"));
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut options = local::Options::defaults();
    options.addr = ([127, 0, 0, 1], port).into();
    options.config = local::ConfigChoice::File(path);
    options.data_dir = dir.path().join("data");
    let server = local::Server::start(options).await.unwrap();
    assert!(server.info.warnings.is_empty(), "{:?}", server.info.warnings);
    (dir, server)
}

/// The `<p class="availability …" id="left-{ticket}">` text on the ticket page.
fn left(page: &str, ticket: &str) -> String {
    let marker = format!("id=\"left-{ticket}\">");
    let Some(start) = page.find(&marker) else { return String::new() };
    let rest = &page[start + marker.len()..];
    rest[..rest.find("</p>").unwrap()].to_owned()
}

/// The `<option value="{value}" …>…</option>` of the ticket page, whole.
fn option<'a>(page: &'a str, value: &str) -> &'a str {
    let start = page.find(&format!("<option value=\"{value}\"")).unwrap();
    let rest = &page[start..];
    &rest[..rest.find("</option>").unwrap()]
}

/// The ledger file's hold `id` (its JSON), read as a person would.
fn hold_in_file(server: &local::Server, id: &str) -> serde_json::Value {
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(server.ledger().path()).unwrap()).unwrap();
    file["inventory"]["holds"][id].clone()
}

#[tokio::test]
async fn capacity_holds_expire_button_and_sale_on_the_local_server() {
    let started = std::time::Instant::now();
    let (dir, server) = start_with(serde_json::json!({
        "capacity": {"visitor": 1},
        "tshirt_stock": {"s": 2, "m": 1},
    }))
    .await;
    let base = server.url().to_owned();
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());

    // What is left, on the page and in GET /availability (the checkout handler's).
    let (status, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(left(&page, "visitor"), "1 left");
    assert_eq!(left(&page, "bronze"), "", "bronze itself is unlimited");
    assert!(option(&page, "s").ends_with("(2 left)") && option(&page, "m").ends_with("(1 left)"), "{page}");
    assert!(!option(&page, "l").contains("left"), "size L is not stocked");
    let (status, _, json) = send(&client, Method::GET, &format!("{base}availability"), None).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["tickets"]["visitor"]["available"], 1);
    assert_eq!(json["tickets"]["bronze"]["options"]["tshirt"]["m"]["available"], 1);

    // The one visitor place goes into an open checkout; the next visitor finds it sold out.
    let (status, location, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=visitor")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let first = location.unwrap();
    assert!(first.starts_with(&format!("{base}stripe/pay/cs_test_")), "{first}");
    let (status, _, page) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=visitor")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("Sold out"), "{page}");
    // The last size M goes the same way.
    let (status, _, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=bronze&tshirt=m")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=bronze&tshirt=m")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(left(&page, "visitor"), "Sold out · 1 in open checkouts");
    assert!(page.contains("<button type=\"submit\" disabled>Buy: Visitor ticket</button>"));
    let m = option(&page, "m");
    assert!(m.contains(" disabled>") && m.ends_with("(sold out)"), "{m}");

    let inventory = server.ledger().inventory().await.unwrap();
    let holds = inventory.holds_newest_first();
    assert_eq!(holds.len(), 2);
    let visitor_hold = holds.iter().find(|h| h.counters[0].as_str() == "ticket#visitor").unwrap().id.clone();
    assert_eq!(hold_in_file(&server, &visitor_hold)["status"], "held");

    // The hosted page's expire button: checkout.session.expired, signed, to /fulfill; the place comes back.
    let (status, _, hosted) = send(&client, Method::GET, &first, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(hosted.contains("id=\"expire\""), "the stand-in offers the expire button");
    let (status, location, _) = send(&client, Method::POST, &first, Some("action=expire")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(base.as_str()), "back to cancel_url");
    let deliveries = server.webhook_deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].event_type, "checkout.session.expired");
    assert_eq!(deliveries[0].url, format!("{base}fulfill"));
    assert_eq!(deliveries[0].status, Some(200), "the signature checks out: {deliveries:?}");
    assert_eq!(hold_in_file(&server, &visitor_hold)["status"], "released");
    let (_, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(left(&page, "visitor"), "1 left");

    // Paying sells the new hold: sold = 1, nothing held.
    let (status, location, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=visitor")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = location.unwrap();
    let (status, location, _) =
        send(&client, Method::POST, &second, Some("email=grace%40example.com&name=Grace+Hopper")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with(&format!("{base}fulfill?session_id=")));
    let deliveries = server.webhook_deliveries();
    assert_eq!((deliveries[1].event_type.as_str(), deliveries[1].status), ("checkout.session.completed", Some(200)));
    let inventory = server.ledger().inventory().await.unwrap();
    let sold = inventory.holds.values().find(|h| h.counters[0].as_str() == "ticket#visitor" && h.id != visitor_hold);
    assert_eq!(hold_in_file(&server, &sold.unwrap().id)["status"], "sold");
    let visitor = inventory.counters.iter().find(|(k, _)| k.as_str() == "ticket#visitor").unwrap().1;
    assert_eq!((visitor.held, visitor.sold), (0, 1));
    let (_, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(left(&page, "visitor"), "Sold out");
    let (_, _, page) = send(&client, Method::GET, &format!("{base}ledger"), None).await;
    assert!(page.contains("id=\"holds\"") && page.contains("id=\"counters\""));
    assert!(page.contains("hold-sold") && page.contains("hold-released") && page.contains("hold-held"));
    assert!(page.contains("<code>ticket#visitor</code></td><td class=\"held\">0</td><td class=\"sold\">1</td><td class=\"capacity\">1</td>"));

    // Nothing is overdue for the sweeper yet (holds last hold_minutes).
    assert_eq!(server.sweep().await.unwrap(), tickets::fulfill::SweepReport::default());

    // --reset empties the ledger file, holds and counters with it.
    drop(server);
    let mut options = local::Options::defaults();
    options.addr = "127.0.0.1:0".parse().unwrap();
    options.data_dir = dir.path().join("data");
    let again = local::Server::start(options.clone()).await.unwrap();
    assert_eq!(again.ledger().inventory().await.unwrap().holds.len(), 3, "kept without --reset");
    drop(again);
    options.reset = true;
    let again = local::Server::start(options).await.unwrap();
    let emptied = again.ledger().inventory().await.unwrap();
    assert!(emptied.holds.is_empty() && emptied.counters.is_empty(), "{emptied:?}");
    eprintln!("local_flow capacity test: {:.2} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn the_sweeper_gives_back_an_overdue_hold_and_the_page_says_when_sale_opens() {
    let (_dir, server) = start_with(serde_json::json!({"capacity": {"bronze": 5}, "tshirt_stock": {"l": 3}})).await;
    let base = server.url().to_owned();
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let (status, location, _) =
        send(&client, Method::POST, &format!("{base}checkout"), Some("type=bronze&tshirt=l")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location:?}");
    let (_, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(left(&page, "bronze"), "4 left · 1 in open checkouts");
    assert!(option(&page, "l").ends_with("(2 left)"));

    // The hold's expiry passes with no word from Stripe (edited in the file, as a person could).
    let path = server.ledger().path().to_path_buf();
    let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let holds = file["inventory"]["holds"].as_object_mut().unwrap();
    assert_eq!(holds.len(), 1);
    let hold = holds.values_mut().next().unwrap();
    hold["expires_at"] = serde_json::json!(hold["created_at"].as_i64().unwrap() - 1000);
    std::fs::write(&path, file.to_string()).unwrap();

    // The sweeper expires the open session through the stand-in's API and gives the places back.
    let report = server.sweep().await.unwrap();
    assert_eq!((report.checked, report.released, report.expired_now, report.failed), (1, 1, 1, 0), "{report:?}");
    let (_, _, page) = send(&client, Method::GET, &base, None).await;
    assert_eq!(left(&page, "bronze"), "5 left");
    assert!(option(&page, "l").ends_with("(3 left)"));
    let (status, _, hosted) = send(&client, Method::GET, location.as_deref().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(hosted.contains("expired"), "the session can no longer be paid");
    assert_eq!(server.sweep().await.unwrap().checked, 0, "once");

    // A sale that has not opened yet: said on the page, no Buy button to press.
    drop(server);
    let (_dir, server) = start_with(serde_json::json!({"sale_opens_at": "2099-12-01T10:00:00+09:00"})).await;
    let (_, _, page) = send(&client, Method::GET, server.url(), None).await;
    assert_eq!(left(&page, "visitor"), "Sale opens 2099-12-01 10:00 (UTC+09:00)");
    assert!(page.contains("<button type=\"submit\" disabled>Buy: Visitor ticket</button>"), "{page}");
}

/// GET `url` with this `Host` header (none when `host` is `None`): the status and body.
async fn get_as(url: &str, host: Option<&str>) -> (StatusCode, String) {
    let client: Http = Client::builder(TokioExecutor::new()).set_host(false).build(HttpConnector::new());
    let mut request = Request::builder().uri(url);
    if let Some(host) = host {
        request = request.header(header::HOST, host);
    }
    let response = client.request(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn only_loopback_host_names_are_answered_so_dns_rebinding_reads_nothing() {
    let (_dir, server) = start().await;
    let base = server.url().to_owned();
    let port = base.trim_end_matches('/').rsplit(':').next().unwrap().to_owned();
    let client: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let (status, _, _) = send(&client, Method::POST, &format!("{base}checkout"), Some("type=visitor")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // The ledger, the outbox, the stand-in's session list and every other route.
    for path in ["ledger", "outbox", "v1/checkout/sessions", "", "fulfill?session_id=cs_test_x"] {
        let url = format!("{base}{path}");
        for host in [Some(format!("evil.example:{port}")), Some("evil.example".into()), None] {
            let (status, body) = get_as(&url, host.as_deref()).await;
            assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{path} as {host:?}: {body}");
            assert!(body.starts_with("tdf-local answers only to"), "{path} as {host:?}: {body}");
        }
        for host in
            [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "localhost".into()]
        {
            let (status, body) = get_as(&url, Some(&host)).await;
            assert_ne!(status, StatusCode::MISDIRECTED_REQUEST, "{path} as {host}: {body}");
        }
    }
    let (status, page) = get_as(&format!("{base}ledger"), Some(&format!("localhost:{port}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<a href=\"/ledger\">Ledger</a>"), "the ledger page itself: {page}");
}
