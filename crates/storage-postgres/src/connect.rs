//! From a libpq-style URL to a pool of connections.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cosmonaut_storage::{Result, StorageError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// How to reach PostgreSQL, beyond what the URL says.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections each process keeps at most.
    pub pool_size: usize,
    /// Certificates to trust for TLS beside the system's (also read from
    /// the URL's `sslrootcert`).
    pub ca_file: Option<PathBuf>,
    /// How long to wait for a connection (new or free) before a request
    /// is answered 503.
    pub connect_timeout: Duration,
    /// How long one statement (or connection, or lock wait) may take before
    /// the request is answered 503.
    pub timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

/// The URL as the client understands it, and a root certificate file if it
/// named one. libpq's `sslmode=verify-ca` and `verify-full` are what TLS
/// here always does (certificates are verified against the trusted roots,
/// and the host name checked), so they read as `require`.
fn client_url(url: &str) -> (String, Option<PathBuf>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => root = Some(PathBuf::from(path)),
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require"),
            _ => kept.push(pair),
        }
    }
    if kept.is_empty() {
        (base.to_string(), root)
    } else {
        (format!("{base}?{}", kept.join("&")), root)
    }
}

fn tls_config(extra_roots: &[PathBuf]) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as libpq would.
        let _ = roots.add(cert);
    }
    for path in extra_roots {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| {
                StorageError::Backend(format!(
                    "cannot read the PostgreSQL CA certificate {}: {e}",
                    path.display()
                ))
            })?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                StorageError::Backend(format!(
                    "the PostgreSQL CA certificate {} is not usable: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::Backend(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A pool over `url`; connections are made when first needed.
pub(crate) fn pool(url: &str, options: &PostgresOptions) -> Result<Pool> {
    let (url, root) = client_url(url);
    let config = tokio_postgres::Config::from_str(&url)
        .map_err(|e| StorageError::Backend(format!("the PostgreSQL URL is not valid: {e}")))?;
    let roots: Vec<PathBuf> = options.ca_file.iter().cloned().chain(root).collect();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&roots)?);
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            // A connection handed back is checked for being closed, not
            // pinged: a broken one fails its next statement with 503, and
            // the pool replaces it.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(options.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|e| StorageError::Backend(format!("cannot set up the PostgreSQL pool: {e}")))
}

#[cfg(test)]
mod tests {
    use super::client_url;

    #[test]
    fn libpq_parameters_the_client_lacks_are_translated() {
        let (url, root) = client_url(
            "postgres://u:p@db:5432/c?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
        );
        assert_eq!(
            url,
            "postgres://u:p@db:5432/c?sslmode=require&application_name=x"
        );
        assert_eq!(root.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(client_url("postgres://db/c").0, "postgres://db/c");
        assert_eq!(
            client_url("postgres://db/c?sslrootcert=a").0,
            "postgres://db/c"
        );
    }
}
