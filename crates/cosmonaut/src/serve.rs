//! `cosmonaut serve`: open the store, listen, and shut down cleanly.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use cosmonaut_engine::{Engine, EngineConfig};
use cosmonaut_gateway::auth::MasterKey;
use cosmonaut_gateway::{Gateway, GatewayConfig};

use crate::{tls, WELL_KNOWN_KEY};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where the database and the TLS certificate live.
    #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address to listen on; 0.0.0.0 to accept other machines.
    #[arg(long, env = "COSMONAUT_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// HTTPS port (0 picks a free one).
    #[arg(long, env = "COSMONAUT_PORT", default_value_t = 8081)]
    port: u16,
    /// Also serve plain HTTP on this port. Off unless asked for.
    #[arg(long, env = "COSMONAUT_HTTP_PORT")]
    http_port: Option<u16>,
    /// The account's primary key (base64).
    #[arg(long, env = "COSMONAUT_KEY", default_value = WELL_KNOWN_KEY, hide_env_values = true, hide_default_value = true)]
    key: String,
    /// An optional secondary key, also accepted.
    #[arg(long, env = "COSMONAUT_SECONDARY_KEY", hide_env_values = true)]
    secondary_key: Option<String>,
    /// Physical partitions per new container (more if its throughput needs them).
    #[arg(long, env = "COSMONAUT_PARTITIONS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    partitions: u32,
    /// Region name the account reports.
    #[arg(long, env = "COSMONAUT_REGION", default_value = "South Central US")]
    region: String,
    /// Answer 429 (with x-ms-retry-after-ms) when a container spends more
    /// request units per second than its provisioned throughput, as the service does.
    #[arg(long, env = "COSMONAUT_RATE_LIMIT")]
    rate_limit: bool,
}

/// How long in-flight requests get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

pub fn run(args: ServeArgs) -> Result<(), String> {
    let started = Instant::now();
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(args, started))
}

async fn serve(args: ServeArgs, started: Instant) -> Result<(), String> {
    let mut keys = vec![MasterKey::from_base64(&args.key)?];
    if let Some(secondary) = &args.secondary_key {
        keys.push(MasterKey::from_base64(secondary)?);
    }
    let engine = Engine::open(
        &args.data_dir,
        EngineConfig {
            partitions_per_container: args.partitions,
        },
    )
    .map_err(|e| format!("cannot open the data dir {}: {e}", args.data_dir.display()))?;
    let engine = Arc::new(engine);
    let gateway = Gateway::new(
        Arc::clone(&engine),
        GatewayConfig {
            keys,
            region: args.region.clone(),
            rate_limit: args.rate_limit,
        },
    );

    let tls_config = tls::server_config(&args.data_dir)?;
    let https = bind(SocketAddr::new(args.bind, args.port))?;
    let https_addr = https.local_addr().map_err(|e| e.to_string())?;
    let http = args
        .http_port
        .map(|p| bind(SocketAddr::new(args.bind, p)))
        .transpose()?;

    let handle = Handle::new();
    let mut servers = tokio::task::JoinSet::new();
    let https_server = axum_server::from_tcp_rustls(https, RustlsConfig::from_config(tls_config))
        .handle(handle.clone())
        .serve(gateway.router("https").into_make_service());
    servers.spawn(https_server);
    let mut endpoints = vec![format!("https://{}/", display_host(https_addr))];
    if let Some(listener) = http {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        endpoints.push(format!("http://{}/", display_host(addr)));
        let server = axum_server::from_tcp(listener)
            .handle(handle.clone())
            .serve(gateway.router("http").into_make_service());
        servers.spawn(server);
    }

    println!("Cosmonaut ready in {} ms", started.elapsed().as_millis());
    for endpoint in &endpoints {
        println!("  listening on {endpoint}");
        println!("  AccountEndpoint={endpoint};AccountKey={};", args.key);
    }

    tokio::spawn(shutdown_on_signal(handle));
    tokio::spawn(purge_expired_items(Arc::downgrade(&engine)));
    while let Some(result) = servers.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("a listener failed: {e}")),
            Err(e) => return Err(format!("a listener task failed: {e}")),
        }
    }
    drop(gateway);
    // The last handle closes the store: queued writes are committed first.
    drop(engine);
    println!("Cosmonaut stopped");
    Ok(())
}

/// Removes expired items every second, for as long as the engine is open.
async fn purge_expired_items(engine: std::sync::Weak<Engine>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        match engine.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired items removed"),
            Err(err) => tracing::warn!(%err, "purging expired items failed"),
        }
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(listener)
}

/// Loopback and wildcard addresses are printed as `localhost`, the name the
/// certificate and the SDKs' emulator detection expect.
fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

async fn shutdown_on_signal(handle: Handle) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(GRACE));
}
