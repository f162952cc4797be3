//! `/metrics`: Prometheus text. The request metrics come from the recorder
//! the binary installs (rendered by `GatewayConfig::metrics`); storage and
//! per-container figures are read here, at scrape time, from counters the
//! store and the engine keep anyway.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};

use cosmonaut_engine::ContainerUsage;

use crate::error::ApiError;
use crate::Gateway;

/// The firewall applies, and with a metrics key the scraper must send it
/// as a bearer token.
pub(crate) fn admit(
    gateway: &Gateway,
    client: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    gateway.config.firewall.admit(client.ip())?;
    let Some(key) = &gateway.config.metrics_key else {
        return Ok(());
    };
    let sent = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let matches = sent.is_some_and(|sent| {
        // Compared in constant time, like the account keys.
        sent.len() == key.len()
            && sent
                .bytes()
                .zip(key.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "The metrics endpoint needs the metrics key as a bearer token.",
        ))
    }
}

pub(crate) fn render(gateway: &Gateway) -> String {
    let mut out = String::new();
    let stats = gateway.engine.storage_stats();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    let status = gateway.engine.storage_status();
    metric(
        "cosmonaut_storage_commits_total",
        "counter",
        "Group commits that wrote something.",
        stats.commits,
    );
    metric(
        "cosmonaut_storage_transactions_total",
        "counter",
        "Write transactions committed.",
        stats.transactions,
    );
    metric(
        "cosmonaut_storage_syncs_total",
        "counter",
        "Syncs of the write-ahead log, each making every commit before it durable.",
        stats.syncs,
    );
    metric(
        "cosmonaut_storage_memtable_bytes",
        "gauge",
        "Commits held in memory, not yet flushed into the data file.",
        status.memtable_bytes,
    );
    metric(
        "cosmonaut_storage_log_bytes",
        "gauge",
        "Bytes of write-ahead log on disk.",
        status.log_bytes,
    );
    metric(
        "cosmonaut_storage_data_file_bytes",
        "gauge",
        "Size of the data file.",
        status.data_file_bytes,
    );
    metric(
        "cosmonaut_storage_flushes_total",
        "counter",
        "Memtables flushed into the data file.",
        status.flushes,
    );
    metric(
        "cosmonaut_storage_flush_failures_total",
        "counter",
        "Flushes that failed (each is retried).",
        status.flush_failures,
    );
    metric(
        "cosmonaut_storage_degraded",
        "gauge",
        "1 while the store is not working as it should (see /health/ready for why).",
        u64::from(status.degraded.is_some()),
    );
    if let Some(connections) = &status.connections {
        metric(
            "cosmonaut_storage_connections_open",
            "gauge",
            "Connections to the database server (PostgreSQL) open, in use or idle.",
            connections.open,
        );
        metric(
            "cosmonaut_storage_connections_idle",
            "gauge",
            "Open connections to the database server not in use.",
            connections.idle,
        );
        metric(
            "cosmonaut_storage_connections_limit",
            "gauge",
            "Connections to the database server this server opens at most.",
            connections.limit,
        );
        metric(
            "cosmonaut_storage_unreachable_total",
            "counter",
            "Calls that could not reach the database server (refused, broken or timed out).",
            connections.unreachable,
        );
    }
    render_container_usage(gateway, &mut out);
    if let Some(extra) = &gateway.config.metrics {
        out.push_str(&extra());
    }
    out
}

fn render_container_usage(gateway: &Gateway, out: &mut String) {
    let usage = match gateway.engine.container_usage() {
        Ok(usage) => usage,
        Err(err) => {
            tracing::warn!(%err, "reading container sizes for /metrics failed");
            return;
        }
    };
    type Figure = fn(&ContainerUsage) -> u64;
    let families: [(&str, &str, Figure); 2] = [
        (
            "cosmonaut_container_documents",
            "Documents stored in each container.",
            |c| c.documents,
        ),
        (
            "cosmonaut_container_document_bytes",
            "Bytes of the documents stored in each container, as JSON.",
            |c| c.document_bytes,
        ),
    ];
    for (name, help, figure) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for container in &usage {
            let _ = writeln!(
                out,
                "{name}{{database=\"{}\",container=\"{}\"}} {}",
                label_value(&container.database),
                label_value(&container.container),
                figure(container),
            );
        }
    }
}

/// A label value as the text format escapes it.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
