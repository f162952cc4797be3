use cosmonaut_storage::StorageError;
use thiserror::Error;

/// What went wrong, in the service's terms. Each kind has the status the
/// service answers it with ([`ErrorKind::status_code`]): the gateway sends
/// it, and scripts see it as a failed call's `err.number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Conflict,
    PreconditionFailed,
    RequestEntityTooLarge,
    /// The addressed partition key range no longer exists; clients refresh their routing.
    Gone,
    /// Not run, or rolled back, because another operation of its transactional batch failed.
    FailedDependency,
    /// The operation ran past its time limit (a query's execution time).
    RequestTimeout,
    /// The server cannot take writes for now (its disk is full); clients
    /// retry after a while, as they do for the service's 503.
    Unavailable,
    Internal,
}

impl ErrorKind {
    /// The HTTP status the service answers this kind with.
    pub fn status_code(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTimeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::RequestEntityTooLarge => 413,
            ErrorKind::FailedDependency => 424,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }

    /// The kind a script's thrown status stands for: one a failed call can
    /// carry back to the client; any other is a bad request.
    pub fn from_script_status(status: u16) -> Self {
        match status {
            404 => ErrorKind::NotFound,
            408 => ErrorKind::RequestTimeout,
            409 => ErrorKind::Conflict,
            412 => ErrorKind::PreconditionFailed,
            413 => ErrorKind::RequestEntityTooLarge,
            _ => ErrorKind::BadRequest,
        }
    }
}

/// A refused or failed operation: its kind, the service's sub-status and a
/// message for the client.
#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct EngineError {
    pub kind: ErrorKind,
    pub substatus: u32,
    pub message: String,
}

/// Sub-status codes the SDKs react to.
pub mod substatus {
    /// The partition key in the header does not match the document or definition.
    pub const PARTITION_KEY_MISMATCH: u32 = 1001;
    /// The database or container that owns the addressed resource does not exist.
    pub const OWNER_RESOURCE_NOT_FOUND: u32 = 1003;
    /// A cross-partition query needs the client's query plan.
    pub const CROSS_PARTITION_QUERY_NOT_SERVABLE: u32 = 1004;
    /// The addressed partition key range is gone.
    pub const PARTITION_KEY_RANGE_GONE: u32 = 1002;
}

impl EngineError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            substatus: 0,
            message: message.into(),
        }
    }

    pub fn with_substatus(mut self, substatus: u32) -> Self {
        self.substatus = substatus;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found() -> Self {
        Self::new(
            ErrorKind::NotFound,
            "Entity with the specified id does not exist in the system.",
        )
    }

    /// The addressed resource's parent (database or container) is missing.
    pub fn owner_not_found(what: &str, id: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            format!("Owner resource does not exist: {what} '{id}' was not found."),
        )
        .with_substatus(substatus::OWNER_RESOURCE_NOT_FOUND)
    }

    pub fn conflict() -> Self {
        Self::new(
            ErrorKind::Conflict,
            "Entity with the specified id already exists in the system.",
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            ErrorKind::PreconditionFailed,
            "Operation cannot be performed because one of the specified precondition is not met.",
        )
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RequestEntityTooLarge, message)
    }

    pub fn partition_key_mismatch() -> Self {
        Self::bad_request(
            "PartitionKey extracted from document doesn't match the one specified in the header.",
        )
        .with_substatus(substatus::PARTITION_KEY_MISMATCH)
    }

    /// The result of a batch operation rolled back with its batch.
    pub fn failed_dependency() -> Self {
        Self::new(
            ErrorKind::FailedDependency,
            "The operation did not complete because another operation in the transactional batch failed.",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl From<StorageError> for EngineError {
    fn from(err: StorageError) -> Self {
        if is_disk_full(&err) {
            tracing::warn!(%err, "a write found the disk full");
            return EngineError::new(
                ErrorKind::Unavailable,
                "The server's disk is full, so it cannot take writes now. Reads still work, and \
                 writes resume by themselves once space is freed; retry after the time in \
                 x-ms-retry-after-ms.",
            );
        }
        if let StorageError::Unavailable(why) = &err {
            tracing::warn!(%why, "a request found the store unavailable");
            return EngineError::new(
                ErrorKind::Unavailable,
                format!("{why} Retry after the time in x-ms-retry-after-ms."),
            );
        }
        tracing::error!(%err, "storage failure");
        EngineError::internal(format!("The storage layer failed: {err}"))
    }
}

/// Whether a storage failure is a full disk (ENOSPC), which passes once an
/// operator frees space, rather than damage. A group commit's error reaches
/// here as text, so both forms are recognised.
fn is_disk_full(err: &StorageError) -> bool {
    match err {
        StorageError::Io(io) => {
            io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
        }
        StorageError::Backend(text) => {
            text.contains("No space left on device") || text.contains("os error 28")
        }
        _ => false,
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
