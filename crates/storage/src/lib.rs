//! Storage for Cosmonaut.
//!
//! The engine sees storage as one ordered key-value space with atomic, durable
//! transactions. This crate provides:
//!
//! - [`Backend`]: the small trait a storage engine implements (snapshot reads,
//!   atomic batch commits). [`RedbBackend`] is the embedded default: a redb
//!   B-tree made durable through a write-ahead log (`wal`) and checkpoints.
//! - [`Store`]: the front the engine uses. Reads go straight to a backend
//!   snapshot; writes are closures queued to a single writer thread that runs
//!   many of them against one backend transaction and commits them with one
//!   fsync (group commit), acknowledging each only after the commit is durable.
//! - [`CommitPosition`] and [`CommitObserver`]: every commit is numbered and
//!   timed, and can be observed in order (continuous backup builds on this).

mod backend;
pub mod codec;
mod commit_log;
mod error;
mod redb_backend;
mod store;
mod txn;
mod wal;

pub use backend::{Backend, KeyValue, KvRead, Snapshot, Write};
pub use commit_log::{
    Commit, CommitObserver, CommitPosition, DATA_END, DATA_START, RESERVED_PREFIX,
};
pub use error::StorageError;
pub use redb_backend::RedbBackend;
pub use store::{Store, StoreStats};
pub use txn::{Savepoint, Txn};

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
