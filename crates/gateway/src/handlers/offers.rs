//! `/offers`: list, query, read and replace throughput offers.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::query::run_over;
use super::sized_feed_reply;
use crate::charge;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;
use cosmonaut_engine::FeedPage;

fn offers_reply(offers: Vec<Value>) -> Reply {
    let bytes = offers.iter().map(|o| o.to_string().len()).sum();
    let page = FeedPage {
        items: offers,
        continuation: None,
        documents_read: 0,
    };
    sized_feed_reply("Offers", "", page, bytes)
}

/// `/offers`: every offer, or those a query selects.
pub fn feed(gateway: &Gateway, ctx: &RequestContext) -> Result<Reply, ApiError> {
    let offers = gateway.engine.list_offers()?;
    match ctx.method {
        Method::GET => Ok(offers_reply(offers)),
        Method::POST if ctx.is_query() => Ok(offers_reply(run_over(ctx, offers)?)),
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
