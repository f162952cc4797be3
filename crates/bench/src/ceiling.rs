//! `cosmonaut-bench ceiling`: an HTTP server that does nothing, to measure
//! what the machine itself allows.
//!
//! It answers every request at once with a canned reply shaped like a point
//! read's (about 1 KB of JSON and a Cosmos-like set of headers): POST with
//! 201, DELETE with 204, anything else with 200. Driving it with `run
//! --workload read` gives the most point reads per second this machine, its
//! kernel and the load generator can carry with no database behind them:
//! the ceiling any server measured the same way sits under.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct CeilingArgs {
    /// The port to listen on (loopback only).
    #[arg(long, default_value_t = 8099)]
    port: u16,
}

pub async fn run(args: CeilingArgs) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("listening on {address}: {e}"))?;
    println!("answering every request on http://{address}/ (Ctrl-C to stop)");
    let body = Bytes::from(canned_item());
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        // As the server does: requests are small and answered one by one.
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, body.clone()));
            // A client going away ends its connection; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match *request.method() {
        Method::POST => StatusCode::CREATED,
        Method::DELETE => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    };
    let body = if status == StatusCode::NO_CONTENT {
        Bytes::new()
    } else {
        body
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", "application/json"),
        ("etag", "\"00000000-0000-0000-0000-000000000000\""),
        ("x-ms-request-charge", "1"),
        ("x-ms-session-token", "0:-1#1"),
        ("x-ms-activity-id", "00000000-0000-0000-0000-000000000000"),
        ("x-ms-schemaversion", "1.18"),
        ("x-ms-serviceversion", "version=2.14.0.0"),
        ("x-ms-gatewayversion", "2.14.0"),
        ("x-ms-item-count", "1"),
        (
            "x-ms-last-state-change-utc",
            "Wed, 02 Dec 2026 00:00:00 GMT",
        ),
        (
            "x-ms-resource-quota",
            "documentSize=10240;documentsSize=10485760;",
        ),
        ("x-ms-resource-usage", "documentSize=0;documentsSize=0;"),
    ] {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    Ok(response)
}

/// About 1 KB of JSON, like the load generator's items with their system properties.
fn canned_item() -> Vec<u8> {
    let item = serde_json::json!({
        "id": "i1",
        "pk": "p1",
        "n": 1,
        "v": 0,
        "payload": "x".repeat(900),
        "_rid": "AAAAAAAAAAABAAAAAAAAAA==",
        "_self": "dbs/AAAAAA==/colls/AAAAAAAAAAA=/docs/AAAAAAAAAAABAAAAAAAAAA==/",
        "_etag": "\"00000000-0000-0000-0000-000000000000\"",
        "_attachments": "attachments/",
        "_ts": 1_796_000_000,
    });
    item.to_string().into_bytes()
}
