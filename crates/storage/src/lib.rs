//! Storage for Cosmonaut.
//!
//! The engine sees storage as one ordered key-value space with atomic, durable
//! transactions. This crate provides:
//!
//! - [`Backend`]: the small trait a storage engine implements (snapshot reads,
//!   atomic batch commits applied and then synced). [`RedbBackend`] is the
//!   embedded default: commits go to a write-ahead log (`wal`) and a
//!   memtable (`memtable`), which is flushed into a redb B-tree in the background.
//! - [`Store`]: the front the engine uses. Reads go straight to a backend
//!   snapshot; writes are closures queued to a single writer thread that runs
//!   many of them as one commit (group commit) and goes on to the next group
//!   while a second thread syncs the log, acknowledging each closure only
//!   after its commit is durable.
//! - [`CommitPosition`] and [`CommitObserver`]: every commit is numbered and
//!   timed, and can be observed in order (continuous backup builds on this).

mod backend;
pub mod codec;
mod commit_log;
mod error;
pub mod memtable;
pub mod merge;
mod redb_backend;
mod store;
mod txn;
mod wal;

pub use backend::{Backend, BackendStatus, ConnectionStatus, KeyValue, KvRead, Snapshot, Write};
pub use commit_log::{
    Commit, CommitObserver, CommitPosition, DATA_END, DATA_START, RESERVED_PREFIX,
};
pub use error::StorageError;
pub use redb_backend::{OpenOptions, RedbBackend};
pub use store::{Store, StoreStats};
pub use txn::{Savepoint, Txn};

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
