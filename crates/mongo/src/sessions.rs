//! Logical sessions: what a driver runs under one session id (`lsid`),
//! whichever connection carries each command. A session holds its
//! multi-document transaction (a snapshot and the writes held back until
//! commit, see [`crate::collections::Transaction`]) and the reply of its
//! latest retryable write, so that a driver retrying a write whose reply it lost gets that
//! reply again instead of the write being applied twice.
//!
//! A session's transaction and retryable commands run one at a time (the
//! session is checked out for the command, as MongoDB does), so a retry
//! that arrives while the first attempt still runs waits for its reply.
//! Sessions live in this process's memory: a retry reaching another
//! gateway, or this one after a restart, runs again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Bson, Document};
use tokio::sync::OwnedMutexGuard;

use crate::collections::{Collections, Transaction};
use crate::compare::as_f64;
use crate::error::{MongoError, Result};

/// How long a transaction may stay open: Azure Cosmos DB for MongoDB's
/// fixed limit. A command of an older transaction finds it aborted.
pub const TRANSACTION_LIFETIME: Duration = Duration::from_secs(5);

/// A session unused this long is forgotten (`logicalSessionTimeoutMinutes`).
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Commands a transaction may run (others are error 263).
const IN_TRANSACTION: [&str; 11] = [
    "find",
    "getmore",
    "killcursors",
    "aggregate",
    "distinct",
    "insert",
    "update",
    "delete",
    "findandmodify",
    "committransaction",
    "aborttransaction",
];

/// Commands whose effect a retry must not repeat.
const RETRYABLE: [&str; 4] = ["insert", "update", "delete", "findandmodify"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Active,
    Committed,
    Aborted,
}

/// The session's latest transaction.
struct Current {
    number: i64,
    state: State,
    view: Arc<Transaction>,
}

#[derive(Default)]
pub struct SessionState {
    /// The highest transaction number the session has used.
    number: i64,
    transaction: Option<Current>,
    /// The latest retryable write's number and reply.
    retried: Option<(i64, Document)>,
}

type Shared = Arc<tokio::sync::Mutex<SessionState>>;

/// Every session this server knows, by session id.
pub struct Sessions {
    map: Mutex<HashMap<Vec<u8>, (Instant, Shared)>>,
    /// When expired transactions were last looked for.
    swept: Mutex<Instant>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            map: Mutex::default(),
            swept: Mutex::new(Instant::now()),
        }
    }
}

/// How a command relates to its session.
pub enum Scope {
    /// No session state is involved.
    Plain,
    /// A retryable write: `number` identifies it within the session.
    Retryable {
        session: OwnedMutexGuard<SessionState>,
        number: i64,
    },
    /// A command of the session's open transaction.
    Transaction {
        session: OwnedMutexGuard<SessionState>,
        number: i64,
    },
}

fn session_id(body: &Document) -> Option<Vec<u8>> {
    match body.get_document("lsid").ok()?.get("id")? {
        Bson::Binary(b) => Some(b.bytes.clone()),
        _ => None,
    }
}

fn number_of(body: &Document) -> Result<Option<i64>> {
    match body.get("txnNumber") {
        None => Ok(None),
        Some(value) => match as_f64(value) {
            Some(n) if n.fract() == 0.0 => Ok(Some(n as i64)),
            _ => Err(MongoError::wrong_type("txnNumber", "long")),
        },
    }
}

/// Aborts a forgotten session's open transaction. A session in use
/// finishes its command; its transaction then expires on its own.
fn abort_open(shared: &Shared, collections: &Collections) {
    let open = match shared.try_lock() {
        Ok(mut session) => session.transaction.take(),
        Err(_) => None,
    };
    if let Some(current) = open {
        collections.abort(&current.view);
    }
}

impl Sessions {
    fn checkout(&self, id: Vec<u8>) -> Shared {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let entry = map.entry(id).or_insert_with(|| (now, Shared::default()));
        entry.0 = now;
        entry.1.clone()
    }

    /// At most once a second: forgets sessions idle for `SESSION_IDLE`, and
    /// aborts transactions that outlived their lifetime with no command
    /// since (their snapshots hold storage resources, a PostgreSQL
    /// connection above all).
    fn sweep(&self, collections: &Collections) {
        {
            let mut swept = self
                .swept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if swept.elapsed() < Duration::from_secs(1) {
                return;
            }
            *swept = Instant::now();
        }
        let (idle, sessions): (Vec<Shared>, Vec<Shared>) = {
            let mut map = self
                .map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut idle = Vec::new();
            map.retain(|_, (used, shared)| {
                let keep = used.elapsed() < SESSION_IDLE || Arc::strong_count(shared) > 1;
                if !keep {
                    idle.push(shared.clone());
                }
                keep
            });
            (
                idle,
                map.values().map(|(_, shared)| shared.clone()).collect(),
            )
        };
        for shared in idle {
            abort_open(&shared, collections);
        }
        for shared in sessions {
            if let Ok(mut session) = shared.try_lock() {
                if let Some(current) = session.transaction.as_mut() {
                    if current.state == State::Active && current.view.is_expired() {
                        current.state = State::Aborted;
                        collections.abort(&current.view);
                    }
                }
            }
        }
    }

    /// The sessions this server knows, as `$listLocalSessions` reports them.
    pub fn list(&self) -> Vec<Document> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = bson::DateTime::now().timestamp_millis();
        map.iter()
            .map(|(id, (used, _))| {
                let id = bson::Binary {
                    subtype: bson::spec::BinarySubtype::Uuid,
                    bytes: id.clone(),
                };
                let idle = i64::try_from(used.elapsed().as_millis()).unwrap_or(i64::MAX);
                bson::doc! {
                    "_id": {"id": id},
                    "lastUse": bson::DateTime::from_millis(now.saturating_sub(idle)),
                }
            })
            .collect()
    }

    /// Forgets sessions (`endSessions`), aborting their transactions.
    pub fn end(&self, ids: &[Bson], collections: &Collections) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for id in ids {
            if let Some(Bson::Binary(b)) = id.as_document().and_then(|d| d.get("id")) {
                if let Some((_, shared)) = map.remove(&b.bytes) {
                    abort_open(&shared, collections);
                }
            }
        }
    }

    /// Forgets every session (`killAllSessions`), aborting their transactions.
    pub fn kill_all(&self, collections: &Collections) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, (_, shared)) in map.drain() {
            abort_open(&shared, collections);
        }
    }

    /// Works out the command's session scope, starting a transaction when
    /// the command says so and refusing what the session's state forbids.
    pub async fn scope(
        &self,
        body: &Document,
        command: &str,
        collections: &Collections,
    ) -> Result<Scope> {
        self.sweep(collections);
        let number = number_of(body)?;
        let autocommit = body.get("autocommit");
        let Some(id) = session_id(body) else {
            if number.is_some() || autocommit.is_some() {
                return Err(MongoError::invalid_options(
                    "Transaction numbers are only allowed in a session",
                ));
            }
            return Ok(Scope::Plain);
        };
        let Some(autocommit) = autocommit else {
            let Some(number) = number.filter(|_| RETRYABLE.contains(&command)) else {
                // Known from now on (`$listLocalSessions` lists it).
                self.checkout(id);
                return Ok(Scope::Plain);
            };
            let session = self.checkout(id).lock_owned().await;
            if number < session.number {
                return Err(MongoError::transaction_too_old(format!(
                    "Retryable write with txnNumber {number} is prohibited on session because a \
                     newer transaction {} has already started",
                    session.number
                )));
            }
            return Ok(Scope::Retryable { session, number });
        };
        if *autocommit != Bson::Boolean(false) {
            return Err(MongoError::invalid_options(
                "autocommit field must be false in a multi-document transaction",
            ));
        }
        let number = number.ok_or_else(|| {
            MongoError::invalid_options("A multi-document transaction needs a txnNumber")
        })?;
        if !IN_TRANSACTION.contains(&command) {
            return Err(MongoError::operation_not_supported_in_transaction(format!(
                "Cannot run '{command}' in a multi-document transaction."
            )));
        }
        let mut session = self.checkout(id).lock_owned().await;
        if number < session.number {
            return Err(MongoError::transaction_too_old(format!(
                "Cannot start transaction {number} on session because a newer transaction {} \
                 has already started",
                session.number
            )));
        }
        if body
            .get("startTransaction")
            .is_some_and(crate::expr::truthy)
        {
            if number == session.number && session.transaction.is_some() {
                return Err(MongoError::conflicting_operation(format!(
                    "Transaction {number} has already started on this session"
                )));
            }
            if let Some(older) = session.transaction.take() {
                collections.abort(&older.view);
            }
            session.number = number;
            session.retried = None;
            session.transaction = Some(Current {
                number,
                state: State::Active,
                view: collections.begin(TRANSACTION_LIFETIME)?,
            });
            return Ok(Scope::Transaction { session, number });
        }
        let Some(transaction) = session.transaction.as_mut().filter(|t| t.number == number) else {
            return Err(MongoError::no_such_transaction(format!(
                "Given transaction number {number} does not match any in-progress transactions"
            )));
        };
        if transaction.state == State::Active && transaction.view.is_expired() {
            transaction.state = State::Aborted;
            collections.abort(&transaction.view);
        }
        match (transaction.state, command) {
            (State::Aborted, "aborttransaction") | (State::Active, _) => {}
            (State::Committed, "committransaction") => {}
            // Cosmos DB's words for an expired transaction, with MongoDB's
            // code, which drivers retry the whole transaction on.
            (State::Aborted, _) if transaction.view.is_expired() => {
                return Err(MongoError::no_such_transaction(format!(
                    "Transaction isn't active: transaction {number} outlived the fixed {} s \
                     limit and was aborted",
                    TRANSACTION_LIFETIME.as_secs()
                )))
            }
            (State::Aborted, _) => {
                return Err(MongoError::no_such_transaction(format!(
                    "Transaction {number} has been aborted."
                )))
            }
            (State::Committed, _) => {
                return Err(MongoError::transaction_committed(format!(
                    "Transaction {number} has been committed."
                )))
            }
        }
        Ok(Scope::Transaction { session, number })
    }
}

impl Scope {
    fn current(&mut self) -> Option<&mut Current> {
        match self {
            Scope::Transaction { session, number } => {
                let number = *number;
                session.transaction.as_mut().filter(|t| t.number == number)
            }
            _ => None,
        }
    }

    pub fn in_transaction(&self) -> bool {
        matches!(self, Scope::Transaction { .. })
    }

    /// The transaction the command belongs to.
    pub fn transaction(&mut self) -> Option<Arc<Transaction>> {
        self.current().map(|t| t.view.clone())
    }

    /// The reply of this retryable write's earlier attempt, if it ran.
    pub fn earlier_reply(&self) -> Option<Document> {
        match self {
            Scope::Retryable { session, number } => session
                .retried
                .as_ref()
                .filter(|(n, _)| n == number)
                .map(|(_, reply)| reply.clone()),
            _ => None,
        }
    }

    /// After the command ran: keeps a retryable write's reply, and aborts
    /// a transaction one of whose commands failed (as MongoDB does).
    pub fn finish(&mut self, reply: &Result<Document>, collections: &Collections) {
        if let Scope::Retryable { session, number } = self {
            if let Ok(reply) = reply {
                session.number = session.number.max(*number);
                session.retried = Some((*number, reply.clone()));
            }
            return;
        }
        let failed = match reply {
            Ok(reply) => reply.contains_key("writeErrors"),
            Err(_) => true,
        };
        if let Some(current) = self.current() {
            if failed && current.state == State::Active {
                current.state = State::Aborted;
                collections.abort(&current.view);
            }
        }
    }

    /// Commits the transaction; a retried commit of a committed
    /// transaction succeeds again.
    pub async fn commit(&mut self, collections: &Collections) -> Result<()> {
        let current = self
            .current()
            .ok_or_else(|| MongoError::no_such_transaction("No transaction is in progress"))?;
        match current.state {
            State::Committed => Ok(()),
            State::Aborted => Err(MongoError::no_such_transaction(format!(
                "Transaction {} has been aborted.",
                current.number
            ))),
            State::Active => {
                let outcome = collections.commit(&current.view).await;
                current.state = match outcome {
                    Ok(()) => State::Committed,
                    Err(_) => State::Aborted,
                };
                outcome
            }
        }
    }

    /// Aborts the transaction, dropping its writes.
    pub fn abort(&mut self, collections: &Collections) -> Result<()> {
        let current = self
            .current()
            .ok_or_else(|| MongoError::no_such_transaction("No transaction is in progress"))?;
        if current.state == State::Committed {
            return Err(MongoError::transaction_committed(format!(
                "Cannot abort transaction {}: it has been committed.",
                current.number
            )));
        }
        current.state = State::Aborted;
        collections.abort(&current.view);
        Ok(())
    }
}
