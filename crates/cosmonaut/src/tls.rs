//! The server's TLS identity: a self-signed leaf certificate made on first
//! start and kept in the data dir, so clients can trust it once.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// Loads the data dir's certificate, making one first if there is none.
pub fn server_config(data_dir: &Path) -> Result<Arc<ServerConfig>, String> {
    let cert_path = data_dir.join(CERT_FILE);
    let key_path = data_dir.join(KEY_FILE);
    if !cert_path.exists() || !key_path.exists() {
        generate(&cert_path, &key_path)?;
    }
    config_from_files(&cert_path, &key_path)
}

/// A TLS set-up from a certificate chain and its private key (PEM files):
/// TLS 1.2 and 1.3 only.
pub fn config_from_files(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| format!("cannot read {}: {e}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("cannot read {}: {e}", key_path.display()))?;
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

fn generate(cert_path: &Path, key_path: &Path) -> Result<(), String> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a certificate: {e}"))?;
    std::fs::write(cert_path, certified.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    write_private(key_path, certified.key_pair.serialize_pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    tracing::info!(path = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}

/// Replaces a secret file whole: written readable by its owner only under a
/// temporary name, then renamed, so a reader never sees half a file.
pub(crate) fn replace_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let partial = path.with_extension("new");
    write_private(&partial, contents)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// `cosmonaut cert export`.
pub fn export(data_dir: &Path, out: Option<&Path>) -> Result<(), String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    server_config(data_dir)?;
    let pem = std::fs::read_to_string(data_dir.join(CERT_FILE)).map_err(|e| e.to_string())?;
    match out {
        Some(path) => {
            std::fs::write(path, pem).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            print!("{pem}");
            Ok(())
        }
    }
}
