//! One client connection: read a message, run its command, answer, until
//! the client goes. Malformed messages get an error reply and the
//! connection lives on; only a stream that cannot be resynchronised (a bad
//! length) is closed.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::commands::{self, Session};
use crate::wire::{self, ReadError, RequestKind};
use crate::MongoServer;

impl MongoServer {
    /// Serves one accepted connection (already through TLS if any).
    pub async fn serve<S>(self: Arc<Self>, mut stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if !(self.config.admit)(peer.ip()) {
            tracing::info!(%peer, "MongoDB connection refused by the IP firewall");
            return;
        }
        let mut session = Session::new(self.next_connection.fetch_add(1, Ordering::Relaxed));
        loop {
            let request = match wire::read_request(&mut stream, self.config.max_message_bytes).await
            {
                Ok(request) => request,
                Err(ReadError::Closed) => return,
                Err(ReadError::Bad { request_id, error }) => {
                    if wire::write_reply(&mut stream, request_id, false, &error.reply())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Err(ReadError::Fatal(error)) => {
                    tracing::info!(%peer, %error, "MongoDB connection closed");
                    return;
                }
            };
            let (legacy, database, silent) = match &request.kind {
                RequestKind::Msg { more_to_come } => (false, None, *more_to_come),
                RequestKind::Query { database } => (true, Some(database.clone()), false),
            };
            let reply = commands::run(&self, &mut session, request.body, database).await;
            if silent {
                continue;
            }
            if wire::write_reply(&mut stream, request.request_id, legacy, &reply)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
