//! A storage backend on PostgreSQL, for Cosmonaut gateways that keep no
//! state of their own.
//!
//! Any number of processes may open the same database: each sees every
//! commit once it is made, and writes are ordered across all of them by a
//! transaction-scoped advisory lock, so the engine's read-check-write
//! closures (etags, unique keys, counters, change feed numbers) stay
//! correct with several gateways as with one. Durability is PostgreSQL's.
//!
//! - Reads: a `REPEATABLE READ READ ONLY` transaction per snapshot, begun
//!   together with its first statement.
//! - Writes: the store's writer thread gets the lock in
//!   [`Backend::latest`], reads inside that transaction, and
//!   [`Backend::apply`] writes the group and commits.
//! - Failures: a lost connection, a server starting or shutting down, or a
//!   standby not yet promoted is [`StorageError::Unavailable`] (503 with a
//!   retry hint); the pool replaces broken connections by itself.

mod bridge;
mod connect;
mod error;
mod sql;
mod views;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cosmonaut_storage::{
    Backend, BackendStatus, ConnectionStatus, Result, Snapshot, StorageError, Write,
};
use deadpool_postgres::Pool;

use crate::bridge::Bridge;
pub use crate::connect::PostgresOptions;
use crate::error::{from_pool, from_postgres};
use crate::views::{Conn, View};

/// The key space in one PostgreSQL table, shared by every process that
/// opens it.
pub struct PostgresBackend {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// The open write transaction, between `latest` and `apply`.
    writer: Mutex<Option<Conn>>,
    pool: Pool,
    /// Commits this process has made.
    commits: AtomicU64,
    /// Why the last statement could not reach PostgreSQL, until one does.
    trouble: Arc<Mutex<Option<String>>>,
    /// A probe of a troubled server is under way.
    probing: Arc<AtomicBool>,
    /// Calls that could not reach PostgreSQL.
    unreachable: AtomicU64,
    /// How long a wait for the write lock may last.
    lock_wait: Duration,
    /// Dropped last: the connections run on it.
    bridge: Bridge,
}

/// Closes `conn` instead of handing it back to the pool: after a failure
/// (a timeout above all) it may still be inside a transaction, or waiting
/// for an answer that will come later.
pub(crate) fn discard(conn: Conn) {
    if let Ok(object) = Arc::try_unwrap(conn) {
        drop(deadpool_postgres::Object::take(object));
    }
}

impl PostgresBackend {
    /// Connects to the database at `url` (a libpq-style URL) and makes the
    /// schema if it is missing. While PostgreSQL is unreachable it keeps
    /// trying, for `wait` at most; a refusal (a wrong password, a missing
    /// database) fails at once.
    pub fn connect(url: &str, options: &PostgresOptions, wait: Duration) -> Result<Self> {
        let bridge = Bridge::new(options.timeout)?;
        let pool = connect::pool(url, options)?;
        let backend = Self {
            shared: Arc::new(Shared {
                writer: Mutex::new(None),
                pool,
                commits: AtomicU64::new(0),
                trouble: Arc::new(Mutex::new(None)),
                probing: Arc::new(AtomicBool::new(false)),
                unreachable: AtomicU64::new(0),
                lock_wait: options.timeout * 2 / 3,
                bridge,
            }),
        };
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(100);
        loop {
            match backend.shared.execute(sql::create_schema()) {
                Ok(()) => return Ok(backend),
                Err(StorageError::Unavailable(why)) if Instant::now() < deadline => {
                    tracing::warn!(%why, "waiting for PostgreSQL");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl Shared {
    /// Records whether PostgreSQL could be reached, for [`Backend::status`].
    fn note<T>(&self, outcome: Result<T>) -> Result<T> {
        if let Ok(mut trouble) = self.trouble.lock() {
            match &outcome {
                Ok(_) => *trouble = None,
                Err(StorageError::Unavailable(why)) => {
                    self.unreachable.fetch_add(1, Ordering::Relaxed);
                    *trouble = Some(why.clone());
                }
                Err(_) => {}
            }
        }
        outcome
    }

    fn connection(&self) -> Result<Conn> {
        let pool = self.pool.clone();
        let conn = self
            .bridge
            .run(async move { pool.get().await.map(Arc::new).map_err(from_pool) });
        self.note(conn)
    }

    /// Runs `statements` on a pooled connection, outside any transaction.
    fn execute(&self, statements: String) -> Result<()> {
        let conn = self.connection()?;
        let done = self
            .bridge
            .run(async move { conn.batch_execute(&statements).await.map_err(from_postgres) });
        self.note(done)
    }

    /// Opens the write transaction and waits for the write lock.
    fn begin_write(&self) -> Result<()> {
        self.abandon_write();
        let conn = self.connection()?;
        let begin = sql::begin_write(self.lock_wait);
        let begun = {
            let conn = Arc::clone(&conn);
            self.bridge
                .run(async move { conn.batch_execute(&begin).await.map_err(from_postgres) })
        };
        if let Err(err) = self.note(begun) {
            discard(conn);
            return Err(err);
        }
        if let Ok(mut writer) = self.writer.lock() {
            *writer = Some(conn);
        }
        Ok(())
    }

    fn write_conn(&self) -> Result<Conn> {
        self.writer
            .lock()
            .ok()
            .and_then(|writer| writer.clone())
            .ok_or_else(|| StorageError::Backend("no write transaction is open".into()))
    }

    /// Rolls back the open write transaction, if there is one.
    fn abandon_write(&self) {
        let open = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(conn) = open {
            self.bridge.spawn(async move {
                if conn.batch_execute("ROLLBACK").await.is_err() {
                    discard(conn);
                }
            });
        }
    }

    /// Writes `writes` in the open write transaction (opening one if none
    /// is) and commits.
    fn commit(&self, writes: &[Write]) -> Result<u64> {
        if self.writer.lock().map(|w| w.is_none()).unwrap_or(true) {
            self.begin_write()?;
        }
        let conn = self
            .writer
            .lock()
            .ok()
            .and_then(|mut w| w.take())
            .ok_or_else(|| StorageError::Backend("no write transaction is open".into()))?;
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut deleted = Vec::new();
        for (key, value) in writes {
            match value {
                Some(value) => {
                    keys.push(key.clone());
                    values.push(value.clone());
                }
                None => deleted.push(key.clone()),
            }
        }
        let committed = self.bridge.run({
            let conn = Arc::clone(&conn);
            async move {
                let outcome: Result<(), tokio_postgres::Error> = async {
                    if !keys.is_empty() {
                        let upsert = conn.prepare_cached(sql::UPSERT).await?;
                        conn.execute(&upsert, &[&keys, &values]).await?;
                    }
                    if !deleted.is_empty() {
                        let delete = conn.prepare_cached(sql::DELETE).await?;
                        conn.execute(&delete, &[&deleted]).await?;
                    }
                    conn.batch_execute("COMMIT").await
                }
                .await;
                outcome.map_err(from_postgres)
            }
        });
        if let Err(err) = self.note(committed) {
            discard(conn);
            return Err(err);
        }
        Ok(self.commits.fetch_add(1, Ordering::AcqRel) + 1)
    }
}

impl Backend for PostgresBackend {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let conn = self.shared.connection()?;
        Ok(Box::new(View::read_only(&self.shared, conn)))
    }

    fn latest(&self) -> Result<Box<dyn Snapshot + '_>> {
        self.shared.begin_write()?;
        Ok(Box::new(View::writer(&self.shared)))
    }

    fn apply(&self, writes: &[Write]) -> Result<u64> {
        self.shared.commit(writes)
    }

    /// Every commit is durable once `apply` returns.
    fn sync(&self) -> Result<u64> {
        Ok(self.shared.commits.load(Ordering::Acquire))
    }

    /// Healthy unless the last attempt to reach PostgreSQL failed. Then a
    /// probe goes out in the background (one at a time), so readiness
    /// comes back without waiting for traffic and a scrape never waits.
    fn status(&self) -> BackendStatus {
        let troubled = self
            .shared
            .trouble
            .lock()
            .map(|t| t.is_some())
            .unwrap_or(false);
        if troubled && !self.shared.probing.swap(true, Ordering::AcqRel) {
            let pool = self.shared.pool.clone();
            let trouble = Arc::clone(&self.shared.trouble);
            let probing = Arc::clone(&self.shared.probing);
            let limit = self.shared.bridge.limit();
            self.shared.bridge.spawn(async move {
                if let Ok(Ok(conn)) = tokio::time::timeout(limit, pool.get()).await {
                    match tokio::time::timeout(limit, conn.batch_execute("SELECT 1")).await {
                        Ok(Ok(())) => {
                            if let Ok(mut trouble) = trouble.lock() {
                                *trouble = None;
                            }
                        }
                        _ => drop(deadpool_postgres::Object::take(conn)),
                    }
                }
                probing.store(false, Ordering::Release);
            });
        }
        let pool = self.shared.pool.status();
        BackendStatus {
            degraded: self.shared.trouble.lock().ok().and_then(|t| t.clone()),
            connections: Some(ConnectionStatus {
                open: pool.size as u64,
                idle: pool.available as u64,
                limit: pool.max_size as u64,
                unreachable: self.shared.unreachable.load(Ordering::Relaxed),
            }),
            ..BackendStatus::default()
        }
    }
}
