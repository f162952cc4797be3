//! `/dbs/{db}/colls/{coll}/conflicts`: the conflicts that multi-region
//! writes leave for the application to resolve. An account with one write
//! region has none, so the feed (read or queried) is empty and every
//! conflict is not found, as on such an account of the service.

use axum::http::Method;
use cosmonaut_engine::{EngineError, FeedPage};

use super::{feed_reply, query_feed_reply, require_cross_partition_consent};
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// Read or query the feed (404 when the container does not exist).
pub fn feed(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    let owner = container_rid(gateway, db, coll)?;
    match ctx.method {
        Method::GET => Ok(feed_reply("Conflicts", &owner, FeedPage::default())),
        Method::POST if ctx.is_query() => {
            require_cross_partition_consent(ctx, || Ok(false))?;
            query_feed_reply(ctx, "Conflicts", &owner, Vec::new())
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// Read or delete one conflict: there is none.
pub fn one(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    container_rid(gateway, db, coll)?;
    match ctx.method {
        Method::GET | Method::DELETE => Err(EngineError::not_found().into()),
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

fn container_rid(gateway: &Gateway, db: &str, coll: &str) -> Result<String, ApiError> {
    gateway
        .engine
        .container_rid(db, coll)?
        .ok_or_else(|| EngineError::not_found().into())
}
