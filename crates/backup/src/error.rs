use thiserror::Error;

/// Why a backup, a restore or the writer lease failed.
#[derive(Debug, Error)]
pub enum BackupError {
    #[error("backup location {url}: {source}")]
    Target {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("invalid backup location {url}: {reason}")]
    Location { url: String, reason: String },
    #[error("corrupt backup object {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error(
        "the backup location is held by another writer: {holder} (lease {epoch}, renewed {age_s} s ago, \
         expires in {expires_in_s} s). Stop that instance, wait for its lease to expire, or start this \
         one without --backup."
    )]
    LeaseHeld {
        holder: String,
        epoch: u64,
        age_s: u64,
        expires_in_s: u64,
    },
    #[error("lease {epoch} was taken over by {holder}; this instance no longer writes backups")]
    LeaseLost { epoch: u64, holder: String },
    #[error("no backup at {0}")]
    NoBackup(String),
    #[error("no backup at {url} is as old as {time}")]
    NothingBefore { url: String, time: String },
    #[error("{0}")]
    Restore(String),
    #[error("cannot encrypt a backup object: {0}")]
    Encrypt(String),
    #[error(transparent)]
    Storage(#[from] cosmonaut_storage::StorageError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;
