//! Checks for pages served beside the API on the same listeners (the Data
//! Explorer): the same IP firewall, and the same credentials as a read of
//! the account itself (`GET /`), so a page shows nothing the API would not.

use std::net::IpAddr;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, Response};

use crate::address::Address;
use crate::auth::{self, actions, Credential, Principal, Requested};
use crate::error::ApiError;
use crate::reply::Reply;
use crate::Gateway;

impl Gateway {
    /// Refuses a client the IP firewall does not let in.
    pub fn admit(&self, client: IpAddr) -> Result<(), ApiError> {
        self.config.firewall.admit(client)
    }

    /// Who signed `headers` for a read of the account (`GET` on the account
    /// root, signed as the SDKs sign `GET /`). Resource tokens name one
    /// resource and never read the account; Entra ID principals need the
    /// read-metadata action.
    pub fn account_reader(
        &self,
        client: IpAddr,
        headers: &HeaderMap,
    ) -> Result<Principal, ApiError> {
        self.admit(client)?;
        let aad = self.config.aad.as_ref().map(|a| a.config.current());
        let credential = auth::authenticate(
            &self.config.keys.current(),
            aad.as_deref(),
            "GET",
            &Address::Account,
            headers,
            SystemTime::now(),
        )?;
        match credential {
            Credential::Key(kind) => Ok(Principal::Key(kind)),
            Credential::ResourceToken(_) => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "A resource token grants one resource and cannot read the account: sign in \
                 with an account key or an Entra ID token.",
            )),
            Credential::Aad(identity) => {
                if let Some(settings) = &self.config.aad {
                    auth::authorize_aad(
                        &settings.rbac.current(),
                        &identity,
                        Requested::Actions(vec![actions::READ_METADATA]),
                        "",
                    )?;
                }
                Ok(Principal::Aad(identity))
            }
        }
    }
}

/// The service's error body for `err`, for pages served beside the API.
pub fn error_response(err: ApiError) -> Response<Body> {
    Reply::from(err).into_response(&crate::new_activity_id(), Default::default())
}
