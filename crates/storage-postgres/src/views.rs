//! Snapshots: a read transaction of its own, or the writer's transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cosmonaut_storage::{KeyValue, KvRead, Result, Snapshot, StorageError};
use deadpool_postgres::Object;
use futures_util::future::join;
use tokio_postgres::Row;

use crate::error::from_postgres;
use crate::{sql, Shared};

pub(crate) type Conn = Arc<Object>;

/// One statement's parameters, owned so the statement can run on the
/// client's runtime.
enum Read {
    Get(Vec<u8>),
    GetMany(Vec<Vec<u8>>),
    Count(Vec<u8>, Vec<u8>),
    Scan {
        start: Vec<u8>,
        end: Vec<u8>,
        limit: i64,
        descending: bool,
    },
}

impl Read {
    fn scan(start: &[u8], end: &[u8], limit: usize, descending: bool) -> Self {
        Read::Scan {
            start: start.to_vec(),
            end: end.to_vec(),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            descending,
        }
    }

    async fn run(&self, conn: &Object) -> Result<Vec<Row>, tokio_postgres::Error> {
        match self {
            Read::Get(key) => {
                let statement = conn.prepare_cached(sql::GET).await?;
                conn.query(&statement, &[key]).await
            }
            Read::GetMany(keys) => {
                let statement = conn.prepare_cached(sql::GET_MANY).await?;
                conn.query(&statement, &[keys]).await
            }
            Read::Count(start, end) => {
                let statement = conn.prepare_cached(sql::COUNT).await?;
                conn.query(&statement, &[start, end]).await
            }
            Read::Scan {
                start,
                end,
                limit,
                descending,
            } => {
                let text = if *descending {
                    sql::SCAN_DESCENDING
                } else {
                    sql::SCAN
                };
                let statement = conn.prepare_cached(text).await?;
                conn.query(&statement, &[start, end, limit]).await
            }
        }
    }
}

fn value(row: &Row, column: usize) -> Result<Vec<u8>> {
    row.try_get(column)
        .map_err(|e| StorageError::Backend(format!("PostgreSQL returned an unreadable row: {e}")))
}

fn entries(rows: &[Row]) -> Result<Vec<KeyValue>> {
    rows.iter()
        .map(|row| Ok((value(row, 0)?, value(row, 1)?)))
        .collect()
}

/// The values of `keys` in their order, from rows that came in any order.
fn in_order(keys: &[Vec<u8>], rows: &[Row]) -> Result<Vec<Option<Vec<u8>>>> {
    let mut found: HashMap<Vec<u8>, Vec<u8>> = entries(rows)?.into_iter().collect();
    Ok(keys.iter().map(|key| found.remove(key)).collect())
}

/// Runs `read` on `conn`, opening a read transaction first if `begin`; the
/// two go out together, so a snapshot's first read costs one round trip.
fn run_read(shared: &Shared, conn: &Conn, begin: bool, read: Read) -> Result<Vec<Row>> {
    let conn = Arc::clone(conn);
    let rows = shared.bridge.run(async move {
        let rows = if begin {
            let (begun, rows) = join(conn.batch_execute(sql::BEGIN_READ), read.run(&conn)).await;
            begun.and(rows)
        } else {
            read.run(&conn).await
        };
        rows.map_err(from_postgres)
    });
    shared.note(rows)
}

/// A snapshot: its own read transaction, or the writer's.
pub(crate) struct View {
    shared: Arc<Shared>,
    kind: Kind,
}

enum Kind {
    /// A REPEATABLE READ transaction of its own, begun with its first read.
    Read {
        /// `None` once dropped.
        conn: Option<Conn>,
        begun: AtomicBool,
        /// A read failed: the connection is closed rather than reused.
        failed: AtomicBool,
    },
    /// Reads inside the open write transaction, which
    /// [`crate::PostgresBackend`]'s `apply` commits. Dropped without an
    /// apply, the transaction is rolled back and the write lock given up.
    Write,
}

impl View {
    pub(crate) fn read_only(shared: &Arc<Shared>, conn: Conn) -> Self {
        let kind = Kind::Read {
            conn: Some(conn),
            begun: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        };
        Self {
            shared: Arc::clone(shared),
            kind,
        }
    }

    pub(crate) fn writer(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::clone(shared),
            kind: Kind::Write,
        }
    }

    fn read(&self, read: Read) -> Result<Vec<Row>> {
        let Kind::Read {
            conn,
            begun,
            failed,
        } = &self.kind
        else {
            let conn = self.shared.write_conn()?;
            return run_read(&self.shared, &conn, false, read);
        };
        let conn = conn
            .as_ref()
            .ok_or_else(|| StorageError::Backend("the snapshot is closed".into()))?;
        let begin = !begun.load(Ordering::Acquire);
        match run_read(&self.shared, conn, begin, read) {
            Ok(rows) => {
                begun.store(true, Ordering::Release);
                Ok(rows)
            }
            Err(err) => {
                failed.store(true, Ordering::Release);
                Err(err)
            }
        }
    }
}

impl KvRead for View {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let rows = self.read(Read::Get(key.to_vec()))?;
        rows.first().map(|row| value(row, 0)).transpose()
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        in_order(keys, &self.read(Read::GetMany(keys.to_vec()))?)
    }

    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        entries(&self.read(Read::scan(start, end, limit, descending))?)
    }

    /// Counted by PostgreSQL, over its primary key's index.
    fn count(&self, start: &[u8], end: &[u8]) -> Result<u64> {
        if start >= end {
            return Ok(0);
        }
        let rows = self.read(Read::Count(start.to_vec(), end.to_vec()))?;
        let counted: Option<i64> = rows
            .first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(from_postgres)?;
        Ok(counted.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}

impl Snapshot for View {}

impl Drop for View {
    /// A read transaction ends without waiting (its connection goes back to
    /// the pool once it has); the writer's is rolled back unless applied.
    fn drop(&mut self) {
        let Kind::Read {
            conn,
            begun,
            failed,
        } = &mut self.kind
        else {
            self.shared.abandon_write();
            return;
        };
        let Some(conn) = conn.take() else { return };
        if failed.load(Ordering::Acquire) {
            crate::discard(conn);
        } else if begun.load(Ordering::Acquire) {
            self.shared.bridge.spawn(async move {
                if conn.batch_execute("COMMIT").await.is_err() {
                    crate::discard(conn);
                }
            });
        }
    }
}
