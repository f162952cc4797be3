//! Who sent a request, and whether they may do what it asks.
//!
//! Authentication reads the `authorization` header: a master-key signature
//! (one of the account's four keys) or a resource token from a permission.
//! Authorization then applies what the credential allows: read-only keys and
//! `Read` permissions may only read and query, and a resource token reaches
//! only its permission's resource (and partition key).

mod aad;
mod data_actions;
mod keys;
mod master;
mod rbac;
mod resource_token;

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

pub use aad::{AadConfig, AadIdentity};
pub use data_actions::{requested, Requested};
pub use keys::{AccountKeys, KeyKind, KeyRing};
pub use master::{string_to_sign, MasterKey};
pub use rbac::{
    action_matches, actions, built_in_roles, Rbac, RoleAssignment, RoleDefinition,
    DATA_CONTRIBUTOR_ID, DATA_READER_ID,
};
pub use resource_token::{Claims, DEFAULT_VALIDITY_SECONDS, MAX_VALIDITY_SECONDS};

use crate::address::Address;
use crate::error::ApiError;
use crate::header_names;

/// A value the server replaces while it runs (keys after a rotation, the
/// Entra ID key set, role assignments); readers always see one whole value.
pub struct Live<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Live<T> {
    pub fn new(value: T) -> Self {
        Self {
            current: RwLock::new(Arc::new(value)),
        }
    }

    pub fn current(&self) -> Arc<T> {
        match self.current.read() {
            Ok(value) => Arc::clone(&value),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn replace(&self, value: T) {
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(value),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(value),
        }
    }
}

/// Entra ID settings: which tokens to trust and who may do what.
#[derive(Clone)]
pub struct AadSettings {
    pub config: Arc<Live<AadConfig>>,
    pub rbac: Arc<Live<Rbac>>,
}

/// A verified credential.
#[derive(Debug, Clone)]
pub enum Credential {
    Key(KeyKind),
    ResourceToken(Claims),
    Aad(AadIdentity),
}

/// What a resource token's permission grants, as stored now.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The permission's resource link, e.g. `dbs/db/colls/orders`.
    pub resource: String,
    pub read_only: bool,
    pub partition_key: Option<Value>,
}

/// Who is asking, with what they may do.
#[derive(Debug, Clone)]
pub enum Principal {
    Key(KeyKind),
    Resource(Grant),
    Aad(AadIdentity),
}

/// What a request does, as access rules see it.
pub struct Access<'a> {
    pub address: &'a Address,
    /// The request path without its slashes, percent-decoded.
    pub path: &'a str,
    pub write: bool,
    /// The partition key header, as sent.
    pub partition_key: Option<&'a str>,
}

/// Percent-decodes a header value in one pass over its bytes; escapes that
/// are not two hex digits stay as they are. `None` when the result is not
/// UTF-8. (The general decoder goes through an iterator per byte, and the
/// signature header, half escapes, is decoded on every request.)
fn percent_decoded(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(raw.into());
    }
    let hex = |b: Option<&u8>| (*b? as char).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok().map(Into::into)
}

/// Verifies the `authorization` header.
pub fn authenticate(
    keys: &AccountKeys,
    aad: Option<&AadConfig>,
    verb: &str,
    address: &Address,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Credential, ApiError> {
    let raw = header(headers, header_names::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "Required Header authorization is missing. Ensure a valid Authorization token is passed.",
        )
    })?;
    let decoded = percent_decoded(raw).ok_or_else(malformed_token)?;
    let mut kind = None;
    let mut signature = None;
    for part in decoded.split('&') {
        match part.split_once('=') {
            Some(("type", v)) => kind = Some(v),
            Some(("sig", v)) => signature = Some(v),
            Some(("ver", _)) => {}
            _ => return Err(malformed_token()),
        }
    }
    let signature = signature.ok_or_else(malformed_token)?;
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("master") => {
            master::check(keys, verb, address, headers, signature, now).map(Credential::Key)
        }
        Some("resource") => {
            let now = now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            resource_token::verify(&keys.token_secret, signature, now)
                .map(Credential::ResourceToken)
        }
        Some("aad") => match aad {
            Some(config) => aad::verify(config, signature).map(Credential::Aad),
            None => Err(ApiError::unauthorized(
                "This server does not accept Entra ID (AAD) tokens: no token issuer is configured \
                 (--aad-jwks, --aad-issuer). Sign requests with an account key or a resource token.",
            )),
        },
        Some(other) => Err(ApiError::unauthorized(format!(
            "The authorization type '{other}' is not supported: use master or resource."
        ))),
        None => Err(malformed_token()),
    }
}

/// The resource token a permission hands out, valid for `seconds` from now.
pub fn issue_resource_token(
    keys: &AccountKeys,
    db: &str,
    user: &str,
    permission: &str,
    seconds: u64,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        db: db.to_string(),
        user: user.to_string(),
        permission: permission.to_string(),
        expires: now + seconds,
    };
    resource_token::issue(&keys.token_secret, &claims)
}

/// Refuses what `principal` may not do.
pub fn authorize(principal: &Principal, access: &Access<'_>) -> Result<(), ApiError> {
    match principal {
        Principal::Key(kind) => {
            if access.write && kind.is_read_only() {
                return Err(forbidden(format!(
                    "The request was signed with the account's {} key, which can only read and \
                     query. Use a read-write key for writes.",
                    kind.name()
                )));
            }
            Ok(())
        }
        Principal::Resource(grant) => authorize_grant(grant, access),
        // Entra ID principals are checked against role assignments instead.
        Principal::Aad(_) => Ok(()),
    }
}

/// Checks an Entra ID principal's role assignments for what a request needs.
pub fn authorize_aad(
    rbac: &Rbac,
    identity: &AadIdentity,
    requested: Requested,
    path: &str,
) -> Result<(), ApiError> {
    let needed = match requested {
        Requested::Management => {
            return Err(forbidden(format!(
                "Request blocked by Auth: the request on '{path}' is a management operation \
                 (databases, containers, throughput, users, permissions), which cannot be \
                 authorized by an Entra ID (AAD) token in the data plane. Use an account key."
            )))
        }
        Requested::Actions(actions) => actions,
    };
    for action in needed {
        if !rbac.allows(&identity.object_id, action, path) {
            return Err(forbidden(format!(
                "Request blocked by Auth: principal [{}] does not have the required RBAC \
                 permission [{action}] on '{}'. Assign it a role that grants it \
                 (cosmonaut rbac assign).",
                identity.object_id,
                if path.is_empty() { "/" } else { path }
            )));
        }
    }
    Ok(())
}

fn authorize_grant(grant: &Grant, access: &Access<'_>) -> Result<(), ApiError> {
    // Any valid token may read the account: the SDKs do so first.
    if matches!(access.address, Address::Account) && !access.write {
        return Ok(());
    }
    let resource = grant.resource.trim_matches('/');
    let inside = access.path == resource || access.path.starts_with(&format!("{resource}/"));
    // Reading the containing database and container (and its partition key
    // ranges) is how an SDK finds its way to the resource.
    let ancestor = resource.starts_with(&format!("{}/", access.path));
    let ranges_in_scope = access.path.strip_suffix("/pkranges").is_some_and(|c| {
        c == resource
            || c.starts_with(&format!("{resource}/"))
            || resource.starts_with(&format!("{c}/"))
    });
    let metadata_read = !access.write && (ancestor || ranges_in_scope || access.path == resource);
    if !inside && !metadata_read {
        return Err(forbidden(format!(
            "Insufficient permissions: this resource token grants access to '{resource}' only, \
             not '{}'.",
            access.path
        )));
    }
    if access.write && grant.read_only {
        return Err(forbidden(format!(
            "Insufficient permissions: this resource token comes from a Read permission on \
             '{resource}', which cannot write."
        )));
    }
    if let (Some(allowed), false) = (&grant.partition_key, metadata_read) {
        let sent: Option<Value> = access
            .partition_key
            .and_then(|h| serde_json::from_str(h).ok());
        if sent.as_ref() != Some(allowed) {
            return Err(forbidden(format!(
                "Insufficient permissions: this resource token is limited to partition key {allowed}; \
                 the request {}.",
                match &sent {
                    Some(v) => format!("is for partition key {v}"),
                    None => "names no partition key".to_string(),
                }
            )));
        }
    }
    Ok(())
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

pub(crate) fn malformed_token() -> ApiError {
    ApiError::unauthorized(
        "The authorization header is malformed: expected 'type=master&ver=1.0&sig=<base64 signature>' \
         or a resource token, URL-encoded.",
    )
}

pub(crate) fn header(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decode_as_the_general_percent_decoder_decodes_them() {
        for raw in [
            "type%3Dmaster%26ver%3D1.0%26sig%3Dab%2Bc%2F%3D",
            "type=master&ver=1.0&sig=abc",
            "%",
            "%4",
            "%zz%41",
            "100%",
            "%e2%9c%93",
            "%C3%A9%",
        ] {
            let general = percent_encoding::percent_decode_str(raw).decode_utf8().ok();
            assert_eq!(percent_decoded(raw), general, "{raw}");
        }
        // Escapes that do not make UTF-8.
        assert_eq!(percent_decoded("%ff%fe"), None);
    }

    fn check(grant: &Grant, path: &str, write: bool, pk: Option<&str>) -> Result<(), ApiError> {
        let address = Address::parse(&format!("/{path}")).expect("address");
        authorize(
            &Principal::Resource(grant.clone()),
            &Access {
                address: &address,
                path,
                write,
                partition_key: pk,
            },
        )
    }

    #[test]
    fn grants_reach_their_resource_and_the_way_to_it() {
        let read = Grant {
            resource: "dbs/db/colls/c".into(),
            read_only: true,
            partition_key: None,
        };
        assert!(check(&read, "dbs/db/colls/c/docs/x", false, None).is_ok());
        assert!(check(&read, "dbs/db/colls/c", false, None).is_ok());
        assert!(check(&read, "dbs/db", false, None).is_ok(), "the way to it");
        assert!(check(&read, "dbs/db/colls/c/pkranges", false, None).is_ok());
        assert!(check(&read, "dbs/db/colls/c/docs/x", true, None).is_err());
        assert!(check(&read, "dbs/db/colls/other/docs/x", false, None).is_err());
        assert!(
            check(&read, "dbs/db/colls/cc/docs/x", false, None).is_err(),
            "prefix is not scope"
        );
        assert!(check(&read, "dbs/db", true, None).is_err());

        let one_key = Grant {
            resource: "dbs/db/colls/c".into(),
            read_only: false,
            partition_key: Some(serde_json::json!(["p1"])),
        };
        assert!(check(&one_key, "dbs/db/colls/c/docs/x", true, Some(r#"["p1"]"#)).is_ok());
        assert!(check(&one_key, "dbs/db/colls/c/docs/x", false, Some(r#"["p2"]"#)).is_err());
        assert!(check(&one_key, "dbs/db/colls/c/docs", false, None).is_err());
        assert!(check(&one_key, "dbs/db/colls/c", false, None).is_ok());
        assert!(check(&one_key, "dbs/db/colls/c/pkranges", false, None).is_ok());

        let item = Grant {
            resource: "dbs/db/colls/c/docs/x".into(),
            read_only: true,
            partition_key: None,
        };
        assert!(check(&item, "dbs/db/colls/c/docs/x", false, None).is_ok());
        assert!(check(&item, "dbs/db/colls/c/docs/y", false, None).is_err());
        assert!(check(&item, "dbs/db/colls/c/pkranges", false, None).is_ok());
    }

    #[test]
    fn read_only_keys_cannot_write() {
        let address = Address::Databases;
        let access = |write| Access {
            address: &address,
            path: "dbs",
            write,
            partition_key: None,
        };
        let reader = Principal::Key(KeyKind::SecondaryReadOnly);
        assert!(authorize(&reader, &access(false)).is_ok());
        let err = authorize(&reader, &access(true)).expect_err("write");
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(authorize(&Principal::Key(KeyKind::Secondary), &access(true)).is_ok());
    }
}
