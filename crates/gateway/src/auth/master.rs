//! Master-key signatures: `type=master&ver=1.0&sig=...`, an HMAC-SHA256
//! over the verb, resource type, resource link and date, keyed with the
//! base64-decoded account key.

use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::{AccountKeys, KeyKind};
use crate::address::Address;
use crate::error::ApiError;
use crate::header_names;

/// How far a request's date may be from the server's clock.
const ALLOWED_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// An account key, decoded, with its HMAC state keyed once: keying hashes
/// the key's two pads, which doubled the cost of checking each request.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Vec<u8>,
    keyed: Hmac<Sha256>,
}

impl MasterKey {
    fn new(bytes: Vec<u8>) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let keyed =
            <Hmac<Sha256> as Mac>::new_from_slice(&bytes).unwrap_or_else(|_| unreachable!());
        Self { bytes, keyed }
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        STANDARD
            .decode(text.trim())
            .map(Self::new)
            .map_err(|e| format!("the account key is not valid base64: {e}"))
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// The signature a client with this key sends for `payload`.
    pub fn sign(&self, payload: &str) -> String {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Makes a new random key, as `cosmonaut keys rotate` does.
    pub fn generate() -> Result<Self, String> {
        let mut bytes = vec![0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a key: {e}"))?;
        Ok(Self::new(bytes))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    fn verify(&self, payload: &str, signature: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(signature).is_ok()
    }
}

/// What a master-key signature covers.
pub fn string_to_sign(verb: &str, resource_type: &str, resource_link: &str, date: &str) -> String {
    // Built in one allocation: every request signs one.
    let mut text = String::with_capacity(
        verb.len() + resource_type.len() + resource_link.len() + date.len() + 5,
    );
    push_lowercase(&mut text, verb);
    text.push('\n');
    push_lowercase(&mut text, resource_type);
    text.push('\n');
    text.push_str(resource_link);
    text.push('\n');
    push_lowercase(&mut text, date);
    text.push_str("\n\n");
    text
}

fn push_lowercase(text: &mut String, part: &str) {
    if part.is_ascii() {
        text.extend(part.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        text.push_str(&part.to_lowercase());
    }
}

/// Checks a master-key signature and the request date; says which key signed.
pub(crate) fn check(
    keys: &AccountKeys,
    verb: &str,
    address: &Address,
    headers: &HeaderMap,
    signature: &str,
    now: SystemTime,
) -> Result<KeyKind, ApiError> {
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| super::malformed_token())?;
    let date = super::header(headers, header_names::MS_DATE)
        .or_else(|| super::header(headers, header_names::DATE))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "The request has no date: send x-ms-date (RFC 1123) and sign it.",
            )
        })?;
    let sent = httpdate::parse_http_date(date).map_err(|_| {
        ApiError::unauthorized(format!(
            "The input date header '{date}' is invalid format. Please pass in RFC 1123 style date format."
        ))
    })?;
    let skew = now
        .duration_since(sent)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    if skew > ALLOWED_CLOCK_SKEW {
        return Err(ApiError::unauthorized(format!(
            "The authorization token is not valid at the current time. The request date '{date}' \
             is more than 15 minutes from the server's time '{}'; check the client's clock.",
            httpdate::fmt_http_date(now)
        )));
    }

    let payload = string_to_sign(
        verb,
        address.resource_type(),
        &address.resource_link(),
        date,
    );
    if let Some((kind, _)) = keys
        .keys
        .iter()
        .find(|(_, key)| key.verify(&payload, &signature))
    {
        return Ok(*kind);
    }
    Err(ApiError::unauthorized(format!(
        "The input authorization token can't serve the request. The wrong key is being used or \
         the expected payload is not built as per the protocol. Server used the following payload \
         to sign: '{}'",
        payload.replace('\n', "\\n")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{authenticate, Credential};
    use axum::http::HeaderValue;

    const KEY: &str =
        "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

    fn account(readonly: &str) -> AccountKeys {
        AccountKeys {
            keys: vec![
                (KeyKind::Primary, MasterKey::from_base64(KEY).expect("key")),
                (
                    KeyKind::PrimaryReadOnly,
                    MasterKey::from_base64(readonly).expect("key"),
                ),
            ],
            token_secret: b"secret".to_vec(),
        }
    }

    fn signed(verb: &str, address: &Address, date: &str, key: &str) -> HeaderMap {
        let key = MasterKey::from_base64(key).expect("key");
        let sig = key.sign(&string_to_sign(
            verb,
            address.resource_type(),
            &address.resource_link(),
            date,
        ));
        let token = format!("type=master&ver=1.0&sig={sig}");
        let encoded =
            percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&encoded).expect("header"),
        );
        headers.insert("x-ms-date", HeaderValue::from_str(date).expect("header"));
        headers
    }

    #[test]
    fn accepts_good_and_refuses_bad_signatures_and_names_the_key() {
        let keys = account("AAAA");
        let now = SystemTime::now();
        let date = httpdate::fmt_http_date(now);
        let address = Address::parse("/dbs/db/colls/c/docs/x").expect("address");
        let good = signed("GET", &address, &date, KEY);
        assert!(matches!(
            authenticate(&keys, None, "GET", &address, &good, now),
            Ok(Credential::Key(KeyKind::Primary))
        ));
        // The same signature does not cover another verb or resource.
        assert!(authenticate(&keys, None, "DELETE", &address, &good, now).is_err());
        let other = Address::parse("/dbs/db/colls/c/docs/y").expect("address");
        assert!(authenticate(&keys, None, "GET", &other, &good, now).is_err());
        let read_only = signed("GET", &address, &date, "AAAA");
        assert!(matches!(
            authenticate(&keys, None, "GET", &address, &read_only, now),
            Ok(Credential::Key(KeyKind::PrimaryReadOnly))
        ));
        let wrong_key = signed("GET", &address, &date, "BBBB");
        assert!(authenticate(&keys, None, "GET", &address, &wrong_key, now).is_err());
    }

    #[test]
    fn refuses_stale_dates_and_garbage() {
        let keys = account("AAAA");
        let now = SystemTime::now();
        let address = Address::Account;
        let old = httpdate::fmt_http_date(now - Duration::from_secs(16 * 60));
        let err = authenticate(
            &keys,
            None,
            "GET",
            &address,
            &signed("GET", &address, &old, KEY),
            now,
        )
        .expect_err("stale");
        assert!(err.message.contains("not valid at the current time"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("garbage"));
        assert!(authenticate(&keys, None, "GET", &address, &headers, now).is_err());
        assert!(authenticate(&keys, None, "GET", &address, &HeaderMap::new(), now).is_err());
    }

    proptest::proptest! {
        /// The string to sign is the service's: each part but the link
        /// lower-cased (Unicode rules for any non-ASCII text), one per line,
        /// and a blank line at the end.
        #[test]
        fn string_to_sign_lowercases_all_but_the_link(
            verb in "\\PC{0,8}",
            kind in "\\PC{0,8}",
            link in "\\PC{0,24}",
            date in "\\PC{0,32}",
        ) {
            let expected = format!(
                "{}\n{}\n{link}\n{}\n\n",
                verb.to_lowercase(),
                kind.to_lowercase(),
                date.to_lowercase()
            );
            proptest::prop_assert_eq!(string_to_sign(&verb, &kind, &link, &date), expected);
        }
    }
}
