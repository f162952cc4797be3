//! PostgreSQL's failures as storage errors: whether a client should retry.

use cosmonaut_storage::StorageError;

/// SQLSTATE classes and codes that pass: a lost or refused connection
/// (08, 57P01-57P03: the server shut down or is starting), a standby that
/// cannot write (25006: a failover is under way), resources (53), a
/// serialization failure or deadlock (40001, 40P01) and a lock wait that
/// timed out (55P03).
fn retryable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("57P")
        || code.starts_with("53")
        || matches!(code, "25006" | "40001" | "40P01" | "55P03")
}

pub(crate) fn from_postgres(err: tokio_postgres::Error) -> StorageError {
    match err.as_db_error() {
        Some(db) if retryable(db.code().code()) => StorageError::Unavailable(format!(
            "PostgreSQL cannot serve this now ({}: {}).",
            db.code().code(),
            db.message()
        )),
        Some(db) => StorageError::Backend(format!(
            "PostgreSQL refused a statement ({}: {})",
            db.code().code(),
            db.message()
        )),
        // No answer from the server: the connection broke, timed out or
        // could not be made.
        None => StorageError::Unavailable(format!("PostgreSQL is unreachable ({err}).")),
    }
}

pub(crate) fn from_pool(err: deadpool_postgres::PoolError) -> StorageError {
    match err {
        deadpool_postgres::PoolError::Backend(err) => from_postgres(err),
        other => StorageError::Unavailable(format!(
            "no connection to PostgreSQL is free or can be made ({other})."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::retryable;

    #[test]
    fn connection_and_failover_states_are_retried() {
        for code in [
            "08006", "57P01", "57P03", "25006", "40001", "53300", "55P03",
        ] {
            assert!(retryable(code), "{code}");
        }
        for code in ["23505", "42P01", "22001"] {
            assert!(!retryable(code), "{code}");
        }
    }
}
