//! A minimal signed REST client for any Cosmos DB endpoint: just what the
//! workloads send, signed with the account key as the SDKs sign.

use std::time::SystemTime;

use cosmonaut_gateway::auth::{string_to_sign, MasterKey};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Parsed once: parsing the host for every request cost the load
    /// generator more than signing it.
    endpoint: reqwest::Url,
    /// The endpoint's own path, without its trailing slash.
    base_path: String,
    key: MasterKey,
}

/// The outcome of one request: its status, or why it got none.
pub type Outcome = Result<StatusCode, String>;

/// How the clients talk HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1 with a keep-alive connection per client in flight, as the
    /// Python and JavaScript SDKs (and .NET and Java in gateway mode) connect.
    Http1,
    /// HTTP/2 when the server offers it: every client multiplexed on one
    /// connection.
    Http2,
}

impl Client {
    pub fn new(endpoint: &str, key: &str, protocol: Protocol) -> Result<Self, String> {
        let builder = reqwest::Client::builder()
            // Local emulators serve self-signed certificates.
            .danger_accept_invalid_certs(true)
            .pool_max_idle_per_host(1024);
        let builder = match protocol {
            Protocol::Http1 => builder.http1_only(),
            Protocol::Http2 => builder,
        };
        let http = builder.build().map_err(|e| e.to_string())?;
        let endpoint = reqwest::Url::parse(endpoint).map_err(|e| format!("{endpoint}: {e}"))?;
        Ok(Self {
            http,
            base_path: endpoint.path().trim_end_matches('/').to_string(),
            endpoint,
            key: MasterKey::from_base64(key)?,
        })
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        resource_type: &str,
        link: &str,
    ) -> reqwest::RequestBuilder {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let sig = self
            .key
            .sign(&string_to_sign(method.as_str(), resource_type, link, &date));
        let token = format!("type=master&ver=1.0&sig={sig}");
        let token =
            percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let mut url = self.endpoint.clone();
        url.set_path(&format!("{}{path}", self.base_path));
        self.http
            .request(method, url)
            .header("authorization", token)
            .header("x-ms-date", date)
            .header("x-ms-version", "2020-07-15")
    }

    async fn send(builder: reqwest::RequestBuilder) -> Outcome {
        let response = builder.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the body: a client that drops it measures less than the server did.
        response.bytes().await.map_err(|e| e.to_string())?;
        Ok(status)
    }

    pub async fn create_database(&self, id: &str) -> Outcome {
        Self::send(
            self.request(Method::POST, "/dbs", "dbs", "")
                .json(&json!({"id": id})),
        )
        .await
    }

    pub async fn delete_database(&self, id: &str) -> Outcome {
        let link = format!("dbs/{id}");
        Self::send(self.request(Method::DELETE, &format!("/{link}"), "dbs", &link)).await
    }

    pub async fn create_container(&self, db: &str, id: &str) -> Outcome {
        let link = format!("dbs/{db}");
        let body =
            json!({"id": id, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
        Self::send(
            self.request(Method::POST, &format!("/{link}/colls"), "colls", &link)
                .header("x-ms-offer-throughput", "100000")
                .json(&body),
        )
        .await
    }

    fn items(&self, method: Method, db: &str, coll: &str, pk: &str) -> reqwest::RequestBuilder {
        let link = format!("dbs/{db}/colls/{coll}");
        self.request(method, &format!("/{link}/docs"), "docs", &link)
            .header("x-ms-documentdb-partitionkey", json!([pk]).to_string())
    }

    pub async fn create(&self, db: &str, coll: &str, item: &Value) -> Outcome {
        let pk = item["pk"].as_str().unwrap_or_default();
        Self::send(self.items(Method::POST, db, coll, pk).json(item)).await
    }

    pub async fn upsert(&self, db: &str, coll: &str, item: &Value) -> Outcome {
        let pk = item["pk"].as_str().unwrap_or_default();
        Self::send(
            self.items(Method::POST, db, coll, pk)
                .header("x-ms-documentdb-is-upsert", "True")
                .json(item),
        )
        .await
    }

    fn item(
        &self,
        method: Method,
        db: &str,
        coll: &str,
        id: &str,
        pk: &str,
    ) -> reqwest::RequestBuilder {
        let link = format!("dbs/{db}/colls/{coll}/docs/{id}");
        self.request(method, &format!("/{link}"), "docs", &link)
            .header("x-ms-documentdb-partitionkey", json!([pk]).to_string())
    }

    pub async fn read(&self, db: &str, coll: &str, id: &str, pk: &str) -> Outcome {
        Self::send(self.item(Method::GET, db, coll, id, pk)).await
    }

    pub async fn replace(&self, db: &str, coll: &str, item: &Value) -> Outcome {
        let (id, pk) = (
            item["id"].as_str().unwrap_or_default(),
            item["pk"].as_str().unwrap_or_default(),
        );
        Self::send(self.item(Method::PUT, db, coll, id, pk).json(item)).await
    }

    /// A query within one partition key, or across the container when `pk` is `None`.
    pub async fn query(
        &self,
        db: &str,
        coll: &str,
        text: &str,
        params: Value,
        pk: Option<&str>,
    ) -> Outcome {
        let link = format!("dbs/{db}/colls/{coll}");
        let mut builder = self
            .request(Method::POST, &format!("/{link}/docs"), "docs", &link)
            .header("x-ms-documentdb-isquery", "True")
            .header("content-type", "application/query+json")
            .body(json!({"query": text, "parameters": params}).to_string());
        builder = match pk {
            Some(pk) => builder.header("x-ms-documentdb-partitionkey", json!([pk]).to_string()),
            None => builder.header("x-ms-documentdb-query-enablecrosspartition", "True"),
        };
        Self::send(builder).await
    }
}
