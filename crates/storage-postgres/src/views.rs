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

/// A read-only snapshot: a REPEATABLE READ transaction, begun with its first read.
pub(crate) struct ReadView<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) conn: Option<Conn>,
    pub(crate) begun: AtomicBool,
    /// A read failed: the connection is closed rather than reused.
    pub(crate) failed: AtomicBool,
}

impl ReadView<'_> {
    fn read(&self, read: Read) -> Result<Vec<Row>> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| StorageError::Backend("the snapshot is closed".into()))?;
        let begin = !self.begun.load(Ordering::Acquire);
        match run_read(self.shared, conn, begin, read) {
            Ok(rows) => {
                self.begun.store(true, Ordering::Release);
                Ok(rows)
            }
            Err(err) => {
                self.failed.store(true, Ordering::Release);
                Err(err)
            }
        }
    }
}

impl KvRead for ReadView<'_> {
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
}

impl Snapshot for ReadView<'_> {}

impl Drop for ReadView<'_> {
    /// Ends the transaction without waiting; the connection goes back to
    /// the pool once it has.
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.failed.load(Ordering::Acquire) {
            crate::discard(conn);
        } else if self.begun.load(Ordering::Acquire) {
            self.shared.bridge.spawn(async move {
                if conn.batch_execute("COMMIT").await.is_err() {
                    crate::discard(conn);
                }
            });
        }
    }
}

/// The writer's view: reads inside the open write transaction, which
/// [`crate::PostgresBackend`]'s `apply` commits. Dropped without an apply,
/// the transaction is rolled back and the write lock given up.
pub(crate) struct WriteView<'a> {
    pub(crate) shared: &'a Shared,
}

impl WriteView<'_> {
    fn read(&self, read: Read) -> Result<Vec<Row>> {
        let conn = self.shared.write_conn()?;
        run_read(self.shared, &conn, false, read)
    }
}

impl KvRead for WriteView<'_> {
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
}

impl Snapshot for WriteView<'_> {}

impl Drop for WriteView<'_> {
    fn drop(&mut self) {
        self.shared.abandon_write();
    }
}
