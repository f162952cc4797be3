use axum::http::{Method, StatusCode};

use super::{feed_reply, query_feed_reply, resource_reply, whole_feed};
use crate::charge::METADATA;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// `/dbs`: create and list.
pub async fn feed(gateway: &Gateway, ctx: &RequestContext) -> Result<Reply, ApiError> {
    match ctx.method {
        Method::POST if ctx.is_query() => {
            let (all, _) = whole_feed(|r| Ok((gateway.engine.list_databases(r)?, String::new())))?;
            query_feed_reply(ctx, "Databases", "", all)
        }
        Method::POST => {
            let body = gateway
                .engine
                .create_database_with_throughput(ctx.json_body()?, ctx.offer_throughput()?)
                .await?;
            Ok(resource_reply(StatusCode::CREATED, body))
        }
        Method::GET => {
            let page = gateway.engine.list_databases(&ctx.feed_request()?)?;
            Ok(feed_reply("Databases", "", page))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}`: read and delete.
pub async fn one(gateway: &Gateway, ctx: &RequestContext, db: &str) -> Result<Reply, ApiError> {
    match ctx.method {
        Method::GET => {
            let body = gateway.engine.read_database(db)?;
            Ok(resource_reply(StatusCode::OK, body))
        }
        Method::DELETE => {
            gateway.engine.delete_database(db).await?;
            Ok(Reply::empty(StatusCode::NO_CONTENT).charge(METADATA))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}
