//! One module per resource kind; each turns a request into engine calls and
//! the engine's answer into the service's response.

pub mod account;
pub mod batch;
pub mod changes;
pub mod containers;
pub mod databases;
pub mod items;
pub mod offers;
pub mod query;
pub mod scripts;
pub mod users;

use serde_json::{json, Value};

use cosmonaut_engine::FeedPage;

use crate::reply::Reply;
use axum::http::StatusCode;

/// A metadata resource (database, user, script...) with its etag.
pub(crate) fn resource_reply(status: StatusCode, body: Value) -> Reply {
    Reply::json(status, body)
        .etag_from_body()
        .charge(crate::charge::METADATA)
}

/// The JSON size of a page's items, for the charge and query metrics.
pub(crate) fn page_bytes(page: &FeedPage) -> usize {
    page.items.iter().map(|v| v.to_string().len()).sum()
}

/// A feed page in the service's envelope: `{"_rid", "<Kind>": [...], "_count"}`.
pub(crate) fn feed_reply(kind: &str, owner_rid: &str, page: FeedPage) -> Reply {
    let bytes = page_bytes(&page);
    sized_feed_reply(kind, owner_rid, page, bytes)
}

/// [`feed_reply`] for a caller that has already measured the page.
pub(crate) fn sized_feed_reply(kind: &str, owner_rid: &str, page: FeedPage, bytes: usize) -> Reply {
    let count = page.items.len();
    let mut body = json!({"_rid": owner_rid, "_count": count});
    body[kind] = Value::Array(page.items);
    let reply = Reply::json(StatusCode::OK, body)
        .header("x-ms-item-count", count.to_string())
        .charge(crate::charge::feed(count, bytes));
    match page.continuation {
        Some(token) => reply.header("x-ms-continuation", token),
        None => reply,
    }
}
