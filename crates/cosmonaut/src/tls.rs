//! The server's TLS identity: a self-signed leaf certificate made on first
//! start and kept in the data dir, so clients can trust it once.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::files::{self, Access};

pub(crate) const CERT_FILE: &str = "cert.pem";
pub(crate) const KEY_FILE: &str = "key.pem";

/// Where the generated certificate's names are listed, one per line, so a
/// later start asked for more names knows to make a new certificate.
pub(crate) const NAMES_FILE: &str = "cert-names.txt";

/// The names every generated certificate covers.
const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Loads the data dir's certificate, making one first if there is none or
/// if it does not cover every name in `extra_names`.
pub fn server_config(data_dir: &Path, extra_names: &[String]) -> Result<Arc<ServerConfig>, String> {
    let cert_path = data_dir.join(CERT_FILE);
    let key_path = data_dir.join(KEY_FILE);
    let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|n| n.to_string()).collect();
    for name in extra_names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
    {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let covered = covered_names(data_dir);
    let missing: Vec<&String> = names.iter().filter(|n| !covered.contains(n)).collect();
    if !cert_path.exists() || !key_path.exists() || !missing.is_empty() {
        if cert_path.exists() {
            tracing::warn!(
                ?missing,
                "the certificate does not cover every --tls-hostname; making a new one \
                 (clients must trust it again: cosmonaut cert export)"
            );
        }
        // Keep the names the old certificate had, so no client loses its name.
        for name in covered {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        generate(&cert_path, &key_path, &names)?;
        files::replace(
            &data_dir.join(NAMES_FILE),
            names.join("\n").as_bytes(),
            Access::Public,
        )?;
    }
    config_from_files(&cert_path, &key_path)
}

/// The names the data dir's generated certificate covers: those listed
/// beside it, or the defaults for a certificate made before they were.
fn covered_names(data_dir: &Path) -> Vec<String> {
    match std::fs::read_to_string(data_dir.join(NAMES_FILE)) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => DEFAULT_NAMES.iter().map(|n| n.to_string()).collect(),
    }
}

/// A TLS set-up from a certificate chain and its private key (PEM files):
/// TLS 1.2 and 1.3 only.
pub fn config_from_files(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, String> {
    let damaged = |path: &Path, why: &dyn std::fmt::Display| {
        format!(
            "cannot read the TLS file {}: {why}. If the server made it (the data dir's cert.pem \
             and key.pem), delete both and start again to make a new certificate; clients must \
             then trust the new one (cosmonaut cert export)",
            path.display()
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| damaged(cert_path, &e))?;
    if certs.is_empty() {
        return Err(damaged(cert_path, &"it holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| damaged(key_path, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn generate(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), String> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("cannot generate a certificate: {e}"))?;
    // The key first: a certificate is never on disk without its key.
    files::replace(
        key_path,
        certified.key_pair.serialize_pem().as_bytes(),
        Access::Private,
    )?;
    files::replace(cert_path, certified.cert.pem().as_bytes(), Access::Public)?;
    tracing::info!(path = %cert_path.display(), ?names, "generated a self-signed TLS certificate");
    Ok(())
}

/// `cosmonaut cert export`: the certificate a server made in `data_dir`.
/// Refuses where there is none rather than making one no server serves.
pub fn export(data_dir: &Path, out: Option<&Path>) -> Result<(), String> {
    let path = data_dir.join(CERT_FILE);
    let pem = match std::fs::read_to_string(&path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no certificate in {}: start `cosmonaut serve --data-dir {}` once to make one, \
                 or point --data-dir at the running server's data dir",
                data_dir.display(),
                data_dir.display()
            ))
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    match out {
        Some(path) => files::replace(path, pem.as_bytes(), Access::Public),
        None => {
            outln!("{}", pem.trim_end());
            Ok(())
        }
    }
}
