//! A minimal signed REST client for any Cosmos DB endpoint: just what the
//! workloads send, signed with the account key as the SDKs sign.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cosmonaut_gateway::auth::{string_to_sign, MasterKey};
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::connection::{Connection, Target};
use crate::workload::Item;

/// A client of one endpoint. Each clone is a client of its own: over
/// HTTP/1.1 it opens its own connection on first use (and again after an
/// error), as an SDK's pool would keep one per request in flight.
pub struct Client {
    target: Arc<Target>,
    key: Arc<MasterKey>,
    connection: Option<Connection>,
    request_timeout: Duration,
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Self {
            target: Arc::clone(&self.target),
            key: Arc::clone(&self.key),
            connection: None,
            request_timeout: self.request_timeout,
        }
    }
}

/// How long a request may wait for its answer unless told otherwise: the
/// SDKs' default request timeout.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The outcome of one request: its status, or why it got none.
pub type Outcome = Result<StatusCode, String>;

/// How the clients talk HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1 with a keep-alive connection per client, as the Python and
    /// JavaScript SDKs (and .NET and Java in gateway mode) connect.
    Http1,
    /// HTTP/2, every client multiplexed on one connection (negotiated by
    /// ALPN over TLS, with prior knowledge over cleartext).
    Http2,
}

/// A request on its way: method, path and the headers every request carries.
type Builder = hyper::http::request::Builder;

impl Client {
    pub fn new(endpoint: &str, key: &str, protocol: Protocol) -> Result<Self, String> {
        Ok(Self {
            target: Arc::new(Target::parse(endpoint, protocol)?),
            key: Arc::new(MasterKey::from_base64(key)?),
            connection: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// How long each request may wait for its answer before it counts as
    /// failed (and its connection is given up). A server that takes minutes
    /// over some requests (a peer that scans every item for a query) then
    /// holds a workload's run at most this long past its time.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    fn request(&self, method: Method, path: &str, resource_type: &str, link: &str) -> Builder {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let sig = self
            .key
            .sign(&string_to_sign(method.as_str(), resource_type, link, &date));
        let token = format!("type=master&ver=1.0&sig={sig}");
        let token =
            percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.target.prefix))
            .header("authorization", token)
            .header("x-ms-date", date)
            .header("x-ms-version", "2020-07-15");
        match self.target.protocol {
            // HTTP/2 carries the authority in the URI; HTTP/1.1 needs the header.
            Protocol::Http2 => builder,
            Protocol::Http1 => builder.header("host", self.target.authority.as_str()),
        }
    }

    fn json(builder: Builder, body: &Value) -> Result<Request<Full<Bytes>>, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        Self::json_text(builder, bytes)
    }

    fn json_text(builder: Builder, bytes: Vec<u8>) -> Result<Request<Full<Bytes>>, String> {
        builder
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| e.to_string())
    }

    fn empty(builder: Builder) -> Result<Request<Full<Bytes>>, String> {
        builder.body(Full::default()).map_err(|e| e.to_string())
    }

    async fn send(&mut self, request: Result<Request<Full<Bytes>>, String>) -> Outcome {
        let request = request?;
        let timeout = self.request_timeout;
        let outcome = tokio::time::timeout(timeout, self.exchange(request))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {}",
                    humantime::format_duration(timeout)
                ))
            });
        if outcome.is_err() {
            // The connection may be broken: the next request opens another.
            self.connection = None;
        }
        outcome
    }

    /// Sends `request` on this client's connection, opened first if there
    /// is none. A connection the server closed after its last answer (as a
    /// server may, with `connection: close`) is opened again before the
    /// request goes out; a fresh one that will not take it is an error.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Outcome {
        let mut fresh = false;
        let connection = loop {
            let connection = match &mut self.connection {
                Some(connection) => connection,
                None => {
                    fresh = true;
                    self.connection
                        .insert(Connection::open(&self.target).await?)
                }
            };
            match connection.ready().await {
                Ok(()) => break connection,
                Err(e) if fresh => return Err(e),
                Err(_) => self.connection = None,
            }
        };
        connection.send(request).await
    }

    pub async fn create_database(&mut self, id: &str) -> Outcome {
        let request = Self::json(
            self.request(Method::POST, "/dbs", "dbs", ""),
            &json!({"id": id}),
        );
        self.send(request).await
    }

    pub async fn delete_database(&mut self, id: &str) -> Outcome {
        let link = format!("dbs/{id}");
        let request = Self::empty(self.request(Method::DELETE, &format!("/{link}"), "dbs", &link));
        self.send(request).await
    }

    pub async fn create_container(&mut self, db: &str, id: &str) -> Outcome {
        let link = format!("dbs/{db}");
        let body =
            json!({"id": id, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
        let request = Self::json(
            self.request(Method::POST, &format!("/{link}/colls"), "colls", &link)
                .header("x-ms-offer-throughput", "100000"),
            &body,
        );
        self.send(request).await
    }

    fn items(&self, method: Method, db: &str, coll: &str, pk: &str) -> Builder {
        let link = format!("dbs/{db}/colls/{coll}");
        self.request(method, &format!("/{link}/docs"), "docs", &link)
            .header("x-ms-documentdb-partitionkey", json!([pk]).to_string())
    }

    pub async fn create(&mut self, db: &str, coll: &str, item: Item) -> Outcome {
        let request = Self::json_text(self.items(Method::POST, db, coll, &item.pk), item.text);
        self.send(request).await
    }

    pub async fn upsert(&mut self, db: &str, coll: &str, item: Item) -> Outcome {
        let request = Self::json_text(
            self.items(Method::POST, db, coll, &item.pk)
                .header("x-ms-documentdb-is-upsert", "True"),
            item.text,
        );
        self.send(request).await
    }

    fn item(&self, method: Method, db: &str, coll: &str, id: &str, pk: &str) -> Builder {
        let link = format!("dbs/{db}/colls/{coll}/docs/{id}");
        self.request(method, &format!("/{link}"), "docs", &link)
            .header("x-ms-documentdb-partitionkey", json!([pk]).to_string())
    }

    pub async fn read(&mut self, db: &str, coll: &str, id: &str, pk: &str) -> Outcome {
        let request = Self::empty(self.item(Method::GET, db, coll, id, pk));
        self.send(request).await
    }

    pub async fn replace(&mut self, db: &str, coll: &str, item: Item) -> Outcome {
        let request = Self::json_text(
            self.item(Method::PUT, db, coll, &item.id, &item.pk),
            item.text,
        );
        self.send(request).await
    }

    /// A query within one partition key, or across the container when `pk` is `None`.
    pub async fn query(
        &mut self,
        db: &str,
        coll: &str,
        text: &str,
        params: Value,
        pk: Option<&str>,
    ) -> Outcome {
        let link = format!("dbs/{db}/colls/{coll}");
        // Cross-partition queries allowed on every query, as the JavaScript
        // SDK sends it; the partition key, when there, scopes the query.
        let builder = self
            .request(Method::POST, &format!("/{link}/docs"), "docs", &link)
            .header("x-ms-documentdb-isquery", "True")
            .header("x-ms-documentdb-query-enablecrosspartition", "True")
            .header("content-type", "application/query+json");
        let builder = match pk {
            Some(pk) => builder.header("x-ms-documentdb-partitionkey", json!([pk]).to_string()),
            None => builder,
        };
        let body = json!({"query": text, "parameters": params}).to_string();
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string());
        self.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::WELL_KNOWN_KEY;

    /// Reads one request, head and body; false when the client hung up.
    async fn read_request(stream: &mut TcpStream) -> bool {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let body: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + body {
                    return true;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }

    const CREATED: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}";
    const CREATED_AND_CLOSING: &[u8] =
        b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";

    /// A server on loopback that hands each connection it accepts, numbered
    /// from 0, to `serve`; returns its endpoint and the count of connections.
    async fn server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(usize, TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}/", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(count.fetch_add(1, SeqCst), stream));
            }
        });
        (endpoint, accepted)
    }

    #[tokio::test]
    async fn a_server_that_closes_the_connection_after_each_answer_is_dialled_again() {
        let (endpoint, accepted) = server(|_, mut stream| async move {
            if read_request(&mut stream).await {
                let _ = stream.write_all(CREATED_AND_CLOSING).await;
            }
        })
        .await;
        let mut client = Client::new(&endpoint, WELL_KNOWN_KEY, Protocol::Http1).expect("client");
        for _ in 0..3 {
            assert_eq!(client.create_database("db").await, Ok(StatusCode::CREATED));
        }
        assert_eq!(accepted.load(SeqCst), 3);
    }

    #[tokio::test]
    async fn a_request_unanswered_in_time_fails_and_the_next_goes_on_a_new_connection() {
        let (endpoint, accepted) = server(|n, mut stream| async move {
            while read_request(&mut stream).await {
                if n == 0 {
                    // The first connection never answers.
                    std::future::pending::<()>().await;
                }
                let _ = stream.write_all(CREATED).await;
            }
        })
        .await;
        let mut client = Client::new(&endpoint, WELL_KNOWN_KEY, Protocol::Http1)
            .expect("client")
            .with_request_timeout(Duration::from_millis(200));
        let outcome = client.create_database("db").await;
        assert_eq!(outcome, Err("no answer within 200ms".to_string()));
        assert_eq!(client.create_database("db").await, Ok(StatusCode::CREATED));
        assert_eq!(client.create_database("db").await, Ok(StatusCode::CREATED));
        assert_eq!(accepted.load(SeqCst), 2);
    }
}
