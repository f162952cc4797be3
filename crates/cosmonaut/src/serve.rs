//! `cosmonaut serve`: open the store, listen, and shut down cleanly.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use cosmonaut_engine::{Engine, EngineConfig};
use cosmonaut_explorer::Explorer;
use cosmonaut_gateway::auth::KeyRing;
use cosmonaut_gateway::firewall::{Firewall, IpRange};
use cosmonaut_gateway::health::{Readiness, ReadinessCheck};
use cosmonaut_gateway::{Gateway, GatewayConfig};
use cosmonaut_storage::{Backend, OpenOptions, RedbBackend, Store};
use cosmonaut_storage_fjall::FjallBackend;

use crate::backup::{self, BackupArgs};
use crate::observe::ObserveArgs;
use crate::{keys, observe, shared_files, tls};

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
    /// Set the account's primary key (base64). Keys live in the data dir's
    /// keys.json; on first start the primary is the emulator's well-known key
    /// unless this is given, and the other three keys are random.
    #[arg(long, env = "COSMONAUT_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Set the account's secondary key (base64).
    #[arg(long, env = "COSMONAUT_SECONDARY_KEY", hide_env_values = true)]
    secondary_key: Option<String>,
    /// Accept requests only from these addresses or CIDR ranges
    /// (comma-separated or repeated); all when absent.
    #[arg(long, env = "COSMONAUT_ALLOW_IP", value_delimiter = ',')]
    allow_ip: Vec<String>,
    /// Serve this certificate chain (PEM) instead of a self-signed one.
    #[arg(long, env = "COSMONAUT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "COSMONAUT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Another name or address the generated certificate covers, beside
    /// localhost, 127.0.0.1 and ::1 (repeat, or comma-separate): the name
    /// other containers or machines reach the server by.
    #[arg(
        long = "tls-hostname",
        env = "COSMONAUT_TLS_HOSTNAME",
        value_delimiter = ','
    )]
    tls_hostnames: Vec<String>,
    /// Physical partitions per new container (more if its throughput needs them).
    #[arg(long, env = "COSMONAUT_PARTITIONS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    partitions: u32,
    /// Region name the account reports. Gateways over one PostgreSQL store
    /// may each name their own: the account then lists every region with a
    /// live gateway, and the SDKs route and fail over between them.
    #[arg(long, env = "COSMONAUT_REGION", default_value = "South Central US")]
    region: String,
    /// The URL clients reach this server by (https://name:port/), when it is
    /// not the address they connect to; other gateways list it for this
    /// server's region. Default: the address each client used.
    #[arg(long, env = "COSMONAUT_PUBLIC_ENDPOINT")]
    public_endpoint: Option<String>,
    /// Answer 429 (with x-ms-retry-after-ms) when a container spends more
    /// request units per second than its provisioned throughput, as the service does.
    #[arg(long, env = "COSMONAUT_RATE_LIMIT")]
    rate_limit: bool,
    /// Do not serve the Data Explorer at /_explorer/.
    #[arg(long, env = "COSMONAUT_NO_EXPLORER")]
    no_explorer: bool,
    /// Skip the checksum check of the data file at start. The check reads
    /// the whole file once; skipping it starts large stores faster but
    /// trusts the file as it is.
    #[arg(long, env = "COSMONAUT_SKIP_VERIFY")]
    skip_verify: bool,
    /// Start even though the newest write-ahead log ends in a whole record
    /// that fails its checksum (the disk changed acknowledged writes, or
    /// power failed mid-write), dropping it and what follows. Without it
    /// such a store refuses to start and names the record.
    #[arg(long, env = "COSMONAUT_DISCARD_DAMAGED_LOG_TAIL")]
    discard_damaged_log_tail: bool,
    /// Memory for the data file's B-tree pages, in MiB. Under steady writes
    /// the server grows by about this much in its first half minute; less
    /// keeps it smaller at the cost of fetching pages again.
    #[arg(long, env = "COSMONAUT_CACHE_MIB", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(16..=1 << 20))]
    cache_mib: u64,
    /// The embedded store's engine: `redb` (the default: our write-ahead
    /// log and memtable over redb's B-tree) or `fjall` (an LSM tree, kept
    /// only to compare the two on the same benchmarks; no backups and none
    /// of the default's fault handling). See docs/performance.md.
    #[arg(long, env = "COSMONAUT_STORAGE_ENGINE", hide = true, default_value = "redb",
          value_parser = ["redb", "fjall"])]
    storage_engine: String,
    /// How long one query page may compute before it is refused with 408.
    #[arg(long, env = "COSMONAUT_QUERY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    query_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    #[arg(long, env = "COSMONAUT_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Requests served at once; more get 429 with x-ms-retry-after-ms.
    #[arg(long, env = "COSMONAUT_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    max_concurrent_requests: usize,
    #[command(flatten)]
    mongo: crate::mongo::MongoArgs,
    #[command(flatten)]
    observe: ObserveArgs,
    #[command(flatten)]
    store: crate::store::StoreArgs,
    #[command(flatten)]
    backup: BackupArgs,
    #[command(flatten)]
    aad: crate::aad::AadArgs,
}

/// Stack size of the threads that serve requests.
const REQUEST_THREAD_STACK_BYTES: usize = 16 * 1024 * 1024;

/// How long in-flight requests get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

pub fn run(args: ServeArgs, export_traces: bool) -> Result<(), String> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Queries are evaluated on the request threads by recursive descent
        // over trees up to the query crate's depth limit; tokio's 2 MiB
        // default leaves an unoptimized build too little room for that.
        // Stack pages are only committed when touched.
        .thread_stack_size(REQUEST_THREAD_STACK_BYTES)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(args, started, export_traces))
}

async fn serve(args: ServeArgs, started: Instant, export_traces: bool) -> Result<(), String> {
    // The ports first: a start that cannot listen leaves no file behind.
    let https = bind(SocketAddr::new(args.bind, args.port))?;
    let https_addr = https.local_addr().map_err(|e| e.to_string())?;
    let http = args
        .http_port
        .map(|p| bind(SocketAddr::new(args.bind, p)))
        .transpose()?;
    let mongo = args.mongo.bind(args.bind)?;
    std::fs::create_dir_all(&args.data_dir).map_err(|e| {
        format!(
            "cannot create the data dir {}: {e}",
            args.data_dir.display()
        )
    })?;
    // Held until the process exits: one server per data dir.
    let _lock = crate::lock::DataDirLock::take(&args.data_dir)?;
    let firewall = Firewall::new(
        args.allow_ip
            .iter()
            .map(|text| IpRange::parse(text))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--allow-ip: {e}"))?,
    );
    // With a backup location: take the writer lease, restore an empty data dir
    // (its keys, role assignments and certificate too, so they are read after).
    let backup = match &args.backup.backup {
        Some(_) if args.store.is_postgres() => {
            return Err(
                "--backup is for the embedded store; back up PostgreSQL with its own \
                        tools (see docs/operations.md)"
                    .to_string(),
            )
        }
        Some(_) if args.storage_engine == "fjall" => {
            return Err("--backup is for the default storage engine".to_string())
        }
        Some(url) => Some(backup::prepare(&args.backup, url, &args.data_dir).await?),
        None => None,
    };
    let cannot_open = |e: &dyn std::fmt::Display| {
        format!("cannot open the data dir {}: {e}", args.data_dir.display())
    };
    let backend: Arc<dyn Backend> = if args.store.is_postgres() {
        crate::store::open_postgres(&args.store).await?
    } else if args.storage_engine == "fjall" {
        let opened = FjallBackend::open(
            &args.data_dir.join(FjallBackend::DIR_NAME),
            args.cache_mib << 20,
        );
        Arc::new(opened.map_err(|e| cannot_open(&e))?)
    } else {
        let opened = RedbBackend::open_with(
            &args.data_dir.join(RedbBackend::FILE_NAME),
            OpenOptions {
                verify: !args.skip_verify,
                discard_damaged_log_tail: args.discard_damaged_log_tail,
                cache_bytes: usize::try_from(args.cache_mib << 20).unwrap_or(usize::MAX),
            },
        );
        Arc::new(opened.map_err(|e| cannot_open(&e))?)
    };
    let store = Store::with_observer(
        Arc::clone(&backend),
        backup.as_ref().map(backup::Prepared::observer),
    )
    .map_err(|e| cannot_open(&e))?;
    let engine = Arc::new(Engine::from_store(
        store,
        EngineConfig {
            partitions_per_container: args.partitions,
            query_time_limit: args.query_timeout,
        },
    ));
    let rebuilt = engine
        .upgrade_stored_data()
        .await
        .map_err(|e| format!("cannot upgrade the stored data: {e}"))?;
    if rebuilt > 0 {
        tracing::info!(
            containers = rebuilt,
            "rebuilt indexes written by an older version"
        );
    }
    // Gateways sharing a PostgreSQL store share the account's files too.
    let shared = args.store.is_postgres();
    let shared_keys = if shared {
        shared_files::adopt(&engine, &args.data_dir, keys::FILE)?
    } else {
        None
    };
    let mut account = keys::load_or_create(
        &args.data_dir,
        args.key.as_deref(),
        args.secondary_key.as_deref(),
    )?;
    if shared && shared_files::publish(&engine, &args.data_dir, keys::FILE, shared_keys).await? {
        account = keys::load_or_create(&args.data_dir, None, None)?;
    }
    if shared {
        let roles = shared_files::adopt(&engine, &args.data_dir, crate::aad::RBAC_FILE)?;
        shared_files::publish(&engine, &args.data_dir, crate::aad::RBAC_FILE, roles).await?;
    }
    let primary_key = keys::primary(&account);
    let key_ring = Arc::new(KeyRing::new(account));
    let storage = Arc::downgrade(&engine);
    let mut checks: Vec<(&'static str, ReadinessCheck)> = vec![(
        "storage",
        Arc::new(move || match storage.upgrade() {
            Some(engine) => engine.storage_status().degraded.map_or(Ok(()), Err),
            None => Err("the store is closed".to_string()),
        }),
    )];
    if let Some(prepared) = &backup {
        let stats = Arc::clone(&prepared.stats);
        checks.push((
            "backup",
            Arc::new(move || {
                if stats.lease_lost.load(std::sync::atomic::Ordering::Relaxed) {
                    Err("the backup writer lease was lost to another server".to_string())
                } else {
                    Ok(())
                }
            }),
        ));
    }
    let readiness = Arc::new(Readiness::new(checks));
    let exporter = observe::install_metrics()?;
    let backup_stats = backup.as_ref().map(|b| Arc::clone(&b.stats));
    let backup_status = backup.as_ref().map(backup::Prepared::status);
    let metrics: Arc<dyn Fn() -> String + Send + Sync> = Arc::new(move || {
        let mut text = exporter();
        if let Some(stats) = &backup_stats {
            text.push_str(&stats.render());
        }
        text
    });
    let backup_service = match backup {
        Some(prepared) => Some(prepared.start(Arc::clone(&backend)).await?),
        None => None,
    };
    let (aad, dev_issuer) = crate::aad::settings(&args.aad, &args.data_dir).await?;
    let gateway = Gateway::new(
        Arc::clone(&engine),
        GatewayConfig {
            keys: Arc::clone(&key_ring),
            firewall: firewall.clone(),
            aad,
            max_concurrent_requests: args.max_concurrent_requests,
            region: args.region.clone(),
            public_endpoint: args.public_endpoint.clone(),
            regions_from_store: shared,
            rate_limit: args.rate_limit,
            metrics: Some(metrics),
            readiness: Arc::clone(&readiness),
            telemetry: args.observe.telemetry(),
            metrics_key: args.observe.metrics_key.clone(),
            trace_hooks: export_traces.then(crate::traces::hooks),
        },
    );

    let tls_config = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => tls::config_from_files(cert, key)?,
        _ => tls::server_config(&args.data_dir, &args.tls_hostnames)?,
    };
    let handle = Handle::new();
    let mut servers = tokio::task::JoinSet::new();
    let acceptor = crate::connections::LimitedAcceptor::new(args.max_connections);
    let limited = acceptor.clone();
    let mut https_server =
        axum_server::from_tcp_rustls(https, RustlsConfig::from_config(Arc::clone(&tls_config)))
            .map(|tls| tls.acceptor(limited));
    limit_http(https_server.http_builder());
    let explorer = (!args.no_explorer).then(|| Explorer {
        gateway: gateway.clone(),
        keys: Arc::clone(&key_ring),
        status: server_status(&engine, backup_status, &args),
    });
    let router = |scheme| {
        let mut router = gateway.router(scheme);
        if let Some(issuer) = &dev_issuer {
            router = router.merge(crate::dev_issuer::router(Arc::clone(issuer)));
        }
        if let Some(explorer) = &explorer {
            router = router.merge(explorer.clone().router());
        }
        router
    };
    let https_server = https_server
        .handle(handle.clone())
        .serve(router("https").into_make_service_with_connect_info::<SocketAddr>());
    servers.spawn(https_server);
    let mut endpoints = vec![format!("https://{}/", display_host(https_addr))];
    if let Some(listener) = http {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        endpoints.push(format!("http://{}/", display_host(addr)));
        let mut server = axum_server::from_tcp(listener).acceptor(acceptor.clone());
        limit_http(server.http_builder());
        let server = server
            .handle(handle.clone())
            .serve(router("http").into_make_service_with_connect_info::<SocketAddr>());
        servers.spawn(server);
    }

    let mut mongo_tasks = tokio::task::JoinSet::new();
    let mongo_banner = mongo.start(
        crate::mongo::MongoContext {
            engine: Arc::clone(&engine),
            keys: Arc::clone(&key_ring),
            firewall,
            tls: Arc::clone(&tls_config),
            max_connections: args.max_connections,
        },
        &primary_key,
        &mut mongo_tasks,
    )?;

    tokio::spawn(shutdown_on_signal(handle, readiness)?);
    announce(
        started,
        &endpoints,
        &primary_key,
        explorer.is_some(),
        &mongo_banner,
    );
    if let Some(issuer) = &dev_issuer {
        // Plain HTTP when there is a listener for it: Azure's identity
        // clients then need not trust the server's certificate.
        let base = endpoints
            .last()
            .map_or("", String::as_str)
            .trim_end_matches('/');
        say(&format!(
            "  Entra ID dev issuer: for DefaultAzureCredential, set\n    \
             IDENTITY_ENDPOINT={base}{} IDENTITY_HEADER={}",
            crate::dev_issuer::TOKEN_PATH,
            issuer.identity_header
        ));
    }

    tokio::spawn(keys::watch(
        args.data_dir.clone(),
        Arc::downgrade(&key_ring),
    ));
    let presence = shared.then(|| Presence {
        instance: uuid::Uuid::new_v4().to_string(),
        region: args.region.clone(),
        endpoint: args
            .public_endpoint
            .clone()
            .unwrap_or_else(|| endpoints[0].clone()),
    });
    tokio::spawn(purge_expired_items(
        Arc::downgrade(&engine),
        presence.as_ref().map(|p| p.instance.clone()),
    ));
    if let Some(presence) = &presence {
        for name in [keys::FILE, crate::aad::RBAC_FILE] {
            let dir = args.data_dir.clone();
            tokio::spawn(shared_files::mirror(Arc::downgrade(&engine), dir, name));
        }
        tokio::spawn(presence.clone().keep_fresh(Arc::downgrade(&engine)));
    }
    while let Some(result) = servers.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("a listener failed: {e}")),
            Err(e) => return Err(format!("a listener task failed: {e}")),
        }
    }
    // MongoDB connections end with the HTTP listeners, before the store closes.
    mongo_tasks.shutdown().await;
    if let Some(presence) = presence {
        // The other gateways stop listing this one's region at once.
        if let Err(err) = engine.withdraw_gateway(&presence.instance).await {
            tracing::warn!(%err, "cannot withdraw this gateway's region");
        }
    }
    drop(gateway);
    // The last handle closes the store: queued writes are committed first.
    drop(engine);
    if let Some(service) = backup_service {
        // Ships every commit the store made, then releases the lease.
        service.shutdown().await;
        say("Backup up to date");
    }
    say("Cosmonaut stopped");
    Ok(())
}

/// Removes expired items every second, for as long as the engine is open.
/// Gateways sharing a store leave it
/// to one of them (the live one with the lowest instance id), so the purge
/// does not take the store's write lock once a second per gateway.
async fn purge_expired_items(engine: std::sync::Weak<Engine>, me: Option<String>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if let Some(me) = &me {
            let fresh = cosmonaut_engine::PRESENCE_FRESH;
            let first = engine
                .live_gateways(fresh)
                .ok()
                .and_then(|live| live.into_iter().map(|g| g.instance).min());
            if first.is_some_and(|first| first != *me) {
                continue;
            }
        }
        match engine.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired items removed"),
            Err(err) => tracing::warn!(%err, "purging expired items failed"),
        }
    }
}

/// Bounds what one connection can make the server hold: 100 headers of at
/// most 64 KiB in all, sent within 10 seconds (a client that trickles its
/// headers is cut off), and 100 concurrent HTTP/2 streams.
fn limit_http(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_headers(100)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .max_concurrent_streams(100);
}

/// This gateway as the others list it.
#[derive(Clone)]
struct Presence {
    instance: String,
    region: String,
    endpoint: String,
}

impl Presence {
    /// Announces this gateway every two seconds, well within the time after
    /// which the others stop listing it, for as long as the engine lives.
    async fn keep_fresh(self, engine: std::sync::Weak<Engine>) {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let announced = engine
                .announce_gateway(&self.instance, &self.region, &self.endpoint)
                .await;
            if let Err(err) = announced {
                tracing::warn!(%err, "cannot announce this gateway's region");
            }
        }
    }
}

pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(listener)
}

/// Loopback and wildcard addresses are printed as `localhost`, the name the
/// certificate and the SDKs' emulator detection expect.
pub(crate) fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Listens for SIGTERM and SIGINT (Ctrl-C). The listeners are installed
/// when this is called, before the ready line is printed, so a signal sent
/// right after it still shuts down gracefully.
fn shutdown_on_signal(
    handle: Handle,
    readiness: Arc<Readiness>,
) -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        (
            listen(SignalKind::terminate())?,
            listen(SignalKind::interrupt())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = signals;
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
        readiness.drain();
        handle.graceful_shutdown(Some(GRACE));
    })
}

/// Prints the ready banner: the endpoints and their connection strings.
fn announce(
    started: Instant,
    endpoints: &[String],
    primary_key: &str,
    explorer: bool,
    mongo: &[String],
) {
    let mut banner = format!("Cosmonaut ready in {} ms\n", started.elapsed().as_millis());
    for endpoint in endpoints {
        banner.push_str(&format!("  listening on {endpoint}\n"));
        banner.push_str(&format!(
            "  AccountEndpoint={endpoint};AccountKey={primary_key};\n"
        ));
    }
    for line in mongo {
        banner.push_str(line);
        banner.push('\n');
    }
    if let (true, Some(endpoint)) = (explorer, endpoints.first()) {
        banner.push_str(&format!(
            "  Data Explorer: {endpoint}{}/index.html\n",
            cosmonaut_explorer::PREFIX.trim_start_matches('/')
        ));
    }
    say(banner.trim_end());
}

/// Prints a line of the server's own output. A failed write (stdout closed
/// by whoever started the server, once it had read the line it waited for)
/// is ignored: `println!` would panic there and take the server down.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The server's state as the Data Explorer's account page shows it.
fn server_status(
    engine: &Arc<Engine>,
    backup: Option<Arc<dyn Fn() -> serde_json::Value + Send + Sync>>,
    args: &ServeArgs,
) -> cosmonaut_explorer::ServerStatus {
    let engine = Arc::downgrade(engine);
    let region = args.region.clone();
    let partitions = args.partitions;
    Arc::new(move || {
        let storage = engine.upgrade().map(|engine| {
            let status = engine.storage_status();
            serde_json::json!({
                "dataFileBytes": status.data_file_bytes,
                "logBytes": status.log_bytes,
                "memtableBytes": status.memtable_bytes,
                "flushes": status.flushes,
                "flushFailures": status.flush_failures,
                "degraded": status.degraded,
            })
        });
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "region": region,
            "partitionsPerContainer": partitions,
            "storage": storage,
            "backup": backup.as_ref().map(|status| status()),
        })
    })
}
