//! Asserts the facts of template.yaml that the deployment relies on, so that a
//! later edit cannot quietly drop a route, change the runtime, lose the
//! orders table on stack deletion or widen an IAM policy.
//!
//! The template is parsed with serde_norway; CloudFormation's short tags
//! (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...) arrive as tagged values and are
//! rewritten into their long JSON form (`{"Ref": ..}`, `{"Fn::Sub": ..}`), so
//! every check works on the same shape CloudFormation sees.
//!
//! Each check is a function returning `Err(reason)`; `checks_catch_mutations`
//! feeds deliberately broken copies of the template to every check and
//! asserts that each one fails, so none of them can pass vacuously.

use serde_json::{Map, Value as J, json};
use std::collections::BTreeSet;

const TEMPLATE: &str = include_str!("../../template.yaml");

type Check = fn(&J) -> Result<(), String>;

// ------------------------------------------------------------------ parsing

/// Parses CloudFormation YAML into long-form JSON.
fn parse(yaml: &str) -> J {
    let value: serde_norway::Value = serde_norway::from_str(yaml).expect("template.yaml is valid YAML");
    to_json(value)
}

fn to_json(value: serde_norway::Value) -> J {
    use serde_norway::Value as Y;
    match value {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().expect("YAML number"))
            }
        }
        Y::String(s) => J::String(s),
        Y::Sequence(items) => J::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(mapping) => {
            let mut out = Map::new();
            for (k, v) in mapping {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => panic!("unsupported mapping key {other:?}"),
                };
                out.insert(key, to_json(v));
            }
            J::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            let (key, inner) = match tag {
                "Ref" => ("Ref".to_owned(), inner),
                "Condition" => ("Condition".to_owned(), inner),
                // `!GetAtt Res.Attr` is short for `Fn::GetAtt: [Res, Attr]`
                // (split at the first dot; attribute names may contain dots).
                "GetAtt" => {
                    let inner = match inner {
                        J::String(s) => {
                            let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                            json!([res, attr])
                        }
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                "Sub" | "If" | "Equals" | "Not" | "And" | "Or" | "Join" | "Select" | "Split" | "FindInMap"
                | "Base64" | "Cidr" | "GetAZs" | "ImportValue" | "Length" | "ToJsonString" => {
                    (format!("Fn::{tag}"), inner)
                }
                other => panic!("unknown CloudFormation tag !{other}"),
            };
            let mut out = Map::new();
            out.insert(key, inner);
            J::Object(out)
        }
    }
}

// ------------------------------------------------------------------ helpers

fn at<'a>(v: &'a J, path: &[&str]) -> Option<&'a J> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn resources(t: &J) -> &Map<String, J> {
    t["Resources"].as_object().expect("Resources is a mapping")
}

fn resource<'a>(t: &'a J, id: &str) -> Result<&'a J, String> {
    resources(t).get(id).ok_or_else(|| format!("resource {id} is missing"))
}

fn rtype(r: &J) -> &str {
    r["Type"].as_str().unwrap_or("")
}

fn of_type<'a>(t: &'a J, ty: &str) -> Vec<(&'a str, &'a J)> {
    resources(t).iter().filter(|(_, r)| rtype(r) == ty).map(|(id, r)| (id.as_str(), r)).collect()
}

fn is_ref(v: Option<&J>, name: &str) -> bool {
    v.and_then(|v| v.get("Ref")).and_then(J::as_str) == Some(name)
}

fn is_no_value(v: &J) -> bool {
    is_ref(Some(v), "AWS::NoValue")
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(msg()) }
}

/// A string or a list of strings (IAM's Action, Architectures, ...).
fn strings(v: Option<&J>) -> Vec<String> {
    match v {
        Some(J::String(s)) => vec![s.clone()],
        Some(J::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    }
}

/// `GetAtt X.Arn` of an AWS::Logs::LogGroup that has a retention period.
fn log_group_with_retention(t: &J, reference: Option<&J>, what: &str) -> Result<(), String> {
    let id = reference
        .and_then(|r| r.get("Ref").or_else(|| r.get("Fn::GetAtt").and_then(|g| g.get(0))))
        .and_then(J::as_str)
        .ok_or_else(|| format!("{what}: not a Ref/GetAtt of a log group in the template"))?;
    let group = resource(t, id)?;
    ensure(rtype(group) == "AWS::Logs::LogGroup", || format!("{what}: {id} is not a log group"))?;
    ensure(at(group, &["Properties", "RetentionInDays"]).is_some(), || {
        format!("{what}: log group {id} has no RetentionInDays")
    })
}

// ------------------------------------------------------------------ checks

const FUNCTIONS: [(&str, &str, u64); 2] = [("CheckoutFunction", "checkout", 10), ("FulfillFunction", "fulfill", 15)];

/// Every function event: (function, event name, event).
fn events(t: &J) -> Vec<(&str, &str, &J)> {
    let mut out = Vec::new();
    for (id, function) in of_type(t, "AWS::Serverless::Function") {
        for (name, event) in at(function, &["Properties", "Events"]).and_then(J::as_object).into_iter().flatten() {
            out.push((id, name.as_str(), event));
        }
    }
    out
}

/// The one event that is not an HTTP route: the hold sweeper's schedule
/// (checked by `check_sweep`).
const SWEEP: (&str, &str) = ("FulfillFunction", "Sweep");

/// The HTTP API's routes as (METHOD, /path, function). Every event but the
/// sweeper's schedule must be an HttpApi route on TicketsApi, payload 2.0.
fn routes(t: &J) -> Result<BTreeSet<(String, String, String)>, String> {
    let mut routes = BTreeSet::new();
    for (id, name, event) in events(t) {
        if (id, name) == SWEEP && event["Type"] == "Schedule" {
            continue;
        }
        let props = &event["Properties"];
        ensure(event["Type"] == "HttpApi", || {
            format!("{id}.{name}: event type {} (only HttpApi routes, and the Sweep schedule)", event["Type"])
        })?;
        ensure(is_ref(props.get("ApiId"), "TicketsApi"), || format!("{id}.{name}: ApiId is not !Ref TicketsApi"))?;
        ensure(props["PayloadFormatVersion"] == "2.0", || {
            format!("{id}.{name}: PayloadFormatVersion must be \"2.0\"")
        })?;
        let method = props["Method"].as_str().unwrap_or("").to_ascii_uppercase();
        let path = props["Path"].as_str().unwrap_or("").to_owned();
        routes.insert((method, path, id.to_owned()));
    }
    Ok(routes)
}

/// POST /checkout and GET /availability -> checkout; POST and GET /fulfill
/// -> fulfill; nothing else reaches either function (GET /checkout is not
/// routed). The one HTTP API is throttled and logged.
fn check_routes(t: &J) -> Result<(), String> {
    let apis = of_type(t, "AWS::Serverless::HttpApi");
    ensure(apis.len() == 1 && apis[0].0 == "TicketsApi", || {
        format!("expected exactly one AWS::Serverless::HttpApi named TicketsApi, found {apis:?}")
    })?;
    let routes = routes(t)?;
    let expected: BTreeSet<(String, String, String)> = [
        ("POST", "/checkout", "CheckoutFunction"),
        ("GET", "/availability", "CheckoutFunction"),
        ("POST", "/fulfill", "FulfillFunction"),
        ("GET", "/fulfill", "FulfillFunction"),
    ]
    .iter()
    .map(|(m, p, f)| (m.to_string(), p.to_string(), f.to_string()))
    .collect();
    ensure(routes == expected, || format!("routes {routes:?}, expected {expected:?}"))?;

    let api = &apis[0].1["Properties"];
    for key in ["ThrottlingBurstLimit", "ThrottlingRateLimit"] {
        let limit = at(api, &["DefaultRouteSettings", key]).and_then(J::as_f64).unwrap_or(0.0);
        ensure(limit > 0.0 && limit <= 100.0, || {
            format!("TicketsApi DefaultRouteSettings.{key} must be set (0 < x <= 100), is {limit}")
        })?;
    }
    log_group_with_retention(t, at(api, &["AccessLogSettings", "DestinationArn"]), "TicketsApi access logs")?;
    ensure(
        at(api, &["AccessLogSettings", "Format"]).and_then(J::as_str).is_some_and(|f| f.contains("$context.requestId")),
        || "TicketsApi AccessLogSettings.Format is missing".to_owned(),
    )
}

/// A throttling limit as the range of values it can take: a literal number,
/// or `!Ref` of a Number parameter with MinValue, MaxValue and a Default
/// between them.
fn limit_range(t: &J, v: Option<&J>, what: &str) -> Result<(f64, f64), String> {
    let number = |v: Option<&J>| v.and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    if let Some(n) = number(v) {
        return Ok((n, n));
    }
    let name = v.and_then(|v| v.get("Ref")).and_then(J::as_str).ok_or_else(|| format!("{what}: not set"))?;
    let p = at(t, &["Parameters", name]).ok_or_else(|| format!("{what}: !Ref {name} is not a parameter"))?;
    ensure(p["Type"] == "Number", || format!("{what}: parameter {name} must be Type Number"))?;
    let (min, max, default) = (number(p.get("MinValue")), number(p.get("MaxValue")), number(p.get("Default")));
    match (min, max, default) {
        (Some(min), Some(max), Some(d)) if min <= d && d <= max => Ok((min, max)),
        _ => Err(format!("{what}: parameter {name} needs MinValue <= Default <= MaxValue")),
    }
}

/// Per-route throttling for a ticket drop. Each RouteSettings key names an
/// existing route (otherwise the deployment fails); the checkout, availability
/// and webhook routes have both limits; no route is throttled below the
/// DefaultRouteSettings floor, and no burst is below its rate. POST /checkout:
/// a burst for a whole 200-person party in one second, a rate no higher
/// than Stripe's live limit (100 requests/s). All within the account's HTTP
/// API limits (10,000 requests/s, bursts of 5,000). No function reserves
/// (and so caps) its concurrency.
fn check_throttling(t: &J) -> Result<(), String> {
    let api = &resource(t, "TicketsApi")?["Properties"];
    let floor_rate = limit_range(t, at(api, &["DefaultRouteSettings", "ThrottlingRateLimit"]), "default rate")?.1;
    let floor_burst = limit_range(t, at(api, &["DefaultRouteSettings", "ThrottlingBurstLimit"]), "default burst")?.1;
    let settings =
        api.get("RouteSettings").and_then(J::as_object).ok_or("TicketsApi has no per-route RouteSettings")?;
    let keys: BTreeSet<String> = routes(t)?.into_iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    for key in settings.keys() {
        ensure(keys.contains(key), || format!("RouteSettings {key:?} names no route (routes: {keys:?})"))?;
    }
    for key in ["POST /checkout", "GET /availability", "POST /fulfill"] {
        ensure(settings.contains_key(key), || format!("RouteSettings has no {key:?}"))?;
    }
    for (key, s) in settings {
        let rate = limit_range(t, s.get("ThrottlingRateLimit"), &format!("{key} ThrottlingRateLimit"))?;
        let burst = limit_range(t, s.get("ThrottlingBurstLimit"), &format!("{key} ThrottlingBurstLimit"))?;
        ensure(rate.0 >= floor_rate && burst.0 >= floor_burst, || {
            format!("{key}: limits {rate:?}/{burst:?} can go below the default {floor_rate}/{floor_burst}")
        })?;
        ensure(burst.0 >= rate.1, || format!("{key}: burst {burst:?} can be below the rate {rate:?}"))?;
        ensure(rate.1 <= 10_000.0 && burst.1 <= 5_000.0, || {
            format!("{key}: {rate:?}/{burst:?} above the account's HTTP API limits (10000/s, bursts of 5000)")
        })?;
        if key == "POST /checkout" {
            ensure(rate.1 <= 100.0, || format!("{key}: rate {rate:?} can exceed Stripe's 100 requests/s"))?;
            ensure(burst.0 >= 200.0, || format!("{key}: burst {burst:?} can be below a 200-person party"))?;
        }
    }
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        ensure(at(f, &["Properties", "ReservedConcurrentExecutions"]).is_none(), || {
            format!("{id}: ReservedConcurrentExecutions would cap the function during a ticket drop")
        })?;
    }
    Ok(())
}

/// The hold sweeper: the only scheduled event, FulfillFunction.Sweep, an
/// enabled EventBridge schedule every 5 minutes (by default) with a
/// description and the standard Scheduled Event payload (no custom input).
fn check_sweep(t: &J) -> Result<(), String> {
    let scheduled: Vec<(&str, &str)> =
        events(t).into_iter().filter(|(_, _, e)| e["Type"] != "HttpApi").map(|(id, n, _)| (id, n)).collect();
    ensure(scheduled == [SWEEP], || format!("non-HTTP events {scheduled:?}, expected only {SWEEP:?}"))?;
    let event = &resource(t, SWEEP.0)?["Properties"]["Events"][SWEEP.1];
    ensure(event["Type"] == "Schedule", || format!("Sweep: Type {} (expected Schedule)", event["Type"]))?;
    let p = &event["Properties"];
    let schedule = match p.get("Schedule") {
        Some(J::String(s)) => s.as_str(),
        Some(r) if r.get("Ref").is_some() => {
            let name = r["Ref"].as_str().unwrap_or("");
            let param = at(t, &["Parameters", name]).ok_or_else(|| format!("Sweep: !Ref {name} is not a parameter"))?;
            ensure(param.get("AllowedPattern").is_some(), || format!("parameter {name} needs an AllowedPattern"))?;
            param["Default"].as_str().unwrap_or("")
        }
        _ => "",
    };
    ensure(schedule == "rate(5 minutes)", || format!("Sweep: schedule {schedule:?} (expected rate(5 minutes))"))?;
    ensure(p["Enabled"] == true || p["State"] == "ENABLED", || "Sweep: must be enabled".to_owned())?;
    ensure(p["Description"].as_str().is_some_and(|d| !d.is_empty()), || "Sweep: Description missing".to_owned())?;
    for key in ["Input", "InputPath", "InputTransformer"] {
        ensure(p.get(key).is_none(), || format!("Sweep: {key} set; the function expects the standard payload"))?;
    }
    Ok(())
}

/// Both functions: provided.al2023 on arm64, bootstrap handler, built by
/// cargo-lambda from the workspace root with the right binary, small memory,
/// short timeout, JSON logs into their own log group with retention.
fn check_functions(t: &J) -> Result<(), String> {
    ensure(at(t, &["Globals", "Function"]).is_none(), || {
        "Globals.Function is set: make this test merge it before relying on per-function values".to_owned()
    })?;
    let functions = of_type(t, "AWS::Serverless::Function");
    ensure(functions.len() == FUNCTIONS.len(), || format!("expected 2 functions, found {}", functions.len()))?;
    for (id, binary, timeout) in FUNCTIONS {
        let f = resource(t, id)?;
        let p = &f["Properties"];
        ensure(rtype(f) == "AWS::Serverless::Function", || format!("{id} is not an AWS::Serverless::Function"))?;
        ensure(p["Runtime"] == "provided.al2023", || format!("{id}: Runtime {}", p["Runtime"]))?;
        ensure(strings(p.get("Architectures")) == ["arm64"], || format!("{id}: Architectures {}", p["Architectures"]))?;
        ensure(p["Handler"] == "bootstrap", || format!("{id}: Handler {}", p["Handler"]))?;
        ensure(p["CodeUri"] == ".", || format!("{id}: CodeUri must be the workspace root \".\""))?;
        ensure(f["Metadata"]["BuildMethod"] == "rust-cargolambda", || {
            format!("{id}: BuildMethod {}", f["Metadata"]["BuildMethod"])
        })?;
        ensure(f["Metadata"]["BuildProperties"]["Binary"] == binary, || {
            format!("{id}: BuildProperties.Binary {} (expected {binary})", f["Metadata"]["BuildProperties"]["Binary"])
        })?;
        let memory = p["MemorySize"].as_u64().unwrap_or(0);
        ensure((128..=256).contains(&memory), || format!("{id}: MemorySize {memory} outside 128..=256"))?;
        ensure(p["Timeout"].as_u64() == Some(timeout), || {
            format!("{id}: Timeout {} (expected {timeout})", p["Timeout"])
        })?;
        ensure(at(p, &["LoggingConfig", "LogFormat"]).and_then(J::as_str) == Some("JSON"), || {
            format!("{id}: LoggingConfig.LogFormat must be JSON")
        })?;
        log_group_with_retention(t, at(p, &["LoggingConfig", "LogGroup"]), id)?;
    }
    Ok(())
}

/// Env vars the binaries read.
fn check_env(t: &J) -> Result<(), String> {
    for (id, _, _) in FUNCTIONS {
        let vars = at(resource(t, id)?, &["Properties", "Environment", "Variables"])
            .and_then(J::as_object)
            .ok_or_else(|| format!("{id}: no Environment.Variables"))?;
        ensure(is_ref(vars.get("CONFIG_PARAMETER"), "ConfigParameterName"), || {
            format!("{id}: CONFIG_PARAMETER must be !Ref ConfigParameterName")
        })?;
        ensure(vars.contains_key("CONFIG_TTL_SECONDS"), || format!("{id}: CONFIG_TTL_SECONDS missing"))?;
        // checkout keeps the ticket counters and holds there too.
        ensure(is_ref(vars.get("ORDERS_TABLE"), "OrdersTable"), || {
            format!("{id}: ORDERS_TABLE must be !Ref OrdersTable")
        })?;
    }
    Ok(())
}

/// The sparse index of open holds the sweeper queries.
const OPEN_HOLDS: &str = "open-holds";

/// The sparse index from a payment intent to its order, which refund and
/// dispute events are traced back through.
const PAYMENT_INTENTS: &str = "payment-intents";

/// The table's GSIs: (name, key schema, projection type).
fn gsis() -> [(&'static str, J, &'static str); 2] {
    [
        (
            OPEN_HOLDS,
            json!([{"AttributeName": "hold_state", "KeyType": "HASH"}, {"AttributeName": "expires_at", "KeyType": "RANGE"}]),
            "ALL",
        ),
        (PAYMENT_INTENTS, json!([{"AttributeName": "payment_intent", "KeyType": "HASH"}]), "KEYS_ONLY"),
    ]
}

/// The orders table outlives the stack, refuses deletion (deletion
/// protection), is on-demand and has PITR, and has
/// exactly two sparse indexes: open-holds (hold_state, expires_at; all
/// attributes) and payment-intents (payment_intent; keys only).
fn check_table(t: &J) -> Result<(), String> {
    let tables = of_type(t, "AWS::DynamoDB::Table");
    ensure(tables.len() == 1 && tables[0].0 == "OrdersTable", || {
        format!("expected one table OrdersTable, found {tables:?}")
    })?;
    let table = tables[0].1;
    ensure(table["DeletionPolicy"] == "Retain", || "OrdersTable DeletionPolicy must be Retain".to_owned())?;
    ensure(table["UpdateReplacePolicy"] == "Retain", || "OrdersTable UpdateReplacePolicy must be Retain".to_owned())?;
    let p = &table["Properties"];
    ensure(p["DeletionProtectionEnabled"] == true, || "OrdersTable needs DeletionProtectionEnabled: true".to_owned())?;
    ensure(p["BillingMode"] == "PAY_PER_REQUEST", || format!("OrdersTable BillingMode {}", p["BillingMode"]))?;
    ensure(at(p, &["PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"]) == Some(&J::Bool(true)), || {
        "OrdersTable needs PointInTimeRecoveryEnabled: true".to_owned()
    })?;
    ensure(p["KeySchema"] == json!([{"AttributeName": "pk", "KeyType": "HASH"}]), || {
        format!("OrdersTable KeySchema {}", p["KeySchema"])
    })?;
    // Exactly the key attributes of the table and its index (CloudFormation
    // rejects a definition that no key uses).
    let defined: BTreeSet<String> =
        p["AttributeDefinitions"].as_array().into_iter().flatten().map(J::to_string).collect();
    let expected: BTreeSet<String> = [("pk", "S"), ("hold_state", "S"), ("expires_at", "N"), ("payment_intent", "S")]
        .map(|(n, ty)| json!({"AttributeName": n, "AttributeType": ty}).to_string())
        .into();
    ensure(defined == expected, || format!("OrdersTable AttributeDefinitions {}", p["AttributeDefinitions"]))?;
    let indexes = p["GlobalSecondaryIndexes"].as_array().map(Vec::as_slice).unwrap_or_default();
    let names: BTreeSet<&str> = indexes.iter().filter_map(|g| g["IndexName"].as_str()).collect();
    let expected_names: BTreeSet<&str> = gsis().iter().map(|(name, _, _)| *name).collect();
    ensure(indexes.len() == expected_names.len() && names == expected_names, || {
        format!("OrdersTable needs exactly the GSIs {expected_names:?}: {}", p["GlobalSecondaryIndexes"])
    })?;
    for (name, key, projection) in gsis() {
        let gsi = indexes.iter().find(|g| g["IndexName"] == name).expect("checked above");
        ensure(gsi["KeySchema"] == key, || format!("{name} KeySchema {} (expected {key})", gsi["KeySchema"]))?;
        ensure(gsi["Projection"] == json!({"ProjectionType": projection}), || {
            format!("{name} Projection {} (expected {projection})", gsi["Projection"])
        })?;
        ensure(gsi.get("ProvisionedThroughput").is_none(), || format!("{name}: on demand, no ProvisionedThroughput"))?;
    }
    Ok(())
}

/// One IAM policy statement and the `Fn::If` conditions it sits under.
struct Statement<'a> {
    owner: String,
    conditions: Vec<String>,
    body: &'a J,
}

/// Every identity-policy statement in the template. Anything that could
/// grant permissions outside these documents is an error: SAM `Policies` on
/// a function (policy templates and managed policies), managed policy ARNs,
/// or a function without its own role (SAM would create one with
/// AWSLambdaBasicExecutionRole, whose logs statement is Resource "*").
fn statements(t: &J) -> Result<Vec<Statement<'_>>, String> {
    let mut out = Vec::new();
    for (id, r) in resources(t) {
        let p = &r["Properties"];
        match rtype(r) {
            "AWS::Serverless::Function" => {
                ensure(p.get("Policies").is_none(), || format!("{id}: use its own AWS::IAM::Role, not SAM Policies"))?;
                let role = at(p, &["Role", "Fn::GetAtt"]).and_then(|g| g.get(0)).and_then(J::as_str);
                let role = role.ok_or_else(|| format!("{id}: Role must be !GetAtt <role in this template>.Arn"))?;
                ensure(rtype(resource(t, role)?) == "AWS::IAM::Role", || {
                    format!("{id}: {role} is not an AWS::IAM::Role")
                })?;
            }
            "AWS::IAM::Role" => {
                ensure(p.get("ManagedPolicyArns").is_none() && p.get("PermissionsBoundary").is_none(), || {
                    format!("{id}: no managed policies (they are not checked here)")
                })?;
                for policy in p.get("Policies").and_then(J::as_array).into_iter().flatten() {
                    collect(&policy["PolicyDocument"]["Statement"], id, &mut vec![], &mut out)?;
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy" => {
                collect(&p["PolicyDocument"]["Statement"], id, &mut vec![], &mut out)?;
            }
            "AWS::IAM::User" | "AWS::IAM::Group" | "AWS::IAM::AccessKey" => {
                return Err(format!("{id}: unexpected {}", rtype(r)));
            }
            _ => {}
        }
    }
    ensure(!out.is_empty(), || "no IAM statements found".to_owned())?;
    Ok(out)
}

fn collect<'a>(
    v: &'a J,
    owner: &str,
    conditions: &mut Vec<String>,
    out: &mut Vec<Statement<'a>>,
) -> Result<(), String> {
    match v {
        J::Array(items) => items.iter().try_for_each(|i| collect(i, owner, conditions, out)),
        _ if is_no_value(v) => Ok(()),
        J::Object(o) if o.contains_key("Fn::If") => {
            let args =
                o["Fn::If"].as_array().filter(|a| a.len() == 3).ok_or_else(|| format!("{owner}: malformed Fn::If"))?;
            conditions.push(args[0].as_str().unwrap_or("").to_owned());
            let result =
                collect(&args[1], owner, conditions, out).and_then(|()| collect(&args[2], owner, conditions, out));
            conditions.pop();
            result
        }
        J::Object(_) => {
            out.push(Statement { owner: owner.to_owned(), conditions: conditions.clone(), body: v });
            Ok(())
        }
        other => Err(format!("{owner}: unexpected statement {other}")),
    }
}

/// A template parameter that flows into an IAM Resource must have an
/// AllowedPattern that cannot admit "*" (so no deploy-time value widens the
/// ARN into a wildcard). Rejects `.`, negated classes, `\S`/`\W`/`\D`,
/// `\*`, and classes containing `*` or a range spanning it.
fn check_safe_parameter(t: &J, name: &str) -> Result<(), String> {
    let param = at(t, &["Parameters", name]).ok_or_else(|| format!("IAM Resource uses unknown parameter {name}"))?;
    let pattern = param["AllowedPattern"]
        .as_str()
        .ok_or_else(|| format!("parameter {name} is used in an IAM Resource but has no AllowedPattern"))?;
    let bad = |why: &str| Err(format!("parameter {name}: AllowedPattern {pattern:?} could admit \"*\" ({why})"));
    let chars: Vec<char> = pattern.chars().collect();
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            if matches!(chars.get(i + 1), Some('S' | 'W' | 'D' | '*' | 'p' | 'P')) {
                return bad("escape");
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            } else if c == '*' {
                return bad("'*' in a class");
            } else if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|e| *e != ']') {
                let end = chars[i + 2];
                if c <= '*' && '*' <= end {
                    return bad("range spanning '*'");
                }
                i += 3;
                continue;
            }
        } else if c == '[' {
            in_class = true;
            if chars.get(i + 1) == Some(&'^') {
                return bad("negated class");
            }
        } else if c == '.' {
            return bad("unescaped '.'");
        }
        i += 1;
    }
    Ok(())
}

/// One leaf of a statement's Resource must name something specific.
fn check_resource_leaf(t: &J, owner: &str, leaf: &J) -> Result<(), String> {
    let err = |why: String| Err(format!("{owner}: Resource {leaf}: {why}"));
    match leaf {
        J::String(s) => {
            if s.contains('*') || !s.starts_with("arn:") {
                return err("literal resources must be full ARNs without '*'".into());
            }
            Ok(())
        }
        J::Array(items) => items.iter().try_for_each(|i| check_resource_leaf(t, owner, i)),
        _ if is_no_value(leaf) => Ok(()),
        J::Object(o) if o.len() == 1 => {
            let (k, v) = o.iter().next().unwrap();
            match k.as_str() {
                "Fn::If" => {
                    let args =
                        v.as_array().filter(|a| a.len() == 3).ok_or_else(|| format!("{owner}: malformed Fn::If"))?;
                    check_resource_leaf(t, owner, &args[1])?;
                    check_resource_leaf(t, owner, &args[2])
                }
                "Ref" => {
                    let name = v.as_str().unwrap_or("");
                    if resources(t).contains_key(name) { Ok(()) } else { check_safe_parameter(t, name) }
                }
                "Fn::GetAtt" => {
                    // e.g. a log group's Arn (".../log-group:NAME:*", the
                    // streams of that one group) or the table's Arn.
                    let id = v.get(0).and_then(J::as_str).unwrap_or("");
                    ensure(resources(t).contains_key(id) && v.get(1) == Some(&json!("Arn")), || {
                        format!("{owner}: Resource {leaf} must be the Arn of a resource in this template")
                    })
                }
                "Fn::Sub" => {
                    let s =
                        v.as_str().ok_or_else(|| format!("{owner}: only the one-argument Fn::Sub form is checked"))?;
                    if s.contains('*') {
                        return err("contains '*'".into());
                    }
                    // One index of a table in this template:
                    // ${Table.Arn}/index/<literal name>.
                    if let Some(rest) = s.strip_prefix("${") {
                        let (var, tail) = rest.split_once('}').unwrap_or_default();
                        let table = var.strip_suffix(".Arn").and_then(|id| resources(t).get(id));
                        let index = tail.strip_prefix("/index/").unwrap_or_default();
                        let literal = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
                        return ensure(
                            table.is_some_and(|r| rtype(r) == "AWS::DynamoDB::Table")
                                && !index.is_empty()
                                && index.chars().all(literal),
                            || format!("{owner}: Resource {leaf}: only ${{Table.Arn}}/index/<name> may start with ${{"),
                        );
                    }
                    if !s.starts_with("arn:${AWS::Partition}:") || s.ends_with(':') || s.ends_with('/') {
                        return err("must be a full ARN ending in a specific name".into());
                    }
                    // The part after the account must name one thing: it has
                    // to end with a ${Parameter} (checked below) or a literal.
                    let tail = s.rsplit(":${AWS::AccountId}:").next().unwrap_or("");
                    if tail.is_empty() || tail == s {
                        return err("must be scoped to this account (:${AWS::AccountId}:)".into());
                    }
                    for var in s.split("${").skip(1).map(|r| r.split('}').next().unwrap_or("")) {
                        if var.starts_with("AWS::") {
                            continue;
                        }
                        if let Some((id, _)) = var.split_once('.') {
                            ensure(resources(t).contains_key(id), || format!("{owner}: ${{{var}}} is not a resource"))?;
                        } else if !resources(t).contains_key(var) {
                            check_safe_parameter(t, var)?;
                        }
                    }
                    Ok(())
                }
                other => err(format!("{other} is not a form this test understands; extend the test")),
            }
        }
        _ => err("unexpected form".into()),
    }
}

/// Every IAM statement: Allow, explicit Action list without wildcards, and
/// Resource naming specific ARNs (no "*", no service-wide wildcard ARN).
fn check_iam_scoped(t: &J) -> Result<(), String> {
    for s in statements(t)? {
        let owner = &s.owner;
        let b = s.body;
        ensure(b.get("NotAction").is_none() && b.get("NotResource").is_none(), || {
            format!("{owner}: NotAction/NotResource is not allowed")
        })?;
        ensure(b["Effect"] == "Allow" || b["Effect"] == "Deny", || format!("{owner}: Effect {}", b["Effect"]))?;
        let actions = strings(b.get("Action"));
        ensure(!actions.is_empty(), || format!("{owner}: statement without Action: {b}"))?;
        for a in &actions {
            ensure(
                !a.contains('*') && a.split_once(':').is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty()),
                || format!("{owner}: action {a:?} must be one named service:Action"),
            )?;
        }
        let resource = b.get("Resource").ok_or_else(|| format!("{owner}: statement without Resource: {b}"))?;
        check_resource_leaf(t, owner, resource)?;
    }
    Ok(())
}

fn role_of<'a>(t: &'a J, function: &str) -> Result<&'a str, String> {
    at(resource(t, function)?, &["Properties", "Role", "Fn::GetAtt"])
        .and_then(|g| g.get(0))
        .and_then(J::as_str)
        .ok_or_else(|| format!("{function}: no Role"))
}

fn actions_of(t: &J, role: &str) -> Result<BTreeSet<String>, String> {
    Ok(statements(t)?.iter().filter(|s| s.owner == role).flat_map(|s| strings(s.body.get("Action"))).collect())
}

/// Each DynamoDB statement of a role as (Resource, actions).
fn dynamo_grants(all: &[Statement], role: &str) -> BTreeSet<(String, BTreeSet<String>)> {
    all.iter()
        .filter(|s| s.owner == role)
        .filter(|s| strings(s.body.get("Action")).iter().any(|a| a.starts_with("dynamodb:")))
        .map(|s| (s.body["Resource"].to_string(), strings(s.body.get("Action")).into_iter().collect()))
        .collect()
}

/// checkout reads its config, writes its logs, and keeps ticket counters and
/// holds with item actions on the orders table; fulfill gets exactly its item
/// actions on the table, Query on the open-holds index (the sweeper) and on
/// the payment-intents index (refunds and disputes) only, each in its own
/// statement, and SendEmail on the identity (and the configuration set only
/// when one is given). No Scan, no DeleteItem, no Query on the table itself,
/// and no ConditionCheckItem (no transaction uses a ConditionCheck).
fn check_least_privilege(t: &J) -> Result<(), String> {
    let all = statements(t)?;
    let checkout_role = role_of(t, "CheckoutFunction")?;
    let fulfill_role = role_of(t, "FulfillFunction")?;
    ensure(fulfill_role != checkout_role, || "the functions must not share a role".to_owned())?;
    let set = |actions: &[&str]| -> BTreeSet<String> { actions.iter().map(|a| format!("dynamodb:{a}")).collect() };
    let table = json!({"Fn::GetAtt": ["OrdersTable", "Arn"]}).to_string();
    let index = |name: &str| json!({"Fn::Sub": format!("${{OrdersTable.Arn}}/index/{name}")}).to_string();
    let checkout_items = set(&["GetItem", "BatchGetItem", "PutItem", "UpdateItem"]);
    let fulfill_items = set(&["GetItem", "PutItem", "UpdateItem"]);
    for (role, expected) in [
        (checkout_role, BTreeSet::from([(table.clone(), checkout_items.clone())])),
        (
            fulfill_role,
            BTreeSet::from([
                (table, fulfill_items.clone()),
                (index(OPEN_HOLDS), set(&["Query"])),
                (index(PAYMENT_INTENTS), set(&["Query"])),
            ]),
        ),
    ] {
        let got = dynamo_grants(&all, role);
        ensure(got == expected, || {
            format!("{role}: DynamoDB grants (Resource, actions) {got:?}, expected {expected:?}")
        })?;
    }
    for name in [OPEN_HOLDS, PAYMENT_INTENTS] {
        let has_index = at(resource(t, "OrdersTable")?, &["Properties", "GlobalSecondaryIndexes"])
            .and_then(J::as_array)
            .is_some_and(|indexes| indexes.iter().any(|g| g["IndexName"] == name));
        ensure(has_index, || format!("the Query grant names {name}, a GSI the table lacks"))?;
    }

    let base: BTreeSet<String> =
        ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter", "kms:Decrypt"].map(String::from).into();
    let checkout = actions_of(t, checkout_role)?;
    let allowed: BTreeSet<String> = base.union(&checkout_items).cloned().collect();
    ensure(checkout.is_subset(&allowed), || format!("checkout actions {checkout:?} exceed {allowed:?}"))?;

    let fulfill: Vec<&Statement> = all.iter().filter(|s| s.owner == fulfill_role).collect();
    let ses: Vec<&&Statement> =
        fulfill.iter().filter(|s| strings(s.body.get("Action")).iter().any(|a| a.starts_with("ses:"))).collect();
    ensure(ses.len() == 1 && strings(ses[0].body.get("Action")) == ["ses:SendEmail"], || {
        "fulfill: one statement with ses:SendEmail only".to_owned()
    })?;
    let targets = ses[0].body["Resource"].to_string();
    ensure(targets.contains(":identity/${SesIdentity}"), || {
        format!("fulfill SES Resource must name identity/${{SesIdentity}}: {targets}")
    })?;
    for r in ses[0].body["Resource"].as_array().into_iter().flatten() {
        if r.to_string().contains("configuration-set/") {
            ensure(r.get("Fn::If").and_then(|a| a.get(0)) == Some(&json!("HasSesConfigurationSet")), || {
                "the configuration-set ARN must sit under !If HasSesConfigurationSet".to_owned()
            })?;
        }
    }
    let fulfill_actions = actions_of(t, fulfill_role)?;
    let allowed: BTreeSet<String> =
        base.union(&fulfill_items).cloned().chain(["dynamodb:Query".to_owned(), "ses:SendEmail".to_owned()]).collect();
    ensure(fulfill_actions.is_subset(&allowed), || format!("fulfill actions {fulfill_actions:?} exceed {allowed:?}"))?;

    // ssm:GetParameter on exactly the config parameter.
    for s in all.iter().filter(|s| strings(s.body.get("Action")).contains(&"ssm:GetParameter".to_owned())) {
        let r = s.body["Resource"].to_string();
        ensure(
            r.contains(":parameter${ConfigParameterName}") && r.contains(":parameter/${ConfigParameterName}"),
            || {
                format!(
                    "{}: ssm:GetParameter must be on the ConfigParameterName ARN (with and without leading slash): {r}",
                    s.owner
                )
            },
        )?;
    }
    Ok(())
}

/// kms:Decrypt exists only under `!If HasConfigKmsKey` (defined as
/// ConfigKmsKeyArn != "") and only on that key; each role that reads the
/// config has it.
fn check_kms_conditional(t: &J) -> Result<(), String> {
    let condition = at(t, &["Conditions", "HasConfigKmsKey"]).ok_or("Conditions.HasConfigKmsKey missing")?;
    let not_empty = |a: &J, b: &J| json!({"Fn::Not": [{"Fn::Equals": [a, b]}]}) == *condition;
    ensure(
        not_empty(&json!({"Ref": "ConfigKmsKeyArn"}), &json!(""))
            || not_empty(&json!(""), &json!({"Ref": "ConfigKmsKeyArn"})),
        || format!("HasConfigKmsKey must be !Not [!Equals [!Ref ConfigKmsKeyArn, \"\"]], is {condition}"),
    )?;
    let all = statements(t)?;
    for s in &all {
        if strings(s.body.get("Action")).iter().any(|a| a.starts_with("kms:")) {
            ensure(s.conditions.contains(&"HasConfigKmsKey".to_owned()), || {
                format!("{}: kms statement is not under !If HasConfigKmsKey", s.owner)
            })?;
            ensure(strings(s.body.get("Action")) == ["kms:Decrypt"], || {
                format!("{}: kms actions must be kms:Decrypt only", s.owner)
            })?;
            ensure(is_ref(s.body.get("Resource"), "ConfigKmsKeyArn"), || {
                format!("{}: kms:Decrypt must be on !Ref ConfigKmsKeyArn", s.owner)
            })?;
        }
    }
    for (function, _, _) in FUNCTIONS {
        let role = role_of(t, function)?;
        ensure(all.iter().any(|s| s.owner == role && s.conditions.contains(&"HasConfigKmsKey".to_owned())), || {
            format!("{role}: missing the conditional kms:Decrypt for a customer-managed config key")
        })?;
    }
    Ok(())
}

/// The `pk` prefixes each role's orders-table statement is limited to with
/// dynamodb:LeadingKeys (template.yaml says which code uses which).
const CHECKOUT_KEYS: [&str; 2] = ["counter#", "hold#"];
const FULFILL_KEYS: [&str; 5] = ["session#", "votekey#", "pool#", "counter#", "hold#"];
/// Written only by tdf-admin (with the organizer's credentials), so in no
/// role's grant: the pool import's markers.
const ADMIN_ONLY_KEYS: [&str; 1] = ["poolkey#"];

/// The prefixes a DynamoDB statement's LeadingKeys condition allows: `None`
/// without a Condition. Any Condition but exactly `ForAllValues:StringLike`
/// on `dynamodb:LeadingKeys` with `kind#*` patterns is an error:
/// ForAnyValue would pass a batch with one matching key among others, and a
/// pattern not ending in `#*` is no item kind.
fn leading_keys(s: &Statement) -> Result<Option<BTreeSet<String>>, String> {
    let Some(condition) = s.body.get("Condition") else { return Ok(None) };
    let only = |v: &J, key: &str| v.as_object().filter(|o| o.len() == 1).and_then(|o| o.get(key)).cloned();
    let patterns = only(condition, "ForAllValues:StringLike")
        .and_then(|c| only(&c, "dynamodb:LeadingKeys"))
        .ok_or_else(|| format!("{}: Condition {condition} is not ForAllValues:StringLike on LeadingKeys", s.owner))?;
    let mut prefixes = BTreeSet::new();
    for pattern in patterns.as_array().into_iter().flatten() {
        let prefix = pattern
            .as_str()
            .and_then(|p| p.strip_suffix('*'))
            .filter(|p| p.ends_with('#') && !p.contains(['*', '?']))
            .ok_or_else(|| format!("{}: LeadingKeys pattern {pattern} is not kind#*", s.owner))?;
        prefixes.insert(prefix.to_owned());
    }
    ensure(!prefixes.is_empty(), || format!("{}: LeadingKeys lists no pattern", s.owner))?;
    Ok(Some(prefixes))
}

/// Each role's item statement on the orders table is limited to its item
/// kinds: checkout to counters and holds, fulfill to orders, votekey
/// markers, the votekey pool, counters and holds. The index Queries carry no
/// condition (on an index the key is the index's own partition key, which no
/// `pk` prefix matches).
fn check_leading_keys(t: &J) -> Result<(), String> {
    let all = statements(t)?;
    let table = json!({"Fn::GetAtt": ["OrdersTable", "Arn"]});
    for (function, kinds) in [("CheckoutFunction", &CHECKOUT_KEYS[..]), ("FulfillFunction", &FULFILL_KEYS[..])] {
        let role = role_of(t, function)?;
        let expected: BTreeSet<String> = kinds.iter().map(|k| k.to_string()).collect();
        let dynamo = all
            .iter()
            .filter(|s| s.owner == role)
            .filter(|s| strings(s.body.get("Action")).iter().any(|a| a.starts_with("dynamodb:")));
        for s in dynamo {
            let keys = leading_keys(s)?;
            if s.body["Resource"] == table {
                ensure(keys.as_ref() == Some(&expected), || {
                    format!("{role}: table statement's LeadingKeys {keys:?}, expected {expected:?}")
                })?;
            } else {
                ensure(keys.is_none(), || {
                    format!("{role}: {} must have no LeadingKeys condition", s.body["Resource"])
                })?;
            }
        }
    }
    Ok(())
}

/// SenderAddress (optional, default "") limits the SES grant to that From
/// address: the statement's Condition is `!If [HasSenderAddress,
/// {StringEqualsIgnoreCase: {ses:FromAddress: !Ref SenderAddress}}, !Ref
/// AWS::NoValue]`, HasSenderAddress being SenderAddress != "".
fn check_sender_address(t: &J) -> Result<(), String> {
    let param = at(t, &["Parameters", "SenderAddress"]).ok_or("parameter SenderAddress missing")?;
    ensure(param["Default"] == "" && param.get("AllowedPattern").is_some(), || {
        "SenderAddress needs Default \"\" and an AllowedPattern".to_owned()
    })?;
    let condition = at(t, &["Conditions", "HasSenderAddress"]);
    let expected = json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "SenderAddress"}, ""]}]});
    ensure(condition == Some(&expected), || format!("HasSenderAddress must be {expected}, is {condition:?}"))?;
    let role = role_of(t, "FulfillFunction")?;
    let all = statements(t)?;
    let ses = all
        .iter()
        .find(|s| s.owner == role && strings(s.body.get("Action")) == ["ses:SendEmail"])
        .ok_or("fulfill has no ses:SendEmail statement")?;
    let expected = json!({"Fn::If": [
        "HasSenderAddress",
        {"StringEqualsIgnoreCase": {"ses:FromAddress": {"Ref": "SenderAddress"}}},
        {"Ref": "AWS::NoValue"}
    ]});
    ensure(ses.body.get("Condition") == Some(&expected), || {
        format!("fulfill's SendEmail Condition must be {expected}, is {:?}", ses.body.get("Condition"))
    })
}

/// LogLevel offers error, warn, info and debug, never trace (at trace the
/// Lambda runtime logs raw events and the AWS SDK request and response
/// bodies: votekeys, addresses). Both functions' RUST_LOG is that parameter,
/// and no ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL, which lambda_runtime
/// prefers to RUST_LOG and which accepts TRACE) goes around it.
fn check_log_level(t: &J) -> Result<(), String> {
    let param = at(t, &["Parameters", "LogLevel"]).ok_or("parameter LogLevel missing")?;
    let levels = json!(["error", "warn", "info", "debug"]);
    ensure(param["AllowedValues"] == levels, || {
        format!("LogLevel AllowedValues {} (expected {levels})", param["AllowedValues"])
    })?;
    ensure(param["Default"] == "info", || format!("LogLevel Default {}", param["Default"]))?;
    for (function, _, _) in FUNCTIONS {
        let p = &resource(t, function)?["Properties"];
        ensure(is_ref(at(p, &["Environment", "Variables", "RUST_LOG"]), "LogLevel"), || {
            format!("{function}: RUST_LOG must be !Ref LogLevel")
        })?;
        ensure(at(p, &["Environment", "Variables", "AWS_LAMBDA_LOG_LEVEL"]).is_none(), || {
            format!("{function}: AWS_LAMBDA_LOG_LEVEL would override LogLevel")
        })?;
        ensure(at(p, &["LoggingConfig", "ApplicationLogLevel"]).is_none(), || {
            format!("{function}: LoggingConfig.ApplicationLogLevel would override LogLevel")
        })?;
    }
    Ok(())
}

/// The Stripe events the webhook endpoint must be registered for
/// (checkout.session.expired releases a hold at once; charge.refunded and
/// charge.dispute.* revoke votekeys). refund.created and refund.updated are
/// optional (handled like charge.refunded), so not required here.
const WEBHOOK_EVENTS: [&str; 7] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

/// The custom domain is optional and the outputs say what to paste where.
/// With a domain, the execute-api endpoint is switched off and every URL
/// output names the domain.
fn check_domain_and_outputs(t: &J) -> Result<(), String> {
    let disable = at(resource(t, "TicketsApi")?, &["Properties", "DisableExecuteApiEndpoint"]);
    let expected = json!({"Fn::If": ["HasDomain", true, false]});
    ensure(disable == Some(&expected), || format!("TicketsApi DisableExecuteApiEndpoint must be {expected}"))?;
    let base = json!({"Fn::If": ["HasDomain", {"Fn::Sub": "https://${DomainName}"}, {"Fn::GetAtt": ["TicketsApi", "ApiEndpoint"]}]});
    for (id, cond) in
        [("ApiDomainName", "HasDomain"), ("ApiDomainMapping", "HasDomain"), ("ApiDomainRecord", "HasHostedZone")]
    {
        ensure(resource(t, id)?["Condition"] == cond, || format!("{id} must have Condition {cond}"))?;
    }
    let endpoint = at(resource(t, "ApiDomainName")?, &["Properties", "DomainNameConfigurations"])
        .and_then(|c| c.get(0))
        .map(|c| c["EndpointType"].clone());
    ensure(endpoint == Some(json!("REGIONAL")), || "ApiDomainName must be a REGIONAL endpoint".to_owned())?;
    let outputs = t["Outputs"].as_object().ok_or("Outputs missing")?;
    for (name, suffix) in [
        ("StripeWebhookUrl", "/fulfill"),
        ("CheckoutFormActionUrl", "/checkout"),
        ("AvailabilityUrl", "/availability"),
        ("SuccessUrl", "/fulfill?session_id={CHECKOUT_SESSION_ID}"),
    ] {
        let value = at(outputs.get(name).ok_or_else(|| format!("output {name} missing"))?, &["Value", "Fn::Join"])
            .and_then(|join| join.get(1))
            .and_then(J::as_array)
            .and_then(|parts| parts.last())
            .and_then(J::as_str);
        ensure(value == Some(suffix), || format!("output {name} must end with {suffix}"))?;
        let start =
            at(&outputs[name], &["Value", "Fn::Join"]).and_then(|join| join.get(1)).and_then(|parts| parts.get(0));
        ensure(start == Some(&base), || format!("output {name} must start with {base} (the domain when given)"))?;
    }
    // The organizer registers the webhook with the events this description lists.
    let webhook = outputs["StripeWebhookUrl"]["Description"].as_str().unwrap_or("");
    for event in WEBHOOK_EVENTS {
        ensure(webhook.contains(event), || format!("output StripeWebhookUrl's Description must list {event}"))?;
    }
    ensure(outputs.contains_key("ApiEndpoint"), || "output ApiEndpoint missing".to_owned())?;
    // `tdf-admin --stack` reads the orders table and the config parameter
    // from these; the guide's log commands take the log groups'.
    for (name, reference) in [
        ("OrdersTableName", "OrdersTable"),
        ("ConfigParameter", "ConfigParameterName"),
        ("CheckoutLogGroupName", "CheckoutLogGroup"),
        ("FulfillLogGroupName", "FulfillLogGroup"),
        ("ApiAccessLogGroupName", "ApiAccessLogGroup"),
    ] {
        ensure(is_ref(outputs.get(name).map(|o| &o["Value"]), reference), || {
            format!("output {name} must be !Ref {reference}")
        })?;
    }
    let target = outputs.get("CustomDomainTarget").ok_or("output CustomDomainTarget missing")?;
    ensure(target["Condition"] == "HasDomain", || "output CustomDomainTarget must have Condition HasDomain".to_owned())
}

// ------------------------------------------------------------------ alarms

const ALERT_TOPIC: &str = "AlertTopic";
const ALERT_CONDITION: &str = "HasAlertEmail";

/// The namespace of the stack's own metrics (the alerts, api_throttled).
fn alert_namespace() -> J {
    json!({"Fn::Sub": "tdf-tickets/${AWS::StackName}"})
}

/// The filter pattern that counts one alert's log lines: tracing's JSON
/// layout puts the `alert` field under `fields`.
fn alert_pattern(name: &str) -> String {
    format!("{{ $.fields.alert = \"{name}\" }}")
}

/// AlertEmail is optional (default ""): HasAlertEmail is AlertEmail != "",
/// and the one topic, its e-mail subscription to AlertEmail, its output and
/// every alarm exist only under it.
fn check_alarm_topic(t: &J) -> Result<(), String> {
    let param = at(t, &["Parameters", "AlertEmail"]).ok_or("parameter AlertEmail missing")?;
    ensure(param["Default"] == "" && param.get("AllowedPattern").is_some(), || {
        "AlertEmail needs Default \"\" and an AllowedPattern".to_owned()
    })?;
    let condition = at(t, &["Conditions", ALERT_CONDITION]);
    let expected = json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]});
    ensure(condition == Some(&expected), || format!("{ALERT_CONDITION} must be {expected}, is {condition:?}"))?;
    let topics = of_type(t, "AWS::SNS::Topic");
    ensure(topics.len() == 1 && topics[0].0 == ALERT_TOPIC, || format!("expected one topic {ALERT_TOPIC}"))?;
    let subscriptions = of_type(t, "AWS::SNS::Subscription");
    let p = subscriptions.first().map(|(_, s)| &s["Properties"]).ok_or("the topic has no subscription")?;
    ensure(
        subscriptions.len() == 1
            && p["Protocol"] == "email"
            && is_ref(p.get("Endpoint"), "AlertEmail")
            && is_ref(p.get("TopicArn"), ALERT_TOPIC),
        || format!("expected one e-mail subscription of AlertEmail to {ALERT_TOPIC}: {p}"),
    )?;
    for ty in ["AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::CloudWatch::Alarm"] {
        for (id, r) in of_type(t, ty) {
            ensure(r["Condition"] == ALERT_CONDITION, || format!("{id} must have Condition {ALERT_CONDITION}"))?;
        }
    }
    let output = at(t, &["Outputs", "AlertTopicArn"]).ok_or("output AlertTopicArn missing")?;
    ensure(output["Condition"] == ALERT_CONDITION, || format!("output AlertTopicArn needs Condition {ALERT_CONDITION}"))
}

/// Every alarm fires at a Sum >= 1 in one 5-minute period, takes missing
/// data as fine (metrics without errors publish nothing), says what it
/// means, and mails the topic.
fn check_alarm_shape(id: &str, alarm: &J) -> Result<(), String> {
    let p = &alarm["Properties"];
    for (key, value) in [
        ("Statistic", json!("Sum")),
        ("Period", json!(300)),
        ("EvaluationPeriods", json!(1)),
        ("Threshold", json!(1)),
        ("ComparisonOperator", json!("GreaterThanOrEqualToThreshold")),
        ("TreatMissingData", json!("notBreaching")),
        ("AlarmActions", json!([{"Ref": ALERT_TOPIC}])),
    ] {
        ensure(p[key] == value, || format!("alarm {id}: {key} {} (expected {value})", p[key]))?;
    }
    ensure(p["AlarmDescription"].as_str().is_some_and(|d| d.len() > 20), || {
        format!("alarm {id}: an AlarmDescription saying what to do")
    })
}

/// The one alarm on a metric (dimensions `J::Null` for none).
fn one_alarm(t: &J, namespace: &J, metric: &str, dimensions: &J) -> Result<(), String> {
    let matching: Vec<&str> = of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == *namespace && p["MetricName"] == metric && p["Dimensions"] == *dimensions
        })
        .map(|(id, _)| id)
        .collect();
    ensure(matching.len() == 1, || {
        format!("expected one alarm on {namespace} {metric} {dimensions}, found {matching:?}")
    })
}

/// The metric filters on a log group (its resource id): (id, pattern, the
/// one metric transformation).
fn filters_on<'a>(t: &'a J, group: &str) -> Vec<(&'a str, &'a str, &'a J)> {
    of_type(t, "AWS::Logs::MetricFilter")
        .into_iter()
        .filter(|(_, f)| is_ref(at(f, &["Properties", "LogGroupName"]), group))
        .map(|(id, f)| {
            (id, f["Properties"]["FilterPattern"].as_str().unwrap_or(""), &f["Properties"]["MetricTransformations"])
        })
        .collect()
}

/// A filter publishes 1 per matching line into `metric` of the stack's
/// namespace, with no DefaultValue (nothing published while all is well)
/// and no dimensions.
fn check_transformation(id: &str, transformations: &J, metric: &str) -> Result<(), String> {
    let expected =
        json!([{"MetricNamespace": alert_namespace(), "MetricName": metric, "MetricValue": "1", "Unit": "Count"}]);
    ensure(*transformations == expected, || {
        format!("{id}: MetricTransformations {transformations} (expected {expected})")
    })
}

/// Alarms on each function's errors (AWS/Lambda Errors), on the API's 5xx
/// answers (AWS/ApiGateway "5xx" per ApiId: HTTP APIs do not publish REST's
/// 5XXError) and on API Gateway's 429s, counted from the access log.
fn check_alarms(t: &J) -> Result<(), String> {
    for (id, alarm) in of_type(t, "AWS::CloudWatch::Alarm") {
        check_alarm_shape(id, alarm)?;
    }
    for (function, _, _) in FUNCTIONS {
        one_alarm(t, &json!("AWS/Lambda"), "Errors", &json!([{"Name": "FunctionName", "Value": {"Ref": function}}]))?;
    }
    one_alarm(t, &json!("AWS/ApiGateway"), "5xx", &json!([{"Name": "ApiId", "Value": {"Ref": "TicketsApi"}}]))?;
    let throttled: Vec<_> =
        filters_on(t, "ApiAccessLogGroup").into_iter().filter(|(_, p, _)| *p == "{ $.status = \"429\" }").collect();
    ensure(throttled.len() == 1, || "expected one filter of 429s on ApiAccessLogGroup".to_owned())?;
    check_transformation(throttled[0].0, throttled[0].2, "api_throttled")?;
    one_alarm(t, &alert_namespace(), "api_throttled", &J::Null)
}

/// Every name of `tickets::alert::Alert::ALL` (the log lines an organizer
/// must act on) is counted on both functions' log groups by a filter with
/// exactly `{ $.fields.alert = "NAME" }` into the metric NAME, which has an
/// alarm; no filter counts a name Alert::ALL lacks. So a new Alert fails
/// here until template.yaml counts and alarms it.
fn check_alert_metrics(t: &J) -> Result<(), String> {
    let names: BTreeSet<&str> = tickets::alert::Alert::ALL.iter().map(|a| a.name()).collect();
    for (function, _, _) in FUNCTIONS {
        let group = at(resource(t, function)?, &["Properties", "LoggingConfig", "LogGroup", "Ref"])
            .and_then(J::as_str)
            .ok_or_else(|| format!("{function}: LoggingConfig.LogGroup is not a !Ref"))?;
        let filters = filters_on(t, group);
        for name in &names {
            let matching: Vec<_> = filters.iter().filter(|(_, p, _)| *p == alert_pattern(name)).collect();
            ensure(matching.len() == 1, || {
                format!("{group}: expected one filter {}, found {}", alert_pattern(name), matching.len())
            })?;
            check_transformation(matching[0].0, matching[0].2, name)?;
        }
        for (id, pattern, _) in filters.iter().filter(|(_, p, _)| p.contains("fields.alert")) {
            let name = pattern.strip_prefix("{ $.fields.alert = \"").and_then(|r| r.strip_suffix("\" }"));
            ensure(name.is_some_and(|n| names.contains(n)), || format!("{id}: {pattern} counts no Alert name"))?;
        }
    }
    for name in names {
        one_alarm(t, &alert_namespace(), name, &J::Null)?;
    }
    Ok(())
}

const CHECKS: [(&str, Check); 16] = [
    ("routes", check_routes),
    ("throttling", check_throttling),
    ("sweep", check_sweep),
    ("functions", check_functions),
    ("env", check_env),
    ("table", check_table),
    ("iam_scoped", check_iam_scoped),
    ("least_privilege", check_least_privilege),
    ("leading_keys", check_leading_keys),
    ("sender_address", check_sender_address),
    ("log_level", check_log_level),
    ("kms_conditional", check_kms_conditional),
    ("domain_and_outputs", check_domain_and_outputs),
    ("alarm_topic", check_alarm_topic),
    ("alarms", check_alarms),
    ("alert_metrics", check_alert_metrics),
];

fn run(name: &str) {
    let t = parse(TEMPLATE);
    let check = CHECKS.iter().find(|(n, _)| *n == name).expect("known check").1;
    if let Err(e) = check(&t) {
        panic!("template.yaml: {e}");
    }
}

#[test]
fn routes_map_to_the_right_functions() {
    run("routes");
}

#[test]
fn ticket_drop_throttling_per_route() {
    run("throttling");
}

#[test]
fn hold_sweeper_runs_every_five_minutes() {
    run("sweep");
}

#[test]
fn functions_are_arm64_al2023_cargo_lambda_builds() {
    run("functions");
}

#[test]
fn env_vars_are_wired() {
    run("env");
}

#[test]
fn orders_table_is_retained_on_demand_with_pitr_and_its_two_indexes() {
    run("table");
}

#[test]
fn every_iam_statement_is_scoped_to_specific_arns() {
    run("iam_scoped");
}

#[test]
fn dynamodb_and_mail_rights_are_least_privilege() {
    run("least_privilege");
}

#[test]
fn kms_decrypt_only_for_a_customer_managed_key() {
    run("kms_conditional");
}

#[test]
fn custom_domain_is_optional_and_outputs_name_the_urls() {
    run("domain_and_outputs");
}

#[test]
fn dynamodb_rights_are_limited_to_each_role_s_item_kinds() {
    run("leading_keys");
}

#[test]
fn ticket_mail_can_be_limited_to_one_sender() {
    run("sender_address");
}

#[test]
fn log_level_never_trace() {
    run("log_level");
}

#[test]
fn alarm_topic_only_with_alert_email() {
    run("alarm_topic");
}

#[test]
fn errors_5xx_and_throttles_are_alarmed() {
    run("alarms");
}

#[test]
fn every_alert_is_counted_and_alarmed() {
    run("alert_metrics");
}

/// The `pk` prefixes a source names: string literals that open with
/// lower-case letters or `_` and a `#` (`"session#{id}"`, `"pool#meta"`).
fn key_prefixes_in(source: &str) -> BTreeSet<String> {
    let mut prefixes = BTreeSet::new();
    for (i, _) in source.match_indices('"') {
        let rest = &source[i + 1..];
        let word = rest.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(rest.len());
        if word > 0 && rest[word..].starts_with('#') {
            prefixes.insert(format!("{}#", &rest[..word]));
        }
    }
    prefixes
}

/// The DynamoDB sources of crates/tickets: every `*dynamo*` file under
/// `dir` but the tests.
fn dynamo_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            dynamo_sources(&path, out);
        } else if path.to_string_lossy().contains("dynamo") && path.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(path);
        }
    }
}

/// moto does not enforce IAM, so no other test notices an item kind the
/// roles' LeadingKeys conditions leave out: every `pk` prefix the DynamoDB
/// code names must be granted to a role (or be tdf-admin's alone), and every
/// granted prefix must still be used.
#[test]
fn leading_keys_cover_the_item_kinds_the_code_uses() {
    let sample = r##"key(format!("pool#{n}")) "#status = :s" r#"{"a": 1}"# strip_prefix("hold#") "pk""##;
    assert_eq!(key_prefixes_in(sample), BTreeSet::from(["pool#".to_owned(), "hold#".to_owned()]));
    let mut files = Vec::new();
    dynamo_sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/tickets/src"), &mut files);
    assert!(files.len() >= 3, "DynamoDB sources not found: {files:?}");
    let used: BTreeSet<String> =
        files.iter().flat_map(|f| key_prefixes_in(&std::fs::read_to_string(f).expect("readable source"))).collect();
    let granted: BTreeSet<String> =
        CHECKOUT_KEYS.iter().chain(&FULFILL_KEYS).chain(&ADMIN_ONLY_KEYS).map(|k| k.to_string()).collect();
    assert_eq!(
        used, granted,
        "pk prefixes in {files:?} vs the LeadingKeys grants (template.yaml, CHECKOUT_KEYS, FULFILL_KEYS)"
    );
}

// ---------------------------------------------------------------- mutations

/// Replaces the `nth` (0-based) occurrence of `from`; panics if absent, so a
/// mutation cannot silently stop applying after the template changes.
fn replace_nth(text: &str, from: &str, to: &str, nth: usize) -> String {
    let (idx, _) = text
        .match_indices(from)
        .nth(nth)
        .unwrap_or_else(|| panic!("mutation target {from:?} (#{nth}) not in template.yaml"));
    format!("{}{}{}", &text[..idx], to, &text[idx + from.len()..])
}

fn statements_mut<'a>(t: &'a mut J, role: &str) -> &'a mut Vec<J> {
    t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .expect("role statements")
}

#[test]
fn checks_catch_mutations() {
    type Json = fn(&mut J);
    enum M {
        Text(&'static str, &'static str, usize),
        Json(Json),
    }
    let mutations: Vec<(&str, &str, M)> = vec![
        ("route removed (GET /fulfill)", "routes", M::Text("Method: GET", "Method: PUT", 0)),
        ("route path changed", "routes", M::Text("Path: /checkout", "Path: /buy", 0)),
        (
            "route moved to the other function",
            "routes",
            M::Json(|t| {
                let ev = t["Resources"]["FulfillFunction"]["Properties"]["Events"]
                    .as_object_mut()
                    .unwrap()
                    .remove("Landing")
                    .unwrap();
                t["Resources"]["CheckoutFunction"]["Properties"]["Events"]["Landing"] = ev;
            }),
        ),
        (
            "extra REST event",
            "routes",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"]["Events"]["Rest"] =
                    json!({"Type": "Api", "Properties": {"Path": "/x", "Method": "GET"}});
            }),
        ),
        (
            "availability route removed",
            "routes",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"]["Events"]
                    .as_object_mut()
                    .unwrap()
                    .remove("Availability");
            }),
        ),
        ("GET /checkout routed", "routes", M::Text("Path: /availability", "Path: /checkout", 0)),
        (
            "schedule event on checkout",
            "routes",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"]["Events"]["Sweep"] =
                    json!({"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}});
            }),
        ),
        (
            "throttling removed",
            "routes",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"].as_object_mut().unwrap().remove("DefaultRouteSettings");
            }),
        ),
        (
            "access logs removed",
            "routes",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"].as_object_mut().unwrap().remove("AccessLogSettings");
            }),
        ),
        (
            "per-route throttling removed",
            "throttling",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"].as_object_mut().unwrap().remove("RouteSettings");
            }),
        ),
        (
            "checkout falls back to the default throttle",
            "throttling",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"]["RouteSettings"]
                    .as_object_mut()
                    .unwrap()
                    .remove("POST /checkout");
            }),
        ),
        ("route setting names no route", "throttling", M::Text("\"GET /fulfill\":", "\"GET /fulfil\":", 0)),
        (
            "route setting without a burst",
            "throttling",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"]["RouteSettings"]["GET /fulfill"]
                    .as_object_mut()
                    .unwrap()
                    .remove("ThrottlingBurstLimit");
            }),
        ),
        (
            "route below the default floor",
            "throttling",
            M::Text("ThrottlingRateLimit: 100", "ThrottlingRateLimit: 10", 0),
        ),
        ("burst below its rate", "throttling", M::Text("ThrottlingBurstLimit: 200", "ThrottlingBurstLimit: 60", 0)),
        (
            "checkout burst can drop below a party",
            "throttling",
            M::Text("MinValue: 200\n    MaxValue: 5000", "MinValue: 150\n    MaxValue: 5000", 0),
        ),
        (
            "checkout rate can exceed Stripe's limit",
            "throttling",
            M::Text("MinValue: 20\n    MaxValue: 100", "MinValue: 20\n    MaxValue: 200", 0),
        ),
        ("checkout rate default out of range", "throttling", M::Text("Default: 50", "Default: 500", 0)),
        (
            "checkout rate parameter unbounded",
            "throttling",
            M::Json(|t| {
                t["Parameters"]["CheckoutRateLimit"].as_object_mut().unwrap().remove("MaxValue");
            }),
        ),
        (
            "reserved concurrency",
            "throttling",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"]["ReservedConcurrentExecutions"] = json!(10);
            }),
        ),
        (
            "sweeper removed",
            "sweep",
            M::Json(|t| {
                t["Resources"]["FulfillFunction"]["Properties"]["Events"].as_object_mut().unwrap().remove("Sweep");
            }),
        ),
        (
            "sweeper on checkout",
            "sweep",
            M::Json(|t| {
                let ev = t["Resources"]["FulfillFunction"]["Properties"]["Events"]
                    .as_object_mut()
                    .unwrap()
                    .remove("Sweep")
                    .unwrap();
                t["Resources"]["CheckoutFunction"]["Properties"]["Events"]["Sweep"] = ev;
            }),
        ),
        ("sweeper disabled", "sweep", M::Text("            Enabled: true", "            Enabled: false", 0)),
        ("sweeper hourly", "sweep", M::Text("Default: rate(5 minutes)", "Default: rate(1 hour)", 0)),
        (
            "sweeper with custom input",
            "sweep",
            M::Json(|t| {
                t["Resources"]["FulfillFunction"]["Properties"]["Events"]["Sweep"]["Properties"]["Input"] =
                    json!("{\"sweep\": true}");
            }),
        ),
        (
            "sweeper without description",
            "sweep",
            M::Json(|t| {
                t["Resources"]["FulfillFunction"]["Properties"]["Events"]["Sweep"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("Description");
            }),
        ),
        (
            "sweep schedule parameter unconstrained",
            "sweep",
            M::Json(|t| {
                t["Parameters"]["SweepSchedule"].as_object_mut().unwrap().remove("AllowedPattern");
            }),
        ),
        ("runtime changed", "functions", M::Text("Runtime: provided.al2023", "Runtime: provided.al2", 1)),
        ("x86_64", "functions", M::Text("Architectures: [arm64]", "Architectures: [x86_64]", 0)),
        ("handler changed", "functions", M::Text("Handler: bootstrap", "Handler: main", 1)),
        ("wrong binary", "functions", M::Text("Binary: fulfill", "Binary: checkout", 0)),
        ("build method changed", "functions", M::Text("BuildMethod: rust-cargolambda", "BuildMethod: makefile", 0)),
        ("memory too large", "functions", M::Text("MemorySize: 128", "MemorySize: 1024", 0)),
        (
            "log retention removed",
            "functions",
            M::Json(|t| {
                t["Resources"]["FulfillLogGroup"]["Properties"].as_object_mut().unwrap().remove("RetentionInDays");
            }),
        ),
        (
            "CONFIG_PARAMETER removed",
            "env",
            M::Text("CONFIG_PARAMETER: !Ref ConfigParameterName", "CONFIG_PARAM: !Ref ConfigParameterName", 0),
        ),
        (
            "checkout's ORDERS_TABLE removed",
            "env",
            M::Text("ORDERS_TABLE: !Ref OrdersTable", "TABLE: !Ref OrdersTable", 0),
        ),
        (
            "fulfill's ORDERS_TABLE removed",
            "env",
            M::Text("ORDERS_TABLE: !Ref OrdersTable", "TABLE: !Ref OrdersTable", 1),
        ),
        ("table not retained", "table", M::Text("DeletionPolicy: Retain", "DeletionPolicy: Delete", 0)),
        ("table replaced on update", "table", M::Text("UpdateReplacePolicy: Retain", "UpdateReplacePolicy: Delete", 0)),
        ("no PITR", "table", M::Text("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", 0)),
        ("provisioned billing", "table", M::Text("BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED", 0)),
        (
            "open-holds index removed",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"].as_object_mut().unwrap().remove("GlobalSecondaryIndexes");
            }),
        ),
        ("index renamed", "table", M::Text("IndexName: open-holds", "IndexName: holds", 0)),
        (
            "index sort key not a number",
            "table",
            M::Text(
                "AttributeName: expires_at\n          AttributeType: N",
                "AttributeName: expires_at\n          AttributeType: S",
                0,
            ),
        ),
        ("index without sort key", "table", M::Text("KeyType: RANGE", "KeyType: HASH", 0)),
        ("index keys only", "table", M::Text("ProjectionType: ALL", "ProjectionType: KEYS_ONLY", 0)),
        (
            "index attribute undefined",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]["AttributeDefinitions"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "open-holds attribute undefined",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]["AttributeDefinitions"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|d| d["AttributeName"] != "expires_at");
            }),
        ),
        (
            "payment_intent attribute undefined",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]["AttributeDefinitions"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|d| d["AttributeName"] != "payment_intent");
            }),
        ),
        (
            "payment_intent a number",
            "table",
            M::Text(
                "AttributeName: payment_intent\n          AttributeType: S",
                "AttributeName: payment_intent\n          AttributeType: N",
                0,
            ),
        ),
        (
            "payment-intents index removed",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|g| g["IndexName"] != "payment-intents");
            }),
        ),
        ("payment-intents index renamed", "table", M::Text("IndexName: payment-intents", "IndexName: payments", 0)),
        (
            "payment-intents index keyed on pk",
            "table",
            M::Text(
                "- AttributeName: payment_intent\n              KeyType: HASH",
                "- AttributeName: pk\n              KeyType: HASH",
                0,
            ),
        ),
        (
            "payment-intents index with a sort key",
            "table",
            M::Json(|t| {
                let gsi = t["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|g| g["IndexName"] == "payment-intents")
                    .unwrap();
                gsi["KeySchema"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"AttributeName": "expires_at", "KeyType": "RANGE"}));
            }),
        ),
        ("payment-intents index projects all", "table", M::Text("ProjectionType: KEYS_ONLY", "ProjectionType: ALL", 0)),
        (
            "payment-intents index provisioned",
            "table",
            M::Json(|t| {
                let gsi = t["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|g| g["IndexName"] == "payment-intents")
                    .unwrap();
                gsi["ProvisionedThroughput"] = json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 5});
            }),
        ),
        (
            "a third index",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"IndexName": "by-email", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                           "Projection": {"ProjectionType": "KEYS_ONLY"}}));
            }),
        ),
        ("table Resource \"*\"", "iam_scoped", M::Text("Resource: !GetAtt OrdersTable.Arn", "Resource: \"*\"", 0)),
        (
            "table ARN wildcard",
            "iam_scoped",
            M::Text(
                "Resource: !GetAtt OrdersTable.Arn",
                "Resource: !Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*",
                0,
            ),
        ),
        ("dynamodb:*", "iam_scoped", M::Text("- dynamodb:GetItem", "- dynamodb:*", 0)),
        ("any index", "iam_scoped", M::Text("/index/open-holds", "/index/*", 0)),
        ("any index for payment intents", "iam_scoped", M::Text("/index/payment-intents", "/index/*", 0)),
        (
            "any table's index",
            "iam_scoped",
            M::Text("${OrdersTable.Arn}/index/open-holds", "${ConfigParameterName}/index/open-holds", 0),
        ),
        ("index ARN with a trailing path", "iam_scoped", M::Text("/index/open-holds", "/index/open-holds/x", 0)),
        ("SES identity wildcard", "iam_scoped", M::Text("identity/${SesIdentity}", "identity/*", 0)),
        ("any SSM parameter", "iam_scoped", M::Text(":parameter/${ConfigParameterName}", ":parameter/*", 0)),
        (
            "SesIdentity pattern admits *",
            "iam_scoped",
            M::Text("AllowedPattern: ^[a-zA-Z0-9_.+=@-]+$", "AllowedPattern: ^.+$", 0),
        ),
        (
            "KMS key pattern removed",
            "iam_scoped",
            M::Json(|t| {
                t["Parameters"]["ConfigKmsKeyArn"].as_object_mut().unwrap().remove("AllowedPattern");
            }),
        ),
        (
            "managed policy attached",
            "iam_scoped",
            M::Json(|t| {
                t["Resources"]["CheckoutRole"]["Properties"]["ManagedPolicyArns"] =
                    json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
            }),
        ),
        (
            "function without own role",
            "iam_scoped",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"].as_object_mut().unwrap().remove("Role");
            }),
        ),
        (
            "SAM policy template",
            "iam_scoped",
            M::Json(|t| {
                t["Resources"]["FulfillFunction"]["Properties"]["Policies"] =
                    json!([{"DynamoDBCrudPolicy": {"TableName": {"Ref": "OrdersTable"}}}]);
            }),
        ),
        (
            "checkout gets dynamodb beyond the table",
            "least_privilege",
            M::Text("Action: ssm:GetParameter", "Action: [ssm:GetParameter, dynamodb:GetItem]", 0),
        ),
        (
            "checkout gets Scan",
            "least_privilege",
            M::Text("- dynamodb:UpdateItem", "- dynamodb:UpdateItem\n                  - dynamodb:Scan", 0),
        ),
        (
            "checkout gets Query",
            "least_privilege",
            M::Text("- dynamodb:BatchGetItem", "- dynamodb:BatchGetItem\n                  - dynamodb:Query", 0),
        ),
        (
            "checkout gets DeleteItem",
            "least_privilege",
            M::Text("- dynamodb:BatchGetItem", "- dynamodb:BatchGetItem\n                  - dynamodb:DeleteItem", 0),
        ),
        (
            "checkout cannot BatchGetItem",
            "least_privilege",
            M::Text("\n                  - dynamodb:BatchGetItem", "", 0),
        ),
        (
            "checkout gets the unused ConditionCheckItem again",
            "least_privilege",
            M::Json(|t| {
                let s = statements_mut(t, "CheckoutRole").iter_mut().find(|s| s["Sid"] == "Holds").unwrap();
                s["Action"].as_array_mut().unwrap().push(json!("dynamodb:ConditionCheckItem"));
            }),
        ),
        (
            "fulfill gets the unused ConditionCheckItem again",
            "least_privilege",
            M::Json(|t| {
                let s = statements_mut(t, "FulfillRole").iter_mut().find(|s| s["Sid"] == "Orders").unwrap();
                s["Action"].as_array_mut().unwrap().push(json!("dynamodb:ConditionCheckItem"));
            }),
        ),
        (
            "checkout gets ses",
            "least_privilege",
            M::Json(|t| {
                statements_mut(t, "CheckoutRole").push(json!({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}"}}));
            }),
        ),
        (
            "fulfill gets Scan",
            "least_privilege",
            M::Text("- dynamodb:UpdateItem", "- dynamodb:UpdateItem\n                  - dynamodb:Scan", 1),
        ),
        (
            "fulfill gets DeleteItem too",
            "least_privilege",
            M::Text("- dynamodb:UpdateItem", "- dynamodb:UpdateItem\n                  - dynamodb:DeleteItem", 1),
        ),
        (
            "fulfill cannot Query the index",
            "least_privilege",
            M::Text("Action: dynamodb:Query", "Action: dynamodb:GetItem", 0),
        ),
        (
            "fulfill Queries the table",
            "least_privilege",
            M::Text("!Sub ${OrdersTable.Arn}/index/open-holds", "!GetAtt OrdersTable.Arn", 0),
        ),
        ("fulfill Queries another index", "least_privilege", M::Text("/index/open-holds", "/index/by-email", 0)),
        (
            "fulfill's index Query also Scans",
            "least_privilege",
            M::Text("Action: dynamodb:Query", "Action: [dynamodb:Query, dynamodb:Scan]", 0),
        ),
        (
            "Query grant names a missing index",
            "least_privilege",
            M::Text("IndexName: open-holds", "IndexName: holds", 0),
        ),
        (
            "fulfill cannot Query payment-intents",
            "least_privilege",
            M::Text("Action: dynamodb:Query", "Action: dynamodb:GetItem", 1),
        ),
        (
            "fulfill Queries the table for payment intents",
            "least_privilege",
            M::Text("!Sub ${OrdersTable.Arn}/index/payment-intents", "!GetAtt OrdersTable.Arn", 0),
        ),
        (
            "payment-intents grant dropped",
            "least_privilege",
            M::Json(|t| {
                statements_mut(t, "FulfillRole").retain(|s| s["Sid"] != "PaymentIntents");
            }),
        ),
        (
            "payment-intents Query also Scans",
            "least_privilege",
            M::Text("Action: dynamodb:Query", "Action: [dynamodb:Query, dynamodb:Scan]", 1),
        ),
        (
            "payment-intents grant names a missing index",
            "least_privilege",
            M::Text("IndexName: payment-intents", "IndexName: payments", 0),
        ),
        (
            "checkout Queries payment-intents",
            "least_privilege",
            M::Json(|t| {
                statements_mut(t, "CheckoutRole").push(json!({"Effect": "Allow", "Action": "dynamodb:Query",
                    "Resource": {"Fn::Sub": "${OrdersTable.Arn}/index/payment-intents"}}));
            }),
        ),
        (
            "configuration set unconditional",
            "least_privilege",
            M::Json(|t| {
                let s = statements_mut(t, "FulfillRole").iter_mut().find(|s| s["Sid"] == "SendTicketMail").unwrap();
                s["Resource"][1] = json!({"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}"});
            }),
        ),
        (
            "kms unconditional",
            "kms_conditional",
            M::Json(|t| {
                let statements = statements_mut(t, "CheckoutRole");
                let i = statements.iter().position(|s| s.get("Fn::If").is_some()).unwrap();
                statements[i] = statements[i]["Fn::If"][1].clone();
            }),
        ),
        (
            "kms condition inverted",
            "kms_conditional",
            M::Text(
                "HasConfigKmsKey: !Not [!Equals [!Ref ConfigKmsKeyArn, \"\"]]",
                "HasConfigKmsKey: !Equals [!Ref ConfigKmsKeyArn, \"\"]",
                0,
            ),
        ),
        (
            "kms statement dropped from fulfill",
            "kms_conditional",
            M::Json(|t| {
                statements_mut(t, "FulfillRole").retain(|s| s.get("Fn::If").is_none());
            }),
        ),
        (
            "domain unconditional",
            "domain_and_outputs",
            M::Json(|t| {
                t["Resources"]["ApiDomainName"].as_object_mut().unwrap().remove("Condition");
            }),
        ),
        ("webhook output wrong path", "domain_and_outputs", M::Text("\"/fulfill\"]]", "\"/checkout\"]]", 0)),
        ("availability output wrong path", "domain_and_outputs", M::Text("\"/availability\"]]", "\"/checkout\"]]", 0)),
        (
            "webhook output forgets checkout.session.expired",
            "domain_and_outputs",
            M::Text(" checkout.session.expired,", "", 0),
        ),
        (
            "webhook output forgets charge.refunded",
            "domain_and_outputs",
            M::Text("      charge.refunded, ", "      ", 0),
        ),
        (
            "webhook output forgets charge.dispute.created",
            "domain_and_outputs",
            M::Text("charge.dispute.created and ", "", 0),
        ),
        (
            "webhook output forgets charge.dispute.closed",
            "domain_and_outputs",
            M::Text(" and charge.dispute.closed", "", 0),
        ),
        ("edge endpoint", "domain_and_outputs", M::Text("EndpointType: REGIONAL", "EndpointType: EDGE", 0)),
        (
            "access-log output dropped",
            "domain_and_outputs",
            M::Json(|t| {
                t["Outputs"].as_object_mut().unwrap().remove("ApiAccessLogGroupName");
            }),
        ),
        (
            "execute-api endpoint kept with a domain",
            "domain_and_outputs",
            M::Json(|t| {
                t["Resources"]["TicketsApi"]["Properties"].as_object_mut().unwrap().remove("DisableExecuteApiEndpoint");
            }),
        ),
        (
            "execute-api endpoint off without a domain",
            "domain_and_outputs",
            M::Text("!If [HasDomain, true, false]", "!If [HasDomain, false, true]", 0),
        ),
        (
            "webhook URL ignores the domain",
            "domain_and_outputs",
            M::Json(|t| {
                t["Outputs"]["StripeWebhookUrl"]["Value"]["Fn::Join"][1][0] =
                    json!({"Fn::GetAtt": ["TicketsApi", "ApiEndpoint"]});
            }),
        ),
        (
            "deletion protection off",
            "table",
            M::Text("DeletionProtectionEnabled: true", "DeletionProtectionEnabled: false", 0),
        ),
        (
            "deletion protection removed",
            "table",
            M::Json(|t| {
                t["Resources"]["OrdersTable"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("DeletionProtectionEnabled");
            }),
        ),
        (
            "checkout's LeadingKeys dropped",
            "leading_keys",
            M::Json(|t| {
                let s = statements_mut(t, "CheckoutRole").iter_mut().find(|s| s["Sid"] == "Holds").unwrap();
                s.as_object_mut().unwrap().remove("Condition");
            }),
        ),
        (
            "checkout may touch orders",
            "leading_keys",
            M::Text("[\"counter#*\", \"hold#*\"]", "[\"counter#*\", \"hold#*\", \"session#*\"]", 0),
        ),
        (
            "ForAnyValue admits mixed batches",
            "leading_keys",
            M::Text("ForAllValues:StringLike:", "ForAnyValue:StringLike:", 0),
        ),
        ("fulfill loses votekey#", "leading_keys", M::Text("\"session#*\", \"votekey#*\", ", "\"session#*\", ", 0)),
        ("fulfill's LeadingKeys a bare wildcard", "leading_keys", M::Text("[\"session#*\",", "[\"*\",", 0)),
        ("a prefix without its #", "leading_keys", M::Text("\"hold#*\"]", "\"hold*\"]", 1)),
        (
            "LeadingKeys on the open-holds Query",
            "leading_keys",
            M::Json(|t| {
                let statements = statements_mut(t, "FulfillRole");
                let condition = statements.iter().find(|s| s["Sid"] == "Orders").unwrap()["Condition"].clone();
                statements.iter_mut().find(|s| s["Sid"] == "OpenHolds").unwrap()["Condition"] = condition;
            }),
        ),
        (
            "a second, unconditioned table statement",
            "leading_keys",
            M::Json(|t| {
                statements_mut(t, "FulfillRole").push(json!({"Effect": "Allow", "Action": "dynamodb:GetItem",
                    "Resource": {"Fn::GetAtt": ["OrdersTable", "Arn"]}}));
            }),
        ),
        (
            "LeadingKeys beside another condition key",
            "leading_keys",
            M::Json(|t| {
                let s = statements_mut(t, "FulfillRole").iter_mut().find(|s| s["Sid"] == "Orders").unwrap();
                s["Condition"]["ForAllValues:StringLike"]["dynamodb:Attributes"] = json!(["*"]);
            }),
        ),
        (
            "sender condition dropped",
            "sender_address",
            M::Json(|t| {
                let s = statements_mut(t, "FulfillRole").iter_mut().find(|s| s["Sid"] == "SendTicketMail").unwrap();
                s.as_object_mut().unwrap().remove("Condition");
            }),
        ),
        (
            "sender condition unconditional",
            "sender_address",
            M::Json(|t| {
                let s = statements_mut(t, "FulfillRole").iter_mut().find(|s| s["Sid"] == "SendTicketMail").unwrap();
                s["Condition"] = s["Condition"]["Fn::If"][1].clone();
            }),
        ),
        (
            "sender condition on the recipients",
            "sender_address",
            M::Text("ses:FromAddress: !Ref SenderAddress", "ses:Recipients: !Ref SenderAddress", 0),
        ),
        (
            "HasSenderAddress inverted",
            "sender_address",
            M::Text(
                "HasSenderAddress: !Not [!Equals [!Ref SenderAddress, \"\"]]",
                "HasSenderAddress: !Equals [!Ref SenderAddress, \"\"]",
                0,
            ),
        ),
        (
            "trace allowed",
            "log_level",
            M::Text("AllowedValues: [error, warn, info, debug]", "AllowedValues: [error, warn, info, debug, trace]", 0),
        ),
        (
            "LogLevel free text",
            "log_level",
            M::Json(|t| {
                t["Parameters"]["LogLevel"].as_object_mut().unwrap().remove("AllowedValues");
            }),
        ),
        ("RUST_LOG hard-coded", "log_level", M::Text("RUST_LOG: !Ref LogLevel", "RUST_LOG: trace", 1)),
        (
            "ApplicationLogLevel beside RUST_LOG",
            "log_level",
            M::Json(|t| {
                t["Resources"]["CheckoutFunction"]["Properties"]["LoggingConfig"]["ApplicationLogLevel"] =
                    json!("TRACE");
            }),
        ),
        (
            "topic without AlertEmail",
            "alarm_topic",
            M::Json(|t| {
                t["Resources"]["AlertTopic"].as_object_mut().unwrap().remove("Condition");
            }),
        ),
        (
            "HasAlertEmail inverted",
            "alarm_topic",
            M::Text(
                "HasAlertEmail: !Not [!Equals [!Ref AlertEmail, \"\"]]",
                "HasAlertEmail: !Equals [!Ref AlertEmail, \"\"]",
                0,
            ),
        ),
        ("subscription by SMS", "alarm_topic", M::Text("Protocol: email", "Protocol: sms", 0)),
        (
            "subscription to a fixed address",
            "alarm_topic",
            M::Json(|t| {
                t["Resources"]["AlertSubscription"]["Properties"]["Endpoint"] = json!("orga@example.org");
            }),
        ),
        (
            "alarm without AlertEmail",
            "alarm_topic",
            M::Json(|t| {
                t["Resources"]["AlertMailRefusedAlarm"].as_object_mut().unwrap().remove("Condition");
            }),
        ),
        (
            "AlertEmail required",
            "alarm_topic",
            M::Json(|t| {
                t["Parameters"]["AlertEmail"].as_object_mut().unwrap().remove("Default");
            }),
        ),
        (
            "checkout errors not alarmed",
            "alarms",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("CheckoutErrorsAlarm");
            }),
        ),
        (
            "fulfill errors alarm watches checkout",
            "alarms",
            M::Text("Value: !Ref FulfillFunction", "Value: !Ref CheckoutFunction", 0),
        ),
        ("5xx alarm on REST's metric name", "alarms", M::Text("MetricName: 5xx", "MetricName: 5XXError", 0)),
        (
            "5xx not alarmed",
            "alarms",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("Api5xxAlarm");
            }),
        ),
        (
            "alarm at 5 in 5 minutes",
            "alarms",
            M::Json(|t| {
                t["Resources"]["AlertDisputeOpenedAlarm"]["Properties"]["Threshold"] = json!(5);
            }),
        ),
        (
            "alarm over an hour",
            "alarms",
            M::Json(|t| {
                t["Resources"]["AlertWebhookMissedAlarm"]["Properties"]["Period"] = json!(3600);
            }),
        ),
        (
            "missing data breaching",
            "alarms",
            M::Text("TreatMissingData: notBreaching", "TreatMissingData: breaching", 0),
        ),
        ("alarm averages", "alarms", M::Text("Statistic: Sum", "Statistic: Average", 2)),
        ("alarm above instead of at 1", "alarms", M::Text("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", 3)),
        (
            "alarm mails nobody",
            "alarms",
            M::Json(|t| {
                t["Resources"]["FulfillErrorsAlarm"]["Properties"].as_object_mut().unwrap().remove("AlarmActions");
            }),
        ),
        (
            "429s not counted",
            "alarms",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("ApiThrottledFilter");
            }),
        ),
        ("throttle filter counts 200s", "alarms", M::Text("'{ $.status = \"429\" }'", "'{ $.status = \"200\" }'", 0)),
        (
            "an alert without its alarm",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("AlertMailRefusedAlarm");
            }),
        ),
        (
            "an alert not counted on fulfill",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("AlertDisputeOpenedFulfillFilter");
            }),
        ),
        (
            "config_unavailable not counted on checkout",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"].as_object_mut().unwrap().remove("AlertConfigUnavailableCheckoutFilter");
            }),
        ),
        (
            "filter pattern misses tracing's fields",
            "alert_metrics",
            M::Text("'{ $.fields.alert = \"webhook_missed\" }'", "'{ $.alert = \"webhook_missed\" }'", 0),
        ),
        (
            "filter counts into another metric",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"]["AlertVotekeyPoolEmptyFulfillFilter"]["Properties"]["MetricTransformations"][0]["MetricName"] =
                    json!("votekey_pool");
            }),
        ),
        (
            "filter publishes zeros",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"]["AlertSoldAfterReleaseFulfillFilter"]["Properties"]["MetricTransformations"][0]["DefaultValue"] =
                    json!(0);
            }),
        ),
        (
            "alarm watches a namespace shared by every stack",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"]["AlertWebhookMismatchAlarm"]["Properties"]["Namespace"] = json!("tdf-tickets");
            }),
        ),
        (
            "fulfill's filter on the access log",
            "alert_metrics",
            M::Text("LogGroupName: !Ref FulfillLogGroup", "LogGroupName: !Ref ApiAccessLogGroup", 0),
        ),
        (
            "a filter for an alert the code no longer has",
            "alert_metrics",
            M::Json(|t| {
                t["Resources"]["AlertOldFulfillFilter"] = json!({"Type": "AWS::Logs::MetricFilter", "Properties": {
                    "LogGroupName": {"Ref": "FulfillLogGroup"}, "FilterPattern": "{ $.fields.alert = \"old_alert\" }",
                    "MetricTransformations": [{"MetricNamespace": {"Fn::Sub": "tdf-tickets/${AWS::StackName}"},
                        "MetricName": "old_alert", "MetricValue": "1", "Unit": "Count"}]}});
            }),
        ),
    ];

    // The unmutated template passes every check (so each failure below is
    // caused by its mutation).
    let original = parse(TEMPLATE);
    for (name, check) in CHECKS {
        check(&original).unwrap_or_else(|e| panic!("check {name} fails on the unmutated template: {e}"));
    }
    let mut survived = Vec::new();
    for (what, check_name, mutation) in mutations {
        let t = match mutation {
            M::Text(from, to, nth) => parse(&replace_nth(TEMPLATE, from, to, nth)),
            M::Json(f) => {
                let mut t = original.clone();
                f(&mut t);
                t
            }
        };
        let check = CHECKS.iter().find(|(n, _)| *n == check_name).expect("known check").1;
        if check(&t).is_ok() {
            survived.push(format!("{what} (check {check_name})"));
        }
    }
    assert!(survived.is_empty(), "mutations not caught: {survived:#?}");
}

#[test]
fn short_tags_parse_to_long_form() {
    let t = parse(
        "a: !GetAtt X.Arn\nb: !Sub x${Y}\nc: !If [C, !Ref A, !Ref AWS::NoValue]\nd: !Condition C\ne: !Select [0, !Split [\"/\", !Ref P]]\n",
    );
    assert_eq!(t["a"], json!({"Fn::GetAtt": ["X", "Arn"]}));
    assert_eq!(t["b"], json!({"Fn::Sub": "x${Y}"}));
    assert_eq!(t["c"], json!({"Fn::If": ["C", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}));
    assert_eq!(t["d"], json!({"Condition": "C"}));
    assert_eq!(t["e"], json!({"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "P"}]}]}));
}

#[test]
fn build_binaries_exist_in_the_workspace() {
    // BuildProperties.Binary names a bin target cargo-lambda builds from the
    // workspace root; each lives in crates/<name>/src/main.rs.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = parse(TEMPLATE);
    for (id, binary, _) in FUNCTIONS {
        assert_eq!(t["Resources"][id]["Metadata"]["BuildProperties"]["Binary"], binary);
        let main = root.join("crates").join(binary).join("src/main.rs");
        assert!(main.is_file(), "{id}: {} is missing", main.display());
    }
}
