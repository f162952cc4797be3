//! OpenTelemetry trace export (`--otlp-endpoint`): one span per request,
//! sent as OTLP over HTTP (JSON) to a collector. A request's trace id is
//! its activity id (both are 128-bit), so the id a client logs from
//! `x-ms-activity-id` finds the trace.

use std::sync::Arc;

use cosmonaut_gateway::TraceHooks;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The exporter; spans still queued are sent when it is shut down.
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// `endpoint` is the collector's OTLP/HTTP address; `/v1/traces` is
    /// added when it names no path.
    pub fn start(
        endpoint: &str,
    ) -> Result<
        (
            Self,
            tracing_opentelemetry::OpenTelemetryLayer<
                tracing_subscriber::Registry,
                opentelemetry_sdk::trace::Tracer,
            >,
        ),
        String,
    > {
        let endpoint = traces_url(endpoint);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| format!("--otlp-endpoint {endpoint}: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("cosmonaut").build())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("cosmonaut"));
        Ok((Self { provider }, layer))
    }

    /// Sends what is queued and stops.
    pub fn shutdown(&self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("cosmonaut: sending the last traces failed: {err}");
        }
    }
}

fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    let has_path = trimmed
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

/// The hooks that give request spans their trace ids and names.
pub fn hooks() -> Arc<dyn TraceHooks> {
    Arc::new(ActivityTraces)
}

struct ActivityTraces;

impl TraceHooks for ActivityTraces {
    /// Makes the span a child of a remote parent whose trace id is the
    /// request's activity id.
    fn link(&self, span: &tracing::Span, activity_id: &str) {
        let Ok(id) = uuid::Uuid::parse_str(activity_id) else {
            return;
        };
        let bytes = *id.as_bytes();
        let mut parent_span = [0u8; 8];
        parent_span.copy_from_slice(&bytes[8..16]);
        let parent = SpanContext::new(
            TraceId::from_bytes(bytes),
            // The remote parent stands for the client's call; its span id
            // only has to be non-zero to make the context valid.
            SpanId::from_bytes(parent_span),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let context = opentelemetry::Context::new().with_remote_span_context(parent);
        let _ = span.set_parent(context);
    }

    fn rename(&self, span: &tracing::Span, name: &'static str) {
        span.context().span().update_name(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_endpoint_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/custom/path"),
            "http://c:4318/custom/path"
        );
    }
}
