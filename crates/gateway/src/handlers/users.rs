//! `/dbs/{db}/users` and `/dbs/{db}/users/{user}/permissions`: users and
//! the permissions (resource tokens) granted to them.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::{feed_reply, query_feed_reply, resource_reply, whole_feed};
use crate::auth;
use crate::charge::METADATA;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// `/dbs/{db}/users`: create and list.
pub async fn feed(gateway: &Gateway, ctx: &RequestContext, db: &str) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::POST if ctx.is_query() => {
            let (all, owner) = whole_feed(|r| Ok(engine.list_users(db, r)?))?;
            query_feed_reply(ctx, "Users", &owner, all)
        }
        Method::POST => {
            let body = ctx.json_body()?;
            let existing = upserted(ctx, &body, |id| engine.read_user(db, id).is_ok());
            Ok(match existing {
                Some(id) => {
                    resource_reply(StatusCode::OK, engine.replace_user(db, &id, body).await?)
                }
                None => resource_reply(StatusCode::CREATED, engine.create_user(db, body).await?),
            })
        }
        Method::GET => {
            let (page, owner) = engine.list_users(db, &ctx.feed_request()?)?;
            Ok(feed_reply("Users", &owner, page))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}/users/{user}`: read, replace (rename) and delete.
pub async fn one(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    user: &str,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::GET => Ok(resource_reply(StatusCode::OK, engine.read_user(db, user)?)),
        Method::PUT => Ok(resource_reply(
            StatusCode::OK,
            engine.replace_user(db, user, ctx.json_body()?).await?,
        )),
        Method::DELETE => {
            engine.delete_user(db, user).await?;
            Ok(Reply::empty(StatusCode::NO_CONTENT).charge(METADATA))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}/users/{user}/permissions`: create (or upsert) and list.
pub async fn permissions(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    user: &str,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::POST if ctx.is_query() => {
            let validity = token_validity(ctx)?;
            let (all, owner) = whole_feed(|r| Ok(engine.list_permissions(db, user, r)?))?;
            let all = all
                .into_iter()
                .map(|p| with_token(gateway, db, user, p, validity))
                .collect();
            query_feed_reply(ctx, "Permissions", &owner, all)
        }
        Method::POST => {
            let body = ctx.json_body()?;
            let existing = upserted(ctx, &body, |id| {
                engine.read_permission(db, user, id).is_ok()
            });
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let validity = token_validity(ctx)?;
            let permission = engine
                .write_permission(db, user, body, existing.as_deref())
                .await?;
            Ok(resource_reply(
                status,
                with_token(gateway, db, user, permission, validity),
            ))
        }
        Method::GET => {
            let validity = token_validity(ctx)?;
            let (mut page, owner) = engine.list_permissions(db, user, &ctx.feed_request()?)?;
            page.items = std::mem::take(&mut page.items)
                .into_iter()
                .map(|p| with_token(gateway, db, user, p, validity))
                .collect();
            Ok(feed_reply("Permissions", &owner, page))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}/users/{user}/permissions/{id}`: read, replace and delete.
pub async fn permission(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    user: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let engine = &gateway.engine;
    match ctx.method {
        Method::GET => {
            let permission = engine.read_permission(db, user, id)?;
            let validity = token_validity(ctx)?;
            Ok(resource_reply(
                StatusCode::OK,
                with_token(gateway, db, user, permission, validity),
            ))
        }
        Method::PUT => {
            let validity = token_validity(ctx)?;
            let permission = engine
                .write_permission(db, user, ctx.json_body()?, Some(id))
                .await?;
            Ok(resource_reply(
                StatusCode::OK,
                with_token(gateway, db, user, permission, validity),
            ))
        }
        Method::DELETE => {
            engine.delete_permission(db, user, id).await?;
            Ok(Reply::empty(StatusCode::NO_CONTENT).charge(METADATA))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// The id of the existing resource an upsert replaces: the body's id, when
/// the request is an upsert and `exists` finds it; `None` for a create.
fn upserted(ctx: &RequestContext, body: &Value, exists: impl Fn(&str) -> bool) -> Option<String> {
    body.get("id")
        .and_then(Value::as_str)
        .filter(|id| ctx.is_upsert() && exists(id))
        .map(str::to_string)
}

/// How long the resource tokens in this reply stay valid:
/// `x-ms-documentdb-expiry-seconds`, one hour by default, at most five.
fn token_validity(ctx: &RequestContext) -> Result<u64, ApiError> {
    let Some(text) = ctx.header("x-ms-documentdb-expiry-seconds") else {
        return Ok(auth::DEFAULT_VALIDITY_SECONDS);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|s| (1..=auth::MAX_VALIDITY_SECONDS).contains(s))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "x-ms-documentdb-expiry-seconds '{text}' is invalid: a resource token lives 1 to {} seconds.",
                auth::MAX_VALIDITY_SECONDS
            ))
        })
}

/// A permission as clients see it: with a fresh resource token.
fn with_token(
    gateway: &Gateway,
    db: &str,
    user: &str,
    mut permission: Value,
    seconds: u64,
) -> Value {
    let id = permission["id"].as_str().unwrap_or_default().to_string();
    let keys = gateway.config.keys.current();
    permission["_token"] = Value::String(auth::issue_resource_token(&keys, db, user, &id, seconds));
    permission
}
