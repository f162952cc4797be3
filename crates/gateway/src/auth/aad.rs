//! Entra ID (AAD) bearer tokens: `type=aad&ver=1.0&sig=<JWT>`.
//!
//! A token is accepted when its RS256 signature verifies against a key of the
//! configured key set (JWKS, by `kid`), its issuer and audience are among
//! those configured, its tenant matches (when one is configured), and it is
//! within its validity (five minutes of clock leeway, as Entra ID allows).
//! Each refusal says which of these failed.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::error::ApiError;

/// Which tokens this server trusts.
#[derive(Clone)]
pub struct AadConfig {
    pub jwks: JwkSet,
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub tenant: Option<String>,
}

/// The caller a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AadIdentity {
    /// The principal's object id: what role assignments name.
    pub object_id: String,
    pub tenant: Option<String>,
}

#[derive(Deserialize)]
struct TokenClaims {
    oid: Option<String>,
    sub: Option<String>,
    tid: Option<String>,
}

const LEEWAY_SECONDS: u64 = 300;

fn refused(reason: impl std::fmt::Display) -> ApiError {
    ApiError::unauthorized(format!("The Entra ID (AAD) token was refused: {reason}."))
}

/// Verifies `jwt` and says whom it names.
pub fn verify(config: &AadConfig, jwt: &str) -> Result<AadIdentity, ApiError> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| refused("it is not a JWT"))?;
    if header.alg != Algorithm::RS256 {
        return Err(refused(format!(
            "it is signed with {:?}; only RS256 is accepted",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| refused("its header names no signing key (kid)"))?;
    let jwk = config.jwks.find(&kid).ok_or_else(|| {
        refused(format!(
            "its signing key '{kid}' is not in the configured key set"
        ))
    })?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| refused(format!("signing key '{kid}' is unusable: {e}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.iss = Some(config.issuers.iter().cloned().collect::<HashSet<_>>());
    validation.aud = Some(config.audiences.iter().cloned().collect::<HashSet<_>>());
    let data = jsonwebtoken::decode::<TokenClaims>(jwt, &key, &validation).map_err(|e| match e
        .kind()
    {
        ErrorKind::ExpiredSignature => refused("it has expired"),
        ErrorKind::ImmatureSignature => refused("it is not valid yet (nbf)"),
        ErrorKind::InvalidSignature => refused("its signature does not verify"),
        ErrorKind::InvalidIssuer => refused(format!(
            "its issuer is not trusted here (trusted: {})",
            config.issuers.join(", ")
        )),
        ErrorKind::InvalidAudience => refused(format!(
            "its audience is not this account (expected: {})",
            config.audiences.join(", ")
        )),
        ErrorKind::MissingRequiredClaim(claim) => refused(format!("it has no '{claim}' claim")),
        other => refused(format!("{other:?}")),
    })?;
    let claims = data.claims;
    if let Some(tenant) = &config.tenant {
        if claims.tid.as_deref() != Some(tenant.as_str()) {
            return Err(refused(format!(
                "it was issued for tenant '{}', not '{tenant}'",
                claims.tid.as_deref().unwrap_or("none")
            )));
        }
    }
    let object_id = claims
        .oid
        .or(claims.sub)
        .ok_or_else(|| refused("it names no principal (oid)"))?;
    Ok(AadIdentity {
        object_id,
        tenant: claims.tid,
    })
}
