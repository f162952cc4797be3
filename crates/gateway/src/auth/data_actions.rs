//! Which RBAC data actions a request needs, for Entra ID principals.
//!
//! Only the data plane is open to Entra ID tokens, as on the service:
//! reading metadata and working with items. Creating, changing or deleting
//! databases, containers, throughput, users, permissions and scripts are management
//! operations, refused with a message that says so.

use axum::http::Method;
use cosmonaut_engine::ScriptKind;
use serde_json::Value;

use super::rbac::actions;
use crate::address::Address;
use crate::error::ApiError;
use crate::request::RequestContext;

/// What a request asks of RBAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Every one of these data actions.
    Actions(Vec<&'static str>),
    /// A management operation, which an Entra ID token cannot authorize here.
    Management,
}

pub fn requested(address: &Address, ctx: &RequestContext) -> Result<Requested, ApiError> {
    use Requested::{Actions, Management};
    let method = &ctx.method;
    let read = *method == Method::GET || *method == Method::HEAD;
    Ok(match address {
        Address::Account
        | Address::Databases
        | Address::Database { .. }
        | Address::Containers { .. }
        | Address::Container { .. }
        | Address::PartitionKeyRanges { .. }
        | Address::Offers
        | Address::Offer { .. }
        | Address::Scripts { .. }
        | Address::Script { .. }
            if read =>
        {
            Actions(vec![actions::READ_METADATA])
        }
        // Offer queries read throughput, which is metadata.
        Address::Offers if ctx.is_query() => Actions(vec![actions::READ_METADATA]),
        Address::Items { .. } if read && ctx.is_change_feed() => {
            Actions(vec![actions::CHANGE_FEED])
        }
        Address::Items { .. } if read => Actions(vec![actions::READ]),
        Address::Items { .. } if *method == Method::POST && ctx.is_query() => {
            Actions(vec![actions::QUERY])
        }
        Address::Items { .. } if *method == Method::POST && ctx.is_batch() => {
            Actions(batch_actions(ctx)?)
        }
        Address::Items { .. } if *method == Method::POST && ctx.is_upsert() => {
            Actions(vec![actions::UPSERT])
        }
        Address::Items { .. } if *method == Method::POST => Actions(vec![actions::CREATE]),
        Address::Item { .. } if read => Actions(vec![actions::READ]),
        Address::Item { .. } if *method == Method::PUT || *method == Method::PATCH => {
            Actions(vec![actions::REPLACE])
        }
        Address::Item { .. } if *method == Method::DELETE => Actions(vec![actions::DELETE]),
        Address::PartitionKeyDelete { .. } => Actions(vec![actions::DELETE]),
        Address::Script {
            kind: ScriptKind::StoredProcedure,
            ..
        } if *method == Method::POST => Actions(vec![actions::EXECUTE_STORED_PROCEDURE]),
        // Creating, changing and deleting scripts are management operations.
        _ => Management,
    })
}

/// The actions of a batch's operations. A body that is not a JSON array
/// (the batch handler refuses it later) needs every item action.
fn batch_actions(ctx: &RequestContext) -> Result<Vec<&'static str>, ApiError> {
    let Ok(body) = serde_json::from_slice::<Value>(&ctx.body) else {
        return Ok(vec![
            actions::READ,
            actions::CREATE,
            actions::REPLACE,
            actions::UPSERT,
            actions::DELETE,
        ]);
    };
    let mut needed = Vec::new();
    for op in body.as_array().into_iter().flatten() {
        let action = match op["operationType"].as_str().unwrap_or_default() {
            t if t.eq_ignore_ascii_case("read") => actions::READ,
            t if t.eq_ignore_ascii_case("upsert") => actions::UPSERT,
            t if t.eq_ignore_ascii_case("delete") => actions::DELETE,
            t if t.eq_ignore_ascii_case("replace") || t.eq_ignore_ascii_case("patch") => {
                actions::REPLACE
            }
            _ => actions::CREATE,
        };
        if !needed.contains(&action) {
            needed.push(action);
        }
    }
    Ok(needed)
}
