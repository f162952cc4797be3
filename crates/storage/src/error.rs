use thiserror::Error;

/// A failure of the storage layer. Callers treat every variant as a server
/// error: nothing a client sent can cause one.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error(
        "the data file {path} is damaged ({reason}); restore it from a backup \
         (cosmonaut restore) or move it away"
    )]
    Corrupt { path: String, reason: String },
    /// The store cannot serve this now but recovers by itself (a full disk
    /// behind a failing flush, the data file being reopened): retry later.
    #[error("{0}")]
    Unavailable(String),
    #[error("the storage writer has stopped")]
    WriterStopped,
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    pub(crate) fn backend(err: impl std::fmt::Display) -> Self {
        StorageError::Backend(err.to_string())
    }

    /// The same failure for another caller (one commit's error goes to
    /// every closure in it), keeping whether it is worth a retry.
    pub fn shared(&self) -> Self {
        match self {
            StorageError::Unavailable(why) => StorageError::Unavailable(why.clone()),
            StorageError::WriterStopped => StorageError::WriterStopped,
            StorageError::Io(err) => {
                StorageError::Io(std::io::Error::new(err.kind(), err.to_string()))
            }
            other => StorageError::Backend(other.to_string()),
        }
    }
}
