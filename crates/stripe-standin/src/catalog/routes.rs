//! The catalog's routes, for keys of either mode: `GET /v1/{products,
//! prices, shipping_rates}` (lists, newest first, `limit` and
//! `starting_after`; `active`; prices also `product`, `currency`, `type`;
//! shipping rates `currency`), `GET …/{id}` (prices with
//! `expand[]=product`), and `POST` to create (`Idempotency-Key` honoured).

use super::{Kind, Missing, Mode, PRICES, PRODUCTS, SHIPPING_RATES};
use crate::api::{Keys, Shared, admit_in, admit_post_in, expand_ids, invalid_param, no_such, recorded, stripe_error};
use crate::objects::list_page;
use crate::param;
use crate::store::lock;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use std::sync::{Arc, Mutex};

use crate::store::Store;

pub(crate) fn add_routes(mut router: Router<Arc<Mutex<Store>>>) -> Router<Arc<Mutex<Store>>> {
    for kind in [&PRODUCTS, &PRICES, &SHIPPING_RATES] {
        let list_handler = move |s: Shared, q: RawQuery, h: HeaderMap| list(s, q, h, kind);
        let create_handler = move |s: Shared, q: RawQuery, h: HeaderMap, b: Bytes| create(s, q, h, b, kind);
        let retrieve_handler =
            move |s: Shared, id: Path<String>, q: RawQuery, h: HeaderMap| retrieve(s, id, q, h, kind);
        router = router
            .route(&format!("/v1/{}", kind.path), get(list_handler).post(create_handler))
            .route(&format!("/v1/{}/{{id}}", kind.path), get(retrieve_handler));
    }
    router
}

/// Stripe's 404, saying so when the object is the other mode's.
fn not_found(kind: &Kind, id: &str, missing: &Missing, mode: Mode) -> Response {
    match missing {
        Missing::NoSuch => no_such(kind.label, id, kind.param),
        Missing::InMode(other) => {
            let message = format!(
                "No such {}: '{id}'; a similar object exists in {} mode, but a {} mode key was used to make this request.",
                kind.label,
                other.name(),
                mode.name()
            );
            stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                &message,
                Some(kind.param),
                Some("resource_missing"),
            )
        }
    }
}

async fn retrieve(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    kind: &'static Kind,
) -> Response {
    let request = recorded("GET", format!("/v1/{}/{id}", kind.path), query, &headers, &[]);
    let params = request.query.clone();
    let mode = match admit_in(&store, request, Keys::EitherMode).await {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    let store = lock(&store);
    let mut object = match store.catalog.find(kind, &id, mode) {
        Ok(object) => object.clone(),
        Err(missing) => return not_found(kind, &id, &missing, mode),
    };
    expand_ids(&store, &mut object, &params);
    axum::Json(object).into_response()
}

async fn list(State(store): Shared, RawQuery(query): RawQuery, headers: HeaderMap, kind: &'static Kind) -> Response {
    let url = format!("/v1/{}", kind.path);
    let request = recorded("GET", url.clone(), query, &headers, &[]);
    let params = request.query.clone();
    let mode = match admit_in(&store, request, Keys::EitherMode).await {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    let active = match param(&params, "active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return invalid_param(("active".into(), format!("Invalid boolean: {other}"))),
    };
    let filter = |field: &str| param(&params, field).filter(|_| kind.object != "product");
    let (product, currency, kind_type) = (filter("product"), filter("currency"), filter("type"));
    let keep = |o: &Value| {
        active.is_none_or(|a| o["active"] == a)
            && product.is_none_or(|p| o["product"] == p)
            && currency.is_none_or(|c| o["currency"] == c || o["fixed_amount"]["currency"] == c)
            && kind_type.is_none_or(|t| o["type"] == t)
    };
    let store = lock(&store);
    let items = store.catalog.list(kind, mode, keep);
    axum::Json(list_page(&items, &params, &url)).into_response()
}

async fn create(
    State(store): Shared,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
    kind: &'static Kind,
) -> Response {
    let request = recorded("POST", format!("/v1/{}", kind.path), query, &headers, &body);
    let (mut store, posted, mode) = match admit_post_in(&store, request, Keys::EitherMode).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let created = match kind.object {
        "product" => store.catalog.create_product(mode, &posted.form),
        "price" => store.catalog.create_price(mode, &posted.form),
        _ => store.catalog.create_shipping_rate(mode, &posted.form),
    };
    match created {
        Ok(object) => {
            posted.remember(&mut store, &object);
            axum::Json(object).into_response()
        }
        Err(invalid) => invalid_param(invalid),
    }
}
