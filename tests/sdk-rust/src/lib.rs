//! The official Rust SDK (azure_data_cosmos) against a running Cosmonaut.
//! The tests live in `tests/`; scripts/test.sh starts the server and sets
//! COSMONAUT_ENDPOINT, COSMONAUT_KEY and COSMONAUT_PARTITIONS.

use azure_data_cosmos::options::{ConnectionPoolOptions, ServerCertificateValidation};
use azure_data_cosmos::{AccountReference, CosmosClient, CosmosRuntime, RoutingStrategy};

/// The emulator's well-known key, which the server uses unless told otherwise.
const WELL_KNOWN_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/// Clients made so far, to take turns over several servers.
static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The server the next client talks to: with several serving one account
/// (gateways over one PostgreSQL), COSMONAUT_ENDPOINTS lists them and
/// clients take turns.
fn next_endpoint() -> String {
    let single =
        std::env::var("COSMONAUT_ENDPOINT").unwrap_or_else(|_| "https://localhost:8081/".into());
    let all = std::env::var("COSMONAUT_ENDPOINTS").unwrap_or(single);
    let endpoints: Vec<&str> = all.split(',').filter(|e| !e.is_empty()).collect();
    let turn = TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    endpoints
        .get(turn % endpoints.len().max(1))
        .map_or_else(|| "https://localhost:8081/".to_string(), |e| e.to_string())
}

/// A client for the server under test, accepting its self-signed certificate.
pub async fn client() -> Result<CosmosClient, Box<dyn std::error::Error>> {
    let endpoint = next_endpoint();
    let key = std::env::var("COSMONAUT_KEY").unwrap_or_else(|_| WELL_KNOWN_KEY.into());
    let pool = ConnectionPoolOptions::builder()
        .with_server_certificate_validation(ServerCertificateValidation::RequiredUnlessEmulator)
        .build()?;
    let runtime = CosmosRuntime::builder()
        .with_connection_pool(pool)
        .build()
        .await?;
    let account = AccountReference::with_authentication_key(
        endpoint.parse()?,
        azure_core::credentials::Secret::from(key),
    );
    Ok(CosmosClient::builder()
        .with_runtime(runtime)
        .build(
            account,
            RoutingStrategy::ProximityTo("South Central US".into()),
        )
        .await?)
}

/// The physical partitions the server was started with.
pub fn partitions() -> usize {
    std::env::var("COSMONAUT_PARTITIONS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
