//! The Cosmonaut engine: the resource model of Azure Cosmos DB for NoSQL
//! (databases, containers, items, partition key ranges) on top of
//! [`cosmonaut_storage`]. It speaks in JSON resources and typed errors; the
//! HTTP gateway turns those into the wire protocol.

mod account_files;
mod changes;
pub mod charge;
mod container_policies;
mod containers;
mod databases;
mod engine;
pub mod error;
mod feed;
mod gateways;
mod hex;
mod index;
mod indexing_policy;
mod items;
pub mod json;
mod keys;
mod offers;
pub mod partition;
pub mod patch;
mod previous_images;
mod query;
mod records;
mod resolve;
pub mod rid;
mod scripts;
pub mod ttl;
mod usage;
mod users;
pub mod validation;

pub use changes::{ChangeFeedStart, ChangePage};
pub use containers::{ContainerInfo, NewContainer};
pub use engine::{Engine, EngineConfig, ReadPoint, StorageCounters};
pub use error::{EngineError, ErrorKind, Result};
pub use feed::{FeedPage, FeedRequest};
pub use gateways::{GatewayPresence, PRESENCE_FRESH};
pub use items::{
    AtomicFailure, AtomicStep, BatchOperation, BatchOutcome, BatchStep, ItemKey, ItemOutcome,
    ItemPage, ItemScope, StoredItem, WriteMode,
};
pub use offers::Throughput;
pub use query::{IndexUse, QueryMetrics};
pub use resolve::is_database_rid;
pub use scripts::{ScriptKind, ScriptResult, Triggers, WriteOptions};
pub use usage::ContainerUsage;
