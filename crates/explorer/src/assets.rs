//! The explorer's files, embedded from `web/` at build time. (Debug builds
//! read them from `web/` at run time, so the page can be worked on without
//! rebuilding the server.)

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::response::{IntoResponse, Redirect};
use rust_embed::RustEmbed;

use crate::{Explorer, PREFIX};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

pub(crate) async fn redirect_to_index() -> Redirect {
    Redirect::permanent(&format!("{PREFIX}/index.html"))
}

pub(crate) async fn index(
    State(explorer): State<Explorer>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    serve(&explorer, client, &headers, "index.html")
}

pub(crate) async fn file(
    State(explorer): State<Explorer>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    serve(&explorer, client, &headers, &path)
}

fn serve(
    explorer: &Explorer,
    client: SocketAddr,
    headers: &HeaderMap,
    path: &str,
) -> Response<Body> {
    if let Err(err) = explorer.gateway.admit(client.ip()) {
        return cosmonaut_gateway::pages::error_response(err);
    }
    let Some(file) = Files::get(path) else {
        return (StatusCode::NOT_FOUND, "No such file in the Data Explorer.").into_response();
    };
    // Files change only with the binary; the hash tells a browser whether
    // its copy is still current without sending the file again.
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The page runs only its own scripts and talks only to this server.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
