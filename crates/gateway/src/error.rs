//! Errors as the service returns them: a status, a sub-status header and a
//! `{"code", "message"}` body.

use axum::http::StatusCode;
use cosmonaut_engine::EngineError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub substatus: u32,
    pub message: String,
    /// `additionalErrorInfo`: for a query that needs a client-side plan, the
    /// plan itself as a JSON string, which clients use instead of asking again.
    pub additional_info: Option<String>,
    /// For 429: how long the client should wait (`x-ms-retry-after-ms`).
    pub retry_after: Option<std::time::Duration>,
    /// More headers the answer carries (a 404's session token, say).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            substatus: 0,
            message: message.into(),
            additional_info: None,
            retry_after: None,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The container spent its RU/s: 429 with the service's sub-status 3200.
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Request rate is large: the container's provisioned throughput (RU/s) is spent. \
             Retry after the time in x-ms-retry-after-ms.",
        );
        err.substatus = 3200;
        err.retry_after = Some(wait);
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found_path(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The resource path '{path}' does not name a resource this server serves."),
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The request method {method} is not allowed on this resource."),
        )
    }

    /// The `code` field of the error body: the status's name as the service spells it.
    pub fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::GONE => "Gone",
            StatusCode::PRECONDITION_FAILED => "PreconditionFailed",
            StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLarge",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            StatusCode::REQUEST_TIMEOUT => "RequestTimeout",
            StatusCode::FAILED_DEPENDENCY => "FailedDependency",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "InternalServerError",
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let status = StatusCode::from_u16(err.kind.status_code())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A 503 tells clients when to come back, as the service's do.
        let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE)
            .then_some(std::time::Duration::from_secs(1));
        Self {
            status,
            substatus: err.substatus,
            message: err.message,
            additional_info: None,
            retry_after,
            headers: Vec::new(),
        }
    }
}
