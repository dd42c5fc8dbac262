//! `tdf-admin` end to end: the built binary (`cargo build --bins` first;
//! `scripts/test` does it; located like the Lambda binaries, `TDF_BIN_DIR`
//! honoured) against moto (DynamoDB, SSM, SES; a stand-in DescribeStacks)
//! and against a local data dir. Orders are seeded through the ledger's own
//! claim → complete (and a refund through its standing change), as
//! fulfilment writes them; the acceptance test fulfils them through the real
//! `fulfill` binary instead.

use crate::support::*;
use serde_json::{Value, json};
use std::process::{Command, Output};
use testbed::moto::Moto;
use tickets::config::Config;
use tickets::inventory::{CounterKey, DynamoInventory, Hold, Inventory, Limit, Reservation};
use tickets::ledger::{Change, ClaimOutcome, DynamoLedger, Ledger, Notice, OrderDetails, VotekeyUse};
use tickets::pool::VotekeyPool;
use tickets::stripe::{ChargeView, PostalAddress};

const SENDER_DOMAIN: &str = "tokyodemofest.example";
const T0: i64 = 1_790_000_000;

/// The shared moto, knowing the example config's sender domain.
async fn moto_with_ses() -> std::sync::Arc<Moto> {
    let moto = moto().await;
    moto.verify_domain_identity(SENDER_DOMAIN).await.unwrap();
    moto
}

/// The example config (TDF catalog), with 50 Bronze tickets.
fn config() -> Value {
    let mut config = example_config();
    config["capacity"] = json!({ "bronze": 50 });
    config
}

/// `tdf-admin args` (with moto's AWS environment when given), not yet run.
pub fn admin_command(moto: Option<&Moto>, args: &[&str]) -> Command {
    let mut command = Command::new(binary("tdf-admin"));
    command.args(args).env_remove("AWS_PROFILE");
    if let Some(moto) = moto {
        command.envs(moto.aws_env());
    }
    command
}

/// Runs `tdf-admin args` (with moto's AWS environment when given).
pub fn admin(moto: Option<&Moto>, args: &[&str]) -> Output {
    admin_command(moto, args).output().expect("run tdf-admin")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit 0 and stdout, or a panic with what it printed.
pub fn ok(output: Output) -> String {
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    stdout(&output)
}

pub fn json_of(output: Output) -> Value {
    serde_json::from_str(&ok(output)).unwrap()
}

const BRONZE: &str = "cs_test_bronze";
const VISITOR: &str = "cs_test_visitor";
const REFUNDED: &str = "cs_test_refunded";
const PENDING: &str = "cs_test_pending";
const BRONZE_BUYER_NAME: &str = "山田 花子";
const QUOTED_NAME: &str = "Ada \"Countess\" Lovelace, Jr.";

fn details(id: &str, email: &str, name: &str, ticket: &str) -> OrderDetails {
    OrderDetails {
        session_id: id.into(),
        email: Some(email.into()),
        name: Some(name.into()),
        ticket: Some(ticket.into()),
        amount_total: Some(if ticket == "bronze" { 5000 } else { 2000 }),
        currency: Some("jpy".into()),
        locale: Some("ja".into()),
        payment_intent: Some(format!("pi_{id}")),
        ..OrderDetails::default()
    }
}

fn bronze(email: &str) -> OrderDetails {
    OrderDetails {
        options: [("tshirt".to_owned(), "l".to_owned())].into(),
        items: vec!["Bronze ticket × 1".into(), "T-shirt L × 1".into()],
        shipping_name: Some(BRONZE_BUYER_NAME.into()),
        shipping_address: Some(PostalAddress {
            line1: Some("渋谷2-21-1".into()),
            line2: Some("ヒカリエ 8F".into()),
            city: Some("渋谷区".into()),
            state: Some("東京都".into()),
            postal_code: Some("150-8510".into()),
            country: Some("JP".into()),
        }),
        ..details(BRONZE, email, BRONZE_BUYER_NAME, "bronze")
    }
}

/// The orders every test starts from: a Bronze buyer (emailed, shipped,
/// sold from a hold), a visitor (emailed), a refunded visitor (key
/// revoked), a pending order; and one more Bronze place held.
struct Seeded {
    bronze_email: String,
}

async fn seed<L: Ledger + Inventory>(ledger: &L, config: &Config) -> Seeded {
    let bronze_email = format!("{}@buyers.example.com", unique_name("hanako"));
    let limits = [Limit { counter: CounterKey::ticket(config.catalog().ticket("bronze").unwrap()), capacity: 50 }];
    let sold = Hold::new(&limits, T0, 2100).unwrap();
    assert_eq!(ledger.reserve(&sold, &limits).await.unwrap(), Reservation::Held);
    let open = Hold::new(&limits, T0 + 5, 2100).unwrap();
    assert_eq!(ledger.reserve(&open, &limits).await.unwrap(), Reservation::Held);

    let bronze = OrderDetails { hold_id: Some(sold.id.clone()), ..bronze(&bronze_email) };
    emailed(ledger, &bronze, "BCDFGHJK", Some(&sold), T0).await;
    emailed(ledger, &details(VISITOR, "ada@example.com", QUOTED_NAME, "visitor"), "CDFGHJKL", None, T0 + 10).await;
    let refunded = details(REFUNDED, "bob@example.com", "Bob", "visitor");
    emailed(ledger, &refunded, "DFGHJKLM", None, T0 + 20).await;
    let record = ledger.get(REFUNDED).await.unwrap();
    let charge = ChargeView {
        id: "ch_1".into(),
        payment_intent: Some(format!("pi_{REFUNDED}")),
        amount: 2000,
        amount_refunded: 2000,
    };
    let change = Change::after_charge(record.as_ref(), &charge).unwrap();
    assert!(ledger.update_standing(&refunded, &change, T0 + 30).await.unwrap());
    ledger.record(&details(PENDING, "carol@example.com", "Carol", "visitor"), T0 + 40).await.unwrap();
    Seeded { bronze_email }
}

async fn emailed(ledger: &dyn Ledger, details: &OrderDetails, key: &str, sale: Option<&Hold>, now: i64) {
    let claim = ledger.claim(details, Notice::Votekey, VotekeyUse::Reserve(key), sale, now, 10).await.unwrap();
    let ClaimOutcome::Claimed { token, .. } = claim else { panic!("claim: {claim:?}") };
    assert!(ledger.complete(&details.session_id, Notice::Votekey, &token, "msg-seed", now + 1).await.unwrap());
}

/// A ledger and an inventory on the same DynamoDB table.
struct Table {
    ledger: DynamoLedger,
    inventory: DynamoInventory,
}

impl Ledger for Table {
    fn get<'a>(
        &'a self,
        id: &'a str,
    ) -> tickets::BoxFuture<'a, Result<Option<tickets::ledger::OrderRecord>, tickets::ledger::LedgerFault>> {
        self.ledger.get(id)
    }
    fn record<'a>(
        &'a self,
        d: &'a OrderDetails,
        now: i64,
    ) -> tickets::BoxFuture<'a, Result<(), tickets::ledger::LedgerFault>> {
        self.ledger.record(d, now)
    }
    fn claim<'a>(
        &'a self,
        d: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        sale: Option<&'a Hold>,
        now: i64,
        lease: i64,
    ) -> tickets::BoxFuture<'a, Result<ClaimOutcome, tickets::ledger::LedgerFault>> {
        self.ledger.claim(d, notice, votekey, sale, now, lease)
    }
    fn update_standing<'a>(
        &'a self,
        d: &'a OrderDetails,
        change: &'a Change,
        now: i64,
    ) -> tickets::BoxFuture<'a, Result<bool, tickets::ledger::LedgerFault>> {
        self.ledger.update_standing(d, change, now)
    }
    fn find_by_payment_intent<'a>(
        &'a self,
        pi: &'a str,
    ) -> tickets::BoxFuture<'a, Result<Option<String>, tickets::ledger::LedgerFault>> {
        self.ledger.find_by_payment_intent(pi)
    }
    fn complete<'a>(
        &'a self,
        id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> tickets::BoxFuture<'a, Result<bool, tickets::ledger::LedgerFault>> {
        self.ledger.complete(id, notice, token, message_id, now)
    }
    fn release_claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        now: i64,
    ) -> tickets::BoxFuture<'a, Result<bool, tickets::ledger::LedgerFault>> {
        self.ledger.release_claim(id, token, now)
    }
}

impl Inventory for Table {
    fn reserve<'a>(
        &'a self,
        hold: &'a Hold,
        limits: &'a [Limit],
    ) -> tickets::BoxFuture<'a, Result<Reservation, tickets::ledger::LedgerFault>> {
        self.inventory.reserve(hold, limits)
    }
    fn release<'a>(
        &'a self,
        hold: &'a Hold,
        now: i64,
    ) -> tickets::BoxFuture<'a, Result<bool, tickets::ledger::LedgerFault>> {
        self.inventory.release(hold, now)
    }
    fn hold<'a>(&'a self, id: &'a str) -> tickets::BoxFuture<'a, Result<Option<Hold>, tickets::ledger::LedgerFault>> {
        self.inventory.hold(id)
    }
    fn counts<'a>(
        &'a self,
        c: &'a [CounterKey],
    ) -> tickets::BoxFuture<'a, Result<Vec<tickets::inventory::Counts>, tickets::ledger::LedgerFault>> {
        self.inventory.counts(c)
    }
    fn expired_holds<'a>(
        &'a self,
        now: i64,
        max: usize,
    ) -> tickets::BoxFuture<'a, Result<Vec<Hold>, tickets::ledger::LedgerFault>> {
        self.inventory.expired_holds(now, max)
    }
    fn park<'a>(&'a self, hold: &'a Hold) -> tickets::BoxFuture<'a, Result<bool, tickets::ledger::LedgerFault>> {
        self.inventory.park(hold)
    }
}

/// A fresh orders table in moto, seeded, and the config in a fresh parameter.
async fn seeded_table(moto: &Moto) -> (String, String, Table, Seeded) {
    let table_name = unique_name("orders");
    moto.create_orders_table(&table_name).await.unwrap();
    let parameter = format!("/tdf-tickets/{}", unique_name("admin"));
    moto.put_parameter(&parameter, &config().to_string()).await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&aws_config(moto));
    let table = Table {
        ledger: DynamoLedger::new(client.clone(), table_name.clone()),
        inventory: DynamoInventory::new(client, table_name.clone()),
    };
    let seeded = seed(&table, &Config::from_json(&config().to_string()).unwrap()).await;
    (table_name, parameter, table, seeded)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn votekeys_export_gives_wuhu_the_emailed_keys_and_the_revoked_ones_apart() {
    let moto = moto_with_ses().await;
    let (table, ..) = seeded_table(&moto).await;
    let wuhu = ok(admin(Some(&moto), &["votekeys", "export", "--table", &table, "--format", "wuhu"]));
    assert_eq!(wuhu, "BCDFGHJK\nCDFGHJKL\n");
    let as_json = json_of(admin(Some(&moto), &["--table", &table, "votekeys", "export", "--format", "json"]));
    assert_eq!(as_json, json!({ "votekeys": ["BCDFGHJK", "CDFGHJKL"] }));
    let revoked = ok(admin(Some(&moto), &["votekeys", "export", "--revoked", "--table", &table]));
    assert_eq!(lines(&revoked), ["DFGHJKLM"]);
}

#[tokio::test]
async fn the_shipping_list_has_the_bronze_buyers_address_and_size_in_japanese() {
    let moto = moto_with_ses().await;
    let (table, ..) = seeded_table(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shipping.csv");
    let printed =
        ok(admin(Some(&moto), &["orders", "export", "--shipping", "--table", &table, "--out", file.to_str().unwrap()]));
    assert!(printed.contains("1 parcel") && printed.contains("tshirt l: 1"), "{printed}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a byte order mark");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert_eq!(
        lines(text),
        [
            "name,line1,line2,city,state,postal_code,country,tshirt",
            "山田 花子,渋谷2-21-1,ヒカリエ 8F,渋谷区,東京都,150-8510,JP,l",
        ]
    );
    assert!(!text.contains('@') && !text.contains("BCDFGHJK"), "no email, no votekey: {text}");

    // To standard output: the CSV alone there, the count on standard error.
    let output = admin(Some(&moto), &["orders", "export", "--shipping", "--table", &table]);
    assert!(stderr(&output).contains("tshirt l: 1"));
    let csv = ok(output);
    assert!(csv.starts_with('\u{feff}') && csv.contains("150-8510") && !csv.contains("parcel"), "{csv}");
}

#[tokio::test]
async fn the_orders_csv_has_every_order_quoted_as_rfc_4180() {
    let moto = moto_with_ses().await;
    let (table, ..) = seeded_table(&moto).await;
    let csv = ok(admin(Some(&moto), &["orders", "export", "--table", &table]));
    let csv = csv.strip_prefix('\u{feff}').expect("a byte order mark");
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        rows[0],
        "session_id,status,email,name,ticket,options,amount,currency,votekey,votekey_state,created_at,emailed_at,\
         refunded_amount,dispute_status"
    );
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(rows[1].starts_with("cs_test_bronze,emailed,") && rows[1].contains(",tshirt=l,5000,jpy,BCDFGHJK,valid,"));
    assert!(rows[1].contains(",2026-09-21T14:13:20Z,2026-09-21T14:13:21Z,"), "{}", rows[1]);
    assert!(rows[2].contains(",\"Ada \"\"Countess\"\" Lovelace, Jr.\","), "{}", rows[2]);
    assert!(rows[3].starts_with("cs_test_refunded,refunded,") && rows[3].contains(",DFGHJKLM,revoked (refund),"));
    assert!(rows[3].ends_with(",2000,"), "{}", rows[3]);
    assert!(rows[4].starts_with("cs_test_pending,pending,"));
}

#[tokio::test]
async fn orders_list_show_and_stats() {
    let moto = moto_with_ses().await;
    let (table, parameter, seeded_table, _) = seeded_table(&moto).await;
    let all = json_of(admin(Some(&moto), &["orders", "list", "--table", &table, "--json"]));
    let ids: Vec<&str> = all["orders"].as_array().unwrap().iter().map(|o| o["session_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [PENDING, REFUNDED, VISITOR, BRONZE], "newest first");
    let refunded =
        json_of(admin(Some(&moto), &["orders", "list", "--status", "refunded", "--table", &table, "--json"]));
    assert_eq!(refunded["orders"][0]["revoked_reason"], "refund");
    assert_eq!(refunded["orders"].as_array().unwrap().len(), 1);
    let table_text = ok(admin(Some(&moto), &["orders", "list", "--table", &table]));
    assert!(
        table_text.contains(BRONZE_BUYER_NAME)
            && table_text.contains("revoked (refund)")
            && table_text.contains("4 orders")
    );

    let shown = json_of(admin(Some(&moto), &["orders", "show", BRONZE, "--table", &table, "--json"]));
    assert_eq!(
        (shown["votekey"].as_str(), shown["shipping_address"]["postal_code"].as_str()),
        (Some("BCDFGHJK"), Some("150-8510"))
    );
    let missing = admin(Some(&moto), &["orders", "show", "cs_test_nope", "--table", &table]);
    assert_eq!(missing.status.code(), Some(1));

    let stats = json_of(admin(
        Some(&moto),
        &["orders", "stats", "--table", &table, "--config-parameter", &parameter, "--json"],
    ));
    assert_eq!(
        stats["orders"],
        json!({ "total": 4, "disputed": 0, "revoked": 1, "partly_refunded": 0, "by_status": {
            "pending": 1, "claimed": 0, "emailed": 2, "failure_claimed": 0, "failed": 0, "refunded": 1 } })
    );
    let bronze = &stats["availability"]["tickets"]["bronze"];
    assert_eq!(
        (bronze["capacity"].as_u64(), bronze["sold"].as_u64(), bronze["held"].as_u64(), bronze["available"].as_u64()),
        (Some(50), Some(1), Some(1), Some(48))
    );
    // The very figures of GET /availability.
    let config = Config::from_json(&config().to_string()).unwrap();
    let mut expected = tickets::checkout::availability_report(&config, Some(&seeded_table), 0).await.unwrap();
    let mut got = stats["availability"].clone();
    expected["generated_at"] = json!(0);
    got["generated_at"] = json!(0);
    assert_eq!(got, expected);
    let text = ok(admin(Some(&moto), &["orders", "stats", "--table", &table, "--config-parameter", &parameter]));
    assert!(text.contains("ticket bronze") && text.contains("refunded"), "{text}");
    let without_config = ok(admin(Some(&moto), &["orders", "stats", "--table", &table]));
    assert!(without_config.contains("need the config"), "{without_config}");
}

#[tokio::test]
async fn resend_sends_one_more_email_with_the_same_key_and_records_it() {
    let moto = moto_with_ses().await;
    let (table, parameter, seeded_table, seeded) = seeded_table(&moto).await;
    let to_buyer = |emails: &[testbed::moto::SentEmail], address: &str| {
        emails.iter().filter(|e| e.recipients().any(|r| r == address)).cloned().collect::<Vec<_>>()
    };
    assert!(to_buyer(&moto.sent_emails().await.unwrap(), &seeded.bronze_email).is_empty());
    let printed =
        ok(admin(Some(&moto), &["orders", "resend", BRONZE, "--table", &table, "--config-parameter", &parameter]));
    assert!(printed.contains("BCDFGHJK") && printed.contains(&seeded.bronze_email), "{printed}");
    let sent = to_buyer(&moto.sent_emails().await.unwrap(), &seeded.bronze_email);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("BCDFGHJK") && sent[0].body.contains(BRONZE_BUYER_NAME), "{}", sent[0].body);
    let record = seeded_table.get(BRONZE).await.unwrap().unwrap();
    assert_eq!((record.votekey.as_deref(), record.resent.count), (Some("BCDFGHJK"), Some(1)));

    let corrected = format!("{}@corrected.example.com", unique_name("hanako"));
    ok(admin(
        Some(&moto),
        &["orders", "resend", BRONZE, "--to", &corrected, "--table", &table, "--config-parameter", &parameter],
    ));
    assert_eq!(to_buyer(&moto.sent_emails().await.unwrap(), &corrected).len(), 1);
    let record = seeded_table.get(BRONZE).await.unwrap().unwrap();
    assert_eq!((record.resent.count, record.resent.last_to.as_deref()), (Some(2), Some(corrected.as_str())));

    for (id, why) in [(PENDING, "pending"), (REFUNDED, "revoked"), ("cs_test_nope", "no order")] {
        let refused =
            admin(Some(&moto), &["orders", "resend", id, "--table", &table, "--config-parameter", &parameter]);
        assert_eq!(refused.status.code(), Some(1), "{id}");
        assert!(stderr(&refused).contains(why), "{id}: {}", stderr(&refused));
    }
    let no_config = admin(Some(&moto), &["orders", "resend", BRONZE, "--table", &table]);
    assert_eq!(no_config.status.code(), Some(2), "{}", stderr(&no_config));
}

#[tokio::test]
async fn config_check_push_and_show() {
    let moto = moto_with_ses().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let mut test_config = config();
    test_config["stripe_api_secret_key"] = json!("sk_test_51TESTsecretvalue0000AAAA");
    let good = write("good.json", &test_config);
    assert!(ok(admin(None, &["config", "check", &good])).contains("ok (test mode"));

    let mut bad = test_config.clone();
    bad["product_bronze_ticket"] = json!("prod_NotAPrice");
    let checked = admin(None, &["config", "check", &write("bad.json", &bad)]);
    assert_eq!(checked.status.code(), Some(1));
    assert!(stdout(&checked).contains("`product_bronze_ticket`"), "{}", stdout(&checked));
    let as_json = admin(None, &["config", "check", &write("bad.json", &bad), "--json"]);
    assert_eq!(as_json.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<Value>(&as_json.stdout).unwrap()["problems"][0]["key"],
        "product_bronze_ticket"
    );
    let mut secret = test_config.clone();
    secret["stripe_api_secret_key"] = json!("pk_live_FAKE_NEVERPRINTME");
    let checked = admin(None, &["config", "check", &write("secret.json", &secret)]);
    assert_eq!(checked.status.code(), Some(1));
    assert!(stdout(&checked).contains("stripe_api_secret_key") && !stdout(&checked).contains("NEVERPRINTME"));

    // Push: created, then changed by key; secrets only as prefix…last four.
    let parameter = format!("/tdf-tickets/{}", unique_name("push"));
    let created = ok(admin(Some(&moto), &["config", "push", &good, "--parameter", &parameter]));
    assert!(
        created.contains("created") && created.contains("+ stripe_api_secret_key = \"sk_test_…AAAA\""),
        "{created}"
    );
    assert!(!created.contains("TESTsecretvalue"), "{created}");
    assert_eq!(
        moto.get_parameter(&parameter).await.unwrap().as_deref(),
        Some(std::fs::read_to_string(&good).unwrap().as_str())
    );
    let mut renamed = test_config.clone();
    renamed["event_name"] = json!("Tokyo Demo Fest 2027");
    renamed.as_object_mut().unwrap().remove("wuhu_url");
    let updated =
        ok(admin(Some(&moto), &["config", "push", &write("renamed.json", &renamed), "--parameter", &parameter]));
    assert!(
        updated.contains("~ event_name: \"Tokyo Demo Fest\" → \"Tokyo Demo Fest 2027\"")
            && updated.contains("- wuhu_url"),
        "{updated}"
    );
    assert!(!updated.contains("stripe_api_secret_key"), "unchanged keys are not listed: {updated}");

    // A live key with the stored test config's price ids: refused, nothing written.
    let mut live = renamed.clone();
    live["stripe_api_secret_key"] = json!("sk_live_FAKE_LIVEsecret_0000BBBB");
    let refused = admin(Some(&moto), &["config", "push", &write("live.json", &live), "--parameter", &parameter]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("price_1TdfBronzeTicket") && !stderr(&refused).contains("LIVEsecret"),
        "{}",
        stderr(&refused)
    );
    assert!(moto.get_parameter(&parameter).await.unwrap().unwrap().contains("sk_test_"));
    let invalid = admin(Some(&moto), &["config", "push", &write("bad.json", &bad), "--parameter", &parameter]);
    assert_eq!(invalid.status.code(), Some(1));

    let shown = json_of(admin(Some(&moto), &["config", "show", "--parameter", &parameter, "--json"]));
    assert_eq!(shown["config"]["stripe_api_secret_key"], "sk_test_…AAAA");
    assert_eq!(shown["config"]["webhook_signing_secret"], "whsec_…cret");
    assert_eq!(shown["config"]["event_name"], "Tokyo Demo Fest 2027");
    assert_eq!(shown["valid"], true);
    let text = ok(admin(Some(&moto), &["config", "show", "--config-parameter", &parameter]));
    assert!(
        text.contains("sk_test_…AAAA") && !text.contains("TESTsecret") && !text.contains("development_secret"),
        "{text}"
    );
    assert_eq!(admin(Some(&moto), &["config", "show"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["orders", "list"][..],
        &["orders", "frobnicate"],
        &["orders", "list", "--table", "T", "--local", "/tmp"],
        &["votekeys", "export", "--format", "csv", "--local", "/tmp"],
        &["config", "check"],
        &["--config-file", "a", "--config-parameter", "b", "orders", "stats", "--local", "/tmp"],
    ] {
        let output = admin(None, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    }
    for args in [
        &["--help"][..],
        &["orders", "export", "--help"],
        &["votekeys", "export", "--help"],
        &["config", "push", "--help"],
    ] {
        let help = ok(admin(None, args));
        assert!(help.contains("Usage: tdf-admin"), "{help}");
    }
    assert!(ok(admin(None, &["orders", "export", "--help"])).contains("byte order mark"));
}

#[tokio::test]
async fn a_local_data_dir_works_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let ledger = localstore::FileLedger::new(data.join("ledger.json"));
    let config_text = config().to_string();
    let seeded = seed(&ledger, &Config::from_json(&config_text).unwrap()).await;
    let config_file = data.join("config.json");
    std::fs::write(&config_file, &config_text).unwrap();
    let local = data.to_str().unwrap();
    let config_file = config_file.to_str().unwrap();

    assert_eq!(ok(admin(None, &["votekeys", "export", "--local", local])), "BCDFGHJK\nCDFGHJKL\n");
    let shipping = ok(admin(None, &["orders", "export", "--shipping", "--local", local]));
    assert!(shipping.contains("山田 花子") && shipping.contains("150-8510"), "{shipping}");
    let stats = json_of(admin(None, &["orders", "stats", "--local", local, "--config-file", config_file, "--json"]));
    assert_eq!(stats["availability"]["tickets"]["bronze"]["sold"], 1);
    assert_eq!(stats["orders"]["by_status"]["emailed"], 2);

    ok(admin(None, &["orders", "resend", BRONZE, "--local", local, "--config-file", config_file]));
    let outbox = localstore::OutboxMailer::new(data.join("outbox")).list().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, seeded.bronze_email);
    assert!(outbox[0].text.contains("BCDFGHJK"));
    let record = ledger.get(BRONZE).await.unwrap().unwrap();
    assert_eq!(record.resent.count, Some(1));

    let missing = admin(None, &["orders", "list", "--local", data.join("nope").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
}

/// A stand-in for CloudFormation's DescribeStacks (moto's CloudFormation
/// needs Python packages the test venv does not carry): `with-output` has
/// both outputs; `old-stack` only the table output and the
/// `ConfigParameterName` stack parameter; any other stack does not exist.
/// The SDK is pointed at it with `AWS_ENDPOINT_URL_CLOUDFORMATION`.
fn fake_cloudformation(table: &str, parameter: &str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (table, parameter) = (table.to_owned(), parameter.to_owned());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body);
            let output =
                |k: &str, v: &str| format!("<member><OutputKey>{k}</OutputKey><OutputValue>{v}</OutputValue></member>");
            let stack = |name: &str, outputs: String, parameters: String| {
                format!(
                    "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStacksResult>\
                     <Stacks><member><StackName>{name}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1</StackId>\
                     <CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>\
                     <Outputs>{outputs}</Outputs><Parameters>{parameters}</Parameters></member></Stacks>\
                     </DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>"
                )
            };
            let (status, xml) = if body.contains("StackName=with-output") {
                let outputs = output("OrdersTableName", &table) + &output("ConfigParameter", &parameter);
                ("200 OK", stack("with-output", outputs, String::new()))
            } else if body.contains("StackName=old-stack") {
                let parameters = format!(
                    "<member><ParameterKey>ConfigParameterName</ParameterKey><ParameterValue>{parameter}</ParameterValue></member>"
                );
                ("200 OK", stack("old-stack", output("OrdersTableName", &table), parameters))
            } else {
                let error = "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>\
                             <Message>Stack with id nope does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>";
                ("400 Bad Request", error.to_owned())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    url
}

#[tokio::test]
async fn a_stack_names_the_table_and_the_config_parameter() {
    let moto = moto_with_ses().await;
    let (table, parameter, ..) = seeded_table(&moto).await;
    let cloudformation = fake_cloudformation(&table, &parameter);
    let run = |args: &[&str]| {
        admin_command(Some(&moto), args).env("AWS_ENDPOINT_URL_CLOUDFORMATION", &cloudformation).output().unwrap()
    };
    assert_eq!(ok(run(&["votekeys", "export", "--stack", "with-output"])), "BCDFGHJK\nCDFGHJKL\n");
    for stack in ["with-output", "old-stack"] {
        let stats = json_of(run(&["orders", "stats", "--stack", stack, "--json"]));
        assert_eq!(
            stats["availability"]["tickets"]["bronze"]["held"], 1,
            "{stack}: the config parameter from the stack"
        );
        let shown = json_of(run(&["config", "show", "--stack", stack, "--json"]));
        assert_eq!(shown["parameter"], parameter.as_str());
    }
    let missing = run(&["orders", "list", "--stack", "no-such-stack"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"), "{}", stderr(&missing));
}

/// A key file as Wuhu's admin page exports it (one key per line), here
/// with a byte order mark, a blank line and a CRLF to show they are read.
fn key_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn votekeys_import_fills_the_pool_that_stats_counts() {
    let moto = moto_with_ses().await;
    let (table, _, seeded_table, _) = seeded_table(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    // BCDFGHJK was emailed to the Bronze buyer: never pooled.
    let keys = key_file(dir.path(), "keys.txt", "\u{feff}WUHU0001\r\nWUHU0002\n\n  WUHU0003  \nBCDFGHJK\nWUHU0001\n");
    let imported = json_of(admin(Some(&moto), &["votekeys", "import", &keys, "--table", &table, "--json"]));
    assert_eq!(
        (&imported["keys"], &imported["added"], &imported["skipped"], &imported["remaining"]),
        (&json!(4), &json!(3), &json!(1), &json!(3)),
        "{imported}"
    );
    let again = ok(admin(Some(&moto), &["votekeys", "import", &keys, "--table", &table]));
    assert!(
        lines(&again).iter().any(|l| l.split_whitespace().take(2).eq(["added", "0"]))
            && lines(&again).iter().any(|l| l.split_whitespace().take(2).eq(["skipped", "4"]))
            && lines(&again).iter().any(|l| l.split_whitespace().take(2).eq(["remaining", "3"])),
        "{again}"
    );
    assert_eq!(seeded_table.ledger.remaining().await.unwrap(), 3);

    // A bad line: exit 1 naming it, nothing written.
    let bad = key_file(dir.path(), "bad.txt", "WUHU0004\nWUHU 0005\n");
    let refused = admin(Some(&moto), &["votekeys", "import", &bad, "--table", &table]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("bad.txt: line 2: not a votekey"), "{}", stderr(&refused));
    assert_eq!(seeded_table.ledger.remaining().await.unwrap(), 3, "nothing imported from a bad file");
    let missing = admin(Some(&moto), &["votekeys", "import", "/nonexistent/keys.txt", "--table", &table]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(admin(Some(&moto), &["votekeys", "import", &keys]).status.code(), Some(2), "no target");

    // Drawn in import order, then stats counts what is left.
    assert_eq!(seeded_table.ledger.draw().await.unwrap().as_deref(), Some("WUHU0001"));
    let stats = json_of(admin(Some(&moto), &["orders", "stats", "--table", &table, "--json"]));
    assert_eq!(stats["votekey_pool"], json!({ "remaining": 2, "source": null, "empty": false }));
    let text = ok(admin(Some(&moto), &["orders", "stats", "--table", &table]));
    assert!(text.contains("votekey pool: 2 keys"), "{text}");

    // --local: the same, in the local ledger file.
    let local = tempfile::tempdir().unwrap();
    let local_dir = local.path().to_str().unwrap();
    let imported = json_of(admin(None, &["votekeys", "import", &keys, "--local", local_dir, "--json"]));
    assert_eq!((&imported["added"], &imported["remaining"]), (&json!(4), &json!(4)), "{imported}");
    let mut pool_config = config();
    pool_config["votekey_source"] = json!("pool");
    let config_file = key_file(local.path(), "config.json", &pool_config.to_string());
    let stats =
        json_of(admin(None, &["orders", "stats", "--local", local_dir, "--config-file", &config_file, "--json"]));
    assert_eq!(stats["votekey_pool"], json!({ "remaining": 4, "source": "pool", "empty": false }));
    let pool = localstore::FileLedger::new(local.path().join("ledger.json"));
    assert_eq!(pool.draw().await.unwrap().as_deref(), Some("WUHU0001"));
}

// ---- issue 12's acceptance: orders fulfilled by the real `fulfill` binary -------------------

/// What a buyer of the acceptance test bought and was sent.
struct Fulfilled {
    session: String,
    email: String,
    votekey: String,
}

/// Bought through the checkout binary with `form`, paid by `buyer` on the
/// fake Stripe, fulfilled by the fulfill binary: one email, with the key
/// the order records.
async fn fulfilled(
    shop: &capacity::Shop,
    checkout: &mut Container,
    fulfill: &mut Container,
    form: &str,
    buyer: testbed::stripe::Buyer,
) -> Fulfilled {
    use capacity::{checkout_event, json_body, redirect_session, webhook_event};
    let (response, _) = checkout.invoke(checkout_event(form)).await;
    assert_eq!(status(&response), 303, "{response}\n{}", checkout.logs());
    let session = redirect_session(&response);
    shop.stripe.pay(&session, &buyer, testbed::stripe::PaymentOutcome::Paid).unwrap();
    let completed = shop.stripe.event("checkout.session.completed", &session).unwrap();
    let (response, _) = fulfill.invoke(webhook_event(&completed)).await;
    assert_eq!((status(&response), json_body(&response)["outcome"].clone()), (200, json!("emailed")), "{response}");
    let items = shop.moto.scan_table(&shop.table).await.unwrap();
    let order = items.iter().find(|i| i["pk"]["S"] == format!("session#{session}")).expect("the order");
    let votekey = order["votekey"]["S"].as_str().expect("a votekey").to_owned();
    let sent = emails_to(&shop.moto, &buyer.email).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains(&votekey), "the email carries the order's key: {}", sent[0].body);
    Fulfilled { session, email: buyer.email, votekey }
}

async fn emails_to(moto: &Moto, address: &str) -> Vec<testbed::moto::SentEmail> {
    moto.sent_emails().await.unwrap().into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
}

fn visitor_buyer() -> testbed::stripe::Buyer {
    testbed::stripe::Buyer { email: unique_email("visitor"), name: "Ada Lovelace".into(), shipping: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_after_three_sessions_through_the_fulfill_binary() {
    let shop = capacity::Shop::start(config()).await;
    let (mut checkout, mut fulfill) = (shop.checkout().await, shop.fulfill().await);
    let bronze_buyer = testbed::stripe::Buyer {
        email: unique_email("bronze"),
        name: BRONZE_BUYER_NAME.into(),
        shipping: Some(testbed::stripe::Address {
            line1: "渋谷2-21-1".into(),
            line2: Some("ヒカリエ 8F".into()),
            city: "渋谷区".into(),
            state: Some("東京都".into()),
            postal_code: "150-8510".into(),
            country: "JP".into(),
        }),
    };
    let bronze = fulfilled(&shop, &mut checkout, &mut fulfill, "type=bronze&tshirt=m", bronze_buyer).await;
    let first_visitor = fulfilled(&shop, &mut checkout, &mut fulfill, "type=visitor", visitor_buyer()).await;
    let second_visitor = fulfilled(&shop, &mut checkout, &mut fulfill, "type=visitor", visitor_buyer()).await;
    let emailed = [&bronze, &first_visitor, &second_visitor];
    let table = shop.table.as_str();

    // Exactly the three emailed keys, one per line.
    let wuhu = ok(admin(Some(&shop.moto), &["votekeys", "export", "--table", table, "--format", "wuhu"]));
    assert!(wuhu.ends_with('\n') && !wuhu.contains("\n\n"), "{wuhu:?}");
    let mut exported: Vec<&str> = lines(&wuhu);
    exported.sort();
    let mut expected: Vec<&str> = emailed.iter().map(|f| f.votekey.as_str()).collect();
    expected.sort();
    assert_eq!(exported, expected);

    // The shipping list: the Bronze buyer's postal code and size, one row.
    let shipping = ok(admin(Some(&shop.moto), &["orders", "export", "--shipping", "--table", table]));
    let rows: Vec<&str> = shipping.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), 2, "a header and the one Bronze order: {shipping}");
    let header: Vec<&str> = rows[0].split(',').collect();
    let row: Vec<&str> = rows[1].split(',').collect();
    let column =
        |name: &str| row[header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name}: {shipping}"))];
    assert_eq!((column("name"), column("postal_code"), column("tshirt")), (BRONZE_BUYER_NAME, "150-8510", "m"));

    // Resend: one more email, the same key.
    let printed = ok(admin(
        Some(&shop.moto),
        &["orders", "resend", &bronze.session, "--table", table, "--config-parameter", &shop.parameter],
    ));
    assert!(printed.contains(&bronze.votekey), "{printed}");
    let sent = emails_to(&shop.moto, &bronze.email).await;
    assert_eq!(sent.len(), 2, "the votekey email and the resend");
    assert!(sent[1].body.contains(&bronze.votekey), "{}", sent[1].body);
    for other in [&first_visitor, &second_visitor] {
        assert!(!sent[1].body.contains(&other.votekey));
        assert_eq!(emails_to(&shop.moto, &other.email).await.len(), 1);
    }
    let wuhu_after = ok(admin(Some(&shop.moto), &["votekeys", "export", "--table", table, "--format", "wuhu"]));
    assert_eq!(wuhu_after, wuhu, "a resend gives no new key");

    // config check: a bad price id, exit 1 naming its key.
    let dir = tempfile::tempdir().unwrap();
    let mut bad = config();
    bad["product_tshirt_m"] = json!("prod_NotAPriceId");
    let file = key_file(dir.path(), "bad-config.json", &serde_json::to_string_pretty(&bad).unwrap());
    let checked = admin(None, &["config", "check", &file]);
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    assert!(stdout(&checked).contains("product_tshirt_m"), "{}", stdout(&checked));
    fulfill.assert_alive();
}
