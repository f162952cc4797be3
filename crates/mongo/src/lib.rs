//! The MongoDB wire protocol front end of Cosmonaut, as Azure Cosmos DB for
//! MongoDB serves it: drivers connect with a `mongodb://` connection string,
//! authenticate with SCRAM using an account key, and their commands run on
//! the same engine (and so the same storage and backups) as the NoSQL API.
//!
//! Layout: [`wire`] frames messages, [`connection`] runs one client's
//! conversation, [`commands`] has one module per group of commands and
//! [`sessions`] keeps what a session carries between them (its
//! transaction, its latest retryable write); below
//! them [`filter`], [`update`], [`projection`], [`aggregate`] and [`expr`]
//! implement MongoDB's query language over BSON documents, and
//! [`collections`] maps databases, collections and documents onto the
//! engine (with [`stored`] for the document encoding).

pub mod aggregate;
mod changes;
pub mod collections;
mod commands;
pub mod compare;
mod connection;
mod cursors;
pub mod error;
pub mod expr;
pub mod filter;
pub mod indexes;
pub mod path;
pub mod projection;
pub mod scram;
mod sessions;
pub mod stored;
pub mod update;
pub mod wire;

use std::net::IpAddr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use cosmonaut_engine::Engine;

pub use error::MongoError;
pub use scram::Credential;

/// The wire version of MongoDB 6.0, the server version reported.
pub const MAX_WIRE_VERSION: i32 = 17;
pub const SERVER_VERSION: &str = "6.0.0";
/// The replica set name Azure Cosmos DB for MongoDB reports.
pub const REPLICA_SET: &str = "globaldb";

/// Commands run, by command and outcome (`ok` or the error's code name).
pub const COMMANDS_TOTAL: &str = "cosmonaut_mongo_commands_total";
/// Time from a command's arrival to its reply.
pub const COMMAND_SECONDS: &str = "cosmonaut_mongo_command_duration_seconds";
/// Request units charged per command.
pub const COMMAND_UNITS: &str = "cosmonaut_mongo_request_units";

/// What the front end needs from the server around it.
#[derive(Clone)]
pub struct MongoConfig {
    /// The account keys in force (read on every authentication, so rotated
    /// keys apply at once).
    pub credentials: Arc<dyn Fn() -> Vec<Credential> + Send + Sync>,
    /// The IP firewall: whether a client address may connect.
    pub admit: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    /// `host:port` as clients reach this server, reported in `hello` as the
    /// replica set's one member.
    pub advertised_host: String,
    /// The largest message accepted, in bytes.
    pub max_message_bytes: usize,
}

/// One MongoDB endpoint over one engine; serves any number of connections.
pub struct MongoServer {
    collections: collections::Collections,
    config: MongoConfig,
    cursors: cursors::Cursors,
    sessions: sessions::Sessions,
    /// The memory a sort or grouping may take when a command refuses disk
    /// use (`internalQueryMaxBlockingSortMemoryUsageBytes`, 100 MiB).
    blocking_limit: std::sync::atomic::AtomicUsize,
    next_connection: AtomicI64,
}

impl MongoServer {
    pub fn new(engine: Arc<Engine>, config: MongoConfig) -> Arc<Self> {
        Arc::new(Self {
            collections: collections::Collections::new(engine),
            config,
            cursors: cursors::Cursors::default(),
            sessions: sessions::Sessions::default(),
            blocking_limit: std::sync::atomic::AtomicUsize::new(100 * 1024 * 1024),
            next_connection: AtomicI64::new(1),
        })
    }
}
