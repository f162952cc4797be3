//! `/_explorer/api/account`: what the account page shows beyond the REST
//! API. It is signed as a read of the account (`GET /`); a read-write key
//! sees every key, a read-only key the read-only ones, an Entra ID principal
//! none (as the portal shows keys only to those who may list them).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::response::IntoResponse;
use cosmonaut_gateway::auth::{KeyKind, Principal};
use serde_json::{json, Value};

use crate::Explorer;

/// The server's state for the account page: backup, storage, identity.
pub type ServerStatus = Arc<dyn Fn() -> Value + Send + Sync>;

pub(crate) async fn account(
    State(explorer): State<Explorer>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let principal = match explorer.gateway.account_reader(client.ip(), &headers) {
        Ok(principal) => principal,
        Err(err) => return cosmonaut_gateway::pages::error_response(err),
    };
    let (access, visible): (&str, fn(KeyKind) -> bool) = match &principal {
        Principal::Key(kind) if kind.is_read_only() => ("read-only", KeyKind::is_read_only),
        Principal::Key(_) => ("read-write", |_| true),
        _ => ("entra-id", |_| false),
    };
    let keys: Vec<Value> = explorer
        .keys
        .current()
        .keys
        .iter()
        .filter(|(kind, _)| visible(*kind))
        .map(|(kind, key)| json!({"kind": kind.name(), "key": key.to_base64()}))
        .collect();
    let body = json!({
        "access": access,
        "keys": keys,
        "server": (explorer.status)(),
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
