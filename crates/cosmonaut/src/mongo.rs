//! `serve --mongo-port`: the MongoDB endpoint beside the NoSQL one, on the
//! same engine, keys, firewall and certificate.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use cosmonaut_engine::Engine;
use cosmonaut_gateway::auth::KeyRing;
use cosmonaut_gateway::firewall::Firewall;
use cosmonaut_mongo::{Credential, MongoConfig, MongoServer};
use tokio::task::JoinSet;

#[derive(clap::Args)]
pub struct MongoArgs {
    /// Serve the MongoDB wire protocol (TLS, the server's certificate) on
    /// this port, as Azure Cosmos DB for MongoDB does on 10255. Off unless asked for.
    #[arg(long, env = "COSMONAUT_MONGO_PORT")]
    mongo_port: Option<u16>,
    /// Serve the MongoDB wire protocol without TLS on this port, for local use.
    #[arg(long, env = "COSMONAUT_MONGO_PLAIN_PORT")]
    mongo_plain_port: Option<u16>,
}

/// The bound MongoDB ports, before the server starts answering on them.
pub struct MongoListeners {
    tls: Option<TcpListener>,
    plain: Option<TcpListener>,
}

/// MongoDB's message size limit.
const MAX_MESSAGE_BYTES: usize = 48_000_000;

impl MongoArgs {
    pub fn bind(&self, ip: std::net::IpAddr) -> Result<MongoListeners, String> {
        let listen = |port: Option<u16>| {
            port.map(|p| super::serve::bind(SocketAddr::new(ip, p)))
                .transpose()
        };
        Ok(MongoListeners {
            tls: listen(self.mongo_port)?,
            plain: listen(self.mongo_plain_port)?,
        })
    }
}

/// The account keys as SCRAM passwords.
fn credentials(keys: &KeyRing) -> Vec<Credential> {
    keys.current()
        .keys
        .iter()
        .map(|(kind, key)| Credential {
            password: key.to_base64(),
            read_only: kind.is_read_only(),
        })
        .collect()
}

/// What `start` needs from the rest of the server.
pub struct MongoContext {
    pub engine: Arc<Engine>,
    pub keys: Arc<KeyRing>,
    pub firewall: Firewall,
    pub tls: Arc<rustls::ServerConfig>,
    pub max_connections: usize,
}

impl MongoListeners {
    /// Starts answering; returns the connection strings to print. The tasks
    /// end (closing every connection) when `tasks` is dropped or aborted.
    pub fn start(
        self,
        context: MongoContext,
        primary_key: &str,
        tasks: &mut JoinSet<()>,
    ) -> Result<Vec<String>, String> {
        let mut banner = Vec::new();
        for (listener, tls) in [(self.tls, true), (self.plain, false)] {
            let Some(listener) = listener else { continue };
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let host = format!(
                "{}:{}",
                super::serve::display_host(addr)
                    .rsplit_once(':')
                    .map_or("localhost", |(h, _)| h),
                addr.port()
            );
            let keys = Arc::downgrade(&context.keys);
            let firewall = context.firewall.clone();
            let server = MongoServer::new(
                Arc::clone(&context.engine),
                MongoConfig {
                    credentials: Arc::new(move || {
                        keys.upgrade().map(|k| credentials(&k)).unwrap_or_default()
                    }),
                    admit: Arc::new(move |ip| firewall.admit(ip).is_ok()),
                    advertised_host: host.clone(),
                    max_message_bytes: MAX_MESSAGE_BYTES,
                },
            );
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
            let acceptor = tls.then(|| tokio_rustls::TlsAcceptor::from(Arc::clone(&context.tls)));
            tasks.spawn(accept(listener, acceptor, server, context.max_connections));
            let key = percent_encode(primary_key);
            banner.push(format!(
                "  MongoDB: mongodb://localhost:{key}@{host}/?ssl={tls}&replicaSet={}&retrywrites=false",
                cosmonaut_mongo::REPLICA_SET
            ));
        }
        Ok(banner)
    }
}

/// The key as a URL's password: base64's `+`, `/` and `=` escaped.
fn percent_encode(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect()
}

async fn accept(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    server: Arc<MongoServer>,
    max_connections: usize,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(max_connections));
    // Connections live in this set: when the listener's task is aborted at
    // shutdown, every connection ends with it.
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "MongoDB accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let server = Arc::clone(&server);
        let tls = tls.clone();
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => match tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    acceptor.accept(stream),
                )
                .await
                {
                    Ok(Ok(stream)) => server.serve(stream, peer).await,
                    _ => tracing::debug!(%peer, "MongoDB TLS handshake failed"),
                },
                None => server.serve(stream, peer).await,
            }
        });
    }
}
