//! Atomic writes across logical partitions, containers and databases,
//! for front ends whose protocol promises them (a MongoDB multi-document
//! transaction). The NoSQL API never reaches this: its batches stay within
//! one logical partition, as on the service.
//!
//! Every step runs in one store transaction, so the steps commit together
//! or, when one fails, not at all; each step's `ifMatch` is checked
//! against what is committed, which is how a caller that read optimistically
//! learns that someone wrote in between.

use serde_json::Value;

use super::{batch::run_step, point_key, ItemKey};
use crate::engine::{require_container, Engine};
use crate::error::{EngineError, Result};
use crate::BatchStep;

/// One step of an atomic write: an operation on an item of a container.
#[derive(Debug, Clone)]
pub struct AtomicStep {
    pub database: String,
    pub container: String,
    pub key: ItemKey,
    pub step: BatchStep,
}

/// Why an atomic write stored nothing: the step that failed and its error.
#[derive(Debug, Clone)]
pub struct AtomicFailure {
    pub index: usize,
    pub error: EngineError,
}

impl Engine {
    /// Runs `steps` in order, all or nothing. The outer error is the
    /// store's (nothing known to be stored); the inner one names the step
    /// that failed (nothing stored).
    pub async fn write_atomically(
        &self,
        steps: Vec<AtomicStep>,
    ) -> Result<std::result::Result<Vec<Value>, AtomicFailure>> {
        self.store
            .transact(move |txn| {
                let mut written = Vec::with_capacity(steps.len());
                for (index, step) in steps.iter().enumerate() {
                    let result =
                        require_container(txn, &step.database, &step.container).and_then(|c| {
                            let (values, epk) = point_key(&c, &step.key)?;
                            run_step(txn, &c, &values, &epk, &step.step)
                        });
                    match result {
                        Ok((document, _)) => written.push(document),
                        Err(error) => {
                            txn.discard();
                            return Ok(Err(AtomicFailure { index, error }));
                        }
                    }
                }
                Ok(Ok(written))
            })
            .await
    }
}

impl std::fmt::Display for AtomicFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}: {}", self.index, self.error)
    }
}
