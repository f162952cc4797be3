//! Runs the asynchronous PostgreSQL client under the synchronous
//! [`Backend`](cosmonaut_storage::Backend) trait.
//!
//! The client's connections live on a runtime of their own, so a caller on
//! any thread (a request thread of the server's runtime included) can wait
//! for an answer without entering a second runtime.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use cosmonaut_storage::{Result, StorageError};
use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};

pub(crate) struct Bridge {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    handle: Handle,
    /// How long one call may wait for PostgreSQL.
    limit: Duration,
}

impl Bridge {
    pub(crate) fn new(limit: Duration) -> Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cosmonaut-postgres")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
            limit,
        })
    }

    /// Runs `work` on the client's runtime and waits for its result, for
    /// the bridge's limit at most: a server that stopped answering (frozen,
    /// or cut off without the connection closing) is then unavailable, not
    /// a hang.
    pub(crate) fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let limit = self.limit;
        self.handle.spawn(async move {
            let outcome = tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                Err(StorageError::Unavailable(format!(
                    "PostgreSQL did not answer within {} s.",
                    limit.as_secs_f64()
                )))
            });
            let _ = reply.send(outcome);
        });
        let wait = || {
            answer.recv().unwrap_or_else(|_| {
                Err(StorageError::Unavailable(
                    "the PostgreSQL client has stopped.".into(),
                ))
            })
        };
        // On a worker of a multi-threaded runtime (a request handler), say
        // that this thread blocks, so the runtime hands its other tasks to
        // another thread: a slow or unreachable PostgreSQL then stalls the
        // requests that need it, not every request the worker carries.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// How long one call may wait for PostgreSQL.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// Runs `work` on the client's runtime without waiting for it.
    pub(crate) fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(work);
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime may not block inside another one (the server
        // drops its store from async code); what is left is read-only.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
