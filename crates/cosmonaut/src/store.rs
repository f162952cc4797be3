//! Where the data lives: the data dir (the default) or PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cosmonaut_storage::Backend;
use cosmonaut_storage_postgres::{PostgresBackend, PostgresOptions};

#[derive(clap::Args)]
pub struct StoreArgs {
    /// Keep the data in PostgreSQL instead of the data dir: a libpq-style
    /// URL, postgres://user:password@host:5432/database?sslmode=require.
    /// Any number of servers may share one database and serve the same
    /// account; each keeps only its certificate and keys in its data dir.
    #[arg(long, env = "COSMONAUT_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Connections to PostgreSQL this server keeps at most.
    #[arg(long, env = "COSMONAUT_STORE_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub store_pool_size: u32,
    /// A CA certificate (PEM) to trust for TLS to PostgreSQL, beside the
    /// system's (the URL's sslrootcert works too).
    #[arg(long, env = "COSMONAUT_STORE_CA_FILE")]
    pub store_ca_file: Option<PathBuf>,
    /// How long a request waits for PostgreSQL (a statement, a connection,
    /// the write lock) before it is answered 503.
    #[arg(long, env = "COSMONAUT_STORE_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub store_timeout: Duration,
    /// How long to wait at start for PostgreSQL to accept connections.
    #[arg(long, env = "COSMONAUT_STORE_WAIT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub store_wait: Duration,
}

impl StoreArgs {
    pub fn is_postgres(&self) -> bool {
        self.store.is_some()
    }
}

/// Connects to the PostgreSQL store named by `--store`, waiting for it as
/// long as `--store-wait` allows.
pub async fn open_postgres(args: &StoreArgs) -> Result<Arc<dyn Backend>, String> {
    let url = args.store.clone().unwrap_or_default();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(
            "--store takes a PostgreSQL URL (postgres://user:password@host/database); \
             without it the data lives in --data-dir"
                .to_string(),
        );
    }
    let options = PostgresOptions {
        pool_size: args.store_pool_size as usize,
        ca_file: args.store_ca_file.clone(),
        timeout: args.store_timeout,
        connect_timeout: args.store_timeout.min(Duration::from_secs(5)),
    };
    let wait = args.store_wait;
    let opened =
        tokio::task::spawn_blocking(move || PostgresBackend::connect(&url, &options, wait))
            .await
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let backend = opened.map_err(|e| format!("cannot use the PostgreSQL store: {e}"))?;
    Ok(Arc::new(backend))
}
