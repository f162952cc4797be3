//! Runs the asynchronous PostgreSQL client under the synchronous
//! [`Backend`](cosmonaut_storage::Backend) trait.
//!
//! The client's connections live on a runtime of their own, so a caller on
//! any thread (a request thread of the server's runtime included) can wait
//! for an answer without entering a second runtime.

use std::future::Future;
use std::sync::mpsc;

use cosmonaut_storage::{Result, StorageError};
use tokio::runtime::{Builder, Handle, Runtime};

pub(crate) struct Bridge {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Bridge {
    pub(crate) fn new() -> Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cosmonaut-postgres")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Runs `work` on the client's runtime and waits for its result.
    pub(crate) fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = reply.send(work.await);
        });
        answer.recv().unwrap_or_else(|_| {
            Err(StorageError::Unavailable(
                "the PostgreSQL client has stopped.".into(),
            ))
        })
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
