//! What the gateway reports about the requests it serves: request metrics
//! (through the `metrics` facade; the binary installs the Prometheus
//! exporter, and without one they cost nothing), the access log and the
//! slow-request log. Both logs are `tracing` events with their own targets
//! (`cosmonaut::access`, `cosmonaut::slow`), so they follow the server's log
//! format and filter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};

use crate::address::Address;
use crate::request::RequestContext;

/// The target of request spans; a subscriber that exports traces enables it.
pub const TRACE_TARGET: &str = "cosmonaut::trace";

/// What the trace exporter does to request spans that `tracing` cannot:
/// give a span the request's activity id as its trace id, and name it once
/// the operation is known (after the span has started).
pub trait TraceHooks: Send + Sync {
    fn link(&self, span: &tracing::Span, activity_id: &str);
    fn rename(&self, span: &tracing::Span, name: &'static str);
}

/// The span of one request: disabled (and free) unless a subscriber takes
/// `cosmonaut::trace`. Completed (and named) by [`close_span`].
pub(crate) fn request_span(activity_id: &str, method: &Method, path: &str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        "request",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        activity_id,
        http.request.method = %method,
        url.path = path,
        http.response.status_code = tracing::field::Empty,
        db.system = "cosmosdb",
        db.operation.name = tracing::field::Empty,
        db.cosmosdb.resource_type = tracing::field::Empty,
        db.cosmosdb.sub_status_code = tracing::field::Empty,
        db.cosmosdb.request_charge = tracing::field::Empty,
    )
}

pub(crate) fn close_span(
    span: &tracing::Span,
    hooks: Option<&dyn TraceHooks>,
    kind: RequestKind,
    status: StatusCode,
    substatus: u32,
    request_charge: f64,
) {
    if span.is_disabled() {
        return;
    }
    if let Some(hooks) = hooks {
        hooks.rename(span, kind.operation);
    }
    span.record("db.operation.name", kind.operation);
    span.record("db.cosmosdb.resource_type", kind.resource_type);
    span.record("http.response.status_code", status.as_u16());
    span.record("db.cosmosdb.sub_status_code", substatus);
    span.record("db.cosmosdb.request_charge", request_charge);
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Requests answered 429, whatever throttled them.
pub const THROTTLED: &str = "cosmonaut_requests_throttled_total";

/// One log line about a request, at `$level` under `$target`; `tracing`
/// takes both as literals, hence a macro.
macro_rules! request_event {
    ($level:ident, $target:literal, $message:literal, $request:expr, $operation:expr, $resource_type:expr) => {
        tracing::$level!(
            target: $target,
            activity_id = $request.activity_id,
            method = %$request.method,
            path = $request.path,
            operation = $operation,
            resource_type = $resource_type,
            status = $request.status.as_u16(),
            substatus = $request.substatus,
            request_charge = $request.request_charge,
            duration_ms = duration_ms($request.elapsed),
            $message
        )
    };
}

/// Which requests the logs show.
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    /// Log one request in this many to the access log; none when off.
    pub access_log_every: Option<u64>,
    /// Log every request slower than this; queries with their text.
    pub slow_request: Option<Duration>,
    /// Slow-query entries show parameter values, not only their names.
    /// Values may be personal data, so this is opt-in.
    pub log_parameter_values: bool,
}

/// What a request was, for metric labels and log lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestKind {
    pub operation: &'static str,
    pub resource_type: &'static str,
}

impl RequestKind {
    /// A request whose path could not be read.
    pub const UNKNOWN: Self = Self {
        operation: "Unknown",
        resource_type: "",
    };

    /// Names the operation as the service's diagnostics do.
    pub fn of(address: &Address, ctx: &RequestContext) -> Self {
        let feed = matches!(
            address,
            Address::Databases
                | Address::Containers { .. }
                | Address::Items { .. }
                | Address::Users { .. }
                | Address::Permissions { .. }
                | Address::Offers
                | Address::Scripts { .. }
                | Address::Conflicts { .. }
                | Address::PartitionKeyRanges { .. }
        );
        let operation = match ctx.method {
            Method::GET if ctx.is_change_feed() => "ReadChangeFeed",
            Method::GET if feed => "ReadFeed",
            Method::GET => "Read",
            Method::HEAD => "Head",
            Method::POST if ctx.is_query_plan_request() => "QueryPlan",
            Method::POST if ctx.is_query() => "Query",
            Method::POST if ctx.is_batch() => "Batch",
            Method::POST if matches!(address, Address::Script { .. }) => "ExecuteStoredProcedure",
            Method::POST if matches!(address, Address::PartitionKeyDelete { .. }) => {
                "DeleteAllItemsByPartitionKey"
            }
            Method::POST if ctx.is_upsert() => "Upsert",
            Method::POST => "Create",
            Method::PUT => "Replace",
            Method::PATCH => "Patch",
            Method::DELETE => "Delete",
            _ => "Other",
        };
        Self {
            operation,
            resource_type: match address {
                Address::Account => "account",
                other => other.resource_type(),
            },
        }
    }
}

/// The outcome of one request.
pub(crate) struct Served<'a> {
    pub kind: RequestKind,
    pub status: StatusCode,
    pub substatus: u32,
    pub request_charge: f64,
    pub elapsed: Duration,
    pub activity_id: &'a str,
    pub method: &'a Method,
    pub path: &'a str,
}

/// One slow query, with what explains its time.
pub(crate) struct SlowQuery<'a> {
    pub text: &'a str,
    /// Parameter names, and their values when the server logs them.
    pub parameters: Vec<String>,
    pub scope: String,
    pub documents_read: usize,
    pub indexes: Vec<String>,
    pub request_charge: f64,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    config: TelemetryConfig,
    served: AtomicU64,
}

impl Telemetry {
    pub fn new(config: TelemetryConfig) -> Self {
        Self {
            config,
            served: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// Counts a request in the metrics and logs it where the logs want it.
    pub fn served(&self, request: &Served<'_>) {
        let RequestKind {
            operation,
            resource_type,
        } = request.kind;
        let status = status_label(request.status);
        let substatus = substatus_label(request.substatus);
        metrics::counter!(
            "cosmonaut_requests_total",
            "operation" => operation,
            "resource_type" => resource_type,
            "status" => status,
            "substatus" => substatus,
        )
        .increment(1);
        metrics::histogram!(
            "cosmonaut_request_duration_seconds",
            "operation" => operation,
            "resource_type" => resource_type,
        )
        .record(request.elapsed.as_secs_f64());
        metrics::histogram!(
            "cosmonaut_request_units",
            "operation" => operation,
            "resource_type" => resource_type,
        )
        .record(request.request_charge);
        if request.status == StatusCode::TOO_MANY_REQUESTS {
            // Unlabelled, so it exists (at 0) from the start; which
            // operations were throttled is in cosmonaut_requests_total.
            metrics::counter!(THROTTLED).increment(1);
        }

        let n = self.served.fetch_add(1, Ordering::Relaxed);
        if self
            .config
            .access_log_every
            .is_some_and(|every| n.is_multiple_of(every))
        {
            request_event!(
                info,
                "cosmonaut::access",
                "request",
                request,
                operation,
                resource_type
            );
        }
        // Queries log their own, richer entry (see `slow_query`).
        if self.is_slow(request.elapsed) && operation != "Query" {
            request_event!(
                warn,
                "cosmonaut::slow",
                "slow request",
                request,
                operation,
                resource_type
            );
        }
    }

    /// Whether a query that took `elapsed` belongs in the slow-request log.
    pub fn is_slow(&self, elapsed: Duration) -> bool {
        self.config
            .slow_request
            .is_some_and(|limit| elapsed >= limit)
    }

    pub fn slow_query(&self, activity_id: &str, query: &SlowQuery<'_>) {
        tracing::warn!(
            target: "cosmonaut::slow",
            activity_id,
            operation = "Query",
            resource_type = "docs",
            query = query.text,
            parameters = %query.parameters.join(", "),
            scope = %query.scope,
            documents_read = query.documents_read,
            indexes = %query.indexes.join(", "),
            request_charge = query.request_charge,
            duration_ms = duration_ms(query.elapsed),
            "slow query"
        );
    }
}

fn duration_ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e6).round() / 1e3
}

/// Label values for the statuses the service answers, without formatting
/// a number per request.
fn status_label(status: StatusCode) -> metrics::SharedString {
    let known = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        207 => "207",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        412 => "412",
        413 => "413",
        424 => "424",
        429 => "429",
        449 => "449",
        500 => "500",
        503 => "503",
        507 => "507",
        other => return other.to_string().into(),
    };
    known.into()
}

fn substatus_label(substatus: u32) -> metrics::SharedString {
    match substatus {
        0 => "0".into(),
        other => other.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_need_no_formatting_for_common_statuses() {
        assert_eq!(status_label(StatusCode::OK).as_ref(), "200");
        assert_eq!(status_label(StatusCode::IM_A_TEAPOT).as_ref(), "418");
        assert_eq!(substatus_label(1002).as_ref(), "1002");
    }
}
