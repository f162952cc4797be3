//! A minimal signed REST client for any Cosmos DB endpoint: just what the
//! workloads send, signed with the account key as the SDKs sign.

use std::sync::Arc;
use std::time::SystemTime;

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
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Self {
            target: Arc::clone(&self.target),
            key: Arc::clone(&self.key),
            connection: None,
        }
    }
}

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
        })
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
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self
                .connection
                .insert(Connection::open(&self.target).await?),
        };
        let outcome = connection.send(request).await;
        if outcome.is_err() {
            // The connection may be broken: the next request opens another.
            self.connection = None;
        }
        outcome
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
        let builder = self
            .request(Method::POST, &format!("/{link}/docs"), "docs", &link)
            .header("x-ms-documentdb-isquery", "True")
            .header("content-type", "application/query+json");
        let builder = match pk {
            Some(pk) => builder.header("x-ms-documentdb-partitionkey", json!([pk]).to_string()),
            None => builder.header("x-ms-documentdb-query-enablecrosspartition", "True"),
        };
        let body = json!({"query": text, "parameters": params}).to_string();
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string());
        self.send(request).await
    }
}
