//! The Data Explorer: a web UI served at `/_explorer/` on the API's own
//! listeners. The page is a client of the REST API like any SDK: the browser
//! signs each request with the key (or Entra ID token) the user signs in
//! with, so the explorer can do exactly what that credential may do. Its
//! files are embedded at build time (nothing is fetched from elsewhere), and
//! one JSON endpoint, `/_explorer/api/account`, adds what the REST API does
//! not carry: the account's keys and the server's backup and storage state.

mod account;
mod assets;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use cosmonaut_gateway::Gateway;

pub use account::ServerStatus;

/// Where the explorer is served; the emulator's URL is `/_explorer/index.html`.
pub const PREFIX: &str = "/_explorer";

/// What the explorer needs from the server.
#[derive(Clone)]
pub struct Explorer {
    /// Checks the firewall and the caller's credentials, as the API does.
    pub gateway: Gateway,
    /// The account's keys, shown to callers who hold a key that may see them.
    pub keys: Arc<cosmonaut_gateway::auth::KeyRing>,
    /// The server's state as the account page shows it (backup, storage).
    pub status: ServerStatus,
}

impl Explorer {
    /// Routes for `/_explorer/...`, to merge into a listener's router.
    pub fn router(self) -> Router {
        Router::new()
            .route(PREFIX, get(assets::redirect_to_index))
            .route(&format!("{PREFIX}/"), get(assets::index))
            .route(&format!("{PREFIX}/api/account"), get(account::account))
            .route(&format!("{PREFIX}/{{*path}}"), get(assets::file))
            .with_state(self)
    }
}
