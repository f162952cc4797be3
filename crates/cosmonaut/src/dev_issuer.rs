//! A local Entra ID token issuer for development (`serve --aad-dev-issuer`):
//! teams test role-based access without a tenant. The server makes an RSA
//! signing key in the data dir, trusts the tokens it signs, and hands them
//! out as Azure App Service's managed identity endpoint does, so
//! `DefaultAzureCredential` (its managed identity step) gets tokens from it
//! with two environment variables. `cosmonaut rbac dev-token` prints one.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The `iss` of dev tokens.
pub const ISSUER: &str = "https://cosmonaut.dev-issuer.invalid/v2.0";
/// The `tid` of dev tokens: a tenant that exists nowhere else.
pub const TENANT: &str = "c05a0a07-0000-4000-8000-00000000de50";
/// The principal a token names when the caller names none.
pub const DEFAULT_PRINCIPAL: &str = "c05a0a07-0000-4000-8000-000000000001";
/// Where the managed-identity endpoint is served.
pub const TOKEN_PATH: &str = "/_dev/identity/token";

/// The audience of the tokens the endpoint hands out.
const COSMOS_AUDIENCE: &str = "https://cosmos.azure.com";

const KEY_FILE: &str = "aad-dev-key.pem";
const SECRET_FILE: &str = "aad-dev-identity-header";
const KID: &str = "cosmonaut-dev-1";
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

pub struct DevIssuer {
    signing: EncodingKey,
    jwk: Jwk,
    /// What callers send as `X-IDENTITY-HEADER`, as App Service's identity
    /// endpoint asks, so other local processes cannot mint tokens unasked.
    pub identity_header: String,
}

impl DevIssuer {
    /// The data dir's dev issuer, making its key and secret on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, String> {
        let key_path = data_dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&key_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = new_key_pem()?;
                crate::files::replace(&key_path, pem.as_bytes(), crate::files::Access::Private)?;
                pem
            }
            Err(e) => return Err(format!("cannot read {}: {e}", key_path.display())),
        };
        let der = pem_body(&pem)
            .ok_or_else(|| format!("{} is not a PEM private key", key_path.display()))?;
        let pair = KeyPair::from_pkcs8(&der)
            .map_err(|_| format!("{} is not an RSA private key", key_path.display()))?;
        let (n, e) = rsa_public_numbers(pair.public_key().as_ref())
            .ok_or_else(|| "cannot read the dev issuer's public key".to_string())?;
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }))
        .map_err(|e| format!("cannot make the dev issuer's key set: {e}"))?;
        let signing = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| format!("cannot use {}: {e}", key_path.display()))?;
        let secret_path = data_dir.join(SECRET_FILE);
        let identity_header = match std::fs::read_to_string(&secret_path) {
            Ok(secret) if !secret.trim().is_empty() => secret.trim().to_string(),
            _ => {
                let secret = uuid::Uuid::new_v4().simple().to_string();
                crate::files::replace(
                    &secret_path,
                    secret.as_bytes(),
                    crate::files::Access::Private,
                )?;
                secret
            }
        };
        Ok(Self {
            signing,
            jwk,
            identity_header,
        })
    }

    pub fn jwk(&self) -> Jwk {
        self.jwk.clone()
    }

    /// A token for `principal` (its object id) with audience `audience`.
    pub fn token(
        &self,
        principal: &str,
        audience: &str,
        lifetime: Duration,
    ) -> Result<(String, u64), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires = now + lifetime.as_secs();
        let claims = json!({
            "iss": ISSUER, "aud": audience, "tid": TENANT, "oid": principal, "sub": principal,
            "iat": now, "nbf": now, "exp": expires, "ver": "2.0",
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_string());
        let jwt = jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| format!("cannot sign a dev token: {e}"))?;
        Ok((jwt, expires))
    }
}

fn new_key_pem() -> Result<String, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| "cannot generate the dev issuer's RSA key".to_string())?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|_| "cannot encode the dev issuer's RSA key".to_string())?;
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD.decode(body.trim()).ok()
}

/// `n` and `e` of a PKCS#1 `RSAPublicKey` (SEQUENCE { n INTEGER, e INTEGER }).
fn rsa_public_numbers(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, sequence, _) = der_item(der)?;
    if tag != 0x30 {
        return None;
    }
    let (n_tag, n, rest) = der_item(sequence)?;
    let (e_tag, e, _) = der_item(rest)?;
    if n_tag != 0x02 || e_tag != 0x02 {
        return None;
    }
    let strip = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    Some((strip(n), strip(e)))
}

/// One DER item: its tag, its contents and what follows it.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The managed identity endpoint (App Service's 2019-08-01 protocol):
/// `GET /_dev/identity/token?resource=...` with `X-IDENTITY-HEADER`, and
/// `client_id`, `principal_id` or `object_id` to name the principal.
pub fn router(issuer: Arc<DevIssuer>) -> axum::Router {
    axum::Router::new()
        .route(TOKEN_PATH, axum::routing::get(token_endpoint))
        .with_state(issuer)
}

async fn token_endpoint(
    State(issuer): State<Arc<DevIssuer>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let sent = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if sent != Some(issuer.identity_header.as_str()) {
        let body = json!({"error": "invalid_request", "error_description": "X-IDENTITY-HEADER is missing or wrong"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    // Clients ask for the account's own scope (`https://<host>/.default`)
    // or Cosmos DB's; both mean this account, whose tokens carry Cosmos
    // DB's audience.
    let resource = query
        .get("resource")
        .cloned()
        .unwrap_or_else(|| COSMOS_AUDIENCE.to_string());
    let principal = ["object_id", "principal_id", "client_id"]
        .iter()
        .find_map(|k| query.get(*k))
        .map_or(DEFAULT_PRINCIPAL, String::as_str);
    match issuer.token(principal, COSMOS_AUDIENCE, TOKEN_LIFETIME) {
        Ok((token, expires)) => {
            let body = json!({
                "access_token": token, "expires_on": expires.to_string(), "resource": resource,
                "token_type": "Bearer", "client_id": principal,
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "server_error", "error_description": err})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_against_the_published_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = DevIssuer::load_or_create(dir.path()).expect("issuer");
        let (token, _) = issuer
            .token("p1", "https://cosmos.azure.com", TOKEN_LIFETIME)
            .expect("token");
        let key = DecodingKey::from_jwk(&issuer.jwk()).expect("key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://cosmos.azure.com"]);
        validation.set_issuer(&[ISSUER]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .expect("verifies")
            .claims;
        assert_eq!(claims["oid"], "p1");
        // The same key and secret on the next start.
        let again = DevIssuer::load_or_create(dir.path()).expect("again");
        assert_eq!(again.identity_header, issuer.identity_header);
        assert!(jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(&again.jwk()).expect("key"),
            &validation
        )
        .is_ok());
    }
}
