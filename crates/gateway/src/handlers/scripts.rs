//! `/dbs/{db}/colls/{coll}/sprocs`, `/triggers` and `/udfs`: a container's
//! scripts as resources, and running a stored procedure (`POST` on one).

use axum::http::{Method, StatusCode};
use cosmonaut_engine::ScriptKind;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::items::session_headers;
use super::{feed_reply, query_feed_reply, resource_reply, whole_feed};
use crate::charge::{self, METADATA};
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// What the script log header escapes: everything but RFC 3986's unreserved
/// characters, as the service escapes it (the SDKs unescape it with .NET's
/// `Uri.UnescapeDataString` and expect Python's `urllib.parse.quote`).
const LOG_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Create (or upsert), list and query.
pub async fn feed(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    kind: ScriptKind,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::POST if ctx.is_query() => {
            let (all, owner) = whole_feed(|r| Ok(engine.list_scripts(db, coll, kind, r)?))?;
            query_feed_reply(ctx, kind.feed_name(), &owner, all)
        }
        Method::POST => {
            let (script, created) = engine
                .create_script(db, coll, kind, ctx.json_body()?, ctx.is_upsert())
                .await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(resource_reply(status, script))
        }
        Method::GET => {
            let (page, owner) = engine.list_scripts(db, coll, kind, &ctx.feed_request()?)?;
            Ok(feed_reply(kind.feed_name(), &owner, page))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// Read, replace, delete, and (for a stored procedure) execute.
pub async fn one(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    kind: ScriptKind,
    id: &str,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::GET => Ok(resource_reply(
            StatusCode::OK,
            engine.read_script(db, coll, kind, id)?,
        )),
        Method::PUT => Ok(resource_reply(
            StatusCode::OK,
            engine
                .replace_script(db, coll, kind, id, ctx.json_body()?)
                .await?,
        )),
        Method::DELETE => {
            engine.delete_script(db, coll, kind, id).await?;
            Ok(Reply::empty(StatusCode::NO_CONTENT).charge(METADATA))
        }
        Method::POST if kind == ScriptKind::StoredProcedure => {
            execute(gateway, ctx, db, coll, id).await
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// Runs a stored procedure. The body is its argument list (a single
/// non-array value is one argument); the reply is whatever the procedure
/// set as its response body.
async fn execute(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let arguments = if ctx.body.is_empty() {
        Vec::new()
    } else {
        match ctx.json_body()? {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => vec![other],
        }
    };
    let logging = ctx.flag("x-ms-documentdb-script-enable-logging");
    let result = gateway
        .engine
        .execute_stored_procedure(db, coll, id, &ctx.partition_key()?, arguments, logging)
        .await?;
    let reply = match result.body {
        Some(body) => Reply::json(StatusCode::OK, body),
        None => Reply::json_text(StatusCode::OK, b"\"\"".to_vec()),
    };
    let reply = if logging {
        let log = utf8_percent_encode(&result.log, LOG_ESCAPED).to_string();
        reply.header("x-ms-documentdb-script-log-results", log)
    } else {
        reply
    };
    Ok(session_headers(reply, &result.range_id, result.lsn, db, coll).charge(charge::write(0)))
}
