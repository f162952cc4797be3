//! Server-side JavaScript: stored procedures, pre- and post-triggers and
//! user-defined functions, run in an embedded QuickJS engine.
//!
//! A script never touches storage itself. Its collection calls are queued
//! and handed, in order, to a [`Collection`] the caller implements over its
//! own transaction, so everything a script does commits or rolls back with
//! the request that ran it. Each run gets a fresh engine with a memory cap
//! and a deadline; a script that overruns either is stopped.

mod collection;
mod sandbox;
mod udf;

use std::time::Duration;

use serde_json::{Map, Value};

pub use collection::{Collection, CollectionError, CollectionRequest};
pub use udf::Udfs;

/// What a run may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time for the whole run, collection calls included.
    pub timeout: Duration,
    /// The engine's heap.
    pub memory_bytes: usize,
}

impl Default for Limits {
    /// The service stops scripts after about five seconds.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a script did not complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// The source does not compile, or does not define a function.
    #[error("The script is not valid JavaScript: {0}")]
    Compile(String),
    /// The script threw. `status` is the HTTP status it carried (a failed
    /// collection call rethrown keeps the call's status), if any.
    #[error("Encountered exception while executing Javascript. Exception = {message}")]
    Thrown {
        message: String,
        status: Option<u16>,
    },
    /// The script ran past its deadline.
    #[error("The script did not complete within {0:?} and was stopped.")]
    Timeout(Duration),
    /// The script ran out of memory.
    #[error("The script exceeded its memory limit of {0} bytes and was stopped.")]
    OutOfMemory(usize),
}

/// What a script is run as, and what it starts with.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The collection's self link, as `getCollection().getSelfLink()` gives it.
    pub self_link: String,
    /// Arguments of a stored procedure.
    pub arguments: Vec<Value>,
    /// The operation a trigger fires on (`Create`, `Replace`, `Delete`, ...).
    pub operation: String,
    /// The request's document, which a pre-trigger may change.
    pub request_body: Option<Value>,
    /// The response body the script starts with: the operation's result
    /// for a post-trigger, `""` for a stored procedure. `None` (a
    /// pre-trigger) leaves the script without `getResponse()`.
    pub response_body: Option<Value>,
    /// Request headers by lower-case name, which the script reads with
    /// `getRequest().getValue(name)`.
    pub headers: Map<String, Value>,
    /// Whether the request asked for `console.log` output
    /// (`x-ms-documentdb-script-enable-logging`); without it the service
    /// makes `console.log` do nothing.
    pub logging: bool,
}

/// What a completed run left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The response body, if the script wrote it (`setBody`, `appendBody`,
    /// `setValue('Body', ...)`, ...).
    pub response_body: Option<Value>,
    /// The request body after a pre-trigger.
    pub request_body: Option<Value>,
    /// Everything the script wrote with `console.log`, the calls run
    /// together as the service runs them; empty unless logging was asked for.
    pub log: String,
}

/// Runs `source` (a function, named or not) with `invocation`, sending its
/// collection calls to `collection`.
pub fn run(
    source: &str,
    invocation: &Invocation,
    collection: &mut dyn Collection,
    limits: Limits,
) -> Result<Outcome, ScriptError> {
    sandbox::Sandbox::new(limits)?.run(source, invocation, collection)
}

/// Checks that `source` compiles to a function, without running it.
pub fn check(source: &str) -> Result<(), ScriptError> {
    sandbox::Sandbox::new(Limits::default())?
        .compile(source)
        .map(drop)
}

#[cfg(test)]
mod tests;
