//! `/health/live` and `/health/ready`: the probes an orchestrator polls.
//! Both are unauthenticated and pass the IP firewall (a kubelet probes from
//! the node's address), and neither touches data: they say only whether the
//! process serves and whether it should be sent requests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A condition the server must meet to take requests, and why it does not.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Whether the server should be sent requests: every check passes and it
/// is not shutting down.
#[derive(Default)]
pub struct Readiness {
    checks: Vec<(&'static str, ReadinessCheck)>,
    draining: AtomicBool,
}

impl Readiness {
    pub fn new(checks: Vec<(&'static str, ReadinessCheck)>) -> Self {
        Self {
            checks,
            draining: AtomicBool::new(false),
        }
    }

    /// From now on the server reports not ready, so load balancers stop
    /// sending it requests while in-flight ones finish.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The reasons the server is not ready; empty when it is.
    pub fn failures(&self) -> Vec<(&'static str, String)> {
        let mut failures: Vec<_> = self
            .checks
            .iter()
            .filter_map(|(name, check)| check().err().map(|why| (*name, why)))
            .collect();
        if self.draining.load(Ordering::Relaxed) {
            failures.push(("server", "shutting down".to_string()));
        }
        failures
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn live() -> Response {
    json_response(StatusCode::OK, json!({"status": "live"}))
}

pub(crate) fn ready(readiness: &Readiness) -> Response {
    let failures = readiness.failures();
    if failures.is_empty() {
        return json_response(StatusCode::OK, json!({"status": "ready"}));
    }
    let checks: serde_json::Map<_, _> = failures
        .into_iter()
        .map(|(name, why)| (name.to_string(), json!(why)))
        .collect();
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "not ready", "checks": checks}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_until_a_check_fails_or_drained() {
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&healthy);
        let readiness = Readiness::new(vec![(
            "storage",
            Arc::new(move || {
                if flag.load(Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err("disk full".to_string())
                }
            }),
        )]);
        assert!(readiness.failures().is_empty());
        healthy.store(false, Ordering::Relaxed);
        assert_eq!(
            readiness.failures(),
            vec![("storage", "disk full".to_string())]
        );
        healthy.store(true, Ordering::Relaxed);
        readiness.drain();
        assert_eq!(readiness.failures().len(), 1);
    }
}
