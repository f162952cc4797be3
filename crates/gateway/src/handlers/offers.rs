//! `/offers`: list, query, read and replace throughput offers.

use axum::http::{Method, StatusCode};

use super::{paged_rows_reply, query_feed_reply};
use crate::charge;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// `/offers`: every offer, or those a query selects.
pub fn feed(gateway: &Gateway, ctx: &RequestContext) -> Result<Reply, ApiError> {
    let offers = gateway.engine.list_offers()?;
    match ctx.method {
        Method::GET => paged_rows_reply(ctx, "Offers", "", offers),
        Method::POST if ctx.is_query() => query_feed_reply(ctx, "Offers", "", offers),
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/offers/{id}`: read or replace one offer.
pub async fn one(gateway: &Gateway, ctx: &RequestContext, id: &str) -> Result<Reply, ApiError> {
    let offer = match ctx.method {
        Method::GET => gateway.engine.read_offer(id)?,
        Method::PUT => gateway.engine.replace_offer(id, ctx.json_body()?).await?,
        _ => return Err(ApiError::method_not_allowed(ctx.method.as_str())),
    };
    Ok(Reply::json(StatusCode::OK, offer)
        .etag_from_body()
        .charge(charge::METADATA))
}
