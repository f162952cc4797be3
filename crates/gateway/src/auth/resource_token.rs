//! Resource tokens: what a permission hands a client so it can reach one
//! container, partition key or item without the account key.
//!
//! A token names its permission and expiry and is signed with the account's
//! token secret: `type=resource&ver=1.0&sig=<claims>.<mac>`, both parts
//! base64url. Checking one verifies the signature and the expiry, then
//! loads the permission, so deleting (or narrowing) a permission takes
//! effect on tokens already handed out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;

/// How long a token lives unless the request for it says otherwise.
pub const DEFAULT_VALIDITY_SECONDS: u64 = 3600;
/// The longest validity the service grants (five hours).
pub const MAX_VALIDITY_SECONDS: u64 = 5 * 3600;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "d")]
    pub db: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "p")]
    pub permission: String,
    /// Expiry, seconds since the Unix epoch.
    #[serde(rename = "e")]
    pub expires: u64,
}

fn mac(secret: &[u8], claims: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(claims.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `_token` a permission shows: the full authorization value.
pub fn issue(secret: &[u8], claims: &Claims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &body));
    format!("type=resource&ver=1.0&sig={body}.{signature}")
}

/// The claims of a token's `sig` part, if it is genuine and current.
pub fn verify(secret: &[u8], sig: &str, now: u64) -> Result<Claims, ApiError> {
    let invalid = || {
        ApiError::unauthorized(
            "The resource token is not valid: it was not issued by this account, was altered, \
             or was signed before the account's keys were rotated. Read the permission again for a new token.",
        )
    };
    let (body, signature) = sig.split_once('.').ok_or_else(invalid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
    let mut check =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    check.update(body.as_bytes());
    check.verify_slice(&signature).map_err(|_| invalid())?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    if claims.expires <= now {
        return Err(ApiError::unauthorized(format!(
            "The resource token has expired: it was valid until {} (Unix time) and it is now {now}. \
             Read the permission again for a new token.",
            claims.expires
        )));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_only_with_their_secret() {
        let claims = Claims {
            db: "db".into(),
            user: "u".into(),
            permission: "p".into(),
            expires: 1_000,
        };
        let token = issue(b"secret", &claims);
        let sig = token
            .strip_prefix("type=resource&ver=1.0&sig=")
            .expect("prefix");
        assert_eq!(verify(b"secret", sig, 999).expect("valid"), claims);
        assert!(verify(b"secret", sig, 1_000)
            .expect_err("expired")
            .message
            .contains("expired"));
        assert!(verify(b"other", sig, 10).is_err());
        let mut tampered = sig.to_string();
        tampered.replace_range(0..1, if sig.starts_with('e') { "f" } else { "e" });
        assert!(verify(b"secret", &tampered, 10).is_err());
        assert!(verify(b"secret", "garbage", 10).is_err());
    }
}
