//! One module per resource kind; each turns a request into engine calls and
//! the engine's answer into the service's response.

pub mod account;
pub mod batch;
pub mod changes;
pub mod conflicts;
pub mod containers;
pub mod databases;
pub mod items;
pub mod offers;
pub mod query;
pub mod scripts;
pub mod users;

use serde_json::{json, Value};

use cosmonaut_engine::{FeedPage, FeedRequest};

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
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

/// Every resource of a feed, read page by page through `list`; with the
/// owner's rid.
pub(crate) fn whole_feed(
    mut list: impl FnMut(&FeedRequest) -> Result<(FeedPage, String), ApiError>,
) -> Result<(Vec<Value>, String), ApiError> {
    let mut request = FeedRequest {
        max_items: Some(-1),
        continuation: None,
    };
    let mut all = Vec::new();
    loop {
        let (page, owner) = list(&request)?;
        all.extend(page.items);
        match page.continuation {
            Some(token) => request.continuation = Some(token),
            None => return Ok((all, owner)),
        }
    }
}

/// A query over a resource feed (databases, containers, users, scripts,
/// offers...): the query runs over the whole feed, and the rows are paged
/// by `x-ms-max-item-count` with the row offset as continuation.
pub(crate) fn query_feed_reply(
    ctx: &RequestContext,
    kind: &str,
    owner_rid: &str,
    resources: Vec<Value>,
) -> Result<Reply, ApiError> {
    let rows = query::run_over(ctx, resources)?;
    paged_rows_reply(ctx, kind, owner_rid, rows)
}

/// Rows of a feed held whole in memory, paged by `x-ms-max-item-count`
/// with the row offset as continuation.
pub(crate) fn paged_rows_reply(
    ctx: &RequestContext,
    kind: &str,
    owner_rid: &str,
    rows: Vec<Value>,
) -> Result<Reply, ApiError> {
    let request = ctx.feed_request()?;
    let start = match request.continuation.as_deref() {
        None => 0,
        Some(token) => token.trim().parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid continuation token '{token}' for this feed."
            ))
        })?,
    };
    let limit = match request.max_items {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let total = rows.len();
    let items: Vec<Value> = rows.into_iter().skip(start).take(limit).collect();
    let end = start.saturating_add(items.len());
    let page = FeedPage {
        items,
        continuation: (end < total).then(|| end.to_string()),
        documents_read: total,
    };
    Ok(feed_reply(kind, owner_rid, page))
}

/// A query that names no partition key (nor a partition key range) must
/// say it may fan out (`x-ms-documentdb-query-enablecrosspartition`), or
/// the service refuses it. The refusal has no sub-status, so clients raise
/// it rather than ask for a query plan (sub-status 1004).
/// `pinned` says whether the query's own filter pins one partition key
/// value, which the service serves without consent.
pub(crate) fn require_cross_partition_consent(
    ctx: &RequestContext,
    pinned: impl FnOnce() -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    let scoped = ctx.partition_key()?.is_some_and(|key| !key.is_empty())
        || ctx.partition_key_range_id().is_some();
    if scoped || ctx.flag("x-ms-documentdb-query-enablecrosspartition") || pinned()? {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "Cross partition query is required but disabled. Please set \
         x-ms-documentdb-query-enablecrosspartition to true, specify \
         x-ms-documentdb-partitionkey, or revise your query to avoid this exception.",
    ))
}
