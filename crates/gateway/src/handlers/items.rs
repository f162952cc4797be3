use axum::http::{Method, StatusCode};
use cosmonaut_engine::patch;
use cosmonaut_engine::validation::{check_item_size, MAX_ITEM_BYTES};
use cosmonaut_engine::{ItemOutcome, ItemPage, ItemScope, WriteMode};

use super::{page_bytes, sized_feed_reply};
use crate::charge;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// The session token of a write or read: `{range}:-1#{lsn}`, a vector token
/// with no regional progress.
pub(crate) fn session_token(range_id: &str, lsn: u64) -> String {
    [range_id, ":-1#", itoa::Buffer::new().format(lsn)].concat()
}

fn item_reply(status: StatusCode, outcome: ItemOutcome, db: &str, coll: &str, ru: f64) -> Reply {
    let reply = match outcome.text {
        // The text the engine stored: no second printing of the document.
        Some(text) => Reply::json_text(status, text).etag_from(&outcome.document),
        None if outcome.document.is_null() => Reply::empty(status),
        None => Reply::json(status, outcome.document).etag_from_body(),
    };
    session_headers(reply, &outcome.range_id, outcome.lsn, db, coll).charge(ru)
}

/// What every item response says about where the item lives and how far
/// its container has got.
pub(crate) fn session_headers(
    reply: Reply,
    range_id: &str,
    lsn: u64,
    db: &str,
    coll: &str,
) -> Reply {
    reply
        .header("x-ms-session-token", session_token(range_id, lsn))
        .header("lsn", itoa::Buffer::new().format(lsn).to_string())
        .header("x-ms-documentdb-partitionkeyrangeid", range_id)
        .header(
            "x-ms-alt-content-path",
            ["dbs/", db, "/colls/", coll].concat(),
        )
}

/// A page of items (read feed or query results) with the session headers of
/// the range it came from.
pub(crate) fn item_page_reply(
    db: &str,
    coll: &str,
    scope: &ItemScope,
    result: ItemPage,
    bytes: usize,
) -> Reply {
    let range_id = match scope {
        ItemScope::Range { id, .. } => id.as_str(),
        _ => "0",
    };
    sized_feed_reply("Documents", &result.container_rid, result.page, bytes)
        .header("x-ms-session-token", session_token(range_id, result.lsn))
        .header("lsn", result.lsn.to_string())
        .header("x-ms-alt-content-path", format!("dbs/{db}/colls/{coll}"))
        .header("x-ms-content-path", result.container_rid)
}

/// `/dbs/{db}/colls/{coll}/docs`: create or upsert, batches, queries and the read feed.
pub async fn feed(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    match ctx.method {
        Method::POST if ctx.is_query_plan_request() => super::query::plan(ctx),
        Method::POST if ctx.is_query() => super::query::run(gateway, ctx, db, coll),
        Method::POST if ctx.is_batch() => super::batch::run(gateway, ctx, db, coll).await,
        Method::POST => {
            let size = ctx.body.len();
            check_item_size(size.min(MAX_ITEM_BYTES + 1))?;
            let mode = if ctx.is_upsert() {
                WriteMode::Upsert
            } else {
                WriteMode::Create
            };
            let outcome = gateway
                .engine
                .write_item(
                    db,
                    coll,
                    mode,
                    ctx.json_body()?,
                    ctx.partition_key()?,
                    ctx.write_options(),
                )
                .await?;
            let (status, ru) = if outcome.created {
                (StatusCode::CREATED, charge::write(size))
            } else {
                (StatusCode::OK, charge::replace(size))
            };
            Ok(item_reply(status, outcome, db, coll, ru))
        }
        Method::GET if ctx.is_change_feed() => super::changes::read(gateway, ctx, db, coll),
        Method::GET => {
            let scope = ctx.item_scope()?;
            let result = gateway
                .engine
                .read_items(db, coll, &scope, &ctx.feed_request()?)?;
            let bytes = page_bytes(&result.page);
            Ok(item_page_reply(db, coll, &scope, result, bytes))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}/colls/{coll}/docs/{id}`: read, replace, patch and delete.
pub async fn one(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    one_item(gateway, ctx, db, coll, id)
        .await
        .map_err(|err| with_session_of_missing(gateway, ctx, db, coll, err))
}

/// A 404 for a missing item (not a missing container) still carries the
/// session token, LSN and partition key range, as the service's does.
fn with_session_of_missing(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    err: ApiError,
) -> ApiError {
    if err.status != StatusCode::NOT_FOUND || err.substatus != 0 {
        return err;
    }
    let position = ctx
        .partition_key()
        .ok()
        .and_then(|key| gateway.engine.session_position(db, coll, &key).ok());
    match position {
        Some((range_id, lsn)) => err
            .with_header("x-ms-session-token", session_token(&range_id, lsn))
            .with_header("lsn", lsn.to_string())
            .with_header("x-ms-documentdb-partitionkeyrangeid", range_id),
        None => err,
    }
}

async fn one_item(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::GET => {
            let stored = engine.read_item_text(db, coll, id, &ctx.partition_key()?)?;
            let reply = if ctx.if_none_match() == Some(stored.etag.as_str()) {
                Reply::empty(StatusCode::NOT_MODIFIED).charge(1.0)
            } else {
                let charge = charge::point_read(stored.text.len());
                Reply::json_text(StatusCode::OK, stored.text).charge(charge)
            };
            let reply = reply.header("etag", stored.etag);
            Ok(session_headers(
                reply,
                &stored.range_id,
                stored.lsn,
                db,
                coll,
            ))
        }
        Method::PUT => {
            let size = ctx.body.len();
            check_item_size(size.min(MAX_ITEM_BYTES + 1))?;
            let mode = WriteMode::Replace { id: id.to_string() };
            let outcome = engine
                .write_item(
                    db,
                    coll,
                    mode,
                    ctx.json_body()?,
                    ctx.partition_key()?,
                    ctx.write_options(),
                )
                .await?;
            Ok(item_reply(
                StatusCode::OK,
                outcome,
                db,
                coll,
                charge::replace(size),
            ))
        }
        Method::PATCH => {
            let body = ctx.json_body()?;
            let operations = patch::parse_operations(&body)?;
            let condition = body.get("condition").and_then(|c| c.as_str());
            let outcome = engine
                .patch_item(
                    db,
                    coll,
                    id,
                    &ctx.partition_key()?,
                    operations,
                    condition,
                    ctx.if_match(),
                )
                .await?;
            let ru = charge::replace(outcome.document.to_string().len());
            Ok(item_reply(StatusCode::OK, outcome, db, coll, ru))
        }
        Method::DELETE => {
            let outcome = engine
                .delete_item(db, coll, id, &ctx.partition_key()?, ctx.write_options())
                .await?;
            Ok(item_reply(
                StatusCode::NO_CONTENT,
                outcome,
                db,
                coll,
                charge::delete(1024),
            ))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `POST .../operations/partitionkeydelete`: removes every item of the
/// logical partition named in the partition key header.
pub async fn delete_partition(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    if ctx.method != Method::POST {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let deleted = gateway
        .engine
        .delete_partition_key(db, coll, &ctx.partition_key()?)
        .await?;
    Ok(Reply::empty(StatusCode::OK).charge(charge::delete(1024) * deleted.max(1) as f64))
}
