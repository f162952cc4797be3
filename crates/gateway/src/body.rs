//! Reading request bodies: against a deadline and within a memory budget,
//! before a request takes one of the `max_concurrent_requests` slots, so
//! clients that trickle their bodies hold no slot and cannot starve others
//! (reads, with no body, never wait on a body at all). A body over the
//! limit is read to its end (up to a bound) and answered with 413 and its
//! real size, so the client sees the answer instead of a connection cut
//! in the middle of its upload.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use cosmonaut_engine::validation::MAX_ITEM_BYTES;

use crate::error::ApiError;

/// How long a client has to send its whole body once its headers are in.
pub(crate) const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// Memory all bodies being read or served may take at once, in KiB units.
const BUDGET_KIB: usize = 256 * 1024;

/// A body over the limit is read this far at most before the connection
/// is closed without an answer.
const DRAIN_BYTES: usize = 64 << 20;

/// The bytes of bodies in memory, shared by every request.
#[derive(Clone)]
pub(crate) struct BodyBudget {
    kib: Arc<Semaphore>,
}

impl Default for BodyBudget {
    fn default() -> Self {
        Self {
            kib: Arc::new(Semaphore::new(BUDGET_KIB)),
        }
    }
}

/// A body and its share of the budget, given back when dropped.
pub(crate) struct ReadBody {
    pub bytes: Bytes,
    _budget: Option<OwnedSemaphorePermit>,
}

/// The service's 413, with the body's real size. The stated limit is an
/// item's; a request may carry a little more (a batch's envelope).
fn too_large(size: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request size is too large: the request body is {size} bytes, and an item may be at \
             most {MAX_ITEM_BYTES} bytes."
        ),
    )
}

fn timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "The request body did not arrive within {} seconds.",
            BODY_DEADLINE.as_secs()
        ),
    )
}

/// Reads `body`, at most `limit` bytes, within [`BODY_DEADLINE`].
pub(crate) async fn read(
    body: Body,
    headers: &HeaderMap,
    budget: &BodyBudget,
    limit: usize,
) -> Result<ReadBody, ApiError> {
    // HTTP/2 bodies need not state a length; the body's own size hint
    // knows what the connection knows.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .or_else(|| {
            body.size_hint()
                .exact()
                .and_then(|n| usize::try_from(n).ok())
        });
    if declared == Some(0) || body.is_end_stream() {
        return Ok(ReadBody {
            bytes: Bytes::new(),
            _budget: None,
        });
    }
    if let Some(size) = declared.filter(|size| *size > limit) {
        drain(body, 0).await;
        return Err(too_large(size));
    }
    let kib = declared
        .unwrap_or(limit)
        .div_ceil(1024)
        .clamp(1, BUDGET_KIB);
    let permit = tokio::time::timeout(
        BODY_DEADLINE,
        Arc::clone(&budget.kib).acquire_many_owned(kib as u32),
    )
    .await
    .map_err(|_| {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "The server holds as many request bodies as it can. Retry after the time in \
             x-ms-retry-after-ms.",
        );
        err.retry_after = Some(Duration::from_millis(500));
        err
    })?
    .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The server is stopping."))?;
    let bytes = tokio::time::timeout(BODY_DEADLINE, collect(body, declared.unwrap_or(0), limit))
        .await
        .map_err(|_| timed_out())??;
    Ok(ReadBody {
        bytes,
        _budget: Some(permit),
    })
}

async fn collect(mut body: Body, expected: usize, limit: usize) -> Result<Bytes, ApiError> {
    let mut collected = Vec::with_capacity(expected.min(limit));
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                let seen = collected.len() + data.len();
                return Err(too_large(drain(body, seen).await));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

/// Reads and drops the rest of a body refused for its size, up to a bound
/// and within the deadline; returns how many bytes it had in all.
async fn drain(mut body: Body, mut seen: usize) -> usize {
    let draining = async {
        while seen < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        seen += data.len();
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(BODY_DEADLINE, draining).await;
    seen
}
