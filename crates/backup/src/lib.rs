//! Continuous backup of a Cosmonaut store to object storage, and restore.
//!
//! A backup location (a folder, an Azure Blob container, an S3 bucket; see
//! [`Target`]) holds, per writer epoch:
//!
//! - snapshots: consistent copies of the key space taken online, stored as
//!   content-addressed chunks so that each snapshot uploads only what changed
//!   ([`snapshot`]);
//! - log segments: every commit after the snapshot, in order, shipped every
//!   interval (default one second) by the [`BackupService`] from a
//!   [`CommitBuffer`] that the storage writer fills.
//!
//! [`restore()`] rebuilds a data dir from the newest snapshot at or before a
//! point in time plus the log after it. Every object is sealed with a
//! checksum ([`seal`]), encrypted when the location has an [`EncryptionKey`],
//! and verified before use. A [`Lease`] keeps one writer per location. The
//! account's keys, role assignments and certificate go along ([`account`]).

pub mod account;
mod azure_container;
mod buffer;
mod catalog;
mod codec;
mod error;
mod layout;
mod lease;
mod restore;
mod seal;
mod service;
pub mod snapshot;
mod stats;
mod target;

pub use buffer::{CommitBuffer, DEFAULT_CAP_BYTES};
pub use catalog::{Catalog, Generation, SegmentEntry, SnapshotEntry};
pub use error::{BackupError, Result};
pub use layout::{SegmentName, SnapshotName};
pub use lease::{Claimant, Lease};
pub use restore::{restore, RestorePoint, RestoreReport};
pub use seal::EncryptionKey;
pub use service::{BackupConfig, BackupService};
pub use stats::BackupStats;
pub use target::Target;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
