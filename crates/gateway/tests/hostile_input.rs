//! Property tests that feed hostile input to everything that parses what a
//! client sends: the path, the authorization header, partition key headers,
//! Cosmos binary JSON, and whole signed HTTP requests with arbitrary
//! methods, paths, headers and bodies. Nothing may panic, and no request may
//! get a 5xx: bad input is the client's error.
//!
//! `scripts/fuzz.sh` runs these for a longer budget (PROPTEST_CASES).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request};
use cosmonaut_engine::partition::parse_partition_key_header;
use cosmonaut_engine::{Engine, EngineConfig};
use cosmonaut_gateway::address::Address;
use cosmonaut_gateway::auth::{self, AccountKeys, KeyKind, KeyRing, MasterKey};
use cosmonaut_gateway::firewall::Firewall;
use cosmonaut_gateway::{binary_json, Gateway, GatewayConfig};
use proptest::prelude::*;
use tower::ServiceExt;

const KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

fn keys() -> AccountKeys {
    AccountKeys {
        keys: vec![(KeyKind::Primary, MasterKey::from_base64(KEY).expect("key"))],
        token_secret: b"secret".to_vec(),
    }
}

/// Path segments that reach every handler, and some that reach none.
fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("dbs".to_string()),
        Just("colls".to_string()),
        Just("docs".to_string()),
        Just("users".to_string()),
        Just("permissions".to_string()),
        Just("pkranges".to_string()),
        Just("offers".to_string()),
        Just("operations".to_string()),
        Just("partitionkeydelete".to_string()),
        Just("db".to_string()),
        Just("c".to_string()),
        "[a-z0-9]{0,6}",
    ];
    prop::collection::vec(segment, 0..7).prop_map(|parts| format!("/{}", parts.join("/")))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"id":"x","pk":"p"}"#.to_vec()),
        Just(br#"{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}"#.to_vec()),
        Just(br#"{"query":"SELECT * FROM c WHERE c.a > 1 ORDER BY c.b","parameters":[]}"#.to_vec()),
        Just(br#"[{"operationType":"Create","resourceBody":{"id":"1","pk":"p"}}]"#.to_vec()),
        Just(br#"{"operations":[{"op":"incr","path":"/n","value":1}]}"#.to_vec()),
        "\\PC{0,64}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("x-ms-documentdb-partitionkey"),
        Just("x-ms-documentdb-isquery"),
        Just("content-type"),
        Just("x-ms-documentdb-is-upsert"),
        Just("x-ms-cosmos-is-batch-request"),
        Just("x-ms-max-item-count"),
        Just("x-ms-continuation"),
        Just("if-match"),
        Just("a-im"),
        Just("x-ms-documentdb-partitionkeyrangeid"),
        Just("x-ms-documentdb-expiry-seconds"),
        Just("x-ms-cosmos-supported-query-features"),
        Just("x-ms-offer-throughput"),
    ];
    let value = prop_oneof![
        Just("[\"p\"]".to_string()),
        Just("true".to_string()),
        Just("application/query+json".to_string()),
        Just("Incremental feed".to_string()),
        Just("-1".to_string()),
        "[ -~]{0,24}",
    ];
    (name.prop_map(str::to_string), value)
}

proptest! {
    #[test]
    fn paths_never_panic(text in ".{0,64}") {
        let _ = Address::parse(&text);
    }

    #[test]
    fn authorization_headers_never_panic(raw in "[ -~]{0,200}", date in "[ -~]{0,40}") {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&raw) {
            headers.insert("authorization", v);
        }
        if let Ok(v) = HeaderValue::from_str(&date) {
            headers.insert("x-ms-date", v);
        }
        let _ = auth::authenticate(&keys(), None, "GET", &Address::Databases, &headers, SystemTime::now());
    }

    #[test]
    fn partition_key_headers_never_panic(text in "\\PC{0,48}") {
        let _ = parse_partition_key_header(&text);
    }

    #[test]
    fn binary_json_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = binary_json::decode(&bytes);
        // And with the binary marker in front, so the decoder goes deep.
        bytes.insert(0, 0x80);
        let _ = binary_json::decode(&bytes);
    }
}

struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(Engine::open(dir.path(), EngineConfig::default()).expect("engine"));
    let gateway = Gateway::new(
        engine,
        GatewayConfig {
            keys: Arc::new(KeyRing::new(keys())),
            firewall: Firewall::default(),
            aad: None,
            max_concurrent_requests: 64,
            region: "Test".into(),
            public_endpoint: None,
            regions_from_store: false,
            rate_limit: false,
            metrics: None,
            readiness: Default::default(),
            telemetry: Default::default(),
            metrics_key: None,
            trace_hooks: None,
        },
    );
    let router = gateway
        .router("https")
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // A database and a container for requests to land in.
    let seed = [
        ("POST", "/dbs", r#"{"id":"db"}"#),
        (
            "POST",
            "/dbs/db/colls",
            r#"{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}"#,
        ),
    ];
    for (method, path, body) in seed {
        let request = signed(method, path, &[], body.as_bytes().to_vec()).expect("seed request");
        let status = runtime
            .block_on(router.clone().oneshot(request))
            .expect("seed")
            .status();
        assert!(status.is_success(), "seeding {path}: {status}");
    }
    Server {
        runtime,
        router,
        _dir: dir,
    }
}

/// A request signed as the SDKs sign it, for whatever the path parses as.
fn signed(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Option<Request<Body>> {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let (kind, link) = Address::parse(path)
        .map(|a| (a.resource_type(), a.resource_link()))
        .unwrap_or(("", String::new()));
    let sig = MasterKey::from_base64(KEY)
        .expect("key")
        .sign(&auth::string_to_sign(method, kind, &link, &date));
    let token = format!("type=master&ver=1.0&sig={sig}");
    let token = percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", token)
        .header("x-ms-date", date)
        .header("x-ms-version", "2020-07-15");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Body::from(body)).ok()
}

thread_local! {
    static SERVER: Server = server();
}

proptest! {
    #[test]
    fn signed_requests_with_hostile_parts_never_get_a_5xx(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE"), Just("HEAD")],
        path in path(),
        headers in prop::collection::vec(header(), 0..4),
        body in body(),
    ) {
        let Some(request) = signed(method, &path, &headers, body) else {
            return Ok(());
        };
        let status = SERVER
            .with(|s| s.runtime.block_on(s.router.clone().oneshot(request)))
            .expect("infallible")
            .status();
        prop_assert!(!status.is_server_error(), "{method} {path} {headers:?} -> {status}");
    }
}
