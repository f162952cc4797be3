//! Accepting TCP connections: at most `--max-connections` open at once
//! (a connection beyond that is closed as soon as it is accepted, so a
//! client that opens connections without end cannot exhaust memory or file
//! descriptors), and with Nagle's algorithm off, since each response is a
//! small write its client is waiting for.

use std::future::Ready;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub struct LimitedAcceptor {
    permits: Arc<Semaphore>,
}

impl LimitedAcceptor {
    /// One acceptor per server; listeners built from clones share the limit.
    pub fn new(max_connections: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }
}

impl<S> Accept<TcpStream, S> for LimitedAcceptor {
    type Stream = CountedStream;
    type Service = S;
    type Future = Ready<io::Result<(CountedStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            tracing::warn!("connection limit reached; closing a new connection");
            metrics::counter!(REFUSED).increment(1);
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        metrics::counter!(ACCEPTED).increment(1);
        metrics::gauge!(OPEN).increment(1.0);
        let accepted = stream.set_nodelay(true).map(|()| {
            (
                CountedStream {
                    stream,
                    _permit: permit,
                },
                service,
            )
        });
        std::future::ready(accepted)
    }
}

/// A connection that holds its place under the limit until it closes.
pub struct CountedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        metrics::gauge!(OPEN).decrement(1.0);
    }
}

const ACCEPTED: &str = "cosmonaut_connections_accepted_total";
const REFUSED: &str = "cosmonaut_connections_refused_total";
const OPEN: &str = "cosmonaut_connections_open";

pub fn describe_metrics() {
    metrics::describe_counter!(ACCEPTED, "Connections accepted.");
    metrics::describe_counter!(
        REFUSED,
        "Connections closed at once because --max-connections were open."
    );
    metrics::describe_gauge!(OPEN, "Connections open now.");
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
