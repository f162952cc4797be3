//! Building responses: a status, a JSON body and the service's headers.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::header_names as names;

/// Version strings the service reports; SDKs log them but do not parse them.
const SCHEMA_VERSION: &str = "1.14";
const GATEWAY_VERSION: &str = "version=2.14.0";
const SERVICE_VERSION: &str = "version=2.14.0.0";

/// A response under construction.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    body: Option<ReplyBody>,
    headers: Vec<(&'static str, String)>,
    charge: f64,
}

#[derive(Debug)]
enum ReplyBody {
    Json(Value),
    /// JSON text as stored: a point read sends the item's bytes unparsed.
    Text(Vec<u8>),
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(ReplyBody::Json(body)),
            headers: Vec::new(),
            charge: 0.0,
        }
    }

    /// A body that is already JSON text.
    pub fn json_text(status: StatusCode, text: Vec<u8>) -> Self {
        Self {
            status,
            body: Some(ReplyBody::Text(text)),
            headers: Vec::new(),
            charge: 0.0,
        }
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
            charge: 0.0,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The request units this operation cost.
    pub fn charge(mut self, request_units: f64) -> Self {
        self.charge = request_units;
        self
    }

    /// Leaves out the body, keeping status and headers (an etag taken from
    /// the body stays).
    pub fn drop_body(&mut self) {
        self.body = None;
    }

    pub fn request_charge(&self) -> f64 {
        self.charge
    }

    /// `etag` from the body's `_etag`, as the service sends it.
    pub fn etag_from_body(self) -> Self {
        let tag = match &self.body {
            Some(ReplyBody::Json(body)) => etag_of(body),
            _ => None,
        };
        self.with_etag(tag)
    }

    /// `etag` from the `_etag` of `document`, which the body holds as text.
    pub fn etag_from(self, document: &Value) -> Self {
        let tag = etag_of(document);
        self.with_etag(tag)
    }

    fn with_etag(self, tag: Option<String>) -> Self {
        match tag {
            Some(tag) => self.header("etag", tag),
            None => self,
        }
    }

    /// The response, with `elapsed` (the server's time on the request) as
    /// `x-ms-request-duration-ms`.
    pub fn into_response(self, activity_id: &str, elapsed: std::time::Duration) -> Response<Body> {
        let has_body = self.body.is_some();
        let bytes = match self.body {
            Some(ReplyBody::Json(body)) => cosmonaut_engine::json::to_vec(&body),
            Some(ReplyBody::Text(text)) => text,
            None => Vec::new(),
        };
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        // Room for every header at once, rather than growing the map twice.
        headers.reserve(8 + self.headers.len());
        // The headers every response carries; their names and fixed values
        // are made at compile time.
        const FIXED: [(HeaderName, HeaderValue); 4] = [
            (
                HeaderName::from_static("x-ms-schemaversion"),
                HeaderValue::from_static(SCHEMA_VERSION),
            ),
            (
                HeaderName::from_static("x-ms-gatewayversion"),
                HeaderValue::from_static(GATEWAY_VERSION),
            ),
            (
                HeaderName::from_static("x-ms-serviceversion"),
                HeaderValue::from_static(SERVICE_VERSION),
            ),
            (
                HeaderName::from_static("x-ms-xp-role"),
                HeaderValue::from_static("1"),
            ),
        ];
        for (name, value) in FIXED {
            headers.insert(name, value);
        }
        let varying = [
            (names::ACTIVITY_ID, activity_id.to_string()),
            (names::REQUEST_CHARGE, charge_text(self.charge)),
            (axum::http::header::DATE, http_date_now()),
            (
                names::REQUEST_DURATION,
                fixed_text(elapsed.as_secs_f64() * 1000.0, 3),
            ),
        ];
        for (name, value) in varying {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
        for (name, value) in &self.headers {
            if let (Some(n), Ok(v)) = (header_name(name), HeaderValue::try_from(value.as_str())) {
                headers.insert(n, v);
            }
        }
        if has_body {
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        response
    }
}

fn etag_of(document: &Value) -> Option<String> {
    document
        .get("_etag")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A header name of ours. The common ones are constants; other lowercase
/// literals are taken by `from_static` without copying them to the heap (as
/// parsing does); anything else is parsed.
fn header_name(name: &'static str) -> Option<HeaderName> {
    // The names item responses carry, made at compile time: checking a
    // name's characters at run time cost more than building the response.
    let known = match name {
        "etag" => Some(axum::http::header::ETAG),
        "x-ms-session-token" => Some(names::SESSION_TOKEN),
        "lsn" => Some(names::LSN),
        "x-ms-documentdb-partitionkeyrangeid" => Some(names::PARTITION_KEY_RANGE_ID),
        "x-ms-alt-content-path" => Some(names::ALT_CONTENT_PATH),
        "x-ms-content-path" => Some(names::CONTENT_PATH),
        "x-ms-item-count" => Some(names::ITEM_COUNT),
        "x-ms-continuation" => Some(names::CONTINUATION),
        "x-ms-substatus" => Some(names::SUBSTATUS),
        _ => None,
    };
    if known.is_some() {
        return known;
    }
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if plain {
        Some(HeaderName::from_static(name))
    } else {
        HeaderName::try_from(name).ok()
    }
}

/// A charge with two decimals, as the service writes it (`5.71`).
fn charge_text(request_units: f64) -> String {
    fixed_text(request_units, 2)
}

/// `value` (at least 0) with `decimals` digits after the point, as
/// `format!("{value:.decimals$}")` writes it but without going through float
/// formatting: every response carries two such headers.
fn fixed_text(value: f64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let scaled = (value.max(0.0) * scale as f64).round() as u64;
    let mut text = itoa::Buffer::new().format(scaled / scale).to_string();
    text.push('.');
    let fraction = itoa::Buffer::new().format(scaled % scale).to_string();
    text.extend(std::iter::repeat_n('0', decimals as usize - fraction.len()));
    text.push_str(&fraction);
    text
}

/// The `date` header's text, formatted once per second per thread.
fn http_date_now() -> String {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static LAST: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    LAST.with_borrow_mut(|(cached_second, text)| {
        if *cached_second != second {
            *cached_second = second;
            *text = httpdate::fmt_http_date(now);
        }
        text.clone()
    })
}

impl From<ApiError> for Reply {
    fn from(err: ApiError) -> Self {
        let mut body = json!({"code": err.code(), "message": err.message});
        if let Some(info) = err.additional_info {
            body["additionalErrorInfo"] = Value::String(info);
        }
        // The service names a sub-status only where there is one.
        let reply = Reply::json(err.status, body);
        let reply = match err.substatus {
            0 => reply,
            code => reply.header("x-ms-substatus", code.to_string()),
        };
        let mut reply = match err.retry_after {
            Some(wait) => reply.header("x-ms-retry-after-ms", wait.as_millis().max(1).to_string()),
            None => reply,
        };
        reply.headers.extend(err.headers);
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_of_every_spelling_are_taken_or_refused_without_panicking() {
        assert_eq!(
            header_name("x-ms-session-token")
                .map(|n| n.to_string())
                .as_deref(),
            Some("x-ms-session-token")
        );
        assert_eq!(
            header_name("ETag").map(|n| n.to_string()).as_deref(),
            Some("etag")
        );
        assert!(header_name("").is_none());
        assert!(header_name("bad name").is_none());
    }

    #[test]
    fn charges_have_two_decimals() {
        for (charge, text) in [
            (0.0, "0.00"),
            (1.0, "1.00"),
            (2.314, "2.31"),
            (5.719, "5.72"),
            (1234.5, "1234.50"),
        ] {
            assert_eq!(charge_text(charge), text);
            assert_eq!(format!("{charge:.2}"), text);
        }
        // Durations in milliseconds: the same text as float formatting, but
        // for a tie in the last digit, which may round the other way.
        for milliseconds in [0.0, 0.0004, 0.042, 1.5, 12.3456, 987.0015] {
            let (ours, std) = (fixed_text(milliseconds, 3), format!("{milliseconds:.3}"));
            assert_eq!(ours.len(), std.len(), "{std}");
            let apart = ours.parse::<f64>().ok().zip(std.parse::<f64>().ok());
            assert!(
                apart.is_some_and(|(a, b)| (a - b).abs() <= 0.001 + 1e-9),
                "{ours} {std}"
            );
        }
    }

    #[test]
    fn the_cached_date_is_the_current_http_date() {
        let before = std::time::SystemTime::now();
        let parsed = httpdate::parse_http_date(&http_date_now()).expect("an HTTP date");
        let after = std::time::SystemTime::now();
        let whole =
            |t: std::time::SystemTime| httpdate::parse_http_date(&httpdate::fmt_http_date(t));
        assert!(parsed >= whole(before).expect("date") && parsed <= whole(after).expect("date"));
    }
}
