//! The statements the backend runs, and the schema they run on.
//!
//! The key space is one table of byte keys and values. PostgreSQL orders
//! `bytea` as unsigned bytes, shorter first, which is the order the engine's
//! keys are designed for, so a key range is a range scan of the primary key.

/// Taken (per session) while the schema is made, so gateways starting
/// together do not race on `CREATE TABLE`.
const SCHEMA_LOCK: i64 = 0x436f_736d_6f6e_0001;

/// Made or checked at every start; no statement changes an existing table.
pub(crate) fn create_schema() -> String {
    format!(
        "SET client_min_messages = warning;
         SELECT pg_advisory_lock({SCHEMA_LOCK});
         CREATE TABLE IF NOT EXISTS cosmonaut_kv (k bytea PRIMARY KEY, v bytea NOT NULL);
         SELECT pg_advisory_unlock({SCHEMA_LOCK});"
    )
}

/// Held by the one write transaction of the whole cluster at a time, so a
/// write sees every write committed before it and decides on that: the
/// engine's checks (etags, unique keys, counters) need no other protocol.
/// Held until commit or rollback; a session that dies lets it go.
const WRITE_LOCK: i64 = 0x436f_736d_6f6e_0002;

/// Opens a write transaction. READ COMMITTED is enough under the write
/// lock: each statement sees every commit made before the lock was given.
/// A lock wait ends (as a retryable error) before the caller stops
/// waiting, and a transaction left idle by a stuck process is bounded.
pub(crate) fn begin_write(lock_wait: std::time::Duration) -> String {
    let lock_ms = lock_wait.as_millis().max(1);
    format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED;
         SET LOCAL lock_timeout = '{lock_ms}ms';
         SET LOCAL idle_in_transaction_session_timeout = '30s';
         SELECT pg_advisory_xact_lock({WRITE_LOCK});"
    )
}

/// Reads see one consistent state across all their statements.
pub(crate) const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

pub(crate) const GET: &str = "SELECT v FROM cosmonaut_kv WHERE k = $1";

pub(crate) const GET_MANY: &str = "SELECT k, v FROM cosmonaut_kv WHERE k = ANY($1::bytea[])";

pub(crate) const COUNT: &str = "SELECT count(*) FROM cosmonaut_kv WHERE k >= $1 AND k < $2";

pub(crate) const SCAN: &str =
    "SELECT k, v FROM cosmonaut_kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3";

pub(crate) const SCAN_DESCENDING: &str =
    "SELECT k, v FROM cosmonaut_kv WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT $3";

pub(crate) const UPSERT: &str = "INSERT INTO cosmonaut_kv (k, v) \
     SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
     ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";

pub(crate) const DELETE: &str = "DELETE FROM cosmonaut_kv WHERE k = ANY($1::bytea[])";
