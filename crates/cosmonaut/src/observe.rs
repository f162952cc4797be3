//! How the server is watched: its log format, the access and slow-request
//! logs, and the Prometheus exporter behind `/metrics`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use cosmonaut_gateway::TelemetryConfig;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::traces::TraceExport;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people; colours only on a terminal and
    /// never with `NO_COLOR` set.
    Text,
    /// One JSON object per line (timestamp, level, target and the event's
    /// fields) for log collectors.
    Json,
}

/// Installs the log subscriber: `COSMONAUT_LOG` filters (default `info`).
/// With an OTLP endpoint, request spans are exported to it too; the
/// returned exporter sends what is queued when shut down.
pub fn init_logging(format: LogFormat, otlp: Option<&str>) -> Result<Option<TraceExport>, String> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{fmt, Layer, Registry};

    // Request spans are for the trace exporter, not the log lines.
    let quiet_spans = format!("{}=off", cosmonaut_gateway::TRACE_TARGET);
    let filter = tracing_subscriber::EnvFilter::try_from_env("COSMONAUT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive(quiet_spans.parse().map_err(|e| format!("{e}"))?);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour)
                .with_filter(filter)
                .boxed()
        }
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let mut layers = vec![lines];
    let export = match otlp {
        Some(endpoint) => {
            let (export, layer) = TraceExport::start(endpoint)?;
            let spans =
                Targets::new().with_target(cosmonaut_gateway::TRACE_TARGET, LevelFilter::INFO);
            layers.push(layer.with_filter(spans).boxed());
            Some(export)
        }
        None => None,
    };
    tracing_subscriber::registry().with(layers).init();
    Ok(export)
}

#[derive(clap::Args, Debug, Clone)]
pub struct ObserveArgs {
    /// Log requests to the access log (target cosmonaut::access): `off`,
    /// `all`, or the share to log, such as 0.01 for one in a hundred.
    #[arg(long, env = "COSMONAUT_ACCESS_LOG", default_value = "off", value_parser = parse_sample)]
    access_log: Sample,
    /// Log every request slower than this many milliseconds (target
    /// cosmonaut::slow); queries with their text, parameter names, the
    /// partitions they covered, documents read, indexes used and charge.
    #[arg(long, env = "COSMONAUT_SLOW_QUERY_MS")]
    slow_query_ms: Option<u64>,
    /// Slow-query entries show parameter and partition key values too.
    /// They may be personal data; off unless asked for.
    #[arg(long, env = "COSMONAUT_LOG_QUERY_VALUES")]
    log_query_values: bool,
    /// Serve /metrics only to scrapers that send `Authorization: Bearer
    /// <this key>`; open to every client the firewall admits when absent.
    #[arg(long, env = "COSMONAUT_METRICS_KEY", hide_env_values = true)]
    pub metrics_key: Option<String>,
}

/// One request in `every` is logged.
#[derive(Debug, Clone, Copy)]
struct Sample {
    every: Option<u64>,
}

fn parse_sample(text: &str) -> Result<Sample, String> {
    let every = match text.trim() {
        "off" | "0" => None,
        "all" | "1" => Some(1),
        share => {
            let share: f64 = share
                .parse()
                .map_err(|_| format!("'{text}' is not off, all, or a share between 0 and 1"))?;
            if !(share > 0.0 && share <= 1.0) {
                return Err(format!("the share {share} is not between 0 and 1"));
            }
            Some((1.0 / share).round().max(1.0) as u64)
        }
    };
    Ok(Sample { every })
}

impl ObserveArgs {
    pub fn telemetry(&self) -> TelemetryConfig {
        TelemetryConfig {
            access_log_every: self.access_log.every,
            slow_request: self.slow_query_ms.map(Duration::from_millis),
            log_parameter_values: self.log_query_values,
        }
    }
}

/// Request latencies, in seconds: from a cached point read to a query at
/// its time limit.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];
/// Request units per request: a point read costs 1, a 1 KB write about 6.
const CHARGE_BUCKETS: [f64; 10] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 5000.0,
];

/// Installs the process-wide metrics recorder and returns what renders it,
/// with the process's own figures (CPU, memory, open files) refreshed at
/// each scrape.
pub fn install_metrics() -> Result<Arc<dyn Fn() -> String + Send + Sync>, String> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("cosmonaut_request_duration_seconds".into()),
            &LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("cosmonaut_request_units".into()),
                &CHARGE_BUCKETS,
            )
        })
        .map_err(|e| format!("cannot set up metrics: {e}"))?
        .build_recorder();
    let handle: PrometheusHandle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| format!("cannot set up metrics: {e}"))?;
    let process = metrics_process::Collector::default();
    process.describe();
    describe();
    Ok(Arc::new(move || {
        process.collect();
        handle.run_upkeep();
        handle.render()
    }))
}

fn describe() {
    metrics::describe_counter!(
        "cosmonaut_requests_total",
        "Requests served, by operation, resource type, status and sub-status."
    );
    metrics::describe_histogram!(
        "cosmonaut_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its answer."
    );
    metrics::describe_histogram!(
        "cosmonaut_request_units",
        "Request units charged per request; the sum is the total charged."
    );
    metrics::describe_counter!(
        cosmonaut_gateway::THROTTLED,
        "Requests answered 429 (rate limit or the concurrency cap)."
    );
    // Present from the start, so an alert on its rate has a series to read.
    metrics::counter!(cosmonaut_gateway::THROTTLED).absolute(0);
    crate::connections::describe_metrics();
    metrics::describe_counter!(
        cosmonaut_mongo::COMMANDS_TOTAL,
        "MongoDB commands run, by command and outcome (ok or the error's code name)."
    );
    metrics::describe_histogram!(
        cosmonaut_mongo::COMMAND_SECONDS,
        metrics::Unit::Seconds,
        "Time from a MongoDB command's arrival to its reply."
    );
    metrics::describe_histogram!(
        cosmonaut_mongo::COMMAND_UNITS,
        "Request units charged per MongoDB command."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_samples() {
        assert_eq!(parse_sample("off").map(|s| s.every), Ok(None));
        assert_eq!(parse_sample("all").map(|s| s.every), Ok(Some(1)));
        assert_eq!(parse_sample("0.01").map(|s| s.every), Ok(Some(100)));
        assert!(parse_sample("2").is_err());
        assert!(parse_sample("often").is_err());
    }
}
