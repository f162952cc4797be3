//! Master-key authorization: `type=master&ver=1.0&sig=...`, an HMAC-SHA256
//! over the verb, resource type, resource link and date, keyed with the
//! base64-decoded account key.

use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

use crate::address::Address;
use crate::error::ApiError;

/// How far a request's date may be from the server's clock.
const ALLOWED_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// An account key, decoded.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<Self, String> {
        STANDARD
            .decode(text.trim())
            .map(MasterKey)
            .map_err(|e| format!("the account key is not valid base64: {e}"))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// The signature a client with this key sends for `payload`.
    pub fn sign(&self, payload: &str) -> String {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn verify(&self, payload: &str, signature: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(signature).is_ok()
    }
}

/// What a master-key signature covers.
pub fn string_to_sign(verb: &str, resource_type: &str, resource_link: &str, date: &str) -> String {
    format!(
        "{}\n{}\n{}\n{}\n\n",
        verb.to_lowercase(),
        resource_type.to_lowercase(),
        resource_link,
        date.to_lowercase()
    )
}

/// Checks the request's authorization against the account keys.
pub fn authorize(
    keys: &[MasterKey],
    verb: &str,
    address: &Address,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<(), ApiError> {
    let raw = header(headers, "authorization").ok_or_else(|| {
        ApiError::unauthorized(
            "Required Header authorization is missing. Ensure a valid Authorization token is passed.",
        )
    })?;
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| malformed_token())?;
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
    match kind {
        Some(k) if k.eq_ignore_ascii_case("master") => {}
        Some(other) => {
            return Err(ApiError::unauthorized(format!(
            "The authorization type '{other}' is not supported by this server; use a master key."
        )))
        }
        None => return Err(malformed_token()),
    }
    let signature = signature
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(malformed_token)?;

    let date = header(headers, "x-ms-date")
        .or_else(|| header(headers, "date"))
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
    if keys.iter().any(|k| k.verify(&payload, &signature)) {
        return Ok(());
    }
    Err(ApiError::unauthorized(format!(
        "The input authorization token can't serve the request. The wrong key is being used or \
         the expected payload is not built as per the protocol. Server used the following payload \
         to sign: '{}'",
        payload.replace('\n', "\\n")
    )))
}

fn malformed_token() -> ApiError {
    ApiError::unauthorized(
        "The authorization header is malformed: expected 'type=master&ver=1.0&sig=<base64 signature>', URL-encoded.",
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str =
        "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

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
    fn accepts_good_and_refuses_bad_signatures() {
        let keys = vec![MasterKey::from_base64(KEY).expect("key")];
        let now = SystemTime::now();
        let date = httpdate::fmt_http_date(now);
        let address = Address::parse("/dbs/db/colls/c/docs/x").expect("address");
        let good = signed("GET", &address, &date, KEY);
        assert!(authorize(&keys, "GET", &address, &good, now).is_ok());
        // The same signature does not cover another verb or resource.
        assert!(authorize(&keys, "DELETE", &address, &good, now).is_err());
        let other = Address::parse("/dbs/db/colls/c/docs/y").expect("address");
        assert!(authorize(&keys, "GET", &other, &good, now).is_err());
        let wrong_key = signed("GET", &address, &date, "AAAA");
        assert!(authorize(&keys, "GET", &address, &wrong_key, now).is_err());
    }

    #[test]
    fn refuses_stale_dates_and_garbage() {
        let keys = vec![MasterKey::from_base64(KEY).expect("key")];
        let now = SystemTime::now();
        let address = Address::Account;
        let old = httpdate::fmt_http_date(now - Duration::from_secs(16 * 60));
        let err = authorize(
            &keys,
            "GET",
            &address,
            &signed("GET", &address, &old, KEY),
            now,
        )
        .expect_err("stale");
        assert!(err.message.contains("not valid at the current time"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("garbage"));
        assert!(authorize(&keys, "GET", &address, &headers, now).is_err());
        assert!(authorize(&keys, "GET", &address, &HeaderMap::new(), now).is_err());
    }
}
