//! Connections to the endpoint on hyper's connection API: one HTTP/1.1
//! connection per client, or one HTTP/2 connection every client shares.
//!
//! A pooled client (reqwest) parses every request's URL again in several
//! layers and looks up its pool; on a machine the load generator shares with
//! the server, that cost came out of the server's share of the CPU. Here a
//! client owns its connection outright, so a request is a header map and a
//! write.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use crate::client::Protocol;

/// Where and how to connect: parsed once from the endpoint URL.
pub struct Target {
    host: String,
    port: u16,
    /// `host[:port]` as the endpoint spells it: the `Host` header and the
    /// HTTP/2 authority.
    pub authority: String,
    /// Prepended to each request's path: the endpoint's own path for
    /// HTTP/1.1, the whole `scheme://authority/path` for HTTP/2, which
    /// sends scheme and authority as pseudo-headers.
    pub prefix: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    pub protocol: Protocol,
    /// The one HTTP/2 connection, made by whichever client asks first, and
    /// made again by the first to ask after it closed.
    shared: Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl Target {
    pub fn parse(endpoint: &str, protocol: Protocol) -> Result<Self, String> {
        let uri: Uri = endpoint.parse().map_err(|e| format!("{endpoint}: {e}"))?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("{endpoint}: the scheme must be http or https")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{endpoint}: no host"))?;
        let host = authority.host().trim_matches(['[', ']']).to_string();
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        let base_path = uri.path().trim_end_matches('/');
        let prefix = match protocol {
            Protocol::Http1 => base_path.to_string(),
            Protocol::Http2 => format!(
                "{}://{}{base_path}",
                if secure { "https" } else { "http" },
                authority
            ),
        };
        let tls = if secure {
            let name =
                ServerName::try_from(host.clone()).map_err(|e| format!("{endpoint}: {e}"))?;
            Some((tls_connector(protocol)?, name))
        } else {
            None
        };
        Ok(Self {
            authority: authority.to_string(),
            host,
            port,
            prefix,
            tls,
            protocol,
            shared: Mutex::new(None),
        })
    }
}

/// A client's way to send: its own HTTP/1.1 connection or a handle on the
/// shared HTTP/2 one.
pub enum Connection {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Connection {
    pub async fn open(target: &Target) -> Result<Self, String> {
        match target.protocol {
            Protocol::Http1 => match dial(target).await? {
                Stream::Plain(tcp) => http1_handshake(tcp).await,
                Stream::Tls(tls) => http1_handshake(*tls).await,
            },
            Protocol::Http2 => {
                let mut shared = target.shared.lock().await;
                if let Some(sender) = shared.as_ref().filter(|s| !s.is_closed()) {
                    return Ok(Self::Http2(sender.clone()));
                }
                let sender = match dial(target).await? {
                    Stream::Plain(tcp) => http2_handshake(tcp).await?,
                    Stream::Tls(tls) => http2_handshake(*tls).await?,
                };
                *shared = Some(sender.clone());
                Ok(Self::Http2(sender))
            }
        }
    }

    /// Waits until the connection can take a request; an error means it
    /// closed (a server may close it after any answer, with `connection:
    /// close`), and nothing was sent on it.
    pub async fn ready(&mut self) -> Result<(), String> {
        match self {
            Self::Http1(sender) => sender.ready().await,
            Self::Http2(sender) => sender.ready().await,
        }
        .map_err(|e| e.to_string())
    }

    /// Sends a request on a connection found [`ready`](Self::ready) and
    /// reads the whole reply (a client that drops the body would measure
    /// less than the server did).
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<StatusCode, String> {
        let response = match self {
            Self::Http1(sender) => sender.send_request(request).await,
            Self::Http2(sender) => sender.send_request(request).await,
        };
        read_whole(response.map_err(|e| e.to_string())?).await
    }
}

async fn read_whole(response: Response<hyper::body::Incoming>) -> Result<StatusCode, String> {
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn dial(target: &Target) -> Result<Stream, String> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connecting to {}: {e}", target.authority))?;
    // Requests are small and answered one at a time: Nagle would hold them.
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    match &target.tls {
        None => Ok(Stream::Plain(tcp)),
        Some((connector, name)) => connector
            .connect(name.clone(), tcp)
            .await
            .map(|tls| Stream::Tls(Box::new(tls)))
            .map_err(|e| format!("TLS with {}: {e}", target.authority)),
    }
}

async fn http1_handshake<S>(stream: S) -> Result<Connection, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // The connection's own task ends when the client drops its sender.
    tokio::spawn(connection);
    Ok(Connection::Http1(sender))
}

async fn http2_handshake<S>(stream: S) -> Result<http2::SendRequest<Full<Bytes>>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

fn tls_connector(protocol: Protocol) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![match protocol {
        Protocol::Http1 => b"http/1.1".to_vec(),
        Protocol::Http2 => b"h2".to_vec(),
    }];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Local emulators serve self-signed certificates, so the load generator
/// takes any certificate (it still checks the handshake's signatures).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
