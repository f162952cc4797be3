//! Building responses: a status, a JSON body and the service's headers.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::error::ApiError;

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

    pub fn request_charge(&self) -> f64 {
        self.charge
    }

    /// `etag` from the body's `_etag`, as the service sends it.
    pub fn etag_from_body(self) -> Self {
        let tag = match &self.body {
            Some(ReplyBody::Json(body)) => body.get("_etag").and_then(Value::as_str),
            _ => None,
        };
        match tag {
            Some(tag) => {
                let tag = tag.to_string();
                self.header("etag", tag)
            }
            None => self,
        }
    }

    pub fn into_response(self, activity_id: &str) -> Response<Body> {
        let has_body = self.body.is_some();
        let bytes = match self.body {
            Some(ReplyBody::Json(body)) => serde_json::to_vec(&body).unwrap_or_default(),
            Some(ReplyBody::Text(text)) => text,
            None => Vec::new(),
        };
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        let charge = format!("{:.2}", self.charge);
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let common: [(&str, &str); 7] = [
            ("x-ms-activity-id", activity_id),
            ("x-ms-request-charge", &charge),
            ("x-ms-schemaversion", SCHEMA_VERSION),
            ("x-ms-gatewayversion", GATEWAY_VERSION),
            ("x-ms-serviceversion", SERVICE_VERSION),
            ("date", &date),
            ("x-ms-xp-role", "1"),
        ];
        for (name, value) in common
            .into_iter()
            .chain(self.headers.iter().map(|(n, v)| (*n, v.as_str())))
        {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(n, v);
            }
        }
        if has_body {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
        }
        response
    }
}

impl From<ApiError> for Reply {
    fn from(err: ApiError) -> Self {
        let mut body = json!({"code": err.code(), "message": err.message});
        if let Some(info) = err.additional_info {
            body["additionalErrorInfo"] = Value::String(info);
        }
        let reply =
            Reply::json(err.status, body).header("x-ms-substatus", err.substatus.to_string());
        match err.retry_after {
            Some(wait) => reply.header("x-ms-retry-after-ms", wait.as_millis().max(1).to_string()),
            None => reply,
        }
    }
}
